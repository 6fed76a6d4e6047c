/*
 * Secrets: freed memory and trace output.
 *
 * A recording negoex_allocator (negoex_config.allocator and the schemes'
 * alloc parameter) sees every block the NEGOEX context, the SPNEGO context and
 * the test/nxtoy schemes allocate. Full handshakes (raw NEGOEX and SPNEGO, test
 * scheme and nxtoy with a forced mechListMIC), a rejected tampered VERIFY and
 * conversations abandoned half-way are run through it, and:
 *
 *  - every block is all-zero when the library frees it (negoex_buf_free,
 *    negoex_mem_free_secret), except the context's per-scheme bookkeeping
 *    arrays (scheme pointers, clone pointers, active/listed flags, metadata
 *    offsets and lengths: no secret in them), which negoex_context_free
 *    releases with a plain free. Those are recognised by their size (the
 *    contexts here use max_schemes = 13, so the sizes are 13 * 8 and 13 * 2)
 *    and must then hold no key bytes;
 *  - blocks that ever held key material (found by scanning every live block
 *    after each step for 8-byte windows of the known keys) are zero when freed,
 *    and there are such blocks (the check is not vacuous);
 *  - the library never reallocs (a realloc would leave the old block unwiped);
 *  - OpenSSL's own allocations (CRYPTO_set_mem_functions, installed before
 *    anything else in main) never hold a window of the keys when OpenSSL frees
 *    them: the cipher and HMAC contexts of the RFC 3961 checksums are cleansed;
 *  - no trace line (negoex_config.trace, negoex_spnego_config.trace) holds a
 *    key: not as bytes, not as hex in either case;
 *  - `negoex demo --trace` (the CLI, nxtoy and test schemes, SPNEGO and raw)
 *    prints no key: the nonces are made known by preloading a RAND_bytes
 *    replacement built from this file (NEGOEX_RAND_SHIM below).
 *
 * Keys known to the test: the nxtoy key ni || na (nonces from the scheme's
 * rng hook, or from the RAND_bytes shim for the CLI), the test scheme's two
 * fixed keys, and every RFC 3961 checksum key (Kc) derived from them for the
 * VERIFY usages 23/25 and the nxtoy MIC usage. The test scheme's base keys are
 * almost all zero bytes, so they count for the trace check only.
 */
#define _POSIX_C_SOURCE 200809L

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The nonce the k-th 16-byte RAND_bytes call of the shim returns (also the
 * nonces the in-process nxtoy schemes draw): distinctive, no zero byte. */
static void shim_nonce(unsigned k, uint8_t out[16])
{
    uint32_t x = 0x5ec2e7u + k * 0x9e3779b9u;
    for (size_t i = 0; i < 16; i++) {
        x = x * 1103515245u + 12345u;
        out[i] = (uint8_t)((x >> 16) | 1u);
    }
}

#ifdef NEGOEX_RAND_SHIM
/* ------------------------------------------------------------------------ */
/* LD_PRELOAD shim for the CLI run: deterministic RAND_bytes.                 */
/* ------------------------------------------------------------------------ */

int RAND_bytes(unsigned char *buf, int num);

int RAND_bytes(unsigned char *buf, int num)
{
    static unsigned nonces;
    static uint32_t stream = 0x2545f491u;
    static int announced;
    if (!announced) {
        announced = 1;
        fputs("rand-shim: active\n", stderr);
    }
    if (num == 16) { /* nxtoy nonces (context values come in 32/48-byte calls) */
        shim_nonce(nonces++, buf);
        return 1;
    }
    for (int i = 0; i < num; i++) {
        stream = stream * 1664525u + 1013904223u;
        buf[i] = (uint8_t)(stream >> 24);
    }
    return 1;
}

#else /* the test program */

#include <stdarg.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <openssl/crypto.h>

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include "pku2u/krb_crypto.h"
#include "testutil.h"

/* OpenSSL leaves parts of its blocks unwritten; the scan of a block being
 * freed reads them, which memcheck would report. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#endif
#endif
#ifndef VALGRIND_MAKE_MEM_DEFINED
#define VALGRIND_MAKE_MEM_DEFINED(p, n) ((void)(p), (void)(n))
#endif

#define MAX_SCHEMES 13
#define WIN 8          /* bytes of a key that count as a leak */
#define SCAN_STRIDE 4  /* memory scans: windows at key offsets 0, 4, ... (any copy of 11+ bytes is seen) */
#define MAX_KEYS 24
#define MAX_BLOCKS 4096
#define MAX_LEGS 64

