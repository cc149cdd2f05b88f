#!/usr/bin/env bash
# Builds the registry-free image `ember:latest` (or $1) from static
# binaries: for machines whose Docker engine cannot pull base images.
# The explicit --target keeps build scripts dynamically linked while the
# binaries are static (glibc resolves names from /etc/hosts and
# /etc/resolv.conf, which Docker provides in every container).
set -euo pipefail
cd "$(dirname "$0")/.."
tag="${1:-ember:latest}"
target="$(rustc -vV | sed -n 's/^host: //p')"
echo "building static binaries for $target"
RUSTFLAGS='-C target-feature=+crt-static' cargo build --release --locked --target "$target" \
  -p ember-node -p ember-coordinator --bins
mkdir -p deploy/.bin/data
for b in ember-node ember-coordinator emberctl; do
  cp "target/$target/release/$b" deploy/.bin/
done
docker build -q -f deploy/scratch.Dockerfile -t "$tag" . >/dev/null
echo "built $tag"
