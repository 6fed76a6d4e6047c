#!/bin/sh
# CLI tests for `negoex decode` on PKU2U: the Exchange payloads of PKU2U
# NEGOEX messages decoded under the message ("exchange_decoded" /
# "exchange_error"), `--as krb` on the Windows PKU2U GSS tokens,
# `--as pku2u-metadata` on the metadata payloads, synthetic AP_REQUEST /
# CHALLENGE messages around real tokens, and malformed tokens.
# Facts asserted: ../shared/docs/pku2u-wire.md and the Windows bytes.
# usage: sh test_decode_pku2u.sh <path-to-negoex> <vectors-dir>
set -u

. "$(dirname "$0")/common.sh"
cli_args "$@"
WIN=$VEC/windows/negoex
PK=$VEC/windows/pku2u
WSP=$VEC/windows/spnego
PKU2U=0d53335c-f9ea-4d0d-b2ec-4ae3786ec308
PKU2U_DOC=235f69ad-73fb-4dbc-8203-0629e739339b
ASREQ=$PK/win_client_as_req_gss_token_2022-09-25.bin
ASREQ2=$PK/win_client_as_req_gss_token_2022-10-18.bin
ASREP=$PK/win_server_as_rep_gss_token_2022-05-17.bin
ASREP_SSPI=$PK/sspirs_debugserver_as_rep_gss_token_2022-10-18.bin
P2P_2021='CN=MS-Organization-P2P-Access [2021]'
P2P_2022='CN=MS-Organization-P2P-Access [2022]'
TSPK='CN=Token Signing Public Key'
CLIENT='AzureAD\MS-Organization-P2P-Access [2022]\S-1-12-1-3653211022-1339006422-2627573900-1560734919'
ETYPES='[18, 17, 23, 24, -135]'

# negoex_msg TYPE SEQ SCHEME-GUID PAYLOAD-FILE > file: one NEGOEX exchange
# message (MS-NEGOEX 2.2.6.4: 40-byte header, AuthScheme, Exchange vector at
# offset 64), conversation 00112233-4455-6677-8899-aabbccddeeff.
negoex_msg() {
    "$PY" - "$@" <<'EOF'
import struct, sys, uuid
mtype, seq, scheme, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
payload = open(path, "rb").read()
conv = uuid.UUID("00112233-4455-6677-8899-aabbccddeeff").bytes_le
hdr = struct.pack("<8sIIII", b"NEGOEXTS", mtype, seq, 64, 64 + len(payload)) + conv
body = uuid.UUID(scheme).bytes_le + struct.pack("<II", 64, len(payload))
sys.stdout.buffer.write(hdr + body + payload)
EOF
}

# cut FILE N > file: the first N bytes.
cut_bytes() {
    "$PY" -c 'import sys; sys.stdout.buffer.write(open(sys.argv[1], "rb").read()[:int(sys.argv[2])])' "$1" "$2"
}

# poke FILE OFFSET BYTE-HEX > file: one byte replaced.
poke() {
    "$PY" -c '
import sys
b = bytearray(open(sys.argv[1], "rb").read())
b[int(sys.argv[2])] = int(sys.argv[3], 16)
sys.stdout.buffer.write(b)' "$1" "$2" "$3"
}

# --- help and options -----------------------------------------------------
run decode --help
expect_rc "decode --help" 0
expect_stdout_has "decode --help" "usage: negoex decode [--json] [FILE|-]"
expect_stdout_has "decode --help" "--as KIND"
expect_stdout_has "decode --help" "exchange_decoded"
run decode --as bogus "$ASREQ"
expect_rc "--as bogus" 2
expect_stderr_has "--as bogus" "negoex: error: decode: unknown kind 'bogus' for --as"
expect_no_stdout "--as bogus"
run decode --as
expect_rc "--as without a kind" 2
expect_stderr_has "--as without a kind" "--as needs a kind"
run decode --as=krb --json "$ASREQ"
expect_rc "--as=krb" 0
expect_json "--as=krb" 'd["krb"]["kind"]' AS-REQ

