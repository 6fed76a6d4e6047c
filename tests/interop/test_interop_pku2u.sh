#!/bin/sh
# Live PKU2U interop with MIT krb5: MIT's SPNEGO/NEGOEX (mit_peer) with the
# project's GSS module serving PKU2U (mechanism 1.3.6.1.5.2.7, credentials
# from NEGOEX_PKU2U_* environment variables) against libnegoex's native
# stack (`negoex initiate|accept --scheme pku2u`), in both directions and
# both NEGOEX forms, each conversation relayed by relay.py.
#
# usage: sh test_interop_pku2u.sh NEGOEX MIT_PEER MODULE_SO RELAY_PY
#   NEGOEX      the negoex tool (build/negoex)
#   MIT_PEER    tests/interop/mit_peer, or - to run only libnegoex -> libnegoex
#   MODULE_SO   the GSS mechanism module (gss/negoex_gss.so), or - (likewise)
#   RELAY_PY    tests/interop/relay.py
#
# A test PKI comes from `negoex certs` (CA, user with UPN alice@contoso.test,
# device with dNSName localhost), a second one for the wrong-CA cases.
# verify_log cannot recompute PKU2U's VERIFYs (their keys are the session
# subkeys), so each established conversation is checked by:
#   - both sides COMPLETE (relay.py), and MIT having checked our VERIFY;
#   - the peer identities: the acceptor names the user (libnegoex
#     `PEER UPN alice@contoso.test`, mit_peer `peer alice@contoso.test`),
#     the initiator the device (`PEER DNS localhost`, `peer localhost`);
#   - every token decoding with `negoex decode --json`, its PKU2U messages
#     in exchange_decoded: exactly AS-REQ, AS-REP, AP-REQ, AP-REP in that
#     order, the metadata's target sname, the form (the AS-REQ in the first
#     token or not, round trips), and where asked the DH group and SPNEGO
#     mechListMICs both ways (the module's gss_get_mic / gss_verify_mic).
# The failures (wrong CA on either side, wrong host, clock skew) must fail
# cleanly on both sides (relay.py --expect-fail: no hang, no signal) with
# the error named on the side that checked (or in the KRB-ERROR it sent).
# INTEROP_KEEP=DIR keeps the logs; INTEROP_ONLY=WORD runs the conversations
# whose name has WORD. Prints `N passed, M failed`; exits 1 if anything failed.
set -u
set -f # option lists are split on spaces, never globbed

