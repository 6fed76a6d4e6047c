/*
 * The `test` auth scheme (src/schemes/test_scheme.c) against MIT krb5's own
 * negoextest bytes: every AP_REQUEST/CHALLENGE/META_DATA payload our two
 * instances produce is compared with what MIT put on the wire in
 * ../shared/vectors/mit/scenarios/, and the keys recompute MIT's VERIFYs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/scheme.h>
#include <negoex/scheme_test.h>

#include "checksum.h"
#include "testutil.h"

/* ------------------------------------------------------------------------ */
/* Helpers                                                                    */
/* ------------------------------------------------------------------------ */

static const uint8_t MECH1_GUID[16] = {0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66};
static const uint8_t MECH2_GUID[16] = {0x69, 0x84, 0xb0, 0xd1, 0xa8, 0x2c};

static negoex_scheme *make(const char *oid, unsigned hops, negoex_test_key_mode keys)
{
    negoex_test_scheme_config cfg;
    negoex_test_scheme_config_init(&cfg);
    cfg.mech_oid = oid;
    cfg.hops = hops;
    cfg.keys = keys;
    negoex_scheme *s = NULL;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), 0);
    assert_non_null(s);
    return s;
}

static negoex_scheme *make_cfg(const negoex_test_scheme_config *cfg)
{
    negoex_scheme *s = NULL;
    assert_int_equal(negoex_test_scheme_new(&s, cfg, NULL), 0);
    assert_non_null(s);
    return s;
}

static void destroy(negoex_scheme *s)
{
    s->cls->destroy(s);
}

/* Runs one step into a fresh output buffer (the caller frees it). */
static int step(negoex_scheme *s, int initiator, const uint8_t *in, size_t in_len, negoex_buf *out,
                int *complete)
{
    negoex_buf_init(out, NULL);
    return s->cls->step(s, initiator, in, in_len, out, complete);
}

/* One NEGOEX message of a scenario, with its direction. */
typedef struct cap_msg {
    uint32_t type;
    int from_initiator;
    negoex_guid scheme;
    uint8_t payload[64];
    size_t payload_len;
    size_t transcript_before; /* bytes of the conversation before this message */
    uint8_t cksum[NEGOEX_CKSUM_MAX];
    size_t cksum_len;
    uint32_t cksum_type;
} cap_msg;

typedef struct capture {
    cap_msg msgs[64];
    size_t count;
    uint8_t *transcript; /* every message, both directions, in wire order */
    size_t transcript_len;
} capture;

