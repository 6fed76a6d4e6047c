/*
 * Threads: many full handshakes on separate contexts at the same time.
 *
 * The library keeps no per-process state besides two once-initialised caches
 * (the Kerberos algorithms of src/pku2u/krb_crypto.c, fetched under
 * CRYPTO_THREAD_run_once, and the libtasn1 schemas of src/pku2u/asn1.c, under
 * pthread_once). Separate contexts must therefore run in parallel with no
 * locking by the caller. This test is what `make check-tsan` runs under
 * ThreadSanitizer (tests/tsan.supp); it also runs in the plain, ASan and
 * valgrind builds.
 *
 *  - cold start: THREADS threads wait on a barrier, then each makes the
 *    process's first uses at once: a NEGOEX handshake (VERIFY checksums: the
 *    krb_crypto cache) and a PKU2U dissection of a Windows token (the asn1
 *    schemas);
 *  - handshakes: THREADS threads x ROUNDS rounds, each round four full
 *    handshakes: raw NEGOEX and SPNEGO, each with the test scheme (1..4
 *    hops, both mechanisms offered) and nxtoy (SPNEGO with a forced
 *    mechListMIC). Every handshake must complete on both sides with equal
 *    transcripts. All contexts share one allocator and one trace callback
 *    (atomic counters): every block is freed and every trace line counted.
 *
 * Worker threads never call cmocka (its asserts longjmp): they count failures
 * and the main thread asserts. NEGOEX_THREAD_ROUNDS overrides ROUNDS (the
 * valgrind run serialises threads and uses fewer).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/pku2u.h>
#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include "testutil.h"

#define THREADS 8
#define DEFAULT_ROUNDS 200
#define MAX_LEGS 64

#define V_ASREQ "windows/pku2u/win_client_as_req_gss_token_2022-09-25.bin"
#define V_ASREP "windows/pku2u/win_server_as_rep_gss_token_2022-05-17.bin"

/* ------------------------------------------------------------------------ */
/* Shared allocator and trace: what every thread's contexts use.              */
/* ------------------------------------------------------------------------ */

static atomic_long live_blocks;
static atomic_ulong total_allocs;
static atomic_ulong trace_lines;

static void *mt_alloc(size_t size, void *ud)
{
    (void)ud;
    void *p = malloc(size ? size : 1);
    if (p != NULL) {
        atomic_fetch_add(&live_blocks, 1);
        atomic_fetch_add(&total_allocs, 1);
    }
    return p;
}

static void *mt_realloc(void *p, size_t size, void *ud)
{
    (void)ud;
    void *q = realloc(p, size ? size : 1);
    if (q != NULL && p == NULL) {
        atomic_fetch_add(&live_blocks, 1);
        atomic_fetch_add(&total_allocs, 1);
    }
    return q;
}

static void mt_free(void *p, void *ud)
{
    (void)ud;
    if (p != NULL)
        atomic_fetch_sub(&live_blocks, 1);
    free(p);
}

static const negoex_allocator SHARED_ALLOC = {mt_alloc, mt_realloc, mt_free, NULL};

static void mt_trace(void *ud, const char *line)
{
    (void)ud;
    if (line != NULL && line[0] != '\0')
        atomic_fetch_add(&trace_lines, 1);
}

/* ------------------------------------------------------------------------ */
/* One handshake                                                             */
/* ------------------------------------------------------------------------ */

enum kind { RAW_TEST, RAW_NXTOY, SPNEGO_TEST, SPNEGO_NXTOY, KINDS };

/* Failures of a thread: the first one's description is kept. */
typedef struct worker {
    pthread_t tid;
    int index;
    unsigned rounds;
    unsigned done;   /* handshakes completed */
    unsigned failed;
    char why[160];
    pthread_barrier_t *start;
    const uint8_t *pku2u[2];
    size_t pku2u_len[2];
} worker;

static void fail_note(worker *w, const char *what, int rc)
{
    if (w->failed++ == 0)
        snprintf(w->why, sizeof w->why, "thread %d: %s (%s)", w->index, what, negoex_error_name(rc));
}

