/* bench/negoex-bench [codec|handshake|spnego] [ITERATIONS]: the same figures
 * as `negoex bench` (spnego adds the heap and parse-pass figures that
 * scripts/run-bench needs); scripts/run-bench adds the callgrind
 * instruction counts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_codec.h"
#include "bench_handshake.h"
#include "bench_spnego.h"

static int run_spnego(uint64_t n)
{
    struct bench_spnego_result s;
    struct bench_handshake_result h;
    struct bench_spnego_parse_result p;
    if (bench_spnego_handshake_run(n, &s) != 0 || bench_handshake_run(n, &h) != 0 ||
        bench_spnego_parse_run(n * BENCH_SPNEGO_PARSE_PASSES_PER_ITERATION, &p) != 0)
        return 1;
    printf("iterations %" PRIu64 "\nspnego_handshakes_per_sec %.0f\nraw_handshakes_per_sec %.0f\n"
           "spnego_vs_raw_speed %.2f\nallocs_per_spnego_handshake %.1f\nspnego_wire_bytes %zu\n"
           "spnego_parse_tokens_per_sec %.0f\n",
           s.iterations, s.handshakes_per_sec, h.handshakes_per_sec,
           h.handshakes_per_sec > 0 ? s.handshakes_per_sec / h.handshakes_per_sec : 0, s.allocs_per_handshake,
           s.wire_bytes, p.tokens_per_sec);
    printf("spnego_initiator_heap_bytes %zu\nspnego_acceptor_heap_bytes %zu\n"
           "spnego_parse_passes %" PRIu64 "\nspnego_parse_tokens_per_pass %" PRIu64 "\n",
           s.initiator_heap_bytes, s.acceptor_heap_bytes, p.passes, p.tokens);
    return 0;
}

int main(int argc, char **argv)
{
    const char *what = argc > 1 ? argv[1] : "codec";
    int codec = strcmp(what, "codec") == 0;
    uint64_t n = argc > 2 ? strtoull(argv[2], NULL, 10) : (codec ? 100000 : 1000);
    if (strcmp(what, "spnego") == 0)
        return run_spnego(n);
    if (codec) {
        struct bench_codec_result r;
        if (bench_codec_run(n, &r) != 0)
            return 1;
        printf("iterations %" PRIu64 "\nmessages_per_pass %" PRIu64 "\n", r.iterations, r.messages);
        printf("parse_msgs_per_sec %.0f\nwalk_msgs_per_sec %.0f\nparse_vs_walk_speed %.2f\n",
               r.parse_msgs_per_sec, r.walk_msgs_per_sec,
               r.walk_msgs_per_sec > 0 ? r.parse_msgs_per_sec / r.walk_msgs_per_sec : 0);
        return 0;
    }
    struct bench_handshake_result h;
    if (bench_handshake_run(n, &h) != 0)
        return 1;
    printf("iterations %" PRIu64 "\nhandshakes_per_sec %.0f\nallocs_per_handshake %.1f\n"
           "initiator_heap_bytes %zu\nacceptor_heap_bytes %zu\ntranscript_bytes %zu\n",
           h.iterations, h.handshakes_per_sec, h.allocs_per_handshake, h.initiator_heap_bytes,
           h.acceptor_heap_bytes, h.token_bytes);
    return 0;
}
