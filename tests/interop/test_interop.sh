#!/bin/sh
# Live NEGOEX interop with MIT krb5: libnegoex (`negoex initiate|accept`)
# against MIT's SPNEGO/NEGOEX (mit_peer, with the project's GSS module loaded
# as MIT's test mechanism under both test OIDs), in both directions, each
# conversation relayed by relay.py and its VERIFY checksums recomputed by
# verify_log.
#
# usage: sh test_interop.sh NEGOEX MIT_PEER MODULE_SO RELAY_PY VERIFY_LOG [VECTORS]
#   NEGOEX      the negoex tool (build/negoex)
#   MIT_PEER    tests/interop/mit_peer, or - to skip every MIT conversation
#   MODULE_SO   the GSS mechanism module (gss/negoex_gss.so), or - (likewise)
#   RELAY_PY    tests/interop/relay.py
#   VERIFY_LOG  the verify_log program
#   VECTORS     optional: the shared vectors directory; verify_log is first
#               checked on MIT's recorded conversations (vectors/mit/scenarios)
# Every scenario also runs libnegoex against itself (the baseline that shows
# the knobs and tools work); with MIT_PEER and MODULE_SO `-` only that runs.
# INTEROP_KEEP=DIR keeps the logs (relay log, .err files, verify_log output)
# in DIR (named after the scenario and the pair: hops-3.mit-nx.log); with
# INTEROP_ONLY=WORD only the conversations whose name has WORD run.
# Prints `N passed, M failed`; exits 1 if anything failed.
set -u
set -f # option lists are split on spaces, never globbed

if [ $# -ne 5 ] && [ $# -ne 6 ]; then
    echo "usage: sh $0 NEGOEX MIT_PEER MODULE_SO RELAY_PY VERIFY_LOG [VECTORS]" >&2
    exit 2
fi
NEGOEX=$1
MIT_PEER=$2
MODULE=$3
RELAY=$4
VERIFY=$5
VECTORS=${6:-}

[ -x "$VERIFY" ] || { echo "$0: $VERIFY is not an executable" >&2; exit 2; }
. "$(dirname "$0")/common.sh"
interop_setup

M1=2.25.1414534758 # the test mechanism's two OIDs; MIT's knobs name them
M2=2.25.1175737388 # by their last octet: 102 and 44
G1=c0a28569-66ac-0000-0000-000000000000 # their auth schemes
G2=d1b08469-2ca8-0000-0000-000000000000

# MIT loads the module through a mech config file; the module reads its
# knobs (HOPS, KEY, ..._FAIL, ..._NONE) from each process's environment.
cat > "$TMP/mech.conf" <<EOF
negoextest1 $M1 $MODULE
negoextest2 $M2 $MODULE
EOF
export GSS_MECH_CONFIG="$TMP/mech.conf"
export KRB5_CONFIG=/dev/null
export KRB5_TRACE=/dev/stderr # MIT's NEGOEX trace goes to LOG.*.err

# Shows what a failed conversation left behind.
show() { # log
    for f in "$1" "$1.initiator.err" "$1.acceptor.err" "$1.verify"; do
        [ -s "$f" ] || continue
        echo "  --- $(basename "$f") (last lines)" >&2
        tail -n 8 "$f" | cut -c1-200 | sed 's/^/  /' >&2
    done
}

# --- verify_log on MIT's recorded conversations --------------------------
# scenario_dir NN: the directory of MIT scenario NN (empty if none).
scenario_dir() {
    set +f
    for d in "$VECTORS/mit/scenarios/$1"-*; do
        [ -d "$d" ] && echo "$d" && break
    done
    set -f
}

if [ -n "$VECTORS" ] && [ -z "$ONLY" ]; then
    total=0
    # established conversations: every VERIFY checks, at least one
    for n in 01 02 03 04 05 06 08 09 10 11 15 17 18 19 20 22 23 24 25 27; do
        d=$(scenario_dir "$n")
        if [ -z "$d" ]; then bad "MIT vectors: no scenario $n in $VECTORS/mit/scenarios"; continue; fi
        tokens_log "$d" "$TMP/mit.log"
        if "$VERIFY" "$TMP/mit.log" > "$TMP/mit.out" 2>&1; then ok; else bad "verify_log on $(basename "$d"): $(tail -n 1 "$TMP/mit.out")"; fi
        total=$((total + $(grep -c ': ok (' "$TMP/mit.out")))
    done
    if [ "$total" -eq 45 ]; then ok; else bad "MIT vectors: $total VERIFYs checked in the established scenarios, expected 45"; fi
    # failed conversations: what VERIFYs there are check
    for n in 12 13 14 16 26; do
        d=$(scenario_dir "$n")
        [ -n "$d" ] || { bad "MIT vectors: no scenario $n"; continue; }
        tokens_log "$d" "$TMP/mit.log"
        if "$VERIFY" --allow-none "$TMP/mit.log" > "$TMP/mit.out" 2>&1; then ok; else bad "verify_log --allow-none on $(basename "$d"): $(tail -n 1 "$TMP/mit.out")"; fi
    done
    # nxtoy's keys are not the test mechanism's: its VERIFYs must not check
    d=$(scenario_dir 30)
    tokens_log "$d" "$TMP/mit.log"
    "$VERIFY" "$TMP/mit.log" > "$TMP/mit.out" 2>&1
    if [ $? -eq 1 ] && grep -q 'FAILED CHECKSUM_MISMATCH' "$TMP/mit.out"; then ok; else bad "verify_log accepted nxtoy's VERIFYs"; fi
    # one flipped checksum bit
    d=$(scenario_dir 03)
    tokens_log "$d" "$TMP/mit.log"
    last=$(tail -n 1 "$TMP/mit.log")
    case $last in *0) flip=1 ;; *) flip=0 ;; esac
    { sed '$d' "$TMP/mit.log"; printf '%s%s\n' "${last%?}" "$flip"; } > "$TMP/flip.log"
    "$VERIFY" "$TMP/flip.log" > "$TMP/mit.out" 2>&1
    if [ $? -eq 1 ] && grep -q '^seq 10 from acceptor: FAILED CHECKSUM_MISMATCH' "$TMP/mit.out"; then ok; else bad "verify_log missed a flipped checksum bit: $(cat "$TMP/mit.out")"; fi
