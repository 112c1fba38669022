#!/usr/bin/env bash
# Builds cnnlab with AddressSanitizer + UndefinedBehaviorSanitizer and runs the whole ctest
# suite under them; with --fuzz N, then runs each libFuzzer target for N seconds from the same
# build; with --tsan, also builds with ThreadSanitizer (build-tsan) and runs the data loader
# and the threaded layer tests. Exits non-zero on any test failure, sanitizer report or fuzz
# finding. This is what CI runs after scripts/test.sh (see .ci/run).
# Usage: bash scripts/sanitize.sh [--fuzz SECONDS] [--tsan] [--tsan-only] [extra ctest args...]
#   JOBS=N sets build/test parallelism (default: nproc); ASAN_BUILD_DIR (default build-asan).
#
# The ASan build is one build for both jobs, to compile the project once: with clang and
# libFuzzer installed (clang libclang-rt-14-dev libomp-dev) it is compiled with
# -fsanitize=fuzzer-no-link (coverage counters in the libraries, which tests ignore) and
# builds the fuzz targets too; without clang it is a GCC build of the tests alone. -O1 and
# line tables only (reports keep file:line, compiling stays cheap: about 8 minutes on 2
# cores); the benchmarks are not built (no test runs them). NDEBUG as in the Release build:
# what is checked is the code users run (asserts of libraries such as stb_image compiled out
# there; the sanitizers check what is left).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_ASAN=1 RUN_TSAN=0 FUZZ_SECONDS=""
CTEST_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tsan) RUN_TSAN=1 ;;
    --tsan-only) RUN_TSAN=1 RUN_ASAN=0 ;;
    --fuzz)
      FUZZ_SECONDS=${2:?"--fuzz needs the seconds per target"}
      shift
      ;;
    *) CTEST_ARGS+=("$1") ;;
  esac
  shift
done
JOBS=${JOBS:-$(nproc)}
ASAN_BUILD_DIR=${ASAN_BUILD_DIR:-build-asan}
if [ -z "${CIFAR10_DIR:-}" ] && [ -d ../shared/data/cifar-10-batches-bin ]; then
  export CIFAR10_DIR="$(cd ../shared/data/cifar-10-batches-bin && pwd)"
fi
status=0
# The ONNX export tests run ONNX Runtime from the Release build's folder (scripts/setup.sh
# installs it there); without it they skip that check with a warning.
if [ -z "${CNNLAB_ONNXRUNTIME_NODE_MODULES:-}" ] && [ -d build/onnx_tools/node_modules ]; then
  export CNNLAB_ONNXRUNTIME_NODE_MODULES="$PWD/build/onnx_tools/node_modules"
fi
# The dashboard's browser test finds playwright-core the same way (scripts/test.sh).
if [ -z "${CNNLAB_BROWSER_MODULES:-}" ] && [ -d build/browser_tools/node_modules ]; then
  export CNNLAB_BROWSER_MODULES="$PWD/build/browser_tools/node_modules"
fi

have_libfuzzer() {
  command -v clang++ >/dev/null && [ -f "$(clang++ -print-file-name=libclang_rt.fuzzer-x86_64.a)" ]
}

if [ "$RUN_ASAN" = 1 ]; then
  if have_libfuzzer; then
    CC=clang CXX=clang++ FLAGS="-O1 -gline-tables-only -DNDEBUG" EXTRA="-fsanitize=fuzzer-no-link" FUZZ=ON
  else
    [ -z "$FUZZ_SECONDS" ] || {
      echo "sanitize.sh: --fuzz needs clang++ and libFuzzer (clang libclang-rt-14-dev)" >&2
      exit 2
    }
    CC=gcc CXX=g++ FLAGS="-O1 -g1 -DNDEBUG" EXTRA="" FUZZ=OFF
  fi
  # A build folder configured with another compiler is started afresh (CMake cannot switch).
  cache="$ASAN_BUILD_DIR/CMakeCache.txt"
  if [ -f "$cache" ] && ! grep -q "^CMAKE_CXX_COMPILER:[A-Z]*=.*$CXX\$" "$cache"; then
    rm -rf "$ASAN_BUILD_DIR"
  fi
  cmake -S . -B "$ASAN_BUILD_DIR" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
    -DCMAKE_C_FLAGS="$EXTRA" -DCMAKE_CXX_FLAGS="$EXTRA" \
    -DCMAKE_C_FLAGS_RELWITHDEBINFO="$FLAGS" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="$FLAGS" \
    -DCNNLAB_SANITIZE=ON -DCNNLAB_FUZZ="$FUZZ" -DCNNLAB_NATIVE=OFF >/dev/null
  # Every test and fuzz executable (their libraries and the cnnlab program come with them).
  mapfile -t targets < <(cmake --build "$ASAN_BUILD_DIR" --target help |
    sed -E 's/^\.\.\. //; s/:.*//' | grep -E '^(test|fuzz)_[A-Za-z0-9_]+$' | sort -u)
  echo "== ASan + UBSan: building ${targets[*]} cnnlab in $ASAN_BUILD_DIR"
  cmake --build "$ASAN_BUILD_DIR" -j"$JOBS" --target "${targets[@]}" cnnlab
  # Leaks are checked; scripts/lsan.supp is for one-time allocations of libraries that live
  # until exit (none needed so far).
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  echo "== ASan + UBSan: ctest in $ASAN_BUILD_DIR"
  ctest --test-dir "$ASAN_BUILD_DIR" --output-on-failure -j"$JOBS" --timeout 900 \
    "${CTEST_ARGS[@]}" || status=1
  unset ASAN_OPTIONS LSAN_OPTIONS UBSAN_OPTIONS
  if [ -n "$FUZZ_SECONDS" ]; then
    FUZZ_BUILD_DIR="$ASAN_BUILD_DIR" bash scripts/fuzz.sh "$FUZZ_SECONDS" || status=1
  fi
fi

if [ "$RUN_TSAN" = 1 ]; then
  # TSan does not understand GCC's libgomp barriers: OpenMP regions report races that are
  # not there. The tests run with OMP_NUM_THREADS=1 (their ctest environment), so what TSan
  # checks here is cnnlab's own threads: the prefetching data loader and the run store.
  cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNNLAB_TSAN=ON \
    -DCNNLAB_NATIVE=OFF >/dev/null
  cmake --build build-tsan -j"$JOBS"
  export TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/scripts/tsan.supp"
  echo "== TSan: ctest -R 'data/|layers/' in build-tsan"
  ctest --test-dir build-tsan --output-on-failure -j"$JOBS" --timeout 900 -R "data/|layers/" \
    "${CTEST_ARGS[@]}" || status=1
fi

if [ "$status" -ne 0 ]; then
  echo "sanitize.sh: failures above" >&2
fi
exit "$status"
