/*
 * Allocation failures over full PKU2U handshakes: for every k, the k-th
 * allocation through the configured allocator (negoex_config.allocator and
 * the scheme's alloc argument) fails, across
 *   - SPNEGO -> NEGOEX -> PKU2U, Windows' 3-round-trip form and the
 *     optimistic one, with the failures on the initiator's side, then on the
 *     acceptor's (four sweeps; the peer's allocator never fails);
 *   - bare NEGOEX -> PKU2U (3-round-trip form), both sides on one failing
 *     allocator; a step that failed with NO_MEMORY is retried once with
 *     failures turned off: the failure must have left the context as it
 *     was, so the handshake then completes (a failure inside the scheme,
 *     SCHEME_FAILED, ends the conversation by design).
 * Every run: the failing call answers a negative error (NO_MEMORY, or
 * SCHEME_FAILED with NO_MEMORY in the scheme's status), nothing crashes,
 * every block is freed once everything is released (the allocator's count;
 * LeakSanitizer and valgrind see the rest), and the sweep ends with a run
 * that saw no failure and completed.
 *
 * What these sweeps cannot fail: OpenSSL's and libtasn1's own allocations
 * and the few plain malloc calls inside src/pku2u (CMS, X.509 helpers); see
 * docs/assurance.md. test_pku2u_ossl_alloc.c fails OpenSSL's.
 *
 * Every k runs, under valgrind too (about 30 s there; 0.5 s natively).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <negoex/context.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/spnego.h>
#include <negoex/testpki.h>

#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define MAX_K 20000

static negoex_testpki *PKI;
static STACK_OF(X509) *ANCHORS;

static int setup(void **state)
{
    (void)state;
    PKI = tu_fast_pki(&ANCHORS); /* 1024-bit keys: the handshakes' count matters, not their keys */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_fast_pki_free(PKI, ANCHORS);
    return 0;
}

typedef struct side {
    negoex_pku2u_config cfg;
    negoex_pku2u_status status;
    negoex_context *nx; /* when not wrapped */
    negoex_spnego *sp;
    int built;
} side;

static void side_cfg(side *s, negoex_role role)
{
    memset(s, 0, sizeof *s);
    negoex_pku2u_config_init(&s->cfg);
    negoex_testpki_entity e = role == NEGOEX_ROLE_INITIATOR ? NEGOEX_TESTPKI_USER : NEGOEX_TESTPKI_DEVICE;
    s->cfg.cert = negoex_testpki_get0_cert(PKI, e);
    s->cfg.key = negoex_testpki_get0_key(PKI, e);
    s->cfg.trust_anchors = ANCHORS;
    if (role == NEGOEX_ROLE_INITIATOR)
        s->cfg.target_host = negoex_testpki_host(PKI);
    s->cfg.status = &s->status;
}

/* NO_COMMON_SCHEME: a scheme whose metadata step fails is dropped (the
 * NEGOEX rule), and PKU2U is the only one. */
static int ok_error(int rc)
{
    return rc == NEGOEX_ERR_NO_MEMORY || rc == NEGOEX_ERR_SCHEME_FAILED || rc == NEGOEX_ERR_NO_COMMON_SCHEME;
}

/* Builds one side; an allocation failure on the way is a clean error and
 * leaves nothing allocated. Returns 0 or that error. */
static int build(side *s, negoex_role role, int optimistic, int spnego, const negoex_allocator *a)
{
    side_cfg(s, role);
    negoex_config c;
    negoex_config_init(&c);
    c.allocator = a;
    c.optimistic = optimistic;
    negoex_context *nx = NULL;
    int rc = negoex_context_new(&nx, role, &c);
    if (rc != NEGOEX_OK) {
        assert_null(nx);
        return rc;
    }
    negoex_scheme *sc = NULL;
    rc = negoex_pku2u_scheme_new(&sc, &s->cfg, a);
    if (rc == NEGOEX_OK) {
        rc = negoex_context_add_scheme(nx, sc);
        if (rc != NEGOEX_OK)
            sc->cls->destroy(sc);
    } else {
        assert_null(sc);
    }
    if (rc == NEGOEX_OK && spnego) {
        rc = negoex_spnego_new(&s->sp, nx, NULL);
        if (rc == NEGOEX_OK)
            nx = NULL; /* owned by the SPNEGO context */
    }
    if (rc != NEGOEX_OK) {
        negoex_context_free(nx);
        return rc;
    }
    s->nx = nx;
    s->built = 1;
    return 0;
}

