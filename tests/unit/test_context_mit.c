/*
 * The state machine against MIT krb5's own tokens
 * (../shared/vectors/mit/scenarios/NN-name/NN-{i2a,a2i}.negoex).
 *
 * Acceptor replays: MIT's first initiator token of each test-mechanism
 * scenario goes to OUR acceptor, configured as that scenario's acceptor
 * (mechanisms and order, KEY mode, failure knobs from env.txt). Our reply must
 * be MIT's reply message for message (type, SequenceNum, conversation id,
 * scheme / scheme list, identical META_DATA / CHALLENGE payloads and ALERTs);
 * only ACCEPTOR_NEGO's Random and therefore the VERIFY checksums differ, so
 * our VERIFYs are recomputed over our own transcript instead. MIT's initiator
 * VERIFY in that first token must pass our check. Later MIT initiator tokens
 * are fed too, as long as they carry no VERIFY (those sign MIT's acceptor
 * Random, which we did not send).
 *
 * Initiator replays, the mirror image: our initiator, its RNG handing out MIT's
 * ConversationId and NEGO Random, must produce MIT's first token (the NEGO's
 * vector layout aside: MIT packs it, we write Windows' layout), and then
 * answer MIT's acceptor tokens as MIT's initiator did, as long as those carry
 * no VERIFY (which signs MIT's initiator NEGO bytes, not ours).
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

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme_test.h>

#include "checksum.h"
#include "testutil.h"

/* Test memory and contexts are tracked (testutil: tu_malloc, tu_ctx_track, ...)
 * and released by the tu_release_all teardown, so a failed assertion leaks nothing. */

static const char *const MECH_OID[3] = {NULL, NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};

#define EST NEGOEX_TEST_KEY_ESTABLISHED
#define ALWAYS NEGOEX_TEST_KEY_ALWAYS
#define DONE NEGOEX_COMPLETE
#define CONT NEGOEX_CONTINUE

/* One side, in MIT's knobs (see test_context.c). */
typedef struct side_cfg {
    int mechs[2];
    unsigned hops;
    negoex_test_key_mode keys;
    int fail_query, fail_exchange, fail_step, no_meta; /* for mech 1 ("102") */
    int no_optimistic;
} side_cfg;

typedef struct replay {
    const char *dir;
    side_cfg init, acc;
    int acc_rc;       /* our acceptor's result on MIT's first token */
    int acc_verified; /* ... and whether it checked MIT's VERIFY */
    int acc_sel;      /* ... and the scheme it selected (0 = none) */
} replay;

/* Both test mechanisms in the default order, HOPS h, KEY k. */
#define BOTH(h, k) {.mechs = {1, 2}, .hops = h, .keys = k}
#define INIT_ALWAYS NEGOEX_TEST_KEY_INIT_ALWAYS
#define ACCEPT_ALWAYS NEGOEX_TEST_KEY_ACCEPT_ALWAYS
#define NEVER NEGOEX_TEST_KEY_NEVER

