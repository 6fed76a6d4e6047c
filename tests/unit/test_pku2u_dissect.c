/*
 * The public PKU2U dissector (include/negoex/pku2u.h):
 *   - the events of every Windows PKU2U token and metadata payload, found by
 *     path ("req-body/cname", "padata[0]/padata-value/...") and checked
 *     against ../shared/docs/pku2u-wire.md and the bytes (views inside the
 *     input at their offsets, paChecksum = SHA-1 of the req-body at its
 *     offset, KerberosTime seconds);
 *   - AP-REQ, AP-REP and KRB-ERROR tokens (no capture has them: small DER
 *     built for this test);
 *   - the event grammar on every input: BEGIN / BEGIN_LIST / END balanced,
 *     depth and index consistent, counts honest, names unique per level;
 *   - all or nothing: no event for any truncation or any byte flip that
 *     breaks the input, and the error names a code, field and offset in it;
 *   - a callback's non-zero result stops the walk and is returned;
 *   - bad arguments.
 */
#define _POSIX_C_SOURCE 200809L

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include <negoex/negoex.h>
#include <negoex/pku2u.h>

#include "testutil.h"

#define V_ASREQ_0925 "windows/pku2u/win_client_as_req_gss_token_2022-09-25.bin"
#define V_ASREQ_1018 "windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin"
#define V_ASREP_0517 "windows/pku2u/win_server_as_rep_gss_token_2022-05-17.bin"
#define V_ASREP_SSPI "windows/pku2u/sspirs_debugserver_as_rep_gss_token_2022-10-18.bin"
#define V_META_I "windows/negoex/win_pku2u_initiator_metadata_payload.der"
#define V_META_A "windows/negoex/win_pku2u_acceptor_metadata_payload.der"
#define V_META_SSPI "windows/negoex/sspirs_debugserver_acceptor_metadata_payload.der"
#define V_MSG_META_I "windows/negoex/win_initiator_metadata_seq1.bin"
#define V_MSG_META_A "windows/negoex/win_acceptor_metadata_seq3.bin"

#define REALM "WELLKNOWN:PKU2U"
#define P2P_2021 "CN=MS-Organization-P2P-Access [2021]"
#define P2P_2022 "CN=MS-Organization-P2P-Access [2022]"
#define TOKEN_SIGNING "CN=Token Signing Public Key"
#define WIN_CLIENT_NAME                                                                                                \
    "AzureAD\\MS-Organization-P2P-Access [2022]\\S-1-12-1-3653211022-1339006422-2627573900-1560734919"

/* Built for this test (DER by hand, GSS-framed):
 * AP-REQ { ap-options mutual-required, ticket { WELLKNOWN:PKU2U,
 *   {2, TERMSRV/AZRDOWN-W10}, enc-part {18, kvno 1, 32 bytes} },
 *   authenticator {18, 48 bytes} } */
#define HX_AP_REQ                                                                                                      \
    "6081d306062b060105020701006e81c63081c3a003020105a10302010ea20703"                                                 \
    "050020000000a371616f306da003020105a1111b0f57454c4c4b4e4f574e3a50"                                                 \
    "4b553255a221301fa003020102a11830161b075445524d5352561b0b415a5244"                                                 \
    "4f574e2d573130a330302ea003020112a103020101a222042000010203040506"                                                 \
    "0708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1fa43b3039a00302"                                                 \
    "0112a23204300000000000000000000000000000000000000000000000000000"                                                 \
    "00000000000000000000000000000000000000000000"
/* AP-REP { enc-part {18, 40 bytes} } */
#define HX_AP_REP                                                                                                      \
    "604d06062b060105020702006f41303fa003020105a10302010fa2333031a003"                                                 \
    "020112a22a0428ababababababababababababababababababababababababab"                                                 \
    "ababababababababababababababab"
/* KRB-ERROR { stime 20220925211003Z, susec 123, error-code 62, realm,
 * sname TERMSRV/AZRDOWN-W10, e-text "no trust" } */
#define HX_KRB_ERROR                                                                                                   \
    "607706062b060105020703007e6b3069a003020105a10302011ea411180f3230"                                                 \
    "3232303932353231313030335aa50302017ba60302013ea9111b0f57454c4c4b"                                                 \
    "4e4f574e3a504b553255aa21301fa003020102a11830161b075445524d535256"                                                 \
    "1b0b415a52444f574e2d573130ab0a1b086e6f207472757374"

/* ------------------------------------------------------------------------ */
/* Recording events                                                          */
/* ------------------------------------------------------------------------ */

#define REC_MAX 512
#define REC_DEPTH 32
#define REC_PATH 256

typedef struct rec {
    negoex_dissect_event ev; /* pointers below replace the call-time ones */
    char path[REC_PATH];
    char label[256];
    char text[512];
    int32_t ints[32];
    negoex_bytes strings[8];
} rec;

