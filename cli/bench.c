/* `negoex bench codec|handshake|spnego`: the benchmarks of bench/, from the tool. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_codec.h"
#include "bench_handshake.h"
#include "bench_spnego.h"
#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: negoex bench codec [--iterations N]\n"
          "       negoex bench handshake [--scheme test] [--iterations N]\n"
          "       negoex bench spnego [--iterations N]\n"
          "\n"
          "codec: parses the embedded Windows and MIT tokens N times (default 100000)\n"
          "       and, in the same run, a minimal bounds-checked walk over them.\n"
          "handshake: N one-hop test-scheme handshakes (default 1000), both roles here.\n"
          "spnego: N of the same handshakes with each side wrapped in SPNEGO (default\n"
          "       1000), N bare ones as the baseline, and 100*N passes of the SPNEGO\n"
          "       parser over the embedded MIT SPNEGO tokens.\n"
          "Instruction counts: scripts/run-bench (callgrind).\n",
          f);
}

static int run_spnego(uint64_t n)
{
    struct bench_spnego_result s;
    struct bench_handshake_result h;
    struct bench_spnego_parse_result p;
    if (bench_spnego_handshake_run(n, &s) != 0) {
        cli_error("a SPNEGO handshake failed or leaked");
        return CLI_EXIT_INVALID;
    }
    if (bench_handshake_run(n, &h) != 0) {
        cli_error("a handshake failed or leaked");
        return CLI_EXIT_INVALID;
    }
    if (bench_spnego_parse_run(n * BENCH_SPNEGO_PARSE_PASSES_PER_ITERATION, &p) != 0) {
        cli_error("an embedded SPNEGO token failed to parse");
        return CLI_EXIT_INVALID;
    }
    printf("iterations %" PRIu64 "\nspnego_handshakes_per_sec %.0f\nraw_handshakes_per_sec %.0f\n"
           "spnego_vs_raw_speed %.2f\nallocs_per_spnego_handshake %.1f\nspnego_wire_bytes %zu\n"
           "spnego_parse_tokens_per_sec %.0f\n",
           s.iterations, s.handshakes_per_sec, h.handshakes_per_sec,
           h.handshakes_per_sec > 0 ? s.handshakes_per_sec / h.handshakes_per_sec : 0, s.allocs_per_handshake,
           s.wire_bytes, p.tokens_per_sec);
    return CLI_EXIT_OK;
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
    if (!codec && !spnego && strcmp(what, "handshake") != 0) {
        cli_error("unknown benchmark '%s'", what);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    uint64_t n = codec ? 100000 : 1000;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--iterations") == 0 && i + 1 < argc) {
            char *end;
            n = strtoull(argv[++i], &end, 10);
            if (*argv[i] == '\0' || *end != '\0' || n == 0) {
                cli_error("--iterations takes a positive number");
                return CLI_EXIT_USAGE;
            }
        } else if (!codec && !spnego && strcmp(argv[i], "--scheme") == 0 && i + 1 < argc) {
            if (strcmp(argv[++i], "test") != 0) {
                cli_error("only the test scheme can be benchmarked");
                return CLI_EXIT_USAGE;
            }
        } else {
            cli_error("unknown option '%s'", argv[i]);
            return CLI_EXIT_USAGE;
        }
    }
    if (spnego)
        return run_spnego(n);
    if (codec) {
        struct bench_codec_result r;
        if (bench_codec_run(n, &r) != 0) {
            cli_error("an embedded token failed to parse");
            return CLI_EXIT_INVALID;
        }
        printf("iterations %" PRIu64 "\nmessages_per_pass %" PRIu64 "\nparse_msgs_per_sec %.0f\n"
               "walk_msgs_per_sec %.0f\nparse_vs_walk_speed %.2f\n",
               r.iterations, r.messages, r.parse_msgs_per_sec, r.walk_msgs_per_sec,
               r.walk_msgs_per_sec > 0 ? r.parse_msgs_per_sec / r.walk_msgs_per_sec : 0);
        return CLI_EXIT_OK;
    }
    struct bench_handshake_result h;
    if (bench_handshake_run(n, &h) != 0) {
        cli_error("a handshake failed or leaked");
        return CLI_EXIT_INVALID;
    }
    printf("iterations %" PRIu64 "\nhandshakes_per_sec %.0f\nallocs_per_handshake %.1f\n"
           "initiator_heap_bytes %zu\nacceptor_heap_bytes %zu\ntranscript_bytes %zu\n",
           h.iterations, h.handshakes_per_sec, h.allocs_per_handshake, h.initiator_heap_bytes,
           h.acceptor_heap_bytes, h.token_bytes);
    return CLI_EXIT_OK;
}
