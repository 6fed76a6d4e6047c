#!/bin/sh
# negoex verify-check on every MIT conversation of the vectors that has a
# VERIFY: each must match, initiator VERIFYs with key usage 25 and
# acceptor ones with 23, over the whole transcript before them ("all"), with
# the key of the side that sent it. Then the input forms (relay log, bare
# hex lines, base64, Negotiate headers, bare NEGOEX), a flipped bit and a
# wrong key (no match, exit 1), the JSON and the usage errors (exit 2).
# usage: sh test_verify_check.sh NEGOEX VECTORS
set -u
. "$(dirname "$0")/common.sh"
cli_args "$@"
V=$VEC/mit

K1=0100000000000000000000000000000000000000000000000000000000000000 # MIT's test mechanism:
K0=0000000000000000000000000000000000000000000000000000000000000000 # initiator, acceptor key
KC=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f # mit/conversations

hexof() { od -An -v -tx1 "$1" | tr -d ' \n'; }

# relay_log DIR LOG: the scenario's NN-i2a.bin / NN-a2i.bin as `i2a <hex>` lines.
relay_log() {
    : > "$2"
    for f in $(ls "$1" | grep -E '^[0-9]+-(i2a|a2i)\.bin$' | sort); do
        [ -s "$1/$f" ] || continue
        d=${f#*-}
        printf '%s %s\n' "${d%.bin}" "$(hexof "$1/$f")" >> "$2"
    done
}

# check_lines LABEL INIT_KEY ACC_KEY: every VERIFY line of $TMP/out matched
# with usage 25 (initiator) / 23 (acceptor), transcript all, the right key.
check_lines() {
    bad_lines=$(grep '^seq ' "$TMP/out" | grep -v -E "from initiator .*: match key=$2 usage=25 transcript=all |from acceptor .*: match key=$3 usage=23 transcript=all ")
    if [ -z "$bad_lines" ]; then ok; else bad "$1: $bad_lines"; fi
}

total=0
for d in "$V"/scenarios/[0-9]*; do
    name=$(basename "$d")
    cat "$d"/*.negoex 2>/dev/null > "$TMP/all.negoex"
    hex=$(hexof "$TMP/all.negoex")
    case $hex in *4e45474f4558545306000000*) ;; *) continue ;; esac # no VERIFY (message type 6)
    relay_log "$d" "$TMP/conv.log"
    case $name in
    3[0-4]-*) # nxtoy: the key is ni || na, the nonces after "NXTOY-I" / "NXTOY-A"
        ni=$(printf '%s' "$hex" | sed -n 's/^.*4e58544f592d49\([0-9a-f]\{32\}\).*$/\1/p')
        na=$(printf '%s' "$hex" | sed -n 's/^.*4e58544f592d41\([0-9a-f]\{32\}\).*$/\1/p')
        run verify-check --key "$ni$na" --key2 "$K1" "$TMP/conv.log"
        expect_rc "$name" 0
        check_lines "$name" key key ;;
    *)
        run verify-check --key "$K1" --key2 "$K0" "$TMP/conv.log"
        expect_rc "$name" 0
        check_lines "$name" key key2 ;;
    esac
    total=$((total + $(grep -c '^seq ' "$TMP/out")))
done
# decode.txt of every scenario re-verified 59 VERIFYs; so must we.
if [ "$total" -eq 59 ]; then ok; else bad "scenarios: $total VERIFYs, expected 59"; fi

# Whole conversations, bare hex lines: the direction comes from the messages.
ctotal=0
for f in "$V"/conversations/*.txt; do
    run verify-check --key "$KC" "$f"
    expect_rc "$(basename "$f")" 0
    check_lines "$(basename "$f")" key key
    ctotal=$((ctotal + $(grep -c '^seq ' "$TMP/out")))
done
if [ "$ctotal" -ge 5 ]; then ok; else bad "conversations: only $ctotal VERIFYs"; fi
expect_alert=$V/conversations/mit_conv_legs3_initkeyalways_alert.txt
run verify-check --key "$KC" "$expect_alert"
expect_stdout_has "alert: re-sent VERIFY" "seq 9 from initiator (token 3"
expect_stdout_has "alert: summary" "4 tokens, 11 NEGOEX messages, 3 VERIFY: 3 matched, 0 unmatched"

# The same conversation as base64, as Negotiate headers, on stdin, and as
# bare NEGOEX (the .negoex files), with the same answers.
S=$V/scenarios/17-alert-acceptor-to-initiator
relay_log "$S" "$TMP/s17.log"
run verify-check --key "$K1" --key2 "$K0" "$TMP/s17.log"
cp "$TMP/out" "$TMP/s17.ref"
: > "$TMP/s17.b64"
: > "$TMP/s17.http"
: > "$TMP/s17.raw"
for f in $(ls "$S" | grep -E '^[0-9]+-(i2a|a2i)\.bin$' | sort); do
    b=$(base64 -w0 < "$S/$f")
    printf '%s\n' "$b" >> "$TMP/s17.b64"
    case $f in *i2a*) printf 'Authorization: Negotiate %s\r\n' "$b" ;; *) printf 'WWW-Authenticate: Negotiate %s\r\n' "$b" ;; esac >> "$TMP/s17.http"
done
for f in $(ls "$S" | grep -E '^[0-9]+-(i2a|a2i)\.negoex$' | sort); do
    printf '# %s\n%s\n' "$f" "$(hexof "$S/$f")" >> "$TMP/s17.raw"
done
for form in b64 http raw; do
    run_stdin "$TMP/s17.$form" verify-check --key "$K1" --key2 "$K0" -
    expect_rc "form $form" 0
    if cmp -s "$TMP/out" "$TMP/s17.ref"; then ok; else bad "form $form: $(diff "$TMP/out" "$TMP/s17.ref" | head -n 4)"; fi
done

# One flipped bit in the last VERIFY's checksum (the last hex digit of the
# acceptor's last token): that VERIFY matches nothing.
last=$(tail -n 1 "$TMP/s17.log")
case $last in *0) flip=1 ;; *) flip=0 ;; esac
{ sed '$d' "$TMP/s17.log"; printf '%s%s\n' "${last%?}" "$flip"; } > "$TMP/flip.log"
run verify-check --key "$K1" --key2 "$K0" "$TMP/flip.log"
expect_rc "flipped bit" 1
expect_stdout_has "flipped bit" "seq 12 from acceptor (token 4, scheme c0a28569-66ac-0000-0000-000000000000, checksum type 16, enctype 18): no match (tried 2 keys x usages 25, 23 x 7 transcripts)"
expect_stdout_has "flipped bit: the others" "seq 11 from initiator (token 3, scheme c0a28569-66ac-0000-0000-000000000000, checksum type 16, enctype 18): match key=key usage=25 transcript=all"
expect_stdout_has "flipped bit: summary" "3 VERIFY: 2 matched, 1 unmatched"

# The wrong key: nothing matches; one key only: the acceptor's VERIFYs do not.
run verify-check --key "$KC" "$TMP/s17.log"
expect_rc "wrong key" 1
expect_stdout_has "wrong key" "3 VERIFY: 0 matched, 3 unmatched"
run verify-check --key "$K1" "$TMP/s17.log"
expect_rc "initiator key only" 1
expect_stdout_has "initiator key only" "3 VERIFY: 2 matched, 1 unmatched"
# The key as the spec's swapped usages would have it: the acceptor's key with
# the initiator's VERIFY. Still usage 25 and key2 for seq 4.
run verify-check --key "$K0" --key2 "$K1" "$TMP/s17.log"
expect_rc "keys swapped" 0
expect_stdout_has "keys swapped" "seq 4 from initiator (token 1, scheme c0a28569-66ac-0000-0000-000000000000, checksum type 16, enctype 18): match key=key2 usage=25 transcript=all (333 bytes)"

# A 16-byte key for these aes256 checksums, and --enctype 17 for checksum
# type 16: no candidate can be computed, and the reason is said.
run verify-check --key 00112233445566778899aabbccddeeff "$TMP/s17.log"
expect_rc "short key" 1
expect_stdout_has "short key" "no match: KEY_SIZE"
run verify-check --enctype 17 --key "$K1" "$TMP/s17.log"
expect_rc "enctype 17" 1
expect_stdout_has "enctype 17" "no match: UNSUPPORTED_CHECKSUM"

# JSON.
run verify-check --json --key "$K1" --key2 "$K0" "$TMP/s17.log"
expect_rc "json" 0
if "$PY" - "$TMP/out" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
v = d["verifies"]
assert d["verify_count"] == 3 and d["matched"] == 3 and d["unmatched"] == 0 and d["tokens"] == 4, d
assert [x["seq"] for x in v] == [4, 11, 12], v
for x in v:
    want = (25, "key") if x["from"] == "initiator" else (23, "key2")
    assert (x["match"]["usage"], x["match"]["key"]) == want, x
    assert x["match"]["transcript"] == "all" and x["enctype"] == 18 and x["checksum_type"] == 16, x
    assert x["matches"][0] == x["match"], x
PYEOF
then ok; else bad "json: $(head -c 400 "$TMP/out")"; fi
run verify-check --json --key "$K1" --key2 "$K0" "$TMP/flip.log"
expect_rc "json flipped" 1
if "$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["verifies"][2]["match"] is None and d["unmatched"] == 1' "$TMP/out"; then ok; else bad "json flipped: $(head -c 400 "$TMP/out")"; fi

# Usage and input errors.
run verify-check "$TMP/s17.log"
expect_rc "no key" 2
run verify-check --key zz "$TMP/s17.log"
expect_rc "bad key" 2
run verify-check --key "$K1" --enctype 5 "$TMP/s17.log"
expect_rc "bad enctype" 2
printf 'i2a 6082\nnot a token at all!\n' > "$TMP/garbage.log"
run verify-check --key "$K1" "$TMP/garbage.log"
expect_rc "garbage" 2
expect_stderr_has "garbage" "line 1"
run verify-check --key "$K1" "$TMP/missing.log"
expect_rc "missing file" 2

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
