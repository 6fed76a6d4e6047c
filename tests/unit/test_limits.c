/*
 * Limits against hostile peers (docs/assurance.md "Limits").
 *
 * test_context.c and test_spnego.c already exceed max_token_size (NEGOEX in
 * and out, SPNEGO in), max_transcript_size (first token, incoming token, our
 * reply) and max_schemes (adding a scheme) with small values. This file adds:
 *  - the defaults, and the configurations refused;
 *  - every default exceeded by one byte (NEGOEX and SPNEGO token size) and
 *    a SPNEGO token within its limit whose NEGOEX token is over NEGOEX's;
 *  - the transcript limit reached part-way through a long (many-hop)
 *    conversation: there is no separate limit on hops or legs;
 *  - max_schemes at its bound (255 local schemes, a NEGO listing them all);
 *  - what has no limit besides the token size, each shown linear and
 *    accepted: messages per token, AuthSchemes in the peer's NEGO,
 *    extensions, alerts, SPNEGO mechTypes. The last is the regression test
 *    for the acceptor's quadratic walk of the initiator's mechTypes (a 1 MiB
 *    list took minutes of CPU per token).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include "testutil.h"

#define MIB ((size_t)1 << 20)
#define CONT NEGOEX_CONTINUE
#define DONE NEGOEX_COMPLETE

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

/* A context with test-scheme mechanisms "2.25.<first>" .. "2.25.<first + n - 1>". */
static negoex_context *mk(negoex_role role, const negoex_config *cfg, unsigned first, unsigned n, unsigned hops)
{
    negoex_context *c = NULL;
    assert_int_equal(negoex_context_new(&c, role, cfg), NEGOEX_OK);
    tu_ctx_track(c);
    for (unsigned i = 0; i < n; i++) {
        char oid[32];
        snprintf(oid, sizeof oid, "2.25.%u", first + i);
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = oid;
        tc.hops = hops;
        negoex_scheme *s;
        assert_int_equal(negoex_test_scheme_new(&s, &tc, NULL), NEGOEX_OK);
        int rc = negoex_context_add_scheme(c, s);
        if (rc != NEGOEX_OK)
            s->cls->destroy(s);
        assert_int_equal(rc, NEGOEX_OK);
    }
    return c;
}

static negoex_context *mk1(negoex_role role, const negoex_config *cfg, unsigned hops)
{
    return mk(role, cfg, 1414534758u, 1, hops);
}

static uint8_t *dup_out(const uint8_t *p, size_t n)
{
    uint8_t *d = tu_malloc(n);
    memcpy(d, p, n);
    return d;
}

/* One step; the output copied (tracked; NULL when empty). */
static uint8_t *step(negoex_context *c, const uint8_t *in, size_t len, int want, size_t *out_len)
{
    const uint8_t *out;
    int rc = negoex_context_step(c, in, len, &out, out_len);
    if (rc != want)
        fail_msg("step: %s, expected %s", negoex_error_name(rc), negoex_error_name(want));
    return *out_len ? dup_out(out, *out_len) : NULL;
}

/* A rejected token: the exact error, last_error names it, nothing changed. */
static void expect_rejected(negoex_context *c, const uint8_t *in, size_t len, int code)
{
    negoex_bytes before = negoex_context_transcript(c);
    size_t before_len = before.len;
    const uint8_t *out;
    size_t out_len = 99;
    int rc = negoex_context_step(c, in, len, &out, &out_len);
    if (rc != code)
        fail_msg("expected %s, got %s", negoex_error_name(code), negoex_error_name(rc));
    assert_int_equal(out_len, 0);
    negoex_error_info e;
    negoex_context_last_error(c, &e);
    assert_int_equal(e.code, code);
    assert_int_equal(negoex_context_transcript(c).len, before_len);
}

/* Runs I and A to the end; returns the last results. */
static void converse(negoex_context *I, negoex_context *A, int *ri, int *ra)
{
    size_t len;
    uint8_t *tok = step(I, NULL, 0, CONT, &len);
    negoex_context *side[2] = {I, A};
    int rc[2] = {CONT, 0}, who = 1;
    for (int legs = 0; tok != NULL && legs < 1024; legs++) {
        const uint8_t *out;
        size_t out_len;
        rc[who] = negoex_context_step(side[who], tok, len, &out, &out_len);
        tu_free(tok);
        tok = rc[who] >= 0 && out_len ? dup_out(out, out_len) : NULL;
        len = out_len;
        who ^= 1;
    }
    tu_free(tok);
    *ri = rc[0];
    *ra = rc[1];
}

