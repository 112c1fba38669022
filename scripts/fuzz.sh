#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan, coverage inside the cnnlab libraries) in
# build-fuzz and runs each for N seconds from a temporary copy of its seed corpus
# (fuzz/corpus/<target>/ is never written to). Exits non-zero when a target finds a crash,
# leak, timeout or out-of-memory; the reproducer is kept in $FUZZ_ARTIFACTS (printed).
# Usage: bash scripts/fuzz.sh [seconds-per-target] [target...]   (default 30, all four)
# Reproduce a finding: build-fuzz/fuzz/<target> <crash-file>
# FUZZ_BUILD_DIR=DIR uses DIR instead of build-fuzz; a DIR already configured with
# CNNLAB_FUZZ=ON (scripts/sanitize.sh's ASan build, with its tests) is used as it is, so CI
# compiles the project once for both.
set -euo pipefail
cd "$(dirname "$0")/.."

SECONDS_PER_TARGET=${1:-30}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
  TARGETS=(fuzz_safetensors fuzz_cifar10 fuzz_image_decode fuzz_config)
fi
BUILD_DIR=${FUZZ_BUILD_DIR:-build-fuzz}
JOBS=${JOBS:-$(nproc)}

command -v clang++ >/dev/null || {
  echo "fuzz.sh: clang++ not found; install clang and libclang-rt-14-dev (Debian 12)" >&2
  exit 2
}

# -fsanitize=fuzzer-no-link gives the libraries (core, data, layers, optim, apps) coverage
# counters, so the fuzzer is guided inside the code under test, not just the harness.
if [ -n "${FUZZ_BUILD_DIR:-}" ] && grep -q '^CNNLAB_FUZZ:BOOL=ON$' "$BUILD_DIR/CMakeCache.txt" 2>/dev/null; then
  echo "== fuzz.sh: using the build in $BUILD_DIR as configured"
else
  cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link -DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link \
    -DCNNLAB_FUZZ=ON -DCNNLAB_SANITIZE=ON -DCNNLAB_NATIVE=OFF -DCNNLAB_BUILD_TESTS=OFF >/dev/null
fi
cmake --build "$BUILD_DIR" -j"$JOBS" --target "${TARGETS[@]}"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/cnnlab-fuzz.XXXXXX")
FUZZ_ARTIFACTS=${FUZZ_ARTIFACTS:-$WORK/artifacts}
mkdir -p "$FUZZ_ARTIFACTS"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1

failed=()
summary=()
for target in "${TARGETS[@]}"; do
  corpus="$WORK/corpus/$target"
  mkdir -p "$corpus"
  cp -r "fuzz/corpus/$target/." "$corpus/" 2>/dev/null || true
  log="$WORK/$target.log"
  echo "== $target: ${SECONDS_PER_TARGET}s from $(ls "$corpus" | wc -l) seeds"
  status=0
  dict=()
  if [ -f "fuzz/$target.dict" ]; then dict=(-dict="fuzz/$target.dict"); fi
  "$BUILD_DIR/fuzz/$target" "$corpus" "${dict[@]}" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$FUZZ_ARTIFACTS/$target-" \
    >"$log" 2>&1 || status=$?
  executions=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  [ -n "$executions" ] || executions=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  coverage=$(grep -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if [ "$status" -ne 0 ]; then
    failed+=("$target")
    summary+=("$target: FOUND A PROBLEM after ${executions:-?} executions (exit $status)")
    # The report: from the first sanitizer or libFuzzer error line, without the long stacks.
    echo "---- $target: $log ----"
    first=$(grep -n -m1 -E 'runtime error|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|uncaught|terminate called' "$log" | cut -d: -f1 || true)
    sed -n "${first:-1},\$p" "$log" | grep -v -E '^    #([2-9][0-9]|1[0-9]) ' | head -60
  else
    summary+=("$target: ${executions:-?} executions, ${coverage:-cov: ?}, no finding")
  fi
  rm -rf /dev/shm/cnnlab-fuzz-* 2>/dev/null || true
done

echo
echo "== fuzz summary (${SECONDS_PER_TARGET}s per target)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "reproducers and logs: $WORK (artifacts: $FUZZ_ARTIFACTS)"
  exit 1
fi
rm -rf "$WORK"
