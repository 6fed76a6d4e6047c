/* Runs one benchmark and prints its figures as `key value` lines: the one
 * printer behind bench/negoex-bench and `negoex bench`. */
#ifndef NEGOEX_BENCH_REPORT_H
#define NEGOEX_BENCH_REPORT_H
#include <stdint.h>
#include <stdio.h>

/* what: "codec", "handshake" or "spnego". 0 = printed; -1 = unknown name;
 * -2 = the run failed (a token did not parse, a handshake failed or leaked). */
int bench_report(FILE *f, const char *what, uint64_t iterations);

/* The default iteration count of what. */
uint64_t bench_default_iterations(const char *what);
#endif