# --- --as krb: the Windows AS-REQ (2022-09-25) ----------------------------
run decode --as krb --json "$ASREQ"
expect_rc "AS-REQ json" 0
expect_valid_json "AS-REQ json"
cp "$TMP/out" "$TMP/asreq.json"
expect_json "AS-REQ" 'list(d)' '["krb"]'
expect_json "AS-REQ" 'd["krb"]["kind"]' AS-REQ
expect_json "AS-REQ" 'd["krb"]["thisMech"]' 1.3.6.1.5.2.7
expect_json "AS-REQ" 'd["krb"]["tok-id"]' 0500
expect_json "AS-REQ" 'd["krb"]["pvno"]' 5
expect_json "AS-REQ" 'd["krb"]["msg-type"]' 10
expect_json "AS-REQ padata types" '[p["padata-type"] for p in d["krb"]["padata"]]' '[16]'
B='d["krb"]["req-body"]'
expect_json "AS-REQ kdc-options" "$B[\"kdc-options\"]" '["forwardable", "renewable", "canonicalize", "renewable-ok"]'
expect_json "AS-REQ cname type" "$B[\"cname\"][\"name-type\"]" -128
expect_json "AS-REQ cname" "$B[\"cname\"][\"name-string\"]" "$("$PY" -c 'import json, sys; print(json.dumps([sys.argv[1]]))' "$CLIENT")"
expect_json "AS-REQ realm" "$B[\"realm\"]" WELLKNOWN:PKU2U
expect_json "AS-REQ sname" "$B[\"sname\"]" '{"name-type": 2, "name-string": ["TERMSRV", "192.168.0.104"]}'
expect_json "AS-REQ till" "$B[\"till\"]" 20370914024805Z
expect_json "AS-REQ rtime" "$B[\"rtime\"]" 20370914024805Z
expect_json "AS-REQ no from" "\"from\" in $B" false
expect_json "AS-REQ nonce" "$B[\"nonce\"]" 0
expect_json "AS-REQ etype" "$B[\"etype\"]" "$ETYPES"
expect_json "AS-REQ addresses" "$B[\"addresses\"]" \
    '[{"addr-type": 20, "address": "4445534b544f502d3846333352464820", "text": "DESKTOP-8F33RFH "}]'
PV='d["krb"]["padata"][0]["padata-value"]'
expect_json "AS-REQ PA-PK-AS-REQ" "$PV[\"kind\"]" PA-PK-AS-REQ
expect_json "AS-REQ signedAuthPack" "$PV[\"signedAuthPack\"][\"kind\"]" "SignedData, bare"
expect_json "AS-REQ SignedData version" "$PV[\"signedAuthPack\"][\"version\"]" 3
expect_json "AS-REQ digestAlgorithms" "$PV[\"signedAuthPack\"][\"digestAlgorithms\"]" '["1.3.14.3.2.26"]'
expect_json "AS-REQ eContentType" "$PV[\"signedAuthPack\"][\"eContentType\"]" 1.3.6.1.5.2.3.1
AP="$PV[\"signedAuthPack\"][\"eContent\"]"
expect_json "AS-REQ AuthPack" "$AP[\"kind\"]" AuthPack
expect_json "AS-REQ pkAuthenticator nonce" "$AP[\"pkAuthenticator\"][\"nonce\"]" 0
expect_json "AS-REQ pkAuthenticator ctime" "$AP[\"pkAuthenticator\"][\"ctime\"]" 20220925211003Z
expect_json "AS-REQ paChecksum" "$AP[\"pkAuthenticator\"][\"paChecksum\"]" d6d7d28fbd15dc7b10ca3eef8fef484b8113c019
expect_json "AS-REQ DH algorithm" "$AP[\"clientPublicValue\"][\"algorithm\"]" 1.2.840.10046.2.1
expect_json "AS-REQ DH params" "$AP[\"clientPublicValue\"][\"parameters\"]" \
    '{"kind": "DomainParameters", "p-bits": 1024, "dh-group": 2, "g": 2, "q-bits": 1023}'
expect_json "AS-REQ DH y length" "len($AP[\"clientPublicValue\"][\"subjectPublicKey\"]) // 2" 128
expect_json "AS-REQ clientDHNonce length" "len($AP[\"clientDHNonce\"]) // 2" 32
expect_json "AS-REQ certificate issuer" "[c[\"issuer\"] for c in $PV[\"signedAuthPack\"][\"certificates\"]]" "[\"$P2P_2022\"]"
expect_json "AS-REQ signer" "[(s[\"issuer\"], s[\"digestAlgorithm\"], s[\"signatureAlgorithm\"], len(s[\"signature\"]) // 2) for s in $PV[\"signedAuthPack\"][\"signerInfos\"]]" \
    "[[\"$P2P_2022\", \"1.3.14.3.2.26\", \"1.2.840.113549.1.1.1\", 256]]"
expect_json "AS-REQ signer serial = certificate serial" \
    "$PV[\"signedAuthPack\"][\"signerInfos\"][0][\"serialNumber\"] == $PV[\"signedAuthPack\"][\"certificates\"][0][\"serialNumber\"]" true
