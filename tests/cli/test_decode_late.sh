#!/bin/sh
# CLI tests for `negoex decode` on MS-SPNG rev 21.0 additions: Late Fallback
# (supportedMechs [4], the Late Fallback and IAKerb OIDs by name) and token
# fragments (--fragments: one per line or one per file, reassembled, then
# decoded). docs/spnego-late-fallback.md.
# usage: sh test_decode_late.sh <path-to-negoex> <vectors-dir>
set -u

. "$(dirname "$0")/common.sh"
cli_args "$@"

KRB=2a864886f712010202
NTLM=2b06010401823702020a
LATE=2b060104018237020228
IAKERB=2b0601050205

# split_lines FILE N ENC: the file's bytes, N per line, as hex or base64 (or "negotiate": header lines)
split_lines() {
    "$PY" - "$1" "$2" "$3" <<'PYEOF'
import base64, sys
b = open(sys.argv[1], "rb").read(); n = int(sys.argv[2]); enc = sys.argv[3]
for i in range(0, len(b), n):
    c = b[i:i + n]
    if enc == "hex":
        print(c.hex())
    elif enc == "base64":
        print(base64.b64encode(c).decode())
    else:
        print("WWW-Authenticate: Negotiate " + base64.b64encode(c).decode())
PYEOF
}

# NegTokenResp {accept-incomplete, Kerberos, 0102, MIC abcd, supportedMechs {Kerberos, Late Fallback}}: 61 bytes
RESP="a13b3039a0030a0101a10b0609${KRB}a20404020102a3040402abcda41930170609${KRB}060a${LATE}"
from_hex "$RESP" >"$TMP/resp.bin"

# --- supportedMechs shown, with names ------------------------------------------
for opt in "" --late-fallback; do
    run decode $opt "$TMP/resp.bin"
    expect_rc "resp $opt" 0
    expect_stdout_has "resp $opt" "supportedMechs (Late Fallback): 2"
    expect_stdout_has "resp $opt" "[1] 1.3.6.1.4.1.311.2.2.40 (Negotiate-Late-Fallback)"
    expect_stdout_has "resp $opt" "[0] 1.2.840.113554.1.2.2 (Kerberos)"
    run decode --json $opt "$TMP/resp.bin"
    expect_rc "resp json $opt" 0
    expect_json "resp json $opt" 'd["spnego"]["supported_mechs"]' '["1.2.840.113554.1.2.2", "1.3.6.1.4.1.311.2.2.40"]'
    expect_json "resp json $opt" 'd["spnego"]["supported_mechs_names"]' '["Kerberos", "Negotiate-Late-Fallback"]'
    expect_json "resp json $opt" 'd["spnego"]["late_fallback"]' "true"
    expect_json "resp json $opt" 'd["spnego"]["mech_list_mic"]' "abcd"
done

# --- the Late Fallback and IAKerb OIDs among mechTypes ----------------------------
# framed NegTokenInit {mechTypes {IAKerb, Late Fallback}}
from_hex "602406062b0601050502a01a3018a01630140606${IAKERB}060a${LATE}" >"$TMP/init.bin"
run decode "$TMP/init.bin"
expect_rc "init" 0
expect_stdout_has "init" "[0] 1.3.6.1.5.2.5 (IAKerb)"
expect_stdout_has "init" "[1] 1.3.6.1.4.1.311.2.2.40 (Negotiate-Late-Fallback)"
run decode --json "$TMP/init.bin"
expect_json "init json" 'd["spnego"]["late_fallback"]' "true"
expect_json "init json" 'sorted(d["spnego"])' '["framed", "kind", "late_fallback", "mech_types"]'

# --- malformed supportedMechs: the RFC 4178 error, or the precise one ---------------
# [4] holding an OCTET STRING (a4 02 04 00) after negState
from_hex a10b3009a0030a0101a4020400 >"$TMP/badlf.bin"
for mode in "" --json; do
    run decode $mode "$TMP/badlf.bin"
    expect_rc "bad [4] $mode" 1
    expect_no_stdout "bad [4] $mode"
    expect_codec_error "bad [4] $mode" DER_TAG NegTokenResp 9
    run decode $mode --late-fallback "$TMP/badlf.bin"
    expect_rc "bad [4] --late-fallback $mode" 1
    expect_codec_error "bad [4] --late-fallback $mode" DER_TAG supportedMechs 11
done
# empty list
from_hex a10b3009a0030a0101a4023000 >"$TMP/emptylf.bin"
run decode --late-fallback "$TMP/emptylf.bin"
expect_codec_error "empty supportedMechs" DER_VALUE supportedMechs 11