if [ $# -ne 4 ]; then
    echo "usage: sh $0 NEGOEX MIT_PEER MODULE_SO RELAY_PY" >&2
    exit 2
fi
NEGOEX=$1
MIT_PEER=$2
MODULE=$3
RELAY=$4

. "$(dirname "$0")/common.sh"
interop_setup
if ! "$NEGOEX" initiate --help 2>&1 | grep -q -- '--cert'; then
    echo "$0: $NEGOEX initiate has no PKU2U options (--scheme pku2u --cert ...)" >&2
    exit 2
fi

# --- the PKIs ---------------------------------------------------------------
# pki: both sides' identities and CA; other: another CA of the same name (a
# wrong trust anchor); cadir: a directory holding only pki's CA.
for d in pki other; do
    if ! "$NEGOEX" certs --out "$TMP/$d" --p12-password secret > "$TMP/$d.out" 2>&1; then
        echo "$0: negoex certs failed: $(cat "$TMP/$d.out")" >&2
        exit 1
    fi
done
P=$TMP/pki
W=$TMP/other
mkdir -p "$TMP/cadir" && cp "$P/ca.pem" "$TMP/cadir/p2p-ca.pem" || exit 2
UPN=alice@contoso.test
HOST=localhost
PKU2U=1.3.6.1.5.2.7

# MIT loads the module through a mech config file; the module reads the
# PKU2U credentials from each process's environment (relay --ienv/--aenv).
cat > "$TMP/mech.conf" <<EOF
pku2u $PKU2U $MODULE
EOF
export GSS_MECH_CONFIG="$TMP/mech.conf"
export KRB5_CONFIG=/dev/null
export KRB5_TRACE=/dev/stderr # MIT's NEGOEX trace goes to LOG.*.err
export NEGOEX_GSS_TRACE=1     # the module's failures too
unset NEGOEX_NO_OPTIMISTIC_TOKEN NEGOEX_PKU2U_CERT NEGOEX_PKU2U_KEY NEGOEX_PKU2U_CA NEGOEX_PKU2U_TARGET \
    NEGOEX_PKU2U_HOST NEGOEX_PKU2U_TIME NEGOEX_PKU2U_PASSWORD NEGOEX_PKU2U_DH_GROUP

# The tokens of a relay log, decoded with `negoex decode --json`, as
# key=value lines: i2a/a2i (token counts), first (the message types of the
# first token), kinds (the PKU2U messages in wire order), sname (of the
# initiator's metadata), dh (the AS-REQ's group), mic (directions that
# carried a mechListMIC), errors (tokens that did not decode, payloads with
# an exchange_error).
cat > "$TMP/summary.py" <<'EOF'
import json, subprocess, sys

negoex, log = sys.argv[1], sys.argv[2]
count = {"i2a": 0, "a2i": 0}
first, kinds, sname, dh, mic, errors = None, [], "-", "-", [], []

def find(obj, key):
    if isinstance(obj, dict):
        if key in obj:
            return obj[key]
        obj = list(obj.values())
    if isinstance(obj, list):
        for v in obj:
            r = find(v, key)
            if r is not None:
                return r
    return None

for line in open(log):
    parts = line.split()
    if len(parts) != 2 or parts[0] not in count:
        continue
    d, hexdata = parts
    count[d] += 1
    p = subprocess.run([negoex, "decode", "--json"], input=hexdata.encode(), capture_output=True)
    if p.returncode != 0:
        errors.append("%s token %d: %s" % (d, count[d], p.stderr.decode(errors="replace").strip()))
        continue
    j = json.loads(p.stdout)
    if "mech_list_mic" in j.get("spnego", {}) and d not in mic:
        mic.append(d)
    msgs = j.get("negoex", [])
    if first is None:
        first = "+".join(m["type"] for m in msgs) or "-"
    for m in msgs:
        if "exchange_error" in m:
            errors.append("%s %s: %s" % (d, m["type"], m["exchange_error"]))
        x = m.get("exchange_decoded")
        if x is None:
            continue
        if m["type"] in ("AP_REQUEST", "CHALLENGE"):
            kinds.append(x.get("kind", "?"))
            if x.get("kind") == "AS-REQ":
                g = find(x, "dh-group")
                dh = str(g) if g is not None else "?"
        elif m["type"] == "INITIATOR_META_DATA":
            s = find(x, "name-string")
            sname = "/".join(s) if s else "?"
print("i2a=%d" % count["i2a"])
print("a2i=%d" % count["a2i"])
print("first=%s" % (first or "-"))
print("kinds=%s" % (",".join(kinds) or "-"))
print("sname=%s" % sname)
print("dh=%s" % dh)
print("mic=%s" % (",".join(sorted(mic, reverse=True)) or "-"))
print("errors=%s" % ("; ".join(errors) or "-"))
EOF

# Shows what a failed conversation left behind.
show() { # log
    for f in "$1" "$1.relay" "$1.initiator.err" "$1.acceptor.err" "$1.summary"; do
        [ -s "$f" ] || continue
        echo "  --- $(basename "$f") (last lines)" >&2
        grep -v '^[ia]2[ia] \|> TOKEN ' "$f" | tail -n 8 | cut -c1-240 | sed 's/^/  /' >&2
    done
}

# --- conversations -----------------------------------------------------------
# A conversation is set in these variables, then `conversation NAME IKIND
# AKIND` (kinds mit or nx) runs and checks it:
#   I_ENV / A_ENV  environment of an MIT initiator / acceptor (KEY=VAL ...)
#   I_MIT / A_MIT  mit_peer options for that role
#   I_NX / A_NX    negoex options for that role
#   EXPECT         ok | fail (fail: both sides must fail cleanly)
#   FORM           opt (the AS-REQ in the first token, 2 round trips) |
#                  win (metadata first, 3 round trips) | - (not checked)
#   SNAME          the target sname the initiator's metadata must carry
#   DH             the DH group of the AS-REQ (2 or 14; - not checked)
#   MIC            1: both directions carried a SPNEGO mechListMIC
#   MITMIT         1: also MIT -> MIT (pairs)
#   I_ERR / A_ERR  fail: a word the initiator's / acceptor's last STATUS
#                  must contain (an MIT acceptor: the module's trace line);
#                  - not checked
#   I_TRACE / A_TRACE  fail: a text an MIT side's `negoex_gss:` trace lines
#                  must contain (- not checked)
mit_initiator_env() { # PKI-dir CA
    echo "NEGOEX_PKU2U_CERT=$1/user.pem NEGOEX_PKU2U_KEY=$1/user.key NEGOEX_PKU2U_CA=$2"
}
mit_acceptor_env() { # PKI-dir CA
    echo "NEGOEX_PKU2U_CERT=$1/device.pem NEGOEX_PKU2U_KEY=$1/device.key NEGOEX_PKU2U_CA=$2"
}
new_conversation() {
    I_ENV=$(mit_initiator_env "$P" "$P/ca.pem")
    A_ENV=$(mit_acceptor_env "$P" "$P/ca.pem")
    I_MIT="--mech $PKU2U --target TERMSRV@$HOST"
    A_MIT="--mech $PKU2U"
    I_NX="--scheme pku2u --cert $P/user.pem --key $P/user.key --ca $P/ca.pem --target TERMSRV/$HOST"
    A_NX="--scheme pku2u --cert $P/device.pem --key $P/device.key --ca $P/ca.pem"
    EXPECT=ok FORM=- SNAME=TERMSRV/$HOST DH=2 MIC=0 I_ERR=- A_ERR=- I_TRACE=- A_TRACE=- MITMIT=0
}

# value KEY FILE: the KEY=value line of a summary.
value() { sed -n "s/^$1=//p" "$2"; }

# shellcheck disable=SC2086
conversation() {
    name=$1
    ikind=$2
    akind=$3
    case $name in *"$ONLY"*) ;; *) return 0 ;; esac
    log=$LOGS/$(echo "$name" | tr -c 'A-Za-z0-9\n' '-' | tr -s '-').$ikind-$akind.log
    label="$name ($ikind -> $akind)"
    if relay "$ikind" "$akind" "$log" -v; then
        ok
    else
        bad "$label: relay: $(tail -n 1 "$log.relay")"
        show "$log"
        return 0
    fi
    "$PY" "$TMP/summary.py" "$NEGOEX" "$log" > "$log.summary" 2>&1 || {
        bad "$label: decoding the tokens: $(tail -n 3 "$log.summary")"
        return 0
    }
    errors=$(value errors "$log.summary")
    if [ "$errors" = - ]; then ok; else bad "$label: tokens that do not decode: $errors"; fi

    if [ "$EXPECT" = fail ]; then
        for side in initiator acceptor; do
            if [ "$side" = initiator ]; then word=$I_ERR kind=$ikind; else word=$A_ERR kind=$akind; fi
            [ "$word" = - ] && continue
            if [ "$side" = acceptor ] && [ "$kind" = mit ]; then
                # MIT's acceptor sends the KRB-ERROR on and ends on the
                # initiator's reject, so its STATUS says nothing of PKU2U:
                # the module's trace names the failure.
                line=$(grep "^negoex_gss: pku2u acceptor: " "$log.acceptor.err" | tail -n 1)
            else
                line=$(grep "^result $side " "$log")
            fi
            case $line in
            *"$word"*) ok ;;
            *) bad "$label: the $side's error does not name $word: $line" ;;
            esac
        done
        for side in initiator acceptor; do
            if [ "$side" = initiator ]; then word=$I_TRACE; else word=$A_TRACE; fi
            [ "$word" = - ] && continue
            if grep "^negoex_gss: " "$log.$side.err" | grep -q -F -- "$word"; then
                ok
            else
                bad "$label: the $side's module trace does not name $word"
                show "$log"
            fi
        done
        return 0
    fi

    # Established: the PKU2U exchange, once, in order.
    kinds=$(value kinds "$log.summary")
    if [ "$kinds" = AS-REQ,AS-REP,AP-REQ,AP-REP ]; then ok; else bad "$label: PKU2U messages $kinds"; fi
    sname=$(value sname "$log.summary")
    if [ "$sname" = "$SNAME" ]; then ok; else bad "$label: metadata target $sname, expected $SNAME"; fi
    if [ "$DH" != - ]; then
        dh=$(value dh "$log.summary")
        if [ "$dh" = "$DH" ]; then ok; else bad "$label: AS-REQ DH group $dh, expected $DH"; fi
    fi
    first=$(value first "$log.summary")
    i2a=$(value i2a "$log.summary")
    case $FORM in
    opt)
        case "$first,$i2a" in
        *AP_REQUEST*,2) ok ;;
        *) bad "$label: not the optimistic form: first token $first, $i2a initiator tokens" ;;
        esac ;;
    win)
        case "$first,$i2a" in
        *AP_REQUEST*) bad "$label: not the Windows form: the first token has an AP_REQUEST ($first)" ;;
        *,3) ok ;;
        *) bad "$label: Windows form: $i2a initiator tokens, expected 3" ;;
        esac ;;
    esac
    if [ "$MIC" = 1 ]; then
        mic=$(value mic "$log.summary")
        if [ "$mic" = i2a,a2i ]; then ok; else bad "$label: mechListMIC sent in $mic, expected both directions"; fi
    fi

    # The peers' identities.
    if [ "$ikind" = nx ]; then
        pat="^initiator> PEER DNS $HOST\$" where=$log.relay
    else
        pat="^mit_peer: peer $HOST\$" where=$log.initiator.err
    fi
    if grep -q "$pat" "$where"; then ok; else bad "$label: the initiator did not name the device $HOST"; show "$log"; fi
    if [ "$akind" = nx ]; then
        pat="^acceptor> PEER UPN $UPN\$" where=$log.relay
    else
        pat="^mit_peer: peer $UPN\$" where=$log.acceptor.err
    fi
    if grep -q "$pat" "$where"; then ok; else bad "$label: the acceptor did not name the user $UPN"; show "$log"; fi
    # MIT checked the peer's VERIFY (its trace names it; no ALERT instead).
    for side in initiator acceptor; do
        if [ "$side" = initiator ]; then kind=$ikind; else kind=$akind; fi
        [ "$kind" = mit ] || continue
        if grep -q 'NegoEx received \[[0-9]*\]VERIFY' "$log.$side.err" &&
            ! grep -q 'NegoEx .*ALERT' "$log.$side.err"; then
            ok
        else
            bad "$label: MIT $side received no VERIFY (or an ALERT)"
        fi
    done
}

