/* bench/negoex-bench [codec|handshake|spnego] [ITERATIONS]: the figures of
 * `negoex bench`; scripts/run-bench adds the callgrind instruction counts. */
#include <stdio.h>
#include <stdlib.h>

#include "bench_report.h"

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "codec";
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : bench_default_iterations(what);
    return bench_report(stdout, what, n) == 0 ? 0 : 1;
}