static int file_exists(const char *rel)
{
    FILE *f = fopen(tu_path(rel), "rb");
    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

/* Walks NN-i2a.negoex / NN-a2i.negoex in order with the public reader. */
static void load_capture(const char *scenario, capture *c)
{
    memset(c, 0, sizeof *c);
    for (unsigned nn = 0; nn < 64; nn++) {
        char rel[256];
        int from_initiator = 1;
        snprintf(rel, sizeof rel, "mit/scenarios/%s/%02u-i2a.negoex", scenario, nn);
        if (!file_exists(rel)) {
            from_initiator = 0;
            snprintf(rel, sizeof rel, "mit/scenarios/%s/%02u-a2i.negoex", scenario, nn);
            if (!file_exists(rel)) {
                /* .bin without .negoex: a token with no NEGOEX inside (e.g. a reject) */
                char bin[256];
                snprintf(bin, sizeof bin, "mit/scenarios/%s/%02u-%s.bin", scenario, nn, "i2a");
                char bin2[256];
                snprintf(bin2, sizeof bin2, "mit/scenarios/%s/%02u-%s.bin", scenario, nn, "a2i");
                if (file_exists(bin) || file_exists(bin2))
                    continue;
                break;
            }
        }
        size_t len = 0;
        uint8_t *tok = tu_load(rel, &len);
        negoex_reader r;
        negoex_message m;
        int rc;
        negoex_reader_init(&r, tok, len);
        while ((rc = negoex_reader_next(&r, &m)) == 1) {
            assert_true(c->count < sizeof c->msgs / sizeof c->msgs[0]);
            cap_msg *cm = &c->msgs[c->count++];
            cm->type = m.type;
            cm->from_initiator = from_initiator;
            cm->transcript_before = c->transcript_len;
            if (negoex_message_structure(m.type) == NEGOEX_STRUCT_EXCHANGE) {
                cm->scheme = m.u.exchange.auth_scheme;
                assert_true(m.u.exchange.exchange.len <= sizeof cm->payload);
                memcpy(cm->payload, m.u.exchange.exchange.data, m.u.exchange.exchange.len);
                cm->payload_len = m.u.exchange.exchange.len;
            } else if (m.type == NEGOEX_VERIFY) {
                cm->scheme = m.u.verify.auth_scheme;
                assert_true(m.u.verify.checksum.len <= sizeof cm->cksum);
                memcpy(cm->cksum, m.u.verify.checksum.data, m.u.verify.checksum.len);
                cm->cksum_len = m.u.verify.checksum.len;
                cm->cksum_type = m.u.verify.checksum_type;
            }
            uint8_t *t = realloc(c->transcript, c->transcript_len + m.raw.len);
            assert_non_null(t);
            memcpy(t + c->transcript_len, m.raw.data, m.raw.len);
            c->transcript = t;
            c->transcript_len += m.raw.len;
        }
        assert_int_equal(rc, 0);
        free(tok);
    }
    assert_true(c->count > 0);
}

static void free_capture(capture *c)
{
    free(c->transcript);
    c->transcript = NULL;
}

/* ------------------------------------------------------------------------ */
/* OID encoding                                                               */
/* ------------------------------------------------------------------------ */

static void expect_oid(const char *dotted, const char *hex)
{
    size_t want_len = 0;
    uint8_t *want = tu_unhex(hex, &want_len);
    uint8_t out[32];
    size_t len = 0;
    assert_int_equal(negoex_oid_encode(dotted, out, sizeof out, &len), 0);
    assert_int_equal(len, want_len);
    assert_memory_equal(out, want, want_len);
    /* size query */
    len = 0;
    assert_int_equal(negoex_oid_encode(dotted, NULL, 0, &len), 0);
    assert_int_equal(len, want_len);
    /* exact fit works, one short does not and writes nothing */
    assert_int_equal(negoex_oid_encode(dotted, out, want_len, &len), 0);
    memset(out, 0xee, sizeof out);
    len = 0;
    assert_int_equal(negoex_oid_encode(dotted, out, want_len - 1, &len), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, want_len);
    for (size_t i = 0; i < sizeof out; i++)
        assert_int_equal(out[i], 0xee);
    free(want);
}

static void test_oid_encode_good(void **state)
{
    (void)state;
    expect_oid("2.25.1414534758", "6985a2c0ac66");
    expect_oid("2.25.1175737388", "6984b0d1a82c");
    expect_oid("1.3.6.1.4.1.311.2.2.30", "2b0601040182370202 1e");
    expect_oid("1.2.840.113549", "2a864886f70d");
    expect_oid("0.0", "00");
    expect_oid("1.39", "4f");
    expect_oid("2.999", "8837");
    expect_oid("2.47", "7f");
    expect_oid("2.48", "8100");
    expect_oid("1.2.0.127.128.16383.16384", "2a 00 7f 8100 ff7f 818000");
    /* largest 64-bit arc, and the largest second arc under 2 (40*2 + b = 2^64-1) */
    expect_oid("1.2.18446744073709551615", "2a 81ffffffffffffffff7f");
    expect_oid("2.18446744073709551535", "81ffffffffffffffff7f");

    /* the library's own constant agrees */
    uint8_t out[16];
    size_t len = 0;
    assert_int_equal(negoex_oid_encode(NEGOEX_OID_TEXT, out, sizeof out, &len), 0);
    assert_int_equal(len, NEGOEX_OID_DER_LEN);
    assert_memory_equal(out, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
}

static void test_oid_encode_bad(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", ".", "1", "2", "1.", ".1.2", "1..2", "1.2.", "1.2..3", "a.b", "1.2a", "1.a", "x1.2",
        " 1.2", "1.2 ", "1.-2", "1.+2", "-1.2", "3.1", "9.0", "1.40", "0.40", "0.100",
        "01.2", "1.02", "1.2.03",            /* leading zeros are not canonical text */
        "1.2.18446744073709551616",          /* arc overflows 64 bits */
        "1.2.99999999999999999999999",
        "2.18446744073709551536",            /* 80 + b overflows */
        "2.18446744073709551616",
        "1,2", "1.2/3",
    };
    uint8_t out[32];
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = 12345;
        memset(out, 0xee, sizeof out);
        int rc = negoex_oid_encode(bad[i], out, sizeof out, &len);
        if (rc != NEGOEX_ERR_INVALID_ARGUMENT)
            fail_msg("\"%s\" gave %d", bad[i], rc);
        assert_int_equal(len, 12345);
        assert_int_equal(out[0], 0xee);
    }
    size_t len = 0;
    assert_int_equal(negoex_oid_encode(NULL, out, sizeof out, &len), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_oid_encode("1.2", out, sizeof out, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* Configuration, class, GUIDs                                                */
/* ------------------------------------------------------------------------ */

static void test_key_mode_parse(void **state)
{
    (void)state;
    assert_int_equal(negoex_test_key_mode_parse("established"), NEGOEX_TEST_KEY_ESTABLISHED);
    assert_int_equal(negoex_test_key_mode_parse("always"), NEGOEX_TEST_KEY_ALWAYS);
    assert_int_equal(negoex_test_key_mode_parse("init-always"), NEGOEX_TEST_KEY_INIT_ALWAYS);
    assert_int_equal(negoex_test_key_mode_parse("accept-always"), NEGOEX_TEST_KEY_ACCEPT_ALWAYS);
    assert_int_equal(negoex_test_key_mode_parse("never"), NEGOEX_TEST_KEY_NEVER);
    assert_int_equal(negoex_test_key_mode_parse("Always"), -1);
    assert_int_equal(negoex_test_key_mode_parse("always "), -1);
    assert_int_equal(negoex_test_key_mode_parse(""), -1);
    assert_int_equal(negoex_test_key_mode_parse("init"), -1);
    assert_int_equal(negoex_test_key_mode_parse(NULL), -1);
}

static void test_config_defaults(void **state)
{
    (void)state;
    negoex_test_scheme_config cfg;
    memset(&cfg, 0x5a, sizeof cfg);
    negoex_test_scheme_config_init(&cfg);
    assert_string_equal(cfg.mech_oid, NEGOEX_TEST_MECH1_OID);
    assert_int_equal(cfg.hops, 1);
    assert_int_equal(cfg.keys, NEGOEX_TEST_KEY_ESTABLISHED);
    assert_int_equal(cfg.no_meta_data, 0);
    assert_int_equal(cfg.fail_query, 0);
    assert_int_equal(cfg.fail_exchange, 0);
    assert_int_equal(cfg.fail_step, 0);
    negoex_test_scheme_config_init(NULL); /* no crash */

    /* NULL config = the defaults */
    negoex_scheme *s = NULL;
    assert_int_equal(negoex_test_scheme_new(&s, NULL, NULL), 0);
    assert_memory_equal(s->auth_scheme.bytes, MECH1_GUID, 16);
    negoex_buf out;
    int complete = 0;
    assert_int_equal(step(s, 1, NULL, 0, &out, &complete), 0);
    assert_int_equal(complete, 1);
    assert_int_equal(out.len, 11);
    assert_int_equal(out.data[10], 0);
    negoex_buf_free(&out);
    destroy(s);
}

static void test_class_and_guids(void **state)
{
    (void)state;
    negoex_scheme *s1 = make(NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_scheme *s2 = make(NEGOEX_TEST_MECH2_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    assert_ptr_equal(s1->cls, s2->cls);
    assert_int_equal(s1->cls->api_version, NEGOEX_SCHEME_API_VERSION);
    assert_string_equal(s1->cls->name, "test");
    assert_non_null(s1->cls->query_meta_data);
    assert_non_null(s1->cls->exchange_meta_data);
    assert_non_null(s1->cls->step);
    assert_non_null(s1->cls->get_key);
    assert_non_null(s1->cls->reset);
    assert_non_null(s1->cls->clone);
    assert_non_null(s1->cls->destroy);
    /* negoextest has no gss_get_mic/gss_verify_mic */
    assert_null(s1->cls->make_mic);
    assert_null(s1->cls->verify_mic);

    assert_memory_equal(s1->auth_scheme.bytes, MECH1_GUID, 16);
    assert_memory_equal(s2->auth_scheme.bytes, MECH2_GUID, 16);
    char text[NEGOEX_GUID_STRING_LEN + 1];
    negoex_guid_format(&s1->auth_scheme, text);
    assert_string_equal(text, "c0a28569-66ac-0000-0000-000000000000");
    negoex_guid_format(&s2->auth_scheme, text);
    assert_string_equal(text, "d1b08469-2ca8-0000-0000-000000000000");

    /* ... and are the two schemes of MIT's INITIATOR_NEGO, in that order */
    size_t len = 0;
    uint8_t *tok = tu_load("mit/scenarios/01-one-hop/00-i2a.negoex", &len);
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.type, NEGOEX_INITIATOR_NEGO);
    assert_int_equal(m.u.nego.auth_scheme_count, 2);
    negoex_guid g;
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_true(negoex_guid_equal(&g, &s1->auth_scheme));
    assert_int_equal(negoex_nego_auth_scheme(&m, 1, &g), 0);
    assert_true(negoex_guid_equal(&g, &s2->auth_scheme));
    free(tok);

    destroy(s1);
    destroy(s2);
}

static void test_new_rejects(void **state)
{
    (void)state;
    negoex_test_scheme_config cfg;
    negoex_scheme *s = (negoex_scheme *)&cfg; /* must be reset to NULL on failure */

    negoex_test_scheme_config_init(&cfg);
    assert_int_equal(negoex_test_scheme_new(NULL, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    static const char *const bad_oids[] = {"", "2.25.", "1.40", "not-an-oid", "3.25.1",
                                           /* 17 content bytes: one too many for the GUID */
                                           "1.2.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1"};
    for (size_t i = 0; i < sizeof bad_oids / sizeof bad_oids[0]; i++) {
        negoex_test_scheme_config_init(&cfg);
        cfg.mech_oid = bad_oids[i];
        s = (negoex_scheme *)&cfg;
        assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
        assert_null(s);
    }
    negoex_test_scheme_config_init(&cfg);
    cfg.mech_oid = NULL;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    negoex_test_scheme_config_init(&cfg);
    cfg.hops = 0;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    cfg.hops = 256; /* the count travels in one byte */
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    cfg.hops = 255;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), 0);
    destroy(s);

    negoex_test_scheme_config_init(&cfg);
    cfg.keys = (negoex_test_key_mode)5;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    cfg.keys = (negoex_test_key_mode)-1;
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    /* exactly 16 content bytes fill the GUID with no padding */
    negoex_test_scheme_config_init(&cfg);
    cfg.mech_oid = "1.2.1.1.1.1.1.1.1.1.1.1.1.1.1.1.1";
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, NULL), 0);
    static const uint8_t full[16] = {0x2a, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
    assert_memory_equal(s->auth_scheme.bytes, full, 16);
    negoex_buf out;
    int complete = 0;
    assert_int_equal(step(s, 1, NULL, 0, &out, &complete), 0);
    assert_int_equal(out.len, 21);
    static const uint8_t head[4] = {0x60, 19, 0x06, 16};
    assert_memory_equal(out.data, head, 4);
    assert_memory_equal(out.data + 4, full, 16);
    assert_int_equal(out.data[20], 0);
    negoex_buf_free(&out);
    destroy(s);
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                   */
/* ------------------------------------------------------------------------ */

static void test_meta_data(void **state)
{
    (void)state;
    capture cap;
    load_capture("01-one-hop", &cap);

    negoex_scheme *s = make(NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_buf out;
    negoex_buf_init(&out, NULL);
    assert_int_equal(s->cls->query_meta_data(s, 1, &out), 0);
    assert_int_equal(out.len, 1);
    /* every META_DATA MIT sent (both schemes, both directions) is that byte */
    unsigned metas = 0;
    for (size_t i = 0; i < cap.count; i++) {
        const cap_msg *m = &cap.msgs[i];
        if (m->type != NEGOEX_INITIATOR_META_DATA && m->type != NEGOEX_ACCEPTOR_META_DATA)
            continue;
        assert_int_equal(m->from_initiator, m->type == NEGOEX_INITIATOR_META_DATA);
        assert_int_equal(m->payload_len, out.len);
        assert_memory_equal(m->payload, out.data, out.len);
        /* and it is what exchange_meta_data accepts */
        assert_int_equal(s->cls->exchange_meta_data(s, 1, m->payload, m->payload_len), 0);
        metas++;
    }
    assert_int_equal(metas, 4);
    /* appends after what the buffer already holds */
    assert_int_equal(s->cls->query_meta_data(s, 1, &out), 0);
    assert_int_equal(out.len, 2);
    assert_memory_equal(out.data, "XX", 2);
    negoex_buf_free(&out);

    static const uint8_t x[] = "X", y[] = "Y", xx[] = "XX", lower[] = "x";
    assert_int_equal(s->cls->exchange_meta_data(s, 1, y, 1), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, xx, 2), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, lower, 1), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, x, 0), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, NULL, 0), NEGOEX_ERR_SCHEME_FAILED);
    /* a side cannot change role */
    assert_int_equal(s->cls->exchange_meta_data(s, 0, x, 1), NEGOEX_ERR_INVALID_ARGUMENT);
    destroy(s);

    /* no_meta_data: MIT's *_QUERY_NONE (scenario 24 has no META_DATA at all) */
    capture none;
    load_capture("24-no-metadata-either-side", &none);
    for (size_t i = 0; i < none.count; i++)
        assert_true(none.msgs[i].type != NEGOEX_INITIATOR_META_DATA &&
                    none.msgs[i].type != NEGOEX_ACCEPTOR_META_DATA);
    free_capture(&none);

    negoex_test_scheme_config cfg;
    negoex_test_scheme_config_init(&cfg);
    cfg.no_meta_data = 1;
    s = make_cfg(&cfg);
    negoex_buf_init(&out, NULL);
    assert_int_equal(s->cls->query_meta_data(s, 0, &out), NEGOEX_SCHEME_NONE);
    assert_int_equal(out.len, 0);
    assert_int_equal(s->cls->exchange_meta_data(s, 0, x, 1), 0);
    destroy(s);

    negoex_test_scheme_config_init(&cfg);
    cfg.fail_query = 1;
    s = make_cfg(&cfg);
    assert_int_equal(s->cls->query_meta_data(s, 1, &out), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(out.len, 0);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, x, 1), 0);
    destroy(s);

    negoex_test_scheme_config_init(&cfg);
    cfg.fail_exchange = 1;
    s = make_cfg(&cfg);
    assert_int_equal(s->cls->query_meta_data(s, 0, &out), 0);
    assert_int_equal(s->cls->exchange_meta_data(s, 0, x, 1), NEGOEX_ERR_SCHEME_FAILED);
    negoex_buf_free(&out);
    destroy(s);

    free_capture(&cap);
}

