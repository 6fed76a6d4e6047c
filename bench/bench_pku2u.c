/*
 * A full PKU2U handshake against its crypto floor, in the same run.
 *
 * The handshake: two bare NEGOEX contexts (the Windows form: metadata round
 * trip first, AS and AP exchanges after, 3 round trips), a PKU2U scheme
 * each, made afresh with the contexts every time from a test PKI generated
 * once (2048-bit RSA as negoex certs makes it; DH group 2, SHA-1
 * signatures: the Windows defaults; system clock and OpenSSL's RNG).
 *
 * The floor: what that handshake cannot do without, through OpenSSL EVP
 * alone with the same keys and sizes (counted from src/pku2u; callgrind's
 * call counts of the OpenSSL primitives agree, see scripts/run-bench):
 *   RSA signs     2  initiator: the AuthPack (CMS signer info), acceptor:
 *                    the KDCDHKeyInfo; SHA-1 over the signed attributes
 *   RSA verifies  4  acceptor: the AuthPack signature and the user
 *                    certificate (sha256WithRSA by the CA); initiator: the
 *                    KDCDHKeyInfo signature and the device certificate
 *   DH keygens    2  one per side, group 2 without q as the scheme makes
 *                    them (a 1023-bit private exponent)
 *   DH derives    2  one per side, the peer's value checked first (range
 *                    and y^q = 1, as EVP_PKEY_derive_set_peer does)
 * (The handshake currently signs each CMS twice: OpenSSL's CMS_final signs
 * with a signing-time attribute, then src/pku2u/cms.c drops it and signs
 * again. The floor counts the signatures the protocol needs.)
 */
#include "bench_pku2u.h"

#include "bench_alloc.h"

#include <negoex/context.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/testpki.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static struct {
    int ready;
    negoex_testpki *pki;
    STACK_OF(X509) *anchors;
    /* floor */
    EVP_PKEY *user_pub, *dev_pub, *ca_pub; /* public halves, from the certificates */
    uint8_t *tbs[2];                       /* user and device TBSCertificate DER */
    size_t tbs_len[2];
    const uint8_t *cert_sig[2];
    size_t cert_sig_len[2];
    BIGNUM *p, *g, *q;
    EVP_PKEY *dh_domain;                   /* p, g: what the scheme generates from */
} B;

static size_t last_transcript;

/* The signed attributes a PKINIT signer info signs: contentType and a
 * SHA-1 messageDigest in a SET (the size is what matters). */
static const uint8_t SIGNED_ATTRS[] = {
    0x31, 0x3d,                                                                   /* SET */
    0x30, 0x16, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03, /* contentType */
    0x31, 0x09, 0x06, 0x07, 0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x01,             /* id-pkinit-authData */
    0x30, 0x23, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04, /* messageDigest */
    0x31, 0x16, 0x04, 0x14, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
    0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14,
};

/* ------------------------------------------------------------------------ */
/* Set-up                                                                    */
/* ------------------------------------------------------------------------ */

static int make_domain(void)
{
    B.p = BN_get_rfc2409_prime_1024(NULL);
    B.g = BN_new();
    B.q = BN_new();
    if (B.p == NULL || B.g == NULL || B.q == NULL || BN_set_word(B.g, 2) != 1 || BN_rshift1(B.q, B.p) != 1)
        return -1;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    int rc = -1;
    if (bld != NULL && ctx != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, B.p) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, B.g) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, &B.dh_domain, EVP_PKEY_KEY_PARAMETERS, params) == 1)
        rc = 0;
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    return rc;
}