static replay REPLAYS[] = {
    {"01-one-hop", BOTH(1, EST), BOTH(1, EST), DONE, 1, 1},
    {"02-two-hops", BOTH(2, EST), BOTH(2, EST), CONT, 0, 1},
    {"03-three-hops", BOTH(3, EST), BOTH(3, EST), CONT, 0, 1},
    {"04-four-hops", BOTH(4, EST), BOTH(4, EST), CONT, 0, 1},
    {"05-early-keys-three-hops", BOTH(3, ALWAYS), BOTH(3, ALWAYS), CONT, 1, 1},
    {"06-early-keys-four-hops", BOTH(4, ALWAYS), BOTH(4, ALWAYS), CONT, 1, 1},
    {"07-no-keys", BOTH(1, NEVER), BOTH(1, NEVER), 0, 0, 0},
    {"08-no-optimistic-token", {.mechs = {1, 2}, .hops = 1, .no_optimistic = 1}, BOTH(1, EST), CONT, 0, 1},
    {"09-first-mech-init-query-fail", {.mechs = {1, 2}, .hops = 1, .fail_query = 1}, BOTH(1, EST), DONE, 1, 2},
    {"10-first-mech-accept-query-fail", BOTH(1, EST), {.mechs = {1, 2}, .hops = 1, .fail_query = 1}, CONT, 0, 2},
    {"11-first-mech-accept-exchange-fail", BOTH(1, EST), {.mechs = {1, 2}, .hops = 1, .fail_exchange = 1}, CONT, 0,
     2},
    {"12-init-exchange-fail-one-hop", {.mechs = {1, 2}, .hops = 1, .fail_exchange = 1}, BOTH(1, EST), DONE, 1, 1},
    {"13-init-exchange-fail-two-hops-early-keys", {.mechs = {1, 2}, .hops = 2, .keys = ALWAYS, .fail_exchange = 1},
     BOTH(2, ALWAYS), DONE, 1, 1},
    {"14-init-exchange-fail-two-hops", {.mechs = {1, 2}, .hops = 2, .fail_exchange = 1}, BOTH(2, EST), CONT, 0, 1},
    {"15-first-mech-init-sec-context-fail", {.mechs = {1, 2}, .hops = 1, .fail_step = 1}, BOTH(1, EST), DONE, 1, 2},
    {"16-first-mech-accept-sec-context-fail", BOTH(2, EST), {.mechs = {1, 2}, .hops = 2, .fail_step = 1}, CONT, 0,
     1},
    {"17-alert-acceptor-to-initiator", BOTH(3, INIT_ALWAYS), BOTH(3, INIT_ALWAYS), CONT, 0, 1},
    {"18-alert-initiator-to-acceptor", BOTH(4, ACCEPT_ALWAYS), BOTH(4, ACCEPT_ALWAYS), CONT, 0, 1},
    {"19-channel-bindings", BOTH(1, EST), BOTH(1, EST), DONE, 1, 1},
    {"20-five-hops", BOTH(5, EST), BOTH(5, EST), CONT, 0, 1},
    {"22-single-scheme-both-sides", {.mechs = {1, 0}, .hops = 1}, {.mechs = {1, 0}, .hops = 1}, DONE, 1, 1},
    {"23-acceptor-supports-only-second", BOTH(2, EST), {.mechs = {2, 0}, .hops = 2}, CONT, 0, 2},
    {"24-no-metadata-either-side", {.mechs = {1, 0}, .hops = 1, .no_meta = 1},
     {.mechs = {1, 0}, .hops = 1, .no_meta = 1}, DONE, 1, 1},
    {"25-initiator-prefers-second", {.mechs = {2, 1}, .hops = 1}, BOTH(1, EST), CONT, 0, 1},
    {"26-no-common-scheme", {.mechs = {1, 0}, .hops = 1}, {.mechs = {2, 0}, .hops = 1}, NEGOEX_ERR_NO_COMMON_SCHEME,
     0, 0},
    {"27-two-schemes-neg-mechs-both", BOTH(2, EST), BOTH(2, EST), CONT, 0, 1},
};

/* ------------------------------------------------------------------------ */

static const char *rc_name(int rc)
{
    static char buf[4][48];
    static unsigned k;
    if (rc == NEGOEX_CONTINUE)
        return "CONTINUE";
    if (rc == NEGOEX_COMPLETE)
        return "COMPLETE";
    char *b = buf[k++ % 4];
    snprintf(b, sizeof buf[0], "ERR_%s", negoex_error_name(rc));
    return b;
}

/* MIT token NN-dir.negoex of a scenario, or NULL if MIT sent none. */
static uint8_t *load_mit(const char *dir, unsigned nn, const char *way, size_t *len)
{
    char rel[256];
    snprintf(rel, sizeof rel, "mit/scenarios/%s/%02u-%s.negoex", dir, nn, way);
    FILE *f = fopen(tu_path(rel), "rb");
    if (f == NULL) {
        *len = 0;
        return NULL;
    }
    fclose(f);
    return tu_load_tracked(rel, len);
}