/* ------------------------------------------------------------------------ */
/* The exchange against MIT's bytes                                           */
/* ------------------------------------------------------------------------ */

/* Drives an initiator and an acceptor against each other and checks every
 * token against the AP_REQUEST/CHALLENGE payloads MIT sent for that scheme. */
static void run_against_mit(const char *scenario, const char *oid, unsigned hops)
{
    capture cap;
    load_capture(scenario, &cap);
    negoex_scheme *ini = make(oid, hops, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_scheme *acc = make(oid, hops, NEGOEX_TEST_KEY_ESTABLISHED);

    const cap_msg *want[16];
    size_t nwant = 0;
    for (size_t i = 0; i < cap.count; i++) {
        const cap_msg *m = &cap.msgs[i];
        if ((m->type == NEGOEX_AP_REQUEST || m->type == NEGOEX_CHALLENGE) &&
            negoex_guid_equal(&m->scheme, &ini->auth_scheme)) {
            assert_true(nwant < 16);
            want[nwant++] = m;
        }
    }
    /* H hops = H scheme tokens on the wire */
    assert_int_equal(nwant, hops);

    size_t idx = 0;
    negoex_buf itok, atok;
    int icomplete = -1, acomplete = -1;
    assert_int_equal(step(ini, 1, NULL, 0, &itok, &icomplete), 0);
    for (;;) {
        assert_true(idx < nwant);
        assert_int_equal(want[idx]->type, NEGOEX_AP_REQUEST);
        assert_true(want[idx]->from_initiator);
        assert_int_equal(itok.len, want[idx]->payload_len);
        assert_memory_equal(itok.data, want[idx]->payload, itok.len);
        idx++;
        assert_int_equal(icomplete, itok.data[itok.len - 1] == 0);

        assert_int_equal(step(acc, 0, itok.data, itok.len, &atok, &acomplete), 0);
        negoex_buf_free(&itok);
        if (atok.len == 0) {
            assert_int_equal(acomplete, 1);
            assert_int_equal(icomplete, 1);
            negoex_buf_free(&atok);
            break;
        }
        assert_true(idx < nwant);
        assert_int_equal(want[idx]->type, NEGOEX_CHALLENGE);
        assert_false(want[idx]->from_initiator);
        assert_int_equal(atok.len, 1);
        assert_int_equal(atok.len, want[idx]->payload_len);
        assert_memory_equal(atok.data, want[idx]->payload, 1);
        idx++;
        assert_int_equal(acomplete, atok.data[0] == 0);

        assert_int_equal(step(ini, 1, atok.data, atok.len, &itok, &icomplete), 0);
        negoex_buf_free(&atok);
        if (itok.len == 0) {
            assert_int_equal(icomplete, 1);
            assert_int_equal(acomplete, 1);
            negoex_buf_free(&itok);
            break;
        }
    }
    assert_int_equal(idx, nwant);

    /* done is done */
    static const uint8_t zero = 0;
    negoex_buf extra;
    int complete = 7;
    assert_int_equal(step(ini, 1, &zero, 1, &extra, &complete), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(extra.len, 0);
    assert_int_equal(complete, 0);
    assert_int_equal(step(acc, 0, want[0]->payload, want[0]->payload_len, &extra, &complete),
                     NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(extra.len, 0);

    destroy(ini);
    destroy(acc);
    free_capture(&cap);
}

static void test_hops_1_mit_01(void **state)
{
    (void)state;
    run_against_mit("01-one-hop", NEGOEX_TEST_MECH1_OID, 1);
    run_against_mit("19-channel-bindings", NEGOEX_TEST_MECH1_OID, 1);
    run_against_mit("24-no-metadata-either-side", NEGOEX_TEST_MECH1_OID, 1);
}

static void test_hops_2_mit_02(void **state)
{
    (void)state;
    run_against_mit("02-two-hops", NEGOEX_TEST_MECH1_OID, 2);
    run_against_mit("27-two-schemes-neg-mechs-both", NEGOEX_TEST_MECH1_OID, 2);
    /* the second mechanism, after the acceptor ignored the optimistic token for the first */
    run_against_mit("23-acceptor-supports-only-second", NEGOEX_TEST_MECH2_OID, 2);
}

static void test_hops_3_mit_03(void **state)
{
    (void)state;
    run_against_mit("03-three-hops", NEGOEX_TEST_MECH1_OID, 3);
    run_against_mit("05-early-keys-three-hops", NEGOEX_TEST_MECH1_OID, 3);
}

static void test_hops_4_mit_04(void **state)
{
    (void)state;
    run_against_mit("04-four-hops", NEGOEX_TEST_MECH1_OID, 4);
    run_against_mit("06-early-keys-four-hops", NEGOEX_TEST_MECH1_OID, 4);
}

static void test_hops_5_mit_20(void **state)
{
    (void)state;
    run_against_mit("20-five-hops", NEGOEX_TEST_MECH1_OID, 5);
}

/* ------------------------------------------------------------------------ */
/* Keys                                                                       */
/* ------------------------------------------------------------------------ */

static void expect_key(negoex_scheme *s, negoex_key_use use, int available, uint8_t byte0)
{
    negoex_key key;
    memset(&key, 0xcc, sizeof key);
    int rc = s->cls->get_key(s, use, &key);
    if (!available) {
        assert_int_equal(rc, NEGOEX_SCHEME_NOT_YET);
        return;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(key.enctype, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96);
    assert_int_equal(key.len, 32);
    assert_int_equal(key.bytes[0], byte0);
    for (size_t i = 1; i < 32; i++)
        assert_int_equal(key.bytes[i], 0);
}

/* Both keys of one side: sign = initiator, verify = !initiator. */
static void expect_keys(negoex_scheme *s, int initiator, int available)
{
    expect_key(s, NEGOEX_KEY_SIGN, available, (uint8_t)(initiator ? 1 : 0));
    expect_key(s, NEGOEX_KEY_VERIFY, available, (uint8_t)(initiator ? 0 : 1));
}

static void test_key_timing_per_mode(void **state)
{
    (void)state;
    for (int mode = NEGOEX_TEST_KEY_ESTABLISHED; mode <= NEGOEX_TEST_KEY_NEVER; mode++) {
        int never = mode == NEGOEX_TEST_KEY_NEVER;
        int early_i = mode == NEGOEX_TEST_KEY_ALWAYS || mode == NEGOEX_TEST_KEY_INIT_ALWAYS;
        int early_a = mode == NEGOEX_TEST_KEY_ALWAYS || mode == NEGOEX_TEST_KEY_ACCEPT_ALWAYS;
        negoex_scheme *ini = make(NEGOEX_TEST_MECH1_OID, 2, (negoex_test_key_mode)mode);
        negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 2, (negoex_test_key_mode)mode);

        /* role not yet known: no key in any mode */
        expect_keys(ini, 1, 0);
        expect_keys(acc, 0, 0);

        negoex_buf meta;
        negoex_buf_init(&meta, NULL);
        assert_int_equal(ini->cls->query_meta_data(ini, 1, &meta), 0);
        assert_int_equal(acc->cls->query_meta_data(acc, 0, &meta), 0);
        negoex_buf_free(&meta);
        expect_keys(ini, 1, early_i);
        expect_keys(acc, 0, early_a);

        negoex_buf itok, atok, last;
        int ic = 0, ac = 0;
        assert_int_equal(step(ini, 1, NULL, 0, &itok, &ic), 0); /* count 1: not complete */
        assert_int_equal(ic, 0);
        expect_keys(ini, 1, early_i);
        expect_keys(acc, 0, early_a);

        assert_int_equal(step(acc, 0, itok.data, itok.len, &atok, &ac), 0); /* count 0: complete */
        assert_int_equal(ac, 1);
        expect_keys(ini, 1, early_i);
        expect_keys(acc, 0, !never);

        assert_int_equal(step(ini, 1, atok.data, atok.len, &last, &ic), 0);
        assert_int_equal(ic, 1);
        assert_int_equal(last.len, 0);
        expect_keys(ini, 1, !never);
        expect_keys(acc, 0, !never);

        negoex_key key;
        assert_int_equal(ini->cls->get_key(ini, (negoex_key_use)2, &key), NEGOEX_ERR_INVALID_ARGUMENT);
        assert_int_equal(ini->cls->get_key(ini, NEGOEX_KEY_SIGN, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

        negoex_buf_free(&itok);
        negoex_buf_free(&atok);
        negoex_buf_free(&last);
        destroy(ini);
        destroy(acc);
    }
}

/* The role can also come from step alone (no metadata calls). */
static void test_key_role_from_step(void **state)
{
    (void)state;
    negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ACCEPT_ALWAYS);
    expect_keys(acc, 0, 0);
    static const uint8_t tok[] = {0x60, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x02};
    negoex_buf out;
    int c = 0;
    assert_int_equal(step(acc, 0, tok, sizeof tok, &out, &c), 0);
    assert_int_equal(c, 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 1);
    expect_keys(acc, 0, 1);
    negoex_buf_free(&out);
    destroy(acc);
}

/* Our keys recompute every VERIFY MIT sent for the scheme (type 16, usage 25
 * from the initiator, 23 from the acceptor, over everything before it). */
static void check_verifies(const char *scenario, const char *oid, unsigned hops, negoex_test_key_mode mode)
{
    capture cap;
    load_capture(scenario, &cap);
    negoex_scheme *ini = make(oid, hops, mode);
    negoex_scheme *acc = make(oid, hops, mode);
    negoex_buf meta;
    negoex_buf_init(&meta, NULL);
    assert_int_equal(ini->cls->query_meta_data(ini, 1, &meta), 0);
    assert_int_equal(acc->cls->query_meta_data(acc, 0, &meta), 0);
    negoex_buf_free(&meta);
    /* run to completion so every mode has its keys */
    negoex_buf t;
    int c = 0;
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    for (;;) {
        negoex_buf r;
        assert_int_equal(step(acc, 0, t.data, t.len, &r, &c), 0);
        negoex_buf_free(&t);
        if (r.len == 0) {
            negoex_buf_free(&r);
            break;
        }
        assert_int_equal(step(ini, 1, r.data, r.len, &t, &c), 0);
        negoex_buf_free(&r);
        if (t.len == 0) {
            negoex_buf_free(&t);
            break;
        }
    }

    unsigned checked = 0;
    for (size_t i = 0; i < cap.count; i++) {
        const cap_msg *m = &cap.msgs[i];
        if (m->type != NEGOEX_VERIFY || !negoex_guid_equal(&m->scheme, &ini->auth_scheme))
            continue;
        negoex_key sign, peer_verify;
        negoex_scheme *sender = m->from_initiator ? ini : acc;
        negoex_scheme *receiver = m->from_initiator ? acc : ini;
        assert_int_equal(sender->cls->get_key(sender, NEGOEX_KEY_SIGN, &sign), 0);
        assert_int_equal(receiver->cls->get_key(receiver, NEGOEX_KEY_VERIFY, &peer_verify), 0);
        assert_int_equal(sign.len, peer_verify.len);
        assert_memory_equal(sign.bytes, peer_verify.bytes, sign.len);
        int32_t usage = m->from_initiator ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM;
        assert_int_equal(m->cksum_type, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256);
        assert_int_equal(negoex_checksum_verify((int32_t)m->cksum_type, sign.enctype, sign.bytes, sign.len, usage,
                                                cap.transcript, m->transcript_before, m->cksum, m->cksum_len),
                         0);
        /* the other side's key does not */
        negoex_key wrong;
        assert_int_equal(receiver->cls->get_key(receiver, NEGOEX_KEY_SIGN, &wrong), 0);
        assert_int_equal(negoex_checksum_verify((int32_t)m->cksum_type, wrong.enctype, wrong.bytes, wrong.len, usage,
                                                cap.transcript, m->transcript_before, m->cksum, m->cksum_len),
                         NEGOEX_ERR_CHECKSUM_MISMATCH);
        checked++;
    }
    assert_true(checked >= 2);
    destroy(ini);
    destroy(acc);
    free_capture(&cap);
}

static void test_keys_recompute_mit_verifies(void **state)
{
    (void)state;
    check_verifies("01-one-hop", NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    check_verifies("02-two-hops", NEGOEX_TEST_MECH1_OID, 2, NEGOEX_TEST_KEY_ESTABLISHED);
    check_verifies("05-early-keys-three-hops", NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ALWAYS);
    check_verifies("17-alert-acceptor-to-initiator", NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_INIT_ALWAYS);
    check_verifies("18-alert-initiator-to-acceptor", NEGOEX_TEST_MECH1_OID, 4, NEGOEX_TEST_KEY_ACCEPT_ALWAYS);
    check_verifies("23-acceptor-supports-only-second", NEGOEX_TEST_MECH2_OID, 2, NEGOEX_TEST_KEY_ESTABLISHED);
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                   */
/* ------------------------------------------------------------------------ */

static void test_acceptor_fail_token(void **state)
{
    (void)state;
    /* MIT scenario 16 (HOPS=2 ACCEPT_FAIL=102): the acceptor's answer to the
     * AP_REQUEST is the CHALLENGE "fail" */
    capture cap;
    load_capture("16-first-mech-accept-sec-context-fail", &cap);
    const cap_msg *ap = NULL, *fail = NULL;
    for (size_t i = 0; i < cap.count; i++) {
        const cap_msg *m = &cap.msgs[i];
        if (!negoex_guid_equal(&m->scheme, &(negoex_guid){{0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66}}))
            continue;
        if (m->type == NEGOEX_AP_REQUEST)
            ap = m;
        if (m->type == NEGOEX_CHALLENGE)
            fail = m;
    }
    assert_non_null(ap);
    assert_non_null(fail);

    negoex_scheme *ini = make(NEGOEX_TEST_MECH1_OID, 2, NEGOEX_TEST_KEY_ALWAYS);
    negoex_test_scheme_config cfg;
    negoex_test_scheme_config_init(&cfg);
    cfg.hops = 2;
    cfg.fail_step = 1;
    negoex_scheme *acc = make_cfg(&cfg);

    negoex_buf itok, atok, none;
    int ic = 0, ac = 7;
    assert_int_equal(step(ini, 1, NULL, 0, &itok, &ic), 0);
    assert_int_equal(itok.len, ap->payload_len);
    assert_memory_equal(itok.data, ap->payload, itok.len);

    assert_int_equal(step(acc, 0, itok.data, itok.len, &atok, &ac), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(ac, 0);
    assert_int_equal(atok.len, fail->payload_len);
    assert_memory_equal(atok.data, fail->payload, atok.len);
    assert_memory_equal(atok.data, "fail", 4);
    /* a failed acceptor stays failed and has no key */
    expect_keys(acc, 0, 0);
    assert_int_equal(step(acc, 0, itok.data, itok.len, &none, &ac), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(none.len, 0);
    assert_int_equal(step(acc, 0, NULL, 0, &none, &ac), NEGOEX_ERR_SCHEME_FAILED);
    /* an acceptor with nothing to read asks for the token, even when set to fail */
    negoex_scheme *fresh = make_cfg(&cfg);
    assert_int_equal(step(fresh, 0, NULL, 0, &none, &ac), NEGOEX_ERR_MISSING_TOKEN);
    assert_int_equal(none.len, 0);
    destroy(fresh);

    /* the initiator reports the acceptor's failure and sends nothing */
    expect_keys(ini, 1, 1);
    ic = 7;
    assert_int_equal(step(ini, 1, atok.data, atok.len, &none, &ic), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(none.len, 0);
    assert_int_equal(ic, 0);
    expect_keys(ini, 1, 0);
    static const uint8_t zero = 0;
    assert_int_equal(step(ini, 1, &zero, 1, &none, &ic), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(none.len, 0);

    negoex_buf_free(&itok);
    negoex_buf_free(&atok);
    destroy(ini);
    destroy(acc);
    free_capture(&cap);
}

static void test_initiator_fail_step(void **state)
{
    (void)state;
    negoex_test_scheme_config cfg;
    negoex_test_scheme_config_init(&cfg);
    cfg.fail_step = 1;
    negoex_scheme *ini = make_cfg(&cfg);
    negoex_buf out;
    int c = 7;
    assert_int_equal(step(ini, 1, NULL, 0, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(out.len, 0);
    assert_int_equal(c, 0);
    destroy(ini);
}

static void test_step_errors(void **state)
{
    (void)state;
    negoex_scheme *ini = make(NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_buf out;
    int c = 0;
    static const uint8_t one = 1, zero = 0, two_bytes[2] = {1, 0}, tok0[] = {0x60, 0x09, 0x06, 0x06, 0x69,
                                                                               0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00};

    /* the initiator's first step takes no token */
    assert_int_equal(step(ini, 1, &one, 1, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(out.len, 0);
    /* an empty token counts as none, as in negoextest */
    assert_int_equal(step(ini, 1, &one, 0, &out, &c), 0);
    assert_int_equal(out.data[out.len - 1], 2);
    negoex_buf_free(&out);

    /* later steps need the acceptor's count, exactly one below ours */
    assert_int_equal(step(ini, 1, NULL, 0, &out, &c), NEGOEX_ERR_MISSING_TOKEN);
    assert_int_equal(step(ini, 1, &zero, 1, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(step(ini, 1, two_bytes, 2, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(step(ini, 1, (const uint8_t *)"fai", 3, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(step(ini, 1, tok0, sizeof tok0, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(out.len, 0);
    /* a side keeps its role */
    assert_int_equal(step(ini, 0, tok0, sizeof tok0, &out, &c), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(ini->cls->query_meta_data(ini, 0, &out), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(out.len, 0);
    /* bad arguments */
    assert_int_equal(ini->cls->step(ini, 1, &one, 1, NULL, &c), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_buf_init(&out, NULL);
    assert_int_equal(ini->cls->step(ini, 1, &one, 1, &out, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(ini->cls->step(ini, 1, NULL, 1, &out, &c), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(out.len, 0);
    /* none of that changed the state: the right token still works */
    assert_int_equal(step(ini, 1, &one, 1, &out, &c), 0);
    assert_int_equal(c, 1);
    assert_memory_equal(out.data, tok0, sizeof tok0);
    negoex_buf_free(&out);
    destroy(ini);

    /* acceptor: a repeated or skipped count is refused after the first token */
    negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    uint8_t tok[11];
    memcpy(tok, tok0, sizeof tok);
    tok[10] = 3;
    assert_int_equal(step(acc, 0, tok, sizeof tok, &out, &c), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 2);
    assert_int_equal(c, 0);
    negoex_buf_free(&out);
    tok[10] = 2;
    assert_int_equal(step(acc, 0, tok, sizeof tok, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    tok[10] = 0;
    assert_int_equal(step(acc, 0, tok, sizeof tok, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(out.len, 0);
    tok[10] = 1;
    assert_int_equal(step(acc, 0, tok, sizeof tok, &out, &c), 0);
    assert_int_equal(out.len, 1);
    assert_int_equal(out.data[0], 0);
    assert_int_equal(c, 1);
    negoex_buf_free(&out);
    destroy(acc);
}

static void test_malformed_initiator_tokens(void **state)
{
    (void)state;
    static const uint8_t good[] = {0x60, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00};
    negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 1, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_buf out;
    int c = 7;

    /* every truncation */
    for (size_t n = 1; n < sizeof good; n++) {
        assert_int_equal(step(acc, 0, good, n, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
        assert_int_equal(out.len, 0);
        assert_int_equal(c, 0);
    }
    assert_int_equal(step(acc, 0, good, 0, &out, &c), NEGOEX_ERR_MISSING_TOKEN);
    assert_int_equal(step(acc, 0, NULL, 0, &out, &c), NEGOEX_ERR_MISSING_TOKEN);

    static const uint8_t bad[][13] = {
        {0x61, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},       /* outer tag */
        {0x60, 0x0a, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},       /* outer length */
        {0x60, 0x08, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},
        {0x60, 0x09, 0x05, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},       /* not an OID */
        {0x60, 0x09, 0x06, 0x05, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},       /* OID length */
        {0x60, 0x09, 0x06, 0x07, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},
        {0x60, 0x09, 0x06, 0x06, 0x69, 0x84, 0xb0, 0xd1, 0xa8, 0x2c, 0x00},       /* the other mech */
        {0x60, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x67, 0x00},       /* last OID octet */
        {0x60, 0x09, 0x06, 0x06, 0x68, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00},       /* first OID octet */
        {0x60, 0x81, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00}, /* long-form length */
        {0x60, 0x0a, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00, 0x00}, /* two bytes after OID */
        {0x60, 0x09, 0x06, 0x06, 0x69, 0x85, 0xa2, 0xc0, 0xac, 0x66, 0x00, 0x00}, /* trailing garbage */
    };
    static const size_t bad_len[] = {11, 11, 11, 11, 11, 11, 11, 11, 11, 12, 12, 12};
    for (size_t i = 0; i < sizeof bad_len / sizeof bad_len[0]; i++) {
        c = 7;
        int rc = step(acc, 0, bad[i], bad_len[i], &out, &c);
        if (rc != NEGOEX_ERR_SCHEME_FAILED)
            fail_msg("bad token %zu gave %d", i, rc);
        assert_int_equal(out.len, 0);
        assert_int_equal(c, 0);
    }
    /* what negoextest alone would take (it reads only the last byte) */
    static const uint8_t bare[] = {0x66, 0x00};
    assert_int_equal(step(acc, 0, bare, sizeof bare, &out, &c), NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(step(acc, 0, (const uint8_t *)"fail", 4, &out, &c), NEGOEX_ERR_SCHEME_FAILED);

    /* nothing stuck: the good token completes */
    expect_keys(acc, 0, 0);
    assert_int_equal(step(acc, 0, good, sizeof good, &out, &c), 0);
    assert_int_equal(out.len, 0);
    assert_int_equal(c, 1);
    expect_keys(acc, 0, 1);
    destroy(acc);
}

/* ------------------------------------------------------------------------ */
/* reset, clone, allocator                                                    */
/* ------------------------------------------------------------------------ */

typedef struct tokens {
    uint8_t data[16][16];
    size_t len[16];
    size_t count;
} tokens;

static void run_pair(negoex_scheme *ini, negoex_scheme *acc, tokens *out)
{
    memset(out, 0, sizeof *out);
    negoex_buf t;
    int c = 0;
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    for (int side = 0; t.len > 0; side ^= 1) {
        assert_true(out->count < 16 && t.len <= 16);
        memcpy(out->data[out->count], t.data, t.len);
        out->len[out->count++] = t.len;
        negoex_buf r;
        negoex_scheme *s = side == 0 ? acc : ini;
        assert_int_equal(step(s, side == 1, t.data, t.len, &r, &c), 0);
        negoex_buf_free(&t);
        t = r;
    }
    negoex_buf_free(&t);
}

static void test_reset(void **state)
{
    (void)state;
    negoex_scheme *ini = make(NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ESTABLISHED);
    tokens first, second;
    run_pair(ini, acc, &first);
    assert_int_equal(first.count, 3);
    expect_keys(ini, 1, 1);
    expect_keys(acc, 0, 1);

    ini->cls->reset(ini);
    acc->cls->reset(acc);
    /* keys go with completion */
    expect_keys(ini, 1, 0);
    expect_keys(acc, 0, 0);
    run_pair(ini, acc, &second);
    assert_int_equal(second.count, first.count);
    for (size_t i = 0; i < first.count; i++) {
        assert_int_equal(second.len[i], first.len[i]);
        assert_memory_equal(second.data[i], first.data[i], first.len[i]);
    }

    /* mid-way (the abandoned optimistic attempt): the first token comes again */
    ini->cls->reset(ini);
    negoex_buf t;
    int c = 0;
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    negoex_buf_free(&t);
    ini->cls->reset(ini);
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    assert_int_equal(t.len, first.len[0]);
    assert_memory_equal(t.data, first.data[0], t.len);
    assert_int_equal(c, 0);
    negoex_buf_free(&t);

    /* a failure is part of the attempt too */
    ini->cls->reset(ini);
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    negoex_buf_free(&t);
    assert_int_equal(step(ini, 1, (const uint8_t *)"fail", 4, &t, &c), NEGOEX_ERR_SCHEME_FAILED);
    ini->cls->reset(ini);
    assert_int_equal(step(ini, 1, NULL, 0, &t, &c), 0);
    assert_memory_equal(t.data, first.data[0], t.len);
    negoex_buf_free(&t);
    destroy(ini);
    destroy(acc);

    /* the role is the side's, not the attempt's: learnt from metadata, it stays */
    negoex_scheme *early = make(NEGOEX_TEST_MECH1_OID, 2, NEGOEX_TEST_KEY_ALWAYS);
    negoex_buf meta;
    negoex_buf_init(&meta, NULL);
    assert_int_equal(early->cls->query_meta_data(early, 1, &meta), 0);
    negoex_buf_free(&meta);
    expect_keys(early, 1, 1);
    early->cls->reset(early);
    expect_keys(early, 1, 1);
    assert_int_equal(step(early, 0, first.data[0], first.len[0], &t, &c), NEGOEX_ERR_INVALID_ARGUMENT);
    destroy(early);
}

static void test_clone(void **state)
{
    (void)state;
    negoex_scheme *ini = make(NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_scheme *acc = make(NEGOEX_TEST_MECH1_OID, 3, NEGOEX_TEST_KEY_ESTABLISHED);
    negoex_buf t1, r1, a, b;
    int c = 0;
    assert_int_equal(step(ini, 1, NULL, 0, &t1, &c), 0);
    assert_int_equal(step(acc, 0, t1.data, t1.len, &r1, &c), 0);
    assert_int_equal(r1.len, 1);
    assert_int_equal(r1.data[0], 1);
    negoex_buf_free(&t1);

    negoex_scheme *copy = NULL;
    assert_int_equal(ini->cls->clone(ini, &copy), 0);
    assert_non_null(copy);
    assert_ptr_not_equal(copy, ini);
    assert_ptr_equal(copy->cls, ini->cls);
    assert_true(negoex_guid_equal(&copy->auth_scheme, &ini->auth_scheme));

    /* the clone completes; the original does not move */
    assert_int_equal(step(copy, 1, r1.data, r1.len, &a, &c), 0);
    assert_int_equal(c, 1);
    expect_keys(copy, 1, 1);
    expect_keys(ini, 1, 0);
    /* and can then take the same token, with the same answer */
    assert_int_equal(step(ini, 1, r1.data, r1.len, &b, &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
    assert_int_equal(a.data[a.len - 1], 0);
    /* the clone is done even if the original is reset */
    ini->cls->reset(ini);
    assert_int_equal(step(copy, 1, r1.data, r1.len, &t1, &c), NEGOEX_ERR_SCHEME_FAILED);
    negoex_buf_free(&t1);

    /* a clone of an acceptor that is mid-exchange works too */
    negoex_scheme *acopy = NULL;
    assert_int_equal(acc->cls->clone(acc, &acopy), 0);
    assert_int_equal(step(acopy, 0, a.data, a.len, &t1, &c), 0);
    assert_int_equal(c, 1);
    assert_int_equal(t1.len, 0);
    expect_keys(acopy, 0, 1);
    expect_keys(acc, 0, 0);

    assert_int_equal(ini->cls->clone(ini, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_buf_free(&t1);

    negoex_buf_free(&r1);
    negoex_buf_free(&a);
    negoex_buf_free(&b);
    destroy(copy);
    destroy(acopy);
    destroy(ini);
    destroy(acc);
}

typedef struct counting {
    size_t allocs, frees, live;
    int fail; /* next alloc returns NULL */
    int saw_unwiped;
    struct {
        void *p;
        size_t size;
    } blocks[8];
} counting;

static void *c_alloc(size_t size, void *ud)
{
    counting *k = ud;
    if (k->fail)
        return NULL;
    void *p = malloc(size);
    if (p == NULL)
        return NULL;
    for (size_t i = 0; i < 8; i++) {
        if (k->blocks[i].p == NULL) {
            k->blocks[i].p = p;
            k->blocks[i].size = size;
            break;
        }
    }
    k->allocs++;
    k->live++;
    return p;
}

static void *c_realloc(void *p, size_t size, void *ud)
{
    (void)p;
    (void)size;
    (void)ud;
    fail_msg("the scheme does not need realloc");
    return NULL;
}

static void c_free(void *p, void *ud)
{
    counting *k = ud;
    for (size_t i = 0; i < 8; i++) {
        if (k->blocks[i].p == p) {
            const uint8_t *b = p;
            for (size_t j = 0; j < k->blocks[i].size; j++)
                if (b[j] != 0)
                    k->saw_unwiped = 1;
            k->blocks[i].p = NULL;
            break;
        }
    }
    k->frees++;
    k->live--;
    free(p);
}

static void test_allocator(void **state)
{
    (void)state;
    counting k;
    memset(&k, 0, sizeof k);
    negoex_allocator al = {c_alloc, c_realloc, c_free, &k};
    negoex_test_scheme_config cfg;
    negoex_test_scheme_config_init(&cfg);
    cfg.hops = 2;

    negoex_scheme *s = NULL;
    {
        /* the scheme keeps its own copy of the allocator */
        negoex_allocator tmp = al;
        assert_int_equal(negoex_test_scheme_new(&s, &cfg, &tmp), 0);
        memset(&tmp, 0, sizeof tmp);
    }
    assert_int_equal(k.allocs, 1);
    negoex_buf t;
    int c = 0;
    assert_int_equal(step(s, 1, NULL, 0, &t, &c), 0);
    negoex_buf_free(&t);

    negoex_scheme *copy = NULL;
    assert_int_equal(s->cls->clone(s, &copy), 0);
    assert_int_equal(k.allocs, 2);
    assert_int_equal(k.live, 2);

    /* out of memory: clear errors, nothing leaked, output untouched */
    k.fail = 1;
    negoex_scheme *none = (negoex_scheme *)&k;
    assert_int_equal(s->cls->clone(s, &none), NEGOEX_ERR_NO_MEMORY);
    assert_ptr_equal(none, (negoex_scheme *)&k);
    assert_int_equal(negoex_test_scheme_new(&none, &cfg, &al), NEGOEX_ERR_NO_MEMORY);
    assert_null(none);
    k.fail = 0;
    assert_int_equal(k.live, 2);

    destroy(copy);
    destroy(s);
    assert_int_equal(k.allocs, 2);
    assert_int_equal(k.frees, 2);
    assert_int_equal(k.live, 0);
    /* destroy wiped each block before handing it back */
    assert_int_equal(k.saw_unwiped, 0);

    /* an allocator must have all three functions */
    negoex_allocator partial = {c_alloc, NULL, c_free, &k};
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, &partial), NEGOEX_ERR_INVALID_ARGUMENT);
    partial = (negoex_allocator){c_alloc, c_realloc, NULL, &k};
    assert_int_equal(negoex_test_scheme_new(&s, &cfg, &partial), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(k.allocs, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oid_encode_good),
        cmocka_unit_test(test_oid_encode_bad),
        cmocka_unit_test(test_key_mode_parse),
        cmocka_unit_test(test_config_defaults),
        cmocka_unit_test(test_class_and_guids),
        cmocka_unit_test(test_new_rejects),
        cmocka_unit_test(test_meta_data),
        cmocka_unit_test(test_hops_1_mit_01),
        cmocka_unit_test(test_hops_2_mit_02),
        cmocka_unit_test(test_hops_3_mit_03),
        cmocka_unit_test(test_hops_4_mit_04),
        cmocka_unit_test(test_hops_5_mit_20),
        cmocka_unit_test(test_key_timing_per_mode),
        cmocka_unit_test(test_key_role_from_step),
        cmocka_unit_test(test_keys_recompute_mit_verifies),
        cmocka_unit_test(test_acceptor_fail_token),
        cmocka_unit_test(test_initiator_fail_step),
        cmocka_unit_test(test_step_errors),
        cmocka_unit_test(test_malformed_initiator_tokens),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_clone),
        cmocka_unit_test(test_allocator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
