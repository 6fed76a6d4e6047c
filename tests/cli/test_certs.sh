#!/bin/sh
# CLI tests for `negoex certs`: the test PKI it writes, checked with the
# openssl tool (not with libnegoex): the files and their modes, the subjects,
# SANs, EKUs and key usages, the chain (`openssl verify -CAfile`, with the
# client / server purposes), the validity windows, keys matching
# certificates, the PKCS#12 files, the Windows-exact CA, and bad options.
# usage: sh test_certs.sh <path-to-negoex> <vectors-dir>
set -u

. "$(dirname "$0")/common.sh"
cli_args "$@"

if ! command -v openssl >/dev/null 2>&1; then
    echo "$0: the openssl tool is needed (scripts/install-deps installs it)" >&2
    exit 1
fi

expect_file() { # what path
    if [ -s "$2" ]; then ok; else bad "$1: $2 missing or empty"; fi
}

expect_no_file() { # what path
    if [ -e "$2" ]; then bad "$1: $2 should not exist"; else ok; fi
}

expect_mode() { # what path ls-mode (e.g. -rw-------)
    m=$(ls -l "$2" 2>/dev/null | cut -c1-10)
    if [ "$m" = "$3" ]; then ok; else bad "$1: $2 has mode '$m', expected '$3'"; fi
}

# ossl what ARGS...: runs openssl, output in $TMP/ossl, status in $orc.
ossl() {
    what=$1
    shift
    openssl "$@" >"$TMP/ossl" 2>&1
    orc=$?
}

expect_orc() { # what expected
    if [ "$orc" -eq "$2" ]; then ok; else bad "$1: openssl exit $orc, expected $2: $(head -c 300 "$TMP/ossl")"; fi
}

expect_ossl_has() { # what fixed-string
    if grep -qF -- "$2" "$TMP/ossl"; then ok; else bad "$1: openssl output lacks '$2'"; fi
}

expect_ossl_lacks() { # what fixed-string
    if grep -qF -- "$2" "$TMP/ossl"; then bad "$1: openssl output has '$2'"; else ok; fi
}

expect_ossl_re() { # what extended-regex
    if grep -qE -- "$2" "$TMP/ossl"; then ok; else
        bad "$1: openssl output does not match '$2': $(head -c 300 "$TMP/ossl")"
    fi
}

# seconds FILE: notAfter - notBefore of a certificate.
span() {
    openssl x509 -noout -startdate -enddate -in "$1" | "$PY" -c '
import sys, datetime
d = dict(l.strip().split("=", 1) for l in sys.stdin)
f = "%b %d %H:%M:%S %Y GMT"
p = lambda s: datetime.datetime.strptime(" ".join(s.split()), f)
print(int((p(d["notAfter"]) - p(d["notBefore"])).total_seconds()))'
}

expect_span() { # what file seconds
    got=$(span "$2")
    if [ "$got" = "$3" ]; then ok; else bad "$1: validity of $2 spans '$got' s, expected $3"; fi
}

# The public key of a certificate and of a private key file, compared.
expect_key_matches() { # what cert key
    a=$(openssl x509 -noout -pubkey -in "$2" 2>/dev/null)
    b=$(openssl pkey -pubout -in "$3" 2>/dev/null)
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok; else bad "$1: $3 is not the key of $2"; fi
}

# ------------------------------------------------------------------------
# A PKI with every option given
# ------------------------------------------------------------------------

D=$TMP/pki
run certs --out "$D" --upn bob@contoso.test --host peer.contoso.test --bits 1024 --p12-password 's3cret pw'
expect_rc "certs" 0
for f in ca.pem user.pem user.key device.pem device.key user.p12 device.p12; do
    expect_file "certs" "$D/$f"
    expect_stdout_has "certs lists $f" "$D/$f"
done
expect_mode "ca.pem" "$D/ca.pem" "-rw-r--r--"
expect_mode "user.pem" "$D/user.pem" "-rw-r--r--"
expect_mode "user.key" "$D/user.key" "-rw-------"
expect_mode "device.key" "$D/device.key" "-rw-------"
expect_mode "user.p12" "$D/user.p12" "-rw-------"
expect_mode "device.p12" "$D/device.p12" "-rw-------"

