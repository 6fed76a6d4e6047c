#include "bench_alloc.h"

#include <negoex/scheme_test.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A size header precedes every block so frees can be counted in bytes. */
static void *c_alloc(size_t size, void *ud)
{
    struct bench_counter *c = ud;
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
    struct bench_counter *c = ud;
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

struct bench_counter bench_counters[2];
negoex_allocator bench_allocators[2] = {
    {c_alloc, c_realloc, c_free, &bench_counters[0]},
    {c_alloc, c_realloc, c_free, &bench_counters[1]},
};

negoex_context *bench_test_context(negoex_role role)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.allocator = &bench_allocators[role];
    negoex_context *ctx;
    if (negoex_context_new(&ctx, role, &cfg) != NEGOEX_OK)
        return NULL;
    static const char *const oids[] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
    for (int i = 0; i < 2; i++) {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = oids[i];
        negoex_scheme *s;
        if (negoex_test_scheme_new(&s, &tc, &bench_allocators[role]) != NEGOEX_OK) {
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

double bench_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}
