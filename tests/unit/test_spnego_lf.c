/*
 * The SPNEGO context with MS-SPNG rev 21.0's Late Fallback and fragments
 * (docs/spnego-late-fallback.md section 4), our initiator against our
 * acceptor: the retry after a non-fatal failure (NEGOEX without a shared
 * scheme, an app mech's MECH_RETRY) with the mechListMIC over every list
 * exchanged, one side only (RFC 4178 unchanged), a second failure, and
 * fragmentation each way and both at once (test scheme and PKU2U), hostile
 * fragments, allocation-failure sweeps.
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

#include <openssl/x509.h>

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>
#include <negoex/spnego_mech_ntlmtoy.h>
#include <negoex/testpki.h>

#include "testutil.h"

static const uint8_t OID_NTLM[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t SECRET[] = "correct horse battery staple";

static negoex_testpki *PKI;
static STACK_OF(X509) *ANCHORS;

/* ------------------------------------------------------------------------ */
/* Sides                                                                      */
/* ------------------------------------------------------------------------ */

typedef struct opts {
    int scheme;        /* 0 none, 1 nxtoy (MICs), 2 test scheme MECH2 (shares nothing with 1), 3 PKU2U,
                        * 4 test scheme MECH1 (no MICs) */
    int toy;           /* ntlmtoy app mech */
    const char *user;  /* initiator's ntlmtoy user */
    const char *expect; /* acceptor's expected user (retryable when not matched) */
    int lf;
    size_t frag;       /* max_output_token_size */
    size_t max_in;     /* max_input_fragments (0 here: the reassembly default; SIZE_MAX: config_init's) */
    size_t negoex_pos;
    int policy;
    const negoex_allocator *alloc;
} opts;

typedef struct side {
    negoex_ntlmtoy_config toy;
    negoex_pku2u_config pk;
    negoex_pku2u_status st;
    negoex_spnego_app_mech apps[1];
    negoex_spnego *sp;
} side;

/* 0 or an error (allocation failures while building). */
static int build(side *s, negoex_role role, const opts *o)
{
    memset(s, 0, sizeof *s);
    negoex_context *nx = NULL;
    int rc = NEGOEX_OK;
    if (o->scheme != 0) {
        negoex_config c;
        negoex_config_init(&c);
        c.allocator = o->alloc;
        if ((rc = negoex_context_new(&nx, role, &c)) != NEGOEX_OK)
            return rc;
        negoex_scheme *sc = NULL;
        if (o->scheme == 3) {
            negoex_pku2u_config_init(&s->pk);
            negoex_testpki_entity e = role == NEGOEX_ROLE_INITIATOR ? NEGOEX_TESTPKI_USER : NEGOEX_TESTPKI_DEVICE;
            s->pk.cert = negoex_testpki_get0_cert(PKI, e);
            s->pk.key = negoex_testpki_get0_key(PKI, e);
            s->pk.trust_anchors = ANCHORS;
            if (role == NEGOEX_ROLE_INITIATOR)
                s->pk.target_host = negoex_testpki_host(PKI);
            s->pk.status = &s->st;
            rc = negoex_pku2u_scheme_new(&sc, &s->pk, o->alloc);
        } else if (o->scheme == 1) {
            negoex_nxtoy_config nc;
            negoex_nxtoy_config_init(&nc);
            rc = negoex_nxtoy_scheme_new(&sc, &nc, o->alloc);
        } else {
            negoex_test_scheme_config tc;
            negoex_test_scheme_config_init(&tc);
            tc.mech_oid = o->scheme == 4 ? NEGOEX_TEST_MECH1_OID : NEGOEX_TEST_MECH2_OID;
            rc = negoex_test_scheme_new(&sc, &tc, o->alloc);
        }
        if (rc == NEGOEX_OK && (rc = negoex_context_add_scheme(nx, sc)) != NEGOEX_OK)
            sc->cls->destroy(sc);
        if (rc != NEGOEX_OK) {
            negoex_context_free(nx);
            return rc;
        }
    }
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    if (o->toy) {
        negoex_ntlmtoy_config_init(&s->toy);
        s->toy.user = o->user != NULL ? o->user : "alice@contoso.test";
        s->toy.secret = SECRET;
        s->toy.secret_len = sizeof SECRET - 1;
        s->toy.allocator = o->alloc;
        if (role == NEGOEX_ROLE_ACCEPTOR && o->expect != NULL) {
            s->toy.expected_user = o->expect;
            s->toy.unknown_user_retry = 1;
        }
        s->apps[0] = (negoex_spnego_app_mech){{OID_NTLM, sizeof OID_NTLM}, negoex_ntlmtoy_mech(), &s->toy};
        cfg.app_mechs = s->apps;
        cfg.app_mech_count = 1;
    }
    cfg.role = role;
    cfg.allocator = o->alloc;
    cfg.negoex_position = o->negoex_pos;
    cfg.acceptor_policy = o->policy;
    cfg.late_fallback = o->lf;
    cfg.max_output_token_size = o->frag;
    /* Reassembly is opt-in; these tests want it unless they say otherwise
     * (SIZE_MAX: keep negoex_spnego_config_init's default). */
    if (o->max_in != SIZE_MAX)
        cfg.max_input_fragments = o->max_in == 0 ? NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS : o->max_in;
    rc = negoex_spnego_new(&s->sp, nx, &cfg);
    if (rc != NEGOEX_OK)
        negoex_context_free(nx);
    return rc;
}

