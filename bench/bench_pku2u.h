/* PKU2U handshake benchmark against its crypto floor, shared by bench/
 * programs and `negoex bench pku2u`. */
#ifndef NEGOEX_BENCH_PKU2U_H
#define NEGOEX_BENCH_PKU2U_H
#include <stddef.h>
#include <stdint.h>

/* What one handshake does (counted from src/pku2u and checked against
 * callgrind's call counts, see bench_pku2u.c), and what the floor does. */
#define BENCH_PKU2U_RSA_BITS 2048
#define BENCH_PKU2U_DH_GROUP 2
#define BENCH_PKU2U_FLOOR_RSA_SIGNS 2     /* AuthPack, KDCDHKeyInfo */
#define BENCH_PKU2U_FLOOR_RSA_VERIFIES 4  /* those two signatures, the user and device certificates */
#define BENCH_PKU2U_FLOOR_DH_KEYGENS 2
#define BENCH_PKU2U_FLOOR_DH_DERIVES 2    /* each with the peer value's subgroup check */

struct bench_pku2u_result {
    uint64_t iterations;
    double handshake_seconds;   /* all handshakes */
    double floor_seconds;       /* all floors, interleaved with the handshakes */
    double handshakes_per_sec;
    double floors_per_sec;
    double handshake_vs_floor_time; /* handshake time / floor time: goal <= 1.25 */
    double allocs_per_handshake;    /* libnegoex's own allocations (OpenSSL's not counted) */
    size_t transcript_bytes;        /* NEGOEX messages of one handshake */
};

/* Generates the PKI (2048-bit RSA) and the floor's inputs once; later
 * calls do nothing. 0, or -1 on failure. */
int bench_pku2u_setup(void);

/* iterations handshakes and as many floors, in rounds alternating the two
 * (the same load for both). Returns 0, or -1 if a handshake or a floor
 * fails or a handshake leaks. */
int bench_pku2u_run(uint64_t iterations, struct bench_pku2u_result *out);

/* One full handshake: two bare NEGOEX contexts (Windows form: metadata
 * round trip first, 3 round trips), each with a PKU2U scheme made for it,
 * driven to completion. 1 on success. Exported (noinline) for callgrind. */
int bench_pku2u_handshake_one(void);

/* The crypto of one handshake alone through OpenSSL EVP, with the same keys
 * and sizes: BENCH_PKU2U_FLOOR_* operations. 1 on success. Exported
 * (noinline) for callgrind. */
int bench_pku2u_floor_one(void);
#endif
