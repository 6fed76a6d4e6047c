#include "testutil.h"

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/spnego.h>
#include <negoex/testpki.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <time.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *tu_path(const char *relpath)
{
    static char path[4096];
    const char *base = getenv("NEGOEX_VECTORS");
    if (base == NULL || *base == '\0')
        base = NEGOEX_VECTORS;
    snprintf(path, sizeof path, "%s/%s", base, relpath);
    return path;
}

uint8_t *tu_load(const char *relpath, size_t *len)
{
    const char *path = tu_path(relpath);
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        fail_msg("cannot open vector %s", path);
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? cap * 2 : 4096;
            buf = realloc(buf, cap);
            assert_non_null(buf);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        if (got == 0)
            break;
        n += got;
    }
    fclose(f);
    *len = n;
    return buf;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *tu_unhex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    uint8_t *out = malloc(n / 2 + 1);
    assert_non_null(out);
    size_t o = 0;
    int hi = -1;
    for (size_t i = 0; i < n; i++) {
        int v = hexval((unsigned char)hex[i]);
        if (v < 0)
            continue;
        if (hi < 0) {
            hi = v;
        } else {
            out[o++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    *len = o;
    return out;
}

/* Tracked test memory and contexts: the teardown releases whatever a failed
 * assertion left behind, so sanitizer runs stay leak-free. */
#define MAX_TRACKED 1024
#define MAX_TRACKED_CTX 64
static void *tracked[MAX_TRACKED];
static negoex_context *tracked_ctx[MAX_TRACKED_CTX];

void tu_track(void *p)
{
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == NULL) {
            tracked[i] = p;
            return;
        }
    }
    fail_msg("too many live test buffers");
}

void tu_untrack(void *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        if (tracked[i] == p) {
            tracked[i] = NULL;
            return;
        }
    }
    fail_msg("freeing an untracked test buffer");
}

void *tu_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    assert_non_null(p);
    tu_track(p);
    return p;
}

void *tu_realloc(void *p, size_t n)
{
    /* p is looked up before realloc: its value is not to be used after */
    if (p != NULL)
        tu_untrack(p);
    void *q = realloc(p, n ? n : 1);
    if (q == NULL && p != NULL)
        tu_track(p); /* still ours, released by the teardown */
    assert_non_null(q);
    tu_track(q);
    return q;
}

void tu_free(void *p)
{
    tu_untrack(p);
    free(p);
}

uint8_t *tu_load_tracked(const char *relpath, size_t *len)
{
    uint8_t *p = tu_load(relpath, len);
    tu_track(p);
    return p;
}

void tu_ctx_track(negoex_context *c)
{
    for (size_t i = 0; i < MAX_TRACKED_CTX; i++) {
        if (tracked_ctx[i] == NULL) {
            tracked_ctx[i] = c;
            return;
        }
    }
    fail_msg("too many live contexts");
}

void tu_ctx_free(negoex_context *c)
{
    for (size_t i = 0; c != NULL && i < MAX_TRACKED_CTX; i++)
        if (tracked_ctx[i] == c)
            tracked_ctx[i] = NULL;
    negoex_context_free(c);
}

