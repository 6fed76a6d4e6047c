/* In-process one-hop handshakes with a counting allocator: instructions come
 * from callgrind (bench_handshake_one), allocations and heap from the counter. */
#include "bench_handshake.h"

#include "bench_alloc.h"

#include <negoex/context.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NOINLINE __attribute__((noinline))

static size_t last_heap[2];
static size_t last_wire;

NOINLINE int bench_handshake_one(void)
{
    negoex_context *i = bench_test_context(NEGOEX_ROLE_INITIATOR), *a = bench_test_context(NEGOEX_ROLE_ACCEPTOR);
    int ok = 0;
    const uint8_t *t1, *t2;
    size_t l1, l2;
    if (i != NULL && a != NULL && negoex_context_step(i, NULL, 0, &t1, &l1) == NEGOEX_CONTINUE &&
        negoex_context_step(a, t1, l1, &t2, &l2) == NEGOEX_COMPLETE &&
        negoex_context_step(i, t2, l2, &t1, &l1) == NEGOEX_COMPLETE) {
        ok = 1;
        last_heap[0] = bench_counters[0].live;
        last_heap[1] = bench_counters[1].live;
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
    uint64_t before = bench_counters[0].allocs + bench_counters[1].allocs;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (uint64_t k = 0; k < iterations; k++)
        if (!bench_handshake_one())
            return -1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    out->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    out->handshakes_per_sec = out->seconds > 0 ? (double)iterations / out->seconds : 0;
    out->allocs_per_handshake =
        iterations ? (double)(bench_counters[0].allocs + bench_counters[1].allocs - before) / (double)iterations : 0;
    out->initiator_heap_bytes = last_heap[0];
    out->acceptor_heap_bytes = last_heap[1];
    out->token_bytes = last_wire;
    return bench_counters[0].live == 0 && bench_counters[1].live == 0 ? 0 : -1;
}
