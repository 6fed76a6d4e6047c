/* `negoex bench codec|handshake|spnego|pku2u`: the benchmarks of bench/, from the tool. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_report.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: negoex bench codec [--iterations N]\n"
          "       negoex bench handshake [--scheme test] [--iterations N]\n"
          "       negoex bench spnego [--iterations N]\n"
          "       negoex bench pku2u [--iterations N]\n"
          "\n"
          "codec: parses the embedded Windows and MIT tokens N times (default 100000)\n"
          "       and, in the same run, a minimal bounds-checked walk over them.\n"
          "handshake: N one-hop test-scheme handshakes (default 1000), both roles here.\n"
          "spnego: N of the same handshakes with each side wrapped in SPNEGO (default\n"
          "       1000), N bare ones as the baseline, and 100*N passes of the SPNEGO\n"
          "       parser over the embedded MIT SPNEGO tokens.\n"
          "pku2u: N full PKU2U handshakes (default 100; bare NEGOEX, Windows form,\n"
          "       2048-bit RSA test PKI made once, DH group 2, both roles here) and N\n"
          "       times their crypto floor alone through OpenSSL (2 RSA signs, 4 RSA\n"
          "       verifies, 2 DH key generations, 2 DH derivations), interleaved;\n"
          "       handshake_vs_floor_time is the ratio (goal <= 1.25).\n"
          "Instruction counts: scripts/run-bench (callgrind).\n",
          f);
}

int cli_bench(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *what = argv[1];
    if (strcmp(what, "--help") == 0 || strcmp(what, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    int codec = strcmp(what, "codec") == 0;
    int spnego = strcmp(what, "spnego") == 0;
    int pku2u = strcmp(what, "pku2u") == 0;
    if (!codec && !spnego && !pku2u && strcmp(what, "handshake") != 0) {
        cli_error("unknown benchmark '%s'", what);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    uint64_t n = bench_default_iterations(what);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            n = strtoull(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || n == 0) {
                cli_error("--iterations takes a positive number");
                return CLI_EXIT_USAGE;
            }
        } else if (!codec && !spnego && !pku2u && strcmp(argv[i], "--scheme") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "test") != 0) {
                cli_error("only the test scheme can be benchmarked");
                return CLI_EXIT_USAGE;
            }
        } else {
            cli_error("unknown option '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    int rc = bench_report(stdout, what, n);
    if (rc != 0) {
        cli_error(codec   ? "an embedded token failed to parse"
                  : pku2u ? "a handshake or the crypto floor failed, or a handshake leaked"
                          : "a handshake failed or leaked");
        return CLI_EXIT_INVALID;
    }
    return CLI_EXIT_OK;
}
