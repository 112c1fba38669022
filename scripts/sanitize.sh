#!/usr/bin/env bash
# Builds cnnlab with AddressSanitizer + UndefinedBehaviorSanitizer (build-asan) and runs the
# whole ctest suite under them; with --tsan, also builds with ThreadSanitizer (build-tsan) and
# runs the data loader and the threaded layer tests. Exits non-zero on any sanitizer report.
# Usage: bash scripts/sanitize.sh [--tsan] [--tsan-only] [extra ctest args...]
#   JOBS=N sets build/test parallelism (default: nproc).
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_ASAN=1 RUN_TSAN=0
CTEST_ARGS=()
for arg in "$@"; do
  case "$arg" in
    --tsan) RUN_TSAN=1 ;;
    --tsan-only) RUN_TSAN=1 RUN_ASAN=0 ;;
    *) CTEST_ARGS+=("$arg") ;;
  esac
done
JOBS=${JOBS:-$(nproc)}
if [ -z "${CIFAR10_DIR:-}" ] && [ -d ../shared/data/cifar-10-batches-bin ]; then
  export CIFAR10_DIR="$(cd ../shared/data/cifar-10-batches-bin && pwd)"
fi
status=0

if [ "$RUN_ASAN" = 1 ]; then
  # -fno-sanitize=vptr goes after every other flag (the compile rule below): UBSan's vptr
  # check needs the typeinfo of SOCI's internal classes, which libsoci_core does not export,
  # so with it the engine links into no executable.
  cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCNNLAB_SANITIZE=ON \
    -DCNNLAB_NATIVE=OFF \
    "-DCMAKE_CXX_COMPILE_OBJECT=<CMAKE_CXX_COMPILER> <DEFINES> <INCLUDES> <FLAGS> -fno-sanitize=vptr -o <OBJECT> -c <SOURCE>" \
    >/dev/null
  cmake --build build-asan -j"$JOBS"
  # Leaks are checked; the suppressions cover one-time allocations inside OpenBLAS and the
  # OpenMP runtime that live until exit (see scripts/lsan.supp).
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1"
  export LSAN_OPTIONS="suppressions=$PWD/scripts/lsan.supp:print_suppressions=0"
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  echo "== ASan + UBSan: ctest in build-asan"
  ctest --test-dir build-asan --output-on-failure -j"$JOBS" --timeout 900 "${CTEST_ARGS[@]}" || status=1
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
