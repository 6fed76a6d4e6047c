/*
 * RFC 3961 keyed checksums for NEGOEX VERIFY (src/checksum.c).
 *
 * Known answers: MIT krb5's t_cksums.c vectors, the KRB-FINISHED checksum of a
 * Windows PKU2U initiator, and every VERIFY that MIT krb5 put on the wire in
 * ../shared/vectors/mit/ (recomputed over the transcript rebuilt here).
 */
#define _POSIX_C_SOURCE 200809L /* opendir/readdir under -std=c11 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/spnego.h>

#include "checksum.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Small helpers                                                              */
/* ------------------------------------------------------------------------ */

static void unhex_into(const char *hex, uint8_t *out, size_t expect_len)
{
    size_t n = 0;
    uint8_t *b = tu_unhex(hex, &n);
    assert_int_equal(n, expect_len);
    memcpy(out, b, n);
    free(b);
}

static uint32_t rd_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Counts VERIFY messages by walking the headers by hand, without the codec,
 * so the count the recomputation reaches is checked independently. */
static unsigned raw_count_verifies(const uint8_t *buf, size_t len)
{
    unsigned n = 0;
    size_t pos = 0;
    while (pos < len) {
        assert_true(len - pos >= 40);
        assert_memory_equal(buf + pos, "NEGOEXTS", 8);
        uint32_t type = rd_le32(buf + pos + 8);
        uint32_t mlen = rd_le32(buf + pos + 20);
        assert_true(mlen >= 40 && mlen <= len - pos);
        if (type == NEGOEX_VERIFY)
            n++;
        pos += mlen;
    }
    return n;
}

/* Growable byte buffer for the transcript. */
typedef struct bytebuf {
    uint8_t *data;
    size_t len, cap;
} bytebuf;

static void bb_append(bytebuf *b, const uint8_t *p, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n)
            cap *= 2;
        b->data = realloc(b->data, cap);
        assert_non_null(b->data);
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* ------------------------------------------------------------------------ */
/* The NEGOEX bytes inside a SPNEGO token                                     */
/* (mechToken of NegTokenInit / responseToken of NegTokenResp).               */
/* ------------------------------------------------------------------------ */

/* The inner token of a SPNEGO token, through the library's strict codec.
 * Returns 1 with it, 0 when the token carries none. */
static int spnego_inner_token(const uint8_t *tok, size_t len, const uint8_t **out, size_t *out_len)
{
    negoex_spnego_token t;
    assert_int_equal(negoex_spnego_parse(tok, len, &t, NULL), 0);
    negoex_bytes inner = t.mech_token.data != NULL ? t.mech_token : t.response_token;
    if (inner.data == NULL)
        return 0;
    *out = inner.data;
    *out_len = inner.len;
    return 1;
}

/* ------------------------------------------------------------------------ */
/* Transcript replay                                                          */
/* ------------------------------------------------------------------------ */

/* MIT's test mechanism (negoextest) keys: all zero but key[0] = 1 for the
 * initiator's signing key. nxtoy: ni || na. Conversations: 00 01 .. 1f. */
typedef enum key_mode { KEYS_SCENARIO, KEYS_CONVERSATION } key_mode;

static const uint8_t NXTOY_SCHEME[16] = {'n', 'x', 't', 'o', 'y', '-', 's', 'c',
                                         'h', 'e', 'm', 'e', '-', '0', '0', '1'};

typedef struct replay {
    key_mode mode;
    bytebuf transcript;
    int have_ni, have_na;
    uint8_t ni[16], na[16];
    /* results */
    unsigned checked, mismatched;
    unsigned by_initiator, by_acceptor, nxtoy;
} replay;

static void pick_key(const replay *r, const negoex_message *m, int from_initiator, uint8_t key[32])
{
    if (r->mode == KEYS_CONVERSATION) {
        for (int i = 0; i < 32; i++)
            key[i] = (uint8_t)i;
        return;
    }
    if (memcmp(m->u.verify.auth_scheme.bytes, NXTOY_SCHEME, 16) == 0) {
        assert_true(r->have_ni && r->have_na);
        memcpy(key, r->ni, 16);
        memcpy(key + 16, r->na, 16);
        return;
    }
    memset(key, 0, 32);
    key[0] = from_initiator ? 1 : 0;
}

