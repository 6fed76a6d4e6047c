/*
 * PKU2U ASN.1 tests (src/pku2u/asn1 C files, schemas src/pku2u/ .asn files):
 *   - every file of ../shared/vectors/windows/pku2u/ and the PKU2U metadata
 *     payloads decode, with their fields asserted against
 *     ../shared/docs/pku2u-wire.md, constants.json, dh_groups.json and the
 *     bytes themselves (paChecksum = SHA-1 of the req-body found in the
 *     token, CMS message-digest = SHA-1 of the eContent, certifier names
 *     cross-checked with OpenSSL);
 *   - the GSS framing and TOK_ID of each token, re-framed byte for byte;
 *   - the structures no capture has (AP-REQ, AP-REP, KRB-ERROR, TGS,
 *     Authenticator, the decrypted parts) from DER built here around real
 *     Windows pieces (the AS-REP ticket, the authenticator's
 *     authorization-data, the KRB-FINISHED checksum of verified_vectors);
 *   - negatives on every decodable unit: each truncation, a trailing byte, a
 *     non-minimal length at every element, every context tag moved, every
 *     universal tag swapped; range rules (pvno, msg-type, Int32, UInt32,
 *     KerberosTime, flags, empty lists, capacities) and the DER walk's
 *     rules (indefinite length, constructed strings, non-minimal INTEGER,
 *     BIT STRING padding, OID, nesting).
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
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "negoex/negoex.h"
#include "negoex/spnego.h"
#include "pku2u/asn1.h"
#include "testutil.h"

#define V_ASREQ_0925 "windows/pku2u/win_client_as_req_gss_token_2022-09-25.bin"
#define V_ASREQ_1018 "windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin"
#define V_ASREP_0517 "windows/pku2u/win_server_as_rep_gss_token_2022-05-17.bin"
#define V_ASREP_SSPI "windows/pku2u/sspirs_debugserver_as_rep_gss_token_2022-10-18.bin"
#define V_PKASREQ_0517 "windows/pku2u/win_client_pa_pk_as_req_2022-05-17.der"
#define V_PKASREP_0517 "windows/pku2u/win_server_pa_pk_as_rep_2022-05-17.der"
#define V_AUTHZ "windows/pku2u/win_client_authenticator_authorization_data.der"
#define V_DH_GROUPS "windows/pku2u/dh_groups.json"
#define V_META_I "windows/negoex/win_pku2u_initiator_metadata_payload.der"
#define V_META_A "windows/negoex/win_pku2u_acceptor_metadata_payload.der"
#define V_META_SSPI "windows/negoex/sspirs_debugserver_acceptor_metadata_payload.der"
#define V_MSG_META_I "windows/negoex/win_initiator_metadata_seq1.bin"
#define V_MSG_META_A "windows/negoex/win_acceptor_metadata_seq3.bin"
#define V_CONSTANTS "windows/constants.json"
#define V_FINISHED_INPUT "windows/verified/krb_finished_input_asreq_asrep.bin"
#define V_VERIFIED "windows/verified/verified_vectors.json"

#define REALM "WELLKNOWN:PKU2U"
#define TILL "20370914024805Z"
#define P2P_2021 "CN=MS-Organization-P2P-Access [2021]"
#define P2P_2022 "CN=MS-Organization-P2P-Access [2022]"
#define TOKEN_SIGNING "CN=Token Signing Public Key"
#define WIN_CLIENT_NAME "AzureAD\\MS-Organization-P2P-Access [2022]\\S-1-12-1-3653211022-1339006422-2627573900-1560734919"

/* OID content octets, hex */
#define HX_SHA1 "2b0e03021a"
#define HX_RSA "2a864886f70d010101"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

/* The DER builder and the mutation loops allocate far more buffers than
 * testutil tracks: a local arena, released by the teardown (or back to a
 * mark inside a loop). */
static void **arena;
static size_t arena_n, arena_cap;

static void *arena_keep(void *p)
{
    assert_non_null(p);
    if (arena_n == arena_cap) {
        arena_cap = arena_cap ? arena_cap * 2 : 1024;
        arena = realloc(arena, arena_cap * sizeof *arena);
        assert_non_null(arena);
    }
    arena[arena_n++] = p;
    return p;
}

static void *amalloc(size_t n)
{
    return arena_keep(malloc(n ? n : 1));
}

static void arena_release(size_t mark)
{
    while (arena_n > mark)
        free(arena[--arena_n]);
}

static int teardown(void **state)
{
    arena_release(0);
    free(arena);
    arena = NULL;
    arena_cap = 0;
    return tu_release_all(state);
}

static uint8_t *hex(const char *h, size_t *len)
{
    return arena_keep(tu_unhex(h, len));
}

static void assert_str(negoex_bytes v, const char *s)
{
    assert_non_null(v.data);
    assert_int_equal(v.len, strlen(s));
    assert_memory_equal(v.data, s, v.len);
}

static void assert_hex(negoex_bytes v, const char *h)
{
    size_t n;
    uint8_t *b = hex(h, &n);
    assert_non_null(v.data);
    assert_int_equal(v.len, n);
    assert_memory_equal(v.data, b, n);
}

static void assert_oid(negoex_bytes v, const char *dotted)
{
    char text[128];
    assert_int_equal(negoex_oid_to_text(v.data, v.len, text, sizeof text, NULL), NEGOEX_OK);
    assert_string_equal(text, dotted);
}

static void assert_absent(negoex_bytes v)
{
    assert_null(v.data);
    assert_int_equal(v.len, 0);
}

/* A present view lies inside [base, base + len). */
static void assert_inside(negoex_bytes v, const uint8_t *base, size_t len)
{
    assert_non_null(v.data);
    assert_true(v.data >= base && v.len <= len && (size_t)(v.data - base) <= len - v.len);
}

static void assert_principal(const negoex_krb_principal *p, int32_t type, size_t count, const char *c0,
                             const char *c1)
{
    assert_int_equal(p->name_type, type);
    assert_int_equal(p->count, count);
    assert_str(p->components[0], c0);
    if (count > 1)
        assert_str(p->components[1], c1);
}

static void sha1(const uint8_t *p, size_t n, uint8_t out[20])
{
    unsigned int len = 0;
    assert_int_equal(EVP_Digest(p, n, out, &len, EVP_sha1(), NULL), 1);
    assert_int_equal(len, 20);
}

static void assert_sha1(negoex_bytes digest, negoex_bytes data)
{
    uint8_t md[20];
    sha1(data.data, data.len, md);
    assert_int_equal(digest.len, 20);
    assert_memory_equal(digest.data, md, 20);
}

/* The hex string of "key": "..." after anchor in a JSON vector file. */
static const char *json_hex(const char *relpath, const char *anchor, const char *key)
{
    size_t n;
    uint8_t *f = tu_load_tracked(relpath, &n);
    char *text = amalloc(n + 1);
    memcpy(text, f, n);
    text[n] = '\0';
    char *a = strstr(text, anchor);
    assert_non_null(a);
    char pat[96];
    snprintf(pat, sizeof pat, "\"%s\": \"", key);
    char *k = strstr(a, pat);
    assert_non_null(k);
    k += strlen(pat);
    char *e = strchr(k, '"');
    assert_non_null(e);
    *e = '\0';
    return k;
}

static void assert_name(negoex_bytes der, const char *want, uint8_t want_tag)
{
    negoex_x509_name name;
    negoex_error_info err;
    assert_int_equal(negoex_x509_decode_name(der.data, der.len, &name, &err), NEGOEX_OK);
    assert_int_equal(name.rdn_count, 1);
    assert_int_equal(name.count, 1);
    assert_oid(name.attrs[0].type, "2.5.4.3");
    assert_int_equal(name.attrs[0].value_tag, want_tag);
    char text[256];
    size_t need = 0;
    assert_int_equal(negoex_x509_name_to_string(&name, text, sizeof text, &need), NEGOEX_OK);
    assert_string_equal(text, want);
    assert_int_equal(need, strlen(want) + 1);
    /* The same Name through OpenSSL. */
    const unsigned char *p = der.data;
    X509_NAME *xn = d2i_X509_NAME(NULL, &p, (long)der.len);
    assert_non_null(xn);
    assert_ptr_equal(p, der.data + der.len);
    int idx = X509_NAME_get_index_by_NID(xn, NID_commonName, -1);
    assert_true(idx >= 0);
    unsigned char *cn = NULL;
    int cn_len = ASN1_STRING_to_UTF8(&cn, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(xn, idx)));
    assert_int_equal(cn_len, (int)strlen(want) - 3);
    assert_memory_equal(cn, want + 3, (size_t)cn_len);
    OPENSSL_free(cn);
    X509_NAME_free(xn);
}

/* ------------------------------------------------------------------------ */
/* DER building (for the structures no capture has) and mutation            */
/* ------------------------------------------------------------------------ */

typedef struct dbuf {
    uint8_t *p;
    size_t n;
} dbuf;

static dbuf raw(const uint8_t *p, size_t n)
{
    dbuf d = {amalloc(n ? n : 1), n};
    if (n)
        memcpy(d.p, p, n);
    return d;
}

static dbuf rawhex(const char *h)
{
    size_t n;
    uint8_t *b = hex(h, &n);
    return raw(b, n);
}

static dbuf tlv(uint8_t tag, dbuf c)
{
    uint8_t h[6];
    size_t hn = 0;
    h[hn++] = tag;
    if (c.n < 0x80) {
        h[hn++] = (uint8_t)c.n;
    } else if (c.n < 0x100) {
        h[hn++] = 0x81;
        h[hn++] = (uint8_t)c.n;
    } else {
        assert_true(c.n < 0x10000);
        h[hn++] = 0x82;
        h[hn++] = (uint8_t)(c.n >> 8);
        h[hn++] = (uint8_t)c.n;
    }
    dbuf d = {amalloc(hn + c.n + 1), hn + c.n};
    memcpy(d.p, h, hn);
    if (c.n)
        memcpy(d.p + hn, c.p, c.n);
    return d;
}

/* Concatenation of count dbufs; a dbuf with p == NULL is skipped. */
static dbuf cat(int count, ...)
{
    va_list ap;
    dbuf parts[24];
    size_t total = 0;
    assert_true(count <= 24);
    va_start(ap, count);
    for (int i = 0; i < count; i++) {
        parts[i] = va_arg(ap, dbuf);
        total += parts[i].p ? parts[i].n : 0;
    }
    va_end(ap);
    dbuf d = {amalloc(total + 1), 0};
    for (int i = 0; i < count; i++)
        if (parts[i].p) {
            memcpy(d.p + d.n, parts[i].p, parts[i].n);
            d.n += parts[i].n;
        }
    return d;
}

static const dbuf NONE = {NULL, 0};

static dbuf integer(int64_t v)
{
    uint8_t b[9];
    size_t n = 0;
    /* Minimal two's complement, big-endian. */
    int64_t x = v;
    do {
        b[8 - n++] = (uint8_t)(x & 0xff);
        x >>= 8;
    } while (!((x == 0 && !(b[9 - n] & 0x80)) || (x == -1 && (b[9 - n] & 0x80))));
    return tlv(0x02, raw(b + 9 - n, n));
}

static dbuf ex(unsigned n, dbuf c) /* [n] EXPLICIT */
{
    return tlv((uint8_t)(0xa0 | n), c);
}

static dbuf seq(dbuf c)
{
    return tlv(0x30, c);
}

static dbuf gstr(const char *s)
{
    return tlv(0x1b, raw((const uint8_t *)s, strlen(s)));
}

static dbuf octets(const char *h)
{
    return tlv(0x04, rawhex(h));
}

static dbuf ktime(const char *s)
{
    return tlv(0x18, raw((const uint8_t *)s, strlen(s)));
}

