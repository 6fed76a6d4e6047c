#!/bin/sh
# CLI tests for `negoex decode` on SPNEGO tokens: MIT krb5's SPNEGO/NEGOEX
# tokens (checked against each scenario's decode.txt and the NEGOEX bytes
# alone), Windows SMB2 NegTokenInit2 blobs, HTTP Negotiate header lines,
# hex/base64 input, and malformed tokens.
# usage: sh test_decode_spnego.sh <path-to-negoex> <vectors-dir>
set -u

. "$(dirname "$0")/common.sh"
cli_args "$@"
MIT=$VEC/mit/scenarios
WSP=$VEC/windows/spnego
NEGOEX_OID=1.3.6.1.4.1.311.2.2.30
NTLM_OID=1.3.6.1.4.1.311.2.2.10

b64_line() { # file: base64 on one line, no newline
    base64 "$1" | tr -d '\n'
}

# --- help -------------------------------------------------------------------
run decode --help
expect_rc "decode --help" 0
expect_stdout_has "decode --help" "usage: negoex decode [--json] [FILE|-]"
expect_stdout_has "decode --help" "SPNEGO"
expect_stdout_has "decode --help" "Negotiate <base64>"
expect_stdout_has "decode --help" "WWW-Authenticate"

# --- MIT krb5: every SPNEGO token, against decode.txt and the NEGOEX bytes ---
# check_mit JSON BIN DECODE_TXT NEGOEX_FILE|"" INNER_JSON|"": the SPNEGO fields
# as decode.txt states them, the inner token byte for byte, and "negoex"
# equal to decoding the NEGOEX bytes alone.
cat >"$TMP/check_mit.py" <<'EOF'
import json, re, sys
out, binf, txtf, nxf, innerf = sys.argv[1:6]
d = json.load(open(out))
name = binf.rsplit("/", 1)[-1]
raw = open(binf, "rb").read()
# decode.txt: "<name>: N bytes from ..." then indented lines up to the next
# line that is not indented (the next token, or a blank line).
block, on = [], False
for line in open(txtf):
    if line.startswith(name + ":"):
        on = True
        continue
    if on:
        if not line.startswith(" "):
            break
        block.append(line.rstrip("\n"))
if not block:
    sys.exit("no section for %s in decode.txt" % name)
text = "\n".join(block)
errs = []
def want(what, got, exp):
    if got != exp:
        errs.append("%s: got %r, expected %r" % (what, got, exp))
sp = d.get("spnego", {})
fields = [l.strip() for l in block if re.match(r"\s+\[\d\] ", l)]
want("framed", sp.get("framed"), "InitialContextToken" in text)
if "NegTokenInit:" in text:
    want("kind", sp.get("kind"), "negTokenInit")
elif "NegTokenResp:" in text:
    want("kind", sp.get("kind"), "negTokenResp")
else:
    errs.append("decode.txt names no token kind")
