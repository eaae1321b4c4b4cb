#!/usr/bin/env bash
# `omnibase help [COMMAND]` is COMMAND --help (mcp included), -V is --version, the man page
# renders without a groff warning and names every option `sandbox run --help`
# lists, and the bash completion offers the commands and those options.
set -uo pipefail
bin=${OMNIBASE_BIN:?}
src=${OMNIBASE_SOURCE_DIR:?}
man=$src/docs/man/omnibase.1
comp=$src/cli/omnibase.bash-completion
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

for c in sandbox policy events env template mcp gc; do
    diff <("$bin" help "$c") <("$bin" "$c" --help) >/dev/null || fail "help $c differs from $c --help"
done
[ "$("$bin" -V)" = "$("$bin" --version)" ] || fail "-V differs from --version"
grep -Eq '^omnibase [0-9]+\.[0-9]+\.[0-9]+$' <<<"$("$bin" -V)" || fail "-V: $("$bin" -V)"
"$bin" help >/dev/null || fail "help without a command"
out=$("$bin" help nope 2>&1)
[ $? -eq 125 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "help nope: $out"

if ! command -v groff >/dev/null; then
    echo "groff is not installed (scripts/install-deps.sh installs groff-base)" >&2
    [ "${OMNIBASE_MUST_WORK:-0}" = 1 ] && exit 1
    exit 77
fi
text=$(groff -man -Tutf8 -ww "$man" 2>"${TMPDIR:-/tmp}/man.err.$$")
[ -s "${TMPDIR:-/tmp}/man.err.$$" ] && fail "groff warnings: $(cat "${TMPDIR:-/tmp}/man.err.$$")"
rm -f "${TMPDIR:-/tmp}/man.err.$$"
text=$(printf '%s' "$text" | sed 's/\x1b\[[0-9;]*m//g; s/.\x08//g')
opts=$("$bin" sandbox run --help | grep -oE -- '--[a-z][a-z-]+' | sort -u)
for o in $opts; do
    grep -qF -- "$o" <<<"$text" || fail "man page lacks $o"
done
for c in sandbox policy events env template mcp pool gc help; do
    grep -q "omnibase $c" <<<"$text" || fail "man page lacks the $c command"
done
for c in "env render" "template render" "pool start" "pool status" "pool stop"; do
    grep -q "omnibase $c" <<<"$text" || fail "man page lacks $c"
done

# bash completion: the commands, then sandbox run's options
complete_words() {
    bash -c 'source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1));
             _omnibase; printf "%s\n" "${COMPREPLY[@]}"' _ "$comp" "$@"
}
[ "$(complete_words omnibase sa)" = sandbox ] || fail "completion of sa: $(complete_words omnibase sa)"
[ "$(complete_words omnibase policy c | tr '\n' ' ')" = "check compile " ] || fail "completion of policy c"
[ "$(complete_words omnibase template r)" = render ] || fail "completion of template r"
[ "$(complete_words omnibase mc)" = mcp ] || fail "completion of mc: $(complete_words omnibase mc)"
[ "$(complete_words omnibase mcp --)" = --help ] || fail "completion of mcp --: $(complete_words omnibase mcp --)"
grep -qx render <<<"$(complete_words omnibase env r)" || fail "completion of env r"
got=$(complete_words omnibase sandbox run x.py --)
for o in $opts; do
    grep -qxF -- "$o" <<<"$got" || fail "completion lacks $o"
done

if [ "$fails" -ne 0 ]; then
    echo "$fails failure(s)" >&2
    exit 1
fi
echo "cli help: all cases passed"
