/* SPNEGO over NEGOEX: the one-hop handshake of bench_handshake.c with each
 * NEGOEX context wrapped in a negoex_spnego, and the SPNEGO codec over real
 * MIT tokens. Instructions come from callgrind (bench_spnego_handshake_one,
 * bench_spnego_parse_pass), allocations and heap from the counter. */
#include "bench_spnego.h"

#include <negoex/context.h>
#include <negoex/spnego.h>
#include <stdlib.h>
#include <string.h>

#include "bench_alloc.h"
#include "bench_data.h"

#define NOINLINE __attribute__((noinline))

/* The spnego_* entries of the embed list (bench/CMakeLists.txt). */
extern const struct bench_token bench_spnego_tokens[];
extern const unsigned bench_spnego_token_count;

static size_t last_heap[2];
static size_t last_wire;

/* The NEGOEX context of bench_handshake.c, in SPNEGO. */
static negoex_spnego *make(negoex_role role)
{
    negoex_context *ctx = bench_test_context(role);
    if (ctx == NULL)
        return NULL;
    negoex_spnego *sp;
    if (negoex_spnego_new(&sp, ctx, NULL) != NEGOEX_OK) {
        negoex_context_free(ctx);
        return NULL;
    }
    return sp;
}

NOINLINE int bench_spnego_handshake_one(void)
{
    negoex_spnego *i = make(NEGOEX_ROLE_INITIATOR), *a = make(NEGOEX_ROLE_ACCEPTOR);
    int ok = 0;
    const uint8_t *t1, *t2, *t3;
    size_t l1, l2, l3;
    if (i != NULL && a != NULL && negoex_spnego_step(i, NULL, 0, &t1, &l1) == NEGOEX_CONTINUE &&
        negoex_spnego_step(a, t1, l1, &t2, &l2) == NEGOEX_COMPLETE &&
        negoex_spnego_step(i, t2, l2, &t3, &l3) == NEGOEX_COMPLETE) {
        ok = 1;
        last_heap[0] = bench_counters[0].live;
        last_heap[1] = bench_counters[1].live;
        last_wire = l1 + l2 + l3;
    }
    negoex_spnego_free(i);
    negoex_spnego_free(a);
    return ok;
}

int bench_spnego_handshake_run(uint64_t iterations, struct bench_spnego_result *out)
{
    memset(out, 0, sizeof *out);
    out->iterations = iterations;
    if (!bench_spnego_handshake_one())
        return -1;
    uint64_t before = bench_counters[0].allocs + bench_counters[1].allocs;
    double t0 = bench_now();
    for (uint64_t k = 0; k < iterations; k++)
        if (!bench_spnego_handshake_one())
            return -1;
    out->seconds = bench_now() - t0;
    out->handshakes_per_sec = out->seconds > 0 ? (double)iterations / out->seconds : 0;
    out->allocs_per_handshake =
        iterations ? (double)(bench_counters[0].allocs + bench_counters[1].allocs - before) / (double)iterations : 0;
    out->initiator_heap_bytes = last_heap[0];
    out->acceptor_heap_bytes = last_heap[1];
    out->wire_bytes = last_wire;
    return bench_counters[0].live == 0 && bench_counters[1].live == 0 ? 0 : -1;
}

NOINLINE uint64_t bench_spnego_parse_pass(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bench_spnego_token_count; i++) {
        negoex_spnego_token t;
        if (negoex_spnego_parse(bench_spnego_tokens[i].data, bench_spnego_tokens[i].len, &t, NULL) != NEGOEX_OK)
            return 0;
        total++;
    }
    return total;
}

int bench_spnego_parse_run(uint64_t passes, struct bench_spnego_parse_result *out)
{
    memset(out, 0, sizeof *out);
    out->passes = passes;
    out->tokens = bench_spnego_parse_pass();
    if (out->tokens != bench_spnego_token_count || out->tokens == 0)
        return -1;
    /* volatile sink: the passes must not be optimised away */
    volatile uint64_t sink = 0;
    double t0 = bench_now();
    for (uint64_t k = 0; k < passes; k++)
        sink += bench_spnego_parse_pass();
    out->seconds = bench_now() - t0;
    if (sink != passes * out->tokens)
        return -1;
    out->tokens_per_sec = out->seconds > 0 ? (double)passes * (double)out->tokens / out->seconds : 0;
    return 0;
}
