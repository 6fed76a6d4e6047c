/*
 * PKINIT CMS SignedData and X.509 tests (src/pku2u/cms.c, src/pku2u/x509.c):
 *   - the CMS signatures of every Windows AS-REQ / AS-REP in
 *     ../shared/vectors/windows/pku2u/ (and sspi-rs's AS-REP) verify with
 *     their embedded certificates, bare and ContentInfo-wrapped; the eContent
 *     returned is the AuthPack / KDCDHKeyInfo the ASN.1 decoder finds;
 *   - every flipped byte of the signature, the signed attributes or the
 *     eContent makes verification fail; wrong content type, digest policy,
 *     shape rules;
 *   - the embedded and published certificates chain to the published P2P CA
 *     at a time inside their lifetime, are expired now, not yet valid
 *     before, untrusted under another anchor; OpenSSL's CA rule on the
 *     anchor (STRICT_ANCHOR) and on intermediates;
 *   - EKU, SAN UPN / dNSName with the values the certificates carry, host
 *     matching;
 *   - sign -> verify round trips (SHA-1 / SHA-256, bare / wrapped, RSA key of
 *     the published identity, a generated EC key), the Windows form of our
 *     own output;
 *   - loading DER / PEM / encrypted PEM / encrypted PKCS#8 / PKCS#12
 *     credentials, trust anchors from files and directories.
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
#include <time.h>
#include <unistd.h>

#include <openssl/cms.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "negoex/negoex.h"
#include "negoex/scheme.h"
#include "pku2u/asn1.h"
#include "pku2u/cms.h"
#include "pku2u/x509.h"
#include "testutil.h"

#define V_ASREQ_0925 "windows/pku2u/win_client_as_req_gss_token_2022-09-25.bin"
#define V_ASREQ_1018 "windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin"
#define V_ASREP_0517 "windows/pku2u/win_server_as_rep_gss_token_2022-05-17.bin"
#define V_ASREP_SSPI "windows/pku2u/sspirs_debugserver_as_rep_gss_token_2022-10-18.bin"
#define V_PKASREQ_0517 "windows/pku2u/win_client_pa_pk_as_req_2022-05-17.der"
#define V_PKASREP_0517 "windows/pku2u/win_server_pa_pk_as_rep_2022-05-17.der"

#define K_DIR "windows/keys_certs"
#define K_CA K_DIR "/p2p_ca_MS-Organization-P2P-Access_2022.der"
#define K_S7 K_DIR "/devmachine_p2p_client_cert_s7_2022-10-23.der"
#define K_SERVER K_DIR "/devmachine_p2p_server_cert_2022-10-23.der"
#define K_DEVICE K_DIR "/devmachine_device_cert_MS-Organization-Access.der"
#define K_DEVICE_KEY K_DIR "/devmachine_device_rsa_private_key_pkcs1.der"
#define K_S9 K_DIR "/sspirs_test_p2p_client_cert_s9_2023-01-29.der"
#define K_S9_KEY K_DIR "/sspirs_test_p2p_client_key_s9.pem"

#define HX_SHA1 "2b0e03021a"
#define HX_SHA256 "608648016503040201"
#define HX_RSA "2a864886f70d010101"

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static int teardown(void **state)
{
    return tu_release_all(state);
}

static void assert_hex(negoex_bytes v, const char *h)
{
    size_t n;
    uint8_t *b = tu_unhex(h, &n);
    assert_non_null(v.data);
    assert_int_equal(v.len, n);
    assert_memory_equal(v.data, b, n);
    free(b);
}

/* Occurrences of a hex byte string. */
static size_t count_hex(const uint8_t *p, size_t n, const char *h)
{
    size_t k, c = 0;
    uint8_t *b = tu_unhex(h, &k);
    for (size_t i = 0; i + k <= n; i++)
        c += memcmp(p + i, b, k) == 0;
    free(b);
    return c;
}

static int oid_eq(negoex_bytes v, const uint8_t *oid, size_t n)
{
    return negoex_asn1_oid_is(v, oid, n);
}

enum vkind { PA_REQ, PA_REP, TOK_REQ, TOK_REP };

typedef struct vec {
    const char *file;
    enum vkind kind;
    int sspirs; /* content-type attribute authData over DHKeyData */
} vec;

static const vec VECS[] = {
    {V_PKASREQ_0517, PA_REQ, 0}, {V_ASREQ_0925, TOK_REQ, 0}, {V_ASREQ_1018, TOK_REQ, 0},
    {V_PKASREP_0517, PA_REP, 0}, {V_ASREP_0517, TOK_REP, 0}, {V_ASREP_SSPI, TOK_REP, 1},
};
#define N_VECS (sizeof VECS / sizeof VECS[0])

static int is_req(const vec *v)
{
    return v->kind == PA_REQ || v->kind == TOK_REQ;
}

static const uint8_t *vtype(const vec *v, size_t *len)
{
    *len = is_req(v) ? NEGOEX_OID_PKINIT_AUTHDATA_LEN : NEGOEX_OID_PKINIT_DHKEYDATA_LEN;
    return is_req(v) ? NEGOEX_OID_PKINIT_AUTHDATA : NEGOEX_OID_PKINIT_DHKEYDATA;
}

static const uint8_t *wrong_type(const vec *v, size_t *len)
{
    *len = is_req(v) ? NEGOEX_OID_PKINIT_DHKEYDATA_LEN : NEGOEX_OID_PKINIT_AUTHDATA_LEN;
    return is_req(v) ? NEGOEX_OID_PKINIT_DHKEYDATA : NEGOEX_OID_PKINIT_AUTHDATA;
}

/* The signedAuthPack / dhSignedData of a vector, located by the ASN.1
 * decoders (a view into the tracked file buffer). */
static negoex_bytes signed_data_of(const vec *v)
{
    size_t n;
    uint8_t *b = tu_load_tracked(v->file, &n);
    negoex_error_info err;
    negoex_bytes pa = {b, n};
    if (v->kind == TOK_REQ || v->kind == TOK_REP) {
        negoex_pku2u_message *m = tu_malloc(sizeof *m);
        assert_int_equal(negoex_pku2u_decode_token(b, n, m, &err), NEGOEX_OK);
        const negoex_krb_padata *pd = v->kind == TOK_REQ ? m->u.as_req.padata : m->u.as_rep.padata;
        size_t count = v->kind == TOK_REQ ? m->u.as_req.padata_count : m->u.as_rep.padata_count;
        int32_t want = v->kind == TOK_REQ ? NEGOEX_KRB_PA_PK_AS_REQ : NEGOEX_KRB_PA_PK_AS_REP;
        pa.data = NULL;
        for (size_t i = 0; i < count; i++)
            if (pd[i].type == want)
                pa = pd[i].value;
        tu_free(m);
        assert_non_null(pa.data);
    }
    if (is_req(v)) {
        negoex_krb_pa_pk_as_req req;
        assert_int_equal(negoex_krb_decode_pa_pk_as_req(pa.data, pa.len, &req, &err), NEGOEX_OK);
        return req.signed_auth_pack;
    }
    negoex_krb_pa_pk_as_rep rep;
    assert_int_equal(negoex_krb_decode_pa_pk_as_rep(pa.data, pa.len, &rep, &err), NEGOEX_OK);
    assert_int_equal(rep.choice, NEGOEX_KRB_PK_AS_REP_DH_INFO);
    return rep.dh_signed_data;
}

static const negoex_cms_verify_opts SSPIRS_OK = {0, NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR};

static const negoex_cms_verify_opts *opts_for(const vec *v)
{
    return v->sspirs ? &SSPIRS_OK : NULL;
}

static X509 *load_cert(const char *rel)
{
    size_t n;
    uint8_t *b = tu_load_tracked(rel, &n);
    X509 *x = NULL;
    assert_int_equal(negoex_x509_cert_from_der(b, n, &x), NEGOEX_OK);
    return x;
}

/* The first certificate of a vector's SignedData. */
static X509 *embedded_cert(const vec *v)
{
    negoex_bytes sd = signed_data_of(v);
    negoex_cms_signed_data d;
    assert_int_equal(negoex_cms_decode_signed_data(sd.data, sd.len, &d, NULL), NEGOEX_OK);
    assert_int_equal(d.certificate_count, 1);
    X509 *x = NULL;
    assert_int_equal(negoex_x509_cert_from_der(d.certificates[0].data, d.certificates[0].len, &x), NEGOEX_OK);
    return x;
}

static int64_t not_before(const X509 *x)
{
    int64_t nb = 0, na = 0;
    assert_int_equal(negoex_x509_validity(x, &nb, &na), NEGOEX_OK);
    assert_true(nb < na);
    return nb;
}

static negoex_x509_trust *trust_of(X509 *anchor)
{
    negoex_x509_trust *t = NULL;
    assert_int_equal(negoex_x509_trust_new(&t), NEGOEX_OK);
    if (anchor != NULL)
        assert_int_equal(negoex_x509_trust_add_cert(t, anchor), NEGOEX_OK);
    return t;
}

static negoex_x509_verify_opts at(int64_t t)
{
    negoex_x509_verify_opts o = {1, t, 0, 0};
    return o;
}

static EVP_PKEY *ec_key(void)
{
    EVP_PKEY *k = EVP_EC_gen("P-256");
    assert_non_null(k);
    return k;
}

typedef tu_ext ext;

