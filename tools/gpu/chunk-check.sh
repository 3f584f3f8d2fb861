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
# ($OUT/peer.jsonl). Exits 1 when some bits differ, a run failed, or a (case, evict, opt) asked for is missing.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
: "${CB:?CB: the chunk_bench binary of the change}" "${OUT:?OUT: the folder for the results}"
opts=${OPTS:-19,31,51}
evicts=${EVICTS:-0 0.875}
mkdir -p "$OUT"
: > "$OUT/chunk.jsonl"
: > "$OUT/chunk-check.txt"
status=0
# bench BUILD BINARY OPTS EVICT: its JSON lines into chunk.jsonl, a FAILED line when it did not end well.
bench() {
    timeout 180 "$2" opts="$3" evict="$4" 2>>"$OUT/chunk-check.log" | sed "s/^{/{\"build\":\"$1\",/" \
        >> "$OUT/chunk.jsonl"
    local rc=${PIPESTATUS[0]}
    if (( rc != 0 )); then
        echo "FAILED $1 opts=$3 evict=$4: rc $rc (chunk-check.log)" >> "$OUT/chunk-check.txt"
        status=1
    fi
}
for evict in $evicts; do
    bench new "$CB" "$opts" "$evict"
    [[ -n ${CB_OLD:-} ]] && bench old "$CB_OLD" "$opts" "$evict"
    [[ -n ${MORE:-} ]] && bench new "$CB" "$MORE" "$evict"
done
# Every (case, evict, opt) asked for must be there, in both builds where CB_OLD is set.
python3 - "$OUT/chunk.jsonl" "$opts" "${MORE:-}" "$evicts" "${CB_OLD:+old}" >> "$OUT/chunk-check.txt" <<'PY' || status=1
import json, sys
path, opts, more, evicts, old = sys.argv[1:6]
rows = [json.loads(line) for line in open(path) if line.startswith('{')]
by = {}
for r in rows:
    by.setdefault((r['case'], float(r['evict']), r['opt']), {})[r['build']] = r
ints = lambda text: [int(x) for x in text.split(',') if x]
bad = False
for evict in (float(e) for e in evicts.split()):
    for case in ('first', 'last'):
        for opt in ints(opts) + ints(more):
            builds = by.get((case, evict, opt), {})
            new, before = builds.get('new'), builds.get('old')
            want_old = old and opt in ints(opts)
            if new is None or (want_old and before is None):
                print(f"MISSING {case} evict={evict} opt={opt}: new {new is not None}, old {before is not None}")
                bad = True
            elif want_old:
                same = new['bits'] == before['bits']
                bad |= not same
                print(f"bits {case} evict={evict} opt={opt}: {'same' if same else 'DIFFER'} "
                      f"(new {new['us']} us, old {before['us']} us, {before['us'] / new['us']:.3f}x)")
            else:
                print(f"new {case} evict={evict} opt={opt}: {new['us']} us, {new['TFLOPs']} TFLOP/s, "
                      f"{new['registers']} registers, {new['spill_bytes']} B spilled, "
                      f"{new['blocks_per_sm']} blocks an SM")
sys.exit(1 if bad else 0)
PY
if [[ ${PEER:-1} == 1 ]]; then
    timeout 120 python3 "$here/attention_peer.py" > "$OUT/peer.jsonl" 2>>"$OUT/chunk-check.log"
fi
cat "$OUT/chunk-check.txt"
exit $status