# pairs NAME: the conversation in every direction: MIT -> libnegoex,
# libnegoex -> MIT, and libnegoex -> libnegoex (the baseline); MIT -> MIT
# when MITMIT=1 (a module sanity check). With MIT_PEER `-` only the baseline.
pairs() {
    if [ "$WITH_MIT" = 1 ]; then
        conversation "$1" mit nx
        conversation "$1" nx mit
        [ "${MITMIT:-0}" = 1 ] && conversation "$1" mit mit
    fi
    conversation "$1" nx nx
}

# MIT's initiator sends the optimistic AS-REQ unless NEGOEX_NO_OPTIMISTIC_TOKEN;
# ours only with --optimistic (PKU2U's default is Windows' 3-round-trip form).
new_conversation
FORM=opt I_NX="$I_NX --optimistic" MITMIT=1
pairs "optimistic"

new_conversation
FORM=win I_ENV="$I_ENV NEGOEX_NO_OPTIMISTIC_TOKEN=1" I_NX="$I_NX --no-optimistic" MITMIT=1
pairs "windows form"

# SPNEGO mechListMIC both ways (RFC 4121 MICs under the acceptor subkey):
# our acceptor requires one (--always-mic) and says request-mic, so MIT's
# initiator checks ours and sends its own through the module's
# gss_verify_mic / gss_get_mic. (MIT's acceptor asks for MICs only when
# NEGOEX is not the initiator's first mechanism; it never asks its
# mechanism, so an initiator requiring MICs fails against it whatever the
# scheme: not a conversation here.)
new_conversation
MIC=1 I_NX="$I_NX --always-mic" A_NX="$A_NX --always-mic"
[ "$WITH_MIT" = 1 ] && conversation "mechListMIC" mit nx
conversation "mechListMIC" nx nx

