/* In-process one-hop handshakes with a counting allocator: instructions come
 * from callgrind (bench_handshake_one), allocations and heap from the counter. */
#include "bench_handshake.h"

#include <negoex/context.h>
#include <negoex/scheme_test.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

/* Counts calls and live bytes; a size header precedes every block. */
struct counter {
    uint64_t allocs;
    size_t live;
};

static void *c_alloc(size_t size, void *ud)
{
    struct counter *c = ud;
    size_t *p = malloc(sizeof(size_t) + size);
    if (p == NULL)
        return NULL;
    *p = size;
    c->allocs++;
    c->live += size;
    return p + 1;
}

static void c_free(void *ptr, void *ud)
{
    if (ptr == NULL)
        return;
    struct counter *c = ud;
    size_t *p = (size_t *)ptr - 1;
    c->live -= *p;
    free(p);
}

static void *c_realloc(void *ptr, size_t size, void *ud)
{
    void *n = c_alloc(size, ud);
    if (n != NULL && ptr != NULL) {
        size_t old = ((size_t *)ptr)[-1];
        memcpy(n, ptr, old < size ? old : size);
        c_free(ptr, ud);
    }
    return n;
}

static struct counter counters[2];
static negoex_allocator allocs[2] = {
    {c_alloc, c_realloc, c_free, &counters[0]},
    {c_alloc, c_realloc, c_free, &counters[1]},
};
static size_t last_heap[2];
static size_t last_wire;

static negoex_context *make(negoex_role role)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.allocator = &allocs[role];
    negoex_context *ctx;
    if (negoex_context_new(&ctx, role, &cfg) != NEGOEX_OK)
        return NULL;
    static const char *const oids[] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
    for (int i = 0; i < 2; i++) {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = oids[i];
        negoex_scheme *s;
        if (negoex_test_scheme_new(&s, &tc, &allocs[role]) != NEGOEX_OK) {
            negoex_context_free(ctx);
            return NULL;
        }
        if (negoex_context_add_scheme(ctx, s) != NEGOEX_OK) {
            s->cls->destroy(s);
            negoex_context_free(ctx);
            return NULL;
        }
    }
    return ctx;
}

NOINLINE int bench_handshake_one(void)
{
    negoex_context *i = make(NEGOEX_ROLE_INITIATOR), *a = make(NEGOEX_ROLE_ACCEPTOR);
    int ok = 0;
    const uint8_t *t1, *t2;
    size_t l1, l2;
    if (i != NULL && a != NULL && negoex_context_step(i, NULL, 0, &t1, &l1) == NEGOEX_CONTINUE &&
        negoex_context_step(a, t1, l1, &t2, &l2) == NEGOEX_COMPLETE &&
        negoex_context_step(i, t2, l2, &t1, &l1) == NEGOEX_COMPLETE) {
        ok = 1;
        last_heap[0] = counters[0].live;
        last_heap[1] = counters[1].live;
        last_wire = negoex_context_transcript(i).len;
    }
    negoex_context_free(i);
    negoex_context_free(a);
    return ok;
}

int bench_handshake_run(uint64_t iterations, struct bench_handshake_result *out)
{
    memset(out, 0, sizeof *out);
    out->iterations = iterations;
    if (!bench_handshake_one())
        return -1;
    uint64_t before = counters[0].allocs + counters[1].allocs;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0; k < iterations; k++)
        if (!bench_handshake_one())
            return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    out->handshakes_per_sec = out->seconds > 0 ? (double)iterations / out->seconds : 0;
    out->allocs_per_handshake =
        iterations ? (double)(counters[0].allocs + counters[1].allocs - before) / (double)iterations : 0;
    out->initiator_heap_bytes = last_heap[0];
    out->acceptor_heap_bytes = last_heap[1];
    out->token_bytes = last_wire;
    return counters[0].live == 0 && counters[1].live == 0 ? 0 : -1;
}
