#!/bin/bash
# check_package.sh: acrdiag installs like a Debian tool (issue 13, item 5).
#   - `make install DESTDIR=...` installs the binary, acrdiag(1), bash and zsh
#     completion and the docs; `make uninstall` removes exactly those;
#   - acrdiag(1) passes `man --warnings`;
#   - the bash completion offers the commands and options;
#   - `dpkg-buildpackage -us -uc -b` builds a .deb from a copy of the tree
#     (nothing is written into the working tree or beside it), lintian
#     reports no error or warning, and the package unpacked into a scratch
#     root (`dpkg -x`) runs `acrdiag analyze` on a bundled capture.
# Prints one line per failure and a closing "N passed, N failed"; keeps the
# build log and lintian's output in the scratch directory on failure.
set -u
cd "$(dirname "$0")/.."
REPO=$PWD
passed=0 failed=0
check() {   # check NAME CONDITION-EXIT-STATUS [DETAIL]
    if [ "$2" -eq 0 ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL $1${3:+: $3}"
    fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && rm -rf "$tmp"
    exit $((failed != 0))
}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acrdiag-pkg.XXXXXX")

# ---- make install / uninstall ---------------------------------------------------
root="$tmp/make-root"
make -s install DESTDIR="$root" PREFIX=/usr >"$tmp/install.log" 2>&1
check "make install" $? "$(tail -n 3 "$tmp/install.log")"
for f in usr/bin/acrdiag usr/share/man/man1/acrdiag.1 usr/share/bash-completion/completions/acrdiag \
         usr/share/zsh/site-functions/_acrdiag usr/share/doc/acrdiag/verdicts.md \
         usr/share/doc/acrdiag/acr-network-facts.md usr/share/doc/acrdiag/README.md; do
    [ -f "$root/$f" ]
    check "make install puts /$f" $?
done
[ -x "$root/usr/bin/acrdiag" ]
check "make install: the binary is executable" $?
"$root/usr/bin/acrdiag" -V | grep -q "^acrdiag [0-9]"
check "make install: the installed binary runs" $?
make -s uninstall DESTDIR="$root" PREFIX=/usr >>"$tmp/install.log" 2>&1
check "make uninstall" $?
left=$(find "$root" -type f | sed "s|^$root||")
[ -z "$left" ]
check "make uninstall leaves no file" $? "$left"

# ---- the man page -------------------------------------------------------------------
warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l doc/acrdiag.1 2>&1 >/dev/null)
[ -z "$warn" ]
check "acrdiag(1): man --warnings is silent" $? "$warn"
TREE="$REPO/${BUILD:-build/rel}/acrdiag"
[ -x "$TREE" ] || TREE=./acrdiag
version=$("$TREE" -V | awk '{print $2}')
grep -q "\"acrdiag ${version}\"" doc/acrdiag.1
check "acrdiag(1) names the version ($version)" $?
# Every long option of `acrdiag analyze --help` and `watch --help` is documented.
for opt in $( (./acrdiag analyze --help; ./acrdiag watch --help) | grep -o -- '--[a-z][a-z-]*' | sort -u); do
    grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" doc/acrdiag.1
    check "acrdiag(1) documents $opt" $?
done

# ---- bash completion ----------------------------------------------------------------
if [ -f /usr/share/bash-completion/bash_completion ]; then
    complete_words() {  # complete_words WORD...: what bash offers for the last word
        bash -c '. /usr/share/bash-completion/bash_completion; . completion/acrdiag.bash
                 COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
                 _acrdiag acrdiag "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
                 printf "%s\n" "${COMPREPLY[@]}"' _ "$@"
    }
    [ "$(complete_words acrdiag a)" = analyze ]
    check "bash completion: acrdiag a<TAB> is analyze" $? "$(complete_words acrdiag a)"
    complete_words acrdiag analyze --js | grep -qx -- --json-lines
    check "bash completion: analyze --js<TAB> offers --json-lines" $?
    [ "$(complete_words acrdiag analyze --color=n | tr '\n' ' ')" = "never " ]
    check "bash completion: --color=n<TAB> is never" $?
    complete_words acrdiag watch --unt | grep -qx -- --until-idle
    check "bash completion: watch --unt<TAB> offers --until-idle" $?