static void release(side *s)
{
    negoex_spnego_free(s->sp);
    negoex_context_free(s->nx);
    s->sp = NULL;
    s->nx = NULL;
}

static int spnego_step(void *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    return negoex_spnego_step(sp, in, in_len, out, out_len);
}

typedef struct sweep_stats {
    unsigned long points;    /* allocations of a whole handshake (the last k - 1) */
    unsigned long runs;      /* runs made (every k, or the memcheck sample) */
    unsigned long build_failures, step_failures, absorbed;
} sweep_stats;

/* Checks a failed step's result: NO_MEMORY, or SCHEME_FAILED with the
 * scheme's status naming NO_MEMORY (what failed inside PKU2U). */
static void check_failure(unsigned long k, const char *what, int rc, const side *s)
{
    if (!ok_error(rc))
        fail_msg("k=%lu %s: %s", k, what, negoex_error_name(rc));
    if ((rc == NEGOEX_ERR_SCHEME_FAILED || rc == NEGOEX_ERR_NO_COMMON_SCHEME) &&
        s->status.error != NEGOEX_ERR_NO_MEMORY)
        fail_msg("k=%lu %s: SCHEME_FAILED with status %s (%s)", k, what, negoex_error_name(s->status.error),
                 s->status.what != NULL ? s->status.what : "");
}

/* One SPNEGO run with the failing side's k-th allocation failing (0:
 * none). Returns the failing side's allocation count. */
static unsigned long spnego_run(int optimistic, negoex_role fail_role, unsigned long k, sweep_stats *st)
{
    const char *name = fail_role == NEGOEX_ROLE_INITIATOR ? "initiator" : "acceptor";
    tu_alloc fa, pa; /* failing side, peer */
    tu_alloc_init(&fa, k);
    tu_alloc_init(&pa, 0);
    side S[2];
    tu_alloc *al[2];
    al[fail_role] = &fa;
    al[!fail_role] = &pa;
    int rc0 = build(&S[0], NEGOEX_ROLE_INITIATOR, optimistic, 1, &al[0]->a);
    int rc1 = rc0 == 0 ? build(&S[1], NEGOEX_ROLE_ACCEPTOR, optimistic, 1, &al[1]->a) : 0;
    int rc = rc0 != 0 ? rc0 : rc1;
    st->runs++;
    if (rc != 0) {
        check_failure(k, "building", rc, &S[fail_role]);
        st->build_failures++;
    } else {
        tu_run r = tu_converse(spnego_step, S[0].sp, S[1].sp, 16, NULL, NULL);
        if (r.failed >= 0) {
            if ((negoex_role)r.failed != fail_role)
                fail_msg("k=%lu (%s fails): the peer failed first with %s", k, name, negoex_error_name(r.fail_rc));
            check_failure(k, name, r.fail_rc, &S[fail_role]);
            /* The peer takes the error token (a KRB-ERROR or a SPNEGO
             * reject) as a failure; it never crashes or completes. */
            if (r.error_token && r.peer_rc >= 0 && r.peer_rc != NEGOEX_CONTINUE)
                fail_msg("k=%lu: the peer answered the error token with %d", k, r.peer_rc);
            st->step_failures++;
        } else if (r.complete) {
            st->absorbed += fa.failed != 0; /* e.g. a dropped optimistic attempt */
        } else {
            fail_msg("k=%lu (%s fails): stopped without error or completion", k, name);
        }
        if (k == 0 && !r.complete)
            fail_msg("the handshake does not complete without failures");
    }
    release(&S[0]);
    if (rc0 == 0)
        release(&S[1]);
    if (fa.live != 0 || pa.live != 0)
        fail_msg("k=%lu (%s fails): %ld + %ld blocks leaked", k, name, fa.live, pa.live);
    if (k != 0 && fa.calls < k)
        assert_int_equal(fa.failed, 0);
    return fa.calls;
}

