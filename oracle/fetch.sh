#!/usr/bin/env bash
# Resolves Apache Kafka 4.4.0 (server, tools, Java client) from Maven Central into the
# local Maven cache (~/.m2, reused when present), compiles kraftsim's Java checks, and
# writes the classpath to oracle/target/classpath.txt. Safe to run again: Maven only
# downloads what the cache lacks.
set -euo pipefail
cd "$(dirname "$0")"
if ! command -v mvn >/dev/null 2>&1 || ! command -v java >/dev/null 2>&1; then
  echo "oracle/fetch.sh: needs java (17+) and mvn on PATH" >&2
  exit 2
fi
mvn -q -B -Dstyle.color=never package -DskipTests dependency:build-classpath \
  -Dmdep.outputFile=target/classpath.txt -Dmdep.includeScope=runtime
# The compiled checks go first on the classpath.
jar=$(ls target/kraftsim-oracle-*.jar | head -n 1)
printf '%s:%s' "$(cd target && pwd)/$(basename "$jar")" "$(cat target/classpath.txt)" > target/classpath.txt
echo "oracle: $(tr ':' '\n' < target/classpath.txt | wc -l) jars on target/classpath.txt"