typedef struct recorder {
    const uint8_t *in;
    size_t in_len;
    rec *r;
    size_t n;
    size_t calls;
    size_t stop_at; /* return stop_rc at this call (1-based); 0 never */
    int stop_rc;
    /* grammar state */
    unsigned depth;
    int list[REC_DEPTH];
    size_t count[REC_DEPTH]; /* a list's announced count */
    size_t seen[REC_DEPTH];  /* its elements so far */
    char prefix[REC_DEPTH][REC_PATH];
    char names[REC_DEPTH][64][48]; /* names per object level, for uniqueness */
    size_t name_n[REC_DEPTH];
} recorder;

/* snprintf that must not truncate. */
#define PRINT(buf, ...) assert_true((size_t)snprintf(buf, sizeof(buf), __VA_ARGS__) < sizeof(buf))

static int record(void *ud, const negoex_dissect_event *ev)
{
    recorder *o = ud;
    rec *r;

    o->calls++;
    if (o->stop_at != 0 && o->calls == o->stop_at)
        return o->stop_rc;
    assert_true(o->n < REC_MAX);
    r = &o->r[o->n++];
    memset(r, 0, sizeof *r);
    r->ev = *ev;

    /* The grammar. */
    assert_true(ev->offset <= o->in_len);
    if (ev->kind == NEGOEX_DISSECT_END) {
        assert_true(o->depth > 0);
        o->depth--;
        assert_int_equal(ev->depth, o->depth);
        assert_null(ev->name);
        if (o->list[o->depth])
            assert_int_equal(o->seen[o->depth], o->count[o->depth]);
        PRINT(r->path, "%s/END", o->prefix[o->depth]);
        return 0;
    }
    assert_int_equal(ev->depth, o->depth);
    assert_non_null(ev->name);
    assert_true(o->depth < REC_DEPTH - 1);
    if (o->depth == 0) {
        assert_int_equal(o->n, 1); /* one top structure, first */
        assert_int_equal(ev->kind, NEGOEX_DISSECT_BEGIN);
        r->path[0] = '\0';
    } else if (o->list[o->depth - 1]) {
        assert_int_equal(ev->index, o->seen[o->depth - 1]);
        o->seen[o->depth - 1]++;
        PRINT(r->path, "%s[%zu]", o->prefix[o->depth - 1], ev->index);
    } else {
        size_t k = o->name_n[o->depth - 1];

        assert_int_equal(ev->index, 0);
        for (size_t i = 0; i < k; i++)
            assert_string_not_equal(o->names[o->depth - 1][i], ev->name);
        assert_true(k < 64);
        PRINT(o->names[o->depth - 1][k], "%s", ev->name);
        o->name_n[o->depth - 1]++;
        PRINT(r->path, "%s%s%s", o->prefix[o->depth - 1], o->depth > 1 ? "/" : "", ev->name);
    }
    if (ev->kind == NEGOEX_DISSECT_BEGIN || ev->kind == NEGOEX_DISSECT_BEGIN_LIST) {
        o->list[o->depth] = ev->kind == NEGOEX_DISSECT_BEGIN_LIST;
        o->count[o->depth] = ev->count;
        o->seen[o->depth] = 0;
        o->name_n[o->depth] = 0;
        PRINT(o->prefix[o->depth], "%s", r->path);
        o->depth++;
    }

    /* Copies of what lives only during the call; views stay views. */
    if (ev->label != NULL) {
        snprintf(r->label, sizeof r->label, "%s", ev->label);
        r->ev.label = r->label;
    }
    if (ev->text != NULL) {
        snprintf(r->text, sizeof r->text, "%s", ev->text);
        r->ev.text = r->text;
    }
    if (ev->kind == NEGOEX_DISSECT_INT_LIST) {
        assert_true(ev->count <= 32);
        memcpy(r->ints, ev->ints, ev->count * sizeof(int32_t));
        r->ev.ints = r->ints;
        r->ev.labels = NULL;
    }
    if (ev->kind == NEGOEX_DISSECT_PRINCIPAL) {
        assert_true(ev->count >= 1 && ev->count <= 8);
        memcpy(r->strings, ev->strings, ev->count * sizeof(negoex_bytes));
        r->ev.strings = r->strings;
        for (size_t i = 0; i < ev->count; i++)
            assert_true(ev->strings[i].data >= o->in && ev->strings[i].data + ev->strings[i].len <= o->in + o->in_len);
    }
    /* Byte views lie inside the input, at their event's offset. */
    if (ev->bytes.data != NULL) {
        assert_true(ev->bytes.data >= o->in && ev->bytes.len <= o->in_len &&
                    (size_t)(ev->bytes.data - o->in) <= o->in_len - ev->bytes.len);
        assert_int_equal(ev->offset, (size_t)(ev->bytes.data - o->in));
    }
    return 0;
}

static recorder *rec_new(const uint8_t *in, size_t len)
{
    recorder *o = tu_malloc(sizeof *o);

    memset(o, 0, sizeof *o);
    o->r = tu_malloc(REC_MAX * sizeof *o->r);
    o->in = in;
    o->in_len = len;
    return o;
}