# What it printed: subjects, SANs, EKUs.
expect_stdout_has "printed CA subject" "subject:  CN=MS-Organization-P2P-Access ["
expect_stdout_has "printed CA shape" "basicConstraints CA:TRUE"
expect_stdout_has "printed user subject" "subject:  CN=bob@contoso.test,CN=S-1-12-1-"
expect_stdout_has "printed user SAN" "san:      UPN:bob@contoso.test"
expect_stdout_has "printed user EKU" "eku:      clientAuth (1.3.6.1.5.5.7.3.2)"
expect_stdout_has "printed device SAN" "san:      DNS:peer.contoso.test"
expect_stdout_has "printed device EKU" "eku:      serverAuth (1.3.6.1.5.5.7.3.1)"
expect_stdout_has "printed key size" "key:      RSA 1024"
expect_stdout_has "printed p12" "PKCS#12: user.pem + user.key + ca.pem"
if grep -qE '^  issuer:   CN=MS-Organization-P2P-Access \[[0-9]{4}\]$' "$TMP/out"; then ok; else
    bad "printed issuer"
fi
cp "$TMP/out" "$TMP/first-out"

# The CA: self-signed, a CA by OpenSSL's rules, a BMPString CN.
ossl "ca text" x509 -noout -text -in "$D/ca.pem"
expect_orc "ca text" 0
expect_ossl_re "ca subject" "Subject: CN ?= ?MS-Organization-P2P-Access \[[0-9]{4}\]"
expect_ossl_re "ca issuer" "Issuer: CN ?= ?MS-Organization-P2P-Access \[[0-9]{4}\]"
expect_ossl_has "ca version" "Version: 3 (0x2)"
expect_ossl_has "ca signature" "sha256WithRSAEncryption"
expect_ossl_has "ca bits" "(1024 bit)"
expect_ossl_has "ca basic constraints" "CA:TRUE"
expect_ossl_has "ca key usage" "Certificate Sign, CRL Sign"
expect_ossl_has "ca key id" "Subject Key Identifier"
ossl "ca asn1" asn1parse -in "$D/ca.pem"
expect_ossl_has "ca CN is a BMPString" "BMPSTRING"

# The user certificate.
ossl "user text" x509 -noout -text -in "$D/user.pem"
expect_orc "user text" 0
expect_ossl_re "user UPN SAN" "othername: ?UPN:+bob@contoso.test"
expect_ossl_has "user EKU" "TLS Web Client Authentication"
expect_ossl_lacks "user no server EKU" "TLS Web Server Authentication"
expect_ossl_has "user key usage" "Digital Signature, Key Encipherment"
expect_ossl_has "user app policies" "1.3.6.1.4.1.311.21.10"
expect_ossl_lacks "user not a CA" "CA:TRUE"
ossl "user subject" x509 -noout -subject -nameopt RFC2253 -in "$D/user.pem"
SID_RE='S-1-12-1-[0-9]+-[0-9]+-[0-9]+-[0-9]+'
GUID4_RE='[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}'
expect_ossl_re "user subject" "^subject=CN=bob@contoso.test,CN=$SID_RE,DC=$GUID4_RE\$"
tenant=$(sed -n 's/.*,DC=//p' "$TMP/ossl")

# The device certificate: the same tenant.
ossl "device text" x509 -noout -text -in "$D/device.pem"
expect_orc "device text" 0
expect_ossl_has "device DNS SAN" "DNS:peer.contoso.test"
expect_ossl_has "device EKU" "TLS Web Server Authentication"
expect_ossl_lacks "device no client EKU" "TLS Web Client Authentication"
expect_ossl_lacks "device no UPN" "UPN"
ossl "device subject" x509 -noout -subject -nameopt RFC2253 -in "$D/device.pem"
expect_ossl_re "device subject" "^subject=CN=[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12},DC=$tenant$"

# Issuer = the CA's subject.
ca_subject=$(openssl x509 -noout -subject -nameopt RFC2253 -in "$D/ca.pem" | sed 's/^subject=//')
for c in user device; do
    ossl "$c issuer" x509 -noout -issuer -nameopt RFC2253 -in "$D/$c.pem"
    expect_ossl_has "$c issuer" "issuer=$ca_subject"