/* A growable token built message by message. */
typedef struct tokbuf {
    uint8_t *p;
    size_t len, cap;
} tokbuf;

static uint8_t *tb_room(tokbuf *t, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = t->cap ? t->cap : 4096;
        while (cap < t->len + n)
            cap *= 2;
        t->p = tu_realloc(t->p, cap);
        t->cap = cap;
    }
    return t->p + t->len;
}

/* Appends a parsed message with another sequence number. */
static void tb_message(tokbuf *t, const negoex_message *m, uint32_t seq)
{
    negoex_message c = *m;
    c.seq = seq;
    size_t need = 0;
    assert_int_equal(negoex_write_message(NULL, 0, &need, &c), NEGOEX_OK);
    assert_int_equal(negoex_write_message(tb_room(t, need), need, &need, &c), NEGOEX_OK);
    t->len += need;
}

static void tb_meta(tokbuf *t, uint32_t seq, const negoex_guid *conv, uint32_t n)
{
    negoex_header_fields h = {seq, *conv};
    negoex_guid g;
    memset(g.bytes, 0xee, sizeof g.bytes);
    memcpy(g.bytes, &n, sizeof n); /* a scheme nobody has */
    size_t need = 0;
    assert_int_equal(negoex_write_exchange(NULL, 0, &need, NEGOEX_INITIATOR_META_DATA, &h, &g, NULL, 0), NEGOEX_OK);
    assert_int_equal(negoex_write_exchange(tb_room(t, need), need, &need, NEGOEX_INITIATOR_META_DATA, &h, &g, NULL, 0),
                     NEGOEX_OK);
    t->len += need;
}

static size_t count_messages(const uint8_t *tok, size_t len, negoex_message *msgs, size_t max)
{
    negoex_reader r;
    negoex_message m;
    size_t n = 0;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1) {
        assert_true(n < max);
        msgs[n++] = m;
    }
    return n;
}

/* ------------------------------------------------------------------------ */
/* Defaults and configuration                                                 */
/* ------------------------------------------------------------------------ */

static void test_defaults(void **state)
{
    (void)state;
    negoex_config cfg;
    negoex_config_init(&cfg);
    assert_int_equal(cfg.max_token_size, MIB);
    assert_int_equal(cfg.max_transcript_size, 4 * MIB);
    assert_int_equal(cfg.max_schemes, 16);
    negoex_spnego_config sc;
    negoex_spnego_config_init(&sc);
    assert_int_equal(sc.max_token_size, MIB + 64 * 1024);

    negoex_context *c = NULL;
    size_t bad[][3] = {{0, 4 * MIB, 16}, {MIB, 0, 16}, {MIB, 4 * MIB, 0}, {MIB, 4 * MIB, 256}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cfg.max_token_size = bad[i][0];
        cfg.max_transcript_size = bad[i][1];
        cfg.max_schemes = bad[i][2];
        assert_int_equal(negoex_context_new(&c, NEGOEX_ROLE_INITIATOR, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
        assert_null(c);
    }
    cfg.max_token_size = 1;
    cfg.max_transcript_size = 1;
    cfg.max_schemes = 255;
    assert_int_equal(negoex_context_new(&c, NEGOEX_ROLE_ACCEPTOR, &cfg), NEGOEX_OK);
    negoex_context_free(c);
}

/* ------------------------------------------------------------------------ */
/* Token size                                                                 */
/* ------------------------------------------------------------------------ */

static void test_default_token_size(void **state)
{
    (void)state;
    /* NEGOEX: checked before anything is parsed. One byte over: TOKEN_TOO_LARGE;
     * at the limit the same bytes go on to the codec (they are not a token). */
    negoex_context *A = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, 1);
    uint8_t *junk = tu_malloc(MIB + 1);
    memset(junk, 'x', MIB + 1);
    expect_rejected(A, junk, MIB + 1, NEGOEX_ERR_TOKEN_TOO_LARGE);
    negoex_error_info e;
    negoex_context_last_error(A, &e);
    assert_int_equal(e.offset, 0);
    assert_string_equal(e.field, "token");
    expect_rejected(A, junk, MIB, NEGOEX_ERR_BAD_SIGNATURE);

    /* SPNEGO: the same, at 1 MiB + 64 KiB. */
    negoex_context *nx = NULL;
    assert_int_equal(negoex_context_new(&nx, NEGOEX_ROLE_ACCEPTOR, NULL), NEGOEX_OK);
    negoex_scheme *s;
    assert_int_equal(negoex_test_scheme_new(&s, NULL, NULL), NEGOEX_OK);
    assert_int_equal(negoex_context_add_scheme(nx, s), NEGOEX_OK);
    negoex_spnego *sp = NULL;
    assert_int_equal(negoex_spnego_new(&sp, nx, NULL), NEGOEX_OK);
    size_t lim = MIB + 64 * 1024;
    junk = tu_realloc(junk, lim + 1);
    memset(junk, 'x', lim + 1);
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(sp, junk, lim + 1, &out, &len), NEGOEX_ERR_TOKEN_TOO_LARGE);
    negoex_spnego_last_error(sp, &e);
    assert_int_equal(e.code, NEGOEX_ERR_TOKEN_TOO_LARGE);
    assert_int_equal(negoex_spnego_step(sp, junk, lim, &out, &len), NEGOEX_ERR_DER_TAG);
    negoex_spnego_free(sp);
    tu_free(junk);
}

