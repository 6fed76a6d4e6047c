# Shared by the interop scripts (test_interop.sh, test_interop_pku2u.sh,
# test_interop_fallback.sh, test_http.sh): sourced after they set NEGOEX,
# MIT_PEER, MODULE and RELAY (test_interop_fallback.sh: no RELAY) from their
# arguments; test_http.sh takes only the CLI tests' part. POSIX sh.

# The python3 (PY), the scratch directory TMP (removed on exit), the
# counters, ok / bad / check and the fifo runner fifo_pair are the CLI
# tests' (tests/cli/common.sh).
. "$(dirname "$0")/../cli/common.sh"

# interop_setup: decides whether MIT takes part (WITH_MIT: 0 when MIT_PEER
# or MODULE is -), checks the programs, and sets LOGS (INTEROP_KEEP or
# TMP/logs) and ONLY (INTEROP_ONLY). Exits 2 on a missing program.
interop_setup() {
    WITH_MIT=1
    if [ "$MIT_PEER" = - ] || [ "$MODULE" = - ]; then
        WITH_MIT=0
    fi
    [ -x "$NEGOEX" ] || { echo "$0: $NEGOEX is not an executable" >&2; exit 2; }
    # RELAY: only the scripts that use relay.py set it
    if [ -n "${RELAY:-}" ]; then
        [ -r "$RELAY" ] || { echo "$0: cannot read $RELAY" >&2; exit 2; }
    fi
    if [ "$WITH_MIT" = 1 ]; then
        [ -x "$MIT_PEER" ] || { echo "$0: $MIT_PEER is not an executable" >&2; exit 2; }
        [ -r "$MODULE" ] || { echo "$0: cannot read $MODULE" >&2; exit 2; }
        case $MODULE in /*) ;; *) MODULE=$(pwd)/$MODULE ;; esac
    fi
    LOGS=${INTEROP_KEEP:-$TMP/logs}
    mkdir -p "$LOGS" || exit 2
    ONLY=${INTEROP_ONLY:-}
}

# relay IKIND AKIND LOG [RELAY_OPTION...]: one conversation through relay.py
# (its summary line in LOG.relay), IKIND / AKIND mit or nx, with the
# scenario's I_ENV / A_ENV (MIT knobs, only for an MIT side), I_MIT / A_MIT
# (mit_peer options), I_NX / A_NX (negoex options) and EXPECT (fail: relay
# --expect-fail). The option lists are split on purpose. Returns relay's
# exit status.
# shellcheck disable=SC2086
relay() {
    _ik=$1
    _ak=$2
    _log=$3
    shift 3
    set -- --log "$_log" "$@"
    [ "$EXPECT" = fail ] && set -- "$@" --expect-fail
    if [ "$_ik" = mit ]; then
        for kv in $I_ENV; do set -- "$@" --ienv "$kv"; done
    fi
    if [ "$_ak" = mit ]; then
        for kv in $A_ENV; do set -- "$@" --aenv "$kv"; done
    fi
    if [ "$_ik" = mit ]; then
        set -- "$@" -- "$MIT_PEER" initiate $I_MIT
    else
        set -- "$@" -- "$NEGOEX" initiate $I_NX
    fi
    if [ "$_ak" = mit ]; then
        set -- "$@" --- "$MIT_PEER" accept $A_MIT
    else
        set -- "$@" --- "$NEGOEX" accept $A_NX
    fi
    "$PY" "$RELAY" "$@" > "$_log.relay" 2>&1
}

# tokens_log DIR LOG: an MIT scenario's NN-i2a.bin / NN-a2i.bin files as a
# relay log (NN has a fixed width, so sorting gives the wire order).
tokens_log() {
    : > "$2"
    set +f
    for f in "$1"/[0-9]*-i2a.bin "$1"/[0-9]*-a2i.bin; do
        echo "$f"
    done | sort | while read -r f; do
        [ -s "$f" ] || continue
        dir=${f##*-}
        printf '%s %s\n' "${dir%.bin}" "$(od -An -v -tx1 "$f" | tr -d ' \n')" >> "$2"
    done
    set -f
}
