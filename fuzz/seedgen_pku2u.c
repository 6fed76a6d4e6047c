/* Writes the seed inputs of fuzz_pku2u_acceptor and fuzz_pku2u_initiator:
 * for each config, a real handshake between two schemes made exactly as the
 * targets make them (fuzz/pku2u_harness.h: fixed PKI, clocks and
 * randomness), each side's received tokens recorded in the targets' input
 * format; then replays every seed through the targets' code and checks it
 * gets as far as the handshake did (a seed that stops early would mean the
 * setup is not deterministic). Peer variations (one side made differently:
 * clock, channel bindings, certificate, etypes) give validly signed and
 * encrypted tokens that fail the checks behind the signatures. With
 * VECTORS_DIR (../shared/vectors), the Windows AS-REQs and AS-REPs are
 * added as seeds too.
 * usage: seedgen_pku2u ACCEPTOR_DIR INITIATOR_DIR [VECTORS_DIR] */
#include "pku2u_harness.h"

#include <stdio.h>

typedef struct seed {
    uint8_t data[1 << 16];
    size_t len;
} seed;

static seed SA, SI; /* acceptor's input, initiator's input */

static void seed_start(seed *s, unsigned conf)
{
    s->data[0] = (uint8_t)conf;
    s->len = 1;
}

static void seed_put(seed *s, const uint8_t *p, size_t n)
{
    H_CHECK(n <= 0xffff && s->len + 2 + n <= sizeof s->data);
    s->data[s->len++] = (uint8_t)(n & 0xff);
    s->data[s->len++] = (uint8_t)(n >> 8);
    if (n)
        memcpy(s->data + s->len, p, n);
    s->len += n;
}