fi

# --- live conversations ----------------------------------------------------
# A scenario is set in these variables, then `scenario NAME` runs it:
#   I_ENV / A_ENV  MIT knobs (KEY=VAL ...) for an MIT initiator / acceptor
#   I_MIT / A_MIT  mit_peer options for that role
#   I_NX / A_NX    negoex options for that role
#   EXPECT         ok | fail  (fail: both sides must fail cleanly)
#   CHECK          extra check on verify_log -v output: alert | nometa | noopt |
#                  scheme=GUID (the last VERIFY is for that scheme) | -
#   MITMIT         1: also MIT against MIT (module sanity check)
new_scenario() {
    I_ENV='' A_ENV='' I_MIT='' A_MIT='' I_NX='' A_NX='' EXPECT=ok CHECK=- MITMIT=0
}

# conversation NAME IKIND AKIND: one relayed conversation and its checks.
# IKIND/AKIND: mit or nx. The option lists are split on purpose.
# shellcheck disable=SC2086
conversation() {
    name=$1
    ikind=$2
    akind=$3
    case $name in *"$ONLY"*) ;; *) return 0 ;; esac
    log=$LOGS/$(echo "$name" | sed 's/:.*//' | tr -c 'A-Za-z0-9\n' '-' | tr -s '-').$ikind-$akind.log
    relay "$ikind" "$akind" "$log"
    rrc=$?
    if [ "$rrc" -eq 0 ]; then
        ok
    else
        bad "$name: relay: $(cat "$log.relay")"
        show "$log"
    fi
    vopt=-v
    [ "$EXPECT" = fail ] && vopt="-v --allow-none"
    "$VERIFY" $vopt "$log" > "$log.verify" 2>&1
    vrc=$?
    if [ "$vrc" -eq 0 ]; then
        ok
    else
        bad "$name: verify_log: $(grep -v '^[ia]2[ia] token' "$log.verify" | grep -v ': ok' | head -n 3)"
        [ "$rrc" -eq 0 ] && show "$log"
    fi
    case $CHECK in
    alert)
        if grep -q ': ALERT (.*pulse reason 1' "$log.verify"; then ok; else bad "$name: no ALERT pulse on the wire"; fi ;;
    nometa)
        if grep -q 'META_DATA' "$log.verify"; then bad "$name: META_DATA sent"; else ok; fi
        if grep -q 'INITIATOR_NEGO' "$log.verify"; then ok; else bad "$name: no INITIATOR_NEGO in the log"; fi ;;
    noopt)
        first=$(grep -m 1 '^i2a token 1:' "$log.verify")
        case $first in
        *INITIATOR_NEGO*AP_REQUEST*) bad "$name: the first token has an AP_REQUEST: $first" ;;
        *INITIATOR_NEGO*) ok ;;
        *) bad "$name: first token: '$first'" ;;
        esac ;;
    scheme=*)
        last=$(grep ': ok (scheme ' "$log.verify" | tail -n 1)
        case $last in
        *"scheme ${CHECK#scheme=},"*) ok ;;
        *) bad "$name: the last VERIFY is not for ${CHECK#scheme=}: '$last'" ;;
        esac ;;
    esac
}

