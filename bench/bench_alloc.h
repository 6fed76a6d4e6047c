/* What the handshake benchmarks share: a counting allocator per role and the
 * NEGOEX context they all run (two test mechanisms, MIT's default). */
#ifndef NEGOEX_BENCH_ALLOC_H
#define NEGOEX_BENCH_ALLOC_H
#include <negoex/context.h>
#include <stdint.h>

struct bench_counter {
    uint64_t allocs; /* alloc + realloc calls */
    size_t live;     /* bytes held now */
};

/* Index: negoex_role (0 initiator, 1 acceptor). */
extern struct bench_counter bench_counters[2];
extern negoex_allocator bench_allocators[2];

/* A context for role with both test mechanisms, on the role's counter; NULL on failure. */
negoex_context *bench_test_context(negoex_role role);

/* Monotonic seconds. */
double bench_now(void);
#endif