static void must_build(side *s, negoex_role role, const opts *o)
{
    int rc = build(s, role, o);
    if (rc != NEGOEX_OK)
        fail_msg("build: %s", negoex_error_name(rc));
}

/* ------------------------------------------------------------------------ */
/* The conversation                                                           */
/* ------------------------------------------------------------------------ */

#define MAX_WIRE 2000

/* What went over the wire: each message (empty = an acknowledgement). */
typedef struct wire {
    uint8_t *msg[MAX_WIRE];
    size_t len[MAX_WIRE];
    int from_init[MAX_WIRE];
    size_t n;
    size_t empties;
    int rc_i, rc_a;
} wire;

static void wire_free(wire *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->msg[i]);
    memset(w, 0, sizeof *w);
}

/* Runs I against A until both stop. Empty outputs during fragments are
 * delivered as step(NULL, 0). */
static void converse(negoex_spnego *I, negoex_spnego *A, wire *w)
{
    memset(w, 0, sizeof *w);
    const uint8_t *out;
    size_t len;
    int rc = negoex_spnego_step(I, NULL, 0, &out, &len);
    int from_i = 1;
    w->rc_i = rc;
    w->rc_a = NEGOEX_CONTINUE;
    while (w->n < MAX_WIRE) {
        negoex_spnego *to = from_i ? A : I;
        if (len == 0 && (rc < 0 || rc == NEGOEX_COMPLETE))
            break; /* nothing more to send */
        uint8_t *copy = len ? malloc(len) : NULL;
        if (len)
            memcpy(copy, out, len);
        w->msg[w->n] = copy;
        w->len[w->n] = len;
        w->from_init[w->n] = from_i;
        w->n++;
        w->empties += len == 0;
        int prev = rc;
        rc = negoex_spnego_step(to, copy, len, &out, &len);
        if (from_i)
            w->rc_a = rc;
        else
            w->rc_i = rc;
        from_i = !from_i;
        if (prev < 0)
            break; /* the reject went out; its answer is the last */
    }
}

/* The whole tokens: fragments joined (a message is a fragment when its
 * header announces more; the followers are the same sender's until the
 * token is whole). */
static size_t whole_tokens(const wire *w, uint8_t **tok, size_t *tlen, int *from_init, size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < w->n && n < max; i++) {
        if (w->len[i] == 0)
            continue;
        negoex_spnego_fragment_header h;
        assert_int_equal(negoex_spnego_fragment_parse(w->msg[i], w->len[i], &h, NULL), NEGOEX_OK);
        uint8_t *t = malloc(h.token_len);
        size_t have = 0;
        size_t j = i;
        for (; j < w->n && have < h.token_len; j++) {
            if (w->len[j] == 0 || w->from_init[j] != w->from_init[i])
                continue;
            memcpy(t + have, w->msg[j], w->len[j]);
            have += w->len[j];
        }
        assert_int_equal(have, h.token_len);
        tok[n] = t;
        tlen[n] = have;
        from_init[n++] = w->from_init[i];
        i = j - 1;
    }
    return n;
}