scenario() {
    if [ "$WITH_MIT" = 1 ]; then
        conversation "$1: MIT -> libnegoex" mit nx
        conversation "$1: libnegoex -> MIT" nx mit
        [ "$MITMIT" = 1 ] && conversation "$1: MIT -> MIT" mit mit
    fi
    conversation "$1: libnegoex -> libnegoex" nx nx
}

for n in 1 2 3 4 5; do
    new_scenario
    I_ENV="HOPS=$n" A_ENV="HOPS=$n" I_NX="--hops $n" A_NX="--hops $n"
    case $n in 1 | 3) MITMIT=1 ;; esac
    scenario "hops $n"
done

for n in 3 4; do
    new_scenario
    I_ENV="HOPS=$n KEY=always" A_ENV="HOPS=$n KEY=always"
    I_NX="--hops $n --key always" A_NX="--hops $n --key always"
    scenario "early keys both sides, hops $n"
done

# One side has its key early: the other cannot check that VERIFY yet and
# answers with an ALERT pulse (MIT scenarios 17 and 18).
new_scenario
I_ENV="HOPS=3 KEY=init-always" A_ENV="HOPS=3 KEY=init-always"
I_NX="--hops 3 --key init-always" A_NX="--hops 3 --key init-always"
CHECK=alert
scenario "early key initiator only, hops 3"
new_scenario
I_ENV="HOPS=4 KEY=accept-always" A_ENV="HOPS=4 KEY=accept-always"
I_NX="--hops 4 --key accept-always" A_NX="--hops 4 --key accept-always"
CHECK=alert
scenario "early key acceptor only, hops 4"

new_scenario
I_ENV="INIT_QUERY_NONE=102" A_ENV="ACCEPT_QUERY_NONE=102"
I_MIT="--mech $M1" A_MIT="--mech $M1"
I_NX="--mech-oid $M1 --meta none" A_NX="--mech-oid $M1 --meta none"
CHECK=nometa
scenario "no metadata, one scheme"

new_scenario
I_ENV="NEGOEX_NO_OPTIMISTIC_TOKEN=1" I_NX="--no-optimistic"
CHECK=noopt
scenario "no optimistic token"

# Each side prefers another scheme (MIT scenario 25 and its mirror): the
# acceptor's preference wins.
new_scenario
I_MIT="--mech $M2 --mech $M1" A_MIT="--mech $M1 --mech $M2"
I_NX="--mech-oid $M2 --mech-oid $M1" A_NX="--mech-oid $M1 --mech-oid $M2"
CHECK=scheme=$G1
scenario "initiator prefers scheme 2, acceptor scheme 1"
new_scenario
I_MIT="--mech $M1 --mech $M2" A_MIT="--mech $M2 --mech $M1"
I_NX="--mech-oid $M1 --mech-oid $M2" A_NX="--mech-oid $M2 --mech-oid $M1"
CHECK=scheme=$G2
scenario "initiator prefers scheme 1, acceptor scheme 2"

new_scenario
I_ENV="HOPS=2" A_ENV="HOPS=2" I_NX="--hops 2"
A_MIT="--mech $M2" A_NX="--hops 2 --mech-oid $M2"
CHECK=scheme=$G2
scenario "acceptor supports only the second scheme, hops 2"

new_scenario
I_MIT="--mech $M1" A_MIT="--mech $M2" I_NX="--mech-oid $M1" A_NX="--mech-oid $M2"
EXPECT=fail
scenario "no common scheme"

# The acceptor's mechanism fails in its step (MIT scenario 16).
new_scenario
I_ENV="HOPS=2" A_ENV="HOPS=2 ACCEPT_FAIL=102" I_NX="--hops 2" A_NX="--hops 2 --fail-step $M1"
EXPECT=fail
scenario "acceptor mechanism fails, hops 2"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