/* ------------------------------------------------------------------------ */
/* Known keys                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct known_key {
    uint8_t bytes[32];
    size_t len;
    int in_memory; /* distinctive enough for memory scans (not the zero-filled test keys) */
    const char *what;
} known_key;

static known_key keys[MAX_KEYS];
static size_t nkeys;

static void add_key(const uint8_t *b, size_t len, int in_memory, const char *what)
{
    assert_true(nkeys < MAX_KEYS && len <= sizeof keys[0].bytes && len >= WIN);
    memcpy(keys[nkeys].bytes, b, len);
    keys[nkeys].len = len;
    keys[nkeys].in_memory = in_memory;
    keys[nkeys].what = what;
    nkeys++;
}

/* A base key and its checksum keys (Kc) for the VERIFY usages and the MIC. */
static void add_key_family(const uint8_t *b, size_t len, int base_in_memory, const char *what)
{
    add_key(b, len, base_in_memory, what);
    static const int32_t usages[] = {NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM, NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM,
                                     NEGOEX_NXTOY_MIC_USAGE};
    negoex_krb_key base, kc;
    assert_int_equal(negoex_krb_key_init(&base, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, b, len), 0);
    for (size_t i = 0; i < sizeof usages / sizeof usages[0]; i++) {
        assert_int_equal(negoex_krb_usage_key(&base, usages[i], NEGOEX_KRB_DK_CHECKSUM, &kc), 0);
        add_key(kc.bytes, kc.len, 1, "derived checksum key");
        negoex_krb_key_clear(&kc);
    }
    negoex_krb_key_clear(&base);
}

/* nxtoy nonces of the in-process runs: initiator k = 100, acceptor k = 101. */
static int nonce_rng(void *ud, uint8_t *out, size_t len)
{
    if (len != 16)
        return -1;
    shim_nonce(*(const unsigned *)ud, out);
    return 0;
}
static const unsigned NONCE_I = 100, NONCE_A = 101;

static void setup_keys(void)
{
    if (nkeys != 0)
        return;
    uint8_t k[32];
    shim_nonce(NONCE_I, k);
    shim_nonce(NONCE_A, k + 16);
    add_key_family(k, 32, 1, "nxtoy key");
    memset(k, 0, sizeof k); /* the test scheme: all zero but byte 0 = 0 or 1 */
    add_key_family(k, 32, 0, "test scheme key 0");
    k[0] = 1;
    add_key_family(k, 32, 0, "test scheme key 1");
    /* The CLI run's nxtoy key: the shim's first two nonces. */
    shim_nonce(0, k);
    shim_nonce(1, k + 16);
    add_key_family(k, 32, 1, "CLI nxtoy key");
}

/* The first known key with a window (stride in key offsets) inside mem, or NULL. */
static const known_key *find_key(const uint8_t *mem, size_t len, size_t stride)
{
    if (len < WIN)
        return NULL;
    for (size_t i = 0; i < nkeys; i++) {
        if (!keys[i].in_memory)
            continue;
        for (size_t o = 0; o + WIN <= keys[i].len; o += stride) {
            const uint8_t *w = keys[i].bytes + o, *p = mem, *end = mem + len - WIN + 1;
            while (p < end && (p = memchr(p, w[0], (size_t)(end - p))) != NULL) {
                if (memcmp(p, w, WIN) == 0)
                    return &keys[i];
                p++;
            }
        }
    }
    return NULL;
}

static int all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

/* ------------------------------------------------------------------------ */
/* The recording negoex_allocator                                             */
/* ------------------------------------------------------------------------ */

typedef struct block {
    uint8_t *p;
    size_t size;
    int held_key;
} block;

typedef struct recorder {
    block live[MAX_BLOCKS];
    size_t nlive;
    unsigned long allocs, frees, reallocs;
    unsigned long zero_frees, bookkeeping_frees, key_blocks_freed;
    char violation[256]; /* the first one */
    unsigned long violations;
} recorder;