/* SPNEGO sweep, failures on one side (fail_role): k = 1, 2, ... until a
 * run sees no failure. */
static sweep_stats sweep_spnego(int optimistic, negoex_role fail_role)
{
    sweep_stats st, ref;
    memset(&st, 0, sizeof st);
    memset(&ref, 0, sizeof ref);
    (void)spnego_run(optimistic, fail_role, 0, &ref); /* completes without failures */
    for (unsigned long k = 1; k < MAX_K; k++) {
        if (spnego_run(optimistic, fail_role, k, &st) < k) {
            st.points = k - 1;
            return st;
        }
    }
    fail_msg("more than %d allocations", MAX_K);
    return st;
}

static void report(const char *what, const sweep_stats *st)
{
    printf("    %s: %lu allocation points, %lu handshakes run, %lu failed while building, %lu failed a step, "
           "%lu completed despite the failure\n",
           what, st->points, st->runs, st->build_failures, st->step_failures, st->absorbed);
}

static void test_spnego_windows_initiator(void **state)
{
    (void)state;
    sweep_stats st = sweep_spnego(0, NEGOEX_ROLE_INITIATOR);
    report("SPNEGO 3 round trips, initiator", &st);
}

static void test_spnego_windows_acceptor(void **state)
{
    (void)state;
    sweep_stats st = sweep_spnego(0, NEGOEX_ROLE_ACCEPTOR);
    report("SPNEGO 3 round trips, acceptor", &st);
}

static void test_spnego_optimistic_initiator(void **state)
{
    (void)state;
    sweep_stats st = sweep_spnego(1, NEGOEX_ROLE_INITIATOR);
    report("SPNEGO optimistic, initiator", &st);
}

static void test_spnego_optimistic_acceptor(void **state)
{
    (void)state;
    sweep_stats st = sweep_spnego(1, NEGOEX_ROLE_ACCEPTOR);
    report("SPNEGO optimistic, acceptor", &st);
}

/* Bare NEGOEX: one allocator for both sides. A step that failed with
 * NO_MEMORY (the context's own allocation) is retried once with failures
 * off: the context must be as it was, so the handshake then completes. A
 * failure inside the scheme (SCHEME_FAILED) ends the conversation by
 * design (the acceptor answers a KRB-ERROR); it is not retried. */
static int retry_without_failures(void *ud, int rc)
{
    tu_alloc *a = ud;
    if (rc != NEGOEX_ERR_NO_MEMORY || a->fail_at == 0 || a->failed == 0)
        return 0;
    a->fail_at = 0;
    return 1;
}

static unsigned long negoex_run(unsigned long k, sweep_stats *st, unsigned long *retried)
{
    tu_alloc fa;
    tu_alloc_init(&fa, k);
    side S[2];
    int rc0 = build(&S[0], NEGOEX_ROLE_INITIATOR, 0, 0, &fa.a);
    int rc1 = rc0 == 0 ? build(&S[1], NEGOEX_ROLE_ACCEPTOR, 0, 0, &fa.a) : 0;
    int rc = rc0 != 0 ? rc0 : rc1;
    st->runs++;
    if (rc != 0) {
        check_failure(k, "building", rc, &S[rc0 != 0 ? 0 : 1]);
        st->build_failures++;
    } else {
        tu_run r = tu_converse(tu_context_step, S[0].nx, S[1].nx, 16, retry_without_failures, &fa);
        if (r.failed >= 0) {
            if (r.retries != 0)
                fail_msg("k=%lu: failed again after a retry: %s", k, negoex_error_name(r.fail_rc));
            check_failure(k, r.failed ? "acceptor" : "initiator", r.fail_rc, &S[r.failed]);
            if (r.fail_rc == NEGOEX_ERR_NO_MEMORY)
                fail_msg("k=%lu: NO_MEMORY not retried", k);
            st->step_failures++;
        } else if (!r.complete) {
            fail_msg("k=%lu: stopped without error or completion", k);
        }
        *retried += (unsigned long)r.retries;
        st->absorbed += fa.failed != 0 && r.complete && r.retries == 0;
    }
    release(&S[0]);
    if (rc0 == 0)
        release(&S[1]);
    if (fa.live != 0)
        fail_msg("k=%lu: %ld blocks leaked", k, fa.live);
    return fa.failed != 0 ? k : fa.calls;
}

