#!/usr/bin/env bash
# The Debian packages as built by CPack: `cpack -G DEB` makes cnnlab (program and runtime
# libraries) and libcnnlab-dev (headers, CMake and pkg-config files); both are unpacked into a
# temporary root (dpkg-deb -x: the files dpkg -i would install, without touching this
# machine's /usr) and examples/custom_layer is built against that root's usr/ with
# find_package(cnnlab), then loaded into the packaged program.
# Usage: test_deb.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
for tool in cpack dpkg-deb; do
  command -v "$tool" >/dev/null || { echo "skipped: $tool is not installed"; exit 0; }
done
work=$(mktemp -d "${TMPDIR:-/tmp}/cnnlab_deb_XXXXXX")
trap 'rm -rf "$work"' EXIT

(cd "$build" && cpack -G DEB -B "$work/packages") >"$work/cpack.log" || { cat "$work/cpack.log"; exit 1; }
runtime=$(ls "$work"/packages/cnnlab_*.deb)
dev=$(ls "$work"/packages/libcnnlab-dev_*.deb)
[ "$(dpkg-deb -f "$runtime" Package)" = cnnlab ] && [ "$(dpkg-deb -f "$dev" Package)" = libcnnlab-dev ]
dpkg-deb -f "$dev" Depends | grep -q "^cnnlab (= " || { echo "FAIL: libcnnlab-dev does not depend on cnnlab"; exit 1; }
# The GEMM providers' libraries, found by shlibdeps: the installed program and library load.
dpkg-deb -f "$runtime" Depends | grep -q "libdnnl" || { echo "FAIL: cnnlab does not depend on oneDNN (libdnnl)"; exit 1; }
dpkg-deb -f "$runtime" Depends | grep -q "libopenblas" || { echo "FAIL: cnnlab does not depend on OpenBLAS"; exit 1; }
if dpkg-deb -c "$runtime" | grep -q "/include/"; then echo "FAIL: headers in the runtime package"; exit 1; fi
echo "packages: $(basename "$runtime") (Depends: $(dpkg-deb -f "$runtime" Depends)), $(basename "$dev")"

root=$work/root
dpkg-deb -x "$runtime" "$root"
dpkg-deb -x "$dev" "$root"
"$root/usr/bin/cnnlab" --help >/dev/null
cmake -S "$source/examples/custom_layer" -B "$work/example" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$root/usr" >"$work/example.log"
cmake --build "$work/example" -j2 >>"$work/example.log" || { cat "$work/example.log"; exit 1; }
"$root/usr/bin/cnnlab" --plugin "$work/example/libcnnlab_example_layers.so" layers | grep -q "^se_block" ||
  { echo "FAIL: the packaged program does not list the plugin's layers"; exit 1; }
echo "examples/custom_layer built against the packages' files; the packaged cnnlab loads it"
