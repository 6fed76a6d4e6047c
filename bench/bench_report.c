#include "bench_report.h"

#include <inttypes.h>
#include <string.h>

#include "bench_codec.h"
#include "bench_handshake.h"
#include "bench_pku2u.h"
#include "bench_spnego.h"

static int report_codec(FILE *f, uint64_t n)
{
    struct bench_codec_result r;
    if (bench_codec_run(n, &r) != 0)
        return -2;
    fprintf(f,
            "iterations %" PRIu64 "\nmessages_per_pass %" PRIu64 "\nparse_msgs_per_sec %.0f\n"
            "walk_msgs_per_sec %.0f\nparse_vs_walk_speed %.2f\n",
            r.iterations, r.messages, r.parse_msgs_per_sec, r.walk_msgs_per_sec,
            r.walk_msgs_per_sec > 0 ? r.parse_msgs_per_sec / r.walk_msgs_per_sec : 0);
    return 0;
}

static int report_handshake(FILE *f, uint64_t n)
{
    struct bench_handshake_result h;
    if (bench_handshake_run(n, &h) != 0)
        return -2;
    fprintf(f,
            "iterations %" PRIu64 "\nhandshakes_per_sec %.0f\nallocs_per_handshake %.1f\n"
            "initiator_heap_bytes %zu\nacceptor_heap_bytes %zu\ntranscript_bytes %zu\n",
            h.iterations, h.handshakes_per_sec, h.allocs_per_handshake, h.initiator_heap_bytes,
            h.acceptor_heap_bytes, h.token_bytes);
    return 0;
}

/* SPNEGO against the bare handshake in the same process, and SPNEGO parsing. */
static int report_spnego(FILE *f, uint64_t n)
{
    struct bench_spnego_result s;
    struct bench_handshake_result h;
    struct bench_spnego_parse_result p;
    if (bench_spnego_handshake_run(n, &s) != 0 || bench_handshake_run(n, &h) != 0 ||
        bench_spnego_parse_run(n * BENCH_SPNEGO_PARSE_PASSES_PER_ITERATION, &p) != 0)
        return -2;
    fprintf(f,
            "iterations %" PRIu64 "\nspnego_handshakes_per_sec %.0f\nraw_handshakes_per_sec %.0f\n"
            "spnego_vs_raw_speed %.2f\nallocs_per_spnego_handshake %.1f\nspnego_wire_bytes %zu\n"
            "spnego_parse_tokens_per_sec %.0f\n",
            s.iterations, s.handshakes_per_sec, h.handshakes_per_sec,
            h.handshakes_per_sec > 0 ? s.handshakes_per_sec / h.handshakes_per_sec : 0, s.allocs_per_handshake,
            s.wire_bytes, p.tokens_per_sec);
    fprintf(f,
            "spnego_initiator_heap_bytes %zu\nspnego_acceptor_heap_bytes %zu\n"
            "spnego_parse_passes %" PRIu64 "\nspnego_parse_tokens_per_pass %" PRIu64 "\n",
            s.initiator_heap_bytes, s.acceptor_heap_bytes, p.passes, p.tokens);
    return 0;
}

/* PKU2U handshakes against the crypto floor (the same operations through
 * EVP alone), interleaved in the same run. */
static int report_pku2u(FILE *f, uint64_t n)
{
    struct bench_pku2u_result r;
    if (bench_pku2u_run(n, &r) != 0)
        return -2;
    fprintf(f,
            "iterations %" PRIu64 "\nrsa_bits %d\ndh_group %d\nfloor_rsa_signs %d\nfloor_rsa_verifies %d\n"
            "floor_dh_keygens %d\nfloor_dh_derives %d\n",
            r.iterations, BENCH_PKU2U_RSA_BITS, BENCH_PKU2U_DH_GROUP, BENCH_PKU2U_FLOOR_RSA_SIGNS,
            BENCH_PKU2U_FLOOR_RSA_VERIFIES, BENCH_PKU2U_FLOOR_DH_KEYGENS, BENCH_PKU2U_FLOOR_DH_DERIVES);
    fprintf(f,
            "handshakes_per_sec %.1f\nfloors_per_sec %.1f\nhandshake_us %.0f\nfloor_us %.0f\n"
            "handshake_vs_floor_time %.3f\nallocs_per_handshake %.1f\ntranscript_bytes %zu\n",
            r.handshakes_per_sec, r.floors_per_sec, r.handshakes_per_sec > 0 ? 1e6 / r.handshakes_per_sec : 0,
            r.floors_per_sec > 0 ? 1e6 / r.floors_per_sec : 0, r.handshake_vs_floor_time, r.allocs_per_handshake,
            r.transcript_bytes);
    return 0;
}

uint64_t bench_default_iterations(const char *what)
{
    if (strcmp(what, "pku2u") == 0)
        return 100;
    return strcmp(what, "codec") == 0 ? 100000 : 1000;
}

int bench_report(FILE *f, const char *what, uint64_t iterations)
{
    if (strcmp(what, "codec") == 0)
        return report_codec(f, iterations);
    if (strcmp(what, "handshake") == 0)
        return report_handshake(f, iterations);
    if (strcmp(what, "spnego") == 0)
        return report_spnego(f, iterations);
    if (strcmp(what, "pku2u") == 0)
        return report_pku2u(f, iterations);
    return -1;
}
