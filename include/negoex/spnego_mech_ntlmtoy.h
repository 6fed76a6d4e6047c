/*
 * libnegoex: `ntlmtoy`, an NTLM-shaped test application mechanism for the
 * SPNEGO context (negoex/spnego_mech.h): the mechanism a Windows client falls
 * back to, without NTLM's crypto. A public test helper like scheme_test.h.
 *
 * Three legs, raw tokens (no RFC 2743 framing), each starting with the 7
 * bytes "NTLMTOY" and a type byte:
 *   NEGOTIATE    initiator -> acceptor  "NTLMTOY" 01
 *   CHALLENGE    acceptor -> initiator  "NTLMTOY" 02 || server nonce (16)
 *   AUTHENTICATE initiator -> acceptor  "NTLMTOY" 03 || client nonce (16) ||
 *                                       user length (u16 big-endian) || user ||
 *                                       proof (32)
 * proof = HMAC-SHA-256(secret, "ntlmtoy proof" || server nonce || client nonce
 *         || user length || user). The acceptor checks it (CRYPTO_memcmp); a
 * wrong secret fails with NEGOEX_ERR_SPNEGO_MECH_AUTH. Both sides are then
 * established: the initiator once it sends AUTHENTICATE, the acceptor once it
 * has checked it.
 * Keys: base = HMAC-SHA-256(secret, "ntlmtoy session" || server nonce ||
 * client nonce || user); one key per direction, HMAC-SHA-256(base,
 * "ntlmtoy i2a") and HMAC-SHA-256(base, "ntlmtoy a2i"), so a MIC cannot be
 * reflected. MIC = HMAC-SHA-256(the sender's direction key, message), first 16
 * bytes. Secrets are wiped (OPENSSL_cleanse) when a state goes.
 */
#ifndef NEGOEX_SPNEGO_MECH_NTLMTOY_H
#define NEGOEX_SPNEGO_MECH_NTLMTOY_H

#include <negoex/spnego_mech.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The OID the tests use by default: NTLM's (any OID can be configured). */
#define NEGOEX_NTLMTOY_DEFAULT_OID_TEXT NEGOEX_SPNEGO_NTLM_OID_TEXT
#define NEGOEX_NTLMTOY_MIC_LEN 16u
#define NEGOEX_NTLMTOY_NONCE_LEN 16u
#define NEGOEX_NTLMTOY_USER_MAX 256u
#define NEGOEX_NTLMTOY_SECRET_MAX 256u

typedef struct negoex_ntlmtoy_config {
    const char *user;          /* initiator: the user it authenticates as (required, <= 256 bytes) */
    const uint8_t *secret;     /* the shared secret, both sides (required, 1..256 bytes; copied) */
    size_t secret_len;
    const char *expected_user; /* acceptor: the only user it accepts; NULL = any */
    const negoex_allocator *allocator; /* NULL = malloc/free */
    negoex_rng_fn rng;         /* nonces; NULL = OpenSSL RAND_bytes */
    void *rng_ud;
    /* Acceptor: a proven user other than expected_user fails with
     * NEGOEX_ERR_SPNEGO_MECH_RETRY (non-fatal: Late Fallback may retry with
     * another mechanism, as for an account this mechanism does not know)
     * instead of NEGOEX_ERR_SPNEGO_MECH_AUTH. A wrong proof stays MECH_AUTH. */
    int unknown_user_retry;
} negoex_ntlmtoy_config;

NEGOEX_API void negoex_ntlmtoy_config_init(negoex_ntlmtoy_config *cfg);

/* The ops; the app mech's user_data is a negoex_ntlmtoy_config (read when a
 * state is created: it must outlive the SPNEGO context). */
NEGOEX_API const negoex_spnego_mech_ops *negoex_ntlmtoy_mech(void);

/* The user an established acceptor state authenticated (the initiator's
 * own on the initiator), NUL-terminated; NULL if none yet or state is not
 * an ntlmtoy state. */
NEGOEX_API const char *negoex_ntlmtoy_user(const void *state);

#ifdef __cplusplus
}
#endif
#endif
