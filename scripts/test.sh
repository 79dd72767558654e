#!/usr/bin/env bash
# The one command that runs every check and test of kraftsim on a fresh machine.
# It installs what the tests need, then runs formatting, lints and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Rust toolchain components used below (present on the project's machines; installed if not).
if ! cargo fmt --version >/dev/null 2>&1 || ! cargo clippy --version >/dev/null 2>&1; then
  rustup component add rustfmt clippy
fi

# Real Kafka clients for the interop tests: Debian's kcat (librdkafka 2.0.2, what a
# newcomer gets from apt).
if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
if ! command -v kcat >/dev/null 2>&1; then
  echo "== installing kcat"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq kcat >/dev/null
fi

# Python Kafka clients for the interop tests.
if ! python3 -c "import confluent_kafka, kafka" >/dev/null 2>&1; then
  echo "== installing confluent-kafka and kafka-python"
  python3 -m pip install -q confluent-kafka kafka-python
fi

# Apache Kafka 4.4 itself (Java client and tools) for sim/tests/interop_java.rs: a JDK and
# Maven, then the oracle's jars and checks (oracle/target/classpath.txt).
if ! command -v java >/dev/null 2>&1 || ! command -v mvn >/dev/null 2>&1; then
  echo "== installing a JDK and Maven"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi
echo "== oracle/fetch.sh (Kafka 4.4's jars, the Java checks)"
bash oracle/fetch.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check

echo "== cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets -- -D warnings

echo "== cargo test --workspace"
cargo test --workspace

# The fault explorer over 200 seeds (a release build: a few seconds of running). It
# exits non-zero, with the shrunk scenario and its reproduction line, on a violation.
echo "== sim explore --seeds 200"
cargo run --release -q --bin sim -- explore --seeds 200 --out target/explore
