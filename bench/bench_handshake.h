/* Handshake benchmark shared by bench/ programs and `negoex bench handshake`. */
#ifndef NEGOEX_BENCH_HANDSHAKE_H
#define NEGOEX_BENCH_HANDSHAKE_H
#include <stdint.h>
#include <stddef.h>

struct bench_handshake_result {
    uint64_t iterations;
    double seconds;
    double handshakes_per_sec;
    double allocs_per_handshake;      /* both contexts, schemes included */
    size_t initiator_heap_bytes;      /* live heap of one context when complete */
    size_t acceptor_heap_bytes;
    size_t token_bytes;               /* bytes on the wire per handshake */
};

/* One-hop test-scheme handshakes (two mechanisms offered, the MIT default),
 * both roles in this process. Returns 0, or -1 if a handshake fails. */
int bench_handshake_run(uint64_t iterations, struct bench_handshake_result *out);

/* One handshake; exported (noinline) so callgrind can count it by name. */
int bench_handshake_one(void);
#endif
