#!/usr/bin/env bash
# Nsight Compute on one batch-16 decode step of the 8B shape at 4K context (from the unpacked bundle; REPO, OUT
# set): every product and decode-attention launch of the first decode step, with duration and DRAM throughput.
# Decode batches take the skinny product; the warm-up (2 prompts of 64 tokens, 4 decode steps of 2) launches
# 288 skinny products and 144 decode attentions first (SKIP=432); prefill chunks of 2048 take the bm128 product and
# the chunk attention, which the filter leaves out.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
timeout 400 ncu --clock-control none --target-processes all -k "regex:${KERNELS:-dms_matmul_skinny|dms_attention_decode}" \
    --launch-skip "${SKIP:-432}" --launch-count "${COUNT:-181}" \
    --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__grid_size \
    --csv ./jre/bin/java --add-modules jdk.incubator.vector,jdk.incubator.foreign --enable-native-access=ALL-UNNAMED -Xmx8g -cp "$cp" -Ddms.cuda.graphs=false \
    io.dmsserve.DmsServeApplication gpubench --model "$model" --batch "${BATCH:-16}" --prompt "${PROMPT:-4096}" \
    --decode 2 --policy none > "$OUT/ncu-b16.csv" 2> "$OUT/ncu-b16.err"
echo "ncu rc=$?"
python3 - "$OUT/ncu-b16.csv" <<'PY'
import csv, sys, collections
rows = [r for r in csv.reader(l for l in open(sys.argv[1]) if l.startswith('"'))]
head = rows[0]; rows = rows[1:]
ki, mi, vi = head.index("Kernel Name"), head.index("Metric Name"), head.index("Metric Value")
gi = head.index("Grid Size") if "Grid Size" in head else None
per = collections.defaultdict(lambda: collections.defaultdict(list))
for r in rows:
    key = (r[ki].split("(")[0], r[gi] if gi is not None else "")
    try:
        per[key][r[mi]].append(float(r[vi].replace(",", "")))
    except ValueError:
        pass
total = 0
for key, m in sorted(per.items(), key=lambda kv: -sum(kv[1].get("gpu__time_duration.sum", [0]))):
    t = m.get("gpu__time_duration.sum", [0]); d = m.get("dram__throughput.avg.pct_of_peak_sustained_elapsed", [0])
    total += sum(t)
    print(f"{key[0]:40s} grid {key[1]:>16s} n={len(t):4d} total {sum(t)/1e3:9.1f} us  mean {sum(t)/len(t)/1e3:8.1f} us  dram {sum(d)/len(d):5.1f}%")
print(f"total {total/1e6:.3f} ms")
PY