static void add_scheme(negoex_context *ctx, int mech, const side_cfg *s)
{
    negoex_test_scheme_config c;
    negoex_test_scheme_config_init(&c);
    c.mech_oid = MECH_OID[mech];
    c.hops = s->hops ? s->hops : 1;
    c.keys = s->keys;
    if (mech == 1) {
        c.fail_query = s->fail_query;
        c.fail_exchange = s->fail_exchange;
        c.fail_step = s->fail_step;
        c.no_meta_data = s->no_meta;
    }
    negoex_scheme *sc = NULL;
    assert_int_equal(negoex_test_scheme_new(&sc, &c, NULL), NEGOEX_OK);
    int rc = negoex_context_add_scheme(ctx, sc);
    if (rc != NEGOEX_OK)
        sc->cls->destroy(sc);
    assert_int_equal(rc, NEGOEX_OK);
}

/* RNG handing out a fixed byte string (then a counter). */
typedef struct feed_rng {
    uint8_t bytes[64];
    size_t len, pos;
    uint8_t next;
} feed_rng;

static int feed(void *ud, uint8_t *out, size_t len)
{
    feed_rng *f = ud;
    for (size_t i = 0; i < len; i++)
        out[i] = f->pos < f->len ? f->bytes[f->pos++] : f->next++;
    return 0;
}

static negoex_context *make(negoex_role role, const side_cfg *s, feed_rng *rng)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.rng = feed;
    cfg.rng_ud = rng;
    if (role == NEGOEX_ROLE_INITIATOR && s->no_optimistic)
        cfg.optimistic = 0;
    negoex_context *ctx = NULL;
    assert_int_equal(negoex_context_new(&ctx, role, &cfg), NEGOEX_OK);
    tu_ctx_track(ctx);
    for (size_t i = 0; i < 2; i++)
        if (s->mechs[i])
            add_scheme(ctx, s->mechs[i], s);
    return ctx;
}

/* Our VERIFY at `v` in token `tok` must check over prefix || tok[0..v.offset)
 * with the test scheme's key of its sender, type 16. */
static void check_our_verify(const negoex_message *v, const uint8_t *prefix, size_t plen, const uint8_t *tok,
                             int from_initiator)
{
    assert_int_equal(v->u.verify.checksum_scheme, NEGOEX_CHECKSUM_SCHEME_RFC3961);
    assert_int_equal(v->u.verify.checksum_type, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256);
    assert_int_equal(v->u.verify.checksum.len, 12);
    uint8_t key[32] = {0};
    key[0] = (uint8_t)(from_initiator ? 1 : 0);
    size_t n = plen + v->offset;
    uint8_t *data = tu_malloc(n ? n : 1);
    assert_non_null(data);
    if (plen)
        memcpy(data, prefix, plen);
    memcpy(data + plen, tok, v->offset);
    int rc = negoex_checksum_verify(16, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, key, sizeof key,
                                    from_initiator ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM
                                                   : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM,
                                    data, n, v->u.verify.checksum.data, v->u.verify.checksum.len);
    tu_free(data);
    assert_int_equal(rc, NEGOEX_OK);
}

/*
 * Our token against MIT's for the same leg. prefix/plen: our context's
 * transcript before this token (for our VERIFYs). same_random: NEGO Random
 * must match too (our initiator fed MIT's). NEGO bytes 80..95 (the vector
 * layout) are not compared: MIT packs them.
 */