/* Every list of the conversation in wire order and the last MIC the
 * acceptor sent; checks that MIC with the initiator's app mech state over
 * negoex_spnego_late_fallback_mic_input. Returns the number of lists. */
static size_t check_final_mic(const wire *w, negoex_spnego *I, int lf)
{
    uint8_t *tok[64];
    size_t tlen[64];
    int fi[64];
    size_t n = whole_tokens(w, tok, tlen, fi, 64);
    negoex_spnego_sent_list lists[8];
    size_t nl = 0;
    negoex_bytes mic = {NULL, 0};
    for (size_t i = 0; i < n; i++) {
        negoex_spnego_token t;
        assert_int_equal(negoex_spnego_parse_ex(tok[i], tlen[i], NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, NULL),
                         NEGOEX_OK);
        if (t.mech_types.data != NULL && (lf || nl == 0))
            lists[nl++] = (negoex_spnego_sent_list){NEGOEX_SPNEGO_LIST_MECH_TYPES, t.mech_types};
        if (t.supported_mechs.data != NULL)
            lists[nl++] = (negoex_spnego_sent_list){NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, t.supported_mechs};
        if (!fi[i] && t.mech_list_mic.data != NULL)
            mic = t.mech_list_mic;
    }
    assert_non_null(mic.data);
    uint8_t input[4096];
    size_t ilen;
    if (lf) {
        assert_int_equal(negoex_spnego_late_fallback_mic_input(input, sizeof input, &ilen, lists, nl), NEGOEX_OK);
    } else {
        memcpy(input, lists[0].list.data, lists[0].list.len);
        ilen = lists[0].list.len;
    }
    void *st = negoex_spnego_app_state(I);
    if (st != NULL) {
        assert_int_equal(negoex_ntlmtoy_mech()->verify_mic(st, input, ilen, mic.data, mic.len), NEGOEX_OK);
        input[ilen - 1] ^= 1; /* a MIC over anything else fails */
        assert_int_not_equal(negoex_ntlmtoy_mech()->verify_mic(st, input, ilen, mic.data, mic.len), NEGOEX_OK);
    } else {
        assert_int_equal(negoex_context_verify_mic(negoex_spnego_negoex(I), input, ilen, mic.data, mic.len),
                         NEGOEX_OK);
    }
    for (size_t i = 0; i < n; i++)
        free(tok[i]);
    return nl;
}

static void assert_complete(const wire *w, negoex_spnego *I, negoex_spnego *A)
{
    if (!negoex_spnego_is_complete(I) || !negoex_spnego_is_complete(A))
        fail_msg("not complete: initiator %s, acceptor %s", negoex_error_name(w->rc_i), negoex_error_name(w->rc_a));
}

/* ------------------------------------------------------------------------ */
/* Late Fallback                                                              */
/* ------------------------------------------------------------------------ */

/* Initiator [ntlmtoy, NEGOEX, LF]; acceptor prefers NEGOEX, shares no auth
 * scheme: NEGOEX fails (NO_COMMON_SCHEME) -> retry reject [4] = [ntlmtoy]
 * -> new NegTokenInit [ntlmtoy] -> ntlmtoy completes; MIC over 4 lists. */
static void test_lf_retry_no_common_scheme(void **state)
{
    (void)state;
    side i, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = 1});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 2, .toy = 1, .lf = 1, .negoex_pos = 0});
    wire w;
    converse(i.sp, a.sp, &w);
    assert_complete(&w, i.sp, a.sp);
    assert_int_equal(negoex_spnego_late_fallback(i.sp), 1);
    assert_int_equal(negoex_spnego_late_fallback(a.sp), 1);
    assert_int_equal(negoex_spnego_retries(i.sp), 1);
    assert_int_equal(negoex_spnego_retries(a.sp), 1);
    assert_int_equal(negoex_spnego_selected_app(i.sp), 0);
    assert_int_equal(negoex_spnego_selected_app(a.sp), 0);
    assert_true(negoex_spnego_mic_exchanged(i.sp) && negoex_spnego_mic_exchanged(a.sp));
    assert_int_equal(check_final_mic(&w, i.sp, 1), 4);
    wire_free(&w);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(a.sp);
}

