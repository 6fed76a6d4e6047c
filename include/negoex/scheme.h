/*
 * libnegoex: the auth-scheme interface.
 *
 * A NEGOEX auth scheme (PKU2U, the MIT-compatible test scheme, ...) is an
 * object whose first member is `negoex_scheme`, which points at its class (a
 * versioned vtable) and names its 16-byte AuthScheme GUID. The context calls
 * the methods below in protocol order and never names a particular scheme.
 */
#ifndef NEGOEX_SCHEME_H
#define NEGOEX_SCHEME_H

#include <negoex/negoex.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEGOEX_SCHEME_API_VERSION 1u

/* Pluggable allocator (all three set, or pass NULL for malloc/realloc/free). */
typedef struct negoex_allocator {
    void *(*alloc)(size_t size, void *ud);
    void *(*realloc)(void *ptr, size_t size, void *ud);
    void (*free)(void *ptr, void *ud);
    void *ud;
} negoex_allocator;

/* Growable output buffer owned by the context; schemes only append to it.
 * The context wipes it before releasing the memory. */
typedef struct negoex_buf {
    uint8_t *data;
    size_t len;
    size_t cap;
    const negoex_allocator *alloc;
} negoex_buf;

/* alloc NULL = malloc/realloc/free. */
NEGOEX_API void negoex_buf_init(negoex_buf *buf, const negoex_allocator *alloc);
NEGOEX_API NEGOEX_WUR int negoex_buf_append(negoex_buf *buf, const void *data, size_t len);
/* Wipes (OPENSSL_cleanse) and frees the contents; the buffer is empty again. */
NEGOEX_API void negoex_buf_free(negoex_buf *buf);

/* A key for VERIFY checksums (RFC 3961 enctype + raw key bytes). */
#define NEGOEX_KEY_MAX 64
typedef struct negoex_key {
    int32_t enctype;
    size_t len;
    uint8_t bytes[NEGOEX_KEY_MAX];
} negoex_key;

typedef enum negoex_key_use {
    NEGOEX_KEY_SIGN = 0,   /* own key: signs the VERIFY we send */
    NEGOEX_KEY_VERIFY = 1  /* the peer's key: checks the VERIFY we receive */
} negoex_key_use;

/* Positive answers a method may give besides 0 and negative errors. */
#define NEGOEX_SCHEME_NOT_YET 1  /* get_key: no key yet (a normal answer) */
#define NEGOEX_SCHEME_NONE 1     /* query_meta_data: this scheme sends no metadata */

typedef struct negoex_scheme negoex_scheme;

typedef struct negoex_scheme_class {
    uint32_t api_version; /* NEGOEX_SCHEME_API_VERSION */
    const char *name;

    /* Metadata to send in our *_META_DATA message, appended to out.
     * 0 = send it, NEGOEX_SCHEME_NONE = no metadata message, < 0 = drop the scheme. */
    int (*query_meta_data)(negoex_scheme *s, int initiator, negoex_buf *out);

    /* The peer's metadata for this scheme. < 0 = drop the scheme. */
    int (*exchange_meta_data)(negoex_scheme *s, int initiator, const uint8_t *data, size_t len);

    /* One leg of the scheme's own exchange. The initiator's first call has
     * in == NULL. The token to send (possibly none) is appended to out;
     * *complete is set once this side is done. < 0 = the scheme failed; out
     * may then hold an error token for the peer. */
    int (*step)(negoex_scheme *s, int initiator, const uint8_t *in, size_t in_len, negoex_buf *out,
                int *complete);

    /* Key to sign our VERIFY or to check the peer's. 0 = *key filled,
     * NEGOEX_SCHEME_NOT_YET = not available yet, < 0 = error. */
    int (*get_key)(negoex_scheme *s, negoex_key_use use, negoex_key *key);

    /* Optional (NULL): per-message integrity for SPNEGO's mechListMIC. */
    int (*make_mic)(negoex_scheme *s, const uint8_t *data, size_t len, negoex_buf *mic);
    int (*verify_mic)(negoex_scheme *s, const uint8_t *data, size_t len, const uint8_t *mic, size_t mic_len);

    /* The optimistic attempt was abandoned: back to the state before step. */
    void (*reset)(negoex_scheme *s);

    /* Optional (NULL): a deep copy, so the context can process a token on a
     * copy and drop it if the token is rejected. Without it, a token rejected
     * after this scheme has seen it leaves the context failed. */
    int (*clone)(const negoex_scheme *s, negoex_scheme **copy);

    void (*destroy)(negoex_scheme *s);

    /* Optional (NULL = no): 1 if the scheme wants SPNEGO's mechListMIC even
     * when NEGOEX was the initiator's first mechanism (MIT asks a mech this
     * through GSS_C_INQ_REQUIRE_MECHLIST_MIC). */
    int (*requires_mic)(negoex_scheme *s);
} negoex_scheme_class;

struct negoex_scheme {
    const negoex_scheme_class *cls;
    negoex_guid auth_scheme;
};

#ifdef __cplusplus
}
#endif
#endif