static void compare_token(const char *dir, unsigned nn, const uint8_t *ours, size_t olen, const uint8_t *mit,
                          size_t mlen, const uint8_t *prefix, size_t plen, int from_initiator, int same_random)
{
    size_t no = tu_msg_count(ours, olen), nm = tu_msg_count(mit, mlen);
    if (no != nm) {
        print_error("%s token %02u: ours has %zu messages, MIT's %zu\n", dir, nn, no, nm);
        for (size_t i = 0; i < no || i < nm; i++) {
            negoex_message a, b;
            memset(&a, 0, sizeof a);
            memset(&b, 0, sizeof b);
            if (i < no)
                a = tu_msg_at(ours, olen, i);
            if (i < nm)
                b = tu_msg_at(mit, mlen, i);
            print_error("   ours %-24s | MIT %s\n", i < no ? negoex_message_type_name(a.type) : "-",
                        i < nm ? negoex_message_type_name(b.type) : "-");
        }
        fail_msg("%s token %02u: message count differs", dir, nn);
    }
    for (size_t i = 0; i < no; i++) {
        negoex_message a = tu_msg_at(ours, olen, i), b = tu_msg_at(mit, mlen, i);
        if (a.type != b.type || a.seq != b.seq)
            fail_msg("%s token %02u message %zu: ours [%u]%s, MIT's [%u]%s", dir, nn, i, (unsigned)a.seq,
                     negoex_message_type_name(a.type), (unsigned)b.seq, negoex_message_type_name(b.type));
        /* header: type, seq, both lengths, conversation id */
        assert_memory_equal(a.raw.data, b.raw.data, NEGOEX_MESSAGE_HEADER_LEN);
        switch (negoex_message_structure(a.type)) {
        case NEGOEX_STRUCT_NEGO:
            assert_int_equal(a.raw.len, b.raw.len);
            if (same_random)
                assert_memory_equal(a.u.nego.random, b.u.nego.random, NEGOEX_RANDOM_LEN);
            assert_memory_equal(a.raw.data + 72, b.raw.data + 72, 8); /* ProtocolVersion */
            assert_int_equal(a.u.nego.auth_scheme_count, b.u.nego.auth_scheme_count);
            assert_memory_equal(a.u.nego.auth_schemes, b.u.nego.auth_schemes,
                                (size_t)a.u.nego.auth_scheme_count * NEGOEX_AUTH_SCHEME_LEN);
            assert_int_equal(a.u.nego.extension_count, 0);
            assert_int_equal(b.u.nego.extension_count, 0);
            break;
        case NEGOEX_STRUCT_EXCHANGE:
            /* scheme and payload, and so the whole message */
            assert_int_equal(a.raw.len, b.raw.len);
            assert_memory_equal(a.raw.data, b.raw.data, a.raw.len);
            break;
        case NEGOEX_STRUCT_ALERT:
            assert_int_equal(a.raw.len, b.raw.len);
            assert_memory_equal(a.raw.data, b.raw.data, a.raw.len);
            break;
        case NEGOEX_STRUCT_VERIFY:
            assert_true(negoex_guid_equal(&a.u.verify.auth_scheme, &b.u.verify.auth_scheme));
            assert_int_equal(a.u.verify.checksum_type, b.u.verify.checksum_type);
            check_our_verify(&a, prefix, plen, ours, from_initiator);
            break;
        default:
            fail();
        }
    }
}