/* ntlmtoy selected, the acceptor does not know the user (MECH_RETRY):
 * retry with NEGOEX (shared test scheme) completes. */
static void test_lf_retry_mech_retry(void **state)
{
    (void)state;
    side i, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = 1, .user = "bob"});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR,
               &(opts){.scheme = 1, .toy = 1, .lf = 1, .expect = "alice", .policy = NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER});
    wire w;
    converse(i.sp, a.sp, &w);
    assert_complete(&w, i.sp, a.sp);
    assert_int_equal(negoex_spnego_retries(a.sp), 1);
    assert_int_equal(negoex_spnego_selected_app(a.sp), -1); /* NEGOEX */
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_selected_mech(i.sp, &oid), NEGOEX_OK);
    assert_memory_equal(oid.data, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
    assert_int_equal(check_final_mic(&w, i.sp, 1), 4);
    wire_free(&w);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(a.sp);
}

/* Steps I and A by hand through the whole tokens list, returning after
 * delivering `stop` messages (no fragments here). */
static int deliver(negoex_spnego *to, const uint8_t *m, size_t n, const uint8_t **out, size_t *len)
{
    return negoex_spnego_step(to, m, n, out, len);
}

/* A tampered mechListMIC or a tampered supportedMechs list: the MIC check
 * rejects the token, nothing changes, the genuine token then completes. */
static void test_lf_tamper(void **state)
{
    (void)state;
    for (int what = 0; what < 2; what++) {
        side i, a;
        must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = 1});
        must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 2, .toy = 1, .lf = 1});
        const uint8_t *out;
        size_t len;
        uint8_t cur[8192];
        int rc = negoex_spnego_step(i.sp, NULL, 0, &out, &len);
        negoex_spnego *sides[2] = {a.sp, i.sp};
        int k = 0, done = 0;
        while (rc >= 0 && len != 0 && !done) {
            memcpy(cur, out, len);
            size_t n = len;
            negoex_spnego *to = sides[k & 1];
            negoex_spnego_token t;
            assert_int_equal(negoex_spnego_parse_ex(cur, n, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, NULL), 0);
            int tamper = 0;
            size_t at = 0;
            if (what == 0 && t.mech_list_mic.data != NULL) {
                tamper = 1;
                at = (size_t)(t.mech_list_mic.data - cur) + t.mech_list_mic.len - 1;
            } else if (what == 1 && t.kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT && !t.framed) {
                tamper = 0;
            } else if (what == 1 && to == i.sp && t.neg_state == NEGOEX_NEG_STATE_REJECT) {
                /* the retry reject's list: [ntlmtoy] -> another OID of the same length */
                tamper = 1;
                at = (size_t)(t.supported_mechs.data - cur) + t.supported_mechs.len - 1;
            }
            if (tamper) {
                uint8_t bad[8192];
                memcpy(bad, cur, n);
                bad[at] ^= 0x01;
                const uint8_t *o2;
                size_t l2;
                int was = negoex_spnego_is_complete(to);
                int brc = deliver(to, bad, n, &o2, &l2);
                if (what == 0) {
                    assert_int_equal(brc, NEGOEX_ERR_SPNEGO_MIC_MISMATCH);
                    assert_int_equal(l2, 0);
                    assert_int_equal(negoex_spnego_is_complete(to), was);
                } else {
                    /* an initiator told its mechanism is unknown to the
                     * acceptor: nothing left to retry with */
                    assert_int_equal(brc, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
                    done = 1;
                    break;
                }
            }
            rc = deliver(to, cur, n, &out, &len);
            k++;
        }
        if (what == 0) {
            assert_true(negoex_spnego_is_complete(i.sp));
            assert_true(negoex_spnego_is_complete(a.sp));
        } else {
            assert_true(done);
        }
        negoex_spnego_free(i.sp);
        negoex_spnego_free(a.sp);
    }
}

