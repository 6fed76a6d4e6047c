#!/bin/sh
# negoex demo / initiate / accept, driven as a user would.
# usage: sh test_converse.sh NEGOEX VECTORS
set -u
. "$(dirname "$0")/common.sh"
cli_args "$@"

# demo --scheme test: both roles in process, for several flows (the default
# demo is PKU2U: tests/cli/test_pku2u_cli.sh)
for args in "" "--hops 3" "--hops 4 --key always" "--hops 3 --key init-always" "--no-optimistic" "--meta none"; do
  # shellcheck disable=SC2086
  "$NEGOEX" demo --scheme test $args > "$TMP/demo.out" 2>&1
  check "demo $args exits 0" test $? -eq 0
  check "demo $args completes" grep -q '^COMPLETE: SPNEGO -> NEGOEX, conversation' "$TMP/demo.out"
  # shellcheck disable=SC2086
  "$NEGOEX" demo --scheme test --raw $args > "$TMP/demo.out" 2>&1
  check "demo --raw $args completes" grep -q '^COMPLETE: conversation' "$TMP/demo.out"
done
"$NEGOEX" demo --scheme test > "$TMP/spnego.out"
check "demo's first token is a negTokenInit offering NEGOEX" grep -q '^initiator -> acceptor 469 bytes: SPNEGO negTokenInit \[NEGOEX\] | INITIATOR_NEGO\[0\]' "$TMP/spnego.out"
check "demo's acceptor completes with accept-completed" grep -q '^acceptor -> initiator 385 bytes: SPNEGO negTokenResp accept-completed mech=NEGOEX' "$TMP/spnego.out"
# Windows' mechanism order with NEGOEX third: request-mic, then MICs both ways (nxtoy can make them)
"$NEGOEX" demo --scheme nxtoy --offer 1.2.840.48018.1.2.2 --offer 1.2.840.113554.1.2.2 --negoex-position 2 > "$TMP/mic.out"
check "NEGOEX third completes" test $? -eq 0
check "NEGOEX third: request-mic" grep -q 'SPNEGO negTokenResp request-mic mech=NEGOEX' "$TMP/mic.out"
check "NEGOEX third: MICs checked" grep -q 'mechListMICs checked' "$TMP/mic.out"
check "NEGOEX third: the list names Windows' mechanisms" grep -q 'negTokenInit \[MS-Kerberos Kerberos NEGOEX\]' "$TMP/mic.out"
"$NEGOEX" demo --scheme nxtoy --force-mic > "$TMP/force.out"
check "forced MIC: the last two tokens carry one" test "$(grep -c 'mechListMIC 12 bytes' "$TMP/force.out")" -eq 2
"$NEGOEX" demo --scheme test --offer 1.2.840.113554.1.2.2 --negoex-position 1 > "$TMP/nomic.out"
check "MIC required, test scheme cannot: fails" test $? -eq 1
check "MIC required, test scheme cannot: says so" grep -q 'acceptor failed: SPNEGO_MIC_UNSUPPORTED' "$TMP/nomic.out"
"$NEGOEX" demo --scheme test --hops 3 --key init-always > "$TMP/alert.out"
check "init-always sends an ALERT pulse" grep -q 'ALERT\[9\]' "$TMP/alert.out"
"$NEGOEX" demo --scheme test --key never > "$TMP/never.out"
check "keys never fails" test $? -eq 1
check "keys never says NO_KEY" grep -q 'NO_KEY' "$TMP/never.out"
"$NEGOEX" demo --scheme test --trace > "$TMP/trace.out" 2> "$TMP/trace.err"
check "trace lines on stderr" grep -q '^initiator: sending \[0\]INITIATOR_NEGO: c0a28569-66ac-0000-0000-000000000000 d1b08469-2ca8-0000-0000-000000000000' "$TMP/trace.err"
check "trace counts 9 messages each way" test "$(grep -c 'sending \[' "$TMP/trace.err")" -eq 9
# test-scheme options without --scheme select the test scheme; mixing them with PKU2U ones is refused
"$NEGOEX" demo --hops 2 > "$TMP/implied.out"
check "demo --hops 2 runs the test scheme" grep -q '^COMPLETE: SPNEGO -> NEGOEX, conversation .*, scheme c0a28569-66ac-0000-0000-000000000000' "$TMP/implied.out"
"$NEGOEX" demo --hops 2 --dh-group 14 > /dev/null 2> "$TMP/mix.err"
check "test and PKU2U options together: usage error" test $? -eq 2
check "test and PKU2U options together: says which" grep -q 'hops is a test-scheme option and --dh-group a PKU2U one' "$TMP/mix.err"
"$NEGOEX" demo --scheme pku2u --hops 2 > /dev/null 2> "$TMP/mix.err"
check "--hops with --scheme pku2u is refused" grep -q 'hops is an option of the test scheme, not of pku2u' "$TMP/mix.err"

