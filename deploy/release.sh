#!/usr/bin/env bash
# Builds the release archive, dptrain-VERSION-linux-x86_64.tar.gz, that runs on an x86-64 Linux
# host with glibc 2.36 or later (Debian 12, Ubuntu 22.10 and later) and no Swift toolchain:
#
#   dptrain-VERSION-linux-x86_64/
#     bin/dptrain                                the Swift runtime and Foundation linked in statically
#     bin/coordinator, bin/worker,               links to dptrain, which acts on the name it is called by
#     bin/parameter-server                       (one 58 MB executable rather than four)
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
ln -s dptrain "$root/bin/parameter-server"
ldd "$binaries/dptrain" | awk '/=> \//{print $1" "$3}' | while read -r library path; do
  [[ $library =~ $host_libraries ]] || cp -L "$path" "$root/lib/$library"
done
if ldd "$root/bin/dptrain" | grep -q /opt/swift; then
  echo "release.sh: the executables still load a library from the Swift toolchain; --static-swift-stdlib did not take" >&2
  exit 1
fi
cp -r data/mnist "$root/share/dptrain/mnist"
# The archive's README: its ```sh blocks run as pasted from the unpacked folder, and
# deploy/test-release.sh has Tests/tools/check_docs.py --archive run every one of them.
sed -e "s/@VERSION@/$version/g" -e "s/@COMMIT@/$commit/g" > "$root/README" <<'EOF'
dptrain @VERSION@ (commit @COMMIT@), for x86-64 Linux with glibc 2.36 or later.

Paste these from this folder, dptrain-@VERSION@-linux-x86_64. The executables find lib/ and
share/ beside their real location, so they also run through links from anywhere.

Train on the bundled MNIST in one process, then with a coordinator and two worker processes on
this machine, and score the saved model (one epoch each; leave out --epochs 1 for three):

```sh
bin/dptrain train --epochs 1
bin/dptrain launch --workers 2 --epochs 1 --save model.safetensors
bin/dptrain evaluate --model model.safetensors
```

The commands on PATH, for this shell:

```sh
export PATH="$PWD/bin:$PATH"
dptrain --version
```

or for every user of this machine, as root, from this folder:

```text
ln -s "$PWD"/bin/* /usr/local/bin/
```

Several machines: the coordinator on one host with the data, a worker on each of the others.
Every connection is encrypted and authenticated with keys, and a coordinator bound to the
network refuses to start without them (--insecure runs it in plaintext, for a network you
trust). Tried on this one machine, with one key pair for the coordinator and one for both
workers:

```sh
bin/dptrain keygen coordinator --dir keys
bin/dptrain keygen worker --dir keys
mkdir -p keys/authorized && cp keys/worker.key keys/authorized/
bin/coordinator --bind tcp://*:5555 --workers 2 --epochs 1 \
  --key keys/coordinator.key_secret --authorized-keys keys/authorized &
bin/worker --connect tcp://localhost:5555 --key keys/worker.key_secret --coordinator-key keys/coordinator.key &
bin/worker --connect tcp://localhost:5555 --key keys/worker.key_secret --coordinator-key keys/coordinator.key
wait
```

Across hosts only public keys travel: keys/coordinator.key to each worker's host, and each
worker host's NAME.key into the coordinator's keys/authorized/ (one pair a host, made there with
bin/dptrain keygen NAME --dir keys). Then, with host-a the coordinator's host:

```text
host-a$ bin/coordinator --bind tcp://*:5555 --workers 2 --key keys/coordinator.key_secret --authorized-keys keys/authorized
host-b$ bin/worker --connect tcp://host-a:5555 --key keys/host-b.key_secret --coordinator-key keys/coordinator.key
host-c$ DPTRAIN_COORDINATOR=tcp://host-a:5555 bin/worker --key keys/host-c.key_secret --coordinator-key keys/coordinator.key
```

Every command says what it takes with --help. Slurm, systemd, Kubernetes and container recipes
are in the source repository's deploy/ folder, described in its docs/deployment.md.
EOF

mkdir -p "$output"
archive="$output/$name.tar.gz"
tar -C "$staging" -czf "$archive" "$name"
echo "$(du -h "$archive" | cut -f1) $archive (dptrain $version, commit $commit, libraries: $(ls "$root/lib" | tr '\n' ' '))"