/* A SPNEGO token within SPNEGO's limit carrying a NEGOEX token over the NEGOEX
 * context's: NEGOEX's limit answers, and the SPNEGO context is unchanged. */
static void test_spnego_inner_token_size(void **state)
{
    (void)state;
    negoex_context *nxi = NULL, *nxa = NULL;
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.max_token_size = 200; /* the initiator's NEGOEX token is ~290 bytes */
    for (int i = 0; i < 2; i++) {
        negoex_context **c = i ? &nxa : &nxi;
        assert_int_equal(negoex_context_new(c, i ? NEGOEX_ROLE_ACCEPTOR : NEGOEX_ROLE_INITIATOR, i ? &cfg : NULL),
                         NEGOEX_OK);
        negoex_scheme *s;
        assert_int_equal(negoex_test_scheme_new(&s, NULL, NULL), NEGOEX_OK);
        assert_int_equal(negoex_context_add_scheme(*c, s), NEGOEX_OK);
    }
    negoex_spnego *I = NULL, *A = NULL;
    assert_int_equal(negoex_spnego_new(&I, nxi, NULL), NEGOEX_OK);
    assert_int_equal(negoex_spnego_new(&A, nxa, NULL), NEGOEX_OK);
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(I, NULL, 0, &out, &len), CONT);
    uint8_t *t0 = dup_out(out, len);
    size_t l0 = len;
    assert_int_equal(negoex_spnego_step(A, t0, l0, &out, &len), NEGOEX_ERR_TOKEN_TOO_LARGE);
    assert_int_equal(negoex_context_transcript(negoex_spnego_negoex(A)).len, 0);
    assert_false(negoex_spnego_is_complete(A));
    tu_free(t0);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

/* ------------------------------------------------------------------------ */
/* Transcript over many legs: no limit on hops besides the transcript        */
/* ------------------------------------------------------------------------ */