static recorder rec;

static void violation(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void violation(const char *fmt, ...)
{
    if (rec.violations++ == 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(rec.violation, sizeof rec.violation, fmt, ap);
        va_end(ap);
    }
}

static void *rec_alloc(size_t size, void *ud)
{
    (void)ud;
    if (rec.nlive == MAX_BLOCKS) {
        violation("more than %d live blocks", MAX_BLOCKS);
        return NULL;
    }
    uint8_t *p = malloc(size ? size : 1);
    if (p == NULL)
        return NULL;
    memset(p, 0xa5, size); /* not zero: an unwiped block cannot pass by luck */
    rec.live[rec.nlive].p = p;
    rec.live[rec.nlive].size = size;
    rec.live[rec.nlive].held_key = 0;
    rec.nlive++;
    rec.allocs++;
    return p;
}

static block *find_block(const void *p)
{
    for (size_t i = 0; i < rec.nlive; i++)
        if (rec.live[i].p == p)
            return &rec.live[i];
    return NULL;
}

/* The per-scheme arrays of a context (max_schemes = 13 entries). */
static int is_bookkeeping(size_t size)
{
    return size == MAX_SCHEMES * sizeof(void *) || size == MAX_SCHEMES * sizeof(size_t) ||
           size == MAX_SCHEMES * 2u;
}

static void rec_free(void *ptr, void *ud)
{
    (void)ud;
    if (ptr == NULL)
        return;
    block *b = find_block(ptr);
    if (b == NULL) {
        violation("free of a block this allocator did not hand out");
        return;
    }
    const known_key *k = find_key(b->p, b->size, 1);
    if (k != NULL)
        b->held_key = 1;
    if (all_zero(b->p, b->size)) {
        rec.zero_frees++;
    } else if (b->held_key) {
        violation("a %zu-byte block that held key material was freed unwiped%s%s", b->size,
                  k != NULL ? ", still holding the " : "", k != NULL ? k->what : "");
    } else if (is_bookkeeping(b->size)) {
        rec.bookkeeping_frees++;
    } else {
        violation("a %zu-byte block was freed unwiped", b->size);
    }
    if (b->held_key)
        rec.key_blocks_freed++;
    rec.frees++;
    free(b->p);
    *b = rec.live[--rec.nlive];
}

static void *rec_realloc(void *ptr, size_t size, void *ud)
{
    if (ptr == NULL)
        return rec_alloc(size, ud);
    rec.reallocs++;
    violation("realloc of a live block (its old copy would not be wiped)");
    return NULL;
}

static const negoex_allocator REC = {rec_alloc, rec_realloc, rec_free, NULL};

/* Marks every live block that holds a window of a key now. */
static void scan_live(void)
{
    for (size_t i = 0; i < rec.nlive; i++)
        if (!rec.live[i].held_key && find_key(rec.live[i].p, rec.live[i].size, SCAN_STRIDE) != NULL)
            rec.live[i].held_key = 1;
}

static void rec_reset(void)
{
    assert_int_equal(rec.nlive, 0);
    memset(&rec, 0, sizeof rec);
}

static void rec_check(const char *what)
{
    if (rec.violations != 0)
        fail_msg("%s: %lu violation(s); first: %s", what, rec.violations, rec.violation);
    assert_int_equal(rec.nlive, 0);
    assert_int_equal(rec.allocs, rec.frees);
    assert_int_equal(rec.reallocs, 0);
}

/* ------------------------------------------------------------------------ */
/* OpenSSL's allocations                                                      */
/* ------------------------------------------------------------------------ */

/* A header in front of each block keeps its size. */
#define HDR 16
static unsigned long ossl_frees, ossl_leaky;
static char ossl_first[160];

static void *ossl_malloc(size_t n, const char *file, int line)
{
    (void)file;
    (void)line;
    uint8_t *p = malloc(HDR + n);
    if (p == NULL)
        return NULL;
    memcpy(p, &n, sizeof n);
    return p + HDR;
}

static void ossl_check(const uint8_t *user, const char *file, int line)
{
    size_t n;
    memcpy(&n, user - HDR, sizeof n);
    VALGRIND_MAKE_MEM_DEFINED(user, n);
    const known_key *k = find_key(user, n, 1);
    if (k != NULL && ossl_leaky++ == 0)
        snprintf(ossl_first, sizeof ossl_first, "%s in a %zu-byte block from %s:%d", k->what, n,
                 file ? file : "?", line);
}

static void ossl_free(void *p, const char *file, int line)
{
    if (p == NULL)
        return;
    if (nkeys != 0)
        ossl_check(p, file, line);
    ossl_frees++;
    free((uint8_t *)p - HDR);
}

static void *ossl_realloc(void *p, size_t n, const char *file, int line)
{
    if (p == NULL)
        return ossl_malloc(n, file, line);
    if (n == 0) {
        ossl_free(p, file, line);
        return NULL;
    }
    uint8_t *q = ossl_malloc(n, file, line);
    if (q == NULL)
        return NULL;
    size_t old;
    memcpy(&old, (uint8_t *)p - HDR, sizeof old);
    memcpy(q, p, old < n ? old : n);
    ossl_free(p, file, line); /* the old copy is checked like a free */
    return q;
}

/* ------------------------------------------------------------------------ */
/* Handshakes                                                                 */
/* ------------------------------------------------------------------------ */

static char trace_text[1 << 16];
static size_t trace_len;
static unsigned long trace_count;

static void trace_cb(void *ud, const char *line)
{
    (void)ud;
    size_t n = strlen(line);
    trace_count++;
    if (trace_len + n + 1 < sizeof trace_text) {
        memcpy(trace_text + trace_len, line, n);
        trace_len += n;
        trace_text[trace_len++] = '\n';
    }
}

enum scheme_kind { TEST_SCHEME, NXTOY };

typedef struct run_cfg {
    enum scheme_kind scheme;
    int spnego;
    unsigned hops;
    int tamper_verify; /* flip a checksum byte of the first token holding a VERIFY once, then the genuine one */
    int stop_after;    /* free both sides after this many legs (0: run to completion) */
} run_cfg;

static negoex_context *make_context(negoex_role role, const run_cfg *r)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.allocator = &REC;
    cfg.trace = trace_cb;
    cfg.max_schemes = MAX_SCHEMES;
    negoex_context *c = NULL;
    assert_int_equal(negoex_context_new(&c, role, &cfg), NEGOEX_OK);
    negoex_scheme *s;
    if (r->scheme == NXTOY) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        nc.force_mic = r->spnego;
        nc.rng = nonce_rng;
        nc.rng_ud = (void *)(role == NEGOEX_ROLE_INITIATOR ? &NONCE_I : &NONCE_A);
        assert_int_equal(negoex_nxtoy_scheme_new(&s, &nc, &REC), NEGOEX_OK);
        assert_int_equal(negoex_context_add_scheme(c, s), NEGOEX_OK);
    } else {
        static const char *const oids[2] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
        for (int i = 0; i < 2; i++) {
            negoex_test_scheme_config tc;
            negoex_test_scheme_config_init(&tc);
            tc.mech_oid = oids[i];
            tc.hops = r->hops;
            assert_int_equal(negoex_test_scheme_new(&s, &tc, &REC), NEGOEX_OK);
            assert_int_equal(negoex_context_add_scheme(c, s), NEGOEX_OK);
        }
    }
    return c;
}

