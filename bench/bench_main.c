/* bench/negoex-bench-codec [ITERATIONS]: the codec figures; see scripts/run-bench
 * for the callgrind instruction counts. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "bench_codec.h"

int main(int argc, char **argv)
{
    uint64_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 100000;
    struct bench_codec_result r;
    if (bench_codec_run(n, &r) != 0) {
        fprintf(stderr, "bench: embedded token failed to parse\n");
        return 1;
    }
    printf("iterations %" PRIu64 "\nmessages_per_pass %" PRIu64 "\n", r.iterations, r.messages);
    printf("parse_msgs_per_sec %.0f\nwalk_msgs_per_sec %.0f\nparse_vs_walk_speed %.2f\n",
           r.parse_msgs_per_sec, r.walk_msgs_per_sec,
           r.walk_msgs_per_sec > 0 ? r.parse_msgs_per_sec / r.walk_msgs_per_sec : 0);
    return 0;
}
