/*
 * Diffie-Hellman with explicit p, g, q through OpenSSL 3 EVP (see dh.h).
 *
 * Keys are EVP_PKEYs of type "DH" built with EVP_PKEY_fromdata from the FFC
 * parameters; the exchange pads ZZ to the size of p (OSSL_EXCHANGE_PARAM_PAD)
 * and the peer's value goes through EVP_PKEY_public_check (range and, with q,
 * subgroup membership) before it is used.
 */
#include "pku2u/dh.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>

/* RFC 2409 6.2 (Oakley group 2) and RFC 3526 3 (group 14) primes, as the
 * Windows AS-REQ and sspi-rs send them (vectors/windows/pku2u/dh_groups.json),
 * with q = (p-1)/2. g = 2 for both. */
static const uint8_t MODP2_P[128] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x0f, 0xda, 0xa2,
    0x21, 0x68, 0xc2, 0x34, 0xc4, 0xc6, 0x62, 0x8b, 0x80, 0xdc, 0x1c, 0xd1,
    0x29, 0x02, 0x4e, 0x08, 0x8a, 0x67, 0xcc, 0x74, 0x02, 0x0b, 0xbe, 0xa6,
    0x3b, 0x13, 0x9b, 0x22, 0x51, 0x4a, 0x08, 0x79, 0x8e, 0x34, 0x04, 0xdd,
    0xef, 0x95, 0x19, 0xb3, 0xcd, 0x3a, 0x43, 0x1b, 0x30, 0x2b, 0x0a, 0x6d,
    0xf2, 0x5f, 0x14, 0x37, 0x4f, 0xe1, 0x35, 0x6d, 0x6d, 0x51, 0xc2, 0x45,
    0xe4, 0x85, 0xb5, 0x76, 0x62, 0x5e, 0x7e, 0xc6, 0xf4, 0x4c, 0x42, 0xe9,
    0xa6, 0x37, 0xed, 0x6b, 0x0b, 0xff, 0x5c, 0xb6, 0xf4, 0x06, 0xb7, 0xed,
    0xee, 0x38, 0x6b, 0xfb, 0x5a, 0x89, 0x9f, 0xa5, 0xae, 0x9f, 0x24, 0x11,
    0x7c, 0x4b, 0x1f, 0xe6, 0x49, 0x28, 0x66, 0x51, 0xec, 0xe6, 0x53, 0x81,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t MODP2_Q[128] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe4, 0x87, 0xed, 0x51,
    0x10, 0xb4, 0x61, 0x1a, 0x62, 0x63, 0x31, 0x45, 0xc0, 0x6e, 0x0e, 0x68,
    0x94, 0x81, 0x27, 0x04, 0x45, 0x33, 0xe6, 0x3a, 0x01, 0x05, 0xdf, 0x53,
    0x1d, 0x89, 0xcd, 0x91, 0x28, 0xa5, 0x04, 0x3c, 0xc7, 0x1a, 0x02, 0x6e,
    0xf7, 0xca, 0x8c, 0xd9, 0xe6, 0x9d, 0x21, 0x8d, 0x98, 0x15, 0x85, 0x36,
    0xf9, 0x2f, 0x8a, 0x1b, 0xa7, 0xf0, 0x9a, 0xb6, 0xb6, 0xa8, 0xe1, 0x22,
    0xf2, 0x42, 0xda, 0xbb, 0x31, 0x2f, 0x3f, 0x63, 0x7a, 0x26, 0x21, 0x74,
    0xd3, 0x1b, 0xf6, 0xb5, 0x85, 0xff, 0xae, 0x5b, 0x7a, 0x03, 0x5b, 0xf6,
    0xf7, 0x1c, 0x35, 0xfd, 0xad, 0x44, 0xcf, 0xd2, 0xd7, 0x4f, 0x92, 0x08,
    0xbe, 0x25, 0x8f, 0xf3, 0x24, 0x94, 0x33, 0x28, 0xf6, 0x73, 0x29, 0xc0,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
};
static const uint8_t MODP14_P[256] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc9, 0x0f, 0xda, 0xa2,
    0x21, 0x68, 0xc2, 0x34, 0xc4, 0xc6, 0x62, 0x8b, 0x80, 0xdc, 0x1c, 0xd1,
    0x29, 0x02, 0x4e, 0x08, 0x8a, 0x67, 0xcc, 0x74, 0x02, 0x0b, 0xbe, 0xa6,
    0x3b, 0x13, 0x9b, 0x22, 0x51, 0x4a, 0x08, 0x79, 0x8e, 0x34, 0x04, 0xdd,
    0xef, 0x95, 0x19, 0xb3, 0xcd, 0x3a, 0x43, 0x1b, 0x30, 0x2b, 0x0a, 0x6d,
    0xf2, 0x5f, 0x14, 0x37, 0x4f, 0xe1, 0x35, 0x6d, 0x6d, 0x51, 0xc2, 0x45,
    0xe4, 0x85, 0xb5, 0x76, 0x62, 0x5e, 0x7e, 0xc6, 0xf4, 0x4c, 0x42, 0xe9,
    0xa6, 0x37, 0xed, 0x6b, 0x0b, 0xff, 0x5c, 0xb6, 0xf4, 0x06, 0xb7, 0xed,
    0xee, 0x38, 0x6b, 0xfb, 0x5a, 0x89, 0x9f, 0xa5, 0xae, 0x9f, 0x24, 0x11,
    0x7c, 0x4b, 0x1f, 0xe6, 0x49, 0x28, 0x66, 0x51, 0xec, 0xe4, 0x5b, 0x3d,
    0xc2, 0x00, 0x7c, 0xb8, 0xa1, 0x63, 0xbf, 0x05, 0x98, 0xda, 0x48, 0x36,
    0x1c, 0x55, 0xd3, 0x9a, 0x69, 0x16, 0x3f, 0xa8, 0xfd, 0x24, 0xcf, 0x5f,
    0x83, 0x65, 0x5d, 0x23, 0xdc, 0xa3, 0xad, 0x96, 0x1c, 0x62, 0xf3, 0x56,
    0x20, 0x85, 0x52, 0xbb, 0x9e, 0xd5, 0x29, 0x07, 0x70, 0x96, 0x96, 0x6d,
    0x67, 0x0c, 0x35, 0x4e, 0x4a, 0xbc, 0x98, 0x04, 0xf1, 0x74, 0x6c, 0x08,
    0xca, 0x18, 0x21, 0x7c, 0x32, 0x90, 0x5e, 0x46, 0x2e, 0x36, 0xce, 0x3b,
    0xe3, 0x9e, 0x77, 0x2c, 0x18, 0x0e, 0x86, 0x03, 0x9b, 0x27, 0x83, 0xa2,
    0xec, 0x07, 0xa2, 0x8f, 0xb5, 0xc5, 0x5d, 0xf0, 0x6f, 0x4c, 0x52, 0xc9,
    0xde, 0x2b, 0xcb, 0xf6, 0x95, 0x58, 0x17, 0x18, 0x39, 0x95, 0x49, 0x7c,
    0xea, 0x95, 0x6a, 0xe5, 0x15, 0xd2, 0x26, 0x18, 0x98, 0xfa, 0x05, 0x10,
    0x15, 0x72, 0x8e, 0x5a, 0x8a, 0xac, 0xaa, 0x68, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff,
};
static const uint8_t MODP14_Q[256] = {
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xe4, 0x87, 0xed, 0x51,
    0x10, 0xb4, 0x61, 0x1a, 0x62, 0x63, 0x31, 0x45, 0xc0, 0x6e, 0x0e, 0x68,
    0x94, 0x81, 0x27, 0x04, 0x45, 0x33, 0xe6, 0x3a, 0x01, 0x05, 0xdf, 0x53,
    0x1d, 0x89, 0xcd, 0x91, 0x28, 0xa5, 0x04, 0x3c, 0xc7, 0x1a, 0x02, 0x6e,
    0xf7, 0xca, 0x8c, 0xd9, 0xe6, 0x9d, 0x21, 0x8d, 0x98, 0x15, 0x85, 0x36,
    0xf9, 0x2f, 0x8a, 0x1b, 0xa7, 0xf0, 0x9a, 0xb6, 0xb6, 0xa8, 0xe1, 0x22,
    0xf2, 0x42, 0xda, 0xbb, 0x31, 0x2f, 0x3f, 0x63, 0x7a, 0x26, 0x21, 0x74,
    0xd3, 0x1b, 0xf6, 0xb5, 0x85, 0xff, 0xae, 0x5b, 0x7a, 0x03, 0x5b, 0xf6,
    0xf7, 0x1c, 0x35, 0xfd, 0xad, 0x44, 0xcf, 0xd2, 0xd7, 0x4f, 0x92, 0x08,
    0xbe, 0x25, 0x8f, 0xf3, 0x24, 0x94, 0x33, 0x28, 0xf6, 0x72, 0x2d, 0x9e,
    0xe1, 0x00, 0x3e, 0x5c, 0x50, 0xb1, 0xdf, 0x82, 0xcc, 0x6d, 0x24, 0x1b,
    0x0e, 0x2a, 0xe9, 0xcd, 0x34, 0x8b, 0x1f, 0xd4, 0x7e, 0x92, 0x67, 0xaf,
    0xc1, 0xb2, 0xae, 0x91, 0xee, 0x51, 0xd6, 0xcb, 0x0e, 0x31, 0x79, 0xab,
    0x10, 0x42, 0xa9, 0x5d, 0xcf, 0x6a, 0x94, 0x83, 0xb8, 0x4b, 0x4b, 0x36,
    0xb3, 0x86, 0x1a, 0xa7, 0x25, 0x5e, 0x4c, 0x02, 0x78, 0xba, 0x36, 0x04,
    0x65, 0x0c, 0x10, 0xbe, 0x19, 0x48, 0x2f, 0x23, 0x17, 0x1b, 0x67, 0x1d,
    0xf1, 0xcf, 0x3b, 0x96, 0x0c, 0x07, 0x43, 0x01, 0xcd, 0x93, 0xc1, 0xd1,
    0x76, 0x03, 0xd1, 0x47, 0xda, 0xe2, 0xae, 0xf8, 0x37, 0xa6, 0x29, 0x64,
    0xef, 0x15, 0xe5, 0xfb, 0x4a, 0xac, 0x0b, 0x8c, 0x1c, 0xca, 0xa4, 0xbe,
    0x75, 0x4a, 0xb5, 0x72, 0x8a, 0xe9, 0x13, 0x0c, 0x4c, 0x7d, 0x02, 0x88,
    0x0a, 0xb9, 0x47, 0x2d, 0x45, 0x56, 0x55, 0x34, 0x7f, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff,
};