# paChecksum is SHA-1 of the DER KDC-REQ-BODY: the last element of the KDC-REQ.
if "$PY" - "$ASREQ" "$TMP/asreq.json" <<'EOF'
import hashlib, json, sys
tok = open(sys.argv[1], "rb").read()
d = json.load(open(sys.argv[2]))
want = d["krb"]["padata"][0]["padata-value"]["signedAuthPack"]["eContent"]["pkAuthenticator"]["paChecksum"]
i = tok.rfind(b"\xa4\x82")  # req-body [4] EXPLICIT: the body follows its 4-byte header
n = int.from_bytes(tok[i + 2:i + 4], "big")
sys.exit(hashlib.sha1(tok[i + 4:i + 4 + n]).hexdigest() != want or i + 4 + n != len(tok))
EOF
then ok; else bad "AS-REQ paChecksum != SHA-1(req-body)"; fi

run decode --as krb "$ASREQ"
expect_rc "AS-REQ text" 0
if [ "$(head -n 1 "$TMP/out")" = "PKU2U AS-REQ, 2356 bytes" ]; then ok; else
    bad "AS-REQ text first line: '$(head -n 1 "$TMP/out")'"
fi
expect_stdout_has "AS-REQ text" "  msg-type: 10 (KRB_AS_REQ)"
expect_stdout_has "AS-REQ text" "      padata-type: 16 (PA-PK-AS-REQ)"
expect_stdout_has "AS-REQ text" "    kdc-options: 0x40810010 (forwardable, renewable, canonicalize, renewable-ok)"
expect_stdout_has "AS-REQ text" "    cname: $CLIENT (NT-MS-PRINCIPAL, -128)"
expect_stdout_has "AS-REQ text" "    realm: WELLKNOWN:PKU2U"
expect_stdout_has "AS-REQ text" "    sname: TERMSRV/192.168.0.104 (NT-SRV-INST, 2)"
expect_stdout_has "AS-REQ text" "    till: 20370914024805Z (2037-09-14 02:48:05 UTC)"
expect_stdout_has "AS-REQ text" "    nonce: 0"
expect_stdout_has "AS-REQ text" "    etype: 18 (aes256-cts-hmac-sha1-96), 17 (aes128-cts-hmac-sha1-96), 23 (rc4-hmac), 24 (rc4-hmac-exp), -135 (rc4-hmac-old-exp)"
expect_stdout_has "AS-REQ text" '      [0] NetBIOS (20) "DESKTOP-8F33RFH "'
expect_stdout_has "AS-REQ text" "dh-group: 2 (RFC 2409 Oakley group 2, MODP 1024)"
expect_stdout_has "AS-REQ text" "p-bits: 1024"
expect_stdout_has "AS-REQ text" "clientDHNonce: 32 bytes 64cfb56b25a1942d1f135e174467c37666ea87f718edb0c90c95e8c8831ae291"
expect_stdout_has "AS-REQ text" "issuer: $P2P_2022"

# The same token as hex, base64 and on stdin gives the same JSON.
to_hex "$ASREQ" >"$TMP/asreq.hex"
base64 "$ASREQ" >"$TMP/asreq.b64"
for enc in hex b64; do
    run decode --json --as krb "$TMP/asreq.$enc"
    expect_rc "AS-REQ as $enc" 0
    expect_same_stdout "AS-REQ as $enc" "$TMP/asreq.json"
done
run_stdin "$TMP/asreq.b64" decode --as krb --json -
expect_rc "AS-REQ on stdin" 0
expect_same_stdout "AS-REQ on stdin" "$TMP/asreq.json"

# --- --as krb: the second AS-REQ (2022-10-18) -----------------------------
run decode --as krb --json "$ASREQ2"
expect_rc "AS-REQ 10-18" 0
expect_json "AS-REQ 10-18 sname" 'd["krb"]["req-body"]["sname"]["name-string"]' '["TERMSRV", "dest.dataans.com"]'
expect_json "AS-REQ 10-18 etype" 'd["krb"]["req-body"]["etype"]' "$ETYPES"
expect_json "AS-REQ 10-18 DH group" \
    'd["krb"]["padata"][0]["padata-value"]["signedAuthPack"]["eContent"]["clientPublicValue"]["parameters"]["dh-group"]' 2

