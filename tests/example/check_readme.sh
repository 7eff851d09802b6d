#!/usr/bin/env bash
# The C example in README.md is examples/first_bytes.c, verbatim: check it,
# then run the built example on a file of known bytes.
# Usage: check_readme.sh SOURCE_DIR EXAMPLE_BINARY
set -euo pipefail
src=$1 bin=$2
readme_block=$(awk '/^```c$/{on=1;next} /^```$/{if(on){exit}} on' "$src/README.md")
if [ "$readme_block" != "$(cat "$src/examples/first_bytes.c")" ]; then
  echo "README.md's C example differs from examples/first_bytes.c" >&2
  diff <(printf '%s\n' "$readme_block") "$src/examples/first_bytes.c" >&2 || true
  exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf 'smmap reads this file through windows\n' > "$tmp/file"
out=$("$bin" "$tmp/file")
hex=$(head -c 16 "$tmp/file" | od -An -tx1 | tr -d ' \n')
expected="$hex
maps 1, mapped $(wc -c < "$tmp/file") bytes"
if [ "$out" != "$expected" ]; then
  printf 'unexpected output:\n%s\nexpected:\n%s\n' "$out" "$expected" >&2
  exit 1
fi
echo "README example: output as expected"
