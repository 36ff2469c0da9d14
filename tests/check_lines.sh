#!/bin/bash
# check_lines.sh: no C source or header longer than 600 lines in the folders
# checked; one pass or fail per file, then "N passed, N failed".
#   tests/check_lines.sh [DIR...]   (default: the folders in CHECKED_DIRS)
set -u
cd "$(dirname "$0")/.."
LIMIT=600
CHECKED_DIRS=(. cli probe capture analysis)
[ $# -gt 0 ] && CHECKED_DIRS=("$@")
passed=0 failed=0
for dir in "${CHECKED_DIRS[@]}"; do
    for file in "$dir"/*.c "$dir"/*.h; do
        [ -f "$file" ] || continue
        lines=$(wc -l <"$file")
        if [ "$lines" -gt "$LIMIT" ]; then
            echo "FAIL $file: $lines lines (at most $LIMIT; split it along a seam)"
            failed=$((failed + 1))
        else
            passed=$((passed + 1))
        fi
    done
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
