/* Shared helpers for the unit tests: loading vectors from ../shared/vectors,
 * tracked memory, a counting allocator that can fail on demand, token
 * inspection and a driver that runs two sides against each other. */
#ifndef NEGOEX_TESTUTIL_H
#define NEGOEX_TESTUTIL_H
#include <stddef.h>
#include <stdint.h>

#include <negoex/negoex.h>
#include <negoex/scheme.h>

/* Reads NEGOEX_VECTORS/relpath into a malloc'd buffer; fails the test if missing. */
uint8_t *tu_load(const char *relpath, size_t *len);
/* Parses hex (whitespace ignored) into a malloc'd buffer. */
uint8_t *tu_unhex(const char *hex, size_t *len);
/* Full path of a vector file (static buffer). */
const char *tu_path(const char *relpath);

/* Tracked memory: tu_release_all (a cmocka teardown) frees whatever is left. */
struct negoex_context;
void tu_track(void *p);
void tu_untrack(void *p);
void *tu_malloc(size_t n);
void *tu_realloc(void *p, size_t n);
void tu_free(void *p);
uint8_t *tu_load_tracked(const char *relpath, size_t *len);
void tu_ctx_track(struct negoex_context *c);
void tu_ctx_free(struct negoex_context *c);
int tu_release_all(void **state);

/* A counting allocator (for negoex_config.allocator and schemes' alloc):
 * counts alloc + realloc calls and live blocks, and fails the fail_at-th
 * call (1-based; 0 = never). Not thread-safe. */
typedef struct tu_alloc {
    negoex_allocator a;    /* pass &t->a; its ud is t */
    unsigned long calls;   /* alloc and realloc calls so far */
    unsigned long fail_at; /* may be changed between calls (0 stops failing) */
    unsigned long failed;  /* failures injected so far */
    unsigned long allocs;  /* blocks handed out (alloc, realloc of NULL) */
    unsigned long frees;   /* blocks freed */
    long live;             /* blocks handed out and not freed */
} tu_alloc;
void tu_alloc_init(tu_alloc *t, unsigned long fail_at);

/* A test PKI (negoex/testpki.h) with the smallest keys, for tests that run
 * many PKU2U handshakes, and a new stack holding its CA (the trust
 * anchors). tu_fast_pki_free frees both. */
struct negoex_testpki;
struct stack_st_X509;
struct negoex_testpki *tu_fast_pki(struct stack_st_X509 **anchors);
void tu_fast_pki_free(struct negoex_testpki *pki, struct stack_st_X509 *anchors);

/* A tracked copy of n bytes (tu_free it; never NULL). */
uint8_t *tu_dup(const uint8_t *p, size_t n);

/* One negoex_context_step; *out gets a tracked copy of the output (NULL
 * when none). Checks the transcript rule: after a successful step it is the
 * previous one plus in and out, after a failed one unchanged. */
int tu_step_checked(struct negoex_context *ctx, const uint8_t *in, size_t in_len, uint8_t **out,
                    size_t *out_len);

/* Messages of a NEGOEX token: how many (the token must validate), the
 * idx-th (must exist), and how many of one type. */
size_t tu_msg_count(const uint8_t *tok, size_t len);
negoex_message tu_msg_at(const uint8_t *tok, size_t len, size_t idx);
size_t tu_msg_count_type(const uint8_t *tok, size_t len, uint32_t type);

/* One step of a side (a negoex_context, a negoex_spnego, ...): the
 * signature of negoex_context_step / negoex_spnego_step. */
typedef int (*tu_step_fn)(void *side, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len);
int tu_context_step(void *ctx, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len);

/* Called when a step failed; returns 1 to run the same step again with the
 * same input (e.g. after turning allocation failures off). */
typedef int (*tu_retry_fn)(void *ud, int rc);

typedef struct tu_run {
    int rc[2];     /* last result of the initiator [0] and the acceptor [1] */
    int failed;    /* the side whose step failed first (0, 1), -1 none */
    int fail_rc;   /* its result */
    int peer_rc;   /* the peer's answer to the failing side's error token, 0 none */
    int error_token; /* the failing side had a token to send */
    int legs;      /* tokens sent */
    int retries;   /* steps run again (tu_retry_fn) */
    int complete;  /* both sides returned NEGOEX_COMPLETE */
} tu_run;

/*
 * Runs initiator and acceptor against each other: the initiator's first
 * step gets no input, then each token goes to the other side until one
 * has nothing to send, max_legs tokens were sent, or a step fails. A
 * failing side's token (an error token) is handed to the peer once and
 * its answer kept in peer_rc. retry may be NULL.
 */
tu_run tu_converse(tu_step_fn step, void *initiator, void *acceptor, int max_legs, tu_retry_fn retry,
                   void *retry_ud);

/* A v3 certificate for key, subject rdns ({type, value, ..., NULL} in wire
 * order), signed by issuer_key (self-signed when issuer is NULL), valid from
 * an hour ago for lifetime seconds, serial *serial (then incremented), with
 * the extensions of exts ({0, NULL}-terminated; NULL for none); SHA-256, or
 * no digest for an Ed25519 signer. Asserts on every failure. */
typedef struct tu_ext {
    int nid;
    const char *value;
} tu_ext;
struct x509_st;
struct evp_pkey_st;
struct x509_st *tu_make_cert(const char *const *rdns, struct evp_pkey_st *key, struct x509_st *issuer,
                             struct evp_pkey_st *issuer_key, const tu_ext *exts, long lifetime, long *serial);

/* A SPNEGO conversation between two of our contexts, token by token. */
#define TU_MAX_TOKENS 16
#define TU_MAX_TOKEN_LEN 8192
typedef struct tu_token {
    int from_initiator;
    size_t len;
    uint8_t data[TU_MAX_TOKEN_LEN];
} tu_token;

typedef struct tu_conversation {
    size_t count;
    tu_token tokens[TU_MAX_TOKENS];
    int init_rc, acc_rc;
} tu_conversation;
struct negoex_spnego;
/* Runs I and A against each other until one has nothing to send. A side
 * that failed sends its last token; the peer's answer to it is recorded but
 * not delivered. */
void tu_spnego_converse(struct negoex_spnego *I, struct negoex_spnego *A, tu_conversation *c);

#endif
