/*
 * The `test` auth scheme: MIT krb5's negoextest (plugins/gssapi/negoextest)
 * redone as a libnegoex scheme, so that the bytes we send are the bytes MIT's
 * test mechanism sends and MIT's captured scenarios can be replayed.
 *
 * negoextest defines no gss_get_mic/gss_verify_mic (Heimdal's copy fakes one),
 * so this scheme offers no mechListMIC either: make_mic/verify_mic are NULL.
 */
#include <negoex/scheme_test.h>

#include <openssl/crypto.h>
#include <string.h>

#include "alloc.h"
#include "flat_scheme.h"

/* The AuthScheme GUID is the OID content, so it bounds the OID length; it also
 * keeps the RFC 2743 framing in DER short-form lengths. */
#define TEST_OID_MAX NEGOEX_AUTH_SCHEME_LEN
#define TEST_KEY_LEN 32u

static const uint8_t FAIL_TOKEN[4] = {'f', 'a', 'i', 'l'};

enum { ROLE_UNKNOWN = -1, ROLE_ACCEPTOR = 0, ROLE_INITIATOR = 1 };

typedef struct test_scheme {
    flat_scheme head; /* first */

    uint8_t oid[TEST_OID_MAX];
    size_t oid_len;
    unsigned hops;
    negoex_test_key_mode keys;
    int no_meta_data;
    int fail_query;
    int fail_exchange;
    int fail_step;

    /* get_key has no role argument, so the role is learnt from the calls that
     * have one. It is the side's identity, not part of an attempt: reset keeps it. */
    int role;

    /* Per attempt (cleared by reset). count mirrors negoextest's ctx->hops:
     * the count carried by the last token this side sent or received. */
    int started;
    uint8_t count;
    int complete;
    int failed; /* fail_step fired or the acceptor said "fail": MIT deletes the context */
} test_scheme;

/* ------------------------------------------------------------------------ */
/* Configuration                                                              */
/* ------------------------------------------------------------------------ */

int negoex_test_key_mode_parse(const char *text)
{
    static const char *const names[] = {"established", "always", "init-always", "accept-always", "never"};
    if (text == NULL)
        return -1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(text, names[i]) == 0)
            return (int)i;
    }
    return -1;
}

void negoex_test_scheme_config_init(negoex_test_scheme_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->mech_oid = NEGOEX_TEST_MECH1_OID;
    cfg->hops = 1;
    cfg->keys = NEGOEX_TEST_KEY_ESTABLISHED;
}

/* ------------------------------------------------------------------------ */
/* Methods                                                                    */
/* ------------------------------------------------------------------------ */

/* Records the role on first use; a scheme instance serves one side only. */
static int note_role(test_scheme *t, int initiator)
{
    int role = initiator ? ROLE_INITIATOR : ROLE_ACCEPTOR;
    if (t->role == ROLE_UNKNOWN)
        t->role = role;
    return t->role == role ? NEGOEX_OK : NEGOEX_ERR_INVALID_ARGUMENT;
}