static void rec_done(recorder *o)
{
    /* Balanced, and the last event closes the top. */
    assert_int_equal(o->depth, 0);
    assert_true(o->n >= 2);
    assert_int_equal(o->r[o->n - 1].ev.kind, NEGOEX_DISSECT_END);
    assert_int_equal(o->r[o->n - 1].ev.depth, 0);
}

static recorder *dissect_token(const uint8_t *tok, size_t len)
{
    recorder *o = rec_new(tok, len);
    negoex_error_info err;

    assert_int_equal(negoex_pku2u_dissect_token(tok, len, record, o, &err), NEGOEX_OK);
    rec_done(o);
    return o;
}

static recorder *dissect_meta(const uint8_t *der, size_t len, negoex_pku2u_metadata_kind kind)
{
    recorder *o = rec_new(der, len);
    negoex_error_info err;

    assert_int_equal(negoex_pku2u_dissect_metadata(der, len, kind, record, o, &err), NEGOEX_OK);
    rec_done(o);
    return o;
}

static const negoex_dissect_event *find(const recorder *o, const char *path)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->r[i].path, path) == 0)
            return &o->r[i].ev;
    fail_msg("no event at %s", path);
    return NULL;
}

static int has(const recorder *o, const char *path)
{
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->r[i].path, path) == 0)
            return 1;
    return 0;
}

static void assert_kind(const negoex_dissect_event *ev, negoex_dissect_kind kind)
{
    assert_int_equal(ev->kind, kind);
}

static void assert_int_at(const recorder *o, const char *path, int64_t v, const char *label)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_INT);
    assert_int_equal(ev->num, v);
    if (label != NULL)
        assert_string_equal(ev->label, label);
}

static void assert_str_at(const recorder *o, const char *path, const char *s)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_STRING);
    assert_int_equal(ev->bytes.len, strlen(s));
    assert_memory_equal(ev->bytes.data, s, ev->bytes.len);
    assert_memory_equal(o->in + ev->offset, s, ev->bytes.len);
}

static void assert_text_at(const recorder *o, const char *path, negoex_dissect_kind kind, const char *text)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, kind);
    assert_string_equal(ev->text, text);
}

static void assert_bytes_len_at(const recorder *o, const char *path, size_t len)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_BYTES);
    assert_int_equal(ev->bytes.len, len);
}

static void assert_principal_at(const recorder *o, const char *path, int64_t type, size_t count, const char *c0,
                                const char *c1)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_PRINCIPAL);
    assert_int_equal(ev->num, type);
    assert_int_equal(ev->count, count);
    assert_int_equal(ev->strings[0].len, strlen(c0));
    assert_memory_equal(ev->strings[0].data, c0, strlen(c0));
    if (count > 1) {
        assert_int_equal(ev->strings[1].len, strlen(c1));
        assert_memory_equal(ev->strings[1].data, c1, strlen(c1));
    }
}

static void assert_enc_at(const recorder *o, const char *path, int64_t etype, int has_kvno, uint32_t kvno,
                          size_t length)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_ENC_DATA);
    assert_int_equal(ev->num, etype);
    assert_int_equal(ev->has_kvno, has_kvno);
    assert_int_equal(ev->kvno, kvno);
    assert_int_equal(ev->length, length);
    assert_null(ev->bytes.data); /* no ciphertext bytes are handed out */
}

static void assert_time_at(const recorder *o, const char *path, const char *t, int64_t secs)
{
    const negoex_dissect_event *ev = find(o, path);

    assert_kind(ev, NEGOEX_DISSECT_TIME);
    assert_int_equal(ev->bytes.len, 15);
    assert_memory_equal(ev->bytes.data, t, 15);
    assert_int_equal(ev->num, secs);
}

static void sha1(const uint8_t *p, size_t n, uint8_t out[20])
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha1(), NULL), 1);
    assert_int_equal(len, 20);
}

static uint8_t *unhex_tracked(const char *h, size_t *len)
{
    uint8_t *b = tu_unhex(h, len);
    tu_track(b);
    return b;
}

/* ------------------------------------------------------------------------ */
/* Windows tokens                                                            */
/* ------------------------------------------------------------------------ */

#define PV "padata[0]/padata-value"
#define SAP PV "/signedAuthPack"
#define AUTHPACK SAP "/eContent"

