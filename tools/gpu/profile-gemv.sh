#!/usr/bin/env bash
# Nsight Compute on the decode kernels of the 8B shape (from the unpacked bundle; REPO, OUT set): duration, DRAM
# throughput and achieved occupancy of 24 GEMV and 8 decode-attention launches after the warm-up and prefill.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
for k in dms_gemv dms_attention_decode; do
    timeout 200 ncu --clock-control none --target-processes all -k "regex:$k" --launch-skip 600 --launch-count 24 \
        --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size,launch__block_size,launch__registers_per_thread \
        --csv ./jre/bin/java --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xmx8g -cp "$cp" io.dmsserve.DmsServeApplication \
        gpubench --model "$model" --batch 1 --prompt 64 --decode 48 --policy none > "$OUT/ncu-$k.csv" 2> "$OUT/ncu-$k.err"
    echo "$k rc=$?"
done
