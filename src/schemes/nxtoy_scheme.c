/*
 * The `nxtoy` auth scheme: the small MIT NEGOEX module of scenarios 30-34
 * (../shared/vectors/mit/scenarios) redone as a libnegoex scheme.
 *
 * One round trip: the initiator sends AP_REQUEST "NXTOY-I" || ni, the acceptor
 * answers CHALLENGE "NXTOY-A" || na (16-byte nonces, raw payloads without RFC
 * 2743 framing) and is then complete; the initiator completes on reading it.
 * Both sides then hold the aes256-cts-hmac-sha1-96 key ni || na, used for both
 * VERIFY directions and for the SPNEGO mechListMIC (RFC 3961 checksum, key
 * usage NEGOEX_NXTOY_MIC_USAGE).
 *
 * The class is static const, so no_integ picks a second class whose MIC
 * methods are NULL: the context then answers NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED.
 */
#include <negoex/scheme_nxtoy.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "alloc.h"
#include "flat_scheme.h"
#include "checksum.h"

#define NXTOY_PREFIX_LEN 7u
#define NXTOY_NONCE_LEN 16u
#define NXTOY_TOKEN_LEN (NXTOY_PREFIX_LEN + NXTOY_NONCE_LEN)
#define NXTOY_KEY_LEN (2u * NXTOY_NONCE_LEN)

static const uint8_t AUTH_SCHEME[NEGOEX_AUTH_SCHEME_LEN] = {'n', 'x', 't', 'o', 'y', '-', 's', 'c',
                                                           'h', 'e', 'm', 'e', '-', '0', '0', '1'};
static const uint8_t PREFIX_I[NXTOY_PREFIX_LEN] = {'N', 'X', 'T', 'O', 'Y', '-', 'I'};
static const uint8_t PREFIX_A[NXTOY_PREFIX_LEN] = {'N', 'X', 'T', 'O', 'Y', '-', 'A'};
static const char META_INITIATOR[] = "toy-meta-from-initiator";
static const char META_ACCEPTOR[] = "toy-meta-from-acceptor";

enum { ROLE_UNKNOWN = -1, ROLE_ACCEPTOR = 0, ROLE_INITIATOR = 1 };

typedef struct nxtoy_scheme {
    flat_scheme head; /* first */

    int no_meta_data;
    int force_mic;
    int (*rng)(void *ud, uint8_t *out, size_t len);
    void *rng_ud;

    /* Learnt from the first call that names it (get_key has no role
     * argument); the side's identity, so reset keeps it. */
    int role;

    /* Per attempt (cleared and wiped by reset). */
    int started;  /* initiator: NXTOY-I sent */
    int complete;
    uint8_t key[NXTOY_KEY_LEN]; /* ni || na; ni alone while the initiator waits */
} nxtoy_scheme;

void negoex_nxtoy_config_init(negoex_nxtoy_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
}

/* ------------------------------------------------------------------------ */
/* Methods                                                                    */
/* ------------------------------------------------------------------------ */

/* Records the role on first use; a scheme instance serves one side only. */
static int note_role(nxtoy_scheme *t, int initiator)
{
    int role = initiator ? ROLE_INITIATOR : ROLE_ACCEPTOR;
    if (t->role == ROLE_UNKNOWN)
        t->role = role;
    return t->role == role ? NEGOEX_OK : NEGOEX_ERR_INVALID_ARGUMENT;
}

static int draw_nonce(const nxtoy_scheme *t, uint8_t out[NXTOY_NONCE_LEN])
{
    if (t->rng != NULL)
        return t->rng(t->rng_ud, out, NXTOY_NONCE_LEN) == 0 ? NEGOEX_OK : NEGOEX_ERR_RNG;
    return RAND_bytes(out, (int)NXTOY_NONCE_LEN) == 1 ? NEGOEX_OK : NEGOEX_ERR_RNG;
}

