#!/bin/bash
# replay.sh: replays the saved inputs of one fuzz harness through its replay
# binary, one test per input, and prints FAIL lines and "N passed, N failed".
#   tests/fuzz/replay.sh BUILD/fuzz/fuzz_NAME-replay
# Inputs: tests/fuzz/corpus/fuzz_NAME/; for fuzz_file also every capture in
# tests/corpus/fuzz-seeds/*/ and tests/corpus/pcaps/*/ (not the
# .tsv/.peer/.md files beside them) and the repository's pcaps/*.pcap{,ng}.
# An input passes when the binary exits 0 and prints no sanitizer report.
# The binary runs once per directory; only a failing directory is replayed
# file by file to name the inputs that fail.
set -u
bin=${1:?usage: replay.sh BUILD/fuzz/fuzz_NAME-replay}
cd "$(dirname "$0")/../.."
name=$(basename "$bin" -replay)
corpus=tests/corpus
export ASAN_OPTIONS=${ASAN_OPTIONS:-exitcode=99:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:exitcode=99:print_stacktrace=1}
passed=0 failed=0
out=$(mktemp "${TMPDIR:-/tmp}/acrdiag-replay.XXXXXX")
trap 'rm -f "$out"' EXIT

# run FILE...: true when the binary took every file cleanly.
run() {
    "$bin" "$@" >"$out" 2>&1 &&
        ! grep -qE 'runtime error|AddressSanitizer|LeakSanitizer|invariant failed' "$out"
}

# group FILE...: one test per file, one process for the whole group.
group() {
    [ $# -eq 0 ] && return
    if run "$@"; then
        passed=$((passed + $#))
        return
    fi
    local f
    for f in "$@"; do
        if run "$f"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
            echo "FAIL $name $f"
            grep -m 3 -E 'ERROR|runtime error|invariant failed|SUMMARY' "$out" | sed 's/^/  /'
        fi
    done
}

# inputs DIR: the regular files of DIR that are inputs, one per line.
inputs() {
    find "$1" -maxdepth 1 -type f ! -name '*.tsv' ! -name '*.peer-*' ! -name '*.md' \
        ! -name '*.yaml' ! -name '*.out' ! -name 'README*' ! -name 'MANIFEST*' | sort
}

dirs=("tests/fuzz/corpus/$name")
if [ "$name" = fuzz_file ]; then
    dirs+=("$corpus"/fuzz-seeds/*/ "$corpus"/pcaps/*/)
fi
for d in "${dirs[@]}"; do
    [ -d "$d" ] || continue
    mapfile -t files < <(inputs "$d")
    group "${files[@]}"
done
if [ "$name" = fuzz_file ]; then
    shopt -s nullglob
    group pcaps/*.pcap pcaps/*.pcapng
fi
# A harness with nothing to replay tests nothing: that is a failure.
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "FAIL $name: no saved inputs in tests/fuzz/corpus/$name"
    failed=1
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