static void test_as_req_2022_09_25(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREQ_0925, &len);
    recorder *o = dissect_token(tok, len);

    const negoex_dissect_event *top = &o->r[0].ev;
    assert_string_equal(top->name, "AS-REQ");
    assert_int_equal(top->offset, 0);
    assert_text_at(o, "thisMech", NEGOEX_DISSECT_OID, "1.3.6.1.5.2.7");
    assert_string_equal(find(o, "thisMech")->label, "PKU2U");
    assert_int_equal(find(o, "tok-id")->bytes.len, 2);
    assert_memory_equal(find(o, "tok-id")->bytes.data, "\x05\x00", 2);
    assert_int_at(o, "pvno", 5, NULL);
    assert_int_at(o, "msg-type", 10, "KRB_AS_REQ");
    assert_int_equal(find(o, "padata")->count, 1);
    assert_int_at(o, "padata[0]/padata-type", 16, "PA-PK-AS-REQ");
    assert_string_equal(find(o, PV)->label, "PA-PK-AS-REQ");

    /* req-body */
    const negoex_dissect_event *body = find(o, "req-body");
    assert_kind(body, NEGOEX_DISSECT_BEGIN);
    assert_int_equal(tok[body->offset], 0x30);
    const negoex_dissect_event *kdco = find(o, "req-body/kdc-options");
    assert_kind(kdco, NEGOEX_DISSECT_FLAGS);
    assert_int_equal(kdco->num, 0x40810010);
    assert_string_equal(kdco->label, "forwardable, renewable, canonicalize, renewable-ok");
    assert_principal_at(o, "req-body/cname", -128, 1, WIN_CLIENT_NAME, NULL);
    assert_string_equal(find(o, "req-body/cname")->label, "NT-MS-PRINCIPAL");
    assert_str_at(o, "req-body/realm", REALM);
    assert_principal_at(o, "req-body/sname", 2, 2, "TERMSRV", "192.168.0.104");
    assert_false(has(o, "req-body/from"));
    assert_time_at(o, "req-body/till", "20370914024805Z", 2136509285);
    assert_time_at(o, "req-body/rtime", "20370914024805Z", 2136509285);
    assert_int_at(o, "req-body/nonce", 0, NULL);
    const negoex_dissect_event *et = find(o, "req-body/etype");
    assert_kind(et, NEGOEX_DISSECT_INT_LIST);
    static const int32_t want_etypes[] = {18, 17, 23, 24, -135};
    assert_int_equal(et->count, 5);
    assert_memory_equal(et->ints, want_etypes, sizeof want_etypes);
    assert_int_equal(find(o, "req-body/addresses")->count, 1);
    const negoex_dissect_event *addr = find(o, "req-body/addresses[0]");
    assert_kind(addr, NEGOEX_DISSECT_ADDRESS);
    assert_string_equal(addr->name, "HostAddress");
    assert_int_equal(addr->num, 20);
    assert_string_equal(addr->label, "NetBIOS");
    assert_int_equal(addr->bytes.len, 16);
    assert_memory_equal(addr->bytes.data, "DESKTOP-8F33RFH ", 16);
    assert_false(has(o, "req-body/enc-authorization-data"));

    /* PKINIT */
    assert_string_equal(find(o, SAP)->label, "SignedData, bare");
    assert_int_at(o, SAP "/version", 3, NULL);
    assert_text_at(o, SAP "/digestAlgorithms[0]", NEGOEX_DISSECT_OID, "1.3.14.3.2.26");
    assert_text_at(o, SAP "/eContentType", NEGOEX_DISSECT_OID, "1.3.6.1.5.2.3.1");
    assert_string_equal(find(o, SAP "/eContentType")->label, "id-pkinit-authData");
    assert_string_equal(find(o, AUTHPACK)->label, "AuthPack");
    assert_int_at(o, AUTHPACK "/pkAuthenticator/nonce", 0, NULL);
    assert_time_at(o, AUTHPACK "/pkAuthenticator/ctime", "20220925211003Z", 1664140203);
    /* paChecksum = SHA-1 of the req-body, which runs to the end of the token. */
    const negoex_dissect_event *pac = find(o, AUTHPACK "/pkAuthenticator/paChecksum");
    uint8_t md[20];
    sha1(tok + body->offset, len - body->offset, md);
    assert_int_equal(pac->bytes.len, 20);
    assert_memory_equal(pac->bytes.data, md, 20);
    assert_text_at(o, AUTHPACK "/clientPublicValue/algorithm", NEGOEX_DISSECT_OID, "1.2.840.10046.2.1");
    assert_string_equal(find(o, AUTHPACK "/clientPublicValue/algorithm")->label, "dhpublicnumber");
    assert_int_at(o, AUTHPACK "/clientPublicValue/parameters/p-bits", 1024, NULL);
    assert_int_at(o, AUTHPACK "/clientPublicValue/parameters/dh-group", 2, NULL);
    assert_int_at(o, AUTHPACK "/clientPublicValue/parameters/g", 2, NULL);
    assert_int_at(o, AUTHPACK "/clientPublicValue/parameters/q-bits", 1023, NULL);
    assert_bytes_len_at(o, AUTHPACK "/clientPublicValue/subjectPublicKey", 128);
    assert_bytes_len_at(o, AUTHPACK "/clientDHNonce", 32);
    assert_int_equal(find(o, SAP "/certificates")->count, 1);
    assert_text_at(o, SAP "/certificates[0]/issuer", NEGOEX_DISSECT_DN, P2P_2022);
    assert_true(strstr(find(o, SAP "/certificates[0]/subject")->text,
                       "CN=S-1-12-1-3653211022-1339006422-2627573900-1560734919") != NULL);
    assert_str_at(o, SAP "/certificates[0]/notBefore", "220925210503Z");
    assert_text_at(o, SAP "/signerInfos[0]/issuer", NEGOEX_DISSECT_DN, P2P_2022);
    const negoex_dissect_event *s1 = find(o, SAP "/signerInfos[0]/serialNumber");
    const negoex_dissect_event *s2 = find(o, SAP "/certificates[0]/serialNumber");
    assert_int_equal(s1->bytes.len, s2->bytes.len);
    assert_memory_equal(s1->bytes.data, s2->bytes.data, s1->bytes.len);
    assert_text_at(o, SAP "/signerInfos[0]/signedAttrs/contentType", NEGOEX_DISSECT_OID, "1.3.6.1.5.2.3.1");
    assert_bytes_len_at(o, SAP "/signerInfos[0]/signature", 256);
    assert_false(has(o, PV "/trustedCertifiers"));
}