static dbuf flags32(uint32_t v)
{
    uint8_t b[5] = {0, (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    return tlv(0x03, raw(b, 5));
}

static dbuf principal(int32_t type, const char *c0, const char *c1)
{
    return seq(cat(2, ex(0, integer(type)), ex(1, seq(cat(2, gstr(c0), c1 ? gstr(c1) : NONE)))));
}

static dbuf enc_data(int32_t etype, const char *cipher_hex)
{
    return seq(cat(2, ex(0, integer(etype)), ex(2, octets(cipher_hex))));
}

static dbuf enc_key(int32_t type, const char *key_hex)
{
    return seq(cat(2, ex(0, integer(type)), ex(1, octets(key_hex))));
}

#define KEY32 "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"

/* TLVs of a DER value in pre-order; constructed ones are entered. */
typedef struct node {
    size_t at;  /* tag offset */
    size_t hdr; /* tag + length octets */
    size_t len;
} node;

static size_t list_nodes(const uint8_t *b, size_t pos, size_t end, node *out, size_t n, size_t max)
{
    while (pos < end) {
        size_t at = pos;
        assert_true((b[pos] & 0x1f) != 0x1f);
        pos++;
        size_t len = b[pos++];
        if (len & 0x80) {
            size_t k = len & 0x7f;
            len = 0;
            while (k--)
                len = len << 8 | b[pos++];
        }
        assert_true(n < max);
        out[n++] = (node){at, pos - at, len};
        if (b[at] & 0x20)
            n = list_nodes(b, pos, pos + len, out, n, max);
        pos += len;
    }
    assert_int_equal(pos, end);
    return n;
}

/* Re-encodes a DER value with node number target (pre-order) given a
 * non-minimal length: 81 xx for a short one, one more leading zero octet
 * for a long one. Enclosing lengths are recomputed (minimal). */
static size_t put_len(uint8_t *out, size_t len, int nonminimal)
{
    size_t n = 0;
    uint8_t be[4];
    size_t k = 0;
    for (size_t v = len; v; v >>= 8)
        be[k++] = (uint8_t)v;
    if (!nonminimal && len < 0x80) {
        out[n++] = (uint8_t)len;
        return n;
    }
    if (nonminimal && len < 0x80) {
        out[n++] = 0x81;
        out[n++] = (uint8_t)len;
        return n;
    }
    out[n++] = (uint8_t)(0x80 | (k + (nonminimal ? 1 : 0)));
    if (nonminimal)
        out[n++] = 0;
    while (k--)
        out[n++] = be[k];
    return n;
}

static dbuf reencode(const uint8_t *b, size_t pos, size_t end, size_t target, size_t *counter)
{
    dbuf acc = {amalloc(1), 0};
    while (pos < end) {
        size_t at = pos;
        size_t me = (*counter)++;
        pos++;
        size_t len = b[pos++];
        if (len & 0x80) {
            size_t k = len & 0x7f;
            len = 0;
            while (k--)
                len = len << 8 | b[pos++];
        }
        dbuf content = (b[at] & 0x20) ? reencode(b, pos, pos + len, target, counter) : raw(b + pos, len);
        uint8_t h[8];
        h[0] = b[at];
        size_t hn = 1 + put_len(h + 1, content.n, me == target);
        acc = cat(3, acc, raw(h, hn), content);
        pos += len;
    }
    return acc;
}

/* ------------------------------------------------------------------------ */
/* Negative tests common to every decodable unit                            */
/* ------------------------------------------------------------------------ */

typedef int (*unit_fn)(const uint8_t *b, size_t n, negoex_error_info *err);

static int u_token(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_pku2u_message m;
    return negoex_pku2u_decode_token(b, n, &m, err);
}

static int u_pa_pk_as_req(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_pa_pk_as_req v;
    return negoex_krb_decode_pa_pk_as_req(b, n, &v, err);
}

static int u_pa_pk_as_rep(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_pa_pk_as_rep v;
    return negoex_krb_decode_pa_pk_as_rep(b, n, &v, err);
}

static int u_signed_data(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_cms_signed_data v;
    return negoex_cms_decode_signed_data(b, n, &v, err);
}

static int u_auth_pack(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_auth_pack v;
    return negoex_krb_decode_auth_pack(b, n, &v, err);
}

static int u_kdc_dh_key_info(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_kdc_dh_key_info v;
    return negoex_krb_decode_kdc_dh_key_info(b, n, &v, err);
}

static int u_metadata(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_pku2u_metadata v;
    return negoex_pku2u_decode_metadata(b, n, &v, err);
}

static int u_authz(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_authz_data v;
    return negoex_krb_decode_authz_data(b, n, &v, err);
}

static int u_restrictions(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_ad_restrictions v;
    return negoex_krb_decode_ad_restrictions(b, n, &v, err);
}

static int u_name(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_x509_name v;
    return negoex_x509_decode_name(b, n, &v, err);
}

static int u_authenticator(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_authenticator v;
    return negoex_krb_decode_authenticator(b, n, &v, err);
}

static int u_finished(const uint8_t *b, size_t n, negoex_error_info *err)
{
    negoex_krb_finished v;
    return negoex_krb_decode_finished(b, n, &v, err);
}

/* Which negative families apply: tags inside an ANY (certificates,
 * attribute values) may change without the value being wrong. */
#define NEG_TAGS 1 /* context and universal tag swaps must be rejected */

/* Every truncation, a trailing byte, a non-minimal length at each element,
 * and (with NEG_TAGS) each context tag moved by 16 and each universal tag
 * of a known type swapped for another. token: the unit is a GSS token (the
 * mutations go into its PDU, which is then framed again). what names the
 * unit for a reader of a failure's line. */
static void negatives(const char *what, const uint8_t *b, size_t n, unit_fn fn, int token, int flags)
{
    negoex_error_info err;
    (void)what;
    assert_int_equal(fn(b, n, &err), NEGOEX_OK);

    /* Each truncation: the outer element (or nothing) is cut off. */
    uint8_t *copy = amalloc(n + 1);
    memcpy(copy, b, n);
    for (size_t k = 0; k < n; k++) {
        memset(&err, 0, sizeof err);
        int rc = fn(copy, k, &err);
        assert_int_equal(rc, err.code);
        if (token && k == 0) {
            assert_int_equal(rc, NEGOEX_ERR_EMPTY_TOKEN);
        } else {
            assert_int_equal(rc, NEGOEX_ERR_DER_TRUNCATED);
            assert_int_equal(err.offset, 0);
        }
    }

    /* A trailing byte. */
    copy[n] = 0x00;
    memset(&err, 0, sizeof err);
    assert_int_equal(fn(copy, n + 1, &err), NEGOEX_ERR_DER_TRAILING);
    assert_int_equal(err.offset, n);

    /* A non-minimal length at each element (for a token: each element of its
     * PDU, re-framed; the framing's own length once). */
    size_t base = 0;
    unsigned tok_id = 0;
    if (token) {
        negoex_pku2u_token pt;
        assert_int_equal(negoex_pku2u_token_parse(b, n, &pt, &err), NEGOEX_OK);
        base = pt.pdu_offset;
        tok_id = pt.tok_id;
    }
    const uint8_t *unit = b + base;
    size_t unit_len = n - base;
    node *nodes = amalloc(4096 * sizeof *nodes);
    size_t count = list_nodes(unit, 0, unit_len, nodes, 0, 4096);
    for (size_t t = 0; t < count; t++) {
        size_t mark = arena_n;
        size_t counter = 0;
        dbuf m = reencode(unit, 0, unit_len, t, &counter);
        assert_true(m.n > unit_len);
        const uint8_t *mut = m.p;
        size_t mut_len = m.n;
        size_t off = 0;
        if (token) {
            size_t tn = 0;
            assert_int_equal(negoex_pku2u_token_write(tok_id, m.p, m.n, NULL, 0, &tn),
                             NEGOEX_ERR_BUFFER_TOO_SMALL);
            uint8_t *framed = amalloc(tn);
            assert_int_equal(negoex_pku2u_token_write(tok_id, m.p, m.n, framed, tn, &tn),
                             NEGOEX_OK);
            mut = framed;
            mut_len = tn;
            off = tn - m.n;
        }
        memset(&err, 0, sizeof err);
        assert_int_equal(fn(mut, mut_len, &err), NEGOEX_ERR_DER_LENGTH);
        /* The offset names a long-form length octet that is not minimal. */
        assert_true(err.offset >= off && err.offset < mut_len - 1);
        uint8_t l0 = mut[err.offset];
        assert_true(l0 & 0x80);
        assert_true(mut[err.offset + 1] == 0 || (l0 == 0x81 && mut[err.offset + 1] < 0x80));
        arena_release(mark);
    }
    if (token) {
        /* 60 ll -> 60 81 ll; 60 82 hh ll -> 60 83 00 hh ll */
        uint8_t *m = amalloc(n + 1);
        m[0] = 0x60;
        if (b[1] < 0x80) {
            m[1] = 0x81;
            memcpy(m + 2, b + 1, n - 1);
        } else {
            m[1] = (uint8_t)(b[1] + 1);
            m[2] = 0x00;
            memcpy(m + 3, b + 2, n - 2);
        }
        memset(&err, 0, sizeof err);
        assert_int_equal(fn(m, n + 1, &err), NEGOEX_ERR_DER_LENGTH);
        assert_int_equal(err.offset, 1);
    }

    if (!(flags & NEG_TAGS))
        return;
    for (size_t t = 0; t < count; t++) {
        size_t at = base + nodes[t].at;
        uint8_t tag = b[at], swapped = 0;
        if ((tag & 0xc0) == 0x80) {
            if ((tag & 0x1f) + 16 >= 31)
                continue;
            swapped = (uint8_t)(tag + 16); /* no schema has context tags above [12] */
        } else if ((tag & 0xc0) == 0) {
            switch (tag) {
            case 0x02: swapped = 0x0a; break; /* INTEGER -> ENUMERATED */
            case 0x03: swapped = 0x04; break; /* BIT STRING -> OCTET STRING */
            case 0x04: swapped = 0x16; break; /* OCTET STRING -> IA5String */
            case 0x18: swapped = 0x16; break; /* GeneralizedTime -> IA5String */
            case 0x1b: swapped = 0x16; break; /* GeneralString -> IA5String */
            case 0x30: swapped = 0x31; break; /* SEQUENCE -> SET */
            default: continue;
            }
        } else {
            continue;
        }
        memcpy(copy, b, n);
        copy[at] = swapped;
        memset(&err, 0, sizeof err);
        int rc = fn(copy, n, &err);
        assert_int_equal(rc, NEGOEX_ERR_DER_TAG);
    }
}

/* ------------------------------------------------------------------------ */
/* AS-REQ tokens (Windows initiator)                                        */
/* ------------------------------------------------------------------------ */

/* The GSS header and TOK_ID of a Windows token, re-framed byte for byte. */
static void check_framing(const uint8_t *tok, size_t len, unsigned tok_id, negoex_pku2u_token *t)
{
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_token_parse(tok, len, t, &err), NEGOEX_OK);
    assert_int_equal(t->tok_id, tok_id);
    /* 60 82 <len - 4> 06 06 2b 06 01 05 02 07 <TOK_ID> */
    assert_int_equal(tok[0], 0x60);
    assert_int_equal(tok[1], 0x82);
    assert_int_equal((size_t)(tok[2] << 8 | tok[3]), len - 4);
    size_t n;
    uint8_t *mech = hex("06062b0601050207", &n);
    assert_memory_equal(tok + 4, mech, n);
    assert_int_equal(tok[12], tok_id >> 8);
    assert_int_equal(tok[13], tok_id & 0xff);
    assert_int_equal(t->pdu_offset, 14);
    assert_ptr_equal(t->pdu.data, tok + 14);
    assert_int_equal(t->pdu.len, len - 14);
    size_t need = 0;
    assert_int_equal(negoex_pku2u_token_size(t->pdu.len, &need), NEGOEX_OK);
    assert_int_equal(need, len);
    uint8_t *again = amalloc(len);
    size_t written = 0;
    assert_int_equal(negoex_pku2u_token_write(tok_id, t->pdu.data, t->pdu.len, again, len, &written), NEGOEX_OK);
    assert_int_equal(written, len);
    assert_memory_equal(again, tok, len);
}

/* PA-PK-AS-REQ of a Windows initiator down to the AuthPack; req_body is the
 * DER KDC-REQ-BODY when the whole AS-REQ is known. */
static void check_pa_pk_as_req(negoex_bytes value, negoex_bytes req_body, const char *issuer)
{
    negoex_error_info err;
    negoex_krb_pa_pk_as_req pk;
    assert_int_equal(negoex_krb_decode_pa_pk_as_req(value.data, value.len, &pk, &err), NEGOEX_OK);
    assert_inside(pk.signed_auth_pack, value.data, value.len);
    assert_false(pk.has_trusted_certifiers);
    assert_int_equal(pk.trusted_certifier_count, 0);
    assert_absent(pk.kdc_pk_id);

    /* A bare SignedData (no ContentInfo): version 3, SHA-1, one
     * certificate, one SignerInfo with content-type + message-digest. */
    assert_int_equal(pk.signed_auth_pack.data[0], 0x30);
    negoex_cms_signed_data sd;
    assert_int_equal(negoex_cms_decode_signed_data(pk.signed_auth_pack.data, pk.signed_auth_pack.len, &sd, &err),
                     NEGOEX_OK);
    assert_false(sd.wrapped);
    assert_ptr_equal(sd.raw.data, pk.signed_auth_pack.data);
    assert_int_equal(sd.version, 3);
    assert_int_equal(sd.digest_algorithm_count, 1);
    assert_hex(sd.digest_algorithms[0], HX_SHA1);
    assert_oid(sd.econtent_type, "1.3.6.1.5.2.3.1");
    assert_true(negoex_asn1_oid_is(sd.econtent_type, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN));
    assert_inside(sd.econtent, sd.raw.data, sd.raw.len);
    assert_int_equal(sd.certificate_count, 1);
    assert_false(sd.has_crls);
    assert_int_equal(sd.signer_count, 1);
    const negoex_cms_signer *si = &sd.signers[0];
    assert_int_equal(si->version, 1);
    assert_false(si->sid_is_ski);
    assert_hex(si->digest_algorithm, HX_SHA1);
    assert_hex(si->signature_algorithm, HX_RSA);
    assert_int_equal(si->signature.len, 256);
    assert_int_equal(si->signed_attrs.data[0], 0xa0);
    assert_oid(si->content_type_attr, "1.3.6.1.5.2.3.1");
    assert_sha1(si->message_digest_attr, sd.econtent);
    assert_false(si->has_unsigned_attrs);
    assert_name(si->issuer, issuer, 0x1e);

    /* The certificate parses with OpenSSL, issued by that CA, with the
     * serial number of the SignerInfo. */
    const unsigned char *cp = sd.certificates[0].data;
    X509 *cert = d2i_X509(NULL, &cp, (long)sd.certificates[0].len);
    assert_non_null(cert);
    assert_ptr_equal(cp, sd.certificates[0].data + sd.certificates[0].len);
    unsigned char *ser = NULL;
    int ser_len = i2d_ASN1_INTEGER(X509_get_serialNumber(cert), &ser);
    assert_true(ser_len > 2);
    assert_int_equal((size_t)ser_len - 2, si->serial.len);
    assert_memory_equal(ser + 2, si->serial.data, si->serial.len);
    OPENSSL_free(ser);
    X509_free(cert);

    /* AuthPack: nonce 0, DH group 2 with q, 32-byte client nonce. */
    negoex_krb_auth_pack ap;
    assert_int_equal(negoex_krb_decode_auth_pack(sd.econtent.data, sd.econtent.len, &ap, &err), NEGOEX_OK);
    assert_true(ap.cusec <= 999999);
    int64_t t;
    assert_int_equal(negoex_krb_time_to_unix(ap.ctime, &t), NEGOEX_OK);
    assert_true(t > 1640995200 && t < 1672531200); /* during 2022 */
    assert_int_equal(ap.nonce, 0);
    assert_int_equal(ap.pa_checksum.len, 20);
    if (req_body.data != NULL)
        assert_sha1(ap.pa_checksum, req_body);
    assert_inside(ap.client_public_value, sd.econtent.data, sd.econtent.len);
    assert_oid(ap.cpv_algorithm, "1.2.840.10046.2.1");
    assert_true(ap.is_dh);
    assert_hex(ap.dh.p, json_hex(V_DH_GROUPS, "windows_client_group", "p"));
    assert_hex(ap.dh.g, json_hex(V_DH_GROUPS, "windows_client_group", "g"));
    assert_hex(ap.dh.q, json_hex(V_DH_GROUPS, "windows_client_group", "q"));
    assert_absent(ap.dh.j);
    assert_false(ap.dh.has_validation_parms);
    assert_true(ap.dh_y.len > 64 && ap.dh_y.len <= 128);
    assert_inside(ap.dh_y, ap.cpv_public_key.data, ap.cpv_public_key.len);
    assert_absent(ap.supported_cms_types);
    assert_int_equal(ap.client_dh_nonce.len, 32);

    negatives("PA-PK-AS-REQ", value.data, value.len, u_pa_pk_as_req, 0, NEG_TAGS);
    negatives("SignedData", pk.signed_auth_pack.data, pk.signed_auth_pack.len, u_signed_data, 0, 0);
    negatives("AuthPack", sd.econtent.data, sd.econtent.len, u_auth_pack, 0, NEG_TAGS);
    negatives("Name", si->issuer.data, si->issuer.len, u_name, 0, 0);
}

static void check_as_req(const char *path, const char *host)
{
    size_t len;
    uint8_t *tok = tu_load_tracked(path, &len);
    negoex_pku2u_token t;
    check_framing(tok, len, NEGOEX_PKU2U_TOK_AS_REQ, &t);

    negoex_pku2u_message m;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_OK);
    assert_int_equal(m.token.tok_id, NEGOEX_PKU2U_TOK_AS_REQ);
    assert_string_equal(negoex_pku2u_tok_id_name(m.token.tok_id), "AS-REQ");
    const negoex_krb_kdc_req *r = &m.u.as_req;
    assert_int_equal(r->msg_type, 10);
    assert_int_equal(r->padata_count, 1);
    assert_int_equal(r->padata[0].type, NEGOEX_KRB_PA_PK_AS_REQ);
    assert_int_equal(r->kdc_options, 0x40810010u);
    assert_true(r->has_cname);
    assert_principal(&r->cname, NEGOEX_KRB_NT_MS_PRINCIPAL, 1, WIN_CLIENT_NAME, NULL);
    assert_str(r->realm, REALM);
    assert_true(r->has_sname);
    assert_principal(&r->sname, 2, 2, "TERMSRV", host);
    assert_absent(r->from);
    assert_str(r->till, TILL);
    assert_str(r->rtime, TILL);
    int64_t till;
    assert_int_equal(negoex_krb_time_to_unix(r->till, &till), NEGOEX_OK);
    assert_int_equal(till, 2136509285); /* 2037-09-14T02:48:05Z */
    assert_int_equal(r->nonce, 0);
    static const int32_t etypes[] = {18, 17, 23, 24, -135};
    assert_int_equal(r->etype_count, 5);
    for (size_t i = 0; i < 5; i++)
        assert_int_equal(r->etypes[i], etypes[i]);
    assert_true(r->has_addresses);
    assert_int_equal(r->address_count, 1);
    assert_int_equal(r->addresses[0].addr_type, NEGOEX_KRB_ADDR_NETBIOS);
    assert_str(r->addresses[0].address, "DESKTOP-8F33RFH ");
    assert_false(r->has_enc_authorization_data);
    assert_int_equal(r->additional_ticket_count, 0);

    /* The req-body as raw bytes: the last element of the token, behind
     * a4 82 <len>, a SEQUENCE. */
    size_t off = (size_t)(r->req_body.data - tok);
    assert_int_equal(off + r->req_body.len, len);
    assert_int_equal(tok[off - 4], 0xa4);
    assert_int_equal(tok[off - 3], 0x82);
    assert_int_equal((size_t)(tok[off - 2] << 8 | tok[off - 1]), r->req_body.len);
    assert_int_equal(tok[off], 0x30);
    assert_int_equal(tok[off + 1], 0x82);
    assert_int_equal((size_t)(tok[off + 2] << 8 | tok[off + 3]) + 4, r->req_body.len);

    /* Decoding the PDU alone gives the same views. */
    negoex_krb_kdc_req alone;
    assert_int_equal(negoex_krb_decode_as_req(t.pdu.data, t.pdu.len, &alone, &err), NEGOEX_OK);
    assert_memory_equal(&alone, r, sizeof alone);

    check_pa_pk_as_req(r->padata[0].value, r->req_body, P2P_2022);
    negatives(path, tok, len, u_token, 1, NEG_TAGS);
}