# The target: from the GSS name (another service), from NEGOEX_PKU2U_TARGET
# (which wins over the name), and the acceptor's own name
# (NEGOEX_PKU2U_HOST / --host).
new_conversation
I_MIT="--mech $PKU2U --target HTTP@$HOST" I_NX="--scheme pku2u --cert $P/user.pem --key $P/user.key --ca $P/ca.pem --target HTTP/$HOST"
SNAME=HTTP/$HOST A_ENV="$A_ENV NEGOEX_PKU2U_HOST=HTTP/$HOST" A_NX="$A_NX --host $HOST"
pairs "target from the GSS name"
new_conversation
I_MIT="--mech $PKU2U" I_ENV="$I_ENV NEGOEX_PKU2U_TARGET=WSMAN/$HOST"
I_NX="--scheme pku2u --cert $P/user.pem --key $P/user.key --ca $P/ca.pem --target WSMAN/$HOST"
SNAME=WSMAN/$HOST A_ENV="$A_ENV NEGOEX_PKU2U_HOST=$HOST"
pairs "target from NEGOEX_PKU2U_TARGET"

# Other credential forms: PKCS#12 with its password, anchors from a
# directory, DH group 14.
new_conversation
I_ENV="NEGOEX_PKU2U_CERT=$P/user.p12 NEGOEX_PKU2U_PASSWORD=secret NEGOEX_PKU2U_CA=$TMP/cadir NEGOEX_PKU2U_DH_GROUP=14"
A_ENV="NEGOEX_PKU2U_CERT=$P/device.p12 NEGOEX_PKU2U_PASSWORD=secret NEGOEX_PKU2U_CA=$TMP/cadir"
I_NX="--scheme pku2u --p12 $P/user.p12 --password secret --ca $TMP/cadir --target TERMSRV/$HOST --dh-group 14"
A_NX="--scheme pku2u --p12 $P/device.p12 --password secret --ca $TMP/cadir"
DH=14 MITMIT=1
pairs "PKCS#12, CA directory, DH group 14"