done

# The chain, and each certificate's purpose.
ossl "verify" verify -CAfile "$D/ca.pem" "$D/user.pem" "$D/device.pem"
expect_orc "verify" 0
expect_ossl_has "verify user" "$D/user.pem: OK"
expect_ossl_has "verify device" "$D/device.pem: OK"
ossl "verify x509_strict" verify -x509_strict -CAfile "$D/ca.pem" "$D/user.pem" "$D/device.pem"
expect_orc "verify x509_strict" 0
ossl "verify user as client" verify -purpose sslclient -CAfile "$D/ca.pem" "$D/user.pem"
expect_orc "verify user as client" 0
ossl "verify device as server" verify -purpose sslserver -CAfile "$D/ca.pem" "$D/device.pem"
expect_orc "verify device as server" 0
ossl "verify user as server" verify -purpose sslserver -CAfile "$D/ca.pem" "$D/user.pem"
expect_orc "verify user as server" 2
ossl "verify device as client" verify -purpose sslclient -CAfile "$D/ca.pem" "$D/device.pem"
expect_orc "verify device as client" 2
ossl "verify without the CA" verify -CAfile "$D/user.pem" "$D/device.pem"
expect_orc "verify without the CA" 2

# Validity: Windows' spans (1 hour / 1 day after now, 5 minutes before).
expect_span "user validity" "$D/user.pem" 3900
expect_span "device validity" "$D/device.pem" 86700
expect_span "ca validity" "$D/ca.pem" $((365 * 86400 + 300))
ossl "user valid now" x509 -noout -checkend 0 -in "$D/user.pem"
expect_orc "user valid now" 0
ossl "user expires within 2 hours" x509 -noout -checkend 7200 -in "$D/user.pem"
expect_orc "user expires within 2 hours" 1

# Keys.
expect_key_matches "user key" "$D/user.pem" "$D/user.key"
expect_key_matches "device key" "$D/device.pem" "$D/device.key"
ossl "user key" pkey -noout -text -in "$D/user.key"
expect_ossl_has "user key size" "Private-Key: (1024 bit"
if head -1 "$D/user.key" | grep -qx -- "-----BEGIN PRIVATE KEY-----"; then ok; else bad "user.key is not PKCS#8 PEM"; fi

# PKCS#12: certificate + key + CA under the password; a wrong one fails.
ossl "user p12" pkcs12 -in "$D/user.p12" -passin 'pass:s3cret pw' -nodes
expect_orc "user p12" 0
expect_ossl_has "user p12 key" "BEGIN PRIVATE KEY"
expect_ossl_re "user p12 cert" "subject=.*bob@contoso.test"
expect_ossl_re "user p12 ca" "subject=.*MS-Organization-P2P-Access"
ossl "device p12" pkcs12 -in "$D/device.p12" -passin 'pass:s3cret pw' -nokeys -clcerts
expect_orc "device p12" 0
expect_ossl_has "device p12 cert" "BEGIN CERTIFICATE"
ossl "p12 wrong password" pkcs12 -in "$D/user.p12" -passin pass:wrong -nokeys
expect_orc "p12 wrong password" 1

# Again into the same directory: replaced, another PKI.
run certs --out "$D" --bits 1024
expect_rc "certs again" 0
if cmp -s "$TMP/out" "$TMP/first-out"; then bad "certs again printed the same"; else ok; fi
ossl "verify again" verify -CAfile "$D/ca.pem" "$D/user.pem" "$D/device.pem"
expect_orc "verify again" 0
expect_key_matches "user key again" "$D/user.pem" "$D/user.key"

# ------------------------------------------------------------------------
# Defaults, --days, no PKCS#12
# ------------------------------------------------------------------------