# --- fragments: hex lines, base64 lines, Negotiate header lines, files ------------
for enc in hex base64 negotiate; do
    split_lines "$TMP/resp.bin" 10 $enc >"$TMP/frags.txt"
    run decode --fragments "$TMP/frags.txt"
    expect_rc "fragments $enc" 0
    expect_stdout_has "fragments $enc" "SPNEGO fragments: 7, token 61 bytes (ASN.1 header 2 bytes, in fragment 0)"
    expect_stdout_has "fragments $enc" "fragment 7/7: 1 bytes at offset 60"
    expect_stdout_has "fragments $enc" "reassembled:"
    expect_stdout_has "fragments $enc" "[1] 1.3.6.1.4.1.311.2.2.40 (Negotiate-Late-Fallback)"
    run_stdin "$TMP/frags.txt" decode --fragments --json
    expect_rc "fragments $enc json stdin" 0
    expect_json "fragments $enc json" 'd["fragments"]["sizes"]' "[10, 10, 10, 10, 10, 10, 1]"
    expect_json "fragments $enc json" 'd["fragments"]["token_length"]' "61"
    expect_json "fragments $enc json" 'd["spnego"]["supported_mechs_names"][1]' "Negotiate-Late-Fallback"
done
# one binary file per fragment
"$PY" - "$TMP/resp.bin" "$TMP" <<'PYEOF'
import sys
b = open(sys.argv[1], "rb").read()
for i in range(0, len(b), 25):
    open("%s/f%d.bin" % (sys.argv[2], i // 25), "wb").write(b[i:i + 25])
PYEOF
run decode --fragments "$TMP/f0.bin" "$TMP/f1.bin" "$TMP/f2.bin"
expect_rc "fragment files" 0
expect_stdout_has "fragment files" "SPNEGO fragments: 3, token 61 bytes"
# several inputs without --fragments stay a usage error
run decode "$TMP/f0.bin" "$TMP/f1.bin"
expect_rc "two inputs" 2

# a real MIT token (SPNEGO + NEGOEX), in 100-byte fragments: the same decode as whole
one=$VEC/mit/scenarios/01-one-hop
if [ -f "$one/00-i2a.bin" ]; then
    run decode --json "$one/00-i2a.bin"
    cp "$TMP/out" "$TMP/whole.json"
    split_lines "$one/00-i2a.bin" 100 hex >"$TMP/mit.txt"
    run decode --fragments --json "$TMP/mit.txt"
    expect_rc "mit fragments" 0
    if "$PY" - "$TMP/whole.json" "$TMP/out" <<'PYEOF'
import json, sys
w = json.load(open(sys.argv[1])); f = json.load(open(sys.argv[2]))
sys.exit(0 if f.pop("fragments")["count"] > 1 and f == w else 1)
PYEOF
    then ok; else bad "mit fragments: decode differs from the whole token's"; fi
else
    bad "no MIT scenario in $VEC"
fi

# --- fragments refused: exit 1, nothing on stdout, one error line -----------------
split_lines "$TMP/resp.bin" 10 hex | head -n 3 >"$TMP/short.txt"
run decode --fragments "$TMP/short.txt"
expect_rc "incomplete" 1
expect_no_stdout "incomplete"
expect_codec_error "incomplete" DER_TRUNCATED "fragments \\(30 of 61 bytes after 3 fragments\\)" 30
# second fragment longer than the first (MS-SPNG 3.1.5.7)
"$PY" - "$TMP/resp.bin" >"$TMP/sizes.txt" <<'PYEOF'
import sys
b = open(sys.argv[1], "rb").read()
print(b[:10].hex()); print(b[10:21].hex()); print(b[21:].hex())
PYEOF
run decode --fragments "$TMP/sizes.txt"
expect_rc "longer fragment" 1
expect_codec_error "longer fragment" FRAGMENT_INCONSISTENT "fragment 1 fragment size" 20
# the first fragment again after the token is complete
{ split_lines "$TMP/resp.bin" 10 hex; split_lines "$TMP/resp.bin" 10 hex | head -n 1; } >"$TMP/extra.txt"
run decode --fragments "$TMP/extra.txt"
expect_rc "after complete" 1
expect_codec_error "after complete" DER_TRAILING "fragment 7 \\(after the complete token\\)" 61
# a continuation where a first fragment must be
split_lines "$TMP/resp.bin" 10 hex | tail -n +2 >"$TMP/nofirst.txt"
run decode --fragments "$TMP/nofirst.txt"
expect_rc "no first fragment" 1
expect_codec_error "no first fragment" DER_TAG "fragment 0 NegotiationToken" 0
# not hex/base64
printf 'zz!!\n' >"$TMP/junk.txt"
run decode --fragments "$TMP/junk.txt"
expect_rc "junk line" 2

echo "test_decode_late: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