static void test_as_req_2022_09_25(void **state)
{
    (void)state;
    check_as_req(V_ASREQ_0925, "192.168.0.104");
}

static void test_as_req_2022_10_18(void **state)
{
    (void)state;
    check_as_req(V_ASREQ_1018, "dest.dataans.com");
}

static void test_pa_pk_as_req_2022_05_17(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_PKASREQ_0517, &len);
    negoex_bytes v = {b, len}, none = {NULL, 0};
    /* That conversation's CA was the 2021 one (see the AS-REP). */
    check_pa_pk_as_req(v, none, P2P_2021);
}

/* ------------------------------------------------------------------------ */
/* AS-REP tokens (Windows acceptor, sspi-rs test acceptor)                  */
/* ------------------------------------------------------------------------ */

static void check_pa_pk_as_rep(negoex_bytes value, const char *issuer, const char *nonce_hex,
                               const char *content_type_attr, int y_negative)
{
    negoex_error_info err;
    negoex_krb_pa_pk_as_rep rep;
    assert_int_equal(negoex_krb_decode_pa_pk_as_rep(value.data, value.len, &rep, &err), NEGOEX_OK);
    assert_int_equal(rep.choice, NEGOEX_KRB_PK_AS_REP_DH_INFO);
    assert_absent(rep.enc_key_pack);
    assert_int_equal(rep.server_dh_nonce.len, 32);
    if (nonce_hex)
        assert_hex(rep.server_dh_nonce, nonce_hex);

    negoex_cms_signed_data sd;
    assert_int_equal(negoex_cms_decode_signed_data(rep.dh_signed_data.data, rep.dh_signed_data.len, &sd, &err),
                     NEGOEX_OK);
    assert_false(sd.wrapped);
    assert_int_equal(sd.version, 3);
    assert_int_equal(sd.digest_algorithm_count, 1);
    assert_hex(sd.digest_algorithms[0], HX_SHA1);
    assert_oid(sd.econtent_type, "1.3.6.1.5.2.3.2");
    assert_true(negoex_asn1_oid_is(sd.econtent_type, NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN));
    assert_int_equal(sd.certificate_count, 1);
    assert_int_equal(sd.signer_count, 1);
    assert_hex(sd.signers[0].digest_algorithm, HX_SHA1);
    assert_hex(sd.signers[0].signature_algorithm, HX_RSA);
    assert_oid(sd.signers[0].content_type_attr, content_type_attr);
    assert_sha1(sd.signers[0].message_digest_attr, sd.econtent);
    assert_name(sd.signers[0].issuer, issuer, 0x1e);

    negoex_krb_kdc_dh_key_info ki;
    assert_int_equal(negoex_krb_decode_kdc_dh_key_info(sd.econtent.data, sd.econtent.len, &ki, &err), NEGOEX_OK);
    assert_int_equal(ki.nonce, 0);
    assert_absent(ki.dh_key_expiration);
    assert_int_equal(ki.y_was_negative, y_negative);
    /* BIT STRING 00 | 02 81 80|81 <y> */
    assert_int_equal(ki.subject_public_key.data[0], 0x02);
    assert_true(ki.y.len > 64 && ki.y.len <= 128);
    assert_ptr_equal(ki.y.data + ki.y.len, ki.subject_public_key.data + ki.subject_public_key.len);

    negatives("PA-PK-AS-REP", value.data, value.len, u_pa_pk_as_rep, 0, NEG_TAGS);
    negatives("SignedData", rep.dh_signed_data.data, rep.dh_signed_data.len, u_signed_data, 0, 0);
    negatives("KDCDHKeyInfo", sd.econtent.data, sd.econtent.len, u_kdc_dh_key_info, 0, NEG_TAGS);
}

