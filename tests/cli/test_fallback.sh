#!/bin/sh
# SPNEGO fallback over the line protocol (docs/spnego-fallback.md): an
# acceptor with only the NTLM-like app mechanism (accept --no-negoex
# --app-mech ntlmtoy) against an initiator shaped like an Entra-joined
# Windows 11 client (NEGOEX first with its optimistic token, Windows'
# Kerberos OIDs listed, ntlmtoy as NTLM); the acceptor's choice between
# NEGOEX and ntlmtoy; a wrong secret; usage errors.
# usage: sh test_fallback.sh NEGOEX VECTORS
set -u
. "$(dirname "$0")/common.sh"
cli_args "$@"

WIN="--offer 1.2.840.48018.1.2.2 --offer 1.2.840.113554.1.2.2 --offer 1.3.6.1.5.2.5 --offer 1.2.840.113554.1.2.2.3 --offer 1.3.6.1.4.1.311.2.2.10"

# pair (common.sh): logs in $TMP/pair.i, $TMP/pair.a, traces in
# $TMP/pair.ierr, $TMP/pair.aerr, exit codes in $irc / $arc.

# 1. Windows-11-shaped initiator (test scheme under NEGOEX, first, optimistic)
#    to an acceptor that has only ntlmtoy: declined, falls back, MICs checked
pair "$WIN --app-mech ntlmtoy --app-secret s3cret" "--no-negoex --app-mech ntlmtoy --app-secret s3cret"
check "fallback: initiator completes" test "$irc" = 0
check "fallback: acceptor completes" test "$arc" = 0
check "fallback: Windows' list, NEGOEX first with a token" \
  grep -q 'SPNEGO received negTokenInit (framed) mechTypes=NEGOEX,MS-Kerberos,Kerberos,IAKerb,Kerberos-U2U,NTLM mechToken=' "$TMP/pair.aerr"
check "fallback: declined with request-mic + NTLM, no responseToken" \
  grep -q '^acceptor: SPNEGO sent negTokenResp negState=request-mic supportedMech=NTLM$' "$TMP/pair.aerr"
check "fallback: the initiator's MIC rides with its last token" \
  grep -q 'initiator: SPNEGO sent negTokenResp negState=accept-incomplete responseToken=[0-9]* mechListMIC=16' "$TMP/pair.ierr"
check "fallback: the acceptor's MIC with accept-completed" \
  grep -q 'acceptor: SPNEGO sent negTokenResp negState=accept-completed mechListMIC=16' "$TMP/pair.aerr"
check "fallback: the initiator sends 3 tokens" \
  test "$(grep -c '^TOKEN [0-9a-f]' "$TMP/pair.i")" -eq 3

# 2. The same with PKU2U under NEGOEX (Windows' 3-round-trip form: its first
#    token is NEGO + META, as an Entra-joined client sends it)
"$NEGOEX" certs --out "$TMP/pki" > /dev/null 2>&1
check "certs made" test -r "$TMP/pki/user.pem"
pair "--scheme pku2u --cert $TMP/pki/user.pem --key $TMP/pki/user.key --ca $TMP/pki/ca.pem --target TERMSRV/localhost $WIN --app-mech ntlmtoy --app-secret s3cret" \
  "--no-negoex --app-mech ntlmtoy --app-secret s3cret"
check "pku2u client falls back: initiator completes" test "$irc" = 0
check "pku2u client falls back: acceptor completes" test "$arc" = 0
check "pku2u client: INITIATOR_NEGO + META went out" grep -q 'sending \[1\]INITIATOR_META_DATA: 0d53335c' "$TMP/pair.ierr"
check "pku2u client: declined for NTLM" grep -q 'negState=request-mic supportedMech=NTLM$' "$TMP/pair.aerr"

# 3. wrong secret: the acceptor fails and sends a reject
pair "$WIN --app-mech ntlmtoy --app-secret s3cret" "--no-negoex --app-mech ntlmtoy --app-secret other"
check "wrong secret: acceptor says SPNEGO_MECH_AUTH" grep -q '^STATUS ERROR SPNEGO_MECH_AUTH' "$TMP/pair.a"
check "wrong secret: acceptor sends the reject" grep -q '^TOKEN a1073005a0030a0102$' "$TMP/pair.a"
check "wrong secret: initiator rejected" grep -q '^STATUS ERROR SPNEGO_REJECTED' "$TMP/pair.i"
check "wrong secret: initiator exits 1" test "$irc" = 1