static void test_as_req_2022_10_18(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREQ_1018, &len);
    recorder *o = dissect_token(tok, len);

    assert_principal_at(o, "req-body/cname", -128, 1, WIN_CLIENT_NAME, NULL);
    assert_principal_at(o, "req-body/sname", 2, 2, "TERMSRV", "dest.dataans.com");
    assert_time_at(o, "req-body/till", "20370914024805Z", 2136509285);
    assert_int_at(o, AUTHPACK "/clientPublicValue/parameters/dh-group", 2, NULL);
    assert_bytes_len_at(o, AUTHPACK "/clientDHNonce", 32);
}

#define DHI "padata[0]/padata-value/dhInfo"

static void test_as_rep_windows(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREP_0517, &len);
    recorder *o = dissect_token(tok, len);

    assert_string_equal(o->r[0].ev.name, "AS-REP");
    assert_memory_equal(find(o, "tok-id")->bytes.data, "\x06\x00", 2);
    assert_int_at(o, "msg-type", 11, "KRB_AS_REP");
    assert_int_at(o, "padata[0]/padata-type", 17, "PA-PK-AS-REP");
    assert_str_at(o, "crealm", REALM);
    assert_principal_at(o, "cname", -128, 1, "AzureAD\\mamoreau@downhillpro.xyz", NULL);
    assert_int_at(o, "ticket/tkt-vno", 5, NULL);
    assert_str_at(o, "ticket/realm", REALM);
    assert_principal_at(o, "ticket/sname", 2, 2, "TERMSRV", "AZRDOWN-W10");
    assert_enc_at(o, "ticket/enc-part", 18, 0, 0, 907);
    assert_string_equal(find(o, "ticket/enc-part")->label, "aes256-cts-hmac-sha1-96");
    assert_enc_at(o, "enc-part", 18, 0, 0, 253);
    assert_string_equal(find(o, DHI "/dhSignedData")->label, "SignedData, bare");
    assert_text_at(o, DHI "/dhSignedData/eContentType", NEGOEX_DISSECT_OID, "1.3.6.1.5.2.3.2");
    assert_string_equal(find(o, DHI "/dhSignedData/eContent")->label, "KDCDHKeyInfo");
    assert_int_at(o, DHI "/dhSignedData/eContent/nonce", 0, NULL);
    assert_bytes_len_at(o, DHI "/dhSignedData/eContent/subjectPublicKey", 128);
    assert_false(has(o, DHI "/dhSignedData/eContent/dhKeyExpiration"));
    assert_bytes_len_at(o, DHI "/serverDHNonce", 32);
    assert_text_at(o, DHI "/dhSignedData/certificates[0]/issuer", NEGOEX_DISSECT_DN, P2P_2021);
    assert_text_at(o, DHI "/dhSignedData/signerInfos[0]/issuer", NEGOEX_DISSECT_DN, P2P_2021);
}

static void test_as_rep_sspi(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREP_SSPI, &len);
    recorder *o = dissect_token(tok, len);

    assert_principal_at(o, "cname", -128, 1, "AzureAD\\s7@dataans.com", NULL);
    assert_principal_at(o, "ticket/sname", 2, 2, "TERMSRV", "dest.dataans.com");
    assert_enc_at(o, "enc-part", 18, 0, 0, 259);
    assert_bytes_len_at(o, DHI "/serverDHNonce", 32);
    /* sspi-rs labels its signed attributes with the AuthPack content type: shown as sent. */
    assert_text_at(o, DHI "/dhSignedData/signerInfos[0]/signedAttrs/contentType", NEGOEX_DISSECT_OID,
                   "1.3.6.1.5.2.3.1");
}

/* ------------------------------------------------------------------------ */
/* Tokens no capture has                                                     */
/* ------------------------------------------------------------------------ */