static const negoex_krb_kdc_rep *check_as_rep(const char *path, const char *cname, const char *host,
                                              negoex_pku2u_message *m)
{
    size_t len;
    uint8_t *tok = tu_load_tracked(path, &len);
    negoex_pku2u_token t;
    check_framing(tok, len, NEGOEX_PKU2U_TOK_AS_REP, &t);
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, m, &err), NEGOEX_OK);
    const negoex_krb_kdc_rep *r = &m->u.as_rep;
    assert_int_equal(r->msg_type, 11);
    assert_int_equal(r->padata_count, 1);
    assert_int_equal(r->padata[0].type, NEGOEX_KRB_PA_PK_AS_REP);
    assert_str(r->crealm, REALM);
    assert_principal(&r->cname, NEGOEX_KRB_NT_MS_PRINCIPAL, 1, cname, NULL);
    assert_str(r->ticket.realm, REALM);
    assert_principal(&r->ticket.sname, 2, 2, "TERMSRV", host);
    assert_int_equal(r->ticket.enc_part.etype, 18);
    assert_false(r->ticket.enc_part.has_kvno);
    assert_int_equal(r->ticket.raw.data[0], 0x61); /* [APPLICATION 1] */
    assert_inside(r->ticket.enc_part.cipher, r->ticket.raw.data, r->ticket.raw.len);
    assert_int_equal(r->enc_part.etype, 18);
    assert_true(r->enc_part.cipher.len > 16);

    /* The Ticket alone decodes to the same view. */
    negoex_krb_ticket tk;
    assert_int_equal(negoex_krb_decode_ticket(r->ticket.raw.data, r->ticket.raw.len, &tk, &err), NEGOEX_OK);
    assert_memory_equal(&tk, &r->ticket, sizeof tk);

    negatives(path, tok, len, u_token, 1, NEG_TAGS);
    return r;
}

static void test_as_rep_windows(void **state)
{
    (void)state;
    negoex_pku2u_message m;
    const negoex_krb_kdc_rep *r =
        check_as_rep(V_ASREP_0517, "AzureAD\\mamoreau@downhillpro.xyz", "AZRDOWN-W10", &m);
    /* The PA-PK-AS-REP file is this token's padata-value. */
    size_t len;
    uint8_t *file = tu_load_tracked(V_PKASREP_0517, &len);
    assert_int_equal(r->padata[0].value.len, len);
    assert_memory_equal(r->padata[0].value.data, file, len);
    check_pa_pk_as_rep(r->padata[0].value, P2P_2021,
                       "a0878b536a28204b7d0c17bfbfa3d7a2d984c450d46658fbfc879789793ac747",
                       "1.3.6.1.5.2.3.2", 0);
}

static void test_as_rep_sspi(void **state)
{
    (void)state;
    negoex_pku2u_message m;
    const negoex_krb_kdc_rep *r = check_as_rep(V_ASREP_SSPI, "AzureAD\\s7@dataans.com", "dest.dataans.com", &m);
    /* sspi-rs signs content-type id-pkinit-authData over an eContent of
     * type id-pkinit-DHKeyData (RFC 5652 5.3 wants them equal); the
     * Windows client accepted it anyway. */
    /* It also writes y without the leading 00 its INTEGER needs: a negative
     * number in DER, read as the unsigned y it means. */
    check_pa_pk_as_rep(r->padata[0].value, P2P_2022, NULL, "1.3.6.1.5.2.3.1", 1);
}

static void test_pa_pk_as_rep_file(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_PKASREP_0517, &len);
    negoex_bytes v = {b, len};
    check_pa_pk_as_rep(v, P2P_2021, "a0878b536a28204b7d0c17bfbfa3d7a2d984c450d46658fbfc879789793ac747",
                       "1.3.6.1.5.2.3.2", 0);
}

/* The KRB-FINISHED input is the 2022-10-18 AS-REQ token followed by the
 * sspi-rs AS-REP token: two GSS tokens, split by their framing. */
static void test_finished_input_tokens(void **state)
{
    (void)state;
    size_t len, a_len, b_len;
    uint8_t *in = tu_load_tracked(V_FINISHED_INPUT, &len);
    uint8_t *a = tu_load_tracked(V_ASREQ_1018, &a_len);
    uint8_t *b = tu_load_tracked(V_ASREP_SSPI, &b_len);
    assert_int_equal(len, a_len + b_len);
    size_t first = 4 + (size_t)(in[2] << 8 | in[3]);
    assert_int_equal(first, a_len);
    negoex_pku2u_token t;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_token_parse(in, first, &t, &err), NEGOEX_OK);
    assert_int_equal(t.tok_id, NEGOEX_PKU2U_TOK_AS_REQ);
    assert_memory_equal(in, a, a_len);
    assert_int_equal(negoex_pku2u_token_parse(in + first, len - first, &t, &err), NEGOEX_OK);
    assert_int_equal(t.tok_id, NEGOEX_PKU2U_TOK_AS_REP);
    assert_memory_equal(in + first, b, b_len);
    /* Both at once is one token and trailing bytes. */
    assert_int_equal(negoex_pku2u_token_parse(in, len, &t, &err), NEGOEX_ERR_DER_TRAILING);
    assert_int_equal(err.offset, first);
}

/* ------------------------------------------------------------------------ */
/* Authorization data, KRB-FINISHED, Authenticator                          */
/* ------------------------------------------------------------------------ */

static void test_authorization_data(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_AUTHZ, &len);
    negoex_error_info err;
    negoex_krb_authz_data outer, inner;
    assert_int_equal(negoex_krb_decode_authz_data(b, len, &outer, &err), NEGOEX_OK);
    assert_int_equal(outer.count, 1);
    assert_int_equal(outer.entries[0].ad_type, NEGOEX_KRB_AD_IF_RELEVANT);
    assert_int_equal(negoex_krb_decode_authz_data(outer.entries[0].ad_data.data, outer.entries[0].ad_data.len,
                                                  &inner, &err),
                     NEGOEX_OK);
    assert_int_equal(inner.count, 1);
    assert_int_equal(inner.entries[0].ad_type, NEGOEX_KRB_AD_TOKEN_RESTRICTIONS);
    negoex_krb_ad_restrictions rs;
    assert_int_equal(negoex_krb_decode_ad_restrictions(inner.entries[0].ad_data.data, inner.entries[0].ad_data.len,
                                                       &rs, &err),
                     NEGOEX_OK);
    assert_int_equal(rs.count, 1);
    assert_int_equal(rs.entries[0].restriction_type, 0);
    negoex_krb_token_integrity ti;
    assert_int_equal(negoex_krb_decode_token_integrity(rs.entries[0].restriction, &ti), NEGOEX_OK);
    assert_int_equal(ti.flags, 1);
    assert_int_equal(ti.token_il, 0x2000);
    negoex_bytes mid = {ti.machine_id, 32};
    assert_hex(mid, json_hex(V_CONSTANTS, "{", "lsap_token_info_integrity_machine_id_hex"));
    /* The single entry alone. */
    negoex_krb_ad_restriction one;
    const uint8_t *e = inner.entries[0].ad_data.data + 2;
    assert_int_equal(negoex_krb_decode_ad_restriction_entry(e, inner.entries[0].ad_data.len - 2, &one, &err),
                     NEGOEX_OK);
    assert_memory_equal(&one, &rs.entries[0], sizeof one);
    negoex_bytes short_r = {ti.machine_id, 39};
    assert_int_equal(negoex_krb_decode_token_integrity(short_r, &ti), NEGOEX_ERR_DER_VALUE);

    negatives("AuthorizationData", b, len, u_authz, 0, NEG_TAGS);
    negatives("AD-IF-RELEVANT", outer.entries[0].ad_data.data, outer.entries[0].ad_data.len, u_authz, 0, NEG_TAGS);
    negatives("KERB-AD-RESTRICTIONS", inner.entries[0].ad_data.data, inner.entries[0].ad_data.len, u_restrictions, 0,
              NEG_TAGS);
}

/* DER KRB-FINISHED with the gss-mic of verified_vectors.json. */
static dbuf finished_der(void)
{
    const char *mic = json_hex(V_VERIFIED, "krb_finished", "expected_checksum_hex");
    /* constants.json template: 3019a1173015a003020110a10e040c<12 bytes> */
    char h[128];
    snprintf(h, sizeof h, "3019a1173015a003020110a10e040c%s", mic);
    return rawhex(h);
}

static void test_krb_finished(void **state)
{
    (void)state;
    dbuf f = finished_der();
    negoex_krb_finished fin;
    negoex_error_info err;
    assert_int_equal(negoex_krb_decode_finished(f.p, f.n, &fin, &err), NEGOEX_OK);
    assert_int_equal(fin.gss_mic.cksumtype, 16);
    assert_hex(fin.gss_mic.checksum, "e11dcfca0ec9582c53cec320");
    /* It is also a plain Checksum inside. */
    negoex_krb_cksum ck;
    assert_int_equal(negoex_krb_decode_checksum(f.p + 4, f.n - 4, &ck, &err), NEGOEX_OK);
    assert_memory_equal(&ck, &fin.gss_mic, sizeof ck);
    /* gss-mic is [1]: [0] is no KRB-FINISHED. */
    f.p[2] = 0xa0;
    assert_int_equal(negoex_krb_decode_finished(f.p, f.n, &fin, &err), NEGOEX_ERR_DER_TAG);
    f.p[2] = 0xa1;
    negatives("KRB-FINISHED", f.p, f.n, u_finished, 0, NEG_TAGS);
}

/* An Authenticator shaped like a Windows PKU2U one (pku2u-wire.md). */
static dbuf windows_like_authenticator(void)
{
    size_t authz_len;
    uint8_t *authz = tu_load_tracked(V_AUTHZ, &authz_len);
    dbuf fin = finished_der();
    /* 0x8003: Lgth 16, Bnd zeros, Flags 3e400000 (constants.json), then
     * GSS_EXTS_FINISHED: type 2, length 27 (big-endian) and KRB-FINISHED. */
    dbuf cksum = cat(2, rawhex("10000000000000000000000000000000000000003e400000000000020000001b"), fin);
    return tlv(0x62, seq(cat(9, ex(0, integer(5)), ex(1, gstr(REALM)),
                             ex(2, principal(-128, "AzureAD\\s7@dataans.com", NULL)),
                             ex(3, seq(cat(2, ex(0, integer(0x8003)), ex(1, tlv(0x04, cksum))))),
                             ex(4, integer(123456)), ex(5, ktime("20221018064450Z")), ex(6, enc_key(18, KEY32)),
                             ex(7, integer(0x1234567)), ex(8, raw(authz, authz_len)))));
}