/* Late Fallback on one side only: RFC 4178 unchanged (no [4], no retry, the
 * MIC over the initiator's MechTypeList). */
static void test_lf_one_side(void **state)
{
    (void)state;
    for (int who = 0; who < 2; who++) {
        side i, a;
        must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = who == 0, .negoex_pos = 1});
        must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 1, .toy = 1, .lf = who == 1, .negoex_pos = 0});
        wire w;
        converse(i.sp, a.sp, &w);
        assert_complete(&w, i.sp, a.sp);
        assert_int_equal(negoex_spnego_late_fallback(i.sp), 0);
        assert_int_equal(negoex_spnego_late_fallback(a.sp), 0);
        assert_int_equal(negoex_spnego_retries(a.sp), 0);
        negoex_spnego_token t;
        for (size_t k = 0; k < w.n; k++)
            if (w.len[k] != 0 && !w.from_init[k]) {
                assert_int_equal(negoex_spnego_parse_ex(w.msg[k], w.len[k], NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t,
                                                        NULL),
                                 NEGOEX_OK);
                assert_null(t.supported_mechs.data);
            }
        /* NEGOEX (not the initiator's first) was chosen: MICs both ways,
         * over the plain MechTypeList (with the LF OID when listed). */
        assert_int_equal(check_final_mic(&w, i.sp, 0), 1);
        wire_free(&w);
        negoex_spnego_free(i.sp);
        negoex_spnego_free(a.sp);
    }
    /* An initiator without Late Fallback refuses supportedMechs [4]. */
    side i, i2, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1});
    must_build(&i2, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 0});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 1, .toy = 1, .lf = 1});
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    uint8_t t1[4096];
    memcpy(t1, out, len);
    assert_true(negoex_spnego_step(a.sp, t1, len, &out, &len) >= 0);
    uint8_t r1[4096];
    size_t rl = len;
    memcpy(r1, out, len);
    assert_int_equal(negoex_spnego_step(i2.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_step(i2.sp, r1, rl, &out, &len), NEGOEX_ERR_DER_TAG);
    assert_int_equal(len, 0);
    negoex_error_info e;
    negoex_spnego_last_error(i2.sp, &e);
    assert_string_equal(e.field, "NegTokenResp");
    /* and the LF initiator takes it */
    assert_true(negoex_spnego_step(i.sp, r1, rl, &out, &len) >= 0);
    assert_int_equal(negoex_spnego_late_fallback(i.sp), 1);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(i2.sp);
    negoex_spnego_free(a.sp);
}

/* Both on, no failure: no retry, MIC over the LF input (2 lists). */
static void test_lf_no_failure(void **state)
{
    (void)state;
    static const int toy_first[] = {0, 1};
    for (size_t c = 0; c < 2; c++) {
        side i, a;
        must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = toy_first[c]});
        must_build(&a, NEGOEX_ROLE_ACCEPTOR,
                   &(opts){.scheme = 1, .toy = 1, .lf = 1, .policy = NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER});
        wire w;
        converse(i.sp, a.sp, &w);
        assert_complete(&w, i.sp, a.sp);
        assert_int_equal(negoex_spnego_retries(i.sp), 0);
        assert_int_equal(negoex_spnego_late_fallback(i.sp), 1);
        assert_true(negoex_spnego_mic_exchanged(i.sp));
        assert_int_equal(check_final_mic(&w, i.sp, 1), 2);
        wire_free(&w);
        negoex_spnego_free(i.sp);
        negoex_spnego_free(a.sp);
    }
}

/* A second non-fatal failure ends with a reject. */
static void test_lf_second_failure(void **state)
{
    (void)state;
    side i, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = 1, .user = "bob"});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 2, .toy = 1, .lf = 1, .expect = "alice",
                                                 .policy = NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER});
    wire w;
    converse(i.sp, a.sp, &w);
    assert_false(negoex_spnego_is_complete(i.sp));
    assert_int_equal(w.rc_a, NEGOEX_ERR_NO_COMMON_SCHEME);
    assert_int_equal(w.rc_i, NEGOEX_ERR_SPNEGO_REJECTED);
    assert_int_equal(negoex_spnego_retries(a.sp), 1);
    wire_free(&w);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(a.sp);
}

