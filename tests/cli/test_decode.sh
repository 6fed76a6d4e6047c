#!/bin/sh
# CLI tests for `negoex` (dispatch, usage) and `negoex decode`, on the real
# Windows / MIT / Samba vectors.
# usage: sh test_decode.sh <path-to-negoex> <vectors-dir>
set -u

. "$(dirname "$0")/common.sh"
cli_args "$@"
WIN=$VEC/windows/negoex
CONV=3b29075a-f391-af33-a1b4-a212249d7cb4
PKU2U=0d53335c-f9ea-4d0d-b2ec-4ae3786ec308

# --- dispatch and usage ---------------------------------------------------
for h in --help -h help; do
    run "$h"
    expect_rc "negoex $h" 0
    expect_stdout_has "negoex $h" "decode"
done
run --version
expect_rc "--version" 0
if grep -qE '^negoex [0-9]+\.[0-9]+\.[0-9]+' "$TMP/out"; then ok; else bad "--version: '$(cat "$TMP/out")'"; fi
run
expect_rc "no command" 2
expect_stderr_has "no command" "usage: negoex"
run frobnicate
expect_rc "unknown command" 2
expect_stderr_has "unknown command" "negoex: error: unknown command 'frobnicate'"
expect_stderr_has "unknown command lists commands" "decode"
expect_no_stdout "unknown command"
run --bogus
expect_rc "unknown global option" 2
run decode --help
expect_rc "decode --help" 0
expect_stdout_has "decode --help" "usage: negoex decode [--json] [FILE|-]"
run help decode
expect_rc "help decode" 0
expect_stdout_has "help decode" "usage: negoex decode"
run decode --frob "$WIN/win_initiator_nego_seq0.bin"
expect_rc "decode bad option" 2
expect_stderr_has "decode bad option" "negoex: error: decode: unknown option '--frob'"
expect_no_stdout "decode bad option"
run decode "$WIN/win_initiator_nego_seq0.bin" "$WIN/win_initiator_verify_seq7.bin"
expect_rc "decode two files" 2
run decode "$TMP/does-not-exist"
expect_rc "decode missing file" 2
expect_stderr_has "decode missing file" "negoex: error: cannot open"
run decode "$TMP"
expect_rc "decode a directory" 2
expect_stderr_has "decode a directory" "negoex: error: cannot read"