static void test_authenticator(void **state)
{
    (void)state;
    dbuf a = windows_like_authenticator();
    negoex_krb_authenticator au;
    negoex_error_info err;
    assert_int_equal(negoex_krb_decode_authenticator(a.p, a.n, &au, &err), NEGOEX_OK);
    assert_str(au.crealm, REALM);
    assert_principal(&au.cname, -128, 1, "AzureAD\\s7@dataans.com", NULL);
    assert_true(au.has_cksum);
    assert_int_equal(au.cksum.cksumtype, 0x8003);
    assert_int_equal(au.cksum.checksum.len, 24 + 8 + 27);
    assert_int_equal(au.cusec, 123456);
    assert_str(au.ctime, "20221018064450Z");
    assert_true(au.has_subkey);
    assert_int_equal(au.subkey.keytype, 18);
    assert_hex(au.subkey.keyvalue, KEY32);
    assert_true(au.has_seq_number);
    assert_int_equal(au.seq_number, 0x1234567);
    size_t authz_len;
    uint8_t *authz = tu_load_tracked(V_AUTHZ, &authz_len);
    assert_int_equal(au.authorization_data.len, authz_len);
    assert_memory_equal(au.authorization_data.data, authz, authz_len);
    /* The KRB-FINISHED at the end of the 0x8003 checksum. */
    negoex_krb_finished fin;
    assert_int_equal(negoex_krb_decode_finished(au.cksum.checksum.data + 32, 27, &fin, &err), NEGOEX_OK);
    assert_hex(fin.gss_mic.checksum, "e11dcfca0ec9582c53cec320");
    negatives("Authenticator", a.p, a.n, u_authenticator, 0, NEG_TAGS);

    /* Without the optional fields. */
    dbuf b = tlv(0x62, seq(cat(5, ex(0, integer(5)), ex(1, gstr(REALM)), ex(2, principal(1, "a", NULL)),
                               ex(4, integer(0)), ex(5, ktime("20221018064450Z")))));
    assert_int_equal(negoex_krb_decode_authenticator(b.p, b.n, &au, &err), NEGOEX_OK);
    assert_false(au.has_cksum);
    assert_false(au.has_subkey);
    assert_false(au.has_seq_number);
    assert_absent(au.authorization_data);
    /* cusec is Microseconds: 1000000 is out of range. */
    b = tlv(0x62, seq(cat(5, ex(0, integer(5)), ex(1, gstr(REALM)), ex(2, principal(1, "a", NULL)),
                          ex(4, integer(1000000)), ex(5, ktime("20221018064450Z")))));
    assert_int_equal(negoex_krb_decode_authenticator(b.p, b.n, &au, &err), NEGOEX_ERR_DER_VALUE);
    assert_string_equal(err.field, "cusec");
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                 */
/* ------------------------------------------------------------------------ */

/* The exchange bytes of a NEGOEX META_DATA message file. */
static negoex_bytes message_exchange(const char *path)
{
    size_t len;
    uint8_t *b = tu_load_tracked(path, &len);
    negoex_reader rd;
    negoex_message msg;
    negoex_reader_init(&rd, b, len);
    assert_int_equal(negoex_reader_next(&rd, &msg), 1);
    return msg.u.exchange.exchange;
}

static void test_metadata_initiator(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_META_I, &len);
    negoex_bytes x = message_exchange(V_MSG_META_I);
    assert_int_equal(x.len, len);
    assert_memory_equal(x.data, b, len);

    negoex_pku2u_metadata md;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_initiator_metadata(x.data, x.len, &md, &err), NEGOEX_OK);
    assert_true(md.initiator);
    /* Windows lists its CA twice. */
    assert_int_equal(md.trusted_certifier_count, 2);
    for (size_t i = 0; i < 2; i++) {
        assert_absent(md.trusted_certifiers[i].issuer_and_serial);
        assert_absent(md.trusted_certifiers[i].subject_key_id);
        assert_name(md.trusted_certifiers[i].subject_name, P2P_2021, 0x1e);
    }
    assert_str(md.target_realm, REALM);
    assert_principal(&md.target_sname, 2, 2, "TERMSRV", "AZRDOWN-W10");
    negoex_pku2u_metadata any;
    assert_int_equal(negoex_pku2u_decode_metadata(b, len, &any, &err), NEGOEX_OK);
    assert_true(any.initiator);
    /* It is not the acceptor's form. */
    assert_int_equal(negoex_pku2u_decode_acceptor_metadata(b, len, &any, &err), NEGOEX_ERR_DER_TAG);
    negatives("Pku2uInitiatorMetaData", b, len, u_metadata, 0, NEG_TAGS);
}

static void test_metadata_acceptor(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_META_A, &len);
    negoex_bytes x = message_exchange(V_MSG_META_A);
    assert_int_equal(x.len, len);
    assert_memory_equal(x.data, b, len);

    negoex_pku2u_metadata md;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_acceptor_metadata(b, len, &md, &err), NEGOEX_OK);
    assert_false(md.initiator);
    assert_int_equal(md.trusted_certifier_count, 3);
    assert_name(md.trusted_certifiers[0].subject_name, P2P_2021, 0x1e);
    assert_name(md.trusted_certifiers[1].subject_name, TOKEN_SIGNING, 0x13);
    assert_name(md.trusted_certifiers[2].subject_name, TOKEN_SIGNING, 0x13);
    assert_absent(md.target_realm);
    assert_int_equal(md.target_sname.count, 0);
    negoex_pku2u_metadata any;
    assert_int_equal(negoex_pku2u_decode_metadata(b, len, &any, &err), NEGOEX_OK);
    assert_memory_equal(&any, &md, sizeof md);
    assert_int_equal(negoex_pku2u_decode_initiator_metadata(b, len, &any, &err), NEGOEX_ERR_DER_TAG);
    negatives("Pku2uAcceptorMetaData", b, len, u_metadata, 0, NEG_TAGS);
}

static void test_metadata_sspi_acceptor(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load_tracked(V_META_SSPI, &len);
    negoex_pku2u_metadata md;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_metadata(b, len, &md, &err), NEGOEX_OK);
    assert_false(md.initiator);
    assert_int_equal(md.trusted_certifier_count, 1);
    assert_name(md.trusted_certifiers[0].subject_name, P2P_2022, 0x1e);
    negoex_krb_epi epi;
    assert_int_equal(negoex_krb_decode_epi(b + 6, len - 6, &epi, &err), NEGOEX_OK);
    assert_memory_equal(&epi, &md.trusted_certifiers[0], sizeof epi);
    negatives("Pku2uAcceptorMetaData (sspi-rs)", b, len, u_metadata, 0, NEG_TAGS);
}

/* ------------------------------------------------------------------------ */
/* Structures without a capture                                             */
/* ------------------------------------------------------------------------ */

/* The Windows AS-REP ticket (raw) for the AP-REQ / TGS tests. */
static negoex_bytes windows_ticket(void)
{
    size_t len;
    uint8_t *tok = tu_load_tracked(V_ASREP_0517, &len);
    negoex_pku2u_message m;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_OK);
    return m.u.as_rep.ticket.raw;
}

static uint8_t *frame(unsigned tok_id, dbuf pdu, size_t *len)
{
    assert_int_equal(negoex_pku2u_token_size(pdu.n, len), NEGOEX_OK);
    uint8_t *t = amalloc(*len);
    size_t w;
    assert_int_equal(negoex_pku2u_token_write(tok_id, pdu.p, pdu.n, t, *len, &w), NEGOEX_OK);
    assert_int_equal(w, *len);
    return t;
}

static void test_ap_req(void **state)
{
    (void)state;
    negoex_bytes tk = windows_ticket();
    /* ap-options mutual-required (bit 2). */
    dbuf pdu = tlv(0x6e, seq(cat(5, ex(0, integer(5)), ex(1, integer(14)), ex(2, flags32(0x20000000)),
                                 ex(3, raw(tk.data, tk.len)), ex(4, enc_data(18, "00112233445566778899aabbccddeeff00")))));
    size_t len;
    uint8_t *tok = frame(NEGOEX_PKU2U_TOK_AP_REQ, pdu, &len);
    negoex_pku2u_message m;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_OK);
    assert_int_equal(m.token.tok_id, NEGOEX_PKU2U_TOK_AP_REQ);
    assert_int_equal(m.u.ap_req.ap_options, 0x20000000u);
    assert_int_equal(m.u.ap_req.ticket.raw.len, tk.len);
    assert_memory_equal(m.u.ap_req.ticket.raw.data, tk.data, tk.len);
    assert_principal(&m.u.ap_req.ticket.sname, 2, 2, "TERMSRV", "AZRDOWN-W10");
    assert_int_equal(m.u.ap_req.authenticator.etype, 18);
    assert_hex(m.u.ap_req.authenticator.cipher, "00112233445566778899aabbccddeeff00");
    negatives("AP-REQ", tok, len, u_token, 1, NEG_TAGS);

    /* msg-type must be 14. */
    pdu = tlv(0x6e, seq(cat(5, ex(0, integer(5)), ex(1, integer(15)), ex(2, flags32(0)), ex(3, raw(tk.data, tk.len)),
                            ex(4, enc_data(18, "00")))));
    tok = frame(NEGOEX_PKU2U_TOK_AP_REQ, pdu, &len);
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_ERR_DER_VALUE);
    assert_string_equal(err.field, "msg-type");
    assert_int_equal(err.offset, 14 + 4 + 4 + 5 + 2); /* the INTEGER inside [1] */
    /* A TOK_ID that names another message than the PDU. */
    pdu = tlv(0x6e, seq(cat(5, ex(0, integer(5)), ex(1, integer(14)), ex(2, flags32(0)), ex(3, raw(tk.data, tk.len)),
                            ex(4, enc_data(18, "00")))));
    tok = frame(NEGOEX_PKU2U_TOK_AP_REQ, pdu, &len);
    tok[13] = 0x00;
    tok[12] = 0x02;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_ERR_DER_TAG);
    assert_int_equal(err.offset, 14);
    assert_string_equal(err.field, "innerContextToken");
}

static void test_ap_rep_and_enc_part(void **state)
{
    (void)state;
    dbuf pdu = tlv(0x6f, seq(cat(3, ex(0, integer(5)), ex(1, integer(15)),
                                 ex(2, seq(cat(3, ex(0, integer(18)), ex(1, integer(3)), ex(2, octets("aabbcc"))))))));
    size_t len;
    uint8_t *tok = frame(NEGOEX_PKU2U_TOK_AP_REP, pdu, &len);
    negoex_pku2u_message m;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_OK);
    assert_int_equal(m.token.tok_id, NEGOEX_PKU2U_TOK_AP_REP);
    assert_int_equal(m.u.ap_rep.enc_part.etype, 18);
    assert_true(m.u.ap_rep.enc_part.has_kvno);
    assert_int_equal(m.u.ap_rep.enc_part.kvno, 3);
    assert_hex(m.u.ap_rep.enc_part.cipher, "aabbcc");
    negatives("AP-REP", tok, len, u_token, 1, NEG_TAGS);

    /* EncAPRepPart: the acceptor's subkey. */
    dbuf e = tlv(0x7b, seq(cat(4, ex(0, ktime("20221018064451Z")), ex(1, integer(999999)),
                               ex(2, enc_key(18, KEY32)), ex(3, integer(0x7fffffff)))));
    negoex_krb_enc_ap_rep_part ep;
    assert_int_equal(negoex_krb_decode_enc_ap_rep_part(e.p, e.n, &ep, &err), NEGOEX_OK);
    assert_str(ep.ctime, "20221018064451Z");
    assert_int_equal(ep.cusec, 999999);
    assert_true(ep.has_subkey);
    assert_hex(ep.subkey.keyvalue, KEY32);
    assert_true(ep.has_seq_number);
    assert_int_equal(ep.seq_number, 0x7fffffff);
    /* kvno is UInt32: negative is out of range */
    pdu = tlv(0x6f, seq(cat(3, ex(0, integer(5)), ex(1, integer(15)),
                            ex(2, seq(cat(3, ex(0, integer(18)), ex(1, integer(-1)), ex(2, octets("aa"))))))));
    assert_int_equal(negoex_krb_decode_ap_rep(pdu.p, pdu.n, &m.u.ap_rep, &err), NEGOEX_ERR_DER_VALUE);
    assert_string_equal(err.field, "kvno");
}