static void test_transcript_many_hops(void **state)
{
    (void)state;
    const unsigned hops = 60;
    negoex_context *I = mk1(NEGOEX_ROLE_INITIATOR, NULL, hops);
    negoex_context *A = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, hops);
    int ri, ra;
    converse(I, A, &ri, &ra);
    assert_int_equal(ri, DONE);
    assert_int_equal(ra, DONE);
    size_t total = negoex_context_transcript(A).len;
    assert_true(total > hops * 64); /* one exchange message per hop */
    tu_ctx_free(I);
    tu_ctx_free(A);

    for (int side = 0; side < 2; side++) {
        /* Exactly the conversation: it completes. */
        negoex_config cfg;
        negoex_config_init(&cfg);
        cfg.max_transcript_size = total;
        I = mk1(NEGOEX_ROLE_INITIATOR, side ? NULL : &cfg, hops);
        A = mk1(NEGOEX_ROLE_ACCEPTOR, side ? &cfg : NULL, hops);
        converse(I, A, &ri, &ra);
        assert_int_equal(ri, DONE);
        assert_int_equal(ra, DONE);
        tu_ctx_free(I);
        tu_ctx_free(A);
        /* One byte less: the side with the limit stops late in the
         * conversation, with TRANSCRIPT_TOO_LARGE, its transcript unchanged. */
        cfg.max_transcript_size = total - 1;
        I = mk1(NEGOEX_ROLE_INITIATOR, side ? NULL : &cfg, hops);
        A = mk1(NEGOEX_ROLE_ACCEPTOR, side ? &cfg : NULL, hops);
        converse(I, A, &ri, &ra);
        assert_int_equal(side ? ra : ri, NEGOEX_ERR_TRANSCRIPT_TOO_LARGE);
        negoex_context *limited = side ? A : I;
        assert_true(negoex_context_transcript(limited).len > total / 2);
        assert_true(negoex_context_transcript(limited).len <= total - 1);
        negoex_error_info e;
        negoex_context_last_error(limited, &e);
        assert_int_equal(e.code, NEGOEX_ERR_TRANSCRIPT_TOO_LARGE);
        tu_ctx_free(I);
        tu_ctx_free(A);
    }
}

/* ------------------------------------------------------------------------ */
/* Schemes                                                                    */
/* ------------------------------------------------------------------------ */

/* max_schemes at its bound: 255 local schemes, all in the NEGO; the acceptor
 * has only the last one. */
static void test_max_schemes_bound(void **state)
{
    (void)state;
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.max_schemes = 255;
    negoex_context *I = mk(NEGOEX_ROLE_INITIATOR, &cfg, 1000, 255, 1);
    negoex_scheme *s;
    negoex_test_scheme_config tc;
    negoex_test_scheme_config_init(&tc);
    assert_int_equal(negoex_test_scheme_new(&s, &tc, NULL), NEGOEX_OK);
    assert_int_equal(negoex_context_add_scheme(I, s), NEGOEX_ERR_TOO_MANY_SCHEMES);
    s->cls->destroy(s);
    negoex_context *A = mk(NEGOEX_ROLE_ACCEPTOR, NULL, 1254, 1, 1);
    int ri, ra;
    converse(I, A, &ri, &ra);
    assert_int_equal(ri, DONE);
    assert_int_equal(ra, DONE);
    negoex_message m;
    negoex_bytes t = negoex_context_transcript(A);
    assert_int_equal(negoex_parse_message(t.data, t.len, 0, &m, NULL), NEGOEX_OK);
    assert_int_equal(m.u.nego.auth_scheme_count, 255);
}

/* The peer's NEGO: AuthSchemeCount is a 16-bit field and nothing else limits
 * it but the token size. 60,000 schemes (960,000 bytes), ours last. */
static void test_peer_scheme_count(void **state)
{
    (void)state;
    negoex_context *I = mk1(NEGOEX_ROLE_INITIATOR, NULL, 2); /* no VERIFY yet: the padding cannot break it */
    size_t l0;
    uint8_t *t0 = step(I, NULL, 0, CONT, &l0);
    negoex_message msgs[8];
    size_t n = count_messages(t0, l0, msgs, 8);
    const size_t count = 60000;
    negoex_guid *list = tu_malloc(count * sizeof *list);
    for (size_t i = 0; i < count; i++) {
        memset(list[i].bytes, 0xcc, sizeof list[i].bytes);
        memcpy(list[i].bytes, &i, sizeof i);
    }
    assert_int_equal(negoex_nego_auth_scheme(&msgs[0], 0, &list[count - 1]), NEGOEX_OK);
    tokbuf tb = {NULL, 0, 0};
    negoex_header_fields h = {0, msgs[0].conversation_id};
    size_t need = 0;
    assert_int_equal(negoex_write_nego(NULL, 0, &need, NEGOEX_INITIATOR_NEGO, &h, msgs[0].u.nego.random, list, count,
                                       NULL, 0),
                     NEGOEX_OK);
    assert_int_equal(negoex_write_nego(tb_room(&tb, need), need, &need, NEGOEX_INITIATOR_NEGO, &h,
                                       msgs[0].u.nego.random, list, count, NULL, 0),
                     NEGOEX_OK);
    tb.len += need;
    for (size_t i = 1; i < n; i++)
        tb_message(&tb, &msgs[i], (uint32_t)i);
    assert_true(tb.len < MIB);
    negoex_context *A = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, 1);
    size_t l1;
    uint8_t *t1 = step(A, tb.p, tb.len, CONT, &l1);
    assert_non_null(t1);
    /* 65,536 would not fit the field; more than the token holds is refused. */
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.max_token_size = tb.len - 1;
    negoex_context *A2 = mk1(NEGOEX_ROLE_ACCEPTOR, &cfg, 1);
    expect_rejected(A2, tb.p, tb.len, NEGOEX_ERR_TOKEN_TOO_LARGE);
    tu_free(t0);
    tu_free(t1);
    tu_free(list);
    tu_free(tb.p);
}