D2=$TMP/dflt
run certs --out "$D2"
expect_rc "defaults" 0
expect_stdout_has "default UPN" "san:      UPN:alice@contoso.test"
expect_stdout_has "default host" "san:      DNS:localhost"
expect_stdout_has "default size" "key:      RSA 2048"
expect_no_file "no p12 without a password" "$D2/user.p12"
expect_no_file "no p12 without a password" "$D2/device.p12"
expect_no_file "the CA key stays in memory" "$D2/ca.key"
ossl "defaults verify" verify -CAfile "$D2/ca.pem" "$D2/user.pem" "$D2/device.pem"
expect_orc "defaults verify" 0
ossl "default bits" x509 -noout -text -in "$D2/device.pem"
expect_ossl_has "default bits" "(2048 bit)"

D3=$TMP/days
run certs --out "$D3" --days 3 --bits 1024 --host 192.168.0.109
expect_rc "--days" 0
expect_span "--days user" "$D3/user.pem" $((3 * 86400 + 300))
expect_span "--days device" "$D3/device.pem" $((3 * 86400 + 300))
ossl "IP literal as dNSName" x509 -noout -text -in "$D3/device.pem"
expect_ossl_has "IP literal as dNSName" "DNS:192.168.0.109"
run certs --out "$TMP/long" --days 1000 --bits 1024
expect_rc "--days 1000" 0
expect_span "--days 1000 CA stretched" "$TMP/long/ca.pem" $((1000 * 86400 + 300))

# ------------------------------------------------------------------------
# The Windows-exact CA: only a key identifier, which OpenSSL refuses
# ------------------------------------------------------------------------

D4=$TMP/win
run certs --out "$D4" --windows-ca --bits 1024
expect_rc "--windows-ca" 0
expect_stdout_has "--windows-ca printed" "subjectKeyIdentifier only"
ossl "--windows-ca text" x509 -noout -text -in "$D4/ca.pem"
expect_ossl_has "--windows-ca key id" "Subject Key Identifier"
expect_ossl_lacks "--windows-ca no basic constraints" "Basic Constraints"
expect_ossl_lacks "--windows-ca no key usage" "Key Usage"
ossl "--windows-ca leaf" x509 -noout -text -in "$D4/user.pem"
expect_ossl_lacks "--windows-ca leaf without AKI" "Authority Key Identifier"
ossl "--windows-ca verify" verify -CAfile "$D4/ca.pem" "$D4/user.pem"
expect_orc "--windows-ca verify" 2
expect_ossl_has "--windows-ca verify" "invalid CA certificate"

# ------------------------------------------------------------------------
# Options
# ------------------------------------------------------------------------

run certs --help
expect_rc "--help" 0
expect_stdout_has "--help" "usage: negoex certs --out DIR"
run help certs
expect_rc "help certs" 0
run --help
expect_stdout_has "listed" "certs"

run certs
expect_rc "no --out" 2
expect_stderr_has "no --out" "--out DIR is required"
expect_no_stdout "no --out"
run certs --out
expect_rc "--out without value" 2
expect_stderr_has "--out without value" "--out needs a value"
run certs --out "$TMP/x" --frobnicate
expect_rc "unknown option" 2
expect_stderr_has "unknown option" "unknown option '--frobnicate'"
for b in 512 1023 8193 abc -1 ''; do
    run certs --out "$TMP/x" --bits "$b"
    expect_rc "--bits '$b'" 2
    expect_stderr_has "--bits '$b'" "--bits takes a key size from 1024 to 8192"
done
for d in 0 -1 x 36501; do
    run certs --out "$TMP/x" --days "$d"
    expect_rc "--days '$d'" 2
    expect_stderr_has "--days '$d'" "--days takes a number of days"
done
for h in '*.example.com' 'a b' ''; do
    run certs --out "$TMP/x" --host "$h" --bits 1024
    expect_rc "--host '$h'" 2
    expect_stderr_has "--host '$h'" "invalid --host value"
done
run certs --out "$TMP/x" --upn '' --bits 1024
expect_rc "--upn ''" 2
expect_stderr_has "--upn ''" "invalid --upn value"
expect_no_file "nothing written on bad options" "$TMP/x"

run certs --out "$TMP/missing/parent/pki" --bits 1024
expect_rc "missing parent" 2
expect_stderr_has "missing parent" "No such file or directory"
expect_no_stdout "missing parent"
: >"$TMP/plainfile"
run certs --out "$TMP/plainfile" --bits 1024
expect_rc "--out a file" 2
expect_no_stdout "--out a file"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