# --- --as krb: the Windows AS-REP (2022-05-17) ----------------------------
run decode --as krb --json "$ASREP"
expect_rc "AS-REP json" 0
expect_valid_json "AS-REP json"
expect_json "AS-REP" 'd["krb"]["kind"]' AS-REP
expect_json "AS-REP" 'd["krb"]["tok-id"]' 0600
expect_json "AS-REP" 'd["krb"]["msg-type"]' 11
expect_json "AS-REP crealm" 'd["krb"]["crealm"]' WELLKNOWN:PKU2U
expect_json "AS-REP cname" 'd["krb"]["cname"]' '{"name-type": -128, "name-string": ["AzureAD\\mamoreau@downhillpro.xyz"]}'
expect_json "AS-REP ticket realm" 'd["krb"]["ticket"]["realm"]' WELLKNOWN:PKU2U
expect_json "AS-REP ticket sname" 'd["krb"]["ticket"]["sname"]' '{"name-type": 2, "name-string": ["TERMSRV", "AZRDOWN-W10"]}'
expect_json "AS-REP ticket enc-part" 'd["krb"]["ticket"]["enc-part"]' '{"etype": 18, "length": 907}'
expect_json "AS-REP enc-part" 'd["krb"]["enc-part"]' '{"etype": 18, "length": 253}'
PV='d["krb"]["padata"][0]["padata-value"]'
expect_json "AS-REP padata types" '[p["padata-type"] for p in d["krb"]["padata"]]' '[17]'
expect_json "AS-REP PA-PK-AS-REP" "$PV[\"kind\"]" PA-PK-AS-REP
expect_json "AS-REP dhSignedData" "$PV[\"dhInfo\"][\"dhSignedData\"][\"kind\"]" "SignedData, bare"
expect_json "AS-REP eContentType" "$PV[\"dhInfo\"][\"dhSignedData\"][\"eContentType\"]" 1.3.6.1.5.2.3.2
expect_json "AS-REP KDCDHKeyInfo" "$PV[\"dhInfo\"][\"dhSignedData\"][\"eContent\"][\"kind\"]" KDCDHKeyInfo
expect_json "AS-REP KDCDHKeyInfo nonce" "$PV[\"dhInfo\"][\"dhSignedData\"][\"eContent\"][\"nonce\"]" 0
expect_json "AS-REP DH y length" "len($PV[\"dhInfo\"][\"dhSignedData\"][\"eContent\"][\"subjectPublicKey\"]) // 2" 128
expect_json "AS-REP serverDHNonce length" "len($PV[\"dhInfo\"][\"serverDHNonce\"]) // 2" 32
expect_json "AS-REP certificate issuer" "$PV[\"dhInfo\"][\"dhSignedData\"][\"certificates\"][0][\"issuer\"]" "$P2P_2021"
# Nothing encrypted is shown: no ciphertext bytes anywhere in the output.
expect_json "AS-REP no cipher" '"cipher" in json.dumps(d)' false

run decode --as krb "$ASREP"
expect_rc "AS-REP text" 0
if [ "$(head -n 1 "$TMP/out")" = "PKU2U AS-REP, $(wc -c <"$ASREP" | tr -d ' ') bytes" ]; then ok; else
    bad "AS-REP text first line: '$(head -n 1 "$TMP/out")'"
fi
expect_stdout_has "AS-REP text" "  crealm: WELLKNOWN:PKU2U"
expect_stdout_has "AS-REP text" "  cname: AzureAD\\mamoreau@downhillpro.xyz (NT-MS-PRINCIPAL, -128)"
expect_stdout_has "AS-REP text" "    sname: TERMSRV/AZRDOWN-W10 (NT-SRV-INST, 2)"
expect_stdout_has "AS-REP text" "  enc-part: etype 18 (aes256-cts-hmac-sha1-96), 253 bytes of ciphertext"
expect_stdout_has "AS-REP text" "serverDHNonce: 32 bytes"

run decode --as krb --json "$ASREP_SSPI"
expect_rc "sspi-rs AS-REP" 0
expect_json "sspi-rs AS-REP cname" 'd["krb"]["cname"]["name-string"]' '["AzureAD\\s7@dataans.com"]'
expect_json "sspi-rs AS-REP ticket sname" 'd["krb"]["ticket"]["sname"]["name-string"]' '["TERMSRV", "dest.dataans.com"]'
expect_json "sspi-rs AS-REP enc-part etype" 'd["krb"]["enc-part"]["etype"]' 18

# --- --as krb: AP-REQ, AP-REP, KRB-ERROR (no capture has them: small DER
# built by hand, GSS-framed; the same bytes as tests/unit/test_pku2u_dissect.c)
printf '%s\n' \
    6081d306062b060105020701006e81c63081c3a003020105a10302010ea20703 \
    050020000000a371616f306da003020105a1111b0f57454c4c4b4e4f574e3a50 \
    4b553255a221301fa003020102a11830161b075445524d5352561b0b415a5244 \
    4f574e2d573130a330302ea003020112a103020101a222042000010203040506 \
    0708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa43b3039a00302 \
    0112a23204300000000000000000000000000000000000000000000000000000 \
    00000000000000000000000000000000000000000000 >"$TMP/ap_req.hex"
printf '%s\n' \
    604d06062b060105020702006f41303fa003020105a10302010fa2333031a003 \
    020112a22a0428ababababababababababababababababababababababababab \
    ababababababababababababababab >"$TMP/ap_rep.hex"