static void test_acceptor_replay(void **state)
{
    const replay *s = *state;
    size_t l0;
    uint8_t *t0 = load_mit(s->dir, 0, "i2a", &l0);
    assert_non_null(t0);
    feed_rng rng = {{0}, 0, 0, 0x40};
    negoex_context *A = make(NEGOEX_ROLE_ACCEPTOR, &s->acc, &rng);

    uint8_t *out;
    size_t olen;
    int rc = tu_step_checked(A, t0, l0, &out, &olen);
    if (rc != s->acc_rc)
        fail_msg("%s: our acceptor returned %s on MIT's first token, want %s", s->dir, rc_name(rc),
                 rc_name(s->acc_rc));
    /* MIT's own VERIFY in that token passed our check where a key exists */
    assert_int_equal(negoex_context_peer_verified(A), s->acc_verified);
    negoex_scheme *sel = negoex_context_selected_scheme(A);
    if (s->acc_sel == 0) {
        assert_null(sel);
    } else {
        assert_non_null(sel);
        uint8_t oid[16];
        size_t oid_len;
        assert_int_equal(negoex_oid_encode(MECH_OID[s->acc_sel], oid, sizeof oid, &oid_len), NEGOEX_OK);
        assert_memory_equal(sel->auth_scheme.bytes, oid, oid_len);
    }

    /* our reply against MIT's, then MIT's later initiator tokens without VERIFY */
    uint8_t *prefix = tu_dup(t0, l0);
    size_t plen = l0;
    for (unsigned nn = 1;; nn += 2) {
        size_t mlen;
        uint8_t *mit = load_mit(s->dir, nn, "a2i", &mlen);
        if (mit == NULL) {
            if (olen != 0)
                fail_msg("%s: our acceptor sent %zu bytes where MIT sent no NEGOEX token (%02u)", s->dir, olen, nn);
        } else {
            if (olen == 0)
                fail_msg("%s: our acceptor sent nothing where MIT sent %02u-a2i (%s)", s->dir, nn, rc_name(rc));
            compare_token(s->dir, nn, out, olen, mit, mlen, prefix, plen, 0, 0);
        }
        tu_free(mit);
        if (rc < 0 || out == NULL) {
            tu_free(out);
            break;
        }
        uint8_t *np = tu_malloc(plen + olen);
        assert_non_null(np);
        memcpy(np, prefix, plen);
        memcpy(np + plen, out, olen);
        tu_free(prefix);
        tu_free(out);
        prefix = np;
        plen += olen;

        size_t ilen;
        uint8_t *in = load_mit(s->dir, nn + 1, "i2a", &ilen);
        if (in == NULL || tu_msg_count_type(in, ilen, NEGOEX_VERIFY) != 0) {
            tu_free(in);
            break;
        }
        rc = tu_step_checked(A, in, ilen, &out, &olen);
        if (rc < 0 && rc != NEGOEX_ERR_SCHEME_FAILED)
            fail_msg("%s: our acceptor refused MIT's %02u-i2a: %s", s->dir, nn + 1, rc_name(rc));
        np = tu_malloc(plen + ilen);
        assert_non_null(np);
        memcpy(np, prefix, plen);
        memcpy(np + plen, in, ilen);
        tu_free(prefix);
        prefix = np;
        plen += ilen;
        tu_free(in);
    }
    tu_free(prefix);
    tu_free(t0);
    tu_ctx_free(A);
}

