/*
 * Finite-field Diffie-Hellman for PKINIT (RFC 4556 3.2.3.1, internal), through
 * OpenSSL 3 EVP with explicit domain parameters p, g and optionally q.
 *
 * Integers cross this API as unsigned big-endian bytes (leading zero bytes
 * allowed on input; the ASN.1 layer adds or strips the INTEGER sign byte).
 * The shared secret ZZ is always left-padded with zeros to the byte length of
 * p (RFC 4556: "DHSharedSecret ... padded on the left with zeros").
 */
#ifndef NEGOEX_PKU2U_DH_H
#define NEGOEX_PKU2U_DH_H

#include <stddef.h>
#include <stdint.h>

#include <negoex/negoex.h>

/* Accepted size of p: 1024 .. 8192 bits. */
#define NEGOEX_DH_MIN_P_LEN 128u
#define NEGOEX_DH_MAX_P_LEN 1024u

/* Groups we know by value. */
#define NEGOEX_DH_GROUP_MODP2 2   /* RFC 2409 Oakley group 2, 1024 bits: what Windows sends */
#define NEGOEX_DH_GROUP_MODP14 14 /* RFC 3526 group 14, 2048 bits */

/* Domain parameters as big-endian bytes; q may be NULL / 0 (then the peer's
 * value is only range-checked). */
typedef struct negoex_dh_params {
    const uint8_t *p;
    size_t p_len;
    const uint8_t *g;
    size_t g_len;
    const uint8_t *q;
    size_t q_len;
} negoex_dh_params;

/* Built-in group (with q = (p-1)/2), NULL for another id. */
const negoex_dh_params *negoex_dh_group(int id);

/* Which built-in group params are (leading zeros ignored; q must be absent or
 * equal to the group's): NEGOEX_DH_GROUP_MODP2 / _MODP14, or
 * NEGOEX_ERR_DH_GROUP. A peer's parameters should pass this before use. */
int negoex_dh_group_identify(const negoex_dh_params *params);

/* An ephemeral key pair (opaque; holds the private value). */
typedef struct negoex_dh_key negoex_dh_key;

/*
 * Generates a key pair in the group; OpenSSL draws x (len(p) - 1 random bits,
 * or its own exponent length for a group it knows, e.g. RFC 3526 group 14).
 * NEGOEX_ERR_DH_GROUP when p is outside 1024..8192 bits, even, or g is not
 * 1 < g < p-1; NEGOEX_ERR_CRYPTO / NEGOEX_ERR_NO_MEMORY otherwise.
 */
int negoex_dh_generate(const negoex_dh_params *params, negoex_dh_key **out);

/* A key pair from a given private value x (known-answer tests). */
int negoex_dh_from_private(const negoex_dh_params *params, const uint8_t *x, size_t x_len, negoex_dh_key **out);

/* Frees and wipes (safe on NULL). */
void negoex_dh_free(negoex_dh_key *key);

/* Byte length of p, the length of ZZ. */
size_t negoex_dh_prime_len(const negoex_dh_key *key);

/* Our public value y = g^x mod p, minimal unsigned big-endian (no leading
 * zero bytes); at most prime_len bytes. NEGOEX_ERR_BUFFER_TOO_SMALL sets
 * *out_len to the length needed. */
int negoex_dh_public(const negoex_dh_key *key, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Checks a peer's public value against params: 1 < y < p-1, and y^q mod p = 1
 * when q is given (EVP_PKEY_public_check). 0 or NEGOEX_ERR_DH_PUBLIC.
 */
int negoex_dh_check_public(const negoex_dh_params *params, const uint8_t *y, size_t y_len);

/*
 * ZZ = y_peer^x mod p, left-padded to prime_len bytes (OpenSSL's
 * OSSL_EXCHANGE_PARAM_PAD). The peer's value is checked first
 * (NEGOEX_ERR_DH_PUBLIC). zz_cap must be >= prime_len
 * (NEGOEX_ERR_BUFFER_TOO_SMALL sets *zz_len to prime_len).
 */
int negoex_dh_derive(const negoex_dh_key *key, const uint8_t *peer_y, size_t peer_y_len, uint8_t *zz, size_t zz_cap,
                     size_t *zz_len);

#endif