/* ------------------------------------------------------------------------ */
/* Fragments                                                                  */
/* ------------------------------------------------------------------------ */

static void frag_run(int scheme, int toy, int lf)
{
    static const size_t sizes[] = {6, 100, 1000};
    /* the unfragmented conversation, for the token count */
    side i0, a0;
    must_build(&i0, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = scheme, .toy = toy, .lf = lf});
    must_build(&a0, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = scheme, .toy = toy, .lf = lf});
    wire w0;
    converse(i0.sp, a0.sp, &w0);
    assert_complete(&w0, i0.sp, a0.sp);
    size_t biggest = 0;
    for (size_t k = 0; k < w0.n; k++)
        biggest = w0.len[k] > biggest ? w0.len[k] : biggest;
    for (size_t s = 0; s < 3; s++)
        for (int dir = 1; dir <= 3; dir++) {
            side i, a;
            must_build(&i, NEGOEX_ROLE_INITIATOR,
                       &(opts){.scheme = scheme, .toy = toy, .lf = lf, .frag = dir & 1 ? sizes[s] : 0, .max_in = 1024});
            must_build(&a, NEGOEX_ROLE_ACCEPTOR,
                       &(opts){.scheme = scheme, .toy = toy, .lf = lf, .frag = dir & 2 ? sizes[s] : 0,
                               .max_in = 1024});
            wire w;
            converse(i.sp, a.sp, &w);
            assert_complete(&w, i.sp, a.sp);
            /* each token of size n went out in ceil(n / size) pieces, each
             * piece but the token's last answered by an empty token (the
             * sizes of this run: PKU2U's vary by a byte or two) */
            uint8_t *tok[64];
            size_t tlen[64];
            int fi[64];
            size_t nt = whole_tokens(&w, tok, tlen, fi, 64);
            assert_int_equal(nt, w0.n);
            size_t expect = 0;
            for (size_t k = 0; k < nt; k++) {
                int frag = fi[k] ? (dir & 1) : (dir & 2);
                size_t pieces = frag && tlen[k] > sizes[s] ? (tlen[k] + sizes[s] - 1) / sizes[s] : 1;
                expect += 2 * pieces - 1;
                free(tok[k]);
            }
            if (w.n != expect)
                fail_msg("scheme %d size %zu dir %d: %zu messages, expected %zu", scheme, sizes[s], dir, w.n, expect);
            for (size_t k = 0; k < w.n; k++)
                assert_true(w.len[k] <= ((w.from_init[k] ? dir & 1 : dir & 2) ? sizes[s] : biggest + 64));
            wire_free(&w);
            negoex_spnego_free(i.sp);
            negoex_spnego_free(a.sp);
        }
    wire_free(&w0);
    negoex_spnego_free(i0.sp);
    negoex_spnego_free(a0.sp);
}

static void test_frag_test_scheme(void **state)
{
    (void)state;
    frag_run(4, 0, 0);
    frag_run(1, 1, 1); /* with Late Fallback lists and ntlmtoy beside */
}

static void test_frag_pku2u(void **state)
{
    (void)state;
    frag_run(3, 0, 0);
}

/* Reassembly is off by default (rev 21.0's additions are opt-in): a first
 * fragment is then a truncated token, refused as such with nothing changed,
 * and the same acceptor still completes with the whole token. */