else
    echo "  bash-completion is not installed: completion not exercised"
fi
if command -v zsh >/dev/null; then
    zsh -n completion/_acrdiag
    check "zsh completion parses" $?
fi

# ---- the Debian package ---------------------------------------------------------------
for tool in dpkg-buildpackage dh lintian; do
    if ! command -v "$tool" >/dev/null; then
        check "$tool is installed (tests/deps.sh test)" 1
        finish
    fi
done
# A copy of the tree: dpkg-buildpackage writes debian/ build files into the
# tree and the .deb beside it.
src="$tmp/src/acrdiag"
mkdir -p "$src"
tar -c --exclude=./build --exclude=./pcaps --exclude=./tests --exclude=./.git --exclude=./acrdiag \
    --exclude=./debian/acrdiag --exclude=./debian/.debhelper --exclude=./debian/files \
    --exclude='./debian/*.substvars' --exclude=./debian/debhelper-build-stamp . | tar -x -C "$src"
start=$(date +%s)
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$tmp/build.log" 2>&1
check "dpkg-buildpackage -us -uc -b" $? "$(tail -n 5 "$tmp/build.log")"
echo "  package built in $(($(date +%s) - start)) s"
deb=$(ls "$tmp"/src/acrdiag_*.deb 2>/dev/null | head -n 1)
[ -n "$deb" ]
check "a .deb was built" $?
[ -n "$deb" ] || finish
# lintian as root says so on stderr; its tags go to stdout.
lintian --pedantic --display-info "$deb" "${deb%_*.deb}"_*.changes >"$tmp/lintian.out" 2>"$tmp/lintian.err"
tags=$(grep -E '^[EWIPX]: ' "$tmp/lintian.out")
! grep -qE '^[EW]: ' "$tmp/lintian.out"
check "lintian: no error or warning" $? "$tags"
echo "  lintian (pedantic, info): ${tags:-no tags}"

scratch="$tmp/scratch"
dpkg -x "$deb" "$scratch"
check "dpkg -x into a scratch root" $?
for f in usr/bin/acrdiag usr/share/man/man1/acrdiag.1.gz usr/share/bash-completion/completions/acrdiag \
         usr/share/zsh/vendor-completions/_acrdiag usr/share/doc/acrdiag/verdicts.md usr/share/doc/acrdiag/copyright; do
    [ -f "$scratch/$f" ]
    check "the package holds /$f" $?
done
warn=$(zcat "$scratch/usr/share/man/man1/acrdiag.1.gz" | LC_ALL=C.UTF-8 man --warnings -l - 2>&1 >/dev/null)
[ -z "$warn" ]
check "the packaged acrdiag(1) is lint-free" $? "$warn"
"$scratch/usr/bin/acrdiag" --version | grep -qx "acrdiag $version"
check "the packaged binary says its version" $?
# The package's binary on bundled captures: the same report and exit status
# as the tree's binary (its text report names no path of its own).
n=0
for cap in pcaps/healthy.curl.pcap pcaps/proxy_intercept.curl12.pcap pcaps/nsg_drop.curl.pcap \
           tests/corpus/pcaps/zeek/tls1.2.pcap; do
    [ -f "$cap" ] || continue
    n=$((n + 1))
    want=$("$TREE" analyze "$cap"); want_rc=$?
    got=$("$scratch/usr/bin/acrdiag" analyze "$cap"); got_rc=$?
    [ "$got_rc" -eq "$want_rc" ] && [ "$got_rc" -le 3 ] && [ "$got" = "$want" ] && [ -n "$got" ]
    check "the packaged acrdiag analyze $cap: as the tree's (exit $want_rc)" $? "exit $got_rc: $(head -n 1 <<<"$got")"
done
[ "$n" -gt 0 ]
check "a bundled capture was analyzed by the package" $?
finish