static void note_nxtoy_nonce(replay *r, const negoex_message *m)
{
    if (m->type != NEGOEX_AP_REQUEST && m->type != NEGOEX_CHALLENGE)
        return;
    if (memcmp(m->u.exchange.auth_scheme.bytes, NXTOY_SCHEME, 16) != 0)
        return;
    const negoex_bytes *x = &m->u.exchange.exchange;
    if (x->len != 23)
        return;
    if (memcmp(x->data, "NXTOY-I", 7) == 0) {
        memcpy(r->ni, x->data + 7, 16);
        r->have_ni = 1;
    } else if (memcmp(x->data, "NXTOY-A", 7) == 0) {
        memcpy(r->na, x->data + 7, 16);
        r->have_na = 1;
    }
}

static void check_verify(replay *r, const negoex_message *m, int from_initiator, const char *where)
{
    uint8_t key[32];
    pick_key(r, m, from_initiator, key);
    int32_t usage = from_initiator ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM;
    int32_t other = from_initiator ? NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM : NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM;
    const uint8_t *ck = m->u.verify.checksum.data;
    size_t ck_len = m->u.verify.checksum.len;
    bytebuf *t = &r->transcript;

    assert_int_equal(m->u.verify.checksum_scheme, NEGOEX_CHECKSUM_SCHEME_RFC3961);
    assert_int_equal(m->u.verify.checksum_type, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256);
    assert_int_equal(ck_len, 12);
    assert_true(t->len > 0);

    r->checked++;
    if (from_initiator)
        r->by_initiator++;
    else
        r->by_acceptor++;
    if (r->mode == KEYS_SCENARIO && memcmp(m->u.verify.auth_scheme.bytes, NXTOY_SCHEME, 16) == 0)
        r->nxtoy++;

    int rc = negoex_checksum_verify((int32_t)m->u.verify.checksum_type, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, key,
                                    32, usage, t->data, t->len, ck, ck_len);
    if (rc != 0) {
        print_error("VERIFY seq %u in %s (%s, %zu transcript bytes): %d\n", m->seq, where,
                    from_initiator ? "initiator" : "acceptor", t->len, rc);
        r->mismatched++;
        return;
    }

    /* make() reproduces the wire bytes exactly. */
    uint8_t out[NEGOEX_CKSUM_MAX];
    size_t out_len = 0;
    int32_t type = 0;
    assert_int_equal(negoex_checksum_make(NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, key, 32, usage, t->data, t->len,
                                          &type, out, &out_len),
                     0);
    assert_int_equal(type, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256);
    assert_int_equal(out_len, 12);
    assert_memory_equal(out, ck, 12);

    /* The swapped (spec-text) usage never matches what real peers send. */
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, other, t->data, t->len, ck, ck_len),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    /* The transcript is covered from its first byte to its last. */
    t->data[0] ^= 0x01;
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, usage, t->data, t->len, ck, ck_len),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    t->data[0] ^= 0x01;
    t->data[t->len - 1] ^= 0x80;
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, usage, t->data, t->len, ck, ck_len),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    t->data[t->len - 1] ^= 0x80;
    /* A transcript one byte short must not match. */
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, usage, t->data, t->len - 1, ck, ck_len),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
}

/* Replays one NEGOEX token: each VERIFY is checked against every message
 * before it, then every message joins the transcript as transmitted. */
static void replay_token(replay *r, const uint8_t *tok, size_t len, int from_initiator, const char *where)
{
    negoex_reader rd;
    negoex_message m;
    int rc;
    negoex_reader_init(&rd, tok, len);
    while ((rc = negoex_reader_next(&rd, &m)) == 1) {
        if (m.type == NEGOEX_VERIFY)
            check_verify(r, &m, from_initiator, where);
        else if (r->mode == KEYS_SCENARIO)
            note_nxtoy_nonce(r, &m);
        bb_append(&r->transcript, m.raw.data, m.raw.len);
    }
    if (rc != 0)
        print_error("%s: reader error %d at %zu (%s)\n", where, rc, rd.error.offset,
                    rd.error.field ? rd.error.field : "?");
    assert_int_equal(rc, 0);
    assert_int_equal(rd.pos, len); /* the whole token is messages */
}