static void test_frag_off_by_default(void **state)
{
    (void)state;
    side i, w, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 3, .frag = 100});
    must_build(&w, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 3});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 3, .max_in = SIZE_MAX});
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(len, 100);
    assert_true(negoex_spnego_fragments_pending(i.sp) >= 1);
    assert_int_equal(negoex_spnego_step(a.sp, out, len, &out, &len), NEGOEX_ERR_DER_TRUNCATED);
    assert_int_equal(len, 0);
    assert_int_equal(negoex_spnego_fragments_pending(a.sp), 0);
    const uint8_t *t;
    size_t tl;
    int ri = negoex_spnego_step(w.sp, NULL, 0, &t, &tl), ra = NEGOEX_CONTINUE;
    assert_int_equal(ri, NEGOEX_CONTINUE);
    for (int turn = 0; turn < 16 && !(ri == NEGOEX_COMPLETE && ra == NEGOEX_COMPLETE) && tl != 0; turn++) {
        if (turn % 2 == 0) {
            ra = negoex_spnego_step(a.sp, t, tl, &t, &tl);
            assert_true(ra >= 0);
        } else {
            ri = negoex_spnego_step(w.sp, t, tl, &t, &tl);
            assert_true(ri >= 0);
        }
    }
    assert_true(negoex_spnego_is_complete(a.sp));
    assert_true(negoex_spnego_is_complete(w.sp));
    negoex_spnego_free(i.sp);
    negoex_spnego_free(w.sp);
    negoex_spnego_free(a.sp);
}

/* Hostile fragments: exact errors, context unchanged, then the genuine
 * fragments complete. */