static void test_krb_error(void **state)
{
    (void)state;
    dbuf pdu = tlv(0x7e, seq(cat(9, ex(0, integer(5)), ex(1, integer(30)), ex(4, ktime("20221018064452Z")),
                                 ex(5, integer(7)), ex(6, integer(68)), ex(9, gstr(REALM)),
                                 ex(10, principal(2, "TERMSRV", "host")), ex(11, gstr("wrong realm")),
                                 ex(12, octets("3000")))));
    size_t len;
    uint8_t *tok = frame(NEGOEX_PKU2U_TOK_KRB_ERROR, pdu, &len);
    negoex_pku2u_message m;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_decode_token(tok, len, &m, &err), NEGOEX_OK);
    const negoex_krb_error *e = &m.u.krb_error;
    assert_absent(e->ctime);
    assert_false(e->has_cusec);
    assert_str(e->stime, "20221018064452Z");
    assert_int_equal(e->susec, 7);
    assert_int_equal(e->error_code, 68);
    assert_absent(e->crealm);
    assert_false(e->has_cname);
    assert_str(e->realm, REALM);
    assert_principal(&e->sname, 2, 2, "TERMSRV", "host");
    assert_str(e->e_text, "wrong realm");
    assert_hex(e->e_data, "3000");
    negoex_krb_method_data md;
    assert_int_equal(negoex_krb_decode_method_data(e->e_data.data, e->e_data.len, &md, &err), NEGOEX_OK);
    assert_int_equal(md.count, 0);
    negatives("KRB-ERROR", tok, len, u_token, 1, NEG_TAGS);
}

static void test_tgs_and_enc_parts(void **state)
{
    (void)state;
    negoex_error_info err;
    /* TGS-REQ around the req-body of a Windows AS-REQ. */
    size_t alen;
    uint8_t *atok = tu_load_tracked(V_ASREQ_0925, &alen);
    negoex_pku2u_message am;
    assert_int_equal(negoex_pku2u_decode_token(atok, alen, &am, &err), NEGOEX_OK);
    negoex_bytes body = am.u.as_req.req_body;
    dbuf tgs = tlv(0x6c, seq(cat(4, ex(1, integer(5)), ex(2, integer(12)),
                                 ex(3, seq(seq(cat(2, ex(1, integer(1)), ex(2, octets("6e00")))))),
                                 ex(4, raw(body.data, body.len)))));
    negoex_krb_kdc_req rq;
    assert_int_equal(negoex_krb_decode_tgs_req(tgs.p, tgs.n, &rq, &err), NEGOEX_OK);
    assert_int_equal(rq.msg_type, 12);
    assert_int_equal(rq.padata_count, 1);
    assert_int_equal(rq.padata[0].type, 1);
    assert_int_equal(rq.req_body.len, body.len);
    assert_memory_equal(rq.req_body.data, body.data, body.len);
    /* An AS-REQ decoder refuses it (another application tag). */
    assert_int_equal(negoex_krb_decode_as_req(tgs.p, tgs.n, &rq, &err), NEGOEX_ERR_DER_TAG);

    negoex_bytes tk = windows_ticket();
    dbuf rep = tlv(0x6d, seq(cat(6, ex(0, integer(5)), ex(1, integer(13)), ex(3, gstr(REALM)),
                                 ex(4, principal(-128, "AzureAD\\x", NULL)), ex(5, raw(tk.data, tk.len)),
                                 ex(6, enc_data(18, "0102")))));
    negoex_krb_kdc_rep rp;
    assert_int_equal(negoex_krb_decode_tgs_rep(rep.p, rep.n, &rp, &err), NEGOEX_OK);
    assert_int_equal(rp.msg_type, 13);
    assert_int_equal(rp.padata_count, 0);
    assert_int_equal(rp.ticket.raw.len, tk.len);

    /* EncASRepPart (25) and the EncTGSRepPart tag (26) some KDCs send. */
    for (unsigned app = 25; app <= 26; app++) {
        dbuf part = tlv((uint8_t)(0x60 | app),
                        seq(cat(10, ex(0, enc_key(18, KEY32)),
                                ex(1, seq(seq(cat(2, ex(0, integer(0)), ex(1, ktime("20220517192406Z")))))),
                                ex(2, integer(0)), ex(4, flags32(0x00600000)), ex(5, ktime("20220517192406Z")),
                                ex(7, ktime("20220518192406Z")), ex(8, ktime("20370914024805Z")), ex(9, gstr(REALM)),
                                ex(10, principal(2, "TERMSRV", "AZRDOWN-W10")),
                                ex(11, seq(seq(cat(2, ex(0, integer(20)), ex(1, octets("41414141")))))))));
        negoex_krb_enc_kdc_rep_part ep;
        assert_int_equal(negoex_krb_decode_enc_kdc_rep_part(part.p, part.n, &ep, &err), NEGOEX_OK);
        assert_int_equal(ep.app_tag, app);
        assert_int_equal(ep.key.keytype, 18);
        assert_int_equal(ep.last_req_count, 1);
        assert_str(ep.last_req[0].lr_value, "20220517192406Z");
        assert_int_equal(ep.nonce, 0);
        assert_absent(ep.key_expiration);
        assert_int_equal(ep.flags, 0x00600000u); /* initial, pre-authent */
        assert_absent(ep.starttime);
        assert_str(ep.renew_till, TILL);
        assert_str(ep.srealm, REALM);
        assert_principal(&ep.sname, 2, 2, "TERMSRV", "AZRDOWN-W10");
        assert_true(ep.has_caddr);
        assert_int_equal(ep.caddr_count, 1);
        assert_int_equal(ep.caddr[0].addr_type, 20);
    }

    size_t zlen;
    uint8_t *authz = tu_load_tracked(V_AUTHZ, &zlen);
    dbuf tp = tlv(0x63, seq(cat(8, ex(0, flags32(0x40e00000)), ex(1, enc_key(18, KEY32)), ex(2, gstr(REALM)),
                                ex(3, principal(-128, "AzureAD\\x", NULL)),
                                ex(4, seq(cat(2, ex(0, integer(0)), ex(1, octets(""))))),
                                ex(5, ktime("20220517192406Z")), ex(7, ktime("20220518192406Z")),
                                ex(10, raw(authz, zlen)))));
    negoex_krb_enc_ticket_part et;
    assert_int_equal(negoex_krb_decode_enc_ticket_part(tp.p, tp.n, &et, &err), NEGOEX_OK);
    assert_int_equal(et.flags, 0x40e00000u);
    assert_int_equal(et.tr_type, 0);
    assert_int_equal(et.tr_contents.len, 0);
    assert_non_null(et.tr_contents.data);
    assert_false(et.has_caddr);
    assert_int_equal(et.authorization_data.len, zlen);
    assert_memory_equal(et.authorization_data.data, authz, zlen);
}

/* ------------------------------------------------------------------------ */
/* Range rules and the DER walk                                             */
/* ------------------------------------------------------------------------ */

/* A minimal AS-REQ with the given pieces (NONE = the default). */
static dbuf as_req(dbuf pvno, dbuf msg_type, dbuf name, dbuf till, dbuf nonce, dbuf etypes, dbuf kdc_options)
{
    dbuf body = seq(cat(7, ex(0, kdc_options.p ? kdc_options : flags32(0x40810010)),
                        ex(1, name.p ? name : principal(-128, "AzureAD\\x", NULL)), ex(2, gstr(REALM)),
                        ex(5, till.p ? till : ktime(TILL)), ex(7, nonce.p ? nonce : integer(0)),
                        ex(8, etypes.p ? etypes : seq(integer(18))), NONE));
    return tlv(0x6a, seq(cat(3, ex(1, pvno.p ? pvno : integer(5)), ex(2, msg_type.p ? msg_type : integer(10)),
                             ex(4, body))));
}

static void expect_as_req(dbuf d, int code, const char *field)
{
    negoex_krb_kdc_req r;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_krb_decode_as_req(d.p, d.n, &r, &err);
    assert_int_equal(rc, code);
    if (code != NEGOEX_OK) {
        assert_int_equal(err.code, code);
        assert_string_equal(err.field, field);
        assert_true(err.offset < d.n);
        /* Nothing half-filled survives a failure. */
        static const negoex_krb_kdc_req zero;
        assert_memory_equal(&r, &zero, sizeof r);
    }
}

