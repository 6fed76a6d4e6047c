/*
 * RFC 3961 simplified-profile checksums (RFC 3962 AES) through OpenSSL 3.
 *
 *   Kc   = DK(base key, usage BE32 || 0x99)      -- OpenSSL's KRB5KDF
 *   cksum = HMAC-SHA1(Kc, data)[0..11]
 *
 * KRB5KDF is RFC 3961's DK: n-fold the constant to the block size, iterate
 * AES-CBC encryption (zero IV) until there are key-length bytes, then
 * random-to-key (the identity for AES).
 *
 * Algorithms are fetched per call: it keeps the module free of global state
 * (no init/teardown, no locking), and a fetch is a method-store lookup that
 * costs far less than the transcript HMAC.
 */
#include "checksum.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#define HMAC_SHA1_LEN 20
#define HMAC_SHA1_96_LEN 12
#define KC_CONSTANT_LEN 5
#define KEY_USAGE_CHECKSUM 0x99 /* RFC 3961 5.3: Kc */

typedef struct cksum_profile {
    int32_t enctype;
    int32_t cksumtype;
    size_t key_len;
    const char *cipher; /* for KRB5KDF's DR */
} cksum_profile;

static const cksum_profile PROFILES[] = {
    {NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128, 16, "AES-128-CBC"},
    {NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256, 32, "AES-256-CBC"},
};

static const cksum_profile *profile_for_enctype(int32_t enctype)
{
    for (size_t i = 0; i < sizeof PROFILES / sizeof PROFILES[0]; i++)
        if (PROFILES[i].enctype == enctype)
            return &PROFILES[i];
    return NULL;
}

int negoex_cksumtype_for_enctype(int32_t enctype)
{
    const cksum_profile *p = profile_for_enctype(enctype);
    return p != NULL ? p->cksumtype : NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
}

int negoex_cksumtype_is_keyed(int32_t cksumtype)
{
    /* IANA Kerberos checksum type registry (RFC 3961 8, RFC 4757, RFC 6803,
     * RFC 8009). An unkeyed checksum proves nothing about the peer, so a
     * VERIFY must never be accepted with one. */
    switch (cksumtype) {
    case 1:  /* CRC32 */
    case 2:  /* rsa-md4 */
    case 7:  /* rsa-md5 */
    case 10: /* sha1 (unkeyed) */
    case 14: /* sha1 (unkeyed) */
        return 0;
    case 3:    /* rsa-md4-des */
    case 4:    /* des-mac */
    case 5:    /* des-mac-k */
    case 6:    /* rsa-md4-des-k */
    case 8:    /* rsa-md5-des */
    case 9:    /* rsa-md5-des3 */
    case 12:   /* hmac-sha1-des3-kd */
    case 13:   /* hmac-sha1-des3 */
    case 15:   /* hmac-sha1-96-aes128 */
    case 16:   /* hmac-sha1-96-aes256 */
    case 17:   /* cmac-camellia128 */
    case 18:   /* cmac-camellia256 */
    case 19:   /* hmac-sha256-128-aes128 */
    case 20:   /* hmac-sha384-192-aes256 */
    case -138: /* hmac-md5 (RC4) */
        return 1;
    default:
        return -1;
    }
}

size_t negoex_cksumtype_length(int32_t cksumtype)
{
    switch (cksumtype) {
    case NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128:
    case NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256:
        return HMAC_SHA1_96_LEN;
    default:
        return 0;
    }
}

/* Kc = DK(key, usage || 0x99); kc must hold p->key_len bytes. */
static int derive_kc(const cksum_profile *p, const uint8_t *key, int32_t usage, uint8_t *kc)
{
    uint8_t constant[KC_CONSTANT_LEN];
    uint32_t u = (uint32_t)usage;
    constant[0] = (uint8_t)(u >> 24);
    constant[1] = (uint8_t)(u >> 16);
    constant[2] = (uint8_t)(u >> 8);
    constant[3] = (uint8_t)u;
    constant[4] = KEY_USAGE_CHECKSUM;

    int rc = NEGOEX_ERR_CRYPTO;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_KRB5KDF, NULL);
    EVP_KDF_CTX *kctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (kctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_CIPHER, (char *)p->cipher, 0),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, p->key_len),
            OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_CONSTANT, constant, sizeof constant),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_KDF_derive(kctx, kc, p->key_len, params) == 1)
            rc = 0;
    }
    /* The context holds a copy of the base key. */
    EVP_KDF_CTX_free(kctx);
    EVP_KDF_free(kdf);
    if (rc != 0)
        OPENSSL_cleanse(kc, p->key_len);
    return rc;
}

