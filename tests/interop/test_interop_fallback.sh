#!/bin/sh
# SPNEGO fallback against MIT krb5 (docs/spnego-fallback.md): MIT's SPNEGO
# initiator (mit_peer) offers NEGOEX (the `test` scheme through the
# negoex_gss module) and plain mechanisms (the module's ntlmtoy, which MIT
# lists itself: gssspi_query_mechanism_info fails for it), to a libnegoex
# acceptor (`negoex accept`) that picks another mechanism than MIT's first;
# MIT must follow it, and the mechListMICs go both ways.
#
# usage: sh test_interop_fallback.sh NEGOEX MIT_PEER MODULE_SO
#   MIT_PEER / MODULE_SO `-`: only the libnegoex baseline runs.
# INTEROP_KEEP=DIR keeps the logs. Prints `N passed, M failed`.
set -u
if [ $# -ne 3 ]; then
    echo "usage: sh $0 NEGOEX MIT_PEER MODULE_SO" >&2
    exit 2
fi
NEGOEX=$1
MIT_PEER=$2
MODULE=$3
. "$(dirname "$0")/common.sh"
interop_setup

M1=2.25.1414534758 # the test scheme's OIDs
M2=2.25.1175737388
NTLM=1.3.6.1.4.1.311.2.2.10
KLIKE=1.3.6.1.4.1.311.2.2.99 # a second ntlmtoy: a plain mech MIT lists before NEGOEX, as Kerberos would be
KRB5=1.2.840.113554.1.2.2

# MIT's mechanisms: the test scheme (NEGOEX) and ntlmtoy under two OIDs. The
# module reads its knobs from MIT's environment.
cat > "$TMP/mech.conf" <<EOF
negoextest1 $M1 $MODULE
klike $KLIKE $MODULE
ntlmtoy $NTLM $MODULE
EOF
export GSS_MECH_CONFIG="$TMP/mech.conf"
export KRB5_CONFIG=/dev/null
export KRB5CCNAME="FILE:$TMP/no-ccache"
export NEGOEX_NTLMTOY_OID="$NTLM $KLIKE"
export NEGOEX_NTLMTOY_SECRET=s3cret
export NEGOEX_GSS_TRACE=1

CHECK_SHOW=show # check (common.sh) shows the last lines after a failure
show() {
    for f in "$LOG.i" "$LOG.a" "$LOG.ierr" "$LOG.aerr"; do
        [ -s "$f" ] || continue
        echo "  --- $(basename "$f")" >&2
        tail -n 6 "$f" | cut -c1-160 | sed 's/^/  /' >&2
    done
}

# pair NAME "INITIATOR COMMAND" "ACCEPTOR COMMAND": one conversation over two
# fifos (fifo_pair, line protocol). Logs: $LOG.i / $LOG.a (stdout),
# $LOG.ierr / $LOG.aerr.
PAIR_TIMEOUT="timeout 60"
pair() {
    LOG=$LOGS/$1
    fifo_pair "$LOG" "$2" "$3"
}
completes() { # both sides printed STATUS COMPLETE
    grep -q '^STATUS COMPLETE' "$LOG.i" && grep -q '^STATUS COMPLETE' "$LOG.a"
}
acc_says() { grep -qF -- "$1" "$LOG.aerr"; }

NX_ONLY_NTLM="$NEGOEX accept --trace --no-negoex --app-mech ntlmtoy --app-secret s3cret"

# --- libnegoex baseline: a Windows-like libnegoex initiator ------------------
pair baseline "$NEGOEX initiate --trace --mech-oid $M1 --offer $KRB5 --offer $NTLM --app-mech ntlmtoy --app-secret s3cret" \
    "$NX_ONLY_NTLM"
check "baseline: libnegoex -> libnegoex completes through the fallback" completes
check "baseline: declined with request-mic + NTLM" acc_says "SPNEGO sent negTokenResp negState=request-mic supportedMech=NTLM"

if [ "$WITH_MIT" = 1 ]; then
    # 1. MIT's list as its mech config orders it: NEGOEX (first, optimistic
    #    NEGOEX token), then the plain mechs; the acceptor has only ntlmtoy.
    pair mit-negoex-first "$MIT_PEER initiate --mech $M1 --mech $NTLM" "$NX_ONLY_NTLM"
    check "MIT NEGOEX first -> ntlmtoy-only acceptor: both complete" completes
    check "MIT NEGOEX first: MIT lists NEGOEX then NTLM, with a NEGOEX token" \
        acc_says "SPNEGO received negTokenInit (framed) mechTypes=NEGOEX,NTLM mechToken="
    check "MIT NEGOEX first: declined, request-mic, no responseToken" \
        acc_says "SPNEGO sent negTokenResp negState=request-mic supportedMech=NTLM"
    check "MIT NEGOEX first: MIT falls back and sends NEGOTIATE" \
        acc_says "SPNEGO received negTokenResp negState=accept-incomplete responseToken=8"
    check "MIT NEGOEX first: MIT's mechListMIC came with AUTHENTICATE (and verified)" \
        grep -qE 'SPNEGO received negTokenResp negState=accept-incomplete responseToken=[0-9]+ mechListMIC=16' "$LOG.aerr"
    check "MIT NEGOEX first: our MIC with accept-completed, MIT checked it" \
        acc_says "SPNEGO sent negTokenResp negState=accept-completed mechListMIC=16"
    check "MIT NEGOEX first: MIT established on NTLM's OID with integrity" \
        grep -q "mit_peer: established, flags 0x2., mech $NTLM" "$LOG.ierr"

    # 2. The acceptor has NEGOEX too, but not MIT's scheme: ntlmtoy.
    pair mit-scheme-not-shared "$MIT_PEER initiate --mech $M1 --mech $NTLM" \
        "$NEGOEX accept --trace --mech-oid $M2 --app-mech ntlmtoy --app-secret s3cret"
    check "scheme not shared: both complete" completes
    check "scheme not shared: ntlmtoy chosen" acc_says "negState=request-mic supportedMech=NTLM"
    check "scheme not shared: MICs both ways" acc_says "negState=accept-completed mechListMIC=16"
    # ... and with the scheme shared, NEGOEX with MIT's optimistic token
    pair mit-scheme-shared "$MIT_PEER initiate --mech $M1 --mech $NTLM" \
        "$NEGOEX accept --trace --mech-oid $M1 --app-mech ntlmtoy --app-secret s3cret"
    check "scheme shared: both complete" completes
    check "scheme shared: NEGOEX" acc_says "negState=accept-completed supportedMech=NEGOEX responseToken="
    check "scheme shared: MIT established on the test mech" grep -q "mech $M1" "$LOG.ierr"

    # 3. A plain mechanism before NEGOEX (Kerberos' place in Windows' list):
    #    MIT's optimistic token is for it; the acceptor picks NTLM, third.
    pair mit-klike-first "$MIT_PEER initiate --mech $KLIKE --mech $M1 --mech $NTLM" "$NX_ONLY_NTLM"
    check "Kerberos-like first: both complete" completes
    check "Kerberos-like first: MIT's order kept (gss_set_neg_mechs)" \
        acc_says "SPNEGO received negTokenInit (framed) mechTypes=$KLIKE,NEGOEX,NTLM mechToken=8"
    check "Kerberos-like first: its optimistic token declined for NTLM" \
        acc_says "negState=request-mic supportedMech=NTLM"
    check "Kerberos-like first: MICs both ways" acc_says "negState=accept-completed mechListMIC=16"
    check "Kerberos-like first: MIT moved to NTLM" grep -q "mit_peer: established, flags 0x2., mech $NTLM" "$LOG.ierr"

    # 4. MIT's real Kerberos listed too: without credentials MIT leaves it out
    #    of its list (the conversation is the same as 1).
    pair mit-krb5 "$MIT_PEER initiate --mech $KRB5 --mech $M1 --mech $NTLM" "$NX_ONLY_NTLM"
    check "MIT with krb5 (no credentials): completes" completes
    check "MIT with krb5 (no credentials): MIT dropped Kerberos" \
        acc_says "mechTypes=NEGOEX,NTLM mechToken="

    # 5. NTLM first: the optimistic NEGOTIATE is taken, no MIC needed.
    pair mit-ntlm-first "$MIT_PEER initiate --mech $NTLM --mech $M1" "$NX_ONLY_NTLM"
    check "NTLM first: both complete" completes
    check "NTLM first: optimistic token taken" \
        acc_says "negState=accept-incomplete supportedMech=NTLM responseToken=24"
    check "NTLM first: no mechListMIC (first choice, RFC 4178 5)" sh -c "! grep -q mechListMIC '$LOG.aerr'"

    # 6. Wrong secret: the acceptor refuses MIT's AUTHENTICATE.
    pair mit-wrong-secret "$MIT_PEER initiate --mech $M1 --mech $NTLM" \
        "$NEGOEX accept --trace --no-negoex --app-mech ntlmtoy --app-secret other"
    check "wrong secret: acceptor SPNEGO_MECH_AUTH" grep -q '^STATUS ERROR SPNEGO_MECH_AUTH' "$LOG.a"
    check "wrong secret: MIT fails" grep -q '^STATUS ERROR' "$LOG.i"

    # 7. MIT as the acceptor (what MIT does, recorded): it takes NEGOEX blind
    #    when listed first and does not fall back when no scheme is shared.
    pair mit-acceptor "$NEGOEX initiate --trace --mech-oid $M2 --app-mech ntlmtoy --app-secret s3cret" \
        "$MIT_PEER accept"
    check "MIT acceptor: no fallback from NEGOEX (MIT's behaviour)" \
        grep -q 'No mutually supported NegoEx authentication schemes' "$LOG.a"
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