static void test_ranges(void **state)
{
    (void)state;
    expect_as_req(as_req(NONE, NONE, NONE, NONE, NONE, NONE, NONE), NEGOEX_OK, NULL);
    expect_as_req(as_req(integer(4), NONE, NONE, NONE, NONE, NONE, NONE), NEGOEX_ERR_DER_VALUE, "pvno");
    expect_as_req(as_req(NONE, integer(12), NONE, NONE, NONE, NONE, NONE), NEGOEX_ERR_DER_VALUE, "msg-type");
    /* Int32 name-type: -2^31 .. 2^31-1 */
    expect_as_req(as_req(NONE, NONE, principal(INT32_MIN, "a", NULL), NONE, NONE, NONE, NONE), NEGOEX_OK, NULL);
    expect_as_req(as_req(NONE, NONE, seq(cat(2, ex(0, integer(INT64_C(2147483648))), ex(1, seq(gstr("a"))))), NONE,
                         NONE, NONE, NONE),
                  NEGOEX_ERR_DER_VALUE, "name-type");
    expect_as_req(as_req(NONE, NONE, seq(cat(2, ex(0, integer(INT64_C(-2147483649))), ex(1, seq(gstr("a"))))), NONE,
                         NONE, NONE, NONE),
                  NEGOEX_ERR_DER_VALUE, "name-type");
    /* An INTEGER beyond 8 octets. */
    expect_as_req(as_req(NONE, NONE, seq(cat(2, ex(0, rawhex("0209010000000000000000")), ex(1, seq(gstr("a"))))),
                         NONE, NONE, NONE, NONE),
                  NEGOEX_ERR_DER_VALUE, "name-type");
    /* empty name-string */
    expect_as_req(as_req(NONE, NONE, seq(cat(2, ex(0, integer(1)), ex(1, seq(NONE)))), NONE, NONE, NONE, NONE),
                  NEGOEX_ERR_DER_VALUE, "name-string");
    /* nine components: over NEGOEX_KRB_MAX_NAME_COMPONENTS */
    dbuf nine = NONE;
    for (int i = 0; i < 9; i++)
        nine = cat(2, nine, gstr("c"));
    expect_as_req(as_req(NONE, NONE, seq(cat(2, ex(0, integer(1)), ex(1, seq(nine)))), NONE, NONE, NONE, NONE),
                  NEGOEX_ERR_TOO_LARGE, "name-string");
    /* UInt32 nonce */
    expect_as_req(as_req(NONE, NONE, NONE, NONE, integer(UINT32_MAX), NONE, NONE), NEGOEX_OK, NULL);
    expect_as_req(as_req(NONE, NONE, NONE, NONE, integer(-1), NONE, NONE), NEGOEX_ERR_DER_VALUE, "nonce");
    expect_as_req(as_req(NONE, NONE, NONE, NONE, integer(INT64_C(4294967296)), NONE, NONE), NEGOEX_ERR_DER_VALUE,
                  "nonce");
    /* KerberosTime: YYYYMMDDHHMMSSZ, a real date, no fraction */
    static const char *bad_times[] = {"20370914024805",   "20370914024805.5Z", "2037091402480Z",   "20371314024805Z",
                                      "20370931024805Z",  "20230229024805Z",   "20370914244805Z",  "20370914026005Z",
                                      "20370914024861Z",  "2037091402480aZ",   "20370914024805z",  "203709140248050Z",
                                      "00000000000000Z"};
    for (size_t i = 0; i < sizeof bad_times / sizeof bad_times[0]; i++) {
        /* Not DER (the walk, at the time's TLV, naming the structure) or no
         * KerberosTime (our check, naming the field). */
        dbuf d = as_req(NONE, NONE, NONE, ktime(bad_times[i]), NONE, NONE, NONE);
        negoex_krb_kdc_req r;
        negoex_error_info err = {0, 0, NULL};
        assert_int_equal(negoex_krb_decode_as_req(d.p, d.n, &r, &err), NEGOEX_ERR_DER_VALUE);
        size_t tl = strlen(bad_times[i]), at = 0;
        while (memcmp(d.p + at, bad_times[i], tl) != 0)
            at++;
        assert_int_equal(err.offset, at - 2);
        assert_true(strcmp(err.field, "till") == 0 || strcmp(err.field, "AS-REQ") == 0);
    }
    expect_as_req(as_req(NONE, NONE, NONE, ktime("20240229235960Z"), NONE, NONE, NONE), NEGOEX_OK, NULL);
    /* etype: not empty, at most 32 */
    expect_as_req(as_req(NONE, NONE, NONE, NONE, NONE, seq(NONE), NONE), NEGOEX_ERR_DER_VALUE, "etype");
    dbuf many = NONE;
    for (int i = 0; i < 33; i++)
        many = cat(2, many, integer(i));
    expect_as_req(as_req(NONE, NONE, NONE, NONE, NONE, seq(many), NONE), NEGOEX_ERR_TOO_LARGE, "etype");
    /* KerberosFlags: at least 32 bits */
    expect_as_req(as_req(NONE, NONE, NONE, NONE, NONE, NONE, rawhex("0303004081")), NEGOEX_ERR_DER_VALUE,
                  "kdc-options");
    expect_as_req(as_req(NONE, NONE, NONE, NONE, NONE, NONE, rawhex("03060040810010ff")), NEGOEX_OK, NULL);
    /* padata present but empty */
    dbuf body = seq(cat(6, ex(0, flags32(0)), ex(2, gstr(REALM)), ex(5, ktime(TILL)), ex(7, integer(0)),
                        ex(8, seq(integer(18))), NONE));
    expect_as_req(tlv(0x6a, seq(cat(4, ex(1, integer(5)), ex(2, integer(10)), ex(3, seq(NONE)), ex(4, body)))),
                  NEGOEX_ERR_DER_VALUE, "padata");
    /* cname and sname are optional */
    expect_as_req(tlv(0x6a, seq(cat(3, ex(1, integer(5)), ex(2, integer(10)), ex(4, body)))), NEGOEX_OK, NULL);
    /* Fields out of order / a field the schema lacks. */
    expect_as_req(tlv(0x6a, seq(cat(3, ex(2, integer(10)), ex(1, integer(5)), ex(4, body)))), NEGOEX_ERR_DER_TAG,
                  "AS-REQ");
    expect_as_req(tlv(0x6a, seq(cat(4, ex(1, integer(5)), ex(2, integer(10)), ex(4, body), ex(5, integer(0))))),
                  NEGOEX_ERR_DER_TAG, "AS-REQ");
}

static void expect_principal(const char *h, int code, size_t offset)
{
    size_t n;
    uint8_t *b = hex(h, &n);
    negoex_krb_principal p;
    negoex_error_info err = {0, 0, NULL};
    int rcp_ = negoex_krb_decode_principal(b, n, &p, &err);
    assert_int_equal(rcp_, code);
    if (code != NEGOEX_OK) {
        assert_int_equal(err.code, code);
        assert_int_equal(err.offset, offset);
    }
}