printf '%s\n' \
    607706062b060105020703007e6b3069a003020105a10302011ea411180f3230 \
    3232303932353231313030335aa50302017ba60302013ea9111b0f57454c4c4b \
    4e4f574e3a504b553255aa21301fa003020102a11830161b075445524d535256 \
    1b0b415a52444f574e2d573130ab0a1b086e6f207472757374 >"$TMP/krb_error.hex"
run decode --as krb --json "$TMP/ap_req.hex"
expect_rc "AP-REQ" 0
expect_json "AP-REQ" 'd["krb"]["kind"]' AP-REQ
expect_json "AP-REQ" 'd["krb"]["msg-type"]' 14
expect_json "AP-REQ ap-options" 'd["krb"]["ap-options"]' '["mutual-required"]'
expect_json "AP-REQ ticket" 'd["krb"]["ticket"]' \
    '{"tkt-vno": 5, "realm": "WELLKNOWN:PKU2U", "sname": {"name-type": 2, "name-string": ["TERMSRV", "AZRDOWN-W10"]}, "enc-part": {"etype": 18, "kvno": 1, "length": 32}}'
expect_json "AP-REQ authenticator" 'd["krb"]["authenticator"]' '{"etype": 18, "length": 48}'
run decode --as krb "$TMP/ap_req.hex"
expect_stdout_has "AP-REQ text" "  ap-options: 0x20000000 (mutual-required)"
expect_stdout_has "AP-REQ text" "    enc-part: etype 18 (aes256-cts-hmac-sha1-96), kvno 1, 32 bytes of ciphertext"
expect_stdout_has "AP-REQ text" "  authenticator: etype 18 (aes256-cts-hmac-sha1-96), 48 bytes of ciphertext"
run decode --as krb --json "$TMP/ap_rep.hex"
expect_rc "AP-REP" 0
expect_json "AP-REP" 'd["krb"]' \
    '{"kind": "AP-REP", "thisMech": "1.3.6.1.5.2.7", "tok-id": "0200", "pvno": 5, "msg-type": 15, "enc-part": {"etype": 18, "length": 40}}'
run decode --as krb --json "$TMP/krb_error.hex"
expect_rc "KRB-ERROR" 0
expect_json "KRB-ERROR" 'd["krb"]["kind"]' KRB-ERROR
expect_json "KRB-ERROR" '[d["krb"][k] for k in ("stime", "susec", "error-code", "realm", "e-text")]' \
    '["20220925211003Z", 123, 62, "WELLKNOWN:PKU2U", "no trust"]'
run decode --as krb "$TMP/krb_error.hex"
expect_stdout_has "KRB-ERROR text" "  error-code: 62 (KDC_ERR_CLIENT_NOT_TRUSTED)"
expect_stdout_has "KRB-ERROR text" "  stime: 20220925211003Z (2022-09-25 21:10:03 UTC)"
expect_stdout_has "KRB-ERROR text" "  e-text: no trust"

# --- --as krb: malformed tokens: exit 1, one error line, nothing on stdout -
cut_bytes "$ASREQ" 2000 >"$TMP/trunc.bin"
for mode in "" --json; do
    run decode --as krb $mode "$TMP/trunc.bin"
    expect_rc "truncated AS-REQ $mode" 1
    expect_codec_error "truncated AS-REQ $mode" DER_TRUNCATED InitialContextToken 0
done
cut_bytes "$ASREP" 14 >"$TMP/hdr.bin"
run decode --as krb "$TMP/hdr.bin"
expect_rc "framing only" 1
expect_codec_error "framing only" DER_TRUNCATED InitialContextToken 0
{ cat "$ASREQ"; printf '\000'; } >"$TMP/trail.bin"
run decode --as krb "$TMP/trail.bin"
expect_rc "trailing byte" 1
expect_codec_error "trailing byte" DER_TRAILING InitialContextToken 2356
poke "$ASREQ" 12 07 >"$TMP/tokid.bin"
run decode --as krb "$TMP/tokid.bin"
expect_rc "unknown TOK_ID" 1
expect_codec_error "unknown TOK_ID" DER_VALUE TOK_ID 12
# 0x30 -> 0x31 on the AuthPack inside the signedAuthPack: the nested decode
# fails, at the AuthPack's place in the whole token.
poke "$ASREQ" 106 31 >"$TMP/authpack.bin"
run decode --as krb "$TMP/authpack.bin"
expect_rc "broken AuthPack" 1
expect_codec_error "broken AuthPack" DER_TAG AuthPack 106
poke "$ASREQ" 2100 ff >"$TMP/body.bin"
run decode --as krb "$TMP/body.bin"
expect_rc "broken req-body" 1
expect_codec_error "broken req-body" DER_LENGTH AS-REQ 2100
: >"$TMP/empty"
run decode --as krb "$TMP/empty"
expect_rc "--as krb empty" 1
expect_codec_error "--as krb empty" EMPTY_TOKEN token 0
run decode --as krb "$WIN/win_initiator_metadata_seq1.bin"
expect_rc "--as krb on NEGOEX" 1
expect_codec_error "--as krb on NEGOEX" DER_TAG InitialContextToken 0