/* ------------------------------------------------------------------------ */
/* MIT scenarios                                                              */
/* ------------------------------------------------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* Sorted names in dir (relative to the vectors) passing filter; NULL-terminated. */
static char **list_dir(const char *rel, int (*filter)(const char *), size_t *count)
{
    DIR *d = opendir(tu_path(rel));
    if (d == NULL)
        fail_msg("cannot open directory %s", tu_path(rel));
    char **names = NULL;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!filter(e->d_name))
            continue;
        names = realloc(names, (n + 2) * sizeof *names);
        assert_non_null(names);
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    if (n > 0)
        qsort(names, n, sizeof *names, cmp_str);
    *count = n;
    return names;
}

static void free_list(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static int is_scenario_dir(const char *name)
{
    return name[0] >= '0' && name[0] <= '9' && name[1] >= '0' && name[1] <= '9' && name[2] == '-';
}

static int is_negoex_file(const char *name)
{
    return has_suffix(name, ".negoex");
}

static void test_mit_scenarios_recompute(void **state)
{
    (void)state;
    size_t ndirs = 0;
    char **dirs = list_dir("mit/scenarios", is_scenario_dir, &ndirs);
    assert_int_equal(ndirs, 32);

    unsigned total = 0, raw_total = 0, mism = 0, init = 0, acc = 0, nxtoy = 0;
    unsigned scen_with_verify = 0;
    for (size_t i = 0; i < ndirs; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "mit/scenarios/%s", dirs[i]);
        size_t nfiles = 0;
        char **files = list_dir(rel, is_negoex_file, &nfiles);
        replay r;
        memset(&r, 0, sizeof r);
        r.mode = KEYS_SCENARIO;
        unsigned raw = 0;
        for (size_t f = 0; f < nfiles; f++) {
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", rel, files[f]);
            /* NN-i2a / NN-a2i: the direction decides key and usage. */
            int from_initiator = strstr(files[f], "-i2a.") != NULL;
            assert_true(from_initiator || strstr(files[f], "-a2i.") != NULL);

            size_t len = 0;
            uint8_t *tok = tu_load(path, &len);
            assert_true(len > 0);

            /* The .negoex file is exactly the inner token of its .bin. */
            char bin[1024];
            snprintf(bin, sizeof bin, "%.*s.bin", (int)(strlen(path) - strlen(".negoex")), path);
            size_t blen = 0;
            uint8_t *spnego = tu_load(bin, &blen);
            const uint8_t *inner = NULL;
            size_t inner_len = 0;
            assert_int_equal(spnego_inner_token(spnego, blen, &inner, &inner_len), 1);
            assert_int_equal(inner_len, len);
            assert_memory_equal(inner, tok, len);
            free(spnego);

            raw += raw_count_verifies(tok, len);
            replay_token(&r, tok, len, from_initiator, path);
            free(tok);
        }
        assert_int_equal(r.checked, raw);
        if (r.checked > 0)
            scen_with_verify++;
        total += r.checked;
        raw_total += raw;
        mism += r.mismatched;
        init += r.by_initiator;
        acc += r.by_acceptor;
        nxtoy += r.nxtoy;
        free(r.transcript.data);
        free_list(files, nfiles);
    }
    free_list(dirs, ndirs);

    print_message("MIT scenarios: %u VERIFYs checked (%u initiator/usage 25, %u acceptor/usage 23; "
                  "%u negoextest + %u nxtoy) in %u scenarios, %u mismatches\n",
                  total, init, acc, total - nxtoy, nxtoy, scen_with_verify, mism);
    assert_int_equal(mism, 0);
    assert_int_equal(total, raw_total);
    /* vectors/mit/scenarios/README.md: 59 VERIFYs, all of them in scenarios. */
    assert_int_equal(total, 59);
    assert_int_equal(nxtoy, 8);
    assert_int_equal(init, 31);
    assert_int_equal(acc, 28);
}