static void test_initiator_replay(void **state)
{
    const replay *s = *state;
    size_t l0;
    uint8_t *mit0 = load_mit(s->dir, 0, "i2a", &l0);
    feed_rng rng = {{0}, 0, 0, 0x40};
    if (mit0 != NULL) {
        negoex_message n = tu_msg_at(mit0, l0, 0);
        memcpy(rng.bytes, n.conversation_id.bytes, 16);
        memcpy(rng.bytes + 16, n.u.nego.random, NEGOEX_RANDOM_LEN);
        rng.len = 16 + NEGOEX_RANDOM_LEN;
    }
    negoex_context *I = make(NEGOEX_ROLE_INITIATOR, &s->init, &rng);
    uint8_t *out;
    size_t olen;
    int rc = tu_step_checked(I, NULL, 0, &out, &olen);
    if (mit0 == NULL) {
        /* 07: no key, nothing sent */
        assert_int_equal(rc, NEGOEX_ERR_NO_KEY);
        assert_null(out);
        tu_ctx_free(I);
        return;
    }
    assert_int_equal(rc, NEGOEX_CONTINUE);
    assert_non_null(out);
    compare_token(s->dir, 0, out, olen, mit0, l0, NULL, 0, 1, 1);
    /* everything but the NEGO's vector layout is MIT's bytes */
    assert_int_equal(olen, l0);
    assert_memory_equal(out, mit0, 80);
    assert_memory_equal(out + 96, mit0 + 96, olen - 96 - (tu_msg_count_type(out, olen, NEGOEX_VERIFY) ? 12 : 0));

    uint8_t *prefix = out;
    size_t plen = olen;
    if (s->init.fail_exchange) {
        /* 12-14: MIT's acceptor continued the optimistic scheme (its reply
         * holds a CHALLENGE or VERIFY for it), which the initiator then drops
         * in metadata exchange: nothing left to use. This is decided before
         * any VERIFY is looked at, so MIT's reply can be replayed. */
        size_t alen;
        uint8_t *in = load_mit(s->dir, 1, "a2i", &alen);
        assert_non_null(in);
        rc = tu_step_checked(I, in, alen, &out, &olen);
        if (rc != NEGOEX_ERR_NO_COMMON_SCHEME)
            fail_msg("%s: our initiator returned %s on MIT's reply (%zu bytes out), want ERR_NO_COMMON_SCHEME",
                     s->dir, rc_name(rc), olen);
        assert_null(out);
        tu_free(in);
        tu_free(prefix);
        tu_free(mit0);
        tu_ctx_free(I);
        return;
    }
    for (unsigned nn = 1;; nn += 2) {
        size_t alen;
        uint8_t *in = load_mit(s->dir, nn, "a2i", &alen);
        if (in == NULL || tu_msg_count_type(in, alen, NEGOEX_VERIFY) != 0) {
            tu_free(in);
            break;
        }
        rc = tu_step_checked(I, in, alen, &out, &olen);
        uint8_t *np = tu_malloc(plen + alen);
        assert_non_null(np);
        memcpy(np, prefix, plen);
        memcpy(np + plen, in, alen);
        tu_free(prefix);
        tu_free(in);
        prefix = np;
        plen += alen;
        size_t mlen;
        uint8_t *mit = load_mit(s->dir, nn + 1, "i2a", &mlen);
        if (rc < 0) {
            /* 16: MIT's acceptor said "fail"; MIT's initiator sent a reject */
            if (mit != NULL || rc != NEGOEX_ERR_SCHEME_FAILED)
                fail_msg("%s: our initiator refused MIT's %02u-a2i: %s", s->dir, nn, rc_name(rc));
            tu_free(out);
            break;
        }
        if (mit == NULL) {
            if (olen != 0)
                fail_msg("%s: our initiator sent %zu bytes where MIT sent no NEGOEX token (%02u)", s->dir, olen,
                         nn + 1);
            tu_free(out);
            break;
        }
        if (olen == 0)
            fail_msg("%s: our initiator sent nothing where MIT sent %02u-i2a", s->dir, nn + 1);
        compare_token(s->dir, nn + 1, out, olen, mit, mlen, prefix, plen, 1, 1);
        tu_free(mit);
        np = tu_malloc(plen + olen);
        assert_non_null(np);
        memcpy(np, prefix, plen);
        memcpy(np + plen, out, olen);
        tu_free(prefix);
        tu_free(out);
        prefix = np;
        plen += olen;
    }
    tu_free(prefix);
    tu_free(mit0);
    tu_ctx_free(I);
}

#define NREPLAY (sizeof REPLAYS / sizeof REPLAYS[0])

int main(void)
{
    /* every scenario twice, except 07's acceptor side (MIT sent no token) */
    struct CMUnitTest tests[2 * NREPLAY - 1];
    static char names[2 * NREPLAY][96];
    size_t n = 0;
    for (size_t i = 0; i < NREPLAY; i++) {
        if (strcmp(REPLAYS[i].dir, "07-no-keys") != 0) {
            snprintf(names[n], sizeof names[0], "acceptor %s", REPLAYS[i].dir);
            tests[n] = (struct CMUnitTest){names[n], test_acceptor_replay, NULL, tu_release_all, &REPLAYS[i]};
            n++;
        }
        snprintf(names[n], sizeof names[0], "initiator %s", REPLAYS[i].dir);
        tests[n] = (struct CMUnitTest){names[n], test_initiator_replay, NULL, tu_release_all, &REPLAYS[i]};
        n++;
    }
    assert_int_equal(n, sizeof tests / sizeof tests[0]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
