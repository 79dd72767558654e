#!/usr/bin/env bash
# The long fault search: 20,000 three-broker and 5,000 five-broker seeds, every fault kind,
# on every core (or --jobs from the environment: JOBS=4). Each failing seed is shrunk and
# written to target/explore-long/ with its `sim run --seed S --scenario FILE` line. Split
# the work over machines with SHARD=I/N (every N-th seed): the same seed gives the same
# result wherever it runs. Takes about an hour on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin sim
out=target/explore-long
mkdir -p "$out"
jobs=(); [ -n "${JOBS:-}" ] && jobs=(--jobs "$JOBS")
shard=(); [ -n "${SHARD:-}" ] && shard=(--shard "$SHARD")
status=0
./target/release/sim explore --seeds 20000 --first-seed 100000 --brokers 3 --keep-going \
  "${jobs[@]}" "${shard[@]}" --out "$out" > "$out/three-brokers.log" || status=1
tail -n 2 "$out/three-brokers.log"
./target/release/sim explore --seeds 5000 --first-seed 200000 --brokers 5 --keep-going \
  "${jobs[@]}" "${shard[@]}" --out "$out" > "$out/five-brokers.log" || status=1
tail -n 2 "$out/five-brokers.log"
./target/release/sim explore --workload transactions --seeds 2000 --first-seed 400000 --brokers 3 \
  --keep-going "${jobs[@]}" "${shard[@]}" --out "$out" > "$out/transactions.log" || status=1
tail -n 2 "$out/transactions.log"
grep -h '^reproduce:' "$out"/*.log || true
exit $status
