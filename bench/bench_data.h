#ifndef NEGOEX_BENCH_DATA_H
#define NEGOEX_BENCH_DATA_H
#include <stddef.h>
struct bench_token {
    const char *name;
    const unsigned char *data;
    size_t len;
};
/* Real tokens from ../shared/vectors, embedded at build time. */
extern const struct bench_token bench_tokens[];
extern const unsigned bench_token_count;
#endif