static const uint8_t GENERATOR_2[1] = {0x02};

static const negoex_dh_params GROUP_MODP2 = {MODP2_P, sizeof MODP2_P, GENERATOR_2, 1, MODP2_Q, sizeof MODP2_Q};
static const negoex_dh_params GROUP_MODP14 = {MODP14_P, sizeof MODP14_P, GENERATOR_2, 1, MODP14_Q, sizeof MODP14_Q};

struct negoex_dh_key {
    EVP_PKEY *pkey;
    BIGNUM *p, *g, *q; /* q may be NULL */
    size_t p_len;
};

const negoex_dh_params *negoex_dh_group(int id)
{
    switch (id) {
    case NEGOEX_DH_GROUP_MODP2:
        return &GROUP_MODP2;
    case NEGOEX_DH_GROUP_MODP14:
        return &GROUP_MODP14;
    default:
        return NULL;
    }
}

/* Skips leading zero bytes. */
static void strip(const uint8_t **p, size_t *len)
{
    while (*len > 0 && **p == 0) {
        (*p)++;
        (*len)--;
    }
}

static int same_integer(const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len)
{
    strip(&a, &a_len);
    strip(&b, &b_len);
    return a_len == b_len && (a_len == 0 || memcmp(a, b, a_len) == 0);
}

