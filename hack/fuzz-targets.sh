#!/usr/bin/env bash
# Lists the fuzz targets of the module as "package:FuzzName", one a line.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
grep -rl --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]+\(' . | while read -r f; do
	pkg="./$(dirname "${f#./}")"
	grep -oE '^func Fuzz[A-Za-z0-9_]+' "$f" | sed 's/^func //' | while read -r t; do
		echo "${pkg}:${t}"
	done
done