/* ------------------------------------------------------------------------ */
/* MIT conversations: one SPNEGO token in hex per line                        */
/* ------------------------------------------------------------------------ */

static int is_conversation(const char *name)
{
    return has_suffix(name, ".txt");
}

static void test_mit_conversations_recompute(void **state)
{
    (void)state;
    size_t nconv = 0;
    char **convs = list_dir("mit/conversations", is_conversation, &nconv);
    assert_int_equal(nconv, 5);

    static const struct {
        const char *name;
        unsigned verifies;
    } expect[] = {
        {"mit_conv_legs1_keyestablished.txt", 2},      {"mit_conv_legs2_keyestablished.txt", 2},
        {"mit_conv_legs3_initkeyalways_alert.txt", 3}, {"mit_conv_legs3_keyalways.txt", 2},
        {"mit_conv_legs4_keyestablished.txt", 2},
    };

    unsigned total = 0;
    for (size_t i = 0; i < nconv; i++) {
        char rel[512];
        snprintf(rel, sizeof rel, "mit/conversations/%s", convs[i]);
        size_t flen = 0;
        uint8_t *text = tu_load(rel, &flen);
        char *s = malloc(flen + 1);
        assert_non_null(s);
        memcpy(s, text, flen);
        s[flen] = '\0';
        free(text);

        replay r;
        memset(&r, 0, sizeof r);
        r.mode = KEYS_CONVERSATION;
        unsigned raw = 0, leg = 0;
        char *save = NULL;
        for (char *line = strtok_r(s, "\r\n", &save); line != NULL; line = strtok_r(NULL, "\r\n", &save)) {
            size_t len = 0;
            uint8_t *tok = tu_unhex(line, &len);
            if (len == 0) {
                free(tok);
                continue;
            }
            /* Legs alternate, initiator first; only the first is framed. */
            int from_initiator = (leg % 2) == 0;
            assert_int_equal(tok[0] == 0x60, leg == 0);
            const uint8_t *inner = NULL;
            size_t inner_len = 0;
            if (spnego_inner_token(tok, len, &inner, &inner_len)) {
                char where[600];
                snprintf(where, sizeof where, "%s leg %u", rel, leg);
                raw += raw_count_verifies(inner, inner_len);
                replay_token(&r, inner, inner_len, from_initiator, where);
            }
            free(tok);
            leg++;
        }
        free(s);

        assert_int_equal(r.mismatched, 0);
        assert_int_equal(r.checked, raw);
        for (size_t k = 0; k < sizeof expect / sizeof expect[0]; k++)
            if (strcmp(expect[k].name, convs[i]) == 0)
                assert_int_equal(r.checked, expect[k].verifies);
        total += r.checked;
        free(r.transcript.data);
    }
    free_list(convs, nconv);
    print_message("MIT conversations: %u VERIFYs checked, 0 mismatches\n", total);
    assert_int_equal(total, 11);
}

/* ------------------------------------------------------------------------ */
/* Known answers                                                              */
/* ------------------------------------------------------------------------ */

/* windows/verified/verified_vectors.json "krb_finished": a Windows PKU2U
 * initiator's KRB-FINISHED checksum, usage 41. */