static int seed_write(const char *dir, const char *name, const seed *s)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(s->data, 1, s->len, f) != s->len) {
        perror(path);
        if (f != NULL)
            fclose(f);
        return -1;
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* Steps s with in; the output replaces out. */
static int step(negoex_scheme *s, int initiator, const negoex_buf *in, negoex_buf *out, int *complete)
{
    negoex_buf_free(out);
    return s->cls->step(s, initiator, in != NULL ? in->data : NULL, in != NULL ? in->len : 0, out, complete);
}

/* Peer variations: the side that is not fuzzed made differently, so that
 * validly signed and encrypted tokens reach the checks behind signatures
 * and encryption. Each changes one side only; only the other side's seed
 * is written. */
enum { V_NONE, V_SKEW, V_NO_CB, V_DEVICE_AS_CLIENT, V_RC4_ONLY, V_USER_AS_SERVER };
static const struct variation {
    int id;
    const char *name;
    int initiator; /* the side it changes */
} VARIATIONS[] = {
    {V_SKEW, "initiator-clock-skew", 1},         /* PKAuthenticator ctime outside the skew */
    {V_NO_CB, "initiator-no-cb", 1},             /* AP-REQ without the channel bindings required */
    {V_DEVICE_AS_CLIENT, "initiator-device-cert", 1}, /* no clientAuth EKU */
    {V_RC4_ONLY, "initiator-rc4-only", 1},       /* no common encryption type */
    {V_USER_AS_SERVER, "acceptor-user-cert", 0}, /* no serverAuth EKU, not the target host */
};

static negoex_scheme *make(int initiator, unsigned conf, int var)
{
    h_init();
    negoex_pku2u_config c;
    h_config(initiator, conf, &c);
    if (initiator && var == V_SKEW)
        c.now += 1000;
    if (initiator && var == V_NO_CB) {
        c.channel_bindings = NULL;
        c.channel_bindings_len = 0;
    }
    if (initiator && var == V_DEVICE_AS_CLIENT) {
        c.cert = H.dev;
        c.key = H.dev_key;
    }
    if (initiator && var == V_RC4_ONLY) {
        c.etype_count = 1;
        c.etypes[0] = 23;
    }
    if (!initiator && var == V_USER_AS_SERVER) {
        c.cert = H.user;
        c.key = H.user_key;
    }
    negoex_scheme *s = NULL;
    H_CHECK(negoex_pku2u_scheme_new(&s, &c, NULL) == NEGOEX_OK);
    return s;
}

/* One handshake for conf (and a peer variation); fills SA and SI and the
 * depth each replayed seed must reach (h_run: 1 per token accepted, 2 more
 * for the Wrap and MIC tokens once established). */
static void handshake(unsigned conf, int var, int *want_a, int *want_i)
{
    negoex_scheme *I = make(1, conf, var), *A = make(0, conf, var);
    negoex_buf mi, ma, asreq, asrep, apreq, aprep, fin, wi, wa;
    negoex_buf *all[] = {&mi, &ma, &asreq, &asrep, &apreq, &aprep, &fin, &wi, &wa};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        negoex_buf_init(all[i], NULL);
    seed_start(&SA, conf);
    seed_start(&SI, conf);
    if (conf & H_META) {
        H_CHECK(I->cls->query_meta_data(I, 1, &mi) == NEGOEX_OK);
        H_CHECK(A->cls->query_meta_data(A, 0, &ma) == NEGOEX_OK);
        H_CHECK(A->cls->exchange_meta_data(A, 0, mi.data, mi.len) == NEGOEX_OK);
        H_CHECK(I->cls->exchange_meta_data(I, 1, ma.data, ma.len) == NEGOEX_OK);
        seed_put(&SA, mi.data, mi.len);
        seed_put(&SI, ma.data, ma.len);
    }
    int ci = 0, ca = 0;
    *want_a = *want_i = 0;
    H_CHECK(step(I, 1, NULL, &asreq, &ci) == NEGOEX_OK);
    seed_put(&SA, asreq.data, asreq.len);
    int rc = step(A, 0, &asreq, &asrep, &ca);
    *want_a += rc == NEGOEX_OK;
    H_CHECK(asrep.len > 0); /* the AS-REP, or a KRB-ERROR */
    seed_put(&SI, asrep.data, asrep.len);
    if (rc == NEGOEX_OK && (rc = step(I, 1, &asrep, &apreq, &ci)) == NEGOEX_OK) {
        *want_i += 1;
        seed_put(&SA, apreq.data, apreq.len);
        rc = step(A, 0, &apreq, &aprep, &ca);
        *want_a += rc == NEGOEX_OK;
    }
    if (rc == NEGOEX_OK) {
        H_CHECK(ca == 1);
        H_CHECK(step(I, 1, &aprep, &fin, &ci) == NEGOEX_OK && ci == 1 && fin.len == 0);
        *want_i += 1;
        seed_put(&SI, aprep.data, aprep.len);
        H_CHECK(negoex_pku2u_wrap(I, 1, H_MSG, sizeof H_MSG - 1, &wi) == NEGOEX_OK);
        seed_put(&SA, wi.data, wi.len);
        negoex_buf_free(&wi);
        H_CHECK(negoex_pku2u_get_mic(I, H_MSG, sizeof H_MSG - 1, &wi) == NEGOEX_OK);
        seed_put(&SA, wi.data, wi.len);
        H_CHECK(negoex_pku2u_wrap(A, 1, H_MSG, sizeof H_MSG - 1, &wa) == NEGOEX_OK);
        seed_put(&SI, wa.data, wa.len);
        negoex_buf_free(&wa);
        H_CHECK(negoex_pku2u_get_mic(A, H_MSG, sizeof H_MSG - 1, &wa) == NEGOEX_OK);
        seed_put(&SI, wa.data, wa.len);
        *want_a += 2;
        *want_i += 2;
    }
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        negoex_buf_free(all[i]);
    I->cls->destroy(I);
    A->cls->destroy(A);
}

/* A Windows token file as the one token of a conf-0 seed. */
static int vector_seed(const char *vectors, const char *file, const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/windows/pku2u/%s", vectors, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    static uint8_t buf[0xffff];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    seed s;
    seed_start(&s, 0);
    seed_put(&s, buf, n);
    return seed_write(dir, name, &s);
}

int main(int argc, char **argv)
{
    if (argc != 3 && argc != 4) {
        fprintf(stderr, "usage: %s ACCEPTOR_DIR INITIATOR_DIR [VECTORS_DIR]\n", argv[0]);
        return 2;
    }
    static const unsigned confs[] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x08, 0x0d, 0x10,
                                     0x11, 0x16, 0x1f, 0x20, 0x28, 0x40, 0x44, 0x7f};
    int bad = 0;
    for (size_t c = 0; c < sizeof confs / sizeof confs[0]; c++) {
        unsigned conf = confs[c];
        int want_a, want_i;
        handshake(conf, V_NONE, &want_a, &want_i);
        char name[64];
        snprintf(name, sizeof name, "seed-conf-%02x", conf);
        if (seed_write(argv[1], name, &SA) != 0 || seed_write(argv[2], name, &SI) != 0)
            return 1;
        int da = h_run(0, SA.data, SA.len), di = h_run(1, SI.data, SI.len);
        printf("%s: acceptor seed %zu bytes, depth %d (want %d); initiator seed %zu bytes, depth %d (want %d)\n",
               name, SA.len, da, want_a, SI.len, di, want_i);
        bad |= da != want_a || di != want_i;
    }
    for (size_t v = 0; v < sizeof VARIATIONS / sizeof VARIATIONS[0]; v++) {
        const struct variation *var = &VARIATIONS[v];
        unsigned conf = var->id == V_NO_CB ? H_CB : 0;
        int want_a, want_i;
        handshake(conf, var->id, &want_a, &want_i);
        char name[96];
        snprintf(name, sizeof name, "seed-conf-%02x-%s", conf, var->name);
        const seed *sd = var->initiator ? &SA : &SI; /* the seed of the side as the target makes it */
        if (seed_write(argv[var->initiator ? 1 : 2], name, sd) != 0)
            return 1;
        int d = h_run(var->initiator ? 0 : 1, sd->data, sd->len), want = var->initiator ? want_a : want_i;
        printf("%s: %s seed %zu bytes, depth %d (want %d)\n", name, var->initiator ? "acceptor" : "initiator",
               sd->len, d, want);
        bad |= d != want;
    }
    if (argc == 4) {
        static const char *const reqs[] = {"win_client_as_req_gss_token_2022-09-25.bin",
                                           "win_client_as_req_gss_token_2022-10-18.bin"};
        static const char *const reps[] = {"win_server_as_rep_gss_token_2022-05-17.bin",
                                           "sspirs_debugserver_as_rep_gss_token_2022-10-18.bin"};
        for (size_t i = 0; i < 2; i++) {
            char name[64];
            snprintf(name, sizeof name, "seed-windows-%zu", i);
            if (vector_seed(argv[3], reqs[i], argv[1], name) != 0 || vector_seed(argv[3], reps[i], argv[2], name) != 0)
                return 1;
        }
    }
    if (bad)
        fprintf(stderr, "seedgen_pku2u: a seed does not replay as far as its handshake went\n");
    return bad;
}