int bench_pku2u_setup(void)
{
    if (B.ready)
        return 0;
    negoex_testpki_options o;
    negoex_testpki_options_init(&o);
    o.key_bits = BENCH_PKU2U_RSA_BITS;
    if (negoex_testpki_new(&o, time(NULL), &B.pki, NULL) != NEGOEX_OK)
        return -1;
    X509 *ca = negoex_testpki_get0_cert(B.pki, NEGOEX_TESTPKI_CA);
    X509 *certs[2] = {negoex_testpki_get0_cert(B.pki, NEGOEX_TESTPKI_USER),
                      negoex_testpki_get0_cert(B.pki, NEGOEX_TESTPKI_DEVICE)};
    B.anchors = sk_X509_new_null();
    if (B.anchors == NULL || sk_X509_push(B.anchors, ca) <= 0)
        return -1;
    B.ca_pub = X509_get0_pubkey(ca);
    B.user_pub = X509_get0_pubkey(certs[0]);
    B.dev_pub = X509_get0_pubkey(certs[1]);
    if (B.ca_pub == NULL || B.user_pub == NULL || B.dev_pub == NULL)
        return -1;
    for (int i = 0; i < 2; i++) {
        unsigned char *der = NULL;
        int n = i2d_re_X509_tbs(certs[i], &der);
        const ASN1_BIT_STRING *sig = NULL;
        X509_get0_signature(&sig, NULL, certs[i]);
        if (n <= 0 || sig == NULL)
            return -1;
        B.tbs[i] = der;
        B.tbs_len[i] = (size_t)n;
        B.cert_sig[i] = ASN1_STRING_get0_data(sig);
        B.cert_sig_len[i] = (size_t)ASN1_STRING_length(sig);
    }
    if (make_domain() != 0)
        return -1;
    B.ready = 1;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* The handshake                                                             */
/* ------------------------------------------------------------------------ */

static negoex_context *pku2u_context(negoex_role role)
{
    int ini = role == NEGOEX_ROLE_INITIATOR;
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.allocator = &bench_allocators[role];
    cfg.optimistic = 0; /* the Windows form */
    negoex_pku2u_config pc;
    negoex_pku2u_config_init(&pc);
    negoex_testpki_entity me = ini ? NEGOEX_TESTPKI_USER : NEGOEX_TESTPKI_DEVICE;
    pc.cert = negoex_testpki_get0_cert(B.pki, me);
    pc.key = negoex_testpki_get0_key(B.pki, me);
    pc.trust_anchors = B.anchors;
    if (ini) {
        pc.target_host = negoex_testpki_host(B.pki);
        pc.netbios_name = "CLIENT-PC";
    }
    negoex_context *ctx;
    if (negoex_context_new(&ctx, role, &cfg) != NEGOEX_OK)
        return NULL;
    negoex_scheme *s;
    if (negoex_pku2u_scheme_new(&s, &pc, &bench_allocators[role]) != NEGOEX_OK) {
        negoex_context_free(ctx);
        return NULL;
    }
    if (negoex_context_add_scheme(ctx, s) != NEGOEX_OK) {
        s->cls->destroy(s);
        negoex_context_free(ctx);
        return NULL;
    }
    return ctx;
}

NOINLINE int bench_pku2u_handshake_one(void)
{
    negoex_context *c[2] = {pku2u_context(NEGOEX_ROLE_INITIATOR), pku2u_context(NEGOEX_ROLE_ACCEPTOR)};
    int ok = 0, done[2] = {0, 0};
    const uint8_t *in = NULL;
    size_t in_len = 0;
    for (int leg = 0, who = 0; c[0] != NULL && c[1] != NULL && leg < 12; leg++, who ^= 1) {
        const uint8_t *out;
        size_t out_len;
        int rc = negoex_context_step(c[who], in, in_len, &out, &out_len);
        if (rc < 0)
            break;
        done[who] = rc == NEGOEX_COMPLETE;
        if (done[0] && done[1]) {
            ok = 1;
            last_transcript = negoex_context_transcript(c[0]).len;
            break;
        }
        if (out_len == 0)
            break;
        in = out; /* valid until c[who] steps again, after the peer's step */
        in_len = out_len;
    }
    negoex_context_free(c[0]);
    negoex_context_free(c[1]);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* The floor                                                                 */
/* ------------------------------------------------------------------------ */

static int rsa_sign(EVP_PKEY *key, uint8_t *sig, size_t *sig_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestSignInit_ex(m, NULL, "SHA1", NULL, NULL, key, NULL) == 1 &&
             EVP_DigestSign(m, sig, sig_len, SIGNED_ATTRS, sizeof SIGNED_ATTRS) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static int rsa_verify(EVP_PKEY *key, const char *md, const uint8_t *sig, size_t sig_len, const uint8_t *tbs,
                      size_t tbs_len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m != NULL && EVP_DigestVerifyInit_ex(m, NULL, md, NULL, NULL, key, NULL) == 1 &&
             EVP_DigestVerify(m, sig, sig_len, tbs, tbs_len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

static EVP_PKEY *dh_keygen(void)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, B.dh_domain, NULL);
    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_generate(ctx, &k) != 1) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}

/* own's shared secret with the public value of peer (p, g, q, y: checked by
 * EVP_PKEY_derive_set_peer), padded to the size of p. */
static int dh_derive(EVP_PKEY *own, EVP_PKEY *peer_key, uint8_t *zz, size_t *zz_len)
{
    BIGNUM *y = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *fctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL), *dctx = NULL;
    int ok = 0, pad = 1;
    OSSL_PARAM padp[] = {OSSL_PARAM_construct_int(OSSL_EXCHANGE_PARAM_PAD, &pad), OSSL_PARAM_construct_end()};
    if (bld != NULL && fctx != NULL && EVP_PKEY_get_bn_param(peer_key, OSSL_PKEY_PARAM_PUB_KEY, &y) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, B.p) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, B.g) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, B.q) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, y) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(fctx) == 1 &&
        EVP_PKEY_fromdata(fctx, &peer, EVP_PKEY_PUBLIC_KEY, params) == 1 &&
        (dctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, NULL)) != NULL && EVP_PKEY_derive_init(dctx) == 1 &&
        EVP_PKEY_CTX_set_params(dctx, padp) == 1 && EVP_PKEY_derive_set_peer(dctx, peer) == 1 &&
        EVP_PKEY_derive(dctx, zz, zz_len) == 1)
        ok = 1;
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_CTX_free(fctx);
    EVP_PKEY_free(peer);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(y);
    return ok;
}