static void test_frag_hostile(void **state)
{
    (void)state;
    side i, a;
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 3, .frag = 100});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 3});
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(len, 100);
    size_t pending = negoex_spnego_fragments_pending(i.sp);
    assert_true(pending >= 1);
    uint8_t f1[100];
    memcpy(f1, out, 100);
    /* input while sending: refused, nothing changes */
    assert_int_equal(negoex_spnego_step(i.sp, f1, 100, &out, &len), NEGOEX_ERR_SPNEGO_FRAGMENT_PENDING);
    assert_int_equal(len, 0);
    assert_int_equal(negoex_spnego_fragments_pending(i.sp), pending);
    /* first fragment in */
    assert_int_equal(negoex_spnego_step(a.sp, f1, 100, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(len, 0);
    assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    uint8_t f2[100];
    size_t l2 = len;
    memcpy(f2, out, len);
    /* a fragment longer than the first */
    uint8_t big[101] = {0};
    assert_int_equal(negoex_spnego_step(a.sp, big, 101, &out, &len), NEGOEX_ERR_FRAGMENT_INCONSISTENT);
    assert_int_equal(len, 0);
    negoex_error_info e;
    negoex_spnego_last_error(a.sp, &e);
    assert_int_equal(e.offset, 200);
    if (l2 == 100 && pending > 1) {
        /* a short one that does not end the token */
        assert_int_equal(negoex_spnego_step(a.sp, f2, 50, &out, &len), NEGOEX_ERR_FRAGMENT_INCONSISTENT);
        assert_int_equal(len, 0);
    }
    /* a corrupted last fragment: the whole token fails to parse, rejected,
     * and the reassembler still waits for it */
    while (negoex_spnego_fragments_pending(i.sp) != 0) {
        assert_int_equal(negoex_spnego_step(a.sp, f2, l2, &out, &len), NEGOEX_CONTINUE);
        int rc = negoex_spnego_step(i.sp, NULL, 0, &out, &len);
        assert_true(rc >= 0);
        memcpy(f2, out, len);
        l2 = len;
    }
    assert_int_equal(negoex_spnego_step(a.sp, f2, l2, &out, &len), NEGOEX_CONTINUE);
    assert_true(len > 0);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(a.sp);

    /* A last fragment that breaks the whole token (it starts with the last
     * NEGOEX message header; its signature corrupted): rejected with the
     * token's error, and the reassembler still waits for the last fragment. */
    {
        side w0;
        must_build(&w0, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 4});
        assert_int_equal(negoex_spnego_step(w0.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
        size_t p = 0;
        for (size_t k = 0; k + 8 <= len; k++)
            if (memcmp(out + k, "NEGOEXTS", 8) == 0)
                p = k;
        assert_true(p >= 6 && len - p <= p);
        negoex_spnego_free(w0.sp);
        must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 4, .frag = p});
        must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 4});
        assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
        assert_int_equal(len, p);
        assert_int_equal(negoex_spnego_step(a.sp, out, len, &out, &len), NEGOEX_CONTINUE);
        assert_int_equal(len, 0);
        assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
        uint8_t last[8192];
        size_t ll = len;
        memcpy(last, out, len);
        last[0] ^= 0x01;
        assert_int_equal(negoex_spnego_step(a.sp, last, ll, &out, &len), NEGOEX_ERR_BAD_SIGNATURE);
        assert_int_equal(len, 0);
        last[0] ^= 0x01;
        assert_true(negoex_spnego_step(a.sp, last, ll, &out, &len) >= 0); /* the genuine one is taken */
        assert_true(len > 0);
        negoex_spnego_free(i.sp);
        negoex_spnego_free(a.sp);
    }

    /* over the configured fragment count: refused at the first fragment */
    must_build(&i, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .frag = 6});
    must_build(&a, NEGOEX_ROLE_ACCEPTOR, &(opts){.scheme = 1, .max_in = 3});
    assert_int_equal(negoex_spnego_step(i.sp, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_step(a.sp, out, len, &out, &len), NEGOEX_ERR_FRAGMENT_COUNT);
    negoex_spnego_last_error(a.sp, &e);
    assert_int_equal(e.offset, 6);
    negoex_spnego_free(i.sp);
    negoex_spnego_free(a.sp);

    /* a size under 6 is refused */
    side x;
    assert_int_equal(build(&x, NEGOEX_ROLE_INITIATOR, &(opts){.scheme = 1, .frag = 5}), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Allocation failures                                                        */
/* ------------------------------------------------------------------------ */

static void sweep(const opts *oi, const opts *oa, int expect_retry)
{
    int completed = 0;
    for (unsigned long k = 1; k < 3000 && !completed; k++) {
        tu_alloc ta;
        tu_alloc_init(&ta, k);
        opts i_o = *oi, a_o = *oa;
        i_o.alloc = &ta.a;
        a_o.alloc = &ta.a;
        side i, a;
        int rc = build(&i, NEGOEX_ROLE_INITIATOR, &i_o);
        if (rc == NEGOEX_OK) {
            rc = build(&a, NEGOEX_ROLE_ACCEPTOR, &a_o);
            if (rc == NEGOEX_OK) {
                wire w;
                converse(i.sp, a.sp, &w);
                if (negoex_spnego_is_complete(i.sp) && negoex_spnego_is_complete(a.sp)) {
                    completed = ta.failed == 0;
                    assert_int_equal(negoex_spnego_retries(a.sp), expect_retry);
                }
                wire_free(&w);
                negoex_spnego_free(a.sp);
            } else {
                assert_int_equal(rc, NEGOEX_ERR_NO_MEMORY);
            }
            negoex_spnego_free(i.sp);
        } else {
            assert_int_equal(rc, NEGOEX_ERR_NO_MEMORY);
        }
        if (ta.live != 0)
            fail_msg("fail_at %lu: %ld blocks leaked", k, ta.live);
    }
    assert_true(completed);
}

static void test_alloc_sweep(void **state)
{
    (void)state;
    sweep(&(opts){.scheme = 1, .toy = 1, .lf = 1, .negoex_pos = 1}, &(opts){.scheme = 2, .toy = 1, .lf = 1}, 1);
    sweep(&(opts){.scheme = 1, .frag = 100}, &(opts){.scheme = 1, .frag = 100}, 0);
}

static int setup(void **state)
{
    (void)state;
    PKI = tu_fast_pki(&ANCHORS);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_fast_pki_free(PKI, ANCHORS);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lf_retry_no_common_scheme),
        cmocka_unit_test(test_lf_retry_mech_retry),
        cmocka_unit_test(test_lf_tamper),
        cmocka_unit_test(test_lf_one_side),
        cmocka_unit_test(test_lf_no_failure),
        cmocka_unit_test(test_lf_second_failure),
        cmocka_unit_test(test_frag_test_scheme),
        cmocka_unit_test(test_frag_pku2u),
        cmocka_unit_test(test_frag_off_by_default),
        cmocka_unit_test(test_frag_hostile),
        cmocka_unit_test(test_alloc_sweep),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
