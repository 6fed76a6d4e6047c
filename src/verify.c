/*
 * negoex_verify_check: a VERIFY message against given bytes, key and usage,
 * through the context's own checksum code (checksum.c).
 */
#include <negoex/verify.h>

#include "checksum.h"

int negoex_verify_enctype(uint32_t checksum_type)
{
    if (checksum_type > INT32_MAX)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    int32_t t = (int32_t)checksum_type;
    if (negoex_cksumtype_is_keyed(t) == 0)
        return NEGOEX_ERR_UNKEYED_CHECKSUM;
    if (negoex_cksumtype_for_enctype(NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96) == t)
        return NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96;
    if (negoex_cksumtype_for_enctype(NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96) == t)
        return NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
}

int negoex_verify_check(const negoex_message *verify, int32_t enctype, const uint8_t *key, size_t key_len,
                        int32_t usage, const uint8_t *data, size_t len)
{
    if (verify == NULL || verify->type != NEGOEX_VERIFY || key == NULL || (data == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (verify->u.verify.checksum_scheme != NEGOEX_CHECKSUM_SCHEME_RFC3961)
        return NEGOEX_ERR_CHECKSUM_SCHEME;
    if (enctype == 0) {
        int e = negoex_verify_enctype(verify->u.verify.checksum_type);
        if (e < 0)
            return e;
        enctype = e;
    }
    if (verify->u.verify.checksum_type > INT32_MAX)
        return NEGOEX_ERR_UNSUPPORTED_CHECKSUM;
    return negoex_checksum_verify((int32_t)verify->u.verify.checksum_type, enctype, key, key_len, usage, data, len,
                                  verify->u.verify.checksum.data, verify->u.verify.checksum.len);
}