# --- --as pku2u-metadata: the metadata payloads ---------------------------
run decode --as pku2u-metadata --json "$WIN/win_pku2u_initiator_metadata_payload.der"
expect_rc "initiator metadata payload" 0
expect_json "initiator metadata payload" 'd["pku2u_metadata"]["kind"]' Pku2uInitiatorMetaData
expect_json "initiator metadata payload" '[c["subjectName"] for c in d["pku2u_metadata"]["trustedCertifiers"]]' \
    "[\"$P2P_2021\", \"$P2P_2021\"]"
run decode --as pku2u-metadata "$WIN/win_pku2u_acceptor_metadata_payload.der"
expect_rc "acceptor metadata payload text" 0
if [ "$(head -n 1 "$TMP/out")" = "Pku2uAcceptorMetaData, 174 bytes" ]; then ok; else
    bad "acceptor metadata text first line: '$(head -n 1 "$TMP/out")'"
fi
expect_stdout_has "acceptor metadata payload text" "    [2] ExternalPrincipalIdentifier"
expect_stdout_has "acceptor metadata payload text" "      subjectName: $TSPK"
run decode --as pku2u-metadata --json "$WIN/sspirs_debugserver_acceptor_metadata_payload.der"
expect_rc "sspi-rs metadata payload" 0
expect_json "sspi-rs metadata payload" '[c["subjectName"] for c in d["pku2u_metadata"]["trustedCertifiers"]]' "[\"$P2P_2022\"]"
cut_bytes "$WIN/win_pku2u_initiator_metadata_payload.der" 100 >"$TMP/meta_trunc.der"
run decode --as pku2u-metadata "$TMP/meta_trunc.der"
expect_rc "truncated metadata payload" 1
n=$(wc -l <"$TMP/err")
if [ "$n" -eq 1 ] && grep -qE '^negoex: error: DER_TRUNCATED: .+ \(offset [0-9]+\)$' "$TMP/err"; then ok; else
    bad "truncated metadata payload: stderr '$(cat "$TMP/err")'"
fi
expect_no_stdout "truncated metadata payload"

# --- the Windows NEGOEX metadata messages ---------------------------------
run decode --json "$WIN/win_initiator_metadata_seq1.bin"
expect_rc "initiator metadata message" 0
expect_valid_json "initiator metadata message"
M='d["negoex"][0]'
expect_json "initiator metadata" "$M[\"type\"]" INITIATOR_META_DATA
expect_json "initiator metadata" "$M[\"exchange_decoded\"][\"kind\"]" Pku2uInitiatorMetaData
expect_json "initiator metadata certifiers" "[c[\"subjectName\"] for c in $M[\"exchange_decoded\"][\"trustedCertifiers\"]]" \
    "[\"$P2P_2021\", \"$P2P_2021\"]"
expect_json "initiator metadata realm" "$M[\"exchange_decoded\"][\"target\"][\"realm\"]" WELLKNOWN:PKU2U
expect_json "initiator metadata sname" "$M[\"exchange_decoded\"][\"target\"][\"sname\"]" \
    '{"name-type": 2, "name-string": ["TERMSRV", "AZRDOWN-W10"]}'
expect_json "initiator metadata keys" "sorted($M)" \
    '["auth_scheme", "conversation_id", "exchange", "exchange_decoded", "header_length", "message_length", "offset", "seq", "type"]'
run decode "$WIN/win_initiator_metadata_seq1.bin"
expect_rc "initiator metadata text" 0
expect_stdout_has "initiator metadata text" "    exchange decoded: Pku2uInitiatorMetaData"
expect_stdout_has "initiator metadata text" "      trustedCertifiers: 2"
expect_stdout_has "initiator metadata text" "          subjectName: $P2P_2021"
expect_stdout_has "initiator metadata text" "        realm: WELLKNOWN:PKU2U"
expect_stdout_has "initiator metadata text" "        sname: TERMSRV/AZRDOWN-W10 (NT-SRV-INST, 2)"
if [ "$(grep -c '^\[' "$TMP/out")" -eq 1 ]; then ok; else bad "initiator metadata text: not one message block"; fi

run decode --json "$WIN/win_acceptor_metadata_seq3.bin"
expect_rc "acceptor metadata message" 0
M='d["negoex"][0]'
expect_json "acceptor metadata" "$M[\"exchange_decoded\"][\"kind\"]" Pku2uAcceptorMetaData
expect_json "acceptor metadata certifiers" "[c[\"subjectName\"] for c in $M[\"exchange_decoded\"][\"trustedCertifiers\"]]" \
    "[\"$P2P_2021\", \"$TSPK\", \"$TSPK\"]"