static int params_shape_ok(const negoex_dh_params *params)
{
    return params != NULL && params->p != NULL && params->p_len != 0 && params->g != NULL && params->g_len != 0 &&
           (params->q != NULL || params->q_len == 0);
}

int negoex_dh_group_identify(const negoex_dh_params *params)
{
    if (!params_shape_ok(params))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    static const int ids[] = {NEGOEX_DH_GROUP_MODP2, NEGOEX_DH_GROUP_MODP14};
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        const negoex_dh_params *g = negoex_dh_group(ids[i]);
        if (same_integer(params->p, params->p_len, g->p, g->p_len) &&
            same_integer(params->g, params->g_len, g->g, g->g_len) &&
            (params->q_len == 0 || same_integer(params->q, params->q_len, g->q, g->q_len)))
            return ids[i];
    }
    return NEGOEX_ERR_DH_GROUP;
}

/* p, g, q as BIGNUMs after the size and range checks on the parameters. */
typedef struct bn_params {
    BIGNUM *p, *g, *q;
    size_t p_len;
} bn_params;

static void bn_params_free(bn_params *b)
{
    BN_free(b->p);
    BN_free(b->g);
    BN_free(b->q);
    memset(b, 0, sizeof *b);
}

static int bn_params_load(const negoex_dh_params *params, bn_params *b)
{
    memset(b, 0, sizeof *b);
    if (!params_shape_ok(params))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const uint8_t *p = params->p;
    size_t p_len = params->p_len;
    strip(&p, &p_len);
    if (p_len < NEGOEX_DH_MIN_P_LEN || p_len > NEGOEX_DH_MAX_P_LEN || (p[p_len - 1] & 1) == 0)
        return NEGOEX_ERR_DH_GROUP;
    if (params->g_len > NEGOEX_DH_MAX_P_LEN || params->q_len > NEGOEX_DH_MAX_P_LEN)
        return NEGOEX_ERR_DH_GROUP;
    b->p = BN_bin2bn(p, (int)p_len, NULL);
    b->g = BN_bin2bn(params->g, (int)params->g_len, NULL);
    if (params->q_len != 0)
        b->q = BN_bin2bn(params->q, (int)params->q_len, NULL);
    BIGNUM *pm1 = BN_new();
    int rc = 0;
    if (b->p == NULL || b->g == NULL || (params->q_len != 0 && b->q == NULL) || pm1 == NULL ||
        BN_copy(pm1, b->p) == NULL || BN_sub_word(pm1, 1) != 1)
        rc = NEGOEX_ERR_NO_MEMORY;
    /* 1 < g < p-1; 1 < q < p */
    else if (BN_cmp(b->g, BN_value_one()) <= 0 || BN_cmp(b->g, pm1) >= 0)
        rc = NEGOEX_ERR_DH_GROUP;
    else if (b->q != NULL && (BN_cmp(b->q, BN_value_one()) <= 0 || BN_cmp(b->q, b->p) >= 0))
        rc = NEGOEX_ERR_DH_GROUP;
    BN_free(pm1);
    if (rc != 0) {
        bn_params_free(b);
        return rc;
    }
    b->p_len = p_len;
    return 0;
}