# 4. an acceptor with NEGOEX and ntlmtoy: NEGOEX when the scheme is shared,
#    ntlmtoy when not
pair "--mech-oid 2.25.1414534758 $WIN --app-mech ntlmtoy --app-secret s3cret" \
  "--mech-oid 2.25.1414534758 --app-mech ntlmtoy --app-secret s3cret"
check "shared scheme: both complete" test "$irc$arc" = 00
check "shared scheme: NEGOEX taken with the optimistic token" \
  grep -q 'acceptor: SPNEGO sent negTokenResp negState=accept-completed supportedMech=NEGOEX responseToken' "$TMP/pair.aerr"
pair "--mech-oid 2.25.1414534758 $WIN --app-mech ntlmtoy --app-secret s3cret" \
  "--mech-oid 2.25.1175737388 --app-mech ntlmtoy --app-secret s3cret"
check "no shared scheme: both complete" test "$irc$arc" = 00
check "no shared scheme: ntlmtoy" grep -q 'negState=request-mic supportedMech=NTLM$' "$TMP/pair.aerr"
# the acceptor's own order puts ntlmtoy first; by the initiator's order NEGOEX
pair "--mech-oid 2.25.1414534758 $WIN --app-mech ntlmtoy --app-secret s3cret" \
  "--mech-oid 2.25.1414534758 --negoex-position 1 --app-mech ntlmtoy --app-secret s3cret"
check "own order: ntlmtoy before NEGOEX" grep -q 'negState=request-mic supportedMech=NTLM$' "$TMP/pair.aerr"
pair "--mech-oid 2.25.1414534758 $WIN --app-mech ntlmtoy --app-secret s3cret" \
  "--mech-oid 2.25.1414534758 --negoex-position 1 --app-policy initiator --app-mech ntlmtoy --app-secret s3cret"
check "initiator order: NEGOEX" grep -q 'supportedMech=NEGOEX' "$TMP/pair.aerr"
check "initiator order: complete" test "$irc$arc" = 00

# 5. another OID for ntlmtoy; an acceptor that has not got it rejects
pair "--no-negoex --app-mech ntlmtoy:1.3.6.1.4.1.311.2.2.99 --app-secret s3cret" \
  "--no-negoex --app-mech ntlmtoy --app-secret s3cret"
check "unconfigured mech: acceptor says SPNEGO_NO_COMMON_MECH" grep -q '^STATUS ERROR SPNEGO_NO_COMMON_MECH' "$TMP/pair.a"
pair "--no-negoex --app-mech ntlmtoy:1.3.6.1.4.1.311.2.2.99 --app-secret s3cret" \
  "--no-negoex --app-mech ntlmtoy:1.3.6.1.4.1.311.2.2.99 --app-secret s3cret"
check "own OID both sides: complete, optimistic token taken" test "$irc$arc" = 00
check "own OID: no MIC needed" sh -c "! grep -q mechListMIC '$TMP/pair.aerr'"

# 6. usage errors
"$NEGOEX" accept --app-mech ntlmtoy < /dev/null > /dev/null 2> "$TMP/u.err"
check "--app-mech without --app-secret: exit 2" test $? -eq 2
check "--app-mech without --app-secret: says so" grep -q 'needs --app-secret' "$TMP/u.err"
"$NEGOEX" accept --no-negoex < /dev/null > /dev/null 2> "$TMP/u.err"
check "--no-negoex alone: exit 2" test $? -eq 2
"$NEGOEX" accept --app-mech ntlm --app-secret x < /dev/null > /dev/null 2> "$TMP/u.err"
check "--app-mech other than ntlmtoy: exit 2" test $? -eq 2
"$NEGOEX" accept --raw --app-mech ntlmtoy --app-secret x < /dev/null > /dev/null 2> "$TMP/u.err"
check "--app-mech with --raw: exit 2" test $? -eq 2
"$NEGOEX" accept --app-policy best < /dev/null > /dev/null 2> "$TMP/u.err"
check "--app-policy best: exit 2" test $? -eq 2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