expect_json "acceptor metadata has no target" "\"target\" in $M[\"exchange_decoded\"]" false

# The SMB2 capture's SPNEGO blob: its ACCEPTOR_META_DATA too.
run decode --json "$WSP/packetgen_smb2_frame2_security_blob.hex"
expect_rc "SPNEGO blob" 0
expect_json "SPNEGO blob metadata" \
    '[c["subjectName"] for c in d["negoex"][1]["exchange_decoded"]["trustedCertifiers"]]' "[\"$TSPK\", \"$TSPK\"]"

# Non-PKU2U messages keep their keys (VERIFY; NEGO).
run decode --json "$WIN/win_initiator_verify_seq7.bin"
expect_json "verify keys" 'sorted(d["negoex"][0])' \
    '["auth_scheme", "checksum", "checksum_scheme", "checksum_type", "conversation_id", "header_length", "message_length", "offset", "seq", "type"]'

# --- synthetic AP_REQUEST / CHALLENGE around the real tokens --------------
negoex_msg 5 4 "$PKU2U" "$ASREQ" >"$TMP/apreq.bin"
negoex_msg 4 5 "$PKU2U" "$ASREP" >"$TMP/chal.bin"
cat "$TMP/apreq.bin" "$TMP/chal.bin" >"$TMP/legs.bin"
run decode --json "$TMP/legs.bin"
expect_rc "AP_REQUEST + CHALLENGE" 0
expect_valid_json "AP_REQUEST + CHALLENGE"
cp "$TMP/out" "$TMP/legs.json"
expect_json "legs types" '[m["type"] for m in d["negoex"]]' '["AP_REQUEST", "CHALLENGE"]'
expect_json "legs kinds" '[m["exchange_decoded"]["kind"] for m in d["negoex"]]' '["AS-REQ", "AS-REP"]'
expect_json "AP_REQUEST exchange = token" 'len(d["negoex"][0]["exchange"]) // 2' 2356
expect_json "AP_REQUEST keys" 'sorted(d["negoex"][0])' \
    '["auth_scheme", "conversation_id", "exchange", "exchange_decoded", "header_length", "message_length", "offset", "seq", "type"]'
expect_json "AP_REQUEST cname" 'd["negoex"][0]["exchange_decoded"]["req-body"]["cname"]["name-type"]' -128
expect_json "AP_REQUEST etype" 'd["negoex"][0]["exchange_decoded"]["req-body"]["etype"]' "$ETYPES"
expect_json "CHALLENGE enc-part" 'd["negoex"][1]["exchange_decoded"]["enc-part"]' '{"etype": 18, "length": 253}'
# exchange_decoded is what --as krb gives for the token alone.
if "$PY" - "$TMP/legs.json" "$TMP/asreq.json" <<'EOF'
import json, sys
legs = json.load(open(sys.argv[1]))
alone = json.load(open(sys.argv[2]))
sys.exit(legs["negoex"][0]["exchange_decoded"] != alone["krb"])
EOF
then ok; else bad "AP_REQUEST exchange_decoded differs from --as krb"; fi

run decode "$TMP/legs.bin"
expect_rc "legs text" 0
expect_stdout_has "legs text" "[0] AP_REQUEST conv 00112233-4455-6677-8899-aabbccddeeff 2420 bytes"
expect_stdout_has "legs text" "    exchange decoded: PKU2U AS-REQ"
expect_stdout_has "legs text" "      msg-type: 10 (KRB_AS_REQ)"
expect_stdout_has "legs text" "        cname: $CLIENT (NT-MS-PRINCIPAL, -128)"
expect_stdout_has "legs text" "    exchange decoded: PKU2U AS-REP"
expect_stdout_has "legs text" "      enc-part: etype 18 (aes256-cts-hmac-sha1-96), 253 bytes of ciphertext"
if [ "$(grep -c '^\[' "$TMP/out")" -eq 2 ]; then ok; else bad "legs text: not two message blocks"; fi

# The third and fourth legs: AP_REQUEST with the AP-REQ, CHALLENGE with the AP-REP.
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' "$TMP/ap_req.hex" >"$TMP/ap_req.bin"
"$PY" -c 'import sys; sys.stdout.buffer.write(bytes.fromhex(open(sys.argv[1]).read()))' "$TMP/ap_rep.hex" >"$TMP/ap_rep.bin"
negoex_msg 5 6 "$PKU2U" "$TMP/ap_req.bin" >"$TMP/leg5.bin"
negoex_msg 4 8 "$PKU2U" "$TMP/ap_rep.bin" >"$TMP/leg6.bin"
cat "$TMP/leg5.bin" "$WIN/win_initiator_verify_seq7.bin" "$TMP/leg6.bin" >"$TMP/legs56.bin"
run decode --json "$TMP/legs56.bin"
expect_rc "AP-REQ / AP-REP legs" 0
expect_json "AP-REQ / AP-REP legs" '[(m["type"], m.get("exchange_decoded", {}).get("kind")) for m in d["negoex"]]' \
    '[["AP_REQUEST", "AP-REQ"], ["VERIFY", null], ["CHALLENGE", "AP-REP"]]'

