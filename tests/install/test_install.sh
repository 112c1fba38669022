#!/usr/bin/env bash
# The installed package as a user meets it: `cmake --install` this build into a temporary
# prefix, then build consumers against that prefix alone:
#   1. examples/custom_layer with find_package(cnnlab) (its own CMake project), loaded into
#      the installed cnnlab program with --plugin;
#   2. the program of docs/library.md, compiled with pkg-config, run: it trains a model for
#      an epoch and saves it;
#   3. the same program built by a CMake project linking cnnlab::cnnlab.
# Usage: test_install.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
source=$(cd "$2" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/cnnlab_install_XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix

cmake --install "$build" --prefix "$prefix" >"$work/install.log"
echo "installed into $prefix:"
(cd "$prefix" && find . -type f -o -type l | sort | sed 's/^/  /')
for f in bin/cnnlab include/cnnlab/core/tensor.h include/cnnlab/layers/registry.h \
         lib/cmake/cnnlab/cnnlabConfig.cmake lib/cmake/cnnlab/cnnlabConfigVersion.cmake \
         lib/cmake/cnnlab/cnnlabTargets.cmake lib/pkgconfig/cnnlab.pc; do
  [ -e "$prefix/$f" ] || { echo "FAIL: the install has no $f"; exit 1; }
done
libdir=$prefix/lib
# Private dependencies stay private: no OpenBLAS, oneDNN, SOCI, spdlog, nlohmann_json or stb in what
# a consumer reads (comments aside, and CMake's own note that libcnnlab_data.so was linked
# to spdlog's library, IMPORTED_LINK_DEPENDENT_LIBRARIES, which a consumer never resolves),
# and no path into the source or build tree.
if grep -rI -i -E "openblas|dnnl|soci|spdlog|nlohmann|stb" "$libdir/cmake" "$libdir/pkgconfig" |
   grep -v -e ":#" -e "IMPORTED_LINK_DEPENDENT_LIBRARIES"; then
  echo "FAIL: a private dependency shows in the package files above"; exit 1
fi
if grep -rIl -e "$source" -e "$build" "$libdir/cmake" "$libdir/pkgconfig"; then
  echo "FAIL: the package files above point into the source or build tree"; exit 1
fi
"$prefix/bin/cnnlab" --help >/dev/null

# 1. find_package(cnnlab)
cmake -S "$source/examples/custom_layer" -B "$work/custom_layer" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >"$work/custom_layer.log"
cmake --build "$work/custom_layer" -j2 >>"$work/custom_layer.log" || { cat "$work/custom_layer.log"; exit 1; }
layers=$("$prefix/bin/cnnlab" --plugin "$work/custom_layer/libcnnlab_example_layers.so" layers)
grep -q "^se_block" <<<"$layers" || { echo "FAIL: the plugin's layers are not listed"; echo "$layers"; exit 1; }
echo "find_package consumer: examples/custom_layer built; cnnlab --plugin lists se_block"

# 2. pkg-config: the docs/library.md program, as it is in the document
sed -n '/^```cpp$/,/^```$/p' "$source/docs/library.md" | sed '1d;$d' >"$work/train_tiny.cpp"
[ -s "$work/train_tiny.cpp" ] || { echo "FAIL: no cpp block in docs/library.md"; exit 1; }
export PKG_CONFIG_PATH="$libdir/pkgconfig"
flags=$(pkg-config --cflags --libs cnnlab)
g++ -O1 "$work/train_tiny.cpp" $flags -o "$work/train_tiny"
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 "$work/train_tiny" "$work/tiny.safetensors" | tee "$work/train.log"
[ -s "$work/tiny.safetensors" ] || { echo "FAIL: the program saved no weights"; exit 1; }
grep -q "saved" "$work/train.log"
echo "pkg-config consumer: docs/library.md compiled with '$flags', trained and saved"

# 3. the same program through find_package(cnnlab) and cnnlab::cnnlab
mkdir -p "$work/cmake_consumer"
cp "$work/train_tiny.cpp" "$work/cmake_consumer/"
cat >"$work/cmake_consumer/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.25)
project(train_tiny LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(cnnlab 0.1 REQUIRED)
add_executable(train_tiny train_tiny.cpp)
target_link_libraries(train_tiny PRIVATE cnnlab::cnnlab)
CMAKE
cmake -S "$work/cmake_consumer" -B "$work/cmake_consumer/build" -DCMAKE_BUILD_TYPE=Release \
      -DCMAKE_PREFIX_PATH="$prefix" >"$work/cmake_consumer.log"
cmake --build "$work/cmake_consumer/build" >>"$work/cmake_consumer.log" || { cat "$work/cmake_consumer.log"; exit 1; }
OMP_NUM_THREADS=1 "$work/cmake_consumer/build/train_tiny" "$work/tiny2.safetensors" | tail -1
echo "find_package consumer: docs/library.md built with cnnlab::cnnlab, trained and saved"