static int nx_query_meta_data(negoex_scheme *s, int initiator, negoex_buf *out)
{
    nxtoy_scheme *t = (nxtoy_scheme *)s;
    if (t == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    if (t->no_meta_data)
        return NEGOEX_SCHEME_NONE;
    const char *m = initiator ? META_INITIATOR : META_ACCEPTOR;
    return negoex_buf_append(out, m, strlen(m));
}

/* The peer's metadata must be exactly the string its side sends; anything else
 * is not an nxtoy peer, and the scheme is dropped. */
static int nx_exchange_meta_data(negoex_scheme *s, int initiator, const uint8_t *data, size_t len)
{
    nxtoy_scheme *t = (nxtoy_scheme *)s;
    if (t == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    const char *want = initiator ? META_ACCEPTOR : META_INITIATOR;
    size_t want_len = strlen(want);
    if (data == NULL || len != want_len || memcmp(data, want, want_len) != 0)
        return NEGOEX_ERR_SCHEME_FAILED;
    return NEGOEX_OK;
}

/* "PREFIX" || 16-byte nonce, exactly. */
static int read_token(const uint8_t *in, size_t in_len, const uint8_t prefix[NXTOY_PREFIX_LEN])
{
    if (in_len != NXTOY_TOKEN_LEN || memcmp(in, prefix, NXTOY_PREFIX_LEN) != 0)
        return NEGOEX_ERR_SCHEME_FAILED;
    return NEGOEX_OK;
}

static int append_token(negoex_buf *out, const uint8_t prefix[NXTOY_PREFIX_LEN], const uint8_t nonce[NXTOY_NONCE_LEN])
{
    uint8_t tok[NXTOY_TOKEN_LEN];
    memcpy(tok, prefix, NXTOY_PREFIX_LEN);
    memcpy(tok + NXTOY_PREFIX_LEN, nonce, NXTOY_NONCE_LEN);
    int rc = negoex_buf_append(out, tok, sizeof tok);
    OPENSSL_cleanse(tok, sizeof tok);
    return rc;
}

/* Every failure leaves the state as it was, so a step can be retried. */
static int step_initiator(nxtoy_scheme *t, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    if (!t->started) {
        if (in_len != 0)
            return NEGOEX_ERR_SCHEME_FAILED;
        uint8_t ni[NXTOY_NONCE_LEN];
        int rc = draw_nonce(t, ni);
        if (rc == NEGOEX_OK)
            rc = append_token(out, PREFIX_I, ni);
        if (rc == NEGOEX_OK) {
            memcpy(t->key, ni, NXTOY_NONCE_LEN);
            t->started = 1;
        }
        OPENSSL_cleanse(ni, sizeof ni);
        return rc;
    }
    if (in_len == 0)
        return NEGOEX_ERR_MISSING_TOKEN;
    int rc = read_token(in, in_len, PREFIX_A);
    if (rc != NEGOEX_OK)
        return rc;
    memcpy(t->key + NXTOY_NONCE_LEN, in + NXTOY_PREFIX_LEN, NXTOY_NONCE_LEN);
    t->complete = 1;
    return NEGOEX_OK;
}

static int step_acceptor(nxtoy_scheme *t, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    if (in_len == 0)
        return NEGOEX_ERR_MISSING_TOKEN;
    int rc = read_token(in, in_len, PREFIX_I);
    if (rc != NEGOEX_OK)
        return rc;
    uint8_t na[NXTOY_NONCE_LEN];
    rc = draw_nonce(t, na);
    if (rc == NEGOEX_OK)
        rc = append_token(out, PREFIX_A, na);
    if (rc == NEGOEX_OK) {
        memcpy(t->key, in + NXTOY_PREFIX_LEN, NXTOY_NONCE_LEN);
        memcpy(t->key + NXTOY_NONCE_LEN, na, NXTOY_NONCE_LEN);
        t->started = 1;
        t->complete = 1;
    }
    OPENSSL_cleanse(na, sizeof na);
    return rc;
}

static int nx_step(negoex_scheme *s, int initiator, const uint8_t *in, size_t in_len, negoex_buf *out,
                   int *complete)
{
    nxtoy_scheme *t = (nxtoy_scheme *)s;
    if (complete != NULL)
        *complete = 0;
    if (t == NULL || out == NULL || complete == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    if (t->complete)
        return NEGOEX_ERR_SCHEME_FAILED; /* one round trip, nothing after it */
    rc = initiator ? step_initiator(t, in, in_len, out) : step_acceptor(t, in, in_len, out);
    if (rc == 0)
        *complete = t->complete;
    return rc;
}

/* ni || na as an aes256 key once complete: the same key both ways. */
static int nx_get_key(negoex_scheme *s, negoex_key_use use, negoex_key *key)
{
    const nxtoy_scheme *t = (const nxtoy_scheme *)s;
    if (t == NULL || key == NULL || (use != NEGOEX_KEY_SIGN && use != NEGOEX_KEY_VERIFY))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!t->complete)
        return NEGOEX_SCHEME_NOT_YET;
    memset(key, 0, sizeof *key);
    key->enctype = NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    key->len = NXTOY_KEY_LEN;
    memcpy(key->bytes, t->key, NXTOY_KEY_LEN);
    return NEGOEX_OK;
}

static int nx_make_mic(negoex_scheme *s, const uint8_t *data, size_t len, negoex_buf *mic)
{
    const nxtoy_scheme *t = (const nxtoy_scheme *)s;
    if (t == NULL || mic == NULL || (data == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!t->complete)
        return NEGOEX_ERR_NO_KEY;
    uint8_t cksum[NEGOEX_CKSUM_MAX];
    size_t cklen = 0;
    int32_t cktype = 0;
    int rc = negoex_checksum_make(NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, t->key, NXTOY_KEY_LEN,
                                  NEGOEX_NXTOY_MIC_USAGE, data, len, &cktype, cksum, &cklen);
    if (rc == NEGOEX_OK)
        rc = negoex_buf_append(mic, cksum, cklen);
    OPENSSL_cleanse(cksum, sizeof cksum);
    return rc;
}

static int nx_verify_mic(negoex_scheme *s, const uint8_t *data, size_t len, const uint8_t *mic, size_t mic_len)
{
    const nxtoy_scheme *t = (const nxtoy_scheme *)s;
    if (t == NULL || (data == NULL && len != 0) || (mic == NULL && mic_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!t->complete)
        return NEGOEX_ERR_NO_KEY;
    /* Length and value compared in constant time by the checksum module. */
    return negoex_checksum_verify(NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96,
                                  t->key, NXTOY_KEY_LEN, NEGOEX_NXTOY_MIC_USAGE, data, len, mic, mic_len);
}

static void nx_reset(negoex_scheme *s)
{
    nxtoy_scheme *t = (nxtoy_scheme *)s;
    if (t == NULL)
        return;
    t->started = 0;
    t->complete = 0;
    OPENSSL_cleanse(t->key, sizeof t->key);
}

static int nx_clone(const negoex_scheme *s, negoex_scheme **copy)
{
    return flat_scheme_clone(s, sizeof(nxtoy_scheme), copy);
}

static void nx_destroy(negoex_scheme *s)
{
    flat_scheme_destroy(s, sizeof(nxtoy_scheme));
}

static int nx_requires_mic(negoex_scheme *s)
{
    const nxtoy_scheme *t = (const nxtoy_scheme *)s;
    return t != NULL && t->force_mic ? 1 : 0;
}

/* NXTOY_NO_INTEG picks the second class: no MIC methods. */
static const negoex_scheme_class nxtoy_class = {
    .api_version = NEGOEX_SCHEME_API_VERSION,
    .name = "nxtoy",
    .query_meta_data = nx_query_meta_data,
    .exchange_meta_data = nx_exchange_meta_data,
    .step = nx_step,
    .get_key = nx_get_key,
    .make_mic = nx_make_mic,
    .verify_mic = nx_verify_mic,
    .reset = nx_reset,
    .clone = nx_clone,
    .destroy = nx_destroy,
    .requires_mic = nx_requires_mic,
};

static const negoex_scheme_class nxtoy_no_integ_class = {
    .api_version = NEGOEX_SCHEME_API_VERSION,
    .name = "nxtoy",
    .query_meta_data = nx_query_meta_data,
    .exchange_meta_data = nx_exchange_meta_data,
    .step = nx_step,
    .get_key = nx_get_key,
    .make_mic = NULL,
    .verify_mic = NULL,
    .reset = nx_reset,
    .clone = nx_clone,
    .destroy = nx_destroy,
    .requires_mic = nx_requires_mic,
};

int negoex_nxtoy_scheme_new(negoex_scheme **out, const negoex_nxtoy_config *cfg, const negoex_allocator *alloc)
{
    negoex_nxtoy_config defaults;

    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (cfg == NULL) {
        negoex_nxtoy_config_init(&defaults);
        cfg = &defaults;
    }

    flat_scheme *f;
    int rc = flat_scheme_new(sizeof(nxtoy_scheme), cfg->no_integ ? &nxtoy_no_integ_class : &nxtoy_class, alloc, &f);
    if (rc != NEGOEX_OK)
        return rc;
    nxtoy_scheme *t = (nxtoy_scheme *)f;
    memcpy(t->head.base.auth_scheme.bytes, AUTH_SCHEME, sizeof AUTH_SCHEME);
    t->no_meta_data = cfg->no_meta_data != 0;
    t->force_mic = cfg->force_mic != 0;
    t->rng = cfg->rng;
    t->rng_ud = cfg->rng_ud;
    t->role = ROLE_UNKNOWN;
    *out = &t->head.base;
    return NEGOEX_OK;
}
