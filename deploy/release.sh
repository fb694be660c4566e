#!/usr/bin/env bash
# Builds the release archive, dptrain-VERSION-linux-x86_64.tar.gz, that runs on an x86-64 Linux
# host with glibc 2.36 or later (Debian 12, Ubuntu 22.10 and later) and no Swift toolchain:
#
#   dptrain-VERSION-linux-x86_64/
#     bin/dptrain                                the Swift runtime and Foundation linked in statically
#     bin/coordinator, bin/worker                links to dptrain, which acts on the name it is called by
#                                                (one 58 MB executable rather than three)
#     lib/                                       every shared library they need beyond glibc (libzmq,
#                                                OpenBLAS, libgfortran, libsodium, ...), found through
#                                                the executables' RPATH $ORIGIN/../lib
#     share/dptrain/mnist/                       the bundled MNIST, found beside the executables
#
# usage: deploy/release.sh [OUTPUT_DIR]     (default .release/; prints the archive's path last)
#
# Built in a scratch folder of its own (.release/build), so it neither disturbs nor reuses a
# development build. The commit goes into the executables as a C macro (Sources/CBuildInfo), so
# that `dptrain --version` names it; a build with uncommitted changes says "-dirty".
set -euo pipefail
cd "$(dirname "$0")/.."
output=$(realpath -m "${1:-.release}")
deploy/install-deps.sh

commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
if [ "$commit" != unknown ] && [ -n "$(git status --porcelain --untracked-files=no 2>/dev/null)" ]; then
  commit="$commit-dirty"
fi

# DT_RPATH rather than the newer DT_RUNPATH (--disable-new-dtags): RPATH also serves the libraries'
# own dependencies (OpenBLAS's libgfortran), where RUNPATH would serve the executables' alone.
scratch=.release/build
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product dptrain \
  -Xcc "-DDPTRAIN_COMMIT=\"$commit\"" \
  -Xlinker --disable-new-dtags -Xlinker -rpath -Xlinker '$ORIGIN/../lib'
binaries="$scratch/release"

version=$("$binaries/dptrain" --version | sed -E 's/^dptrain ([^ ]+) .*/\1/')
name="dptrain-$version-linux-x86_64"
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
root="$staging/$name"
mkdir -p "$root/bin" "$root/lib" "$root/share/dptrain"

# The C library and the dynamic loader come from the host; everything else travels (as in
# ../shared/tools/pack-release, with $ORIGIN in place of a wrapper that sets LD_LIBRARY_PATH).
host_libraries='^(linux-vdso|libc\.so|libm\.so|libdl\.so|libpthread\.so|librt\.so|ld-linux|libresolv\.so|libutil\.so)'
cp -L "$binaries/dptrain" "$root/bin/"
strip "$root/bin/dptrain"
ln -s dptrain "$root/bin/coordinator"
ln -s dptrain "$root/bin/worker"
ldd "$binaries/dptrain" | awk '/=> \//{print $1" "$3}' | while read -r library path; do
  [[ $library =~ $host_libraries ]] || cp -L "$path" "$root/lib/$library"
done
if ldd "$root/bin/dptrain" | grep -q /opt/swift; then
  echo "release.sh: the executables still load a library from the Swift toolchain; --static-swift-stdlib did not take" >&2
  exit 1
fi
cp -r data/mnist "$root/share/dptrain/mnist"
cat > "$root/README" <<EOF
dptrain $version (commit $commit), for x86-64 Linux with glibc 2.36 or later.

  bin/dptrain launch --workers 2          train on the bundled MNIST, here
  bin/coordinator --bind tcp://*:5555 --workers 2
  bin/worker --connect tcp://HOST:5555    (or DPTRAIN_COORDINATOR=tcp://HOST:5555 bin/worker)

Put the executables on PATH with symbolic links (ln -s "$PWD"/bin/* /usr/local/bin/): they find
lib/ and share/ beside their real location.
EOF

mkdir -p "$output"
archive="$output/$name.tar.gz"
tar -C "$staging" -czf "$archive" "$name"
echo "$(du -h "$archive" | cut -f1) $archive (dptrain $version, commit $commit, libraries: $(ls "$root/lib" | tr '\n' ' '))"
