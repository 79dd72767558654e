#!/usr/bin/env bash
# The one command that runs every check and test of kraftsim on a fresh machine.
# It installs what the tests need, then runs formatting, lints and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each stage's start, with the time since this script began, so a slow CI shows where.
began=$(date +%s)
stage() { echo "== $* ($(( $(date +%s) - began )) s)"; }

# Cargo's build cache, reused when present, as ~/.m2 and pip's are: a fresh clone would
# otherwise rebuild every crate (debug and release: about a third of this script's time).
# CARGO_TARGET_DIR, if set, wins. Bounded: past 40 GB (stale builds of other checkouts
# pile up in it) it is emptied first.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kraftsim/target}"
mkdir -p "$CARGO_TARGET_DIR"
if [ "$(du -s --block-size=1G "$CARGO_TARGET_DIR" | cut -f1)" -gt 40 ]; then
  stage "emptying the build cache $CARGO_TARGET_DIR (over 40 GB)"
  rm -rf "$CARGO_TARGET_DIR" && mkdir -p "$CARGO_TARGET_DIR"
fi
sim="$CARGO_TARGET_DIR/release/sim"

# Rust toolchain components used below (present on the project's machines; installed if not).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# Real Kafka clients for the interop tests: Debian's kcat (librdkafka 2.0.2, what a
# newcomer gets from apt).
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! command -v kcat >/dev/null 2>&1; then
  stage "installing kcat"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat >/dev/null
fi

# The dashboard's end-to-end tests (sim/tests/dashboard_ui.rs): Debian's Chromium, driven
# headless by playwright-core from npm (ui-tests/package-lock.json pins it). npm reuses its
# cache (~/.npm), and skips the install when ui-tests/node_modules already holds the pinned
# version (`npm ls` fails on a missing or different one).
# Only what is missing: the machines' Node.js comes from NodeSource with its own npm, and
# Debian's npm package would conflict with it ("held broken packages").
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  stage "installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
if ! (cd ui-tests && npm ls --depth=0 >/dev/null 2>&1); then
  stage "npm ci (ui-tests: playwright-core)"
  (cd ui-tests && npm ci --prefer-offline --no-audit --no-fund --loglevel=error)
fi

# Python Kafka clients for the interop tests.
if ! python3 -c "import confluent_kafka, kafka" >/dev/null 2>&1; then
  stage "installing confluent-kafka and kafka-python"
  python3 -m pip install -q confluent-kafka kafka-python
fi

# Apache Kafka 4.4 itself (Java client and tools) for sim/tests/interop_java.rs: a JDK and
# Maven, then the oracle's jars and checks (oracle/target/classpath.txt).
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  stage "installing a JDK and Maven"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi
stage "oracle/fetch.sh (Kafka 4.4's jars, the Java checks)"
bash oracle/fetch.sh

# The Go clients franz-go and sarama for sim/tests/interop_go.rs: Go itself (1.26+, as
# interop/go/go.mod says) comes with the machine; the modules come from the Go module
# proxy into the module cache (reused when present), and the test builds offline.
if ! command -v go >/dev/null 2>&1; then
  echo "scripts/test.sh: Go 1.26 or newer must be installed (interop/go/go.mod)" >&2
  exit 2
fi
stage "go mod download (interop/go)"
go -C interop/go mod download

stage "cargo fmt --check"
cargo fmt --all -- --check

stage "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

stage "cargo test --workspace"
cargo test --workspace

# The fault explorer (a release build) over 1,000 three-broker and 300 five-broker seeds,
# on every core. It exits non-zero, with each shrunk scenario and its reproduction line, on
# a violation. The long search is scripts/explore-long.sh.
cargo build --release -q --bin sim
mkdir -p target/explore
explore() {
  local log=$1; shift
  if "$sim" explore --keep-going --out target/explore "$@" > "$log"; then
    grep -E '^(ran|all) ' "$log"
  else
    grep -vE ' ok$' "$log"
    return 1
  fi
}
# The test fixtures for other languages, on the release sim just built: the Python wheel
# (built around the binary, installed into a virtualenv under target/ that sees the
# system's pytest and Kafka clients) and the npm package (packed, installed from the
# tarball beside kafkajs, which npm ci takes from its cache) and the JUnit 5 helper
# (installed into ~/.m2, then tested with Kafka 4.4.0's Java client in one JVM; Maven
# offline when its cache holds everything, from Maven Central otherwise). All start
# clusters on free ports and leave none running.
stage "fixtures/python (wheel, venv, pytest)"
bash fixtures/python/run_tests.sh "$sim"
stage "fixtures/node (npm pack, npm ci, node --test)"
bash fixtures/node/run_tests.sh "$sim"
stage "fixtures/java (mvn install kraftsim-junit, mvn test with kafka-clients 4.4.0)"
bash fixtures/java/run_tests.sh "$sim"

stage "sim explore --seeds 1000 --brokers 3"
explore target/explore/three-brokers.log --seeds 1000 --brokers 3
stage "sim explore --seeds 300 --brokers 5"
explore target/explore/five-brokers.log --seeds 300 --brokers 5 --first-seed 200000
# The transactional read-process-write workload with Jepsen's checks (about 75 s).
stage "sim explore --workload transactions --seeds 60"
explore target/explore/transactions.log --workload transactions --seeds 60 --brokers 3 --first-seed 400000
stage "all passed"