static void test_ap_req(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = unhex_tracked(HX_AP_REQ, &len);
    recorder *o = dissect_token(tok, len);

    assert_string_equal(o->r[0].ev.name, "AP-REQ");
    assert_int_at(o, "msg-type", 14, "KRB_AP_REQ");
    const negoex_dissect_event *apo = find(o, "ap-options");
    assert_kind(apo, NEGOEX_DISSECT_FLAGS);
    assert_int_equal(apo->num, 0x20000000);
    assert_string_equal(apo->label, "mutual-required");
    assert_str_at(o, "ticket/realm", REALM);
    assert_principal_at(o, "ticket/sname", 2, 2, "TERMSRV", "AZRDOWN-W10");
    assert_enc_at(o, "ticket/enc-part", 18, 1, 1, 32);
    assert_enc_at(o, "authenticator", 18, 0, 0, 48);
}

static void test_ap_rep(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = unhex_tracked(HX_AP_REP, &len);
    recorder *o = dissect_token(tok, len);

    assert_string_equal(o->r[0].ev.name, "AP-REP");
    assert_int_at(o, "msg-type", 15, "KRB_AP_REP");
    assert_enc_at(o, "enc-part", 18, 0, 0, 40);
    assert_int_equal(o->n, 7); /* BEGIN thisMech tok-id pvno msg-type enc-part END */
}