/* ------------------------------------------------------------------------ */
/* Messages per token, extensions, alerts: no limit but the token size        */
/* ------------------------------------------------------------------------ */

/* The initiator's first token with `extra` META_DATA messages for schemes
 * nobody has, after its NEGO (renumbered behind them). */
static void padded_first_token(const uint8_t *t0, size_t l0, uint32_t extra, tokbuf *tb)
{
    negoex_message msgs[8];
    size_t n = count_messages(t0, l0, msgs, 8);
    tb->len = 0;
    tb_message(tb, &msgs[0], 0);
    for (uint32_t k = 0; k < extra; k++)
        tb_meta(tb, 1 + k, &msgs[0].conversation_id, k);
    for (size_t i = 1; i < n; i++)
        tb_message(tb, &msgs[i], (uint32_t)(extra + i));
}

static void test_messages_per_token(void **state)
{
    (void)state;
    negoex_context *I = mk1(NEGOEX_ROLE_INITIATOR, NULL, 2); /* no VERIFY yet: the padding cannot break it */
    size_t l0, l1;
    uint8_t *t0 = step(I, NULL, 0, CONT, &l0);
    tokbuf tb = {NULL, 0, 0};
    /* 10,000 messages (64 bytes each): accepted, every one in the transcript. */
    padded_first_token(t0, l0, 10000, &tb);
    assert_int_equal(negoex_token_validate(tb.p, tb.len, NULL), 10000 + 3);
    negoex_context *A = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, 1);
    uint8_t *t1 = step(A, tb.p, tb.len, CONT, &l1);
    assert_int_equal(negoex_context_transcript(A).len, tb.len + l1);
    /* 17,000 (1,088,000 bytes): over the 1 MiB token limit. */
    padded_first_token(t0, l0, 17000, &tb);
    assert_true(tb.len > MIB);
    negoex_context *A2 = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, 1);
    expect_rejected(A2, tb.p, tb.len, NEGOEX_ERR_TOKEN_TOO_LARGE);
    tu_free(t0);
    tu_free(t1);
    tu_free(tb.p);
}

