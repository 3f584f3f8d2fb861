#!/usr/bin/env bash
# Nsight Compute's full sections (speed of light, memory, warp stalls, occupancy) on two decode-attention launches of
# a batch-16 decode step at 4K context (from the unpacked bundle; REPO, OUT set). The warm-up's 4 decode steps launch
# 144 of them first.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
timeout 300 ncu --clock-control none --target-processes all -k regex:dms_attention_decode --launch-skip 148 \
    --launch-count 2 --section SpeedOfLight --section MemoryWorkloadAnalysis --section WarpStateStats \
    --section Occupancy --section LaunchStats --section SchedulerStats \
    ./jre/bin/java --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xmx8g -cp "$cp" -Ddms.cuda.graphs=false \
    io.dmsserve.DmsServeApplication gpubench --model "$model" --batch 16 --prompt 4096 --decode 2 --policy none \
    > "$OUT/ncu-attention.txt" 2> "$OUT/ncu-attention.err"
echo "ncu rc=$?"
