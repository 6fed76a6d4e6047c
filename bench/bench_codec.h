/* Codec benchmark shared by bench/ programs and `negoex bench codec`. */
#ifndef NEGOEX_BENCH_CODEC_H
#define NEGOEX_BENCH_CODEC_H
#include <stdint.h>

struct bench_codec_result {
    uint64_t iterations;
    uint64_t messages;        /* messages parsed per pass over all tokens */
    double parse_seconds;
    double walk_seconds;
    double parse_msgs_per_sec;
    double walk_msgs_per_sec;
};

/* Runs `iterations` passes of the full parser and of the baseline walk over
 * the embedded Windows and MIT tokens. Returns 0, or -1 if a token fails. */
int bench_codec_run(uint64_t iterations, struct bench_codec_result *out);

/* One pass each; exported (noinline) so callgrind can count them by name. */
uint64_t bench_codec_parse_pass(void);
uint64_t bench_codec_walk_pass(void);
#endif