int tu_release_all(void **state)
{
    (void)state;
    for (size_t i = 0; i < MAX_TRACKED_CTX; i++) {
        negoex_context_free(tracked_ctx[i]);
        tracked_ctx[i] = NULL;
    }
    for (size_t i = 0; i < MAX_TRACKED; i++) {
        free(tracked[i]);
        tracked[i] = NULL;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Counting / failing allocator                                              */
/* ------------------------------------------------------------------------ */

static void *ta_alloc(size_t n, void *ud)
{
    tu_alloc *t = ud;
    if (++t->calls == t->fail_at) {
        t->failed++;
        return NULL;
    }
    void *p = malloc(n ? n : 1);
    t->live += p != NULL;
    t->allocs += p != NULL;
    return p;
}

static void *ta_realloc(void *p, size_t n, void *ud)
{
    tu_alloc *t = ud;
    if (++t->calls == t->fail_at) {
        t->failed++;
        return NULL;
    }
    void *q = realloc(p, n ? n : 1);
    t->live += p == NULL && q != NULL;
    t->allocs += p == NULL && q != NULL;
    return q;
}

static void ta_free(void *p, void *ud)
{
    tu_alloc *t = ud;
    t->live -= p != NULL;
    t->frees += p != NULL;
    free(p);
}

void tu_alloc_init(tu_alloc *t, unsigned long fail_at)
{
    memset(t, 0, sizeof *t);
    t->a.alloc = ta_alloc;
    t->a.realloc = ta_realloc;
    t->a.free = ta_free;
    t->a.ud = t;
    t->fail_at = fail_at;
}

negoex_testpki *tu_fast_pki(STACK_OF(X509) **anchors)
{
    negoex_testpki_options o;
    negoex_testpki_options_init(&o);
    o.key_bits = NEGOEX_TESTPKI_MIN_BITS;
    negoex_testpki *pki = NULL;
    assert_int_equal(negoex_testpki_new(&o, time(NULL), &pki, NULL), NEGOEX_OK);
    *anchors = sk_X509_new_null();
    assert_non_null(*anchors);
    assert_true(sk_X509_push(*anchors, negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_CA)) > 0);
    return pki;
}

void tu_fast_pki_free(negoex_testpki *pki, STACK_OF(X509) *anchors)
{
    sk_X509_free(anchors);
    negoex_testpki_free(pki);
}

uint8_t *tu_dup(const uint8_t *p, size_t n)
{
    uint8_t *c = tu_malloc(n ? n : 1);
    if (n)
        memcpy(c, p, n);
    return c;
}

int tu_step_checked(negoex_context *ctx, const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
    negoex_bytes t = negoex_context_transcript(ctx);
    uint8_t *before = tu_dup(t.data, t.len);
    size_t blen = t.len;
    const uint8_t *o = NULL;
    size_t ol = 0;
    int rc = negoex_context_step(ctx, in, in_len, &o, &ol);
    *out = ol ? tu_dup(o, ol) : NULL;
    *out_len = ol;
    t = negoex_context_transcript(ctx);
    if (rc >= 0) {
        assert_int_equal(t.len, blen + in_len + ol);
        if (blen)
            assert_memory_equal(t.data, before, blen);
        if (in_len)
            assert_memory_equal(t.data + blen, in, in_len);
        if (ol)
            assert_memory_equal(t.data + blen + in_len, o, ol);
    } else {
        assert_int_equal(t.len, blen);
        if (blen)
            assert_memory_equal(t.data, before, blen);
    }
    tu_free(before);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Token inspection                                                          */
/* ------------------------------------------------------------------------ */

size_t tu_msg_count(const uint8_t *tok, size_t len)
{
    int n = negoex_token_validate(tok, len, NULL);
    if (n <= 0)
        fail_msg("token does not validate: %s", negoex_error_name(n));
    return (size_t)n;
}

negoex_message tu_msg_at(const uint8_t *tok, size_t len, size_t idx)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    for (size_t i = 0;; i++) {
        assert_int_equal(negoex_reader_next(&r, &m), 1);
        if (i == idx)
            return m;
    }
}

size_t tu_msg_count_type(const uint8_t *tok, size_t len, uint32_t type)
{
    negoex_reader r;
    negoex_message m;
    size_t n = 0;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1)
        n += m.type == type;
    return n;
}

/* ------------------------------------------------------------------------ */
/* Two sides against each other                                              */
/* ------------------------------------------------------------------------ */

int tu_context_step(void *ctx, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    return negoex_context_step(ctx, in, in_len, out, out_len);
}

