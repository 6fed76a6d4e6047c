/*
 * libnegoex: the `test` auth scheme, wire-compatible with MIT krb5's NEGOEX
 * test mechanism (negoextest), so that MIT can be a live peer.
 *
 * AuthScheme = the mechanism OID's DER content octets zero-padded to 16 bytes.
 * Metadata: the byte 'X' each way. Tokens: the initiator's are RFC 2743
 * framed (60 len 06 len <oid> <count>), the acceptor's are the single count
 * byte; a failing acceptor sends "fail". Keys: aes256-cts-hmac-sha1-96, all
 * zero except byte 0 = (asking for the verify key) XOR (initiator).
 */
#ifndef NEGOEX_SCHEME_TEST_H
#define NEGOEX_SCHEME_TEST_H

#include <negoex/scheme.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum negoex_test_key_mode {
    NEGOEX_TEST_KEY_ESTABLISHED = 0, /* keys once this side's scheme is complete */
    NEGOEX_TEST_KEY_ALWAYS,          /* both sides, from the start */
    NEGOEX_TEST_KEY_INIT_ALWAYS,     /* initiator from the start, acceptor once complete */
    NEGOEX_TEST_KEY_ACCEPT_ALWAYS,   /* acceptor from the start, initiator once complete */
    NEGOEX_TEST_KEY_NEVER
} negoex_test_key_mode;

/* "established", "always", "init-always", "accept-always", "never"; -1 if unknown. */
NEGOEX_API int negoex_test_key_mode_parse(const char *text);

typedef struct negoex_test_scheme_config {
    const char *mech_oid;       /* dotted text, e.g. "2.25.1414534758" */
    unsigned hops;              /* initiator's starting count (>= 1); default 1 */
    negoex_test_key_mode keys;
    int no_meta_data;           /* send no metadata (MIT's *_QUERY_NONE) */
    int fail_query;             /* query_meta_data fails (scheme dropped) */
    int fail_exchange;          /* exchange_meta_data fails (scheme dropped) */
    int fail_step;              /* step fails (acceptor: sends "fail") */
} negoex_test_scheme_config;

NEGOEX_API void negoex_test_scheme_config_init(negoex_test_scheme_config *cfg);

/* The two mechanisms of MIT's test suite. */
#define NEGOEX_TEST_MECH1_OID "2.25.1414534758"
#define NEGOEX_TEST_MECH2_OID "2.25.1175737388"

/* Creates a scheme (destroy through its class, or let a context own it).
 * alloc NULL = malloc/free. NEGOEX_ERR_INVALID_ARGUMENT for a bad OID. */
NEGOEX_API NEGOEX_WUR int negoex_test_scheme_new(negoex_scheme **out, const negoex_test_scheme_config *cfg,
                                                 const negoex_allocator *alloc);

/* DER content octets of a dotted OID (no tag, no length); *len receives the
 * size. Returns 0, NEGOEX_ERR_INVALID_ARGUMENT or NEGOEX_ERR_BUFFER_TOO_SMALL. */
NEGOEX_API NEGOEX_WUR int negoex_oid_encode(const char *dotted, uint8_t *out, size_t cap, size_t *len);

#ifdef __cplusplus
}
#endif
#endif