/* Offset of the first VERIFY's checksum in a NEGOEX token, or 0. */
static size_t verify_checksum_offset(const uint8_t *tok, size_t len)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1)
        if (m.type == NEGOEX_VERIFY && m.u.verify.checksum.len > 0)
            return (size_t)(m.u.verify.checksum.data - tok);
    return 0;
}

static int step_side(void *side, int spnego, const uint8_t *in, size_t len, const uint8_t **out, size_t *out_len)
{
    int rc = spnego ? negoex_spnego_step(side, in, len, out, out_len)
                    : negoex_context_step(side, in, len, out, out_len);
    scan_live();
    return rc;
}

static void run(const run_cfg *r)
{
    negoex_context *nx[2];
    void *side[2];
    nx[0] = make_context(NEGOEX_ROLE_INITIATOR, r);
    nx[1] = make_context(NEGOEX_ROLE_ACCEPTOR, r);
    for (int i = 0; i < 2; i++) {
        side[i] = nx[i];
        if (r->spnego) {
            negoex_spnego_config sc;
            negoex_spnego_config_init(&sc);
            sc.trace = trace_cb;
            negoex_spnego *sp = NULL;
            assert_int_equal(negoex_spnego_new(&sp, nx[i], &sc), NEGOEX_OK);
            side[i] = sp;
        }
    }
    const uint8_t *out;
    size_t len;
    int rc[2] = {0, 0};
    rc[0] = step_side(side[0], r->spnego, NULL, 0, &out, &len);
    uint8_t *tok = NULL;
    int who = 1, tampered = 0, legs = 0;
    while (rc[who ^ 1] >= 0 && len > 0 && legs < MAX_LEGS && (r->stop_after == 0 || legs < r->stop_after)) {
        size_t tok_len = len;
        tok = malloc(tok_len);
        assert_non_null(tok);
        memcpy(tok, out, tok_len);
        size_t off = r->spnego ? 0 : verify_checksum_offset(tok, tok_len);
        if (r->tamper_verify && !tampered && off != 0) {
            tok[off] ^= 0x01;
            assert_int_equal(step_side(side[who], 0, tok, tok_len, &out, &len), NEGOEX_ERR_CHECKSUM_MISMATCH);
            tok[off] ^= 0x01;
            tampered = 1;
        }
        rc[who] = step_side(side[who], r->spnego, tok, tok_len, &out, &len);
        free(tok);
        who ^= 1;
        legs++;
    }
    if (r->stop_after == 0) {
        assert_int_equal(rc[0], NEGOEX_COMPLETE);
        assert_int_equal(rc[1], NEGOEX_COMPLETE);
        if (r->spnego && r->scheme == NXTOY)
            assert_true(negoex_spnego_mic_exchanged(side[0]));
    }
    if (r->tamper_verify)
        assert_true(tampered);
    for (int i = 0; i < 2; i++) {
        if (r->spnego)
            negoex_spnego_free(side[i]);
        else
            negoex_context_free(nx[i]);
    }
}

