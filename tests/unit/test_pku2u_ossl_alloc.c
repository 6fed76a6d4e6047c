/*
 * OpenSSL allocation failures across full SPNEGO -> NEGOEX -> PKU2U
 * handshakes. The PKU2U scheme's OpenSSL objects (keys, certificates,
 * X509_STORE, EVP contexts, bignums, CMS signatures, DH) are allocated by
 * OpenSSL, not through negoex_config.allocator; this program installs
 * CRYPTO_set_mem_functions before anything touches OpenSSL (first thing in
 * main: it must precede OpenSSL's first allocation, so it has its own
 * executable) and fails the k-th OpenSSL allocation of a handshake, both
 * sides in one process (one counter for both).
 *
 * Each run: every step either succeeds or answers a negative error (no
 * crash, no abort); the handshake either completes or some side failed;
 * once both sides are freed, OpenSSL holds exactly as many blocks as before
 * the run (its process-wide caches are filled by a first run), and
 * LeakSanitizer / valgrind see the rest at exit.
 *
 * Which k: every k up to the count of a run without failures when that is
 * at most FULL_LIMIT, else all of the first 200 and every STRIDE-th after
 * (the counts, stride and time are printed). Under valgrind
 * (NEGOEX_MEMCHECK=1) the first 40 and every 97th.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <negoex/context.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/spnego.h>
#include <negoex/testpki.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "testutil.h"

#define FULL_LIMIT 6000
#define STRIDE 7

/* ------------------------------------------------------------------------ */
/* OpenSSL's allocator                                                       */
/* ------------------------------------------------------------------------ */

static unsigned long o_calls, o_fail_at, o_failed;
static long o_live;

/* Every live block carries a header (doubly linked) naming where OpenSSL
 * allocated it and in which run, so that a block left over is named. */
typedef struct hdr {
    struct hdr *prev, *next;
    const char *file;
    int line;
    unsigned long run;
    size_t size;
    max_align_t pad[];
} hdr;

static hdr o_head = {&o_head, &o_head, NULL, 0, 0, 0};
static unsigned long o_run;

static void link_hdr(hdr *h, const char *file, int line, size_t n)
{
    h->file = file;
    h->line = line;
    h->run = o_run;
    h->size = n;
    h->next = o_head.next;
    h->prev = &o_head;
    o_head.next->prev = h;
    o_head.next = h;
}

static void unlink_hdr(hdr *h)
{
    h->prev->next = h->next;
    h->next->prev = h->prev;
}

static void *o_malloc(size_t n, const char *file, int line)
{
    if (++o_calls == o_fail_at) {
        o_failed++;
        return NULL;
    }
    hdr *h = malloc(sizeof *h + n);
    if (h == NULL)
        return NULL;
    link_hdr(h, file, line, n);
    o_live++;
    return h + 1;
}

static void o_free(void *p, const char *file, int line)
{
    (void)file;
    (void)line;
    if (p == NULL)
        return;
    hdr *h = (hdr *)p - 1;
    unlink_hdr(h);
    o_live--;
    free(h);
}

static void *o_realloc(void *p, size_t n, const char *file, int line)
{
    if (p == NULL)
        return o_malloc(n, file, line);
    if (n == 0) { /* as CRYPTO_realloc: free, NULL */
        o_free(p, file, line);
        return NULL;
    }
    if (++o_calls == o_fail_at) {
        o_failed++;
        return NULL;
    }
    hdr *h = (hdr *)p - 1;
    unlink_hdr(h);
    hdr *q = realloc(h, sizeof *h + n);
    if (q == NULL) {
        link_hdr(h, h->file, h->line, h->size);
        return NULL;
    }
    link_hdr(q, file, line, n);
    return q + 1;
}

/* Process-wide caches OpenSSL may fill in any run, e.g. when a failure
 * takes another path that fetches something not cached yet: blocks they
 * hold are reachable, freed at exit (LeakSanitizer and valgrind judge
 * them), and not counted here. */