/* A certificate for key, signed by issuer_key (self-signed when issuer is
 * NULL), valid from an hour ago for a year, with the given extensions. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const ext *exts)
{
    static long serial = 1000;
    const char *const rdns[] = {"CN", cn, NULL};
    return tu_make_cert(rdns, key, issuer, issuer_key, exts, 365L * 86400, &serial);
}

static const ext CA_EXTS[] = {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "keyCertSign"}, {0, NULL}};

/* A temporary directory for the file tests. */
static char tmpdir[256];

static void make_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    snprintf(tmpdir, sizeof tmpdir, "%s/negoex-cms-XXXXXX", base != NULL && *base ? base : "/tmp");
    assert_non_null(mkdtemp(tmpdir));
}

static const char *tmp_path(const char *name)
{
    static char p[4][512];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmpdir, name);
    return p[i];
}

static void write_file(const char *name, const void *data, size_t len)
{
    FILE *f = fopen(tmp_path(name), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* Writes whatever a BIO-writing function produced. */
static void write_bio(const char *name, BIO *bio)
{
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    assert_true(n > 0);
    write_file(name, data, (size_t)n);
    BIO_free(bio);
}

static BIO *mem_bio(void)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    return b;
}

/* ------------------------------------------------------------------------ */
/* CMS verify on the Windows vectors                                        */
/* ------------------------------------------------------------------------ */

static void check_verified(const vec *v, negoex_bytes sd, const negoex_cms_verified *out)
{
    negoex_cms_signed_data d;
    assert_int_equal(negoex_cms_decode_signed_data(sd.data, sd.len, &d, NULL), NEGOEX_OK);
    assert_int_equal(d.version, 3);
    assert_hex(d.signers[0].digest_algorithm, HX_SHA1);
    assert_hex(d.signers[0].signature_algorithm, HX_RSA);
    assert_int_equal(out->digest, NEGOEX_CMS_DIGEST_SHA1);
    /* The eContent is the decoder's, byte for byte (the same view). */
    assert_ptr_equal(out->econtent.data, d.econtent.data);
    assert_int_equal(out->econtent.len, d.econtent.len);
    negoex_error_info err;
    if (is_req(v)) {
        negoex_krb_auth_pack ap;
        assert_int_equal(negoex_krb_decode_auth_pack(out->econtent.data, out->econtent.len, &ap, &err), NEGOEX_OK);
        assert_true(ap.is_dh);
        assert_int_equal(ap.pa_checksum.len, 20);
        assert_int_equal(ap.client_dh_nonce.len, 32);
    } else {
        negoex_krb_kdc_dh_key_info ki;
        assert_int_equal(
            negoex_krb_decode_kdc_dh_key_info(out->econtent.data, out->econtent.len, &ki, &err), NEGOEX_OK);
        assert_int_equal(ki.nonce, 0);
        assert_true(ki.y.len >= 120 && ki.y.len <= 128);
    }
    /* The signer is the one embedded certificate. */
    assert_non_null(out->signer);
    assert_non_null(out->certs);
    assert_int_equal(sk_X509_num(out->certs), 1);
    assert_int_equal(X509_cmp(out->signer, sk_X509_value(out->certs, 0)), 0);
    unsigned char *der = NULL;
    int n = i2d_X509(out->signer, &der);
    assert_int_equal((size_t)n, d.certificates[0].len);
    assert_memory_equal(der, d.certificates[0].data, (size_t)n);
    OPENSSL_free(der);
}

static void test_verify_windows(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_VECS; i++) {
        const vec *v = &VECS[i];
        negoex_bytes sd = signed_data_of(v);
        size_t tl, wl;
        const uint8_t *type = vtype(v, &tl);
        const uint8_t *wrong = wrong_type(v, &wl);
        negoex_cms_verified out;
        negoex_error_info err = {0, 0, NULL};

        /* Strict by default: sspi-rs's content-type attribute is refused. */
        int rc = negoex_cms_verify(sd.data, sd.len, type, tl, NULL, &out, &err);
        if (v->sspirs) {
            assert_int_equal(rc, NEGOEX_ERR_CMS_CONTENT_TYPE);
            assert_int_equal(err.code, NEGOEX_ERR_CMS_CONTENT_TYPE);
            assert_non_null(strstr(err.field, "content-type attribute"));
            assert_true(err.offset > 0 && err.offset < sd.len);
            assert_null(out.signer);
            assert_null(out.econtent.data);
        } else {
            assert_int_equal(rc, NEGOEX_OK);
            assert_int_equal(out.wrapped, 0);
            assert_int_equal(out.content_type_attr_differs, 0);
            check_verified(v, sd, &out);
            negoex_cms_verified_clear(&out);
            assert_null(out.signer);
            assert_null(out.certs);
        }

        /* With the flag: every vector verifies, sspi-rs's with the mark. */
        assert_int_equal(negoex_cms_verify(sd.data, sd.len, type, tl, &SSPIRS_OK, &out, &err), NEGOEX_OK);
        assert_int_equal(out.content_type_attr_differs, v->sspirs);
        check_verified(v, sd, &out);
        negoex_cms_verified_clear(&out);

        /* The other PKINIT type is refused, flag or not. */
        assert_int_equal(negoex_cms_verify(sd.data, sd.len, wrong, wl, &SSPIRS_OK, &out, &err),
                         NEGOEX_ERR_CMS_CONTENT_TYPE);
        assert_string_equal(err.field, "eContentType");
        assert_null(out.signer);

        /* Digest policy: SHA-256 only refuses Windows' SHA-1. */
        negoex_cms_verify_opts only256 = {NEGOEX_CMS_DIGEST_SHA256, NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR};
        assert_int_equal(negoex_cms_verify(sd.data, sd.len, type, tl, &only256, &out, &err), NEGOEX_ERR_CMS_DIGEST);
        negoex_cms_verify_opts only1 = {NEGOEX_CMS_DIGEST_SHA1, NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR};
        assert_int_equal(negoex_cms_verify(sd.data, sd.len, type, tl, &only1, &out, &err), NEGOEX_OK);
        negoex_cms_verified_clear(&out);

        /* ContentInfo-wrapped: the same result, wrapped = 1. */
        negoex_buf w;
        negoex_buf_init(&w, NULL);
        assert_int_equal(negoex_cms_wrap(sd.data, sd.len, &w), NEGOEX_OK);
        assert_int_equal(w.data[0], 0x30);
        negoex_cms_signed_data d;
        assert_int_equal(negoex_cms_decode_signed_data(w.data, w.len, &d, NULL), NEGOEX_OK);
        assert_int_equal(d.wrapped, 1);
        assert_int_equal(d.raw.len, sd.len);
        assert_memory_equal(d.raw.data, sd.data, sd.len);
        assert_int_equal(negoex_cms_verify(w.data, w.len, type, tl, opts_for(v), &out, &err), NEGOEX_OK);
        assert_int_equal(out.wrapped, 1);
        assert_ptr_equal(out.econtent.data, d.econtent.data);
        negoex_cms_verified_clear(&out);
        negoex_buf_free(&w);
    }
}