/* Trace text: no key window as raw bytes or as hex. */
static void check_text(const char *text, size_t len, const char *what)
{
    static const char *const digits[2] = {"0123456789abcdef", "0123456789ABCDEF"};
    for (size_t i = 0; i < nkeys; i++) {
        for (size_t o = 0; o + WIN <= keys[i].len; o++) {
            const uint8_t *w = keys[i].bytes + o;
            for (int c = 0; c < 2; c++) {
                char hex[2 * WIN + 1];
                for (size_t j = 0; j < WIN; j++) {
                    hex[2 * j] = digits[c][w[j] >> 4];
                    hex[2 * j + 1] = digits[c][w[j] & 15];
                }
                hex[2 * WIN] = '\0';
                for (size_t p = 0; p + 2 * WIN <= len; p++)
                    if (memcmp(text + p, hex, 2 * WIN) == 0)
                        fail_msg("%s: the %s in hex at offset %zu", what, keys[i].what, p);
            }
            if (keys[i].in_memory)
                for (size_t p = 0; p + WIN <= len; p++)
                    if (memcmp(text + p, w, WIN) == 0)
                        fail_msg("%s: bytes of the %s at offset %zu", what, keys[i].what, p);
        }
    }
}

static void run_and_check(const run_cfg *r, const char *what)
{
    setup_keys();
    rec_reset();
    trace_len = 0;
    trace_count = 0;
    unsigned long leaky = ossl_leaky;
    run(r);
    rec_check(what);
    assert_true(rec.frees > 10);
    assert_true(trace_count > 0);
    check_text(trace_text, trace_len, what);
    if (ossl_leaky != leaky)
        fail_msg("%s: OpenSSL freed %lu block(s) holding key bytes; first: %s", what, ossl_leaky - leaky,
                 ossl_first);
    print_message("%s: %lu blocks freed (%lu zero, %lu per-scheme arrays unwiped, %lu held keys), %lu trace lines\n",
                  what, rec.frees, rec.zero_frees, rec.bookkeeping_frees, rec.key_blocks_freed, trace_count);
}