# --- each Windows message alone -------------------------------------------
for f in "$WIN"/*.bin; do
    b=$(basename "$f")
    case $b in
    win_acceptor_nego_seq2_HEADER_ONLY.bin)
        # 40-byte header claiming 112 bytes: the message as a whole is truncated.
        for mode in "" --json; do
            run decode $mode "$f"
            expect_rc "$b $mode" 1
            expect_codec_error "$b $mode" MESSAGE_TRUNCATED cbMessageLength 20
        done
        ;;
    SYNTHETIC_BROKEN_picky_verify_encode_seq9.bin)
        # cbHeaderLength 76 < VERIFY's 80 fixed bytes (docs/codec-errors.md rule 7).
        for mode in "" --json; do
            run decode $mode "$f"
            expect_rc "$b $mode" 1
            expect_codec_error "$b $mode" FIXED_PART cbHeaderLength 16
        done
        ;;
    *)
        run decode "$f"
        expect_rc "$b text" 0
        expect_stdout_has "$b text" "conv $CONV"
        run decode --json "$f"
        expect_rc "$b json" 0
        expect_valid_json "$b json"
        expect_json "$b json" 'len(d["negoex"])' 1
        ;;
    esac
done

run decode --json "$WIN/win_initiator_verify_seq7.bin"
expect_json "verify seq7" 'd["negoex"][0]["type"]' VERIFY
expect_json "verify seq7" 'd["negoex"][0]["seq"]' 7
expect_json "verify seq7" 'd["negoex"][0]["checksum_scheme"]' 1
expect_json "verify seq7" 'd["negoex"][0]["checksum_type"]' 16
expect_json "verify seq7" 'd["negoex"][0]["checksum"]' e4a770941783cc0c0d243a57
expect_json "verify seq7" 'd["negoex"][0]["auth_scheme"]' $PKU2U
expect_json "verify seq7 keys" 'sorted(d["negoex"][0])' \
    '["auth_scheme", "checksum", "checksum_scheme", "checksum_type", "conversation_id", "header_length", "message_length", "offset", "seq", "type"]'

# --- the Windows conversation as one token --------------------------------
cat "$WIN/win_initiator_nego_seq0.bin" "$WIN/win_initiator_metadata_seq1.bin" \
    "$WIN/win_acceptor_metadata_seq3.bin" "$WIN/win_initiator_verify_seq7.bin" >"$TMP/conv.bin"
run decode --json "$TMP/conv.bin"
expect_rc "conversation json" 0
expect_valid_json "conversation json"
cp "$TMP/out" "$TMP/conv.json"
expect_json "conversation" '[m["type"] for m in d["negoex"]]' \
    '["INITIATOR_NEGO", "INITIATOR_META_DATA", "ACCEPTOR_META_DATA", "VERIFY"]'
expect_json "conversation" '[m["offset"] for m in d["negoex"]]' '[0, 112, 409, 647]'
expect_json "conversation" '[m["seq"] for m in d["negoex"]]' '[0, 1, 3, 7]'
expect_json "conversation" '[m["message_length"] for m in d["negoex"]]' '[112, 297, 238, 92]'
expect_json "conversation" '[m["header_length"] for m in d["negoex"]]' '[96, 64, 64, 80]'
expect_json "conversation" 'sorted(set(m["conversation_id"] for m in d["negoex"]))' "[\"$CONV\"]"
expect_json "conversation" 'list(d)' '["negoex"]'
expect_json "nego" 'd["negoex"][0]["auth_schemes"]' "[\"$PKU2U\"]"
expect_json "nego" 'd["negoex"][0]["auth_schemes"][0]' $PKU2U
expect_json "nego" 'd["negoex"][0]["protocol_version"]' 0
expect_json "nego" 'd["negoex"][0]["extensions"]' '[]'
expect_json "nego" 'd["negoex"][0]["random"]' ab1e9d6da6771dd41a280e5745bbd984c35d2cdb7072b888195c76ef716f4778
expect_json "metadata" 'len(d["negoex"][1]["exchange"]) // 2' 233
expect_json "metadata" 'd["negoex"][1]["exchange"][:8]' 3081e6a0
expect_json "metadata" 'd["negoex"][2]["auth_scheme"]' $PKU2U
expect_json "metadata" 'len(d["negoex"][2]["exchange"]) // 2' 174
expect_json "verify" 'd["negoex"][3]["checksum"]' e4a770941783cc0c0d243a57
# The exchange hex is the payload file, byte for byte.
if "$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(bytes.fromhex(d["negoex"][1]["exchange"]) != open(sys.argv[2], "rb").read())
' "$TMP/conv.json" "$WIN/win_pku2u_initiator_metadata_payload.der"; then ok; else
    bad "metadata exchange != payload .der"
fi

run decode "$TMP/conv.bin"
expect_rc "conversation text" 0
if [ "$(head -n 1 "$TMP/out")" = "[0] INITIATOR_NEGO conv $CONV 112 bytes" ]; then ok; else
    bad "conversation text first line: '$(head -n 1 "$TMP/out")'"
fi
if [ "$(grep -c '^\[' "$TMP/out")" -eq 4 ]; then ok; else bad "conversation text: not 4 message blocks"; fi
expect_stdout_has "conversation text" "[3] VERIFY conv $CONV 92 bytes"
expect_stdout_has "conversation text" "offset: 647"
expect_stdout_has "conversation text" "$PKU2U (PKU2U)"
expect_stdout_has "conversation text" "checksum type: 16"
expect_stdout_has "conversation text" "checksum: 12 bytes e4a770941783cc0c0d243a57"

# --- same token in every input encoding gives the same JSON ---------------
to_hex "$TMP/conv.bin" >"$TMP/conv.hex"
sed 's/../&:/g; s/:$//' "$TMP/conv.hex" >"$TMP/conv.colons"
tr 'a-f' 'A-F' <"$TMP/conv.colons" >"$TMP/conv.COLONS"
base64 "$TMP/conv.bin" >"$TMP/conv.b64"
tr -d '=\n' <"$TMP/conv.b64" >"$TMP/conv.b64nopad"
for enc in hex colons COLONS b64 b64nopad; do
    run decode --json "$TMP/conv.$enc"
    expect_rc "conversation as $enc" 0
    if cmp -s "$TMP/out" "$TMP/conv.json"; then ok; else bad "conversation as $enc: JSON differs from binary input"; fi
done
"$NEGOEX" decode --json - <"$TMP/conv.b64" >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "stdin via -" 0
if cmp -s "$TMP/out" "$TMP/conv.json"; then ok; else bad "stdin via -: JSON differs"; fi
"$NEGOEX" decode --json <"$TMP/conv.hex" >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "stdin without FILE" 0
if cmp -s "$TMP/out" "$TMP/conv.json"; then ok; else bad "stdin without FILE: JSON differs"; fi

# --- malformed tokens: nothing on stdout, even for the good messages first -
cat "$WIN/win_initiator_nego_seq0.bin" "$WIN/win_acceptor_nego_seq2_HEADER_ONLY.bin" >"$TMP/nego_trunc.bin"
for mode in "" --json; do
    run decode $mode "$TMP/nego_trunc.bin"
    expect_rc "good+truncated $mode" 1
    expect_codec_error "good+truncated $mode" MESSAGE_TRUNCATED cbMessageLength 132
done
: >"$TMP/empty"
run decode "$TMP/empty"
expect_rc "empty file" 1
expect_codec_error "empty file" EMPTY_TOKEN token 0
"$NEGOEX" decode --json </dev/null >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "empty stdin" 1
expect_codec_error "empty stdin" EMPTY_TOKEN token 0
printf ' \n\t\n' >"$TMP/blank"
run decode "$TMP/blank"
expect_rc "whitespace only" 1
expect_codec_error "whitespace only" EMPTY_TOKEN token 0
printf 'hello, world!\n' >"$TMP/text"
run decode "$TMP/text"
expect_rc "plain text" 1
expect_codec_error "plain text" TRUNCATED_HEADER MessageHeader 0
dd if=/dev/zero bs=48 count=1 2>/dev/null >"$TMP/zeros"
run decode "$TMP/zeros"
expect_rc "zeros" 1
expect_codec_error "zeros" BAD_SIGNATURE Signature 0
dd if=/dev/zero bs=1048576 count=65 2>/dev/null | "$NEGOEX" decode >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "65 MiB input" 2
expect_stderr_has "65 MiB input" "input limit"
expect_no_stdout "65 MiB input"

# --- NEGO extensions (hand-built, as hex on stdin) -------------------------
# header 96 | scheme at 96 | extension at 112 {type, offset 124, len 4} | value at 124
nego_ext() { # extension-type-hex (LE u32)
    printf '%s\n' \
        "4e45474f45585453 00000000 00000000 60000000 80000000" \
        "00112233445566778899aabbccddeeff" \
        "0101010101010101010101010101010101010101010101010101010101010101" \
        "0000000000000000 60000000 0100 0000 70000000 0100 0000" \
        "5c33530deaf90d4db2ec4ae3786ec308" \
        "$1 7c000000 04000000 deadbeef"
}
nego_ext 05000000 | "$NEGOEX" decode --json >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "nego with extension" 0
expect_json "nego with extension" 'd["negoex"][0]["extensions"]' '[{"type": 5, "critical": false, "value": "deadbeef"}]'
expect_json "nego with extension" 'd["negoex"][0]["conversation_id"]' 33221100-5544-7766-8899-aabbccddeeff
nego_ext 05000000 | "$NEGOEX" decode >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "nego with extension text" 0
expect_stdout_has "nego with extension text" "extensions: 1"
expect_stdout_has "nego with extension text" "[0] type 0x00000005: 4 bytes deadbeef"
nego_ext 05000080 | "$NEGOEX" decode --json >"$TMP/out" 2>"$TMP/err"
rc=$?
expect_rc "critical extension" 1
expect_codec_error "critical extension" CRITICAL_EXTENSION ExtensionType 112

# --- MIT scenarios: every NEGOEX blob decodes -------------------------------
nmit=0
for f in "$VEC"/mit/scenarios/*/*.negoex; do
    [ -e "$f" ] || continue
    nmit=$((nmit + 1))
    s=$(basename "$(dirname "$f")")/$(basename "$f")
    run decode --json "$f"
    expect_rc "mit $s" 0
    expect_valid_json "mit $s"
    run decode "$f"
    expect_rc "mit $s text" 0