static int hmac_sha1(const uint8_t *kc, size_t kc_len, const uint8_t *data, size_t data_len,
                     uint8_t out[HMAC_SHA1_LEN])
{
    int rc = NEGOEX_ERR_CRYPTO;
    size_t out_len = 0;
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *mctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    if (mctx != NULL) {
        OSSL_PARAM params[] = {
            OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA1", 0),
            OSSL_PARAM_construct_end(),
        };
        if (EVP_MAC_init(mctx, kc, kc_len, params) == 1 &&
            (data_len == 0 || EVP_MAC_update(mctx, data, data_len) == 1) &&
            EVP_MAC_final(mctx, out, &out_len, HMAC_SHA1_LEN) == 1 && out_len == HMAC_SHA1_LEN)
            rc = 0;
    }
    /* Frees the key schedule the context derived from Kc (OpenSSL cleanses it). */
    EVP_MAC_CTX_free(mctx);
    EVP_MAC_free(mac);
    return rc;
}

/* Checks the key and computes into out (HMAC_SHA1_96_LEN bytes). */
static int compute(const cksum_profile *p, const uint8_t *key, size_t key_len, int32_t usage,
                   const uint8_t *data, size_t data_len, uint8_t *out)
{
    if (key == NULL || (data == NULL && data_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (key_len != p->key_len)
        return NEGOEX_ERR_KEY_SIZE;

    uint8_t kc[32];
    uint8_t full[HMAC_SHA1_LEN];
    int rc = derive_kc(p, key, usage, kc);
    if (rc == 0)
        rc = hmac_sha1(kc, p->key_len, data, data_len, full);
    if (rc == 0)
        memcpy(out, full, HMAC_SHA1_96_LEN);
    OPENSSL_cleanse(kc, sizeof kc);
    OPENSSL_cleanse(full, sizeof full);
    return rc;
}

int negoex_checksum_make(int32_t enctype, const uint8_t *key, size_t key_len, int32_t usage,
                         const uint8_t *data, size_t data_len, int32_t *cksumtype, uint8_t *out,
                         size_t *out_len)
{
    if (out == NULL || out_len == NULL || cksumtype == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    const cksum_profile *p = profile_for_enctype(enctype);
    if (p == NULL)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    int rc = compute(p, key, key_len, usage, data, data_len, out);
    if (rc != 0) {
        OPENSSL_cleanse(out, HMAC_SHA1_96_LEN);
        return rc;
    }
    *cksumtype = p->cksumtype;
    *out_len = HMAC_SHA1_96_LEN;
    return 0;
}

int negoex_checksum_verify(int32_t cksumtype, int32_t enctype, const uint8_t *key, size_t key_len,
                           int32_t usage, const uint8_t *data, size_t data_len, const uint8_t *cksum,
                           size_t cksum_len)
{
    int keyed = negoex_cksumtype_is_keyed(cksumtype);
    if (keyed == 0)
        return NEGOEX_ERR_UNKEYED_CHECKSUM;
    const cksum_profile *p = profile_for_enctype(enctype);
    /* A keyed type of another enctype would need a key we do not have:
     * refuse rather than guess. */
    if (keyed < 0 || p == NULL || p->cksumtype != cksumtype)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    if (cksum == NULL && cksum_len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    uint8_t expect[HMAC_SHA1_96_LEN];
    int rc = compute(p, key, key_len, usage, data, data_len, expect);
    if (rc == 0 && (cksum_len != HMAC_SHA1_96_LEN || CRYPTO_memcmp(expect, cksum, HMAC_SHA1_96_LEN) != 0))
        rc = NEGOEX_ERR_CHECKSUM_MISMATCH;
    OPENSSL_cleanse(expect, sizeof expect);
    return rc;
}