static void test_krb_error(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = unhex_tracked(HX_KRB_ERROR, &len);
    recorder *o = dissect_token(tok, len);

    assert_string_equal(o->r[0].ev.name, "KRB-ERROR");
    assert_int_at(o, "msg-type", 30, "KRB_ERROR");
    assert_time_at(o, "stime", "20220925211003Z", 1664140203);
    assert_int_at(o, "susec", 123, NULL);
    assert_int_at(o, "error-code", 62, "KDC_ERR_CLIENT_NOT_TRUSTED");
    assert_str_at(o, "realm", REALM);
    assert_principal_at(o, "sname", 2, 2, "TERMSRV", "AZRDOWN-W10");
    assert_str_at(o, "e-text", "no trust");
    assert_false(has(o, "ctime"));
    assert_false(has(o, "cname"));
    assert_false(has(o, "e-data"));
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                  */
/* ------------------------------------------------------------------------ */

static void test_metadata_initiator(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *der = tu_load_tracked(V_META_I, &len);
    negoex_error_info err;

    for (int k = 0; k < 2; k++) {
        recorder *o = dissect_meta(der, len, k == 0 ? NEGOEX_PKU2U_METADATA_ANY : NEGOEX_PKU2U_METADATA_INITIATOR);

        assert_string_equal(o->r[0].ev.name, "Pku2uInitiatorMetaData");
        assert_int_equal(find(o, "trustedCertifiers")->count, 2);
        assert_string_equal(find(o, "trustedCertifiers[0]")->name, "ExternalPrincipalIdentifier");
        assert_text_at(o, "trustedCertifiers[0]/subjectName", NEGOEX_DISSECT_DN, P2P_2021);
        assert_text_at(o, "trustedCertifiers[1]/subjectName", NEGOEX_DISSECT_DN, P2P_2021);
        assert_str_at(o, "target/realm", REALM);
        assert_principal_at(o, "target/sname", 2, 2, "TERMSRV", "AZRDOWN-W10");
    }
    /* The initiator's form is not an acceptor's. */
    recorder *o = rec_new(der, len);
    assert_true(negoex_pku2u_dissect_metadata(der, len, NEGOEX_PKU2U_METADATA_ACCEPTOR, record, o, &err) < 0);
    assert_int_equal(o->calls, 0);
    assert_non_null(err.field);
}

static void test_metadata_acceptor(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *der = tu_load_tracked(V_META_A, &len);
    recorder *o = dissect_meta(der, len, NEGOEX_PKU2U_METADATA_ACCEPTOR);

    assert_string_equal(o->r[0].ev.name, "Pku2uAcceptorMetaData");
    assert_int_equal(find(o, "trustedCertifiers")->count, 3);
    assert_text_at(o, "trustedCertifiers[0]/subjectName", NEGOEX_DISSECT_DN, P2P_2021);
    assert_text_at(o, "trustedCertifiers[1]/subjectName", NEGOEX_DISSECT_DN, TOKEN_SIGNING);
    assert_text_at(o, "trustedCertifiers[2]/subjectName", NEGOEX_DISSECT_DN, TOKEN_SIGNING);
    assert_false(has(o, "target"));

    o = dissect_meta(der, len, NEGOEX_PKU2U_METADATA_ANY);
    assert_string_equal(o->r[0].ev.name, "Pku2uAcceptorMetaData");

    size_t slen;
    const uint8_t *sspi = tu_load_tracked(V_META_SSPI, &slen);
    o = dissect_meta(sspi, slen, NEGOEX_PKU2U_METADATA_ACCEPTOR);
    assert_int_equal(find(o, "trustedCertifiers")->count, 1);
    assert_text_at(o, "trustedCertifiers[0]/subjectName", NEGOEX_DISSECT_DN, P2P_2022);
}

/* The payloads as they arrive: the Exchange of the Windows META_DATA
 * messages, through the public NEGOEX reader. */
static void test_metadata_messages(void **state)
{
    (void)state;
    static const struct {
        const char *file;
        uint32_t type;
        negoex_pku2u_metadata_kind kind;
        const char *top;
        size_t certifiers;
    } v[] = {
        {V_MSG_META_I, NEGOEX_INITIATOR_META_DATA, NEGOEX_PKU2U_METADATA_INITIATOR, "Pku2uInitiatorMetaData", 2},
        {V_MSG_META_A, NEGOEX_ACCEPTOR_META_DATA, NEGOEX_PKU2U_METADATA_ACCEPTOR, "Pku2uAcceptorMetaData", 3},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t len;
        const uint8_t *tok = tu_load_tracked(v[i].file, &len);
        negoex_reader rd;
        negoex_message m;

        negoex_reader_init(&rd, tok, len);
        assert_int_equal(negoex_reader_next(&rd, &m), 1);
        assert_int_equal(m.type, v[i].type);
        assert_true(negoex_pku2u_is_scheme(&m.u.exchange.auth_scheme));
        recorder *o = dissect_meta(m.u.exchange.exchange.data, m.u.exchange.exchange.len, v[i].kind);
        assert_string_equal(o->r[0].ev.name, v[i].top);
        assert_int_equal(find(o, "trustedCertifiers")->count, v[i].certifiers);
        assert_text_at(o, "trustedCertifiers[0]/subjectName", NEGOEX_DISSECT_DN, P2P_2021);
    }
}

/* ------------------------------------------------------------------------ */
/* All or nothing                                                            */
/* ------------------------------------------------------------------------ */

typedef int (*dissect_fn)(const uint8_t *in, size_t len, negoex_dissect_fn fn, void *ud, negoex_error_info *err);

static int meta_any(const uint8_t *in, size_t len, negoex_dissect_fn fn, void *ud, negoex_error_info *err)
{
    return negoex_pku2u_dissect_metadata(in, len, NEGOEX_PKU2U_METADATA_ANY, fn, ud, err);
}

/* Either a balanced event sequence or no event and an error naming a place. */
static void one_input(dissect_fn d, const uint8_t *in, size_t len, int expect_fail)
{
    recorder *o = rec_new(in, len);
    negoex_error_info err;
    int rc = d(in, len, record, o, &err);

    if (rc == NEGOEX_OK) {
        assert_false(expect_fail);
        rec_done(o);
    } else {
        assert_true(rc < 0);
        assert_int_equal(o->calls, 0);
        assert_int_equal(err.code, rc);
        assert_non_null(err.field);
        assert_true(err.offset <= len);
    }
    tu_free(o->r);
    tu_free(o);
}

static void mutations(dissect_fn d, const char *relpath)
{
    size_t len;
    const uint8_t *orig = tu_load_tracked(relpath, &len);
    uint8_t *buf = tu_malloc(len + 1);

    /* Every proper prefix is malformed. */
    for (size_t n = 0; n < len; n++) {
        memcpy(buf, orig, n);
        one_input(d, buf, n, 1);
    }
    /* A byte after the end too. */
    memcpy(buf, orig, len);
    buf[len] = 0;
    one_input(d, buf, len + 1, 1);
    /* Each byte flipped: may still decode (a changed value), never half. */
    for (size_t i = 0; i < len; i++) {
        memcpy(buf, orig, len);
        buf[i] ^= 0xff;
        one_input(d, buf, len, 0);
    }
    tu_free(buf);
}

static void test_all_or_nothing_tokens(void **state)
{
    (void)state;
    mutations(negoex_pku2u_dissect_token, V_ASREQ_0925);
    mutations(negoex_pku2u_dissect_token, V_ASREP_0517);
}

static void test_all_or_nothing_metadata(void **state)
{
    (void)state;
    mutations(meta_any, V_META_I);
    mutations(meta_any, V_META_A);
}

/* A nested structure that breaks: the error is at its place in the token. */
static void test_nested_error_offset(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *orig = tu_load_tracked(V_ASREQ_0925, &len);
    uint8_t *tok = tu_malloc(len);
    negoex_error_info err;
    recorder *o;

    memcpy(tok, orig, len);
    assert_int_equal(tok[106], 0x30); /* the AuthPack inside the bare SignedData */
    tok[106] = 0x31;
    o = rec_new(tok, len);
    assert_int_equal(negoex_pku2u_dissect_token(tok, len, record, o, &err), NEGOEX_ERR_DER_TAG);
    assert_int_equal(o->calls, 0);
    assert_int_equal(err.offset, 106);
    assert_string_equal(err.field, "AuthPack");

    /* The GSS framing: a TOK_ID the draft does not define. */
    memcpy(tok, orig, len);
    tok[12] = 0x07;
    assert_int_equal(negoex_pku2u_dissect_token(tok, len, record, o, &err), NEGOEX_ERR_DER_VALUE);
    assert_int_equal(err.offset, 12);
    assert_string_equal(err.field, "TOK_ID");
    assert_int_equal(o->calls, 0);
}

/* ------------------------------------------------------------------------ */
/* The callback, arguments                                                   */
/* ------------------------------------------------------------------------ */

static void test_callback_stops(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREP_0517, &len);
    recorder *all = dissect_token(tok, len);
    negoex_error_info err;

    for (size_t at = 1; at <= all->n; at += 7) {
        recorder *o = rec_new(tok, len);

        o->stop_at = at;
        o->stop_rc = 42;
        err.code = -999;
        assert_int_equal(negoex_pku2u_dissect_token(tok, len, record, o, &err), 42);
        assert_int_equal(o->calls, at); /* nothing after the stop */
        assert_int_equal(err.code, 0);    /* not a decoding error */
        o->stop_at = 1;
        o->stop_rc = -5;
        o->calls = 0;
        o->n = 0;
        o->depth = 0;
        assert_int_equal(negoex_pku2u_dissect_token(tok, len, record, o, &err), -5);
    }
}

