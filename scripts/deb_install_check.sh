#!/usr/bin/env bash
# CI: the Debian packages installed for real. Builds them (cpack -G DEB in the build folder),
# installs both with dpkg -i, builds examples/custom_layer against /usr with
# find_package(cnnlab), loads it into /usr/bin/cnnlab, and removes the packages again.
# Needs root; .ci/run calls it after scripts/test.sh (the ctest test install/deb_packages
# checks the same files unpacked, without installing them).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
work=$(mktemp -d "${TMPDIR:-/tmp}/cnnlab_deb_install_XXXXXX")
cleanup() {
  dpkg -r libcnnlab-dev cnnlab >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
(cd "$BUILD_DIR" && cpack -G DEB -B "$work/packages") >"$work/cpack.log" || { cat "$work/cpack.log"; exit 1; }
dpkg -i "$work"/packages/cnnlab_*.deb "$work"/packages/libcnnlab-dev_*.deb
cmake -S examples/custom_layer -B "$work/example" -DCMAKE_BUILD_TYPE=Release >"$work/example.log"
cmake --build "$work/example" -j"$(nproc)" >>"$work/example.log" || { cat "$work/example.log"; exit 1; }
/usr/bin/cnnlab --plugin "$work/example/libcnnlab_example_layers.so" layers | grep -q "^se_block"
echo "deb: cnnlab and libcnnlab-dev installed with dpkg -i; examples/custom_layer built against /usr and loaded"