static void test_der_walk(void **state)
{
    (void)state;
    /* PrincipalName {2, ["ab"]} */
    expect_principal("300ba003020102a1043002" "1b00", NEGOEX_OK, 0); /* an empty component */
    expect_principal("300da003020102a10630041b0261", NEGOEX_ERR_DER_TRUNCATED, 0);
    expect_principal("300da003020102a10630041b026162", NEGOEX_OK, 0);
    /* indefinite length */
    expect_principal("3080a003020102a10630041b0261620000", NEGOEX_ERR_DER_LENGTH, 1);
    /* long form for a short length, a leading zero octet, 5 length octets */
    expect_principal("30810da003020102a10630041b026162", NEGOEX_ERR_DER_LENGTH, 1);
    expect_principal("300fa003020102a108" "30820004" "1b026162", NEGOEX_ERR_DER_LENGTH, 10);
    expect_principal("30850000000000", NEGOEX_ERR_DER_LENGTH, 1);
    /* length beyond the input; content beyond the container */
    expect_principal("300ea003020102a10630041b026162", NEGOEX_ERR_DER_TRUNCATED, 0);
    expect_principal("300da003020102a106300541026162", NEGOEX_ERR_DER_TRUNCATED, 9);
    /* non-minimal INTEGER (00 02, ff 80) */
    expect_principal("300ea00402020002a10630041b026162", NEGOEX_ERR_DER_VALUE, 4);
    expect_principal("300ea0040202ff80a10630041b026162", NEGOEX_ERR_DER_VALUE, 4);
    expect_principal("300ca0020200a106300441026162", NEGOEX_ERR_DER_VALUE, 4);
    /* a constructed GeneralString (BER) */
    expect_principal("300fa003020102a1083006" "3b041b026162", NEGOEX_ERR_DER_VALUE, 11);
    /* high tag number form written non-minimally / below 31 */
    expect_principal("300fa003020102a1083006" "1f801e026162", NEGOEX_ERR_DER_TAG, 11);
    expect_principal("300ea003020102a1073005" "1f1e026162", NEGOEX_ERR_DER_TAG, 11);
    /* end-of-contents, primitive SEQUENCE */
    expect_principal("300da003020102a106300400006162", NEGOEX_ERR_DER_TAG, 11);
    expect_principal("100da003020102a106300441026162", NEGOEX_ERR_DER_TAG, 0);
    /* a high tag the schema lacks: the walk accepts it, the schema not */
    expect_principal("300ea003020102a10730051f1f026162", NEGOEX_ERR_DER_TAG, 0);
    /* trailing byte, in the value and inside a container */
    expect_principal("300da003020102a10630041b02616200", NEGOEX_ERR_DER_TRAILING, 15);
    expect_principal("300fa003020102a1083004" "1b026162" "0500", NEGOEX_ERR_DER_TAG, 0);
    expect_principal("300da003020102a1083004" "1b026162", NEGOEX_ERR_DER_TRUNCATED, 7);

    /* BOOLEAN, NULL, BIT STRING and OID rules, inside an ANY (a Name value). */
    static const struct {
        const char *value;
        int code;
    } any[] = {
        {"0101ff", NEGOEX_OK},     {"010101", NEGOEX_ERR_DER_VALUE}, {"01020000", NEGOEX_ERR_DER_VALUE},
        {"0500", NEGOEX_OK},       {"050100", NEGOEX_ERR_DER_VALUE}, {"030100", NEGOEX_OK},
        {"0300", NEGOEX_ERR_DER_VALUE}, {"030101", NEGOEX_ERR_DER_VALUE}, {"030208ff", NEGOEX_ERR_DER_VALUE},
        {"030201ff", NEGOEX_ERR_DER_VALUE}, {"030201fe", NEGOEX_OK}, {"06022a03", NEGOEX_OK},
        {"0600", NEGOEX_ERR_DER_VALUE}, {"06022a83", NEGOEX_ERR_DER_VALUE}, {"0603808001", NEGOEX_ERR_DER_VALUE},
        {"06032a8101", NEGOEX_OK}, {"06032a8001", NEGOEX_ERR_DER_VALUE},  {"0a0100", NEGOEX_OK},  {"0a020001", NEGOEX_ERR_DER_VALUE},
    };
    for (size_t i = 0; i < sizeof any / sizeof any[0]; i++) {
        size_t vn;
        uint8_t *v = hex(any[i].value, &vn);
        /* Name: SEQUENCE { SET { SEQUENCE { OID 2.5.4.3, value } } } */
        dbuf name = seq(tlv(0x31, seq(cat(2, rawhex("0603550403"), raw(v, vn)))));
        negoex_x509_name xn;
        negoex_error_info err;
        assert_int_equal(negoex_x509_decode_name(name.p, name.n, &xn, &err), any[i].code);
        if (any[i].code != NEGOEX_OK)
            assert_int_equal(err.offset, 11);
    }

    /* Nesting: 40 levels pass the walk, 41 do not. */
    for (int depth = 40; depth <= 41; depth++) {
        dbuf d = rawhex("0500");
        for (int i = 0; i < depth; i++)
            d = seq(d);
        dbuf name = seq(tlv(0x31, seq(cat(2, rawhex("0603550403"), d))));
        negoex_x509_name xn;
        negoex_error_info err;
        int rc = negoex_x509_decode_name(name.p, name.n, &xn, &err);
        assert_int_equal(rc, depth + 3 < 41 ? NEGOEX_OK : NEGOEX_ERR_DER_VALUE);
    }

    /* Arguments */
    negoex_krb_principal p;
    negoex_error_info err;
    assert_int_equal(negoex_krb_decode_principal(NULL, 3, &p, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_decode_principal((const uint8_t *)"", 0, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_krb_decode_principal((const uint8_t *)"", 0, &p, NULL), NEGOEX_ERR_DER_TRUNCATED);
}

/* ------------------------------------------------------------------------ */
/* GSS framing rules, CMS forms, Name text                                  */
/* ------------------------------------------------------------------------ */

static void expect_token(const char *h, int code, size_t offset, const char *field)
{
    size_t n;
    uint8_t *b = hex(h, &n);
    negoex_pku2u_token t;
    negoex_error_info err = {0, 0, NULL};
    int rc_ = negoex_pku2u_token_parse(b, n, &t, &err);
    assert_int_equal(rc_, code);
    if (code != NEGOEX_OK) {
        assert_int_equal(err.offset, offset);
        assert_string_equal(err.field, field);
    }
}

static void test_gss_framing(void **state)
{
    (void)state;
    expect_token("600c06062b060105020705006a00", NEGOEX_OK, 0, NULL);
    expect_token("", NEGOEX_ERR_EMPTY_TOKEN, 0, "token");
    expect_token("610c06062b060105020705006a00", NEGOEX_ERR_DER_TAG, 0, "InitialContextToken");
    expect_token("600d06062b060105020705006a00", NEGOEX_ERR_DER_TRUNCATED, 0, "InitialContextToken");
    expect_token("600c06062b060105020705006a0000", NEGOEX_ERR_DER_TRAILING, 14, "InitialContextToken");
    expect_token("60810c06062b060105020705006a00", NEGOEX_ERR_DER_LENGTH, 1, "InitialContextToken");
    /* another mechanism (Kerberos 1.2.840.113554.1.2.2) */
    expect_token("600f06092a864886f71201020205006a00", NEGOEX_ERR_DER_VALUE, 2, "thisMech");
    expect_token("600806062b0601050207", NEGOEX_ERR_DER_TRUNCATED, 10, "TOK_ID");
    expect_token("600906062b060105020705", NEGOEX_ERR_DER_TRUNCATED, 10, "TOK_ID");
    expect_token("600c06062b060105020704006a00", NEGOEX_ERR_DER_VALUE, 10, "TOK_ID");
    expect_token("600c06062b060105020705016a00", NEGOEX_ERR_DER_VALUE, 10, "TOK_ID");
    expect_token("600a06062b06010502070500", NEGOEX_ERR_DER_TRUNCATED, 12, "innerContextToken");
    static const struct {
        const char *id;
        const char *tag;
        const char *name;
    } kinds[] = {{"0500", "6a", "AS-REQ"}, {"0600", "6b", "AS-REP"}, {"0100", "6e", "AP-REQ"},
                 {"0200", "6f", "AP-REP"}, {"0300", "7e", "KRB-ERROR"}};
    for (size_t i = 0; i < 5; i++)
        for (size_t j = 0; j < 5; j++) {
            char h[64];
            snprintf(h, sizeof h, "600c06062b0601050207%s%s00", kinds[i].id, kinds[j].tag);
            expect_token(h, i == j ? NEGOEX_OK : NEGOEX_ERR_DER_TAG, 12, "innerContextToken");
        }
    assert_string_equal(negoex_pku2u_tok_id_name(0x0300), "KRB-ERROR");
    assert_null(negoex_pku2u_tok_id_name(0x0400));

    /* Writer: sizes, short buffer, unknown TOK_ID, long lengths. */
    size_t n = 0, w = 0;
    uint8_t out[300];
    assert_int_equal(negoex_pku2u_token_size(2, &n), NEGOEX_OK);
    assert_int_equal(n, 14);
    assert_int_equal(negoex_pku2u_token_write(0x0500, (const uint8_t *)"\x6a\x00", 2, out, 13, &w),
                     NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(w, 14);
    assert_int_equal(negoex_pku2u_token_write(0x0400, (const uint8_t *)"\x6a\x00", 2, out, sizeof out, &w),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_pku2u_token_size(117, &n), NEGOEX_OK);
    assert_int_equal(n, 129); /* content 127: short form */
    assert_int_equal(negoex_pku2u_token_size(118, &n), NEGOEX_OK);
    assert_int_equal(n, 131); /* content 128: 81 80 */
    uint8_t pdu[118] = {0x6b};
    assert_int_equal(negoex_pku2u_token_write(0x0600, pdu, sizeof pdu, out, sizeof out, &w), NEGOEX_OK);
    assert_int_equal(w, 131);
    assert_int_equal(out[1], 0x81);
    assert_int_equal(out[2], 0x80);
    negoex_pku2u_token t;
    negoex_error_info err;
    assert_int_equal(negoex_pku2u_token_parse(out, w, &t, &err), NEGOEX_OK);
    assert_int_equal(t.pdu_offset, 13); /* 60 81 80, mech, TOK_ID */
    assert_int_equal(negoex_pku2u_token_size(SIZE_MAX - 5, &n), NEGOEX_ERR_TOO_LARGE);
}

static void test_cms_content_info(void **state)
{
    (void)state;
    /* The Windows bare SignedData, wrapped in a ContentInfo as RFC 4556
     * writes it: the same SignedData is found inside. */
    size_t len;
    uint8_t *b = tu_load_tracked(V_PKASREQ_0517, &len);
    negoex_krb_pa_pk_as_req pk;
    negoex_error_info err;
    assert_int_equal(negoex_krb_decode_pa_pk_as_req(b, len, &pk, &err), NEGOEX_OK);
    negoex_cms_signed_data bare, wrapped;
    assert_int_equal(negoex_cms_decode_signed_data(pk.signed_auth_pack.data, pk.signed_auth_pack.len, &bare, &err),
                     NEGOEX_OK);
    dbuf ci = seq(cat(2, rawhex("06092a864886f70d010702"), ex(0, raw(pk.signed_auth_pack.data, pk.signed_auth_pack.len))));
    assert_int_equal(negoex_cms_decode_signed_data(ci.p, ci.n, &wrapped, &err), NEGOEX_OK);
    assert_true(wrapped.wrapped);
    assert_int_equal(wrapped.raw.len, bare.raw.len);
    assert_memory_equal(wrapped.raw.data, bare.raw.data, bare.raw.len);
    assert_int_equal(wrapped.econtent.len, bare.econtent.len);
    assert_int_equal(wrapped.signers[0].signature.len, 256);
    /* id-data is no SignedData. */
    ci = seq(cat(2, rawhex("06092a864886f70d010701"), ex(0, raw(pk.signed_auth_pack.data, pk.signed_auth_pack.len))));
    assert_int_equal(negoex_cms_decode_signed_data(ci.p, ci.n, &wrapped, &err), NEGOEX_ERR_DER_VALUE);
    assert_string_equal(err.field, "contentType");
    assert_int_equal(err.offset, 4);
    /* An error inside the wrapped SignedData is reported at its place. */
    dbuf inner = raw(pk.signed_auth_pack.data, pk.signed_auth_pack.len);
    inner.p[4] = 0x0a; /* version INTEGER -> ENUMERATED */
    ci = seq(cat(2, rawhex("06092a864886f70d010702"), ex(0, inner)));
    assert_int_equal(negoex_cms_decode_signed_data(ci.p, ci.n, &wrapped, &err), NEGOEX_ERR_DER_TAG);
    assert_int_equal(err.offset, 4 + 11 + 4);
}

static void test_name_text(void **state)
{
    (void)state;
    /* DC=com,DC=example + CN with escapes, multi-valued RDN, an unknown
     * attribute, BMPString with a surrogate pair, UniversalString,
     * TeletexString as Latin-1, a non-string value. */
    dbuf rdn1 = tlv(0x31, seq(cat(2, rawhex("060a0992268993f22c640119"), tlv(0x16, raw((const uint8_t *)"com", 3)))));
    dbuf rdn2 = tlv(0x31, cat(2, seq(cat(2, rawhex("0603550403"), tlv(0x0c, raw((const uint8_t *)" a,b+c ", 7)))),
                              seq(cat(2, rawhex("060355040a"), tlv(0x1e, rawhex("0041d83dde00"))))));
    dbuf rdn3 = tlv(0x31, seq(cat(2, rawhex("06032a0304"), tlv(0x1c, rawhex("000000e9")))));
    dbuf rdn4 = tlv(0x31, seq(cat(2, rawhex("0603550407"), tlv(0x14, rawhex("e9")))));
    dbuf rdn5 = tlv(0x31, seq(cat(2, rawhex("0603550408"), rawhex("020101"))));
    dbuf rdn6 = tlv(0x31, seq(cat(2, rawhex("0603550406"), tlv(0x13, raw((const uint8_t *)"#x", 2)))));
    dbuf name = seq(cat(6, rdn1, rdn2, rdn3, rdn4, rdn5, rdn6));
    negoex_x509_name xn;
    negoex_error_info err;
    assert_int_equal(negoex_x509_decode_name(name.p, name.n, &xn, &err), NEGOEX_OK);
    assert_int_equal(xn.rdn_count, 6);
    assert_int_equal(xn.count, 7);
    char text[256];
    size_t need;
    assert_int_equal(negoex_x509_name_to_string(&xn, text, sizeof text, &need), NEGOEX_OK);
    const char *want = "C=\\#x,ST=#020101,L=\xc3\xa9,1.2.3.4=\xc3\xa9,CN=\\ a\\,b\\+c\\ +O=A\xf0\x9f\x98\x80,DC=com";
    assert_string_equal(text, want);
    assert_int_equal(need, strlen(want) + 1);
    /* Short buffers: the size, a truncated NUL-terminated prefix. */
    char small[5];
    assert_int_equal(negoex_x509_name_to_string(&xn, small, sizeof small, &need), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, strlen(want) + 1);
    assert_string_equal(small, "C=\\#");
    assert_int_equal(negoex_x509_name_to_string(&xn, NULL, 0, &need), NEGOEX_ERR_BUFFER_TOO_SMALL);
    /* BMPString: odd length, lone surrogate. */
    static const char *bad_bmp[] = {"004100", "d83d", "de000041", "d83d0041"};
    for (size_t i = 0; i < 4; i++) {
        dbuf n2 = seq(tlv(0x31, seq(cat(2, rawhex("0603550403"), tlv(0x1e, rawhex(bad_bmp[i]))))));
        assert_int_equal(negoex_x509_decode_name(n2.p, n2.n, &xn, &err), NEGOEX_OK);
        assert_int_equal(negoex_x509_name_to_string(&xn, text, sizeof text, &need), NEGOEX_ERR_DER_VALUE);
    }
    /* Invalid UTF-8 and a control character come out escaped. */
    dbuf n3 = seq(tlv(0x31, seq(cat(2, rawhex("0603550403"), tlv(0x0c, rawhex("61ff0a62"))))));
    assert_int_equal(negoex_x509_decode_name(n3.p, n3.n, &xn, &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_name_to_string(&xn, text, sizeof text, &need), NEGOEX_OK);
    assert_string_equal(text, "CN=a\\FF\\0Ab");
    /* An empty Name. */
    assert_int_equal(negoex_x509_decode_name((const uint8_t *)"\x30\x00", 2, &xn, &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_name_to_string(&xn, text, sizeof text, &need), NEGOEX_OK);
    assert_string_equal(text, "");
    /* Capacity: 25 attributes in one RDN. */
    dbuf many = NONE;
    for (int i = 0; i < 25; i++)
        many = cat(2, many, seq(cat(2, rawhex("0603550403"), tlv(0x13, raw((const uint8_t *)"x", 1)))));
    dbuf n4 = seq(tlv(0x31, many));
    assert_int_equal(negoex_x509_decode_name(n4.p, n4.n, &xn, &err), NEGOEX_ERR_TOO_LARGE);
}

static void test_time_to_unix(void **state)
{
    (void)state;
    static const struct {
        const char *t;
        int64_t s;
    } v[] = {{"19700101000000Z", 0},          {"20000229235959Z", 951868799}, {"20370914024805Z", 2136509285},
             {"19691231235959Z", -1},         {"21060207062816Z", 4294967296}, {"16010101000000Z", -11644473600}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        negoex_bytes b = {(const uint8_t *)v[i].t, 15};
        int64_t s = 0;
        assert_int_equal(negoex_krb_time_to_unix(b, &s), NEGOEX_OK);
        assert_int_equal(s, v[i].s);
    }
    negoex_bytes bad = {(const uint8_t *)"20370914024805", 14};
    int64_t s;
    assert_int_equal(negoex_krb_time_to_unix(bad, &s), NEGOEX_ERR_INVALID_ARGUMENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_as_req_2022_09_25, teardown),
        cmocka_unit_test_teardown(test_as_req_2022_10_18, teardown),
        cmocka_unit_test_teardown(test_pa_pk_as_req_2022_05_17, teardown),
        cmocka_unit_test_teardown(test_as_rep_windows, teardown),
        cmocka_unit_test_teardown(test_as_rep_sspi, teardown),
        cmocka_unit_test_teardown(test_pa_pk_as_rep_file, teardown),
        cmocka_unit_test_teardown(test_finished_input_tokens, teardown),
        cmocka_unit_test_teardown(test_authorization_data, teardown),
        cmocka_unit_test_teardown(test_krb_finished, teardown),
        cmocka_unit_test_teardown(test_authenticator, teardown),
        cmocka_unit_test_teardown(test_metadata_initiator, teardown),
        cmocka_unit_test_teardown(test_metadata_acceptor, teardown),
        cmocka_unit_test_teardown(test_metadata_sspi_acceptor, teardown),
        cmocka_unit_test_teardown(test_ap_req, teardown),
        cmocka_unit_test_teardown(test_ap_rep_and_enc_part, teardown),
        cmocka_unit_test_teardown(test_krb_error, teardown),
        cmocka_unit_test_teardown(test_tgs_and_enc_parts, teardown),
        cmocka_unit_test_teardown(test_ranges, teardown),
        cmocka_unit_test_teardown(test_der_walk, teardown),
        cmocka_unit_test_teardown(test_gss_framing, teardown),
        cmocka_unit_test_teardown(test_cms_content_info, teardown),
        cmocka_unit_test_teardown(test_name_text, teardown),
        cmocka_unit_test_teardown(test_time_to_unix, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