static int ts_query_meta_data(negoex_scheme *s, int initiator, negoex_buf *out)
{
    test_scheme *t = (test_scheme *)s;
    if (t == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    if (t->fail_query)
        return NEGOEX_ERR_SCHEME_FAILED;
    if (t->no_meta_data)
        return NEGOEX_SCHEME_NONE;
    return negoex_buf_append(out, "X", 1);
}

static int ts_exchange_meta_data(negoex_scheme *s, int initiator, const uint8_t *data, size_t len)
{
    test_scheme *t = (test_scheme *)s;
    if (t == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    if (t->fail_exchange)
        return NEGOEX_ERR_SCHEME_FAILED;
    /* negoextest asserts this; refusing is the non-crashing equivalent. */
    if (data == NULL || len != 1 || data[0] != 'X')
        return NEGOEX_ERR_SCHEME_FAILED;
    return NEGOEX_OK;
}

/* RFC 2743 InitialContextToken: 60 L 06 l <oid> <count>. */
static int append_framed(const test_scheme *t, uint8_t count, negoex_buf *out)
{
    uint8_t tok[4 + TEST_OID_MAX + 1];
    size_t n = 0;
    tok[n++] = 0x60;
    tok[n++] = (uint8_t)(2 + t->oid_len + 1);
    tok[n++] = 0x06;
    tok[n++] = (uint8_t)t->oid_len;
    memcpy(tok + n, t->oid, t->oid_len);
    n += t->oid_len;
    tok[n++] = count;
    return negoex_buf_append(out, tok, n);
}

/* Strict reading of the initiator's token: exactly our own framing with our
 * OID and one count byte. (negoextest only reads the last byte; a strict peer
 * still accepts everything negoextest sends.) */
static int read_framed(const test_scheme *t, const uint8_t *in, size_t in_len, uint8_t *count)
{
    size_t want = 4 + t->oid_len + 1;
    if (in_len != want || in[0] != 0x60 || in[1] != want - 2 || in[2] != 0x06 || in[3] != t->oid_len ||
        memcmp(in + 4, t->oid, t->oid_len) != 0)
        return NEGOEX_ERR_SCHEME_FAILED;
    *count = in[want - 1];
    return NEGOEX_OK;
}

static int step_initiator(test_scheme *t, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    uint8_t c;
    if (!t->started) {
        /* negoextest takes an empty token as "no token" too. */
        if (in_len != 0)
            return NEGOEX_ERR_SCHEME_FAILED;
        if (t->fail_step) {
            t->failed = 1;
            return NEGOEX_ERR_SCHEME_FAILED;
        }
        c = (uint8_t)t->hops;
    } else {
        if (in_len == 0)
            return NEGOEX_ERR_MISSING_TOKEN;
        if (in_len == sizeof FAIL_TOKEN && memcmp(in, FAIL_TOKEN, sizeof FAIL_TOKEN) == 0) {
            t->failed = 1;
            return NEGOEX_ERR_SCHEME_FAILED;
        }
        /* The acceptor's count is one below ours (negoextest asserts it). */
        if (in_len != 1 || in[0] != (uint8_t)(t->count - 1))
            return NEGOEX_ERR_SCHEME_FAILED;
        if (t->fail_step) {
            t->failed = 1;
            return NEGOEX_ERR_SCHEME_FAILED;
        }
        c = in[0];
    }
    if (c > 0) {
        c--;
        int rc = append_framed(t, c, out);
        if (rc != 0)
            return rc; /* state untouched: the step can be retried */
    }
    t->started = 1;
    t->count = c;
    t->complete = (c == 0);
    return NEGOEX_OK;
}

static int step_acceptor(test_scheme *t, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    uint8_t c;
    if (in_len == 0)
        return NEGOEX_ERR_MISSING_TOKEN;
    if (t->fail_step) {
        /* Like negoextest: whatever arrived, the peer gets "fail". */
        t->failed = 1;
        int rc = negoex_buf_append(out, FAIL_TOKEN, sizeof FAIL_TOKEN);
        return rc != 0 ? rc : NEGOEX_ERR_SCHEME_FAILED;
    }
    int rc = read_framed(t, in, in_len, &c);
    if (rc != 0)
        return rc;
    if (t->started && c != (uint8_t)(t->count - 1))
        return NEGOEX_ERR_SCHEME_FAILED;
    if (c > 0) {
        c--;
        rc = negoex_buf_append(out, &c, 1);
        if (rc != 0)
            return rc;
    }
    t->started = 1;
    t->count = c;
    t->complete = (c == 0);
    return NEGOEX_OK;
}

static int ts_step(negoex_scheme *s, int initiator, const uint8_t *in, size_t in_len, negoex_buf *out,
                   int *complete)
{
    test_scheme *t = (test_scheme *)s;
    if (complete != NULL)
        *complete = 0;
    if (t == NULL || out == NULL || complete == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (in == NULL)
        in_len = 0;
    int rc = note_role(t, initiator);
    if (rc != 0)
        return rc;
    if (t->failed || t->complete)
        return NEGOEX_ERR_SCHEME_FAILED;
    rc = initiator ? step_initiator(t, in, in_len, out) : step_acceptor(t, in, in_len, out);
    if (rc == 0)
        *complete = t->complete;
    return rc;
}

static int key_available(const test_scheme *t)
{
    if (t->role == ROLE_UNKNOWN || t->failed)
        return 0;
    switch (t->keys) {
    case NEGOEX_TEST_KEY_ALWAYS:
        return 1;
    case NEGOEX_TEST_KEY_INIT_ALWAYS:
        return t->role == ROLE_INITIATOR || t->complete;
    case NEGOEX_TEST_KEY_ACCEPT_ALWAYS:
        return t->role == ROLE_ACCEPTOR || t->complete;
    case NEGOEX_TEST_KEY_ESTABLISHED:
        return t->complete;
    case NEGOEX_TEST_KEY_NEVER:
    default:
        return 0;
    }
}

static int ts_get_key(negoex_scheme *s, negoex_key_use use, negoex_key *key)
{
    const test_scheme *t = (const test_scheme *)s;
    if (t == NULL || key == NULL || (use != NEGOEX_KEY_SIGN && use != NEGOEX_KEY_VERIFY))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!key_available(t))
        return NEGOEX_SCHEME_NOT_YET;
    memset(key, 0, sizeof *key);
    key->enctype = NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96;
    key->len = TEST_KEY_LEN;
    /* Each side's verify key is the other's signing key. */
    key->bytes[0] = (uint8_t)((use == NEGOEX_KEY_VERIFY) ^ (t->role == ROLE_INITIATOR));
    return NEGOEX_OK;
}

static void ts_reset(negoex_scheme *s)
{
    test_scheme *t = (test_scheme *)s;
    if (t == NULL)
        return;
    t->started = 0;
    t->count = 0;
    t->complete = 0;
    t->failed = 0;
}

static int ts_clone(const negoex_scheme *s, negoex_scheme **copy)
{
    return flat_scheme_clone(s, sizeof(test_scheme), copy);
}

static void ts_destroy(negoex_scheme *s)
{
    flat_scheme_destroy(s, sizeof(test_scheme));
}

static const negoex_scheme_class test_scheme_class = {
    .api_version = NEGOEX_SCHEME_API_VERSION,
    .name = "test",
    .query_meta_data = ts_query_meta_data,
    .exchange_meta_data = ts_exchange_meta_data,
    .step = ts_step,
    .get_key = ts_get_key,
    .make_mic = NULL,
    .verify_mic = NULL,
    .reset = ts_reset,
    .clone = ts_clone,
    .destroy = ts_destroy,
};

int negoex_test_scheme_new(negoex_scheme **out, const negoex_test_scheme_config *cfg, const negoex_allocator *alloc)
{
    negoex_test_scheme_config defaults;
    uint8_t oid[TEST_OID_MAX];
    size_t oid_len = 0;

    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (cfg == NULL) {
        negoex_test_scheme_config_init(&defaults);
        cfg = &defaults;
    }
    /* The count travels in one byte. */
    if (cfg->hops < 1 || cfg->hops > 255)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if ((unsigned)cfg->keys > (unsigned)NEGOEX_TEST_KEY_NEVER)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (cfg->mech_oid == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* Too long for the 16-byte GUID is a bad OID for this scheme. */
    int rc = negoex_oid_encode(cfg->mech_oid, oid, sizeof oid, &oid_len);
    if (rc != 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    flat_scheme *f;
    rc = flat_scheme_new(sizeof(test_scheme), &test_scheme_class, alloc, &f);
    if (rc != NEGOEX_OK)
        return rc;
    test_scheme *t = (test_scheme *)f;
    memcpy(t->head.base.auth_scheme.bytes, oid, oid_len); /* zero-padded */
    memcpy(t->oid, oid, oid_len);
    t->oid_len = oid_len;
    t->hops = cfg->hops;
    t->keys = cfg->keys;
    t->no_meta_data = cfg->no_meta_data;
    t->fail_query = cfg->fail_query;
    t->fail_exchange = cfg->fail_exchange;
    t->fail_step = cfg->fail_step;
    t->role = ROLE_UNKNOWN;
    *out = &t->head.base;
    return NEGOEX_OK;
}