static const char *const CACHES[] = {
    "crypto/err/err.c",           /* the thread's error queue keeps its data buffers for reuse */
    "crypto/err/err_blocks.c",    /* (the same, written by ERR_vset_error) */
    "crypto/property/property.c", /* the method store's fetch cache */
};

static int from_cache(const char *file)
{
    size_t fl = file != NULL ? strlen(file) : 0;
    for (size_t i = 0; i < sizeof CACHES / sizeof CACHES[0]; i++) {
        size_t cl = strlen(CACHES[i]);
        if (fl >= cl && strcmp(file + fl - cl, CACHES[i]) == 0)
            return 1;
    }
    return 0;
}

/* Blocks allocated in this run and still live, but for the caches' (printed
 * when print). */
static long leftovers(int print)
{
    long n = 0;
    for (hdr *h = o_head.next; h != &o_head; h = h->next) {
        if (h->run != o_run)
            continue;
        if (from_cache(h->file))
            continue;
        n++;
        if (print)
            printf("      left: %zu bytes from %s:%d\n", h->size, h->file ? h->file : "?", h->line);
    }
    return n;
}

/* ------------------------------------------------------------------------ */

static negoex_testpki *PKI;
static STACK_OF(X509) *ANCHORS;
static int MEMCHECK;

static int setup(void **state)
{
    (void)state;
    PKI = tu_fast_pki(&ANCHORS); /* 1024-bit keys: the handshakes' count matters, not their keys */
    const char *mc = getenv("NEGOEX_MEMCHECK");
    MEMCHECK = mc != NULL && strcmp(mc, "1") == 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tu_fast_pki_free(PKI, ANCHORS);
    return 0;
}

static negoex_spnego *make_side(negoex_role role, int optimistic, EVP_PKEY *key, int *build_rc)
{
    negoex_pku2u_config pc;
    negoex_pku2u_config_init(&pc);
    negoex_testpki_entity e = role == NEGOEX_ROLE_INITIATOR ? NEGOEX_TESTPKI_USER : NEGOEX_TESTPKI_DEVICE;
    pc.cert = negoex_testpki_get0_cert(PKI, e);
    pc.key = key;
    pc.trust_anchors = ANCHORS;
    if (role == NEGOEX_ROLE_INITIATOR)
        pc.target_host = negoex_testpki_host(PKI);
    negoex_config c;
    negoex_config_init(&c);
    c.optimistic = optimistic;
    negoex_context *nx = NULL;
    negoex_scheme *sc = NULL;
    negoex_spnego *sp = NULL;
    int rc = negoex_context_new(&nx, role, &c);
    if (rc == NEGOEX_OK) {
        rc = negoex_pku2u_scheme_new(&sc, &pc, NULL);
        if (rc == NEGOEX_OK && (rc = negoex_context_add_scheme(nx, sc)) != NEGOEX_OK)
            sc->cls->destroy(sc);
    }
    if (rc == NEGOEX_OK && (rc = negoex_spnego_new(&sp, nx, NULL)) == NEGOEX_OK)
        nx = NULL;
    negoex_context_free(nx);
    *build_rc = rc;
    return sp;
}

static int spnego_step(void *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    return negoex_spnego_step(sp, in, in_len, out, out_len);
}

typedef struct stats {
    unsigned long runs, build_failures, step_failures, completed_despite;
    int errors_seen[128]; /* by -code */
} stats;

/* One handshake with OpenSSL's k-th allocation failing (0: none); returns
 * the number of OpenSSL allocations it made. */
