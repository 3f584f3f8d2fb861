#!/usr/bin/env bash
# Where the host's time goes in decode steps: gpubench under Java Flight Recorder (method samples every 10 ms of
# the engine thread), batch 16 at 4K context by default, from the unpacked bundle with REPO and OUT set.
# Writes $OUT/host.jfr; read it here with `jfr print --events jdk.ExecutionSample host.jfr` or
# `jfr summary host.jfr`. BATCH, PROMPT, DECODE (512, so decode dominates the samples), POLICY.
set -uo pipefail
. "$(dirname "$0")/bench-env.sh"
ensure_model
echo "=== host profile batch=${BATCH:-16} prompt=${PROMPT:-4096} decode=${DECODE:-512}" >> "$OUT/bench.log"
timeout "${LIMIT:-150}" "${java[@]}" -XX:StartFlightRecording=filename="$OUT/host.jfr",settings=profile \
    io.dmsserve.DmsServeApplication gpubench --model "$model" --batch "${BATCH:-16}" --prompt "${PROMPT:-4096}" \
    --decode "${DECODE:-512}" --policy "${POLICY:-none}" 2>>"$OUT/bench.log" | sed 's/^{/{"profile":"jfr",/' \
    | tee -a "$OUT/bench.jsonl"