exp_keys = {"kind", "framed"}
for f in fields:
    m = re.match(r"\[\d\] (\w+): (.*)", f)
    key, val = m.group(1), m.group(2)
    if key == "mechTypes":
        exp_keys.add("mech_types")
        want("mech_types", sp.get("mech_types"), re.findall(r"\d+(?:\.\d+)+", val))
    elif key == "negState":
        exp_keys.add("neg_state")
        want("neg_state", sp.get("neg_state"), re.search(r"\((.*)\)", val).group(1))
    elif key == "supportedMech":
        exp_keys.add("supported_mech")
        want("supported_mech", sp.get("supported_mech"), re.search(r"\d+(?:\.\d+)+", val).group(0))
    elif key in ("mechToken", "responseToken"):
        k = "mech_token" if key == "mechToken" else "response_token"
        exp_keys.add(k)
        n = int(re.match(r"(\d+) bytes", val).group(1))
        want(k + " length", len(sp.get(k, "")) // 2, n)
        if nxf:
            want(k + " bytes", sp.get(k), open(nxf, "rb").read().hex())
    elif key == "mechListMIC":
        exp_keys.add("mech_list_mic")
        want("mech_list_mic", sp.get("mech_list_mic"), val)
    else:
        errs.append("unexpected decode.txt field " + f)
want("spnego keys", sorted(sp), sorted(exp_keys))
if innerf:
    inner = json.load(open(innerf))
    want("top-level keys", list(d), ["spnego", "negoex"])
    want("negoex types", [m["type"] for m in d.get("negoex", [])], [m["type"] for m in inner["negoex"]])
    want("negoex seqs", [m["seq"] for m in d.get("negoex", [])], [m["seq"] for m in inner["negoex"]])
    want("negoex messages", d.get("negoex"), inner["negoex"])
    # decode.txt's own message list agrees too.
    want("decode.txt seqs", [m["seq"] for m in d.get("negoex", [])],
         [int(s) for s in re.findall(r"msg seq=(\d+)", text)])
    want("decode.txt types", [m["type"] for m in d.get("negoex", [])], re.findall(r"msg seq=\d+ (\w+)", text))
else:
    want("top-level keys", list(d), ["spnego"])
if errs:
    sys.exit("; ".join(errs))
EOF

nmit=0
nnx=0
for f in "$MIT"/*/[0-9][0-9]-*.bin; do
    [ -e "$f" ] || continue
    nmit=$((nmit + 1))
    dir=$(dirname "$f")
    s=$(basename "$dir")/$(basename "$f")
    nx=${f%.bin}.negoex
    inner=
    if [ -e "$nx" ]; then
        nnx=$((nnx + 1))
        "$NEGOEX" decode --json "$nx" >"$TMP/inner.json" 2>"$TMP/err"
        inner=$TMP/inner.json
    else
        nx=
    fi
    run decode --json "$f"
    expect_rc "mit $s" 0
    expect_valid_json "mit $s"
    if "$PY" "$TMP/check_mit.py" "$TMP/out" "$f" "$dir/decode.txt" "$nx" "$inner" 2>"$TMP/pyerr"; then ok; else
        bad "mit $s: $(cat "$TMP/pyerr")"
    fi
    run decode "$f"
    expect_rc "mit $s text" 0
    if head -n 1 "$TMP/out" | grep -qE '^SPNEGO negToken(Init|Resp)( \(GSS-framed\))?, [0-9]+ bytes$'; then ok; else
        bad "mit $s text: first line '$(head -n 1 "$TMP/out")'"
    fi
done
# 117 tokens in 32 scenarios (07 has none), 96 of them carry NEGOEX.
if [ "$nmit" -ge 100 ] && [ "$nnx" -ge 90 ]; then ok; else bad "only $nmit MIT tokens ($nnx with NEGOEX) under $MIT"; fi

# --- MIT: a closer look -----------------------------------------------------
one=$MIT/01-one-hop
run decode --json "$one/00-i2a.bin"
expect_json "01 i2a" 'd["spnego"]["kind"]' negTokenInit
expect_json "01 i2a" 'd["spnego"]["framed"]' true
expect_json "01 i2a" 'd["spnego"]["mech_types"]' "[\"$NEGOEX_OID\"]"
expect_json "01 i2a" '[m["type"] for m in d["negoex"]]' \
    '["INITIATOR_NEGO", "INITIATOR_META_DATA", "INITIATOR_META_DATA", "AP_REQUEST", "VERIFY"]'
expect_json "01 i2a" '[m["seq"] for m in d["negoex"]]' '[0, 1, 2, 3, 4]'
run decode --json "$one/01-a2i.bin"
expect_json "01 a2i" 'd["spnego"]' \
    "{\"kind\": \"negTokenResp\", \"framed\": false, \"neg_state\": \"accept-completed\", \"supported_mech\": \"$NEGOEX_OID\", \"response_token\": \"$(to_hex "$one/01-a2i.negoex" | tr -d '\n')\"}"
expect_json "01 a2i" '[m["type"] for m in d["negoex"]]' '["ACCEPTOR_NEGO", "ACCEPTOR_META_DATA", "ACCEPTOR_META_DATA", "VERIFY"]'
expect_json "01 a2i" '[m["seq"] for m in d["negoex"]]' '[5, 6, 7, 8]'
# Inner offsets are the NEGOEX token's own, as when it is decoded alone.
expect_json "01 a2i" '[m["offset"] for m in d["negoex"]]' '[0, 128, 193, 258]'

run decode "$one/00-i2a.bin"
expect_rc "01 i2a text" 0
if [ "$(head -n 1 "$TMP/out")" = "SPNEGO negTokenInit (GSS-framed), 469 bytes" ]; then ok; else
    bad "01 i2a text first line: '$(head -n 1 "$TMP/out")'"
fi
expect_stdout_has "01 i2a text" "    [0] $NEGOEX_OID (NEGOEX)"
expect_stdout_has "01 i2a text" "  mechToken: 425 bytes at offset 44, NEGOEX, 5 messages"
expect_stdout_has "01 i2a text" "    [0] INITIATOR_NEGO conv "
expect_stdout_has "01 i2a text" "        seq: 4"

# The inner messages in text: the NEGOEX decode of the .negoex file, 4 spaces in.
run decode "$one/01-a2i.bin"
expect_rc "01 a2i text" 0
expect_stdout_has "01 a2i text" "SPNEGO negTokenResp, 385 bytes"
expect_stdout_has "01 a2i text" "  negState: accept-completed (0)"
expect_stdout_has "01 a2i text" "  supportedMech: $NEGOEX_OID (NEGOEX)"
expect_stdout_has "01 a2i text" "  responseToken: 350 bytes at offset 35, NEGOEX, 4 messages"
tail -n +5 "$TMP/out" >"$TMP/inner_text"
"$NEGOEX" decode "$one/01-a2i.negoex" | sed 's/^./    &/' >"$TMP/inner_text_ref"
if cmp -s "$TMP/inner_text" "$TMP/inner_text_ref"; then ok; else bad "01 a2i text: inner messages differ from the .negoex decode, indented"; fi

# A NegTokenResp with a mechListMIC and no responseToken (nxtoy, forced MIC).
run decode --json "$MIT/31-nxtoy-forced-mechlistmic/03-a2i.bin"
expect_rc "31 a2i mic" 0
expect_json "31 a2i mic" 'd' \
    '{"spnego": {"kind": "negTokenResp", "framed": false, "neg_state": "accept-completed", "mech_list_mic": "f774c66b4f533b621ec7144b"}}'
run decode "$MIT/31-nxtoy-forced-mechlistmic/03-a2i.bin"
expect_stdout_has "31 a2i mic text" "  mechListMIC: 12 bytes f774c66b4f533b621ec7144b"
run decode --json "$MIT/31-nxtoy-forced-mechlistmic/02-i2a.bin"
expect_rc "31 i2a mic" 0
expect_json "31 i2a mic" 'd["spnego"]["mech_list_mic"]' f774c66b4f533b621ec7144b
expect_json "31 i2a mic" '[m["type"] for m in d["negoex"]]' '["VERIFY"]'

# The reject MIT's initiator sends (scenario 12), as hex on stdin.
printf 'a1073005a0030a0102\n' >"$TMP/reject.hex"
run_stdin "$TMP/reject.hex" decode --json
expect_rc "reject" 0
expect_json "reject" 'd' '{"spnego": {"kind": "negTokenResp", "framed": false, "neg_state": "reject"}}'
run_stdin "$TMP/reject.hex" decode
expect_rc "reject text" 0
if [ "$(cat "$TMP/out")" = "SPNEGO negTokenResp, 9 bytes
  negState: reject (2)" ]; then ok; else bad "reject text: '$(cat "$TMP/out")'"; fi

# --- Windows SMB2 NEGOTIATE blobs (hex files) ---------------------------------
for f in "$WSP"/packetgen_smb2_frame2_security_blob.hex "$WSP"/packetgen_smb2_frame4_security_blob.hex \
    "$WSP"/smbj_negTokenInit2_negoex.hex "$WSP"/syringe_negTokenInit2_negoex_xmlprovider.hex; do
    b=$(basename "$f")
    run decode --json "$f"
    expect_rc "$b" 0
    expect_valid_json "$b"
    expect_json "$b" 'list(d)' '["spnego", "negoex"]'
    expect_json "$b" 'd["spnego"]["framed"]' true
    expect_json "$b" 'd["spnego"]["mech_types"]' "[\"$NEGOEX_OID\", \"$NTLM_OID\"]"
    expect_json "$b" '[m["type"] for m in d["negoex"]]' '["ACCEPTOR_NEGO", "ACCEPTOR_META_DATA"]'
    expect_json "$b" '[m["seq"] for m in d["negoex"]]' '[0, 1]'
    expect_json "$b" 'len(set(m["conversation_id"] for m in d["negoex"]))' 1
    # The server's NEGO offers the scheme its META_DATA is about.
    expect_json "$b" 'd["negoex"][1]["auth_scheme"] in d["negoex"][0]["auth_schemes"]' true
    run decode "$f"
    expect_rc "$b text" 0
    expect_stdout_has "$b text" "SPNEGO negTokenInit"
    expect_stdout_has "$b text" "    [0] $NEGOEX_OID (NEGOEX)"
    expect_stdout_has "$b text" "    [1] $NTLM_OID (NTLM)"
    expect_stdout_has "$b text" "    [0] ACCEPTOR_NEGO conv "
    expect_stdout_has "$b text" "    [1] ACCEPTOR_META_DATA conv "
done
# Only the syringe blob carries negHints [3], the mark of a NegTokenInit2; the
# others are NegTokenInit2 by role (an SMB2 NEGOTIATE response) but byte for
# byte plain NegTokenInits (mechTypes + mechToken).
for f in packetgen_smb2_frame2_security_blob packetgen_smb2_frame4_security_blob smbj_negTokenInit2_negoex; do
    run decode --json "$WSP/$f.hex"
    expect_json "$f kind" 'd["spnego"]["kind"]' negTokenInit
    expect_json "$f keys" 'sorted(d["spnego"])' '["framed", "kind", "mech_token", "mech_types"]'
done
syr=$WSP/syringe_negTokenInit2_negoex_xmlprovider.hex
run decode --json "$syr"
expect_json "syringe" 'd["spnego"]["kind"]' negTokenInit2
expect_json "syringe" 'd["spnego"]["neg_hints"]' '{"hint_name": "not_defined_in_RFC4178@please_ignore"}'
expect_json "syringe" 'len(d["spnego"]["mech_token"]) // 2' 254
expect_json "syringe" 'd["negoex"][1]["exchange"][:8]' 304ca04a
run decode "$syr"
expect_stdout_has "syringe text" "SPNEGO negTokenInit2 (GSS-framed), 353 bytes"
expect_stdout_has "syringe text" "  negHints:"
expect_stdout_has "syringe text" '    hintName: "not_defined_in_RFC4178@please_ignore"'
# The Samba vector beside them is raw NEGOEX: still the NEGOEX decode.
run decode --json "$WSP/samba_torture_ndr_negoex_MESSAGE_ARRAY.hex"
expect_rc "samba raw negoex" 0
expect_json "samba raw negoex" 'list(d)' '["negoex"]'

# --- Two more tokens from the SMB2 captures ----------------------------------
# Found by their GSS framing (60 len 06 06 2b0601050502): a server's
# NegTokenInit2 offering NEGOEX first but carrying no token (negHints only),
# and a client's NegTokenInit with an NTLM NEGOTIATE mechToken.
"$PY" - "$WSP/packetgen-smb2-nego.pcapng" "$TMP" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
oid = bytes.fromhex("06062b0601050502")
found, i = [], 0
while (i := data.find(oid, i)) >= 0:
    if i >= 2 and data[i - 2] == 0x60 and data[i - 1] < 0x80:
        found.append(data[i - 2 : i + data[i - 1]])
    i += 1
for n, tok in enumerate(found):
    open("%s/pcap%d.bin" % (sys.argv[2], n), "wb").write(tok)
EOF
if [ -s "$TMP/pcap0.bin" ] && [ -s "$TMP/pcap1.bin" ]; then ok; else bad "no SPNEGO tokens found in packetgen-smb2-nego.pcapng"; fi
run decode --json "$TMP/pcap0.bin"
expect_rc "pcap negHints only" 0
expect_json "pcap negHints only" 'list(d)' '["spnego"]'
expect_json "pcap negHints only" 'd["spnego"]["kind"]' negTokenInit2
expect_json "pcap negHints only" 'd["spnego"]["mech_types"][0]' $NEGOEX_OID
expect_json "pcap negHints only" 'd["spnego"]["mech_types"][-1]' $NTLM_OID
expect_json "pcap negHints only" 'len(d["spnego"]["mech_types"])' 5
expect_json "pcap negHints only" 'd["spnego"]["neg_hints"]' '{"hint_name": "Server2008@SMB3.local"}'
expect_json "pcap negHints only" '"mech_token" in d["spnego"]' false
run decode "$TMP/pcap0.bin"
expect_stdout_has "pcap negHints only text" "1.2.840.48018.1.2.2"
expect_stdout_has "pcap negHints only text" "    [4] $NTLM_OID (NTLM)"
run decode --json "$TMP/pcap1.bin"
expect_rc "pcap NTLM" 0
expect_json "pcap NTLM" 'list(d)' '["spnego"]'
expect_json "pcap NTLM" 'd["spnego"]["mech_types"]' "[\"$NTLM_OID\"]"
expect_json "pcap NTLM" 'd["spnego"]["mech_token"][:16]' 4e544c4d53535000 # "NTLMSSP\0"
run decode "$TMP/pcap1.bin"
expect_rc "pcap NTLM text" 0
expect_stdout_has "pcap NTLM text" "  mechToken: 40 bytes at offset 34, NTLM"
expect_stdout_has "pcap NTLM text" "    4e544c4d5353500001000000"
if grep -q 'NEGOTIATE\|INITIATOR_NEGO\|conv ' "$TMP/out"; then bad "pcap NTLM text: NTLM decoded as NEGOEX"; else ok; fi

# --- the same token in every input form gives the same JSON ---------------------
tok=$MIT/02-two-hops/00-i2a.bin
run decode --json "$tok"
cp "$TMP/out" "$TMP/ref.json"
to_hex "$tok" >"$TMP/tok.hex"
sed 's/../&:/g; s/:$//' "$TMP/tok.hex" | tr 'a-f' 'A-F' >"$TMP/tok.COLONS"
base64 "$tok" >"$TMP/tok.b64"
B64=$(b64_line "$tok")
printf 'Authorization: Negotiate %s\r\n' "$B64" >"$TMP/tok.authz"
printf 'WWW-Authenticate: Negotiate %s\n' "$B64" >"$TMP/tok.wwwauth"
printf 'Negotiate %s' "$B64" >"$TMP/tok.bare"
printf '  \r\nproxy-authorization:\tNEGOTIATE   %s  \r\n\r\n' "$B64" >"$TMP/tok.proxyz"
printf 'Proxy-Authenticate: negotiate %s\r\n' "$B64" >"$TMP/tok.proxyauth"
printf 'AUTHORIZATION:Negotiate %s' "$B64" >"$TMP/tok.nospace"
for form in hex COLONS b64 authz wwwauth bare proxyz proxyauth nospace; do
    run decode --json "$TMP/tok.$form"
    expect_rc "token as $form" 0
    expect_same_stdout "token as $form" "$TMP/ref.json"
done
run_stdin "$TMP/tok.authz" decode --json -
expect_rc "Authorization line on stdin" 0
expect_same_stdout "Authorization line on stdin" "$TMP/ref.json"
# An acceptor's NegTokenResp in a WWW-Authenticate line, text output.
printf 'WWW-Authenticate: Negotiate %s\r\n' "$(b64_line "$one/01-a2i.bin")" >"$TMP/resp.http"
run decode "$TMP/resp.http"
expect_rc "WWW-Authenticate text" 0
expect_stdout_has "WWW-Authenticate text" "SPNEGO negTokenResp, 385 bytes"
expect_stdout_has "WWW-Authenticate text" "    [3] VERIFY conv "
# Windows blob as base64 in an Authorization line.
from_hex "$(cat "$syr")" >"$TMP/syr.bin"
printf 'Authorization: Negotiate %s\r\n' "$(b64_line "$TMP/syr.bin")" >"$TMP/syr.http"
run decode --json "$TMP/syr.http"
expect_rc "syringe via HTTP" 0
expect_json "syringe via HTTP" 'd["spnego"]["neg_hints"]["hint_name"]' not_defined_in_RFC4178@please_ignore
# A raw NEGOEX token in a Negotiate line is still NEGOEX.
printf 'Negotiate %s\n' "$(b64_line "$one/00-i2a.negoex")" >"$TMP/nx.http"
run decode --json "$TMP/nx.http"
expect_rc "NEGOEX via HTTP" 0
expect_json "NEGOEX via HTTP" 'list(d)' '["negoex"]'
# A Negotiate line whose value is not base64, one without a value, another scheme.
printf 'Authorization: Negotiate YII!!!\r\n' >"$TMP/badb64.http"
run decode "$TMP/badb64.http"
expect_rc "Negotiate bad base64" 1
expect_stderr_has "Negotiate bad base64" "negoex: error: Negotiate header: the value is not base64"
expect_no_stdout "Negotiate bad base64"
printf 'WWW-Authenticate: Negotiate\r\n' >"$TMP/empty.http"
run decode "$TMP/empty.http"
expect_rc "Negotiate without a token" 1
expect_codec_error "Negotiate without a token" EMPTY_TOKEN token 0
printf 'Authorization: Basic dXNlcjpwYXNzd29yZA==\r\n' >"$TMP/basic.http"
run decode "$TMP/basic.http"
expect_rc "Basic is not Negotiate" 1
expect_no_stdout "Basic is not Negotiate"

# --- which inner tokens are NEGOEX (hand-built NegTokenResps) -------------------
# negState incomplete, no supportedMech, responseToken abcd: opaque.
from_hex a10d300ba0030a0101a2040402abcd >"$TMP/r1.bin"
run decode --json "$TMP/r1.bin"
expect_rc "unnamed mech, not NEGOEX" 0
expect_json "unnamed mech, not NEGOEX" 'd' \
    '{"spnego": {"kind": "negTokenResp", "framed": false, "neg_state": "accept-incomplete", "response_token": "abcd"}}'
run decode "$TMP/r1.bin"
expect_stdout_has "unnamed mech, not NEGOEX text" "  responseToken: 2 bytes at offset 13"
expect_stdout_has "unnamed mech, not NEGOEX text" "    abcd"
# supportedMech NTLM, responseToken "NEGOEXTS": NTLM's token, opaque.
from_hex a121301fa0030a0101a10c060a2b06010401823702020aa20a04084e45474f45585453 >"$TMP/r2.bin"
run decode --json "$TMP/r2.bin"
expect_rc "NTLM mech" 0
expect_json "NTLM mech" 'list(d)' '["spnego"]'
expect_json "NTLM mech" 'd["spnego"]["supported_mech"]' $NTLM_OID
expect_json "NTLM mech" 'd["spnego"]["response_token"]' 4e45474f45585453
# supportedMech NEGOEX, responseToken abcd: claims NEGOEX, is not.
from_hex a11b3019a0030a0101a10c060a2b06010401823702021ea2040402abcd >"$TMP/r3.bin"
for mode in "" --json; do
    run decode $mode "$TMP/r3.bin"
    expect_rc "NEGOEX mech, bad token $mode" 1
    expect_codec_error "NEGOEX mech, bad token $mode" TRUNCATED_HEADER "responseToken NEGOEX MessageHeader" 27
done
# no supportedMech, responseToken starting "NEGOEXTS": claims NEGOEX, is cut short.
from_hex a1133011a0030a0101a20a04084e45474f45585453 >"$TMP/r4.bin"
run decode --json "$TMP/r4.bin"
expect_rc "signature only" 1
expect_codec_error "signature only" TRUNCATED_HEADER "responseToken NEGOEX MessageHeader" 13
# supportedMech NEGOEX, empty responseToken.
from_hex a1193017a0030a0101a10c060a2b06010401823702021ea2020400 >"$TMP/r5.bin"
run decode --json "$TMP/r5.bin"
expect_rc "NEGOEX mech, empty token" 1
expect_codec_error "NEGOEX mech, empty token" EMPTY_TOKEN "responseToken NEGOEX token" 27

# --- hand-built NegTokenInits: reqFlags, negHints ---------------------------------
# reqFlags mutualFlag + bit 7 (no name), BIT STRING 03 02 00 41.
from_hex a0183016a00e300c060a2b06010401823702021ea10403020041 >"$TMP/i1.bin"
run decode --json "$TMP/i1.bin"
expect_rc "reqFlags" 0
expect_json "reqFlags" 'd' \
    "{\"spnego\": {\"kind\": \"negTokenInit\", \"framed\": false, \"mech_types\": [\"$NEGOEX_OID\"], \"req_flags\": [\"mutualFlag\", \"bit7\"]}}"
run decode "$TMP/i1.bin"
expect_stdout_has "reqFlags text" "  reqFlags: 0x82 (mutualFlag, bit7)"
# negHints: hintName a"b\c 01 ff (escaped; bytes 80..ff as U+0080..U+00FF), hintAddress c0a8.
from_hex a0273025a00e300c060a2b06010401823702021ea3133011a0091b076122625c6301ffa1040402c0a8 >"$TMP/i2.bin"
run decode --json "$TMP/i2.bin"
expect_rc "negHints escaped" 0
expect_valid_json "negHints escaped"
expect_json "negHints escaped" 'd["spnego"]["kind"]' negTokenInit2
expect_json "negHints escaped" 'd["spnego"]["neg_hints"]["hint_name"].encode("latin-1").hex()' 6122625c6301ff
expect_json "negHints escaped" 'd["spnego"]["neg_hints"]["hint_address"]' c0a8
run decode "$TMP/i2.bin"
expect_stdout_has "negHints escaped text" '    hintName: "a\"b\\c\x01\xff"'
expect_stdout_has "negHints escaped text" "    hintAddress: 2 bytes c0a8"

# --- malformed inner NEGOEX in a real token: offsets count from the SPNEGO token --
# 01-a2i.bin: responseToken content at 35 (385 - 350 bytes, nothing after it).
"$PY" - "$one/01-a2i.bin" "$TMP" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
sig = bytearray(b); sig[35] = ord("X")
open(sys.argv[2] + "/badsig.bin", "wb").write(sig)
# second message (at 35 + 128): cbMessageLength far past the end
ml = bytearray(b); ml[35 + 128 + 20 : 35 + 128 + 24] = (0x7fff).to_bytes(4, "little")
open(sys.argv[2] + "/badlen.bin", "wb").write(ml)
EOF
for mode in "" --json; do
    run decode $mode "$TMP/badsig.bin"
    expect_rc "inner bad signature $mode" 1
    expect_codec_error "inner bad signature $mode" BAD_SIGNATURE "responseToken NEGOEX Signature" 35
    run decode $mode "$TMP/badlen.bin"
    expect_rc "inner message truncated $mode" 1
    expect_codec_error "inner message truncated $mode" MESSAGE_TRUNCATED "responseToken NEGOEX cbMessageLength" 183
done
# The same, in an Authorization line: offsets are in the decoded token.
printf 'Authorization: Negotiate %s\r\n' "$(b64_line "$TMP/badlen.bin")" >"$TMP/badlen.http"
run decode "$TMP/badlen.http"
expect_rc "inner error via HTTP" 1
expect_codec_error "inner error via HTTP" MESSAGE_TRUNCATED "responseToken NEGOEX cbMessageLength" 183

# --- malformed SPNEGO: exit 1, one error line, nothing on stdout -----------------
# (codes, offsets and fields as the SPNEGO codec reports them: the offset of
# the element that broke the rule, counted from the start of the token)
head -c 468 "$one/00-i2a.bin" >"$TMP/trunc.bin"
cat "$one/00-i2a.bin" >"$TMP/trail.bin"
printf '\000' >>"$TMP/trail.bin"
from_hex a1073105a0030a0102 >"$TMP/wrongtag.bin"
from_hex a1073005a4030a0102 >"$TMP/wrongfield.bin"
"$PY" - "$one/00-i2a.bin" "$TMP" <<'EOF'
import sys
b = bytearray(open(sys.argv[1], "rb").read())
oid = bytearray(b); oid[11] = 0x03   # thisMech 1.3.6.1.5.5.3
open(sys.argv[2] + "/wrongoid.bin", "wb").write(oid)
EOF
from_hex a1063005a0030a0102 >"$TMP/shortlen.bin"
from_hex a1073005a0030a0105 >"$TMP/badstate.bin"
for mode in "" --json; do
    run decode $mode "$TMP/trunc.bin"
    expect_rc "truncated $mode" 1
    expect_codec_error "truncated $mode" DER_TRUNCATED InitialContextToken 0
    run decode $mode "$TMP/trail.bin"
    expect_rc "trailing byte $mode" 1
    expect_codec_error "trailing byte $mode" DER_TRAILING InitialContextToken 469
    run decode $mode "$TMP/wrongtag.bin"
    expect_rc "wrong tag $mode" 1
    expect_codec_error "wrong tag $mode" DER_TAG NegTokenResp 2
    run decode $mode "$TMP/wrongfield.bin"
    expect_rc "wrong field tag $mode" 1
    expect_codec_error "wrong field tag $mode" DER_TAG NegTokenResp 4
    run decode $mode "$TMP/wrongoid.bin"
    expect_rc "framing names another mech $mode" 1
    expect_codec_error "framing names another mech $mode" SPNEGO_OID thisMech 4
    run decode $mode "$TMP/shortlen.bin"
    expect_rc "length one short $mode" 1
    expect_codec_error "length one short $mode" DER_TRUNCATED NegTokenResp 2
    run decode $mode "$TMP/badstate.bin"
    expect_rc "negState 5 $mode" 1
    expect_codec_error "negState 5 $mode" DER_VALUE negState 6
done
# The same errors from hex and base64 input.
to_hex "$TMP/trail.bin" >"$TMP/trail.hex"
base64 "$TMP/trail.bin" >"$TMP/trail.b64"
for enc in hex b64; do
    run decode "$TMP/trail.$enc"
    expect_rc "trailing byte as $enc" 1
    expect_codec_error "trailing byte as $enc" DER_TRAILING InitialContextToken 469
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