static int add_schemes(negoex_context *c, enum kind k, unsigned hops)
{
    negoex_scheme *s;
    int rc;
    if (k == RAW_NXTOY || k == SPNEGO_NXTOY) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        nc.force_mic = k == SPNEGO_NXTOY;
        rc = negoex_nxtoy_scheme_new(&s, &nc, &SHARED_ALLOC);
        if (rc == NEGOEX_OK && (rc = negoex_context_add_scheme(c, s)) != NEGOEX_OK)
            s->cls->destroy(s);
        return rc;
    }
    static const char *const oids[2] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
    for (int i = 0; i < 2; i++) {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = oids[i];
        tc.hops = hops;
        rc = negoex_test_scheme_new(&s, &tc, &SHARED_ALLOC);
        if (rc == NEGOEX_OK && (rc = negoex_context_add_scheme(c, s)) != NEGOEX_OK)
            s->cls->destroy(s);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

static int new_side(negoex_role role, enum kind k, unsigned hops, negoex_context **out)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.allocator = &SHARED_ALLOC;
    cfg.trace = mt_trace;
    int rc = negoex_context_new(out, role, &cfg); /* default RNG: OpenSSL's, shared */
    if (rc != NEGOEX_OK)
        return rc;
    rc = add_schemes(*out, k, hops);
    if (rc != NEGOEX_OK) {
        negoex_context_free(*out);
        *out = NULL;
    }
    return rc;
}

/* Both sides step in turn until no token is left; 0 if both completed. */
static int converse(worker *w, void *side[2], int spnego)
{
    const uint8_t *tok = NULL;
    size_t len = 0;
    int rc[2] = {0, 0};
    rc[0] = spnego ? negoex_spnego_step(side[0], NULL, 0, &tok, &len)
                   : negoex_context_step(side[0], NULL, 0, &tok, &len);
    int who = 1;
    for (int legs = 0; legs < MAX_LEGS && rc[who ^ 1] >= 0 && len > 0; legs++) {
        rc[who] = spnego ? negoex_spnego_step(side[who], tok, len, &tok, &len)
                         : negoex_context_step(side[who], tok, len, &tok, &len);
        who ^= 1;
    }
    for (int i = 0; i < 2; i++) {
        if (rc[i] != NEGOEX_COMPLETE) {
            fail_note(w, i ? "acceptor did not complete" : "initiator did not complete", rc[i]);
            return -1;
        }
    }
    return 0;
}

static void handshake(worker *w, enum kind k, unsigned hops)
{
    negoex_context *nx[2] = {NULL, NULL};
    negoex_spnego *sp[2] = {NULL, NULL};
    int spnego = k == SPNEGO_TEST || k == SPNEGO_NXTOY;
    int rc = NEGOEX_OK;
    for (int i = 0; i < 2 && rc == NEGOEX_OK; i++) {
        rc = new_side(i ? NEGOEX_ROLE_ACCEPTOR : NEGOEX_ROLE_INITIATOR, k, hops, &nx[i]);
        if (rc == NEGOEX_OK && spnego) {
            negoex_spnego_config sc;
            negoex_spnego_config_init(&sc);
            sc.trace = mt_trace;
            rc = negoex_spnego_new(&sp[i], nx[i], &sc);
            if (rc == NEGOEX_OK)
                nx[i] = NULL; /* owned by the SPNEGO context */
        }
    }
    if (rc != NEGOEX_OK) {
        fail_note(w, "set-up", rc);
    } else {
        void *side[2] = {spnego ? (void *)sp[0] : (void *)nx[0], spnego ? (void *)sp[1] : (void *)nx[1]};
        if (converse(w, side, spnego) == 0) {
            negoex_context *a = spnego ? negoex_spnego_negoex(sp[0]) : nx[0];
            negoex_context *b = spnego ? negoex_spnego_negoex(sp[1]) : nx[1];
            negoex_bytes ta = negoex_context_transcript(a), tb = negoex_context_transcript(b);
            if (ta.len == 0 || ta.len != tb.len || memcmp(ta.data, tb.data, ta.len) != 0)
                fail_note(w, "transcripts differ", 0);
            else if (spnego && k == SPNEGO_NXTOY && !negoex_spnego_mic_exchanged(sp[0]))
                fail_note(w, "no mechListMIC exchanged", 0);
            else
                w->done++;
        }
    }
    for (int i = 0; i < 2; i++) {
        negoex_spnego_free(sp[i]);
        negoex_context_free(nx[i]);
    }
}

