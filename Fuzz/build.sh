#!/usr/bin/env bash
# Builds dptrain's libFuzzer harnesses (Fuzz/Harnesses/*.swift) into .build/fuzz/HARNESS, each
# against the package's own decoder sources compiled with `swiftc -sanitize=fuzzer,address`
# (coverage for libFuzzer, AddressSanitizer for out-of-bounds and use-after-free). SwiftPM cannot
# build them: it gives every executable its own entry point, and libFuzzer's must win. So each
# module a harness needs is compiled here, in dependency order, into a static library beside its
# .swiftmodule; C targets with clang -fsanitize=fuzzer-no-link,address. Incremental by module:
# a module is rebuilt only when one of its sources, or a module below it, is newer.
#
#   Fuzz/build.sh              every harness
#   Fuzz/build.sh wire-messages   one
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=${FUZZ_BUILD:-.build/fuzz}
mods=$out/modules
mkdir -p "$mods" "$out/c"

sanitize=fuzzer,address
swift_flags=(-parse-as-library -O -g -suppress-warnings -sanitize=$sanitize -swift-version 5 -I "$mods" -I "$out/c"
             -I Sources/CZlib -I Sources/CZMQ -I Sources/CBLAS -I Sources/CDNNL)
for flag in $(pkg-config --cflags-only-I openblas libzmq zlib); do swift_flags+=(-Xcc "$flag"); done
link_flags=(-L "$out" $(pkg-config --libs-only-L openblas) -lopenblas -ldnnl -lgomp -lzmq -lz)

# One module map for the package's C targets, each header by its absolute path.
c_module() {  # NAME SOURCE-DIRECTORY
  local name=$1 dir=$2 object="$out/c/$1.o"
  local header; header=$(ls "$dir"/include/*.h | head -1)
  if [ ! -e "$object" ] || [ -n "$(find "$dir" -newer "$object" -type f)" ]; then
    clang -O2 -g -fsanitize=fuzzer-no-link,address -fPIC -I "$dir/include" -c "$dir"/*.c -o "$object"
  fi
  printf 'module %s {\n    header "%s"\n    export *\n}\n' "$name" "$root/$header" >> "$out/c/module.modulemap.new"
}
: > "$out/c/module.modulemap.new"
c_module CKernels Sources/CKernels
c_module CMatmul Sources/CMatmul
c_module CSharedMemory Sources/CSharedMemory
c_module CMalloc Sources/CMalloc
cmp -s "$out/c/module.modulemap.new" "$out/c/module.modulemap" || mv "$out/c/module.modulemap.new" "$out/c/module.modulemap"
rm -f "$out/c/module.modulemap.new"
ar rcs "$out/libcmodules.a" "$out"/c/*.o

# NAME DEPENDENCIES...: Sources/NAME/*.swift as a static library and a module.
swift_module() {
  local name=$1; shift
  local library="$out/lib$name.a" stale=0
  [ -e "$library" ] || stale=1
  [ $stale -eq 1 ] || [ -z "$(find "Sources/$name" -newer "$library" -type f)" ] || stale=1
  for dep in "$@"; do [ $stale -eq 1 ] || [ ! "$out/lib$dep.a" -nt "$library" ] || stale=1; done
  [ $stale -eq 1 ] || return 0
  echo "fuzz/build.sh: module $name"
  swiftc "${swift_flags[@]}" -module-name "$name" -emit-module -emit-module-path "$mods/$name.swiftmodule" \
    -emit-library -static -o "$library" Sources/"$name"/*.swift
}

# HARNESS EXTRA-SOURCES... : Fuzz/Harnesses/HARNESS.swift (with the extra sources, in its own
# module) linked against every library built above.
harness() {
  local name=$1; shift
  local binary="$out/$name"
  echo "fuzz/build.sh: harness $name"
  swiftc "${swift_flags[@]}" -module-name "Fuzz$(echo "$name" | tr -d -)" -o "$binary" \
    "Fuzz/Harnesses/$name.swift" Fuzz/Harnesses/Support.swift "$@" -use-ld=lld \
    -L "$out" -lTraining -lTeams -lTensorBoard -lPlan -lDataset -lMLP -lZMQ -lOutputFiles -lWire -lcmodules "${link_flags[@]}"
}

swift_module OutputFiles
swift_module Wire
swift_module MLP
swift_module Dataset MLP
swift_module Plan MLP
swift_module TensorBoard OutputFiles
swift_module Teams
swift_module Training MLP Dataset Plan TensorBoard OutputFiles Teams
swift_module ZMQ OutputFiles

wanted=("$@")
[ ${#wanted[@]} -ne 0 ] || wanted=($(cd Fuzz/Harnesses && ls *.swift | sed 's/\.swift$//' | grep -v '^Support$'))
for name in "${wanted[@]}"; do
  case $name in
    shared-memory) harness "$name" Sources/Distributed/SharedSegment.swift ;;
    *) harness "$name" ;;
  esac
done
