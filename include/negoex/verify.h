/*
 * libnegoex: checking a NEGOEX VERIFY message outside a context, for
 * diagnostics (`negoex verify-check`, the interop log checker): which key,
 * key usage and transcript a captured VERIFY was made with.
 *
 * The checksum is the one a context checks (RFC 3961 keyed checksum of the
 * transcript bytes, MS-NEGOEX 2.2.5.2.3 / ../shared/docs/negoex-wire.md),
 * computed the same way; no state, no allocation.
 */
#ifndef NEGOEX_VERIFY_H
#define NEGOEX_VERIFY_H

#include <negoex/negoex.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The enctype a VERIFY's checksum type belongs to (15 -> 17, 16 -> 18), or
 * NEGOEX_ERR_UNKEYED_CHECKSUM / NEGOEX_ERR_UNSUPPORTED_CHECKSUM. */
NEGOEX_API int negoex_verify_enctype(uint32_t checksum_type);

/*
 * Whether verify (a parsed VERIFY message) carries the checksum of data
 * under key (enctype 0: the one of its checksum type) and usage.
 * Returns 0 when it does; NEGOEX_ERR_CHECKSUM_MISMATCH when not;
 * NEGOEX_ERR_INVALID_ARGUMENT (not a VERIFY, NULL arguments),
 * NEGOEX_ERR_CHECKSUM_SCHEME (not RFC 3961), NEGOEX_ERR_UNKEYED_CHECKSUM,
 * NEGOEX_ERR_UNSUPPORTED_CHECKSUM (unknown type, or not the enctype's),
 * NEGOEX_ERR_KEY_SIZE, NEGOEX_ERR_CRYPTO. Compared in constant time.
 */
NEGOEX_API NEGOEX_WUR int negoex_verify_check(const negoex_message *verify, int32_t enctype, const uint8_t *key,
                                              size_t key_len, int32_t usage, const uint8_t *data, size_t len);

#ifdef __cplusplus
}
#endif
#endif
