/*
 * RFC 3961 keyed checksums for NEGOEX VERIFY (internal).
 *
 * Only the simplified-profile AES checksums of RFC 3962 are supported
 * (hmac-sha1-96-aes128/256): those are what NEGOEX peers use (PKU2U, MIT's
 * test mechanism). All crypto goes through OpenSSL 3 libcrypto.
 */
#ifndef NEGOEX_CHECKSUM_H
#define NEGOEX_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>

#include <negoex/negoex.h>

/* Largest checksum any RFC 3961 type produces (rsa-md5-des etc.); callers
 * size buffers with it so a future type cannot overflow them. */
#define NEGOEX_CKSUM_MAX 24

/* Checksum type for an enctype: 17 -> 15 (hmac-sha1-96-aes128),
 * 18 -> 16 (hmac-sha1-96-aes256); NEGOEX_ERR_UNSUPPORTED_CHECKSUM otherwise. */
int negoex_cksumtype_for_enctype(int32_t enctype);

/* 1 if the RFC 3961 checksum type is keyed, 0 if unkeyed (CRC32 = 1,
 * rsa-md4 = 2, rsa-md5 = 7, sha1 = 10 and 14), -1 if unknown. */
int negoex_cksumtype_is_keyed(int32_t cksumtype);

/* Output length for a supported type (12 for 15/16), 0 if unsupported. */
size_t negoex_cksumtype_length(int32_t cksumtype);

/*
 * Keyed checksum of data with the base key (enctype 17: 16 bytes, 18: 32
 * bytes) and key usage. out must hold NEGOEX_CKSUM_MAX bytes; *cksumtype and
 * *out_len receive the type and length. Returns 0 or a negative negoex_error
 * (NEGOEX_ERR_KEY_SIZE, NEGOEX_ERR_UNSUPPORTED_CHECKSUM, NEGOEX_ERR_CRYPTO,
 * NEGOEX_ERR_INVALID_ARGUMENT). On failure out is zeroed.
 */
int negoex_checksum_make(int32_t enctype, const uint8_t *key, size_t key_len, int32_t usage,
                         const uint8_t *data, size_t data_len, int32_t *cksumtype, uint8_t *out,
                         size_t *out_len);

/*
 * Verifies a received checksum of type cksumtype. Unkeyed type ->
 * NEGOEX_ERR_UNKEYED_CHECKSUM; unknown, unsupported or not the key's enctype ->
 * NEGOEX_ERR_UNSUPPORTED_CHECKSUM; key of the wrong size -> NEGOEX_ERR_KEY_SIZE;
 * wrong length or different value -> NEGOEX_ERR_CHECKSUM_MISMATCH (compared in
 * constant time). Returns 0 when it matches.
 */
int negoex_checksum_verify(int32_t cksumtype, int32_t enctype, const uint8_t *key, size_t key_len,
                           int32_t usage, const uint8_t *data, size_t data_len, const uint8_t *cksum,
                           size_t cksum_len);

#endif