static unsigned long run(int optimistic, unsigned long k, stats *st, int check_live)
{
    ERR_clear_error();
    o_run++;
    /* Each run signs with its own copy of the keys: OpenSSL caches state on
     * an RSA key as it is used (blinding values, renewed every 32 uses,
     * whose bignums may be reallocated then), which would otherwise carry
     * blocks from one run into another and make the count below depend on
     * the run's random values. The copies are made before the count starts. */
    EVP_PKEY *ukey = EVP_PKEY_dup(negoex_testpki_get0_key(PKI, NEGOEX_TESTPKI_USER));
    EVP_PKEY *dkey = EVP_PKEY_dup(negoex_testpki_get0_key(PKI, NEGOEX_TESTPKI_DEVICE));
    assert_non_null(ukey);
    assert_non_null(dkey);
    o_calls = 0;
    o_failed = 0;
    o_fail_at = k;
    int rci = 0, rca = 0;
    negoex_spnego *I = make_side(NEGOEX_ROLE_INITIATOR, optimistic, ukey, &rci);
    negoex_spnego *A = rci == 0 ? make_side(NEGOEX_ROLE_ACCEPTOR, optimistic, dkey, &rca) : NULL;
    st->runs++;
    if (rci != 0 || rca != 0) {
        int rc = rci != 0 ? rci : rca;
        assert_true(rc < 0);
        if (-rc < 128)
            st->errors_seen[-rc] = 1;
        st->build_failures++;
    } else {
        tu_run r = tu_converse(spnego_step, I, A, 16, NULL, NULL);
        if (r.failed >= 0) {
            assert_true(r.fail_rc < 0);
            if (-r.fail_rc < 128)
                st->errors_seen[-r.fail_rc] = 1;
            st->step_failures++;
        } else if (!r.complete) {
            fail_msg("k=%lu: stopped without an error or completion", k);
        } else if (o_failed != 0) {
            st->completed_despite++;
        }
        if (k == 0 && !r.complete)
            fail_msg("no completion without failures");
    }
    negoex_spnego_free(I);
    negoex_spnego_free(A);
    unsigned long calls = o_calls;
    o_fail_at = 0;
    EVP_PKEY_free(ukey);
    EVP_PKEY_free(dkey);
    ERR_clear_error();
    if (check_live && leftovers(0) != 0) {
        (void)leftovers(1);
        fail_msg("k=%lu: OpenSSL holds %ld blocks more after the run", k, leftovers(0));
    }
    return calls;
}

static void sweep(int optimistic)
{
    stats st, ref;
    memset(&st, 0, sizeof st);
    memset(&ref, 0, sizeof ref);
    run(optimistic, 0, &ref, 0); /* fills OpenSSL's caches (algorithms, error strings) */
    unsigned long n = run(optimistic, 0, &ref, 1);
    unsigned long first = MEMCHECK ? 40 : 200, stride = MEMCHECK ? 97 : STRIDE;
    int every = !MEMCHECK && n <= FULL_LIMIT;
    clock_t t0 = clock();
    unsigned long k = 1;
    for (;; k++) {
        if (!every && k > first && k % stride != 0 && k + 2 < n)
            continue;
        unsigned long calls = run(optimistic, k, &st, 1);
        if (calls < k && o_failed == 0)
            break;
        if (k > 4 * n + 1000)
            fail_msg("the allocation count does not converge (%lu)", n);
    }
    double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
    printf("    %s: %lu OpenSSL allocations per handshake (both sides); k swept: %s; %lu runs in %.1f s CPU: "
           "%lu failed while building, %lu failed a step, %lu completed despite the failure; errors:",
           optimistic ? "optimistic" : "3 round trips", n,
           every ? "every k" : (MEMCHECK ? "first 40 + every 97th" : "first 200 + every 7th"), st.runs, secs,
           st.build_failures, st.step_failures, st.completed_despite);
    for (int e = 1; e < 128; e++)
        if (st.errors_seen[e])
            printf(" %s", negoex_error_name(-e));
    printf("\n");
    assert_true(st.build_failures + st.step_failures > 0);
}

static void test_ossl_windows(void **state)
{
    (void)state;
    sweep(0);
}

static void test_ossl_optimistic(void **state)
{
    (void)state;
    sweep(1);
}

int main(void)
{
    /* Before anything else: OpenSSL refuses once it has allocated. */
    if (!CRYPTO_set_mem_functions(o_malloc, o_realloc, o_free)) {
        fprintf(stderr, "CRYPTO_set_mem_functions refused\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ossl_windows),
        cmocka_unit_test(test_ossl_optimistic),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