static int count_event(void *ud, const negoex_dissect_event *ev)
{
    (void)ev;
    ++*(unsigned *)ud;
    return 0;
}

static void dissect(worker *w)
{
    for (int i = 0; i < 2; i++) {
        unsigned events = 0;
        int rc = negoex_pku2u_dissect_token(w->pku2u[i], w->pku2u_len[i], count_event, &events, NULL);
        if (rc != NEGOEX_OK || events < 10)
            fail_note(w, "PKU2U dissection", rc);
    }
}

/* ------------------------------------------------------------------------ */
/* Threads                                                                    */
/* ------------------------------------------------------------------------ */

static void *cold_start_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    /* Every thread makes the process's first uses at the same moment. */
    handshake(w, (w->index & 1) ? RAW_NXTOY : SPNEGO_TEST, 1);
    dissect(w);
    return NULL;
}

static void *handshakes_main(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (unsigned r = 0; r < w->rounds; r++) {
        for (int k = 0; k < KINDS; k++)
            handshake(w, (enum kind)k, 1 + (r + (unsigned)w->index) % 4);
        if (r % 16 == 0)
            dissect(w);
    }
    return NULL;
}

static unsigned rounds_from_env(void)
{
    const char *e = getenv("NEGOEX_THREAD_ROUNDS");
    if (e == NULL || *e == '\0')
        return DEFAULT_ROUNDS;
    char *end;
    unsigned long n = strtoul(e, &end, 10);
    if (*end != '\0' || n == 0 || n > 100000)
        fail_msg("NEGOEX_THREAD_ROUNDS: '%s' is not 1..100000", e);
    return (unsigned)n;
}

static void run_threads(void *(*fn)(void *), unsigned rounds, unsigned expect_per_thread)
{
    static worker w[THREADS];
    pthread_barrier_t start;
    size_t len[2];
    uint8_t *tok[2] = {tu_load_tracked(V_ASREQ, &len[0]), tu_load_tracked(V_ASREP, &len[1])};
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    long live_before = atomic_load(&live_blocks);
    for (int i = 0; i < THREADS; i++) {
        memset(&w[i], 0, sizeof w[i]);
        w[i].index = i;
        w[i].rounds = rounds;
        w[i].start = &start;
        for (int j = 0; j < 2; j++) {
            w[i].pku2u[j] = tok[j];
            w[i].pku2u_len[j] = len[j];
        }
        assert_int_equal(pthread_create(&w[i].tid, NULL, fn, &w[i]), 0);
    }
    unsigned failed = 0, done = 0;
    const char *why = NULL;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        failed += w[i].failed;
        done += w[i].done;
        if (why == NULL && w[i].failed)
            why = w[i].why;
    }
    pthread_barrier_destroy(&start);
    tu_free(tok[0]);
    tu_free(tok[1]);
    if (failed != 0)
        fail_msg("%u failures; first: %s", failed, why);
    assert_int_equal(done, THREADS * expect_per_thread);
    assert_int_equal(atomic_load(&live_blocks), live_before); /* every block freed */
}

static void test_cold_start(void **state)
{
    (void)state;
    unsigned long lines = atomic_load(&trace_lines);
    run_threads(cold_start_main, 1, 1);
    assert_true(atomic_load(&trace_lines) > lines);
}

static void test_handshakes(void **state)
{
    (void)state;
    unsigned rounds = rounds_from_env();
    unsigned long allocs = atomic_load(&total_allocs), lines = atomic_load(&trace_lines);
    run_threads(handshakes_main, rounds, rounds * KINDS);
    print_message("%d threads x %u rounds x %d kinds: %u handshakes, %lu allocations, %lu trace lines\n", THREADS,
                  rounds, (int)KINDS, THREADS * rounds * KINDS, atomic_load(&total_allocs) - allocs,
                  atomic_load(&trace_lines) - lines);
    /* Each handshake traces every message on both sides. */
    assert_true(atomic_load(&trace_lines) - lines >= (unsigned long)THREADS * rounds * KINDS * 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        /* first: it must be the process's first use of the caches */
        cmocka_unit_test_teardown(test_cold_start, tu_release_all),
        cmocka_unit_test_teardown(test_handshakes, tu_release_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
