/*
 * libnegoex: the NEGOEX conversation (one role per context).
 *
 * Bytes in, bytes out: negoex_context_step() takes the peer's token (none for
 * the initiator's first call) and returns the token to send. A token that
 * fails any check is rejected as a whole and leaves the context as it was
 * (schemes without a clone method excepted: see scheme.h). No I/O.
 */
#ifndef NEGOEX_CONTEXT_H
#define NEGOEX_CONTEXT_H

#include <negoex/negoex.h>
#include <negoex/scheme.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum negoex_role {
    NEGOEX_ROLE_INITIATOR = 0,
    NEGOEX_ROLE_ACCEPTOR = 1
} negoex_role;

/* Step results besides negative errors. */
#define NEGOEX_CONTINUE 1  /* send the output (if any) and wait for the peer */
#define NEGOEX_COMPLETE 2  /* done: scheme complete and the peer's VERIFY checked */

/* Fills out with len random bytes; 0 on success. */
typedef int (*negoex_rng_fn)(void *ud, uint8_t *out, size_t len);
/* One line (no newline) per NEGOEX message sent or received. */
typedef void (*negoex_trace_fn)(void *ud, const char *line);

typedef struct negoex_config {
    uint32_t struct_size;                /* sizeof(negoex_config); set by negoex_config_init */
    const negoex_allocator *allocator;   /* NULL: malloc/realloc/free */
    negoex_rng_fn rng;                   /* NULL: OpenSSL RAND_bytes */
    void *rng_ud;
    negoex_trace_fn trace;               /* NULL: no trace */
    void *trace_ud;
    size_t max_token_size;               /* input and output token; default 1 MiB */
    size_t max_transcript_size;          /* all messages of the conversation; default 4 MiB */
    size_t max_schemes;                  /* local schemes; default 16, at most 255 */
    int optimistic;                      /* initiator sends an optimistic token; default 1 */
} negoex_config;

NEGOEX_API void negoex_config_init(negoex_config *cfg);

typedef struct negoex_context negoex_context;

NEGOEX_API NEGOEX_WUR int negoex_context_new(negoex_context **out, negoex_role role, const negoex_config *cfg);
/* Frees the context, its schemes and every secret it holds (wiped first). */
NEGOEX_API void negoex_context_free(negoex_context *ctx);

/* Adds a scheme in preference order (first added = most preferred). On
 * success the context owns it and destroys it; on failure the caller does. */
NEGOEX_API NEGOEX_WUR int negoex_context_add_scheme(negoex_context *ctx, negoex_scheme *scheme);

/*
 * One step of the conversation. in/in_len: the peer's NEGOEX token (NULL/0
 * for the initiator's first call). *out and *out_len: the token to send, owned by
 * the context and valid until the next call (*out_len 0 = nothing to send).
 * Returns NEGOEX_CONTINUE, NEGOEX_COMPLETE or a negative error. On
 * NEGOEX_ERR_SCHEME_FAILED *out may hold the scheme's error token for the peer.
 */
NEGOEX_API NEGOEX_WUR int negoex_context_step(negoex_context *ctx, const uint8_t *in, size_t in_len,
                                              const uint8_t **out, size_t *out_len);

/* Where the last rejected token failed (rule, offset in that token, field). */
NEGOEX_API void negoex_context_last_error(const negoex_context *ctx, negoex_error_info *err);

NEGOEX_API negoex_role negoex_context_role(const negoex_context *ctx);
/* The negotiated scheme (its state, for the caller that created it), or NULL. */
NEGOEX_API negoex_scheme *negoex_context_selected_scheme(const negoex_context *ctx);
/* 0 and the id once known (initiator: after its first step). */
NEGOEX_API NEGOEX_WUR int negoex_context_conversation_id(const negoex_context *ctx, negoex_guid *out);
NEGOEX_API int negoex_context_peer_verified(const negoex_context *ctx);
NEGOEX_API int negoex_context_is_complete(const negoex_context *ctx);
/* The transcript (every message sent or received, wire order). */
NEGOEX_API negoex_bytes negoex_context_transcript(const negoex_context *ctx);
/* Bytes of heap the context holds now (for benchmarks and limits). */
NEGOEX_API size_t negoex_context_heap_bytes(const negoex_context *ctx);

/* SPNEGO mechListMIC through the selected scheme, once complete
 * (NEGOEX_ERR_INVALID_ARGUMENT before; NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED if
 * the scheme has no MIC methods). mic is appended. */
NEGOEX_API NEGOEX_WUR int negoex_context_make_mic(negoex_context *ctx, const uint8_t *data, size_t len,
                                                  negoex_buf *mic);
NEGOEX_API NEGOEX_WUR int negoex_context_verify_mic(negoex_context *ctx, const uint8_t *data, size_t len,
                                                    const uint8_t *mic, size_t mic_len);
/* 1 if the selected scheme asks for a mechListMIC (scheme.h requires_mic). */
NEGOEX_API int negoex_context_requires_mic(const negoex_context *ctx);

#ifdef __cplusplus
}
#endif
#endif