/*
 * EVP_PKEY of type DH from p, g (and q when with_q) and optionally pub /
 * priv. Keys for generation and exchange are built without q: OpenSSL 3.0
 * generates a private value with q only for FIPS 186 sized (L, N) pairs and
 * refuses Oakley group 2's N = 1023, while without q it draws a private value
 * of len(p) - 1 bits (or, for a group it knows by p and g such as RFC 3526
 * group 14, fills in q itself). q serves the public-value check.
 */
static int make_pkey(const bn_params *b, int with_q, const BIGNUM *pub, const BIGNUM *priv, EVP_PKEY **out)
{
    *out = NULL;
    int rc = NEGOEX_ERR_CRYPTO;
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bld == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_P, b->p) != 1 ||
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_G, b->g) != 1 ||
        (with_q && b->q != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_FFC_Q, b->q) != 1) ||
        (pub != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PUB_KEY, pub) != 1) ||
        (priv != NULL && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, priv) != 1))
        goto done;
    params = OSSL_PARAM_BLD_to_param(bld);
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "DH", NULL);
    if (params == NULL || ctx == NULL)
        goto done;
    int selection = priv != NULL  ? EVP_PKEY_KEYPAIR
                    : pub != NULL ? EVP_PKEY_PUBLIC_KEY
                                  : EVP_PKEY_KEY_PARAMETERS;
    if (EVP_PKEY_fromdata_init(ctx) == 1 && EVP_PKEY_fromdata(ctx, out, selection, params) == 1)
        rc = 0;
