/* Full parse vs. a minimal bounds-checked walk over the same real tokens.
 * The walk checks what any safe consumer must (header, signature, lengths,
 * every vector inside its message) but builds no views and keeps no error
 * detail: it is the floor a strict reader is measured against. */
#include "bench_codec.h"

#include <negoex/negoex.h>
#include <string.h>
#include <time.h>

#include "bench_data.h"

#define NOINLINE __attribute__((noinline))

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int vec_ok(uint32_t mlen, uint32_t off, uint32_t count, uint32_t width)
{
    return count == 0 || (off <= mlen && count <= (mlen - off) / width);
}

static long walk_token(const unsigned char *p, size_t len)
{
    long n = 0;
    while (len) {
        if (len < 40 || memcmp(p, "NEGOEXTS", 8) != 0)
            return -1;
        uint32_t type = rd32(p + 8), hlen = rd32(p + 16), mlen = rd32(p + 20);
        if (hlen < 40 || mlen < hlen || mlen > len)
            return -1;
        int ok;
        switch (type) {
        case 0:
        case 1:
            ok = hlen >= 96 && vec_ok(mlen, rd32(p + 80), p[84] | p[85] << 8, 16) &&
                 vec_ok(mlen, rd32(p + 88), p[92] | p[93] << 8, 12);
            break;
        case 2: case 3: case 4: case 5:
            ok = hlen >= 64 && vec_ok(mlen, rd32(p + 56), rd32(p + 60), 1);
            break;
        case 6:
            ok = hlen >= 80 && vec_ok(mlen, rd32(p + 68), rd32(p + 72), 1);
            break;
        case 7:
            ok = hlen >= 68 && vec_ok(mlen, rd32(p + 60), p[64] | p[65] << 8, 12);
            break;
        default:
            ok = 0;
        }
        if (!ok)
            return -1;
        p += mlen;
        len -= mlen;
        n++;
    }
    return n;
}

NOINLINE uint64_t bench_codec_walk_pass(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bench_token_count; i++) {
        long n = walk_token(bench_tokens[i].data, bench_tokens[i].len);
        if (n < 0)
            return 0;
        total += (uint64_t)n;
    }
    return total;
}

NOINLINE uint64_t bench_codec_parse_pass(void)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < bench_token_count; i++) {
        negoex_reader r;
        negoex_message m;
        int rc;
        negoex_reader_init(&r, bench_tokens[i].data, bench_tokens[i].len);
        while ((rc = negoex_reader_next(&r, &m)) == 1)
            total++;
        if (rc < 0)
            return 0;
    }
    return total;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int bench_codec_run(uint64_t iterations, struct bench_codec_result *out)
{
    memset(out, 0, sizeof *out);
    out->iterations = iterations;
    out->messages = bench_codec_parse_pass();
    if (out->messages == 0 || bench_codec_walk_pass() != out->messages)
        return -1;
    /* volatile sink: the passes must not be optimised away */
    volatile uint64_t sink = 0;
    double t0 = now();
    for (uint64_t i = 0; i < iterations; i++)
        sink += bench_codec_parse_pass();
    double t1 = now();
    for (uint64_t i = 0; i < iterations; i++)
        sink += bench_codec_walk_pass();
    double t2 = now();
    (void)sink;
    out->parse_seconds = t1 - t0;
    out->walk_seconds = t2 - t1;
    double msgs = (double)iterations * (double)out->messages;
    out->parse_msgs_per_sec = out->parse_seconds > 0 ? msgs / out->parse_seconds : 0;
    out->walk_msgs_per_sec = out->walk_seconds > 0 ? msgs / out->walk_seconds : 0;
    return 0;
}