# The clock: both sides 30 minutes ahead (inside the certificates'
# validity) work; only one side ahead is a clock skew.
later=$(($(date +%s) + 1800))
new_conversation
I_ENV="$I_ENV NEGOEX_PKU2U_TIME=$later" A_ENV="$A_ENV NEGOEX_PKU2U_TIME=$later"
I_NX="$I_NX --time $later" A_NX="$A_NX --time $later"
pairs "both clocks 30 minutes ahead"
new_conversation
EXPECT=fail I_ENV="$I_ENV NEGOEX_PKU2U_TIME=$later" I_NX="$I_NX --time $later" I_ERR=CLOCK_SKEW A_ERR=CLOCK_SKEW
pairs "initiator clock 30 minutes ahead"

# Failures. The acceptor does not trust the user's CA: it answers a
# KRB-ERROR naming the check, which the initiator reports.
new_conversation
EXPECT=fail A_ENV=$(mit_acceptor_env "$P" "$W/ca.pem") A_NX="--scheme pku2u --cert $P/device.pem --key $P/device.key --ca $W/ca.pem"
I_ERR=CERT_UNTRUSTED A_ERR=CERT_UNTRUSTED
pairs "acceptor trusts another CA"
# The same in the other form (ours optimistic, MIT's not): MIT's acceptor
# drops a failing optimistic token silently, and the AS-REQ comes again.
I_ENV="$I_ENV NEGOEX_NO_OPTIMISTIC_TOKEN=1" I_NX="$I_NX --optimistic"
pairs "acceptor trusts another CA, other form"
# The initiator does not trust the device's CA.
new_conversation
EXPECT=fail I_ENV=$(mit_initiator_env "$P" "$W/ca.pem")
I_NX="--scheme pku2u --cert $P/user.pem --key $P/user.key --ca $W/ca.pem --target TERMSRV/$HOST"
I_ERR=CERT_UNTRUSTED
pairs "initiator trusts another CA"
# The device's certificate does not name the target host.
new_conversation
EXPECT=fail I_MIT="--mech $PKU2U --target TERMSRV@otherhost"
I_NX="--scheme pku2u --cert $P/user.pem --key $P/user.key --ca $P/ca.pem --target TERMSRV/otherhost"
I_ERR=CERT_NAME
pairs "target host not in the device certificate"
# The acceptor answers only to another host name.
new_conversation
EXPECT=fail A_ENV="$A_ENV NEGOEX_PKU2U_HOST=otherhost" A_NX="$A_NX --host otherhost"
I_ERR=PKU2U_TARGET A_ERR=PKU2U_TARGET
pairs "acceptor answers to another host"

# Configuration errors on MIT's side: the module drops PKU2U (MIT then
# finds no common scheme) and its trace (NEGOEX_GSS_TRACE) names the knob.
if [ "$WITH_MIT" = 1 ]; then
    new_conversation
    EXPECT=fail I_ENV="NEGOEX_PKU2U_CA=$P/ca.pem" I_TRACE="NEGOEX_PKU2U_CERT: not set"
    conversation "initiator without NEGOEX_PKU2U_CERT" mit nx
    new_conversation
    EXPECT=fail I_MIT="--mech $PKU2U --target TERMSRV" I_TRACE="no target"
    conversation "initiator without a target host" mit nx
    new_conversation
    EXPECT=fail A_ENV="NEGOEX_PKU2U_CERT=$TMP/missing.pem NEGOEX_PKU2U_CA=$P/ca.pem" A_TRACE="CREDENTIAL_LOAD"
    conversation "acceptor certificate file missing" nx mit
fi

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