done
if [ "$nmit" -gt 0 ]; then ok; else bad "no MIT .negoex files under $VEC/mit/scenarios"; fi

alert=$VEC/mit/scenarios/17-alert-acceptor-to-initiator/01-a2i.negoex
run decode --json "$alert"
expect_rc "mit alert" 0
expect_json "mit alert" '[m["type"] for m in d["negoex"]]' \
    '["ACCEPTOR_NEGO", "ACCEPTOR_META_DATA", "ACCEPTOR_META_DATA", "CHALLENGE", "ALERT"]'
expect_json "mit alert" '[m["seq"] for m in d["negoex"]]' '[5, 6, 7, 8, 9]'
expect_json "mit alert" 'd["negoex"][4]["error_code"]' 0
expect_json "mit alert" 'd["negoex"][4]["alerts"]' '[{"type": 1, "value": "0800000001000000", "reason": 1}]'
expect_json "mit alert" 'd["negoex"][4]["auth_scheme"]' c0a28569-66ac-0000-0000-000000000000
run decode "$alert"
expect_stdout_has "mit alert text" "error code: 0x00000000"
expect_stdout_has "mit alert text" "reason: 1 (VERIFY_NO_KEY)"

# --- Samba's acceptor-first pair (hex file) --------------------------------
run decode --json "$VEC/windows/spnego/samba_torture_ndr_negoex_MESSAGE_ARRAY.hex"
expect_rc "samba hex" 0
expect_valid_json "samba hex"
expect_json "samba hex" '[m["type"] for m in d["negoex"]]' '["ACCEPTOR_NEGO", "ACCEPTOR_META_DATA"]'
expect_json "samba hex" '[m["seq"] for m in d["negoex"]]' '[0, 1]'
expect_json "samba hex" 'd["negoex"][0]["auth_schemes"]' "[\"$PKU2U\"]"
expect_json "samba hex" 'sum(m["message_length"] for m in d["negoex"])' 264

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