static void test_raw_test_scheme(void **state)
{
    (void)state;
    run_cfg r = {.scheme = TEST_SCHEME, .hops = 3};
    run_and_check(&r, "raw NEGOEX, test scheme");
    /* at most the six arrays of each context (the clone pointers are all NULL by then) */
    assert_true(rec.bookkeeping_frees > 0 && rec.bookkeeping_frees <= 12);
}

static void test_raw_nxtoy(void **state)
{
    (void)state;
    run_cfg r = {.scheme = NXTOY};
    run_and_check(&r, "raw NEGOEX, nxtoy");
    assert_true(rec.key_blocks_freed >= 4); /* schemes and their clones, transcripts, tokens */
}

static void test_spnego_test_scheme(void **state)
{
    (void)state;
    run_cfg r = {.scheme = TEST_SCHEME, .spnego = 1, .hops = 2};
    run_and_check(&r, "SPNEGO, test scheme");
}

static void test_spnego_nxtoy(void **state)
{
    (void)state;
    run_cfg r = {.scheme = NXTOY, .spnego = 1};
    run_and_check(&r, "SPNEGO, nxtoy with mechListMIC");
    assert_true(rec.key_blocks_freed >= 4);
}

static void test_rejected_verify(void **state)
{
    (void)state;
    run_cfg r = {.scheme = NXTOY, .tamper_verify = 1};
    run_and_check(&r, "raw NEGOEX, nxtoy, tampered VERIFY rejected");
    r.scheme = TEST_SCHEME;
    r.hops = 2;
    run_and_check(&r, "raw NEGOEX, test scheme, tampered VERIFY rejected");
}

static void test_abandoned(void **state)
{
    (void)state;
    for (int legs = 1; legs <= 2; legs++) {
        run_cfg r = {.scheme = NXTOY, .stop_after = legs};
        run_and_check(&r, "raw NEGOEX, nxtoy, abandoned");
        r.spnego = 1;
        run_and_check(&r, "SPNEGO, nxtoy, abandoned");
        r.scheme = TEST_SCHEME;
        r.hops = 3;
        run_and_check(&r, "SPNEGO, test scheme, abandoned");
    }
}

/* ------------------------------------------------------------------------ */
/* The CLI                                                                    */
/* ------------------------------------------------------------------------ */

#if defined(NEGOEX_CLI_PATH) && defined(NEGOEX_RAND_SHIM_PATH)
static void demo(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD='%s' '%s' demo --trace %s 2>&1",
             NEGOEX_RAND_SHIM_PATH, NEGOEX_CLI_PATH, args);
    FILE *f = popen(cmd, "r");
    assert_non_null(f);
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    int status = pclose(f);
    if (status == -1 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("negoex demo --trace %s failed:\n%s", args, text);
    assert_non_null(strstr(text, "rand-shim: active")); /* the nonces are the shim's */
    assert_non_null(strstr(text, "COMPLETE"));
    assert_non_null(strstr(text, "sending [")); /* NEGOEX trace lines are there */
    char what[128];
    snprintf(what, sizeof what, "negoex demo --trace %s", args);
    check_text(text, n, what);
}

static void test_cli_demo_trace(void **state)
{
    (void)state;
    setup_keys();
    demo("--scheme nxtoy --force-mic");
    demo("--scheme nxtoy --raw");
    demo("--scheme test --hops 2");
    demo("--scheme test --raw --key always");
}
#endif

int main(void)
{
    /* Before anything else: OpenSSL refuses once it has allocated. */
    if (CRYPTO_set_mem_functions(ossl_malloc, ossl_realloc, ossl_free) != 1) {
        fprintf(stderr, "CRYPTO_set_mem_functions failed\n");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_test_scheme),
        cmocka_unit_test(test_raw_nxtoy),
        cmocka_unit_test(test_spnego_test_scheme),
        cmocka_unit_test(test_spnego_nxtoy),
        cmocka_unit_test(test_rejected_verify),
        cmocka_unit_test(test_abandoned),
#if defined(NEGOEX_CLI_PATH) && defined(NEGOEX_RAND_SHIM_PATH)
        cmocka_unit_test(test_cli_demo_trace),
#endif
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    if (ossl_frees == 0) {
        fprintf(stderr, "OpenSSL's allocations did not go through the recording functions\n");
        return 1;
    }
    return failed;
}

#endif /* NEGOEX_RAND_SHIM */
