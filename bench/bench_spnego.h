/* SPNEGO benchmarks shared by bench/ programs and `negoex bench spnego`. */
#ifndef NEGOEX_BENCH_SPNEGO_H
#define NEGOEX_BENCH_SPNEGO_H
#include <stddef.h>
#include <stdint.h>

struct bench_spnego_result {
    uint64_t iterations;
    double seconds;
    double handshakes_per_sec;
    double allocs_per_handshake;      /* both sides, SPNEGO + NEGOEX + schemes */
    size_t initiator_heap_bytes;      /* live heap of one side when complete */
    size_t acceptor_heap_bytes;
    size_t wire_bytes;                /* the three SPNEGO tokens of a handshake */
};

struct bench_spnego_parse_result {
    uint64_t passes;
    uint64_t tokens;                  /* tokens parsed per pass */
    double seconds;
    double tokens_per_sec;
};

/* Passes of the parse benchmark per handshake iteration in `negoex bench
 * spnego` (a pass is far shorter than a handshake). */
#define BENCH_SPNEGO_PARSE_PASSES_PER_ITERATION 100

/* The one-hop test-scheme handshake of bench_handshake_run, each NEGOEX
 * context wrapped in a SPNEGO context. Returns 0, or -1 if a handshake fails
 * or leaks. */
int bench_spnego_handshake_run(uint64_t iterations, struct bench_spnego_result *out);

/* `passes` passes of negoex_spnego_parse over the embedded MIT SPNEGO tokens.
 * Returns 0, or -1 if a token fails to parse. */
int bench_spnego_parse_run(uint64_t passes, struct bench_spnego_parse_result *out);

/* One handshake / one pass; exported (noinline) so callgrind can count them
 * by name. The pass returns the tokens parsed, 0 if one failed. */
int bench_spnego_handshake_one(void);
uint64_t bench_spnego_parse_pass(void);
#endif
