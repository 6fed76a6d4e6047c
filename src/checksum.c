/*
 * RFC 3961 simplified-profile checksums (RFC 3962 AES) for NEGOEX VERIFY.
 *
 *   Kc   = DK(base key, usage BE32 || 0x99)      -- RFC 3961 DK over OpenSSL AES,
 *                                                  checked against OpenSSL's KRB5KDF
 *   cksum = HMAC-SHA1(Kc, data)[0..11]
 *
 * The computation is pku2u/krb_crypto.c's (shared with PKU2U's Kerberos
 * checksums); this file keeps the VERIFY-facing rules: which checksum types
 * are keyed, which type goes with which enctype, and the error codes VERIFY
 * reports.
 */
#include "checksum.h"

#include <string.h>

#include <openssl/crypto.h>

#include "pku2u/krb_crypto.h"

#define HMAC_SHA1_96_LEN NEGOEX_KRB_HMAC_LEN

int negoex_cksumtype_for_enctype(int32_t enctype)
{
    int32_t t = negoex_krb_enctype_cksumtype(enctype);
    return t > 0 ? t : NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
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

/* Checks the arguments and computes into out (HMAC_SHA1_96_LEN bytes) with
 * the one RFC 3961 checksum implementation (pku2u/krb_crypto.c). */
static int compute(int32_t enctype, const uint8_t *key, size_t key_len, int32_t usage, const uint8_t *data,
                   size_t data_len, uint8_t *out)
{
    if (key == NULL || (data == NULL && data_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_krb_key k;
    int rc = negoex_krb_key_init(&k, enctype, key, key_len); /* NEGOEX_ERR_KEY_SIZE */
    if (rc == 0) {
        const negoex_krb_chunk chunk = {data, data_len};
        rc = negoex_krb_checksum(&k, usage, &chunk, 1, out);
    }
    negoex_krb_key_clear(&k);
    return rc;
}

int negoex_checksum_make(int32_t enctype, const uint8_t *key, size_t key_len, int32_t usage,
                         const uint8_t *data, size_t data_len, int32_t *cksumtype, uint8_t *out,
                         size_t *out_len)
{
    if (out == NULL || out_len == NULL || cksumtype == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out_len = 0;
    int type = negoex_cksumtype_for_enctype(enctype);
    if (type < 0)
        return type;
    int rc = compute(enctype, key, key_len, usage, data, data_len, out);
    if (rc != 0) {
        OPENSSL_cleanse(out, HMAC_SHA1_96_LEN);
        return rc;
    }
    *cksumtype = type;
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
    /* A keyed type of another enctype would need a key we do not have:
     * refuse rather than guess. */
    if (keyed < 0 || negoex_cksumtype_for_enctype(enctype) != cksumtype)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    if (cksum == NULL && cksum_len != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    uint8_t expect[HMAC_SHA1_96_LEN];
    int rc = compute(enctype, key, key_len, usage, data, data_len, expect);
    if (rc == 0 && (cksum_len != HMAC_SHA1_96_LEN || CRYPTO_memcmp(expect, cksum, HMAC_SHA1_96_LEN) != 0))
        rc = NEGOEX_ERR_CHECKSUM_MISMATCH;
    OPENSSL_cleanse(expect, sizeof expect);
    return rc;
}