/* Every truncation is refused (DER errors from the strict decoder). */
static void test_verify_truncated(void **state)
{
    (void)state;
    const vec *v = &VECS[0];
    negoex_bytes sd = signed_data_of(v);
    size_t tl;
    const uint8_t *type = vtype(v, &tl);
    uint8_t *copy = tu_malloc(sd.len);
    memcpy(copy, sd.data, sd.len);
    negoex_cms_verified out;
    for (size_t n = 0; n < sd.len; n += (n < 64 ? 1 : 97)) {
        int rc = negoex_cms_verify(copy, n, type, tl, NULL, &out, NULL);
        assert_true(rc < 0);
        assert_null(out.signer);
    }
    /* A trailing byte. */
    uint8_t *longer = tu_malloc(sd.len + 1);
    memcpy(longer, sd.data, sd.len);
    longer[sd.len] = 0;
    assert_int_equal(negoex_cms_verify(longer, sd.len + 1, type, tl, NULL, &out, NULL), NEGOEX_ERR_DER_TRAILING);
    /* Arguments. */
    assert_int_equal(negoex_cms_verify(NULL, 10, type, tl, NULL, &out, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_cms_verify(copy, sd.len, NULL, 0, NULL, &out, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_cms_verify(copy, sd.len, type, tl, NULL, NULL, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    tu_free(copy);
    tu_free(longer);
}

/* Flips every byte of the signature, the signed attributes and the
 * eContent of every vector; each must fail. */
static void test_verify_tampered(void **state)
{
    (void)state;
    size_t tried = 0;
    for (size_t i = 0; i < N_VECS; i++) {
        const vec *v = &VECS[i];
        negoex_bytes sd = signed_data_of(v);
        size_t tl;
        const uint8_t *type = vtype(v, &tl);
        negoex_cms_signed_data d;
        assert_int_equal(negoex_cms_decode_signed_data(sd.data, sd.len, &d, NULL), NEGOEX_OK);
        uint8_t *m = tu_malloc(sd.len);
        memcpy(m, sd.data, sd.len);
        struct {
            negoex_bytes region;
            int want; /* exact code, or 0 for "any failure" */
        } regions[] = {
            {d.signers[0].signature, NEGOEX_ERR_CMS_SIGNATURE},
            {d.econtent, NEGOEX_ERR_CMS_SIGNATURE},
            {d.signers[0].signed_attrs, 0},
            {d.signers[0].message_digest_attr, NEGOEX_ERR_CMS_SIGNATURE},
        };
        for (size_t r = 0; r < sizeof regions / sizeof regions[0]; r++) {
            size_t start = (size_t)(regions[r].region.data - sd.data);
            assert_true(regions[r].region.len > 0 && start + regions[r].region.len <= sd.len);
            for (size_t k = 0; k < regions[r].region.len; k++) {
                for (unsigned mask = 0x01; mask <= 0x80; mask <<= 7) {
                    m[start + k] ^= (uint8_t)mask;
                    negoex_cms_verified out;
                    negoex_error_info err = {0, 0, NULL};
                    int rc = negoex_cms_verify(m, sd.len, type, tl, opts_for(v), &out, &err);
                    m[start + k] ^= (uint8_t)mask;
                    if (rc == NEGOEX_OK)
                        fail_msg("%s: flipping 0x%02x at %zu (region %zu) still verifies", v->file, mask, start + k, r);
                    if (regions[r].want != 0 && rc != regions[r].want)
                        fail_msg("%s: flip at %zu: %s, expected %s", v->file, start + k, negoex_error_name(rc),
                                 negoex_error_name(regions[r].want));
                    assert_int_equal(err.code, rc);
                    assert_null(out.signer);
                    assert_null(out.certs);
                    tried++;
                }
            }
        }
        /* A byte of the signer's public key (the modulus, near the end of
         * the certificate's SubjectPublicKeyInfo): the signature no longer
         * matches. */
        X509 *cert = embedded_cert(v);
        unsigned char *spki = NULL;
        int spki_len = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &spki);
        assert_true(spki_len > 64);
        const uint8_t *c = d.certificates[0].data;
        size_t at = 0;
        for (size_t k = 0; k + (size_t)spki_len <= d.certificates[0].len; k++)
            if (memcmp(c + k, spki, (size_t)spki_len) == 0)
                at = (size_t)(c - sd.data) + k;
        assert_true(at > 0);
        m[at + (size_t)spki_len / 2] ^= 0x10;
        negoex_cms_verified out;
        assert_int_equal(negoex_cms_verify(m, sd.len, type, tl, opts_for(v), &out, NULL), NEGOEX_ERR_CMS_SIGNATURE);
        m[at + (size_t)spki_len / 2] ^= 0x10;
        assert_int_equal(negoex_cms_verify(m, sd.len, type, tl, opts_for(v), &out, NULL), NEGOEX_OK);
        negoex_cms_verified_clear(&out);
        OPENSSL_free(spki);
        X509_free(cert);
        tu_free(m);
    }
    assert_true(tried > 5000);
}

/* Shape rules on SignedData built here: detached content, no signed
 * attributes, no certificate, two signers. */
static void test_verify_shapes(void **state)
{
    (void)state;
    size_t n;
    uint8_t *cb = tu_load_tracked(K_S7, &n);
    uint8_t *kb;
    size_t kn;
    kb = tu_load_tracked(K_DEVICE_KEY, &kn);
    negoex_x509_identity id;
    assert_int_equal(negoex_x509_identity_from_mem(cb, n, kb, kn, NULL, &id, NULL), NEGOEX_OK);
    static const uint8_t content[] = "0123456789";
    ASN1_OBJECT *type = OBJ_txt2obj("1.3.6.1.5.2.3.1", 1);
    assert_non_null(type);
    const unsigned flag_sets[] = {
        CMS_DETACHED, CMS_NOATTR, CMS_NOCERTS,
        0 /* two signers */,
    };
    const int want[] = {NEGOEX_ERR_CMS_MALFORMED, NEGOEX_ERR_CMS_MALFORMED, NEGOEX_ERR_CMS_MALFORMED,
                        NEGOEX_ERR_CMS_MALFORMED};
    for (size_t i = 0; i < sizeof flag_sets / sizeof flag_sets[0]; i++) {
        BIO *in = BIO_new_mem_buf(content, sizeof content - 1);
        CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
        assert_non_null(cms);
        assert_true(CMS_set1_eContentType(cms, type));
        unsigned f = flag_sets[i];
        assert_true(CMS_set_detached(cms, (f & CMS_DETACHED) ? 1 : 0));
        unsigned sflags = CMS_BINARY | CMS_NOSMIMECAP | (f & ~(unsigned)CMS_DETACHED);
        assert_non_null(CMS_add1_signer(cms, id.cert, id.key, EVP_sha1(), sflags));
        if (i == 3)
            assert_non_null(
                CMS_add1_signer(cms, id.cert, id.key, EVP_sha256(), CMS_BINARY | CMS_NOSMIMECAP | CMS_NOCERTS));
        assert_true(CMS_final(cms, in, NULL, CMS_BINARY));
        unsigned char *der = NULL;
        int len = i2d_CMS_ContentInfo(cms, &der);
        assert_true(len > 0);
        negoex_cms_verified out;
        negoex_error_info err = {0, 0, NULL};
        int rc = negoex_cms_verify(der, (size_t)len, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN, NULL,
                                   &out, &err);
        if (rc != want[i])
            fail_msg("shape %zu: %s (%s)", i, negoex_error_name(rc), err.field ? err.field : "");
        assert_null(out.signer);
        OPENSSL_free(der);
        CMS_ContentInfo_free(cms);
        BIO_free(in);
    }
    ASN1_OBJECT_free(type);
    negoex_x509_identity_clear(&id);
}

/* ------------------------------------------------------------------------ */
/* Chains                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct chain_case {
    X509 *cert;
    const char *what;
} chain_case;

static void test_chain_p2p(void **state)
{
    (void)state;
    X509 *ca = load_cert(K_CA);
    negoex_x509_trust *trust = trust_of(ca);
    assert_int_equal(negoex_x509_trust_count(trust), 1);
    assert_int_equal(X509_cmp(negoex_x509_trust_get0(trust, 0), ca), 0);
    assert_null(negoex_x509_trust_get0(trust, 1));

    /* The 2022 tenant: published certificates and the ones the Windows
     * client (09-25, 10-18) and sspi-rs's acceptor embedded. */
    chain_case cases[] = {
        {load_cert(K_S7), "s7 client"},
        {load_cert(K_SERVER), "device server"},
        {load_cert(K_S9), "s9 client"},
        {embedded_cert(&VECS[1]), "AS-REQ 09-25"},
        {embedded_cert(&VECS[2]), "AS-REQ 10-18"},
        {embedded_cert(&VECS[5]), "sspi-rs AS-REP"},
    };
    EVP_PKEY *other_key = ec_key();
    X509 *other_ca = make_cert("Some Other CA", other_key, NULL, NULL, CA_EXTS);
    negoex_x509_trust *other = trust_of(other_ca);
    negoex_x509_trust *empty = trust_of(NULL);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        X509 *c = cases[i].cert;
        int64_t nb = not_before(c);
        negoex_x509_verify_result res;

        negoex_x509_verify_opts o = at(nb + 60);
        int rc = negoex_x509_verify(trust, c, NULL, &o, &res);
        if (rc != NEGOEX_OK)
            fail_msg("%s: %s (%s, depth %d)", cases[i].what, negoex_error_name(rc), res.reason, res.depth);
        assert_int_equal(res.x509_error, X509_V_OK);
        assert_int_equal(res.depth, -1);

        /* Now: long expired (certificate and CA). */
        assert_int_equal(negoex_x509_verify(trust, c, NULL, NULL, &res), NEGOEX_ERR_CERT_EXPIRED);
        assert_int_equal(res.x509_error, X509_V_ERR_CERT_HAS_EXPIRED);
        assert_non_null(res.reason);

        /* Before it was issued. */
        o = at(nb - 60);
        assert_int_equal(negoex_x509_verify(trust, c, NULL, &o, &res), NEGOEX_ERR_CERT_NOT_YET_VALID);
        assert_int_equal(res.x509_error, X509_V_ERR_CERT_NOT_YET_VALID);
        assert_int_equal(res.depth, 0);

        /* Another anchor, or none. */
        o = at(nb + 60);
        assert_int_equal(negoex_x509_verify(other, c, NULL, &o, &res), NEGOEX_ERR_CERT_UNTRUSTED);
        assert_int_equal(res.x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
        assert_int_equal(negoex_x509_verify(empty, c, NULL, &o, &res), NEGOEX_ERR_CERT_UNTRUSTED);

        /* The P2P root has no basicConstraints: OpenSSL's CA rule, asked
         * for, rejects it (at depth 1, the anchor). */
        o.flags = NEGOEX_X509_STRICT_ANCHOR;
        assert_int_equal(negoex_x509_verify(trust, c, NULL, &o, &res), NEGOEX_ERR_CERT_INVALID);
        assert_int_equal(res.x509_error, X509_V_ERR_INVALID_CA);
        assert_int_equal(res.depth, 1);
    }

    /* The 2022-05-17 captures come from another tenant's [2021] root, which
     * is not published: untrusted under the 2022 root. */
    X509 *c0517[] = {embedded_cert(&VECS[0]), embedded_cert(&VECS[3])};
    for (size_t i = 0; i < 2; i++) {
        negoex_x509_verify_opts o = at(not_before(c0517[i]) + 60);
        negoex_x509_verify_result res;
        assert_int_equal(negoex_x509_verify(trust, c0517[i], NULL, &o, &res), NEGOEX_ERR_CERT_UNTRUSTED);
        const X509_NAME *issuer = X509_get_issuer_name(c0517[i]);
        const ASN1_STRING *cn = X509_NAME_ENTRY_get_data(
            X509_NAME_get_entry(issuer, X509_NAME_get_index_by_NID(issuer, NID_commonName, -1)));
        assert_int_equal(ASN1_STRING_type(cn), V_ASN1_BMPSTRING);
        unsigned char *utf8 = NULL;
        int ulen = ASN1_STRING_to_UTF8(&utf8, cn);
        assert_int_equal(ulen, (int)strlen("MS-Organization-P2P-Access [2021]"));
        assert_memory_equal(utf8, "MS-Organization-P2P-Access [2021]", (size_t)ulen);
        OPENSSL_free(utf8);
        X509_free(c0517[i]);
    }
    /* The device certificate's issuer (MS-Organization-Access) is not
     * published either. */
    X509 *device = load_cert(K_DEVICE);
    negoex_x509_verify_opts o = at(not_before(device) + 60);
    assert_int_equal(negoex_x509_verify(trust, device, NULL, &o, NULL), NEGOEX_ERR_CERT_UNTRUSTED);
    X509_free(device);

    /* The CA is itself verifiable as a leaf (trusted self-signed). */
    o = at(not_before(ca) + 60);
    assert_int_equal(negoex_x509_verify(trust, ca, NULL, &o, NULL), NEGOEX_OK);

    assert_int_equal(negoex_x509_verify(NULL, ca, NULL, &o, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_x509_verify(trust, NULL, NULL, &o, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        X509_free(cases[i].cert);
    negoex_x509_trust_free(trust);
    negoex_x509_trust_free(other);
    negoex_x509_trust_free(empty);
    X509_free(other_ca);
    EVP_PKEY_free(other_key);
    X509_free(ca);
}

/* Chains built here: intermediates must be CAs even though the anchor
 * exception exists; untrusted intermediates come from the caller; a bad
 * certificate signature is CERT_INVALID. */
static void test_chain_generated(void **state)
{
    (void)state;
    EVP_PKEY *root_key = ec_key(), *int_key = ec_key(), *leaf_key = ec_key(), *rogue_key = ec_key();
    X509 *root = make_cert("Root", root_key, NULL, NULL, CA_EXTS);
    X509 *inter = make_cert("Intermediate", int_key, root, root_key, CA_EXTS);
    static const ext NOT_CA[] = {{NID_basic_constraints, "critical,CA:FALSE"}, {0, NULL}};
    X509 *inter_noca = make_cert("Intermediate", int_key, root, root_key, NOT_CA);
    static const ext LEAF[] = {{NID_ext_key_usage, "clientAuth"}, {0, NULL}};
    X509 *leaf = make_cert("Leaf", leaf_key, inter, int_key, LEAF);
    /* Same names, signed by the wrong key. */
    X509 *forged = make_cert("Leaf", leaf_key, inter, rogue_key, LEAF);

    negoex_x509_trust *t = trust_of(root);
    STACK_OF(X509) *untrusted = sk_X509_new_null();
    assert_non_null(untrusted);
    negoex_x509_verify_result res;

    /* Without the intermediate: no chain. */
    assert_int_equal(negoex_x509_verify(t, leaf, NULL, NULL, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(res.x509_error, X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    assert_true(sk_X509_push(untrusted, inter));
    assert_int_equal(negoex_x509_verify(t, leaf, untrusted, NULL, &res), NEGOEX_OK);
    negoex_x509_verify_opts strict = {0, 0, NEGOEX_X509_STRICT_ANCHOR, 0};
    assert_int_equal(negoex_x509_verify(t, leaf, untrusted, &strict, &res), NEGOEX_OK);
    negoex_x509_verify_opts shallow = {0, 0, 0, 0};
    assert_int_equal(negoex_x509_verify(t, forged, untrusted, &shallow, &res), NEGOEX_ERR_CERT_INVALID);
    assert_int_equal(res.x509_error, X509_V_ERR_CERT_SIGNATURE_FAILURE);
    assert_int_equal(res.depth, 0);

    /* An intermediate that is not a CA: refused, no anchor exception. */
    (void)sk_X509_pop(untrusted);
    assert_true(sk_X509_push(untrusted, inter_noca));
    assert_int_equal(negoex_x509_verify(t, leaf, untrusted, NULL, &res), NEGOEX_ERR_CERT_INVALID);
    assert_int_equal(res.x509_error, X509_V_ERR_INVALID_CA);
    assert_int_equal(res.depth, 1);

    /* A self-signed leaf nobody configured. */
    X509 *self = make_cert("Self", leaf_key, NULL, NULL, LEAF);
    assert_int_equal(negoex_x509_verify(t, self, NULL, NULL, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(res.x509_error, X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT);

    /* The intermediate as anchor: only with PARTIAL_CHAIN. */
    negoex_x509_trust *ti = trust_of(inter);
    assert_int_equal(negoex_x509_verify(ti, leaf, NULL, NULL, &res), NEGOEX_ERR_CERT_UNTRUSTED);
    negoex_x509_verify_opts partial = {0, 0, NEGOEX_X509_PARTIAL_CHAIN, 0};
    assert_int_equal(negoex_x509_verify(ti, leaf, NULL, &partial, &res), NEGOEX_OK);

    /* Self-signed anchors without CA markers: tolerated when they say
     * nothing (the P2P root's shape), refused when they say CA:FALSE or
     * have a keyUsage without keyCertSign. */
    static const ext NO_CERTSIGN[] = {{NID_key_usage, "digitalSignature"}, {0, NULL}};
    struct {
        const ext *exts;
        int want;
    } anchors[] = {{NULL, NEGOEX_OK}, {NOT_CA, NEGOEX_ERR_CERT_INVALID}, {NO_CERTSIGN, NEGOEX_ERR_CERT_INVALID}};
    for (size_t i = 0; i < sizeof anchors / sizeof anchors[0]; i++) {
        X509 *a = make_cert("Bare Root", root_key, NULL, NULL, anchors[i].exts);
        X509 *l = make_cert("Leaf", leaf_key, a, root_key, LEAF);
        negoex_x509_trust *ta = trust_of(a);
        assert_int_equal(negoex_x509_verify(ta, l, NULL, NULL, &res), anchors[i].want);
        if (anchors[i].want != NEGOEX_OK) {
            assert_int_equal(res.x509_error, X509_V_ERR_INVALID_CA);
            assert_int_equal(res.depth, 1);
        }
        assert_int_equal(negoex_x509_verify(ta, l, NULL, &strict, &res), NEGOEX_ERR_CERT_INVALID);
        negoex_x509_trust_free(ta);
        X509_free(l);
        X509_free(a);
    }

    sk_X509_free(untrusted);
    negoex_x509_trust_free(t);
    negoex_x509_trust_free(ti);
    X509 *all[] = {root, inter, inter_noca, leaf, forged, self};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        X509_free(all[i]);
    EVP_PKEY *keys[] = {root_key, int_key, leaf_key, rogue_key};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        EVP_PKEY_free(keys[i]);
}

/* ------------------------------------------------------------------------ */
/* EKU, SAN, host                                                           */
/* ------------------------------------------------------------------------ */

static void assert_san(X509 *x, int kind, size_t count, const char *const *want)
{
    assert_int_equal(negoex_x509_san_count(x, kind), count);
    for (size_t i = 0; i < count; i++) {
        char buf[128];
        size_t need = 0;
        assert_int_equal(negoex_x509_san_get(x, kind, i, buf, sizeof buf, &need), NEGOEX_OK);
        assert_string_equal(buf, want[i]);
        assert_int_equal(need, strlen(want[i]) + 1);
    }
    char buf[8];
    assert_int_equal(negoex_x509_san_get(x, kind, count, buf, sizeof buf, NULL), NEGOEX_ERR_INDEX_RANGE);
}

static void test_eku_san(void **state)
{
    (void)state;
    X509 *s7 = load_cert(K_S7), *s9 = load_cert(K_S9), *server = load_cert(K_SERVER), *ca = load_cert(K_CA),
         *device = load_cert(K_DEVICE);
    X509 *req0517 = embedded_cert(&VECS[0]), *req0925 = embedded_cert(&VECS[1]), *req1018 = embedded_cert(&VECS[2]),
         *rep0517 = embedded_cert(&VECS[3]), *repsspi = embedded_cert(&VECS[5]);

    /* EKU: users clientAuth only, devices serverAuth only (the MS-Organization-
     * Access device certificate: clientAuth). */
    X509 *clients[] = {s7, s9, req0517, req0925, req1018, device};
    for (size_t i = 0; i < sizeof clients / sizeof clients[0]; i++) {
        assert_int_equal(negoex_x509_check_eku(clients[i], NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                         NEGOEX_OK);
        assert_int_equal(negoex_x509_check_eku(clients[i], NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0),
                         NEGOEX_ERR_CERT_EKU);
        assert_int_equal(
            negoex_x509_check_eku(clients[i], NEGOEX_OID_KP_PKINIT_CLIENT, NEGOEX_OID_KP_PKINIT_CLIENT_LEN, 0),
            NEGOEX_ERR_CERT_EKU);
    }
    X509 *servers[] = {server, rep0517, repsspi};
    for (size_t i = 0; i < sizeof servers / sizeof servers[0]; i++) {
        assert_int_equal(negoex_x509_check_eku(servers[i], NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0),
                         NEGOEX_OK);
        assert_int_equal(negoex_x509_check_eku(servers[i], NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                         NEGOEX_ERR_CERT_EKU);
        assert_int_equal(negoex_x509_check_eku(servers[i], NEGOEX_OID_KP_PKINIT_KDC, NEGOEX_OID_KP_PKINIT_KDC_LEN, 0),
                         NEGOEX_ERR_CERT_EKU);
    }
    /* The CA has no EKU extension. */
    assert_int_equal(negoex_x509_check_eku(ca, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0),
                     NEGOEX_ERR_CERT_EKU);
    assert_int_equal(negoex_x509_check_eku(ca, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN,
                                           NEGOEX_X509_EKU_ALLOW_ABSENT),
                     NEGOEX_OK);
    /* Any caller-chosen OID: code signing is not there. */
    static const uint8_t code_signing[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x03};
    assert_int_equal(negoex_x509_check_eku(s7, code_signing, sizeof code_signing, NEGOEX_X509_EKU_ALLOW_ABSENT),
                     NEGOEX_ERR_CERT_EKU);
    assert_int_equal(negoex_x509_check_eku(s7, NULL, 0, 0), NEGOEX_ERR_INVALID_ARGUMENT);

    /* anyExtendedKeyUsage only with the flag. */
    EVP_PKEY *k = ec_key();
    static const ext ANY[] = {{NID_ext_key_usage, "anyExtendedKeyUsage"},
                              {NID_subject_alt_name, "DNS:*.example.com,DNS:host.example.com,IP:10.0.0.1,"
                                                     "email:a@example.com"},
                              {0, NULL}};
    X509 *any = make_cert("any.example.com", k, NULL, NULL, ANY);
    assert_int_equal(negoex_x509_check_eku(any, NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0),
                     NEGOEX_ERR_CERT_EKU);
    assert_int_equal(negoex_x509_check_eku(any, NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN,
                                           NEGOEX_X509_EKU_ALLOW_ANY),
                     NEGOEX_OK);

    /* SAN: the UPNs and dNSNames the certificates carry. */
    const char *s7upn[] = {"s7@dataans.com"};
    const char *s9upn[] = {"s9@dataans.com"};
    const char *mamoreau[] = {"mamoreau@downhillpro.xyz"};
    const char *ip109[] = {"192.168.0.109"};
    const char *azr[] = {"AZRDOWN-W10", "AZRDOWN-W10", "10.1.0.4"};
    assert_san(s7, NEGOEX_X509_SAN_UPN, 1, s7upn);
    assert_san(req0925, NEGOEX_X509_SAN_UPN, 1, s7upn);
    assert_san(req1018, NEGOEX_X509_SAN_UPN, 1, s7upn);
    assert_san(s9, NEGOEX_X509_SAN_UPN, 1, s9upn);
    assert_san(req0517, NEGOEX_X509_SAN_UPN, 1, mamoreau);
    assert_san(server, NEGOEX_X509_SAN_DNS, 1, ip109);
    assert_san(repsspi, NEGOEX_X509_SAN_DNS, 1, ip109);
    assert_san(rep0517, NEGOEX_X509_SAN_DNS, 3, azr);
    X509 *no_dns[] = {s7, s9, req0517, req0925, req1018, ca, device};
    for (size_t i = 0; i < sizeof no_dns / sizeof no_dns[0]; i++)
        assert_san(no_dns[i], NEGOEX_X509_SAN_DNS, 0, NULL);
    X509 *no_upn[] = {server, rep0517, repsspi, ca, device, any};
    for (size_t i = 0; i < sizeof no_upn / sizeof no_upn[0]; i++)
        assert_san(no_upn[i], NEGOEX_X509_SAN_UPN, 0, NULL);
    const char *any_dns[] = {"*.example.com", "host.example.com"};
    assert_san(any, NEGOEX_X509_SAN_DNS, 2, any_dns);

    /* Buffer sizes. */
    char small[5];
    size_t need = 0;
    assert_int_equal(negoex_x509_san_get(s7, NEGOEX_X509_SAN_UPN, 0, small, sizeof small, &need),
                     NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, sizeof "s7@dataans.com");
    assert_string_equal(small, "s7@d");
    assert_int_equal(negoex_x509_san_get(s7, NEGOEX_X509_SAN_UPN, 0, NULL, 0, &need), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, sizeof "s7@dataans.com");
    assert_int_equal(negoex_x509_san_get(s7, 99, 0, small, sizeof small, &need), NEGOEX_ERR_INVALID_ARGUMENT);

    /* Host matching. */
    assert_int_equal(negoex_x509_match_host(server, "192.168.0.109"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(repsspi, "192.168.0.109"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(server, "192.168.0.110"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(rep0517, "AZRDOWN-W10"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(rep0517, "azrdown-w10"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(rep0517, "AzrDown-W10"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(rep0517, "10.1.0.4"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(rep0517, "AZRDOWN-W1"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(rep0517, "AZRDOWN-W100"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(rep0517, "AZRDOWN-W10.example.com"), NEGOEX_ERR_CERT_NAME);
    /* The subject CN is never a host name. */
    assert_int_equal(negoex_x509_match_host(rep0517, "cc3d96b4-0a0d-4a5d-8bfb-8d6ea8d955d2"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(any, "any.example.com"), NEGOEX_ERR_CERT_NAME);
    /* No wildcard expansion; an iPAddress entry matches its literal. */
    assert_int_equal(negoex_x509_match_host(any, "a.example.com"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(any, "HOST.example.com"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(any, "10.0.0.1"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(any, "10.0.0.2"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(any, "*.example.com"), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_x509_match_host(s7, "s7@dataans.com"), NEGOEX_ERR_CERT_NAME);
    assert_int_equal(negoex_x509_match_host(s7, ""), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_x509_match_host(NULL, "x"), NEGOEX_ERR_INVALID_ARGUMENT);

    X509 *all[] = {s7, s9, server, ca, device, req0517, req0925, req1018, rep0517, repsspi, any};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        X509_free(all[i]);
    EVP_PKEY_free(k);
}

/* SAN values OpenSSL's config syntax cannot write: raw string bytes. */
static void add_san(GENERAL_NAMES *gens, int upn, int str_type, const char *bytes, size_t n)
{
    ASN1_STRING *str = ASN1_STRING_type_new(str_type);
    assert_non_null(str);
    assert_true(ASN1_STRING_set(str, bytes, (int)n));
    GENERAL_NAME *gn = GENERAL_NAME_new();
    assert_non_null(gn);
    if (upn) {
        ASN1_TYPE *t = ASN1_TYPE_new();
        assert_non_null(t);
        ASN1_TYPE_set(t, str_type, str);
        assert_true(GENERAL_NAME_set0_othername(gn, OBJ_txt2obj("1.3.6.1.4.1.311.20.2.3", 1), t));
    } else {
        GENERAL_NAME_set0_value(gn, GEN_DNS, str);
    }
    assert_true(sk_GENERAL_NAME_push(gens, gn));
}

static void test_san_values(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key();
    X509 *x = make_cert("san", k, NULL, NULL, NULL);
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    assert_non_null(gens);
    add_san(gens, 1, V_ASN1_UTF8STRING, "j\xc3\xbcrgen@example.com", 19); /* 0: U+00FC */
    add_san(gens, 1, V_ASN1_UTF8STRING, "bad\xc3\x28", 5);                /* 1: not UTF-8 */
    add_san(gens, 1, V_ASN1_UTF8STRING, "over\xc0\xaf", 6);               /* 2: overlong '/' */
    add_san(gens, 1, V_ASN1_UTF8STRING, "sur\xed\xa0\x80", 6);           /* 3: surrogate */
    add_san(gens, 1, V_ASN1_IA5STRING, "ia5@example.com", 15);            /* 4: not a UTF8String */
    add_san(gens, 1, V_ASN1_UTF8STRING, "nul\0@example.com", 16);         /* 5: NUL */
    add_san(gens, 1, V_ASN1_UTF8STRING, "\xf0\x9f\x94\x91@example.com", 16); /* 6: U+1F511 */
    add_san(gens, 0, V_ASN1_IA5STRING, "host.example", 12);               /* dns 0 */
    add_san(gens, 0, V_ASN1_IA5STRING, "h\0st.example", 12);              /* dns 1: NUL */
    add_san(gens, 0, V_ASN1_IA5STRING, "h\xe9st.example", 12);            /* dns 2: not ASCII */
    assert_true(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT));
    GENERAL_NAMES_free(gens);
    assert_true(X509_sign(x, k, EVP_sha256()) > 0);

    char buf[64];
    assert_int_equal(negoex_x509_san_count(x, NEGOEX_X509_SAN_UPN), 7);
    assert_int_equal(negoex_x509_san_count(x, NEGOEX_X509_SAN_DNS), 3);
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_UPN, 0, buf, sizeof buf, NULL), NEGOEX_OK);
    assert_string_equal(buf, "j\xc3\xbcrgen@example.com");
    for (size_t i = 1; i <= 5; i++)
        assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_UPN, i, buf, sizeof buf, NULL), NEGOEX_ERR_DER_VALUE);
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_UPN, 6, buf, sizeof buf, NULL), NEGOEX_OK);
    assert_string_equal(buf, "\xf0\x9f\x94\x91@example.com");
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_UPN, 7, buf, sizeof buf, NULL), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_DNS, 0, buf, sizeof buf, NULL), NEGOEX_OK);
    assert_string_equal(buf, "host.example");
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_DNS, 1, buf, sizeof buf, NULL), NEGOEX_ERR_DER_VALUE);
    assert_int_equal(negoex_x509_san_get(x, NEGOEX_X509_SAN_DNS, 2, buf, sizeof buf, NULL), NEGOEX_ERR_DER_VALUE);
    /* A dNSName with a NUL never matches the name before the NUL. */
    assert_int_equal(negoex_x509_match_host(x, "host.example"), NEGOEX_OK);
    assert_int_equal(negoex_x509_match_host(x, "h"), NEGOEX_ERR_CERT_NAME);
    X509_free(x);
    EVP_PKEY_free(k);
}

/* ------------------------------------------------------------------------ */
/* Sign -> verify                                                           */
/* ------------------------------------------------------------------------ */

static negoex_x509_identity s7_identity(void)
{
    negoex_x509_identity id;
    negoex_error_info err = {0, 0, NULL};
    char cert[1024], key[1024];
    snprintf(cert, sizeof cert, "%s", tu_path(K_S7));
    snprintf(key, sizeof key, "%s", tu_path(K_DEVICE_KEY));
    int rc = negoex_x509_identity_load(cert, key, NULL, &id, &err);
    if (rc != NEGOEX_OK)
        fail_msg("identity: %s (%s)", negoex_error_name(rc), err.field ? err.field : "");
    assert_non_null(id.cert);
    assert_non_null(id.key);
    assert_null(id.chain);
    assert_true(EVP_PKEY_is_a(id.key, "RSA"));
    assert_int_equal(EVP_PKEY_get_bits(id.key), 2048);
    return id;
}

/* Signed attributes of our output, through OpenSSL. */
static int signed_attr_count(const uint8_t *der, size_t len, int wrapped, int *has_time)
{
    negoex_buf w;
    negoex_buf_init(&w, NULL);
    if (!wrapped) {
        assert_int_equal(negoex_cms_wrap(der, len, &w), NEGOEX_OK);
        der = w.data;
        len = w.len;
    }
    const unsigned char *p = der;
    CMS_ContentInfo *cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
    assert_non_null(cms);
    CMS_SignerInfo *si = sk_CMS_SignerInfo_value(CMS_get0_SignerInfos(cms), 0);
    int n = CMS_signed_get_attr_count(si);
    *has_time = CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1) >= 0;
    CMS_ContentInfo_free(cms);
    negoex_buf_free(&w);
    return n;
}

static void test_sign_roundtrip(void **state)
{
    (void)state;
    negoex_x509_identity id = s7_identity();
    /* Sign the Windows AuthPack bytes as our own. */
    negoex_bytes win = signed_data_of(&VECS[1]);
    negoex_cms_signed_data wd;
    assert_int_equal(negoex_cms_decode_signed_data(win.data, win.len, &wd, NULL), NEGOEX_OK);
    negoex_bytes authpack = wd.econtent;

    const unsigned digests[] = {NEGOEX_CMS_DIGEST_SHA1, NEGOEX_CMS_DIGEST_SHA256, NEGOEX_CMS_DIGEST_SHA384,
                                NEGOEX_CMS_DIGEST_SHA512};
    const char *digest_hex[] = {HX_SHA1, HX_SHA256, "608648016503040202", "608648016503040203"};
    for (size_t di = 0; di < 4; di++) {
        for (unsigned flags = 0; flags < 4; flags++) {
            negoex_buf out;
            negoex_buf_init(&out, NULL);
            int rc = negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                     NEGOEX_OID_PKINIT_AUTHDATA_LEN, id.cert, id.key, NULL, digests[di], flags, &out);
            assert_int_equal(rc, NEGOEX_OK);
            int wrapped = (flags & NEGOEX_CMS_SIGN_WRAPPED) != 0;

            /* Shape: the Windows form (version 3, one digest, one certificate,
             * issuerAndSerialNumber, rsaEncryption, content-type +
             * message-digest only unless signing-time was asked for). */
            negoex_cms_signed_data d;
            assert_int_equal(negoex_cms_decode_signed_data(out.data, out.len, &d, NULL), NEGOEX_OK);
            assert_int_equal(d.wrapped, wrapped);
            assert_int_equal(d.version, 3);
            assert_int_equal(d.digest_algorithm_count, 1);
            assert_hex(d.digest_algorithms[0], digest_hex[di]);
            assert_true(oid_eq(d.econtent_type, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN));
            assert_int_equal(d.econtent.len, authpack.len);
            assert_memory_equal(d.econtent.data, authpack.data, authpack.len);
            assert_int_equal(d.certificate_count, 1);
            assert_int_equal(d.signer_count, 1);
            assert_int_equal(d.signers[0].version, 1);
            assert_false(d.signers[0].sid_is_ski);
            assert_hex(d.signers[0].digest_algorithm, digest_hex[di]);
            assert_hex(d.signers[0].signature_algorithm, HX_RSA);
            assert_true(oid_eq(d.signers[0].content_type_attr, NEGOEX_OID_PKINIT_AUTHDATA,
                               NEGOEX_OID_PKINIT_AUTHDATA_LEN));
            assert_false(d.signers[0].has_unsigned_attrs);
            int has_time = 0;
            int nattrs = signed_attr_count(out.data, out.len, wrapped, &has_time);
            if (flags & NEGOEX_CMS_SIGN_SIGNING_TIME) {
                assert_int_equal(nattrs, 3);
                assert_true(has_time);
            } else {
                assert_int_equal(nattrs, 2);
                assert_false(has_time);
            }
            if (!wrapped) {
                assert_int_equal(out.len, d.raw.len);
                assert_memory_equal(out.data, "\x30\x82", 2);
            }
            /* AlgorithmIdentifiers: SHA-1 with NULL parameters as Windows
             * writes them (SignedData set and SignerInfo), SHA-2 without
             * (RFC 5754). */
            const char *algid = di == 0 ? "300906052b0e03021a0500" : "300b0609608648016503040201";
            if (di < 2)
                assert_int_equal(count_hex(out.data, out.len, algid), 2);
            if (di == 0) {
                /* The same first bytes as the Windows AS-REQ's SignedData:
                 * version 3 and the digest set. */
                assert_memory_equal(d.raw.data + 4, win.data + 4, 15);
            }

            /* Verify. */
            negoex_cms_verified v;
            negoex_error_info err = {0, 0, NULL};
            negoex_cms_verify_opts all = {NEGOEX_CMS_DIGEST_SHA1 | NEGOEX_CMS_DIGEST_SHA256 |
                                              NEGOEX_CMS_DIGEST_SHA384 | NEGOEX_CMS_DIGEST_SHA512,
                                          0};
            rc = negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN,
                                   &all, &v, &err);
            if (rc != NEGOEX_OK)
                fail_msg("digest %u flags %u: %s (%s)", digests[di], flags, negoex_error_name(rc),
                         err.field ? err.field : "");
            assert_int_equal(v.wrapped, wrapped);
            assert_int_equal(v.digest, digests[di]);
            assert_int_equal(v.econtent.len, authpack.len);
            assert_memory_equal(v.econtent.data, authpack.data, authpack.len);
            assert_int_equal(X509_cmp(v.signer, id.cert), 0);
            negoex_cms_verified_clear(&v);

            /* The default digest set is SHA-1 + SHA-256. */
            rc = negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN, NULL,
                                   &v, &err);
            assert_int_equal(rc, digests[di] <= NEGOEX_CMS_DIGEST_SHA256 ? NEGOEX_OK : NEGOEX_ERR_CMS_DIGEST);
            negoex_cms_verified_clear(&v);

            /* Wrong content type. */
            assert_int_equal(negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_DHKEYDATA,
                                               NEGOEX_OID_PKINIT_DHKEYDATA_LEN, &all, &v, &err),
                             NEGOEX_ERR_CMS_CONTENT_TYPE);

            /* Our own signature, tampered. */
            size_t sig_at = (size_t)(d.signers[0].signature.data - out.data);
            out.data[sig_at + 7] ^= 0x04;
            assert_int_equal(negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                               NEGOEX_OID_PKINIT_AUTHDATA_LEN, &all, &v, &err),
                             NEGOEX_ERR_CMS_SIGNATURE);
            negoex_buf_free(&out);
        }
    }

    /* DHKeyData as an acceptor signs it, with the CA after the certificate:
     * the result chains through the returned certificates. */
    negoex_bytes rep = signed_data_of(&VECS[4]);
    negoex_cms_signed_data rd;
    assert_int_equal(negoex_cms_decode_signed_data(rep.data, rep.len, &rd, NULL), NEGOEX_OK);
    X509 *ca = load_cert(K_CA);
    STACK_OF(X509) *extra = sk_X509_new_null();
    assert_true(sk_X509_push(extra, ca));
    assert_true(sk_X509_push(extra, id.cert)); /* a duplicate is left out */
    negoex_buf out;
    negoex_buf_init(&out, NULL);
    assert_int_equal(negoex_cms_sign(rd.econtent.data, rd.econtent.len, NEGOEX_OID_PKINIT_DHKEYDATA,
                                     NEGOEX_OID_PKINIT_DHKEYDATA_LEN, id.cert, id.key, extra, NEGOEX_CMS_DIGEST_SHA1, 0,
                                     &out),
                     NEGOEX_OK);
    negoex_cms_verified v;
    assert_int_equal(negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_DHKEYDATA,
                                       NEGOEX_OID_PKINIT_DHKEYDATA_LEN, NULL, &v, NULL),
                     NEGOEX_OK);
    assert_int_equal(sk_X509_num(v.certs), 2);
    negoex_x509_trust *t = trust_of(ca);
    negoex_x509_verify_opts o = at(not_before(v.signer) + 60);
    assert_int_equal(negoex_x509_verify(t, v.signer, v.certs, &o, NULL), NEGOEX_OK);
    negoex_x509_trust_free(t);
    negoex_cms_verified_clear(&v);
    negoex_buf_free(&out);
    sk_X509_free(extra);

    /* Refusals: another identity's key, digests and flags we do not know,
     * a key type we do not sign with. */
    size_t kn;
    uint8_t *kb = tu_load_tracked(K_S9_KEY, &kn);
    negoex_x509_identity s9;
    size_t cn;
    uint8_t *cb = tu_load_tracked(K_S9, &cn);
    assert_int_equal(negoex_x509_identity_from_mem(cb, cn, kb, kn, NULL, &s9, NULL), NEGOEX_OK);
    negoex_buf_init(&out, NULL);
    assert_int_equal(negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                     NEGOEX_OID_PKINIT_AUTHDATA_LEN, id.cert, s9.key, NULL, NEGOEX_CMS_DIGEST_SHA1, 0,
                                     &out),
                     NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                     NEGOEX_OID_PKINIT_AUTHDATA_LEN, id.cert, id.key, NULL,
                                     NEGOEX_CMS_DIGEST_SHA1 | NEGOEX_CMS_DIGEST_SHA256, 0, &out),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                     NEGOEX_OID_PKINIT_AUTHDATA_LEN, id.cert, id.key, NULL, NEGOEX_CMS_DIGEST_SHA1,
                                     0x80, &out),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_cms_sign(authpack.data, authpack.len, NULL, 0, id.cert, id.key, NULL,
                                     NEGOEX_CMS_DIGEST_SHA1, 0, &out),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_non_null(ed);
    X509 *edc = make_cert("ed", ed, NULL, NULL, NULL);
    assert_int_equal(negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                                     NEGOEX_OID_PKINIT_AUTHDATA_LEN, edc, ed, NULL, NEGOEX_CMS_DIGEST_SHA256, 0, &out),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(out.len, 0);
    X509_free(edc);
    EVP_PKEY_free(ed);
    negoex_buf_free(&out);
    negoex_x509_identity_clear(&s9);
    negoex_x509_identity_clear(&id);
    X509_free(ca);
}

/* A fresh EC key and self-signed certificate: ECDSA signatures. */
static void test_sign_ec(void **state)
{
    (void)state;
    EVP_PKEY *k = ec_key();
    static const ext LEAF[] = {
        {NID_ext_key_usage, "serverAuth"}, {NID_subject_alt_name, "DNS:peer.example"}, {0, NULL}};
    X509 *c = make_cert("peer", k, NULL, NULL, LEAF);
    static const uint8_t content[] = {0x30, 0x03, 0x02, 0x01, 0x00};
    for (unsigned flags = 0; flags < 4; flags++) {
        negoex_buf out;
        negoex_buf_init(&out, NULL);
        assert_int_equal(negoex_cms_sign(content, sizeof content, NEGOEX_OID_PKINIT_DHKEYDATA,
                                         NEGOEX_OID_PKINIT_DHKEYDATA_LEN, c, k, NULL, NEGOEX_CMS_DIGEST_SHA256, flags,
                                         &out),
                         NEGOEX_OK);
        negoex_cms_verified v;
        assert_int_equal(negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_DHKEYDATA,
                                           NEGOEX_OID_PKINIT_DHKEYDATA_LEN, NULL, &v, NULL),
                         NEGOEX_OK);
        assert_int_equal(v.econtent.len, sizeof content);
        assert_memory_equal(v.econtent.data, content, sizeof content);
        assert_int_equal(negoex_x509_match_host(v.signer, "peer.example"), NEGOEX_OK);
        negoex_x509_trust *t = trust_of(c);
        assert_int_equal(negoex_x509_verify(t, v.signer, NULL, NULL, NULL), NEGOEX_OK);
        negoex_x509_trust_free(t);
        negoex_cms_verified_clear(&v);
        /* Empty content is content too. */
        negoex_buf_free(&out);
    }
    negoex_buf out;
    negoex_buf_init(&out, NULL);
    assert_int_equal(negoex_cms_sign(NULL, 0, NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN, c, k, NULL,
                                     NEGOEX_CMS_DIGEST_SHA1, 0, &out),
                     NEGOEX_OK);
    negoex_cms_verified v;
    assert_int_equal(negoex_cms_verify(out.data, out.len, NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN,
                                       NULL, &v, NULL),
                     NEGOEX_OK);
    assert_int_equal(v.econtent.len, 0);
    negoex_cms_verified_clear(&v);
    negoex_buf_free(&out);
    X509_free(c);
    EVP_PKEY_free(k);
}

/* ------------------------------------------------------------------------ */
/* Loading                                                                  */
/* ------------------------------------------------------------------------ */

static int load_id(const char *cert, const char *key, const char *pw, negoex_x509_identity *id,
                   negoex_error_info *err)
{
    return negoex_x509_identity_load(cert, key, pw, id, err);
}

static void test_load_credentials(void **state)
{
    (void)state;
    make_tmpdir();
    negoex_x509_identity ref = s7_identity();
    X509 *ca = load_cert(K_CA);
    negoex_x509_identity id;
    negoex_error_info err = {0, 0, NULL};

    /* s9: DER certificate + PEM PKCS#8 key. */
    char p1[1024], p2[1024];
    snprintf(p1, sizeof p1, "%s", tu_path(K_S9));
    snprintf(p2, sizeof p2, "%s", tu_path(K_S9_KEY));
    assert_int_equal(load_id(p1, p2, NULL, &id, &err), NEGOEX_OK);
    assert_int_equal(EVP_PKEY_get_bits(id.key), 2048);
    negoex_x509_identity_clear(&id);
    negoex_x509_identity_clear(&id);
    /* The wrong key for it. */
    snprintf(p2, sizeof p2, "%s", tu_path(K_DEVICE_KEY));
    assert_int_equal(load_id(p1, p2, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_string_equal(err.field, "private key does not match the certificate");
    assert_null(id.cert);
    assert_null(id.key);
    /* A DER certificate alone has no key. */
    assert_int_equal(load_id(p1, NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    /* Missing files, a directory, garbage. */
    assert_int_equal(load_id(tmp_path("missing"), NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(load_id(tmpdir, NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    write_file("junk.bin", "not a certificate", 17);
    assert_int_equal(load_id(tmp_path("junk.bin"), NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(load_id(p1, tmp_path("junk.bin"), NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(load_id(NULL, NULL, NULL, &id, &err), NEGOEX_ERR_INVALID_ARGUMENT);

    /* PEM: certificate, CA, unencrypted key in one file. */
    BIO *b = mem_bio();
    assert_true(PEM_write_bio_X509(b, ref.cert));
    assert_true(PEM_write_bio_X509(b, ca));
    assert_true(PEM_write_bio_PrivateKey(b, ref.key, NULL, NULL, 0, NULL, NULL));
    write_bio("all.pem", b);
    assert_int_equal(load_id(tmp_path("all.pem"), NULL, NULL, &id, &err), NEGOEX_OK);
    assert_int_equal(X509_cmp(id.cert, ref.cert), 0);
    assert_int_equal(EVP_PKEY_eq(id.key, ref.key), 1);
    assert_non_null(id.chain);
    assert_int_equal(sk_X509_num(id.chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(id.chain, 0), ca), 0);
    negoex_x509_identity_clear(&id);

    /* PEM certificate + encrypted PEM key (traditional and PKCS#8). */
    b = mem_bio();
    assert_true(PEM_write_bio_X509(b, ref.cert));
    write_bio("cert.pem", b);
    b = mem_bio();
    assert_true(PEM_write_bio_PKCS8PrivateKey(b, ref.key, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"pw"));
    write_bio("key8.pem", b);
    b = mem_bio();
    assert_true(PEM_write_bio_PrivateKey_traditional(b, ref.key, EVP_aes_128_cbc(), NULL, 0, NULL, (void *)"pw"));
    write_bio("keytrad.pem", b);
    const char *enc_keys[] = {"key8.pem", "keytrad.pem"};
    for (size_t i = 0; i < 2; i++) {
        assert_int_equal(load_id(tmp_path("cert.pem"), tmp_path(enc_keys[i]), "pw", &id, &err), NEGOEX_OK);
        assert_int_equal(EVP_PKEY_eq(id.key, ref.key), 1);
        assert_null(id.chain);
        negoex_x509_identity_clear(&id);
        assert_int_equal(load_id(tmp_path("cert.pem"), tmp_path(enc_keys[i]), "wrong", &id, &err),
                         NEGOEX_ERR_CREDENTIAL_LOAD);
        /* No password: an error, never a prompt. */
        assert_int_equal(load_id(tmp_path("cert.pem"), tmp_path(enc_keys[i]), NULL, &id, &err),
                         NEGOEX_ERR_CREDENTIAL_LOAD);
    }
    /* A PEM certificate without a key anywhere. */
    assert_int_equal(load_id(tmp_path("cert.pem"), NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);

    /* Encrypted PKCS#8 DER, and PKCS#1 DER (the published device key). */
    b = mem_bio();
    assert_true(i2d_PKCS8PrivateKey_bio(b, ref.key, EVP_aes_256_cbc(), NULL, 0, NULL, (void *)"pw"));
    write_bio("key8.der", b);
    assert_int_equal(load_id(tmp_path("cert.pem"), tmp_path("key8.der"), "pw", &id, &err), NEGOEX_OK);
    negoex_x509_identity_clear(&id);
    assert_int_equal(load_id(tmp_path("cert.pem"), tmp_path("key8.der"), "nope", &id, &err),
                     NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(load_id(tmp_path("cert.pem"), tu_path(K_DEVICE_KEY), NULL, &id, &err), NEGOEX_OK);
    negoex_x509_identity_clear(&id);

    /* PKCS#12 made here (OpenSSL 3 defaults: AES-256-CBC, PBKDF2), with the
     * CA in its certificate bag. */
    STACK_OF(X509) *cas = sk_X509_new_null();
    assert_true(sk_X509_push(cas, ca));
    PKCS12 *p12 = PKCS12_create("secret", "s7", ref.key, ref.cert, cas, 0, 0, 0, 0, 0);
    assert_non_null(p12);
    sk_X509_free(cas);
    unsigned char *p12der = NULL;
    int p12len = i2d_PKCS12(p12, &p12der);
    assert_true(p12len > 0);
    PKCS12_free(p12);
    write_file("id.p12", p12der, (size_t)p12len);
    assert_int_equal(load_id(tmp_path("id.p12"), NULL, "secret", &id, &err), NEGOEX_OK);
    assert_int_equal(X509_cmp(id.cert, ref.cert), 0);
    assert_int_equal(EVP_PKEY_eq(id.key, ref.key), 1);
    assert_non_null(id.chain);
    assert_int_equal(sk_X509_num(id.chain), 1);
    assert_int_equal(X509_cmp(sk_X509_value(id.chain, 0), ca), 0);
    negoex_x509_identity_clear(&id);
    /* The same from memory. */
    assert_int_equal(negoex_x509_identity_from_mem(p12der, (size_t)p12len, NULL, 0, "secret", &id, &err), NEGOEX_OK);
    negoex_x509_identity_clear(&id);
    assert_int_equal(load_id(tmp_path("id.p12"), NULL, "wrong", &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_non_null(strstr(err.field, "password"));
    assert_int_equal(load_id(tmp_path("id.p12"), NULL, NULL, &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(load_id(tmp_path("id.p12"), tu_path(K_DEVICE_KEY), "secret", &id, &err),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    /* A truncated PKCS#12 is nothing we can read. */
    write_file("short.p12", p12der, (size_t)p12len / 2);
    assert_int_equal(load_id(tmp_path("short.p12"), NULL, "secret", &id, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    OPENSSL_free(p12der);

    /* Unlink everything. */
    const char *files[] = {"junk.bin", "all.pem", "cert.pem", "key8.pem", "keytrad.pem", "key8.der", "id.p12",
                           "short.p12"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        assert_int_equal(unlink(tmp_path(files[i])), 0);
    assert_int_equal(rmdir(tmpdir), 0);
    X509_free(ca);
    negoex_x509_identity_clear(&ref);
}

static void test_trust_files(void **state)
{
    (void)state;
    make_tmpdir();
    X509 *ca = load_cert(K_CA);
    X509 *s7 = load_cert(K_S7);
    negoex_x509_trust *t = trust_of(NULL);
    negoex_error_info err = {0, 0, NULL};

    /* A DER file; the same anchor twice counts once. */
    assert_int_equal(negoex_x509_trust_add_file(t, tu_path(K_CA), &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_add_file(t, tu_path(K_CA), &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_add_cert(t, ca), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 1);
    negoex_x509_verify_opts o = at(not_before(s7) + 60);
    assert_int_equal(negoex_x509_verify(t, s7, NULL, &o, NULL), NEGOEX_OK);
    negoex_x509_trust_free(t);

    /* A PEM bundle with two anchors (and a key block, skipped). */
    EVP_PKEY *k = ec_key();
    X509 *other = make_cert("Other", k, NULL, NULL, CA_EXTS);
    BIO *b = mem_bio();
    assert_true(PEM_write_bio_X509(b, other));
    assert_true(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    assert_true(PEM_write_bio_X509(b, ca));
    write_bio("bundle.pem", b);
    t = trust_of(NULL);
    assert_int_equal(negoex_x509_trust_add_file(t, tmp_path("bundle.pem"), &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 2);
    assert_int_equal(X509_cmp(negoex_x509_trust_get0(t, 0), other), 0);
    assert_int_equal(X509_cmp(negoex_x509_trust_get0(t, 1), ca), 0);
    assert_int_equal(negoex_x509_verify(t, s7, NULL, &o, NULL), NEGOEX_OK);
    negoex_x509_trust_free(t);

    /* Files that hold no certificate. */
    t = trust_of(NULL);
    b = mem_bio();
    assert_true(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL));
    write_bio("key.pem", b);
    assert_int_equal(negoex_x509_trust_add_file(t, tmp_path("key.pem"), &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    static const char broken[] = "-----BEGIN CERTIFICATE-----\nAAAA!!\n-----END CERTIFICATE-----\n";
    write_file("broken.pem", broken, strlen(broken));
    assert_int_equal(negoex_x509_trust_add_file(t, tmp_path("broken.pem"), &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(negoex_x509_trust_add_file(t, tmp_path("nothing"), &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(negoex_x509_trust_count(t), 0);

    /* A directory: certificates taken, other files and dot files skipped. */
    assert_int_equal(negoex_x509_trust_add_dir(t, tmpdir, &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 2); /* bundle.pem */
    negoex_x509_trust_free(t);
    t = trust_of(NULL);
    assert_int_equal(unlink(tmp_path("bundle.pem")), 0);
    assert_int_equal(negoex_x509_trust_add_dir(t, tmpdir, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_string_equal(err.field, "no certificate in directory");
    unsigned char *der = NULL;
    int n = i2d_X509(ca, &der);
    assert_true(n > 0);
    write_file("p2p.der", der, (size_t)n);
    write_file(".hidden.der", der, (size_t)n);
    OPENSSL_free(der);
    assert_int_equal(negoex_x509_trust_add_dir(t, tmpdir, &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 1);
    assert_int_equal(negoex_x509_verify(t, s7, NULL, &o, NULL), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_add_dir(t, tmp_path("none"), &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_int_equal(negoex_x509_trust_add_dir(t, NULL, &err), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_x509_trust_free(t);

    /* The vectors' own directory holds the CA and four leaf certificates
     * (the key files are skipped). */
    t = trust_of(NULL);
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tu_path(K_DIR));
    assert_int_equal(negoex_x509_trust_add_dir(t, dir, &err), NEGOEX_OK);
    assert_int_equal(negoex_x509_trust_count(t), 5);
    negoex_x509_trust_free(t);

    /* negoex_x509_certs_from_mem / validity. */
    STACK_OF(X509) *certs = NULL;
    assert_int_equal(negoex_x509_certs_from_mem((const uint8_t *)"x", 1, &certs, &err), NEGOEX_ERR_CREDENTIAL_LOAD);
    assert_null(certs);
    int64_t nb, na;
    assert_int_equal(negoex_x509_validity(s7, &nb, &na), NEGOEX_OK);
    assert_int_equal(nb, 1666561259);        /* 2022-10-23T21:40:59Z */
    assert_int_equal(na, 1666561259 + 3900); /* 22:45:59Z */
    assert_int_equal(negoex_x509_validity(ca, &nb, &na), NEGOEX_OK);
    assert_int_equal(nb, 1659916800); /* 2022-08-08T00:00:00Z */
    assert_int_equal(na, 1691452800); /* 2023-08-08T00:00:00Z */

    const char *files[] = {"key.pem", "broken.pem", "p2p.der", ".hidden.der"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        assert_int_equal(unlink(tmp_path(files[i])), 0);
    assert_int_equal(rmdir(tmpdir), 0);
    X509_free(other);
    EVP_PKEY_free(k);
    X509_free(ca);
    X509_free(s7);
}

/* The error codes of this layer are distinct and named. */
static void test_error_codes(void **state)
{
    (void)state;
    static const int codes[] = {NEGOEX_ERR_CMS_MALFORMED,      NEGOEX_ERR_CMS_SIGNATURE, NEGOEX_ERR_CMS_CONTENT_TYPE,
                                NEGOEX_ERR_CMS_DIGEST,         NEGOEX_ERR_CERT_UNTRUSTED, NEGOEX_ERR_CERT_EXPIRED,
                                NEGOEX_ERR_CERT_NOT_YET_VALID, NEGOEX_ERR_CERT_INVALID,   NEGOEX_ERR_CERT_EKU,
                                NEGOEX_ERR_CERT_NAME,          NEGOEX_ERR_CREDENTIAL_LOAD};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_true(codes[i] <= -86 && codes[i] >= -99);
        assert_string_not_equal(negoex_error_name(codes[i]), "UNKNOWN");
        for (size_t j = 0; j < i; j++)
            assert_int_not_equal(codes[i], codes[j]);
    }
    assert_int_equal(negoex_x509_error_code(X509_V_OK), NEGOEX_OK);
    assert_int_equal(negoex_x509_error_code(X509_V_ERR_CERT_HAS_EXPIRED), NEGOEX_ERR_CERT_EXPIRED);
    assert_int_equal(negoex_x509_error_code(X509_V_ERR_CERT_NOT_YET_VALID), NEGOEX_ERR_CERT_NOT_YET_VALID);
    assert_int_equal(negoex_x509_error_code(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN), NEGOEX_ERR_CERT_UNTRUSTED);
    assert_int_equal(negoex_x509_error_code(X509_V_ERR_CERT_SIGNATURE_FAILURE), NEGOEX_ERR_CERT_INVALID);
    assert_int_equal(negoex_x509_error_code(X509_V_ERR_PATH_LENGTH_EXCEEDED), NEGOEX_ERR_CERT_INVALID);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_verify_windows, teardown),
        cmocka_unit_test_teardown(test_verify_truncated, teardown),
        cmocka_unit_test_teardown(test_verify_tampered, teardown),
        cmocka_unit_test_teardown(test_verify_shapes, teardown),
        cmocka_unit_test_teardown(test_chain_p2p, teardown),
        cmocka_unit_test_teardown(test_chain_generated, teardown),
        cmocka_unit_test_teardown(test_eku_san, teardown),
        cmocka_unit_test_teardown(test_san_values, teardown),
        cmocka_unit_test_teardown(test_sign_roundtrip, teardown),
        cmocka_unit_test_teardown(test_sign_ec, teardown),
        cmocka_unit_test_teardown(test_load_credentials, teardown),
        cmocka_unit_test_teardown(test_trust_files, teardown),
        cmocka_unit_test_teardown(test_error_codes, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