tu_run tu_converse(tu_step_fn step, void *initiator, void *acceptor, int max_legs, tu_retry_fn retry,
                   void *retry_ud)
{
    void *side[2] = {initiator, acceptor};
    tu_run r;
    memset(&r, 0, sizeof r);
    r.failed = -1;
    uint8_t *cur = NULL; /* the token in flight, a copy (a retry needs it again) */
    size_t clen = 0;
    for (int leg = 0, who = 0; leg <= max_legs; leg++, who ^= 1) {
        if (leg > 0 && clen == 0)
            break;
        const uint8_t *o = NULL;
        size_t ol = 0;
        int rc = step(side[who], cur, clen, &o, &ol);
        while (rc < 0 && retry != NULL && retry(retry_ud, rc)) {
            r.retries++;
            rc = step(side[who], cur, clen, &o, &ol);
        }
        free(cur);
        cur = NULL;
        clen = 0;
        r.rc[who] = rc;
        if (ol != 0) {
            cur = malloc(ol);
            assert_non_null(cur);
            memcpy(cur, o, ol);
            clen = ol;
            r.legs++;
        }
        if (rc < 0) {
            r.failed = who;
            r.fail_rc = rc;
            r.error_token = clen != 0;
            if (clen != 0)
                r.peer_rc = r.rc[who ^ 1] = step(side[who ^ 1], cur, clen, &o, &ol);
            break;
        }
    }
    free(cur);
    r.complete = r.rc[0] == NEGOEX_COMPLETE && r.rc[1] == NEGOEX_COMPLETE;
    return r;
}

static void record(tu_conversation *c, int from_initiator, const uint8_t *data, size_t len)
{
    assert_true(c->count < TU_MAX_TOKENS);
    assert_true(len <= TU_MAX_TOKEN_LEN);
    tu_token *t = &c->tokens[c->count++];
    t->from_initiator = from_initiator;
    t->len = len;
    memcpy(t->data, data, len);
}

void tu_spnego_converse(negoex_spnego *I, negoex_spnego *A, tu_conversation *c)
{
    memset(c, 0, sizeof *c);
    const uint8_t *out;
    size_t len;
    c->init_rc = negoex_spnego_step(I, NULL, 0, &out, &len);
    int failed_i = c->init_rc < 0, failed_a = 0;
    int to_acceptor = 1;
    while (len != 0) {
        record(c, to_acceptor, out, len);
        int sender_failed = to_acceptor ? failed_i : failed_a;
        tu_token *t = &c->tokens[c->count - 1];
        if (to_acceptor) {
            c->acc_rc = negoex_spnego_step(A, t->data, t->len, &out, &len);
            failed_a |= c->acc_rc < 0;
        } else {
            c->init_rc = negoex_spnego_step(I, t->data, t->len, &out, &len);
            failed_i |= c->init_rc < 0;
        }
        if (sender_failed) {
            if (len != 0)
                record(c, !to_acceptor, out, len);
            break;
        }
        to_acceptor = !to_acceptor;
    }
}

X509 *tu_make_cert(const char *const *rdns, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const tu_ext *exts,
                   long lifetime, long *serial)
{
    X509 *x = X509_new();
    assert_non_null(x);
    assert_true(X509_set_version(x, X509_VERSION_3));
    assert_true(ASN1_INTEGER_set(X509_get_serialNumber(x), (*serial)++));
    X509_NAME *name = X509_NAME_new();
    assert_non_null(name);
    for (size_t i = 0; rdns[i] != NULL; i += 2)
        assert_true(
            X509_NAME_add_entry_by_txt(name, rdns[i], MBSTRING_UTF8, (const unsigned char *)rdns[i + 1], -1, -1, 0));
    assert_true(X509_set_subject_name(x, name));
    assert_true(X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name));
    X509_NAME_free(name);
    assert_non_null(X509_gmtime_adj(X509_getm_notBefore(x), -3600));
    assert_non_null(X509_gmtime_adj(X509_getm_notAfter(x), lifetime));
    assert_true(X509_set_pubkey(x, key));
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
    for (const tu_ext *e = exts; e != NULL && e->nid != 0; e++) {
        X509_EXTENSION *xe = X509V3_EXT_conf_nid(NULL, &ctx, e->nid, e->value);
        assert_non_null(xe);
        assert_true(X509_add_ext(x, xe, -1));
        X509_EXTENSION_free(xe);
    }
    EVP_PKEY *signer = issuer_key != NULL ? issuer_key : key;
    assert_true(X509_sign(x, signer, EVP_PKEY_is_a(signer, "ED25519") ? NULL : EVP_sha256()) > 0);
    return x;
}