# initiate | accept over the line protocol, wired through two fifos
# (fifo_pair, common.sh: what the initiator sent in $TMP/pair.i)
fifo_pair "$TMP/pair" "$NEGOEX initiate --raw --hops 3" "$NEGOEX accept --raw --hops 3"
check "accept exits 0 (complete)" test "$aexit" = 0
check "initiator printed STATUS COMPLETE" grep -q '^STATUS COMPLETE' "$TMP/pair.i"
check "initiator's first line is a TOKEN" sh -c "head -n 1 '$TMP/pair.i' | grep -q '^TOKEN 4e45474f45585453'"

# the same over SPNEGO (the default), then over HTTP Negotiate lines
fifo_pair "$TMP/pair" "$NEGOEX initiate --hops 2" "$NEGOEX accept --hops 2"
check "SPNEGO accept exits 0" test "$aexit" = 0
check "SPNEGO initiator completes" grep -q '^STATUS COMPLETE' "$TMP/pair.i"
check "SPNEGO first token is GSS-framed" sh -c "head -n 1 '$TMP/pair.i' | grep -q '^TOKEN 60820175'"
fifo_pair "$TMP/pair" "$NEGOEX initiate --http --scheme nxtoy --force-mic" "$NEGOEX accept --http --scheme nxtoy --force-mic"
check "HTTP accept exits 0" test "$aexit" = 0
check "HTTP initiator completes" grep -q '^STATUS COMPLETE' "$TMP/pair.i"
check "HTTP first token is a Negotiate line" sh -c "head -n 1 '$TMP/pair.i' | grep -q '^Negotiate YII'"
# an HTTP header line is accepted as input, and a bad SPNEGO token is refused precisely
first=$("$NEGOEX" initiate --http 2>/dev/null < /dev/null | head -n 1)
printf 'Authorization: %s\r\n' "$first" | "$NEGOEX" accept --http > "$TMP/hdr.out"
check "Authorization header accepted" grep -q '^Negotiate oY' "$TMP/hdr.out"
printf 'TOKEN a1073005a0030a0102ff\n' | "$NEGOEX" accept > "$TMP/bad.out"
check "trailing byte exits 1" test $? -eq 1
check "trailing byte reports DER_TRAILING at 9" grep -q '^STATUS ERROR DER_TRAILING: .* offset 9)' "$TMP/bad.out"
printf 'TOKEN a1073005a0030a0102\n' | "$NEGOEX" accept > "$TMP/bad.out"
check "a NegTokenResp cannot start" grep -q '^STATUS ERROR SPNEGO_UNEXPECTED' "$TMP/bad.out"

# the acceptor refuses garbage with a precise status line
printf 'TOKEN 4e45474f\n' | "$NEGOEX" accept --raw > "$TMP/bad.out"
check "garbage token exits 1" test $? -eq 1
check "garbage token reports TRUNCATED_HEADER" grep -q '^STATUS ERROR TRUNCATED_HEADER' "$TMP/bad.out"
"$NEGOEX" initiate --raw --http > /dev/null 2>&1
check "--raw with --http is a usage error" test $? -eq 2
"$NEGOEX" bench handshake --iterations 20 > "$TMP/bench.out"
check "bench handshake prints its figures" grep -q '^allocs_per_handshake ' "$TMP/bench.out"
"$NEGOEX" bench codec --iterations 20 > "$TMP/benchc.out"
check "bench codec prints its figures" grep -q '^parse_msgs_per_sec ' "$TMP/benchc.out"

echo "$pass passed, $fail failed"
test "$fail" -eq 0
