# Shared by the CLI shell tests: the python3 used to read JSON, a scratch
# directory, pass/fail counting and the assertions, the arguments
# (cli_args) and the fifo conversation runner (fifo_pair, pair). Source it
# first; the helpers read NEGOEX (the tool) when they run.
PY=/usr/bin/python3
[ -x "$PY" ] || PY=$(command -v python3 || true)
if [ -z "$PY" ]; then
    echo "$0: python3 is needed to check the JSON output" >&2
    exit 1
fi

TMP=$(mktemp -d "${TMPDIR:-/tmp}/negoex-cli.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
trap 'exit 1' INT TERM

pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() {
    fail=$((fail + 1))
    echo "FAIL: $*" >&2
}

# check WHAT COMMAND...: the command's success is the assertion. CHECK_SHOW,
# when set, is run after a failure (to show what the run left behind).
check() {
    _what=$1
    shift
    if "$@"; then ok; else bad "$_what"; [ -n "${CHECK_SHOW:-}" ] && $CHECK_SHOW; fi
    return 0
}

# cli_args "$@": the two arguments every CLI test gets from CTest; sets
# NEGOEX and VEC (the vectors directory).
cli_args() {
    if [ $# -ne 2 ]; then
        echo "usage: sh $0 <path-to-negoex> <vectors-dir>" >&2
        exit 2
    fi
    NEGOEX=$1
    VEC=$2
}

# fifo_pair PREFIX "INITIATOR COMMAND" "ACCEPTOR COMMAND": one conversation
# over the line protocol through two fifos in $TMP. The commands are split
# on blanks (no word of them may hold one) and run under PAIR_TIMEOUT when
# set (e.g. "timeout 60"). Each side's stdout (what it sent) goes to
# PREFIX.i / PREFIX.a, its stderr to PREFIX.ierr / PREFIX.aerr; exit
# statuses in $irc / $aexit. Only the acceptor's tee holds a2i, so the
# initiator sees the end of input as soon as the acceptor ends; that tee
# writes the log before the fifo (an initiator that has already failed and
# gone must not cost the acceptor's last line); and the acceptor side drains
# what is left, so the initiator's last lines never meet a closed pipe.
# shellcheck disable=SC2086
fifo_pair() {
    rm -f "$TMP/i2a" "$TMP/a2i" "$TMP/irc" "$TMP/aexit"
    mkfifo "$TMP/i2a" "$TMP/a2i"
    { { ${PAIR_TIMEOUT:-} $3 2> "$1.aerr"; echo "$?" > "$TMP/aexit"; } | tee "$TMP/a2i" > "$1.a"
        cat > /dev/null; } < "$TMP/i2a" &
    _apid=$!
    { ${PAIR_TIMEOUT:-} $2 2> "$1.ierr"; echo "$?" > "$TMP/irc"; } < "$TMP/a2i" | tee "$1.i" > "$TMP/i2a"
    wait "$_apid"
    irc=$(cat "$TMP/irc")
    aexit=$(cat "$TMP/aexit")
}

# pair "INITIATOR OPTIONS" "ACCEPTOR OPTIONS": `negoex initiate --trace` with
# `negoex accept --trace` through fifo_pair, files $TMP/pair.{i,a,ierr,aerr}.
# $arc is 0 when the acceptor printed STATUS COMPLETE, else 1.
pair() {
    fifo_pair "$TMP/pair" "$NEGOEX initiate --trace $1" "$NEGOEX accept --trace $2"
    arc=1
    grep -q '^STATUS COMPLETE' "$TMP/pair.a" && arc=0
}

# run ARGS...: runs the tool; stdout/stderr in $TMP/out, $TMP/err, status in $rc.
run() {
    "$NEGOEX" "$@" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

# run_stdin FILE ARGS...: the same with FILE on stdin.
run_stdin() {
    in=$1
    shift
    "$NEGOEX" "$@" <"$in" >"$TMP/out" 2>"$TMP/err"
    rc=$?
}

expect_rc() { # what expected
    if [ "$rc" -eq "$2" ]; then ok; else bad "$1: exit $rc, expected $2; stderr: $(head -c 300 "$TMP/err")"; fi
}

expect_no_stdout() { # what
    if [ -s "$TMP/out" ]; then bad "$1: unexpected stdout: $(head -c 200 "$TMP/out")"; else ok; fi
}

expect_stdout_has() { # what fixed-string
    if grep -qF -- "$2" "$TMP/out"; then ok; else bad "$1: stdout lacks '$2'"; fi
}

expect_stderr_has() { # what fixed-string
    if grep -qF -- "$2" "$TMP/err"; then ok; else bad "$1: stderr lacks '$2': $(head -c 300 "$TMP/err")"; fi
}

# The one error line a malformed token must give, and nothing on stdout.
expect_codec_error() { # what ERROR_NAME field offset
    n=$(wc -l <"$TMP/err")
    line=$(cat "$TMP/err")
    want_re="^negoex: error: $2: .+ in $3 \\(offset $4\\)\$"
    if [ "$n" -eq 1 ] && printf '%s\n' "$line" | grep -qE -- "$want_re"; then
        ok
    else
        bad "$1: stderr '$line' does not match '$want_re' (one line)"
    fi
    expect_no_stdout "$1"
}

expect_valid_json() { # what
    if "$PY" -m json.tool "$TMP/out" >/dev/null 2>"$TMP/pyerr"; then ok; else bad "$1: invalid JSON: $(cat "$TMP/pyerr")"; fi
}

# expect_json what PY-EXPR expected: EXPR sees the document as d; strings
# compare as is, anything else as its JSON text.
expect_json() {
    got=$("$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v))
' "$TMP/out" "$2" 2>&1)
    if [ "$got" = "$3" ]; then ok; else bad "$1: $2 = '$got', expected '$3'"; fi
}

expect_same_stdout() { # what reference-file
    if cmp -s "$TMP/out" "$2"; then ok; else bad "$1: stdout differs from $(basename "$2")"; fi
}

to_hex() { # file: plain lowercase hex, 60 digits a line (xxd -p when present)
    if command -v xxd >/dev/null 2>&1; then
        xxd -p "$1"
    else
        od -An -v -tx1 "$1" | tr -d ' \n' | fold -w 60
        echo
    fi
}

from_hex() { # hex-string > file
    "$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(sys.argv[1]))' "$1"
}
