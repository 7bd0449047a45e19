#!/usr/bin/env bash
# Builds every libFuzzer harness (tests/fuzz/*_fuzz.cc) with clang-19 into build-fuzz/ and runs
# each for a bounded time, starting from its checked-in seed corpus (tests/fuzz/corpus/<target>/)
# and dictionary (tests/fuzz/dict/<target>.dict, when present). Prints one line per target and
# exits non-zero if any target crashed, leaked, timed out or failed a check.
#
#   tests/fuzz/build_and_run.sh [target ...]     (default: every harness)
#
# Environment:
#   FUZZ_SECONDS      time per target (default 30)
#   FUZZ_JOBS         targets fuzzed at once (default: number of CPUs); each is one process
#   FUZZ_SEED         libFuzzer -seed, to repeat a run (default: random, printed per target)
#   FUZZ_KEEP_CORPUS  1: keep build-fuzz/corpus/<target> from earlier runs (default: start from
#                     the seeds only, so a run depends on nothing but the tree and the seed)
#   FUZZ_CXX          compiler (default clang++-19)
#   FALAJ_FUZZ_CONFIG_ROUNDTRIP=0  config_fuzz skips its print-and-reload check (see the harness)
#
# A crash leaves its input in build-fuzz/artifacts/<target>-crash-<sha1>; replay it with
#   build-fuzz/<target> build-fuzz/artifacts/<target>-crash-<sha1>
# Once the bug is fixed, copy that input into tests/fuzz/corpus/<target>/ so that every later
# run replays it first.
# The full libFuzzer output of each run is build-fuzz/logs/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/../.."

FUZZ_SECONDS=${FUZZ_SECONDS:-30}
FUZZ_JOBS=${FUZZ_JOBS:-$(nproc)}
FUZZ_CXX=${FUZZ_CXX:-clang++-19}
BUILD=build-fuzz
FUZZ_DIR=tests/fuzz

if ! [[ "$FUZZ_SECONDS" =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz: FUZZ_SECONDS must be a positive integer, got '$FUZZ_SECONDS'" >&2
  exit 2
fi
if ! command -v "$FUZZ_CXX" >/dev/null; then
  echo "fuzz: $FUZZ_CXX not found; run scripts/install-deps (clang-19, libclang-rt-19-dev)" >&2
  exit 2
fi

if [ "$#" -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for harness in "$FUZZ_DIR"/*_fuzz.cc; do targets+=("$(basename "$harness" .cc)"); done
fi
for target in "${targets[@]}"; do
  if [ ! -f "$FUZZ_DIR/$target.cc" ]; then
    echo "fuzz: no harness $FUZZ_DIR/$target.cc" >&2
    exit 2
  fi
done

echo "fuzz: building ${#targets[@]} harness(es) with $FUZZ_CXX into $BUILD/"
cmake -S "$FUZZ_DIR" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$FUZZ_CXX" >/dev/null
cmake --build "$BUILD" --target "${targets[@]}"

mkdir -p "$BUILD/artifacts" "$BUILD/logs"
# Abort on the first report of any sanitizer, with a stack; leaks are checked at exit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_target() {
  local target=$1
  local corpus="$BUILD/corpus/$target"
  local seeds="$FUZZ_DIR/corpus/$target"
  local dict="$FUZZ_DIR/dict/$target.dict"
  [ "${FUZZ_KEEP_CORPUS:-0}" = 1 ] || rm -rf "$corpus"
  mkdir -p "$corpus"
  local args=(
    -max_total_time="$FUZZ_SECONDS" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
    -artifact_prefix="$BUILD/artifacts/$target-"
  )
  [ -f "$dict" ] && args+=(-dict="$dict")
  [ -n "${FUZZ_SEED:-}" ] && args+=(-seed="$FUZZ_SEED")
  local dirs=("$corpus")
  [ -d "$seeds" ] && dirs+=("$seeds")
  # libFuzzer writes new inputs to the first directory only, so the checked-in seeds stay as
  # they are. The outer timeout bounds a run that hangs outside libFuzzer's own clock.
  local status=0
  timeout --kill-after=10 $((FUZZ_SECONDS + 120)) \
    "$BUILD/$target" "${args[@]}" "${dirs[@]}" >"$BUILD/logs/$target.log" 2>&1 || status=$?
  echo "$status" >"$BUILD/logs/$target.status"
}

# Fuzz up to FUZZ_JOBS targets at once; each writes its own log and status file.
running=0
for target in "${targets[@]}"; do
  rm -f "$BUILD/logs/$target.status"
  if [ "$running" -ge "$FUZZ_JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
  echo "fuzz: running $target for ${FUZZ_SECONDS}s"
  run_target "$target" &
  running=$((running + 1))
done
wait || true

failed=0
for target in "${targets[@]}"; do
  log="$BUILD/logs/$target.log"
  status=$(cat "$BUILD/logs/$target.status" 2>/dev/null || echo "?")
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  seed=$(sed -n 's/^INFO: Seed: *//p' "$log" | head -n 1)
  corpus=$(find "$BUILD/corpus/$target" -type f | wc -l)
  artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n 1)
  if [ "$status" = 0 ]; then
    result="ok"
  else
    failed=1
    result="FAILED (exit $status)"
    [ "$status" = 124 ] && result="FAILED (did not stop in time)"
    [ -n "$artifact" ] && result="$result: replay with $BUILD/$target $artifact"
    result="$result; log $log"
  fi
  printf 'fuzz: %-20s %10s execs  corpus %5s  seed %-10s  %s\n' \
    "$target" "${execs:-?}" "$corpus" "${seed:-?}" "$result"
  if [ "$status" != 0 ]; then
    # The harness's own check message, else the sanitizer's or libFuzzer's summary.
    reason=$(grep -m1 -E '^==fuzz==|^SUMMARY: ' "$log" || true)
    [ -n "$reason" ] && echo "      ${reason:0:300}"
  fi
done
exit "$failed"
