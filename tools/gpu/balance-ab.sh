#!/usr/bin/env bash
# The balanced decode attention grid against the split grid, in one device call (about 8 minutes on the H200), from
# the unpacked bundle with REPO and OUT set and the kernel_test and attention_bench binaries at $KT and $AB:
#   kernel_test (every case); the gpu suite (SUITE=0 skips it); 16 x 32K with DMS, split grid then balanced
#   grid (POLICIES, default "dms"); then attention_bench on lists shaped like the first run's "lists" line.
# Files: $OUT/kt.log, $OUT/t/summary.txt, $OUT/t/all.log, $OUT/gpu-lines.txt, $OUT/bench.jsonl, $OUT/bench.log,
# $OUT/ab.jsonl.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/bench-env.sh"
checks
ensure_model
for policy in ${POLICIES:-dms}; do
    for balance in false true; do
        stamp "32k policy=$policy balance=$balance"
        JAVA_OPTS="${JAVA_OPTS:-} -Ddms.cuda.attention-balance=$balance" POLICIES=$policy LIMIT=${LIMIT:-200} \
            "$here/bench-32k.sh" > /dev/null
    done
done
stamp attention_bench
shape=$(python3 - "$OUT/bench.jsonl" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if not line.startswith("{"):
        continue  # the backend's log lines
    r = json.loads(line)
    if r.get("what") == "lists":
        spread = min(0.95, r["max_pages"] / r["mean_pages"] - 1)
        print(f"pages={round(r['mean_pages'])} spread={spread:.3f} live={r['live_share_of_listed_slots']:.3f}")
        break
PY
)
echo "attention_bench ${shape:-defaults}" >> "$OUT/bench.log"
timeout 150 "$AB" $shape > "$OUT/ab.jsonl" 2>> "$OUT/bench.log"
stamp done
