#!/usr/bin/env bash
# Regenerates expectations from lua5.4 (the reference): by default
# tests/lua/expected/*.expected for the corpus; with `--bench`,
# bench/programs/expected/*.expected for the benchmark programs (which the
# differential test also runs in the compiled tiers).
# Each file: "#status N", "#stderr <first stderr line without the
# interpreter prefix>", "#stdout", then the program's exact stdout.
# Usage: tests/lua/regen.sh [--bench] [NAME.lua ...]   (default: every program)
set -euo pipefail
cd "$(dirname "$0")"
if [ "${1:-}" = "--bench" ]; then
  shift
  cd ../../bench/programs
fi
command -v lua5.4 >/dev/null || { echo "regen.sh: lua5.4 not found (apt-get install lua5.4)" >&2; exit 1; }
mkdir -p expected
files=("$@")
[ ${#files[@]} -gt 0 ] || files=(*.lua)
for f in "${files[@]}"; do
  case "$f" in mod_*) continue;; esac
  name="${f%.lua}"
  set +e
  out=$(mktemp); err=$(mktemp)
  timeout 60 lua5.4 "$f" >"$out" 2>"$err"; status=$?
  set -e
  {
    echo "#status $status"
    echo "#stderr $(head -n 1 "$err" | sed 's/^lua5\.4: //')"
    echo "#stdout"
    cat "$out"
  } > "expected/$name.expected"
  rm -f "$out" "$err"
done
echo "regenerated ${#files[@]} expectation(s) in $(pwd)/expected"
