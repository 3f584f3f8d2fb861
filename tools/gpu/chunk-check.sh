#!/usr/bin/env bash
# A chunk attention change on the device in one part of a call (about a minute; no JVM, no model): chunk_bench of the
# change ($CB) against chunk_bench of the code before it ($CB_OLD, optional), both built here from their sources with
# the same command (native/bench/chunk_bench.cu's first lines), then PyTorch's own attention on the same shapes.
#   CB=... [CB_OLD=...] OUT=... [OPTS=19,31,51] [MORE=...] [EVICTS="0 0.875"] [PEER=1] tools/gpu/chunk-check.sh
# CB_OLD: today's chunk_bench.cu (its output hash and variants) over the old kernel, e.g. for commit X:
#   rm -rf /tmp/old && mkdir /tmp/old && git archive HEAD native | tar -x -C /tmp/old &&
#   git show X:native/attention.cu > /tmp/old/native/attention.cu && (cd /tmp/old && nvcc ... native/bench/chunk_bench.cu)
# For each evict rate: both binaries on OPTS (the variants whose bits a change should keep: the fatbin's DMS path 51,
# and 19 and 31), each output's bits hashed; a "bits" line in $OUT/chunk-check.txt per (case, evict, opt), "same" or
# "DIFFER" (old and new hash), and the µs of each; then $CB alone on MORE (other variants, e.g. 95,159,1031). All
# JSON lines go to $OUT/chunk.jsonl with "build" (new or old). PEER=1 runs tools/gpu/attention_peer.py after
# ($OUT/peer.jsonl). Exits 1 when some bits differ.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${CB:?CB: the chunk_bench binary of the change}" "${OUT:?OUT: the folder for the results}"
opts=${OPTS:-19,31,51}
status=0
for evict in ${EVICTS:-0 0.875}; do
    for build in new old; do
        bin=$CB
        [[ $build == old ]] && bin=${CB_OLD:-}
        [[ -z $bin ]] && continue
        timeout 120 "$bin" opts="$opts" evict="$evict" 2>>"$OUT/chunk-check.log" \
            | sed "s/^{/{\"build\":\"$build\",/" >> "$OUT/chunk.jsonl"
    done
    if [[ -n ${MORE:-} ]]; then
        timeout 180 "$CB" opts="$MORE" evict="$evict" 2>>"$OUT/chunk-check.log" \
            | sed 's/^{/{"build":"new",/' >> "$OUT/chunk.jsonl"
    fi
done
python3 - "$OUT/chunk.jsonl" >> "$OUT/chunk-check.txt" <<'PY' || status=1
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith('{')]
by = {}
for r in rows:
    by.setdefault((r['case'], r['evict'], r['opt']), {})[r['build']] = r
differ = False
for (case, evict, opt), builds in sorted(by.items()):
    new, old = builds.get('new'), builds.get('old')
    if new and old:
        same = new['bits'] == old['bits']
        differ |= not same
        print(f"bits {case} evict={evict} opt={opt}: {'same' if same else 'DIFFER'} "
              f"(new {new['us']} us, old {old['us']} us, {old['us'] / new['us']:.3f}x)")
    elif new:
        print(f"new {case} evict={evict} opt={opt}: {new['us']} us, {new['TFLOPs']} TFLOP/s, "
              f"{new['registers']} registers, {new['spill_bytes']} B spilled, {new['blocks_per_sm']} blocks an SM")
sys.exit(1 if differ else 0)
PY
if [[ ${PEER:-1} == 1 ]]; then
    timeout 120 python3 "$here/attention_peer.py" > "$OUT/peer.jsonl" 2>>"$OUT/chunk-check.log"
fi
cat "$OUT/chunk-check.txt"
exit $status
