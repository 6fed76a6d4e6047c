/*
 * libnegoex: the `nxtoy` auth scheme, wire-compatible with the small MIT
 * NEGOEX module used for scenarios 30-34 of ../shared/vectors/mit/scenarios.
 *
 * AuthScheme: the 16 bytes "nxtoy-scheme-001". Metadata:
 * "toy-meta-from-initiator" / "toy-meta-from-acceptor" (or none). One round
 * trip: AP_REQUEST "NXTOY-I" + 16-byte nonce ni, CHALLENGE "NXTOY-A" + 16-byte
 * nonce na (raw, no RFC 2743 framing). Both sides then hold the aes256 key
 * ni || na, used for both VERIFY directions (usage 25 / 23) and for the
 * SPNEGO mechListMIC: RFC 3961 checksum type 16 with key usage 0x4e58 ("NX").
 * It is the MIC-capable scheme of the test suite and the demo.
 */
#ifndef NEGOEX_SCHEME_NXTOY_H
#define NEGOEX_SCHEME_NXTOY_H

#include <negoex/scheme.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEGOEX_NXTOY_MIC_USAGE 0x4e58

typedef struct negoex_nxtoy_config {
    int no_meta_data;   /* NXTOY_NO_META: send no metadata */
    int no_integ;       /* NXTOY_NO_INTEG: no MIC methods */
    int force_mic;      /* NXTOY_FORCE_MIC: ask SPNEGO for a mechListMIC */
    /* Nonce source; NULL = OpenSSL RAND_bytes. Returns 0 on success. */
    int (*rng)(void *ud, uint8_t *out, size_t len);
    void *rng_ud;
} negoex_nxtoy_config;

NEGOEX_API void negoex_nxtoy_config_init(negoex_nxtoy_config *cfg);

/* Creates a scheme (a context can own it). alloc NULL = malloc/free. */
NEGOEX_API NEGOEX_WUR int negoex_nxtoy_scheme_new(negoex_scheme **out, const negoex_nxtoy_config *cfg,
                                                  const negoex_allocator *alloc);

#ifdef __cplusplus
}
#endif
#endif