done:
    EVP_PKEY_CTX_free(ctx);
    /* With a private value (a BN_secure_new BIGNUM) the builder puts the
     * array in the secure heap, which OSSL_PARAM_free clears. */
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    return rc;
}

static int key_new(const negoex_dh_params *params, negoex_dh_key **out, bn_params *b)
{
    *out = NULL;
    int rc = bn_params_load(params, b);
    if (rc != 0)
        return rc;
    negoex_dh_key *k = OPENSSL_zalloc(sizeof *k);
    if (k == NULL) {
        bn_params_free(b);
        return NEGOEX_ERR_NO_MEMORY;
    }
    *out = k;
    return 0;
}

/* Moves the parameters into the key. */
static void key_take_params(negoex_dh_key *k, bn_params *b)
{
    k->p = b->p;
    k->g = b->g;
    k->q = b->q;
    k->p_len = b->p_len;
    memset(b, 0, sizeof *b);
}

int negoex_dh_generate(const negoex_dh_params *params, negoex_dh_key **out)
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    bn_params b;
    negoex_dh_key *k = NULL;
    int rc = key_new(params, &k, &b);
    if (rc != 0)
        return rc;
    EVP_PKEY *domain = NULL;
    EVP_PKEY_CTX *gctx = NULL;
    rc = make_pkey(&b, 0, NULL, NULL, &domain);
    if (rc == 0) {
        rc = NEGOEX_ERR_CRYPTO;
        gctx = EVP_PKEY_CTX_new_from_pkey(NULL, domain, NULL);
        if (gctx != NULL && EVP_PKEY_keygen_init(gctx) == 1 && EVP_PKEY_generate(gctx, &k->pkey) == 1)
            rc = 0;
    }
    EVP_PKEY_CTX_free(gctx);
    EVP_PKEY_free(domain);
    key_take_params(k, &b);
    if (rc != 0) {
        negoex_dh_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

int negoex_dh_from_private(const negoex_dh_params *params, const uint8_t *x, size_t x_len, negoex_dh_key **out)
{
    if (out == NULL || x == NULL || x_len == 0 || x_len > NEGOEX_DH_MAX_P_LEN)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    bn_params b;
    negoex_dh_key *k = NULL;
    int rc = key_new(params, &k, &b);
    if (rc != 0)
        return rc;
    BIGNUM *priv = BN_secure_new();
    BIGNUM *pub = BN_new();
    BN_CTX *bctx = BN_CTX_secure_new();
    BIGNUM *limit = b.q != NULL ? b.q : b.p;
    if (priv == NULL || pub == NULL || bctx == NULL || BN_bin2bn(x, (int)x_len, priv) == NULL)
        rc = NEGOEX_ERR_NO_MEMORY;
    else if (BN_is_zero(priv) || BN_cmp(priv, limit) >= 0)
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    else if (BN_mod_exp_mont_consttime(pub, b.g, priv, b.p, bctx, NULL) != 1)
        rc = NEGOEX_ERR_CRYPTO;
    else
        rc = make_pkey(&b, 0, pub, priv, &k->pkey);
    BN_clear_free(priv);
    BN_free(pub);
    BN_CTX_free(bctx);
    key_take_params(k, &b);
    if (rc != 0) {
        negoex_dh_free(k);
        return rc;
    }
    *out = k;
    return 0;
}

void negoex_dh_free(negoex_dh_key *key)
{
    if (key == NULL)
        return;
    EVP_PKEY_free(key->pkey); /* OpenSSL clears the private value */
    BN_free(key->p);
    BN_free(key->g);
    BN_free(key->q);
    OPENSSL_clear_free(key, sizeof *key);
}

size_t negoex_dh_prime_len(const negoex_dh_key *key)
{
    return key != NULL ? key->p_len : 0;
}

int negoex_dh_public(const negoex_dh_key *key, uint8_t *out, size_t out_cap, size_t *out_len)
{
    if (out_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    if (key == NULL || key->pkey == NULL || (out == NULL && out_cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    BIGNUM *pub = NULL;
    if (EVP_PKEY_get_bn_param(key->pkey, OSSL_PKEY_PARAM_PUB_KEY, &pub) != 1)
        return NEGOEX_ERR_CRYPTO;
    size_t n = (size_t)BN_num_bytes(pub);
    int rc = 0;
    if (n > out_cap) {
        *out_len = n;
        rc = NEGOEX_ERR_BUFFER_TOO_SMALL;
    } else if (BN_bn2bin(pub, out) != (int)n) {
        rc = NEGOEX_ERR_CRYPTO;
    } else {
        *out_len = n;
    }
    BN_free(pub);
    return rc;
}

/* 1 < y < p-1, then EVP_PKEY_public_check (which adds y^q = 1 with q). */
static int check_public_bn(const bn_params *b, const uint8_t *y, size_t y_len, BIGNUM **out_y)
{
    *out_y = NULL;
    if (y == NULL || y_len == 0 || y_len > NEGOEX_DH_MAX_P_LEN)
        return NEGOEX_ERR_DH_PUBLIC;
    BIGNUM *yb = BN_bin2bn(y, (int)y_len, NULL);
    BIGNUM *pm1 = BN_dup(b->p);
    int rc = 0;
    if (yb == NULL || pm1 == NULL || BN_sub_word(pm1, 1) != 1)
        rc = NEGOEX_ERR_NO_MEMORY;
    else if (BN_cmp(yb, BN_value_one()) <= 0 || BN_cmp(yb, pm1) >= 0)
        rc = NEGOEX_ERR_DH_PUBLIC;
    BN_free(pm1);
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *cctx = NULL;
    if (rc == 0)
        rc = make_pkey(b, 1, yb, NULL, &peer);
    if (rc == 0) {
        cctx = EVP_PKEY_CTX_new_from_pkey(NULL, peer, NULL);
        if (cctx == NULL)
            rc = NEGOEX_ERR_NO_MEMORY;
        else if (EVP_PKEY_public_check(cctx) != 1)
            rc = NEGOEX_ERR_DH_PUBLIC;
    }
    EVP_PKEY_CTX_free(cctx);
    EVP_PKEY_free(peer);
    if (rc != 0) {
        BN_free(yb);
        return rc;
    }
    *out_y = yb;
    return 0;
}

int negoex_dh_check_public(const negoex_dh_params *params, const uint8_t *y, size_t y_len)
{
    bn_params b;
    int rc = bn_params_load(params, &b);
    if (rc != 0)
        return rc;
    BIGNUM *yb = NULL;
    rc = check_public_bn(&b, y, y_len, &yb);
    BN_free(yb);
    bn_params_free(&b);
    return rc;
}

int negoex_dh_derive(const negoex_dh_key *key, const uint8_t *peer_y, size_t peer_y_len, uint8_t *zz, size_t zz_cap,
                     size_t *zz_len)
{
    if (zz_len == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *zz_len = 0;
    if (key == NULL || key->pkey == NULL || (zz == NULL && zz_cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (zz_cap < key->p_len) {
        *zz_len = key->p_len;
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }
    const bn_params b = {key->p, key->g, key->q, key->p_len};
    BIGNUM *yb = NULL;
    int rc = check_public_bn(&b, peer_y, peer_y_len, &yb);
    EVP_PKEY *peer = NULL;
    EVP_PKEY_CTX *dctx = NULL;
    if (rc == 0)
        rc = make_pkey(&b, 0, yb, NULL, &peer);
    BN_free(yb);
    if (rc == 0) {
        rc = NEGOEX_ERR_CRYPTO;
        int pad = 1;
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_int(OSSL_EXCHANGE_PARAM_PAD, &pad),
            OSSL_PARAM_construct_end(),
        };
        size_t n = key->p_len;
        dctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
        /* validate = 0: check_public_bn ran the same public check. */
        if (dctx != NULL && EVP_PKEY_derive_init(dctx) == 1 && EVP_PKEY_CTX_set_params(dctx, params) == 1 &&
            EVP_PKEY_derive_set_peer_ex(dctx, peer, 0) == 1 && EVP_PKEY_derive(dctx, zz, &n) == 1 &&
            n == key->p_len)
            rc = 0;
    }
    EVP_PKEY_CTX_free(dctx);
    EVP_PKEY_free(peer);
    if (rc != 0) {
        OPENSSL_cleanse(zz, zz_cap);
        return rc;
    }
    *zz_len = key->p_len;
    return 0;
}