static void test_extensions_and_alerts(void **state)
{
    (void)state;
    negoex_context *I = mk1(NEGOEX_ROLE_INITIATOR, NULL, 2); /* no VERIFY yet: the padding cannot break it */
    size_t l0, l1;
    uint8_t *t0 = step(I, NULL, 0, CONT, &l0);
    negoex_message msgs[8];
    size_t n = count_messages(t0, l0, msgs, 8);
    const size_t count = 65535; /* the field's maximum */
    negoex_extension *ext = tu_malloc(count * sizeof *ext);
    static const uint8_t value[4] = {1, 2, 3, 4};
    for (size_t i = 0; i < count; i++) {
        ext[i].type = (uint32_t)i;
        ext[i].critical = 0;
        ext[i].value.data = value;
        ext[i].value.len = sizeof value;
    }
    negoex_guid schemes[1];
    assert_int_equal(negoex_nego_auth_scheme(&msgs[0], 0, &schemes[0]), NEGOEX_OK);
    negoex_alert *alerts = tu_malloc(count * sizeof *alerts);
    uint8_t pulse[NEGOEX_ALERT_PULSE_LEN];
    negoex_encode_pulse(pulse, 7);
    for (size_t i = 0; i < count; i++) {
        memset(&alerts[i], 0, sizeof alerts[i]);
        alerts[i].type = i % 2 ? NEGOEX_ALERT_TYPE_PULSE : 0x1000u + (uint32_t)i;
        alerts[i].value.data = pulse;
        alerts[i].value.len = sizeof pulse;
    }

    for (int critical = 0; critical < 2; critical++) {
        /* NEGO with 65,535 non-critical extensions (1 MB), then an ALERT with
         * 65,535 alerts for our scheme, before the AP_REQUEST. */
        ext[count - 1].critical = critical;
        tokbuf tb = {NULL, 0, 0};
        negoex_header_fields h = {0, msgs[0].conversation_id};
        size_t need = 0;
        assert_int_equal(negoex_write_nego(NULL, 0, &need, NEGOEX_INITIATOR_NEGO, &h, msgs[0].u.nego.random, schemes,
                                           1, ext, count),
                         NEGOEX_OK);
        assert_int_equal(negoex_write_nego(tb_room(&tb, need), need, &need, NEGOEX_INITIATOR_NEGO, &h,
                                           msgs[0].u.nego.random, schemes, 1, ext, count),
                         NEGOEX_OK);
        tb.len += need;
        size_t nego_len = tb.len;
        uint32_t seq = 1;
        for (size_t i = 1; i < n; i++) {
            if (msgs[i].type == NEGOEX_AP_REQUEST) {
                h.seq = seq++;
                assert_int_equal(negoex_write_alert(NULL, 0, &need, &h, &schemes[0], 0, alerts, count), NEGOEX_OK);
                assert_int_equal(
                    negoex_write_alert(tb_room(&tb, need), need, &need, &h, &schemes[0], 0, alerts, count),
                    NEGOEX_OK);
                tb.len += need;
            }
            tb_message(&tb, &msgs[i], seq++);
        }
        negoex_config cfg;
        negoex_config_init(&cfg);
        cfg.max_token_size = 4 * MIB;
        cfg.max_transcript_size = 8 * MIB;
        negoex_context *A = mk1(NEGOEX_ROLE_ACCEPTOR, &cfg, 1);
        if (!critical) {
            uint8_t *t1 = step(A, tb.p, tb.len, CONT, &l1);
            assert_non_null(t1);
            tu_free(t1);
        } else {
            /* A critical one (none is defined): the whole token is refused. */
            expect_rejected(A, tb.p, tb.len, NEGOEX_ERR_CRITICAL_EXTENSION);
            negoex_error_info e;
            negoex_context_last_error(A, &e);
            assert_true(e.offset > 0 && e.offset < nego_len);
        }
        /* And at the default token size, the same bytes are too many. */
        negoex_context *A2 = mk1(NEGOEX_ROLE_ACCEPTOR, NULL, 1);
        expect_rejected(A2, tb.p, tb.len, NEGOEX_ERR_TOKEN_TOO_LARGE);
        tu_free(tb.p);
    }
    tu_free(t0);
    tu_free(ext);
    tu_free(alerts);
}

/* ------------------------------------------------------------------------ */
/* SPNEGO mechTypes                                                           */
/* ------------------------------------------------------------------------ */

static size_t put_len(uint8_t *p, size_t n)
{
    if (n < 128) {
        p[0] = (uint8_t)n;
        return 1;
    }
    size_t k = 0;
    for (size_t t = n; t != 0; t >>= 8)
        k++;
    p[0] = (uint8_t)(0x80u | k);
    for (size_t i = 0; i < k; i++)
        p[1 + i] = (uint8_t)(n >> (8 * (k - 1 - i)));
    return 1 + k;
}

/* Wraps src (n bytes) in a TLV at dst (dst may not overlap src). */
static size_t tlv(uint8_t *dst, uint8_t tag, const uint8_t *src, size_t n)
{
    dst[0] = tag;
    size_t h = 1 + put_len(dst + 1, n);
    memcpy(dst + h, src, n);
    return h + n;
}

/* An initiator's first token offering `count` one-byte OIDs, then NEGOEX
 * (with_negoex) last. */