# The documented PKU2U GUID is PKU2U too.
negoex_msg 5 4 "$PKU2U_DOC" "$ASREQ" >"$TMP/apreq_doc.bin"
run decode --json "$TMP/apreq_doc.bin"
expect_rc "documented GUID" 0
expect_json "documented GUID" 'd["negoex"][0]["exchange_decoded"]["kind"]' AS-REQ
run decode "$TMP/apreq_doc.bin"
expect_stdout_has "documented GUID text" "auth scheme: $PKU2U_DOC (PKU2U (documented GUID))"
expect_stdout_has "documented GUID text" "exchange decoded: PKU2U AS-REQ"

# Another scheme: the payload stays opaque, the keys as before.
negoex_msg 5 4 c0a28569-66ac-0000-0000-000000000000 "$ASREQ" >"$TMP/apreq_other.bin"
run decode --json "$TMP/apreq_other.bin"
expect_rc "other scheme" 0
expect_json "other scheme keys" 'sorted(d["negoex"][0])' \
    '["auth_scheme", "conversation_id", "exchange", "header_length", "message_length", "offset", "seq", "type"]'
run decode "$TMP/apreq_other.bin"
if grep -q "exchange decoded" "$TMP/out"; then bad "other scheme text: decoded"; else ok; fi

# A broken PKU2U payload: the NEGOEX layer is valid, shown with the reason.
negoex_msg 5 4 "$PKU2U" "$TMP/trunc.bin" >"$TMP/apreq_bad.bin"
run decode --json "$TMP/apreq_bad.bin"
expect_rc "broken exchange json" 0
expect_valid_json "broken exchange json"
expect_json "broken exchange" 'd["negoex"][0]["type"]' AP_REQUEST
expect_json "broken exchange" '"exchange_decoded" in d["negoex"][0]' false
expect_json "broken exchange error" 'd["negoex"][0]["exchange_error"]["error"]' DER_TRUNCATED
expect_json "broken exchange field" 'd["negoex"][0]["exchange_error"]["field"]' InitialContextToken
expect_json "broken exchange offset" 'd["negoex"][0]["exchange_error"]["offset"]' 0
expect_json "broken exchange decoding" 'd["negoex"][0]["exchange_error"]["decoding"]' "PKU2U token"
if [ -s "$TMP/err" ]; then bad "broken exchange json: stderr '$(cat "$TMP/err")'"; else ok; fi
run decode "$TMP/apreq_bad.bin"
expect_rc "broken exchange text" 0
expect_stdout_has "broken exchange text" \
    "    exchange decoded: not a valid PKU2U token: DER_TRUNCATED: DER element runs past the end of its container in InitialContextToken (offset 0 in the exchange)"
negoex_msg 5 4 "$PKU2U" "$TMP/authpack.bin" >"$TMP/apreq_authpack.bin"
run decode --json "$TMP/apreq_authpack.bin"
expect_rc "broken AuthPack in exchange" 0
expect_json "broken AuthPack in exchange" 'd["negoex"][0]["exchange_error"]' \
    '{"decoding": "PKU2U token", "error": "DER_TAG", "message": "unexpected DER tag, or a field repeated or out of order", "field": "AuthPack", "offset": 106}'
# A metadata message whose payload is not PKU2U metadata.
negoex_msg 2 1 "$PKU2U" "$TMP/meta_trunc.der" >"$TMP/meta_bad.bin"
run decode --json "$TMP/meta_bad.bin"
expect_rc "broken metadata message" 0
expect_json "broken metadata message" 'd["negoex"][0]["exchange_error"]["decoding"]' "PKU2U metadata"
expect_json "broken metadata message" 'd["negoex"][0]["exchange_error"]["error"]' DER_TRUNCATED

# --- --as negoex / --as spnego force the kind -----------------------------
run decode --as negoex --json "$TMP/legs.bin"
expect_rc "--as negoex" 0
expect_same_stdout "--as negoex" "$TMP/legs.json"
run decode --as spnego "$TMP/legs.bin"
expect_rc "--as spnego on NEGOEX" 1
expect_no_stdout "--as spnego on NEGOEX"
run decode --as negoex "$WSP/packetgen_smb2_frame2_security_blob.hex"
expect_rc "--as negoex on SPNEGO" 1
expect_codec_error "--as negoex on SPNEGO" BAD_SIGNATURE Signature 0

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