static void test_kat_windows_krb_finished(void **state)
{
    (void)state;
    uint8_t key[32], expect[12];
    unhex_into("7c0e4db1f247dfc803c11eb82d18362c69d190e0010126f45b52d1fa07f7a8c1", key, 32);
    unhex_into("e11dcfca0ec9582c53cec320", expect, 12);
    size_t len = 0;
    uint8_t *data = tu_load("windows/verified/krb_finished_input_asreq_asrep.bin", &len);
    assert_int_equal(len, 2359 + 2952);

    uint8_t out[NEGOEX_CKSUM_MAX];
    size_t out_len = 0;
    int32_t type = 0;
    assert_int_equal(negoex_checksum_make(18, key, 32, 41, data, len, &type, out, &out_len), 0);
    assert_int_equal(type, 16);
    assert_int_equal(out_len, 12);
    assert_memory_equal(out, expect, 12);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 41, data, len, expect, 12), 0);

    /* Any flipped bit of the checksum is caught. */
    for (size_t i = 0; i < 12; i++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t bad[12];
            memcpy(bad, expect, 12);
            bad[i] ^= (uint8_t)(1u << bit);
            assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 41, data, len, bad, 12),
                             NEGOEX_ERR_CHECKSUM_MISMATCH);
        }
    }
    /* A flipped data byte at the start, middle and end. */
    const size_t where[] = {0, len / 2, len - 1};
    for (size_t i = 0; i < 3; i++) {
        data[where[i]] ^= 0x10;
        assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 41, data, len, expect, 12),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
        data[where[i]] ^= 0x10;
    }
    /* Neighbouring usages and a flipped key bit. */
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 40, data, len, expect, 12), NEGOEX_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 42, data, len, expect, 12), NEGOEX_ERR_CHECKSUM_MISMATCH);
    key[31] ^= 1;
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 41, data, len, expect, 12), NEGOEX_ERR_CHECKSUM_MISMATCH);
    free(data);
}