NOINLINE int bench_pku2u_floor_one(void)
{
    uint8_t sig[2][BENCH_PKU2U_RSA_BITS / 8], zz[2][128];
    size_t sig_len[2] = {sizeof sig[0], sizeof sig[1]}, zz_len[2] = {sizeof zz[0], sizeof zz[1]};
    EVP_PKEY *keys[2] = {negoex_testpki_get0_key(B.pki, NEGOEX_TESTPKI_USER),
                         negoex_testpki_get0_key(B.pki, NEGOEX_TESTPKI_DEVICE)};
    EVP_PKEY *pubs[2] = {B.user_pub, B.dev_pub};
    /* initiator: DH key, AuthPack signature */
    EVP_PKEY *dh_i = dh_keygen();
    int ok = dh_i != NULL && rsa_sign(keys[0], sig[0], &sig_len[0]);
    /* acceptor: AuthPack signature, user certificate, DH key and secret, KDCDHKeyInfo signature */
    ok = ok && rsa_verify(pubs[0], "SHA1", sig[0], sig_len[0], SIGNED_ATTRS, sizeof SIGNED_ATTRS) &&
         rsa_verify(B.ca_pub, "SHA256", B.cert_sig[0], B.cert_sig_len[0], B.tbs[0], B.tbs_len[0]);
    EVP_PKEY *dh_a = ok ? dh_keygen() : NULL;
    ok = ok && dh_a != NULL && dh_derive(dh_a, dh_i, zz[1], &zz_len[1]) && rsa_sign(keys[1], sig[1], &sig_len[1]);
    /* initiator: KDCDHKeyInfo signature, device certificate, DH secret */
    ok = ok && rsa_verify(pubs[1], "SHA1", sig[1], sig_len[1], SIGNED_ATTRS, sizeof SIGNED_ATTRS) &&
         rsa_verify(B.ca_pub, "SHA256", B.cert_sig[1], B.cert_sig_len[1], B.tbs[1], B.tbs_len[1]) &&
         dh_derive(dh_i, dh_a, zz[0], &zz_len[0]);
    ok = ok && zz_len[0] == zz_len[1] && memcmp(zz[0], zz[1], zz_len[0]) == 0;
    EVP_PKEY_free(dh_i);
    EVP_PKEY_free(dh_a);
    return ok;
}

/* ------------------------------------------------------------------------ */
/* The run                                                                   */
/* ------------------------------------------------------------------------ */

#define ROUNDS 10

int bench_pku2u_run(uint64_t iterations, struct bench_pku2u_result *out)
{
    memset(out, 0, sizeof *out);
    out->iterations = iterations;
    if (bench_pku2u_setup() != 0)
        return -1;
    /* Warm-up: OpenSSL's DRBG, RSA blinding of each key, method fetches. */
    if (!bench_pku2u_handshake_one() || !bench_pku2u_floor_one())
        return -1;
    uint64_t before = bench_counters[0].allocs + bench_counters[1].allocs;
    uint64_t rounds = iterations < ROUNDS ? iterations : ROUNDS;
    for (uint64_t r = 0; r < rounds; r++) {
        uint64_t n = iterations / rounds + (r < iterations % rounds);
        double t0 = bench_now();
        for (uint64_t k = 0; k < n; k++)
            if (!bench_pku2u_handshake_one())
                return -1;
        double t1 = bench_now();
        for (uint64_t k = 0; k < n; k++)
            if (!bench_pku2u_floor_one())
                return -1;
        double t2 = bench_now();
        out->handshake_seconds += t1 - t0;
        out->floor_seconds += t2 - t1;
    }
    out->handshakes_per_sec = out->handshake_seconds > 0 ? (double)iterations / out->handshake_seconds : 0;
    out->floors_per_sec = out->floor_seconds > 0 ? (double)iterations / out->floor_seconds : 0;
    out->handshake_vs_floor_time = out->floor_seconds > 0 ? out->handshake_seconds / out->floor_seconds : 0;
    out->allocs_per_handshake =
        iterations ? (double)(bench_counters[0].allocs + bench_counters[1].allocs - before) / (double)iterations : 0;
    out->transcript_bytes = last_transcript;
    return bench_counters[0].live == 0 && bench_counters[1].live == 0 ? 0 : -1;
}
