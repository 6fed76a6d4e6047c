#!/bin/sh
# MS-SPNG rev 21.0 over the line protocol (docs/spnego-late-fallback.md):
# Late Fallback (ntlmtoy selected, the acceptor does not know the user and
# fails retryably, the retry with NEGOEX completes; MICs over every list)
# and fragments (--fragment-size, each fragment answered by an empty token),
# initiate <-> accept through two fifos.
# usage: sh test_late_fallback.sh NEGOEX VECTORS
set -u
. "$(dirname "$0")/common.sh"
cli_args "$@"

tokens() { grep -c '^TOKEN [0-9a-f]' "$1"; }
empties() { grep -c '^TOKEN -$' "$1"; }

TOY="--scheme nxtoy --app-mech ntlmtoy --app-secret s3cret"

# 1. Late Fallback retry: ntlmtoy (initiator's first) refused retryably,
#    NEGOEX (nxtoy) takes over on the same SPNEGO context
pair "$TOY --negoex-position 1 --app-user bob --late-fallback" \
  "$TOY --app-user alice --app-retry --app-policy initiator --late-fallback"
check "lf retry: initiator completes" test "$irc" = 0
check "lf retry: acceptor completes" test "$arc" = 0
check "lf retry: Late Fallback OID listed" grep -q 'mechTypes=NTLM,NEGOEX,Negotiate-Late-Fallback' "$TMP/pair.aerr"
check "lf retry: the retry reject names what is left" grep -q "acceptor: SPNEGO sent negTokenResp negState=reject supportedMechs=1" "$TMP/pair.aerr"
check "lf retry: the new NegTokenInit lists NEGOEX" \
  grep -q 'acceptor: SPNEGO received negTokenInit (framed) mechTypes=NEGOEX mechToken=' "$TMP/pair.aerr"
check "lf retry: MIC at the end" grep -q 'accept-completed mechListMIC=' "$TMP/pair.aerr"
check "lf retry: initiator sends 4 tokens" test "$(tokens "$TMP/pair.i")" -eq 4
check "lf retry: acceptor sends 4 tokens" test "$(tokens "$TMP/pair.a")" -eq 4

# 2. the same without Late Fallback on the acceptor: the retryable failure ends it
pair "$TOY --negoex-position 1 --app-user bob --late-fallback" \
  "$TOY --app-user alice --app-retry --app-policy initiator"
check "lf one side: acceptor fails retryably, no retry" grep -q '^STATUS ERROR SPNEGO_MECH_RETRY' "$TMP/pair.a"
check "lf one side: initiator rejected" test "$irc" = 1

# 3. fragments both ways (PKU2U: tokens of 2-3 KB), 1000-byte pieces
"$NEGOEX" certs --out "$TMP/pki" > /dev/null 2>&1
PK="--scheme pku2u --ca $TMP/pki/ca.pem"
pair "$PK --cert $TMP/pki/user.pem --key $TMP/pki/user.key --target TERMSRV/localhost --fragment-size 1000" \
  "$PK --cert $TMP/pki/device.pem --key $TMP/pki/device.key --fragment-size 1000"
check "frag pku2u: initiator completes" test "$irc" = 0
check "frag pku2u: acceptor completes" test "$arc" = 0
ni=$(tokens "$TMP/pair.i"); na=$(tokens "$TMP/pair.a")
check "frag pku2u: fragments went out ($ni/$na lines)" test "$ni" -gt 3 -a "$na" -gt 3
check "frag pku2u: every fragment line at most 1000 bytes" \
  sh -c "! grep '^TOKEN [0-9a-f]' '$TMP/pair.i' '$TMP/pair.a' | awk '{ if (length(\$2) > 2000) exit 0; } END { exit 1 }'"
check "frag pku2u: acknowledgements" test "$(empties "$TMP/pair.a")" -gt 0 -a "$(empties "$TMP/pair.i")" -gt 0

# 4. fragments of 8 bytes (64 fragments at most per token by default) with Late Fallback on the test mechanisms: the
#    number of lines is the sum of ceil(token / 8) per token (compared with
#    the whole-token run)
pair "$TOY --late-fallback" "$TOY --late-fallback"
check "whole: both complete" test "$irc$arc" = 00
whole_i=$(tokens "$TMP/pair.i"); whole_a=$(tokens "$TMP/pair.a")
expect_i=$(grep '^TOKEN [0-9a-f]' "$TMP/pair.i" | awk '{ n += int((length($2) / 2 + 7) / 8) } END { print n }')
expect_a=$(grep '^TOKEN [0-9a-f]' "$TMP/pair.a" | awk '{ n += int((length($2) / 2 + 7) / 8) } END { print n }')
pair "$TOY --late-fallback --fragment-size 8" "$TOY --late-fallback --fragment-size 8"
check "frag 8: both complete" test "$irc$arc" = 00
check "frag 8: initiator lines ($(tokens "$TMP/pair.i") = $expect_i from $whole_i tokens)" test "$(tokens "$TMP/pair.i")" -eq "$expect_i"
check "frag 8: acceptor lines ($(tokens "$TMP/pair.a") = $expect_a from $whole_a tokens)" test "$(tokens "$TMP/pair.a")" -eq "$expect_a"

# 5. reassembly is opt-in: an acceptor without --fragment-size takes the
#    first fragment for a truncated token and fails; the initiator fails too
pair "$TOY --fragment-size 8" "$TOY"
check "frag to a non-fragmenting acceptor: acceptor fails" test "$arc" = 1
check "frag to a non-fragmenting acceptor: initiator fails" test "$irc" != 0
check "frag to a non-fragmenting acceptor: DER_TRUNCATED named" grep -q 'DER_TRUNCATED\|truncated' "$TMP/pair.a" "$TMP/pair.aerr"

# 6. usage
check "fragment size under 6 refused" sh -c "! '$NEGOEX' initiate --fragment-size 5 < /dev/null > /dev/null 2>&1"

echo "test_late_fallback: $pass passed, $fail failed"
test "$fail" = 0