static void test_arguments(void **state)
{
    (void)state;
    size_t len;
    const uint8_t *tok = tu_load_tracked(V_ASREP_0517, &len);
    negoex_error_info err;
    recorder *o = rec_new(tok, len);

    assert_int_equal(negoex_pku2u_dissect_token(tok, len, NULL, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(err.code, NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_pku2u_dissect_token(NULL, 5, record, o, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_pku2u_dissect_token(tok, 0, record, o, &err), NEGOEX_ERR_EMPTY_TOKEN);
    assert_int_equal(negoex_pku2u_dissect_token(NULL, 0, record, o, NULL), NEGOEX_ERR_EMPTY_TOKEN);
    assert_int_equal(negoex_pku2u_dissect_metadata(tok, len, (negoex_pku2u_metadata_kind)7, record, o, &err),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_string_equal(err.field, "kind");
    assert_int_equal(negoex_pku2u_dissect_metadata(tok, len, NEGOEX_PKU2U_METADATA_ANY, NULL, o, &err),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    /* A token is not metadata, metadata is not a token. */
    assert_true(negoex_pku2u_dissect_metadata(tok, len, NEGOEX_PKU2U_METADATA_ANY, record, o, &err) < 0);
    size_t mlen;
    const uint8_t *meta = tu_load_tracked(V_META_I, &mlen);
    assert_true(negoex_pku2u_dissect_token(meta, mlen, record, o, &err) < 0);
    assert_int_equal(o->calls, 0);
}

static void test_is_scheme(void **state)
{
    (void)state;
    negoex_guid g;

    assert_true(negoex_pku2u_is_scheme(&NEGOEX_SCHEME_PKU2U));
    assert_true(negoex_pku2u_is_scheme(&NEGOEX_SCHEME_PKU2U_DOCUMENTED));
    assert_int_equal(negoex_guid_parse(&g, "0d53335c-f9ea-4d0d-b2ec-4ae3786ec308"), NEGOEX_OK);
    assert_true(negoex_pku2u_is_scheme(&g));
    assert_int_equal(negoex_guid_parse(&g, "235f69ad-73fb-4dbc-8203-0629e739339b"), NEGOEX_OK);
    assert_true(negoex_pku2u_is_scheme(&g));
    assert_int_equal(negoex_guid_parse(&g, "c0a28569-66ac-0000-0000-000000000000"), NEGOEX_OK);
    assert_false(negoex_pku2u_is_scheme(&g));
    assert_false(negoex_pku2u_is_scheme(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_as_req_2022_09_25, tu_release_all),
        cmocka_unit_test_teardown(test_as_req_2022_10_18, tu_release_all),
        cmocka_unit_test_teardown(test_as_rep_windows, tu_release_all),
        cmocka_unit_test_teardown(test_as_rep_sspi, tu_release_all),
        cmocka_unit_test_teardown(test_ap_req, tu_release_all),
        cmocka_unit_test_teardown(test_ap_rep, tu_release_all),
        cmocka_unit_test_teardown(test_krb_error, tu_release_all),
        cmocka_unit_test_teardown(test_metadata_initiator, tu_release_all),
        cmocka_unit_test_teardown(test_metadata_acceptor, tu_release_all),
        cmocka_unit_test_teardown(test_metadata_messages, tu_release_all),
        cmocka_unit_test_teardown(test_all_or_nothing_tokens, tu_release_all),
        cmocka_unit_test_teardown(test_all_or_nothing_metadata, tu_release_all),
        cmocka_unit_test_teardown(test_nested_error_offset, tu_release_all),
        cmocka_unit_test_teardown(test_callback_stops, tu_release_all),
        cmocka_unit_test_teardown(test_arguments, tu_release_all),
        cmocka_unit_test_teardown(test_is_scheme, tu_release_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