static void test_negoex_both_retry(void **state)
{
    (void)state;
    sweep_stats st, ref;
    memset(&st, 0, sizeof st);
    memset(&ref, 0, sizeof ref);
    unsigned long retried = 0;
    (void)negoex_run(0, &ref, &retried); /* completes without failures */
    for (unsigned long k = 1; k < MAX_K; k++) {
        if (negoex_run(k, &st, &retried) < k) {
            st.points = k - 1;
            report("bare NEGOEX 3 round trips, both sides, retried", &st);
            printf("    NO_MEMORY steps retried without failures: %lu (each handshake then completed)\n", retried);
            return;
        }
    }
    fail_msg("more than %d allocations", MAX_K);
}

/* Regression (found by the acceptor sweep): a clone whose copy of the
 * AS-REQ token failed freed the original's AS-REP token through the
 * half-made copy (pk_clone), a double free when the original was
 * destroyed. Each allocation of a clone of an acceptor holding both tokens
 * fails in turn; the original must still finish the handshake. */
static void test_clone_failure_keeps_original(void **state)
{
    (void)state;
    for (unsigned long j = 1;; j++) {
        tu_alloc fa;
        tu_alloc_init(&fa, 0);
        side S[2];
        assert_int_equal(build(&S[0], NEGOEX_ROLE_INITIATOR, 0, 0, &fa.a), 0);
        assert_int_equal(build(&S[1], NEGOEX_ROLE_ACCEPTOR, 0, 0, &fa.a), 0);
        const uint8_t *o;
        size_t ol;
        uint8_t *t = NULL;
        size_t tl = 0;
        /* I: NEGO + metadata; A: NEGO + metadata; I: AS-REQ; A: AS-REP. */
        for (int leg = 0; leg < 4; leg++) {
            negoex_context *c = leg % 2 ? S[1].nx : S[0].nx;
            assert_int_equal(negoex_context_step(c, t, tl, &o, &ol), NEGOEX_CONTINUE);
            free(t);
            t = malloc(ol);
            assert_non_null(t);
            memcpy(t, o, ol);
            tl = ol;
        }
        negoex_scheme *sc = negoex_context_selected_scheme(S[1].nx);
        assert_non_null(sc);
        negoex_scheme *copy = NULL;
        fa.fail_at = fa.calls + j;
        int rc = sc->cls->clone(sc, &copy);
        int failed = fa.failed != 0;
        fa.fail_at = 0;
        if (failed) {
            assert_int_equal(rc, NEGOEX_ERR_NO_MEMORY);
            assert_null(copy);
        } else {
            assert_int_equal(rc, NEGOEX_OK);
            sc->cls->destroy(copy);
        }
        /* The original goes on: AP-REQ, AP-REP, both complete. */
        int rcs[2] = {0, 0};
        for (int leg = 4; tl != 0 && leg < 12; leg++) {
            rcs[leg % 2] = negoex_context_step(leg % 2 ? S[1].nx : S[0].nx, t, tl, &o, &ol);
            assert_true(rcs[leg % 2] > 0);
            free(t);
            t = NULL;
            tl = 0;
            if (ol != 0) {
                t = malloc(ol);
                assert_non_null(t);
                memcpy(t, o, ol);
                tl = ol;
            }
        }
        free(t);
        assert_int_equal(rcs[0], NEGOEX_COMPLETE);
        assert_int_equal(rcs[1], NEGOEX_COMPLETE);
        release(&S[0]);
        release(&S[1]);
        assert_int_equal(fa.live, 0);
        if (!failed) {
            assert_true(j > 2); /* the clone allocates its block and two buffers */
            return;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_clone_failure_keeps_original),
        cmocka_unit_test(test_spnego_windows_initiator),   cmocka_unit_test(test_spnego_windows_acceptor),
        cmocka_unit_test(test_spnego_optimistic_initiator), cmocka_unit_test(test_spnego_optimistic_acceptor),
        cmocka_unit_test(test_negoex_both_retry),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