/* MIT krb5 src/lib/crypto/crypto_tests/t_cksums.c known checksum results. */
static void test_kat_mit_t_cksums(void **state)
{
    (void)state;
    static const struct {
        const char *plaintext;
        int32_t cksumtype, enctype, usage;
        const char *key_hex;
        size_t key_len;
        const char *cksum_hex;
    } v[] = {
        {"eight nine ten eleven twelve thirteen", 15, 17, 3, "9062430C8CDA3388922E6D6A509F5B7A", 16,
         "01A4B088D45628F6946614E3"},
        {"fourteen", 16, 18, 4, "B1AE4CD8462AFF1677053CC9279AAC30B796FB81CE21474DD3DDBCFEA4EC76D7", 32,
         "E08739E3279E2903EC8E3836"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        uint8_t key[32], expect[12], out[NEGOEX_CKSUM_MAX];
        unhex_into(v[i].key_hex, key, v[i].key_len);
        unhex_into(v[i].cksum_hex, expect, 12);
        const uint8_t *pt = (const uint8_t *)v[i].plaintext;
        size_t pt_len = strlen(v[i].plaintext);
        size_t out_len = 0;
        int32_t type = 0;
        assert_int_equal(negoex_checksum_make(v[i].enctype, key, v[i].key_len, v[i].usage, pt, pt_len, &type, out,
                                              &out_len),
                         0);
        assert_int_equal(type, v[i].cksumtype);
        assert_int_equal(out_len, 12);
        assert_memory_equal(out, expect, 12);
        assert_int_equal(negoex_checksum_verify(v[i].cksumtype, v[i].enctype, key, v[i].key_len, v[i].usage, pt,
                                                pt_len, expect, 12),
                         0);
        assert_int_equal(negoex_checksum_verify(v[i].cksumtype, v[i].enctype, key, v[i].key_len, v[i].usage + 1, pt,
                                                pt_len, expect, 12),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
    }
}

/* ------------------------------------------------------------------------ */
/* Rules                                                                      */
/* ------------------------------------------------------------------------ */

static void test_type_tables(void **state)
{
    (void)state;
    assert_int_equal(negoex_cksumtype_for_enctype(17), 15);
    assert_int_equal(negoex_cksumtype_for_enctype(18), 16);
    assert_int_equal(negoex_cksumtype_for_enctype(23), NEGOEX_ERR_UNSUPPORTED_CHECKSUM); /* rc4-hmac */
    assert_int_equal(negoex_cksumtype_for_enctype(19), NEGOEX_ERR_UNSUPPORTED_CHECKSUM); /* aes128-sha256 */
    assert_int_equal(negoex_cksumtype_for_enctype(0), NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(negoex_cksumtype_for_enctype(-1), NEGOEX_ERR_UNSUPPORTED_CHECKSUM);

    const int32_t unkeyed[] = {1, 2, 7, 10, 14};
    for (size_t i = 0; i < sizeof unkeyed / sizeof unkeyed[0]; i++)
        assert_int_equal(negoex_cksumtype_is_keyed(unkeyed[i]), 0);
    const int32_t keyed[] = {3, 4, 5, 6, 8, 9, 12, 13, 15, 16, 17, 18, 19, 20, -138};
    for (size_t i = 0; i < sizeof keyed / sizeof keyed[0]; i++)
        assert_int_equal(negoex_cksumtype_is_keyed(keyed[i]), 1);
    assert_int_equal(negoex_cksumtype_is_keyed(0), -1);
    assert_int_equal(negoex_cksumtype_is_keyed(11), -1);
    assert_int_equal(negoex_cksumtype_is_keyed(9999), -1);

    assert_int_equal(negoex_cksumtype_length(15), 12);
    assert_int_equal(negoex_cksumtype_length(16), 12);
    assert_int_equal(negoex_cksumtype_length(1), 0);
    assert_int_equal(negoex_cksumtype_length(19), 0);
    assert_true(negoex_cksumtype_length(16) <= NEGOEX_CKSUM_MAX);
}

static void test_unkeyed_refused(void **state)
{
    (void)state;
    uint8_t key[32] = {0};
    const uint8_t data[] = "transcript";
    /* Even a checksum that is right for the key must not pass under an
     * unkeyed type: anyone can compute an unkeyed checksum. */
    uint8_t ck[NEGOEX_CKSUM_MAX];
    size_t ck_len = 0;
    int32_t type = 0;
    assert_int_equal(negoex_checksum_make(18, key, 32, 23, data, sizeof data, &type, ck, &ck_len), 0);
    const int32_t unkeyed[] = {1, 2, 7, 10, 14};
    for (size_t i = 0; i < sizeof unkeyed / sizeof unkeyed[0]; i++) {
        assert_int_equal(negoex_checksum_verify(unkeyed[i], 18, key, 32, 23, data, sizeof data, ck, ck_len),
                         NEGOEX_ERR_UNKEYED_CHECKSUM);
        assert_int_equal(negoex_checksum_verify(unkeyed[i], 17, key, 16, 23, data, sizeof data, ck, ck_len),
                         NEGOEX_ERR_UNKEYED_CHECKSUM);
    }
}

static void test_unsupported_and_key_size(void **state)
{
    (void)state;
    uint8_t key[32] = {1};
    const uint8_t data[] = "transcript";
    uint8_t ck[NEGOEX_CKSUM_MAX];
    size_t ck_len = 0;
    int32_t type = 0;
    assert_int_equal(negoex_checksum_make(18, key, 32, 25, data, sizeof data, &type, ck, &ck_len), 0);

    /* Type named by the peer must belong to our key's enctype. */
    assert_int_equal(negoex_checksum_verify(15, 18, key, 32, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(negoex_checksum_verify(16, 17, key, 16, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(negoex_checksum_verify(19, 18, key, 32, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(negoex_checksum_verify(9999, 18, key, 32, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(negoex_checksum_verify(16, 23, key, 16, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);

    /* Key length must fit the enctype. */
    assert_int_equal(negoex_checksum_verify(16, 18, key, 16, 25, data, sizeof data, ck, ck_len), NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(negoex_checksum_verify(15, 17, key, 32, 25, data, sizeof data, ck, ck_len), NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 0, 25, data, sizeof data, ck, ck_len), NEGOEX_ERR_KEY_SIZE);

    uint8_t out[NEGOEX_CKSUM_MAX];
    size_t out_len = 99;
    assert_int_equal(negoex_checksum_make(18, key, 16, 25, data, sizeof data, &type, out, &out_len),
                     NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(out_len, 0);
    assert_int_equal(negoex_checksum_make(17, key, 32, 25, data, sizeof data, &type, out, &out_len),
                     NEGOEX_ERR_KEY_SIZE);
    assert_int_equal(negoex_checksum_make(23, key, 16, 25, data, sizeof data, &type, out, &out_len),
                     NEGOEX_ERR_UNSUPPORTED_CHECKSUM);
    assert_int_equal(out_len, 0);

    /* Wrong checksum length is a mismatch, not a prefix compare. */
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 25, data, sizeof data, ck, 11),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    uint8_t longer[13];
    memcpy(longer, ck, 12);
    longer[12] = 0;
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 25, data, sizeof data, longer, 13),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 25, data, sizeof data, ck, 0),
                     NEGOEX_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 25, data, sizeof data, ck, ck_len), 0);

    /* Bad arguments. */
    assert_int_equal(negoex_checksum_make(18, NULL, 32, 25, data, sizeof data, &type, out, &out_len),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_checksum_make(18, key, 32, 25, NULL, 5, &type, out, &out_len),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_checksum_make(18, key, 32, 25, data, sizeof data, &type, NULL, &out_len),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_checksum_verify(16, 18, NULL, 32, 25, data, sizeof data, ck, ck_len),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_checksum_verify(16, 18, key, 32, 25, data, sizeof data, NULL, 12),
                     NEGOEX_ERR_INVALID_ARGUMENT);
}

/* hmac-sha1-96-aes128 round trip over several lengths (block boundaries of
 * SHA-1 and AES included), and empty input. */
static void test_aes128_round_trip(void **state)
{
    (void)state;
    uint8_t key[16];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)(0xa0 + i);
    uint8_t data[200];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);

    const size_t lens[] = {0, 1, 15, 16, 17, 55, 56, 63, 64, 65, 200};
    uint8_t prev[12] = {0};
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        uint8_t ck[NEGOEX_CKSUM_MAX];
        size_t ck_len = 0;
        int32_t type = 0;
        const uint8_t *d = lens[i] ? data : NULL;
        assert_int_equal(negoex_checksum_make(17, key, 16, 25, d, lens[i], &type, ck, &ck_len), 0);
        assert_int_equal(type, 15);
        assert_int_equal(ck_len, 12);
        assert_memory_not_equal(ck, prev, 12);
        memcpy(prev, ck, 12);
        assert_int_equal(negoex_checksum_verify(15, 17, key, 16, 25, d, lens[i], ck, ck_len), 0);
        assert_int_equal(negoex_checksum_verify(15, 17, key, 16, 23, d, lens[i], ck, ck_len),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
        if (lens[i] > 0) {
            data[lens[i] - 1] ^= 0x01;
            assert_int_equal(negoex_checksum_verify(15, 17, key, 16, 25, data, lens[i], ck, ck_len),
                             NEGOEX_ERR_CHECKSUM_MISMATCH);
            data[lens[i] - 1] ^= 0x01;
        }
        /* Same inputs, same bytes: the checksum is deterministic. */
        uint8_t again[NEGOEX_CKSUM_MAX];
        size_t again_len = 0;
        assert_int_equal(negoex_checksum_make(17, key, 16, 25, d, lens[i], &type, again, &again_len), 0);
        assert_memory_equal(again, ck, 12);
    }
}

/* The usage is mixed into Kc: the two VERIFY usages give different sums. */
static void test_usages_differ(void **state)
{
    (void)state;
    uint8_t key[32] = {0};
    const uint8_t data[] = "NEGOEXTS";
    uint8_t a[NEGOEX_CKSUM_MAX], b[NEGOEX_CKSUM_MAX];
    size_t al = 0, bl = 0;
    int32_t type = 0;
    assert_int_equal(negoex_checksum_make(18, key, 32, 23, data, 8, &type, a, &al), 0);
    assert_int_equal(negoex_checksum_make(18, key, 32, 25, data, 8, &type, b, &bl), 0);
    assert_memory_not_equal(a, b, 12);
    /* Usage is encoded as a full 32-bit big-endian value: 25 and 25 + 2^24
     * differ only in the top byte. */
    assert_int_equal(negoex_checksum_make(18, key, 32, 25 + (1 << 24), data, 8, &type, a, &al), 0);
    assert_memory_not_equal(a, b, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_tables),
        cmocka_unit_test(test_kat_mit_t_cksums),
        cmocka_unit_test(test_kat_windows_krb_finished),
        cmocka_unit_test(test_unkeyed_refused),
        cmocka_unit_test(test_unsupported_and_key_size),
        cmocka_unit_test(test_aes128_round_trip),
        cmocka_unit_test(test_usages_differ),
        cmocka_unit_test(test_mit_scenarios_recompute),
        cmocka_unit_test(test_mit_conversations_recompute),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