static uint8_t *many_mechs(size_t count, int with_negoex, size_t *len)
{
    size_t cap = 3 * count + 64;
    uint8_t *a = tu_malloc(cap), *b = tu_malloc(cap);
    size_t n = 0;
    for (size_t i = 0; i < count; i++) {
        a[n++] = 0x06;
        a[n++] = 0x01;
        a[n++] = (uint8_t)(i & 0x7f);
    }
    if (with_negoex) {
        a[n++] = 0x06;
        a[n++] = NEGOEX_OID_DER_LEN;
        memcpy(a + n, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
        n += NEGOEX_OID_DER_LEN;
    }
    n = tlv(b, 0x30, a, n); /* MechTypeList */
    n = tlv(a, 0xa0, b, n); /* [0] mechTypes */
    n = tlv(b, 0x30, a, n); /* NegTokenInit */
    n = tlv(a, 0xa0, b, n); /* NegotiationToken [0] */
    static const uint8_t spnego_oid[] = {0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
    memcpy(b, spnego_oid, sizeof spnego_oid);
    memcpy(b + sizeof spnego_oid, a, n);
    n = tlv(a, 0x60, b, n + sizeof spnego_oid);
    tu_free(b);
    *len = n;
    return a;
}

static unsigned long trace_lines;
static void count_trace(void *ud, const char *line)
{
    (void)ud;
    (void)line;
    trace_lines++;
}

/* No limit on the initiator's mechTypes besides the token size; the acceptor
 * reads the list once (it used to walk it again for every entry: a 1 MiB list
 * of 350,000 OIDs cost minutes of CPU per token, twice that traced). */
static void test_spnego_many_mechs(void **state)
{
    (void)state;
    /* 100,000 first: quadratic, it took over a minute (traced); linear, a
     * few milliseconds, under a second with valgrind. Then 360,000 (1,080,000
     * bytes of OIDs): as many as the default 1 MiB + 64 KiB admits. */
    static const size_t counts[2] = {100000, 360000};
    for (int k = 0; k < 4; k++) {
        size_t count = counts[k / 2];
        int with_negoex = k % 2;
        size_t len;
        uint8_t *tok = many_mechs(count, with_negoex, &len);
        assert_true(len <= MIB + 64 * 1024);
        negoex_context *nx = NULL;
        assert_int_equal(negoex_context_new(&nx, NEGOEX_ROLE_ACCEPTOR, NULL), NEGOEX_OK);
        negoex_scheme *s;
        assert_int_equal(negoex_test_scheme_new(&s, NULL, NULL), NEGOEX_OK);
        assert_int_equal(negoex_context_add_scheme(nx, s), NEGOEX_OK);
        negoex_spnego_config sc;
        negoex_spnego_config_init(&sc);
        sc.trace = count_trace;
        negoex_spnego *A = NULL;
        assert_int_equal(negoex_spnego_new(&A, nx, &sc), NEGOEX_OK);
        const uint8_t *out;
        size_t out_len;
        clock_t c0 = clock();
        int rc = negoex_spnego_step(A, tok, len, &out, &out_len);
        double cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (with_negoex) {
            /* NEGOEX last, no mechToken: the acceptor asks for a NEGOEX token
             * and, NEGOEX not being first, for MICs. */
            assert_int_equal(rc, CONT);
            negoex_spnego_token t;
            assert_int_equal(negoex_spnego_parse(out, out_len, &t, NULL), NEGOEX_OK);
            assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_REQUEST_MIC);
        } else {
            assert_int_equal(rc, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
        }
        if (cpu > 10.0)
            fail_msg("%zu mechTypes took %.1f s of CPU", count, cpu);
        negoex_spnego_free(A);
        tu_free(tok);
    }
    assert_true(trace_lines >= 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, tu_release_all),
        cmocka_unit_test_teardown(test_default_token_size, tu_release_all),
        cmocka_unit_test_teardown(test_spnego_inner_token_size, tu_release_all),
        cmocka_unit_test_teardown(test_transcript_many_hops, tu_release_all),
        cmocka_unit_test_teardown(test_max_schemes_bound, tu_release_all),
        cmocka_unit_test_teardown(test_peer_scheme_count, tu_release_all),
        cmocka_unit_test_teardown(test_messages_per_token, tu_release_all),
        cmocka_unit_test_teardown(test_extensions_and_alerts, tu_release_all),
        cmocka_unit_test_teardown(test_spnego_many_mechs, tu_release_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
