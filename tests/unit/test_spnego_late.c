/*
 * MS-SPNG rev 21.0 additions in the SPNEGO codec: Late Fallback (its OID,
 * NegTokenResp supportedMechs [4], the mechListMIC input) and token
 * fragmentation (header, splitter, reassembler). Expected bytes are derived
 * by hand in the comments; choices are in docs/spnego-late-fallback.md.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "negoex/negoex.h"
#include "negoex/spnego.h"

#define K_INIT NEGOEX_SPNEGO_NEG_TOKEN_INIT
#define K_RESP NEGOEX_SPNEGO_NEG_TOKEN_RESP
#define LF NEGOEX_SPNEGO_PARSE_LATE_FALLBACK

#define HX_NEGOEX "2b06010401823702021e"
#define HX_LATE "2b060104018237020228"
#define HX_KRB "2a864886f712010202"
#define HX_NTLM "2b06010401823702020a"

/* Hex (spaces ignored) into buf; returns the length. */
static size_t unhex(const char *hex, uint8_t *buf, size_t cap)
{
    size_t n = 0;
    int hi = -1;
    for (const char *p = hex; *p; p++) {
        int v;
        if (*p == ' ')
            continue;
        v = (*p >= '0' && *p <= '9') ? *p - '0' : (*p >= 'a' && *p <= 'f') ? *p - 'a' + 10 : -1;
        assert_true(v >= 0);
        if (hi < 0) {
            hi = v;
        } else {
            assert_true(n < cap);
            buf[n++] = (uint8_t)(hi << 4 | v);
            hi = -1;
        }
    }
    assert_true(hi < 0);
    return n;
}

static negoex_bytes oid(const char *hex, uint8_t *store)
{
    negoex_bytes b = {store, unhex(hex, store, 16)};
    return b;
}

static void expect_err(int rc, const negoex_error_info *e, int code, size_t offset, const char *field)
{
    assert_int_equal(rc, code);
    assert_int_equal(e->code, code);
    assert_int_equal(e->offset, offset);
    assert_non_null(e->field);
    assert_string_equal(e->field, field);
}

/* ------------------------------------------------------------------------ */
/* OIDs (MS-SPNG 3.1.5.3, 3.1.5.4)                                           */
/* ------------------------------------------------------------------------ */

static void test_oids(void **state)
{
    (void)state;
    char text[64];
    assert_int_equal(negoex_oid_to_text(NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER, NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN,
                                        text, sizeof text, NULL),
                     NEGOEX_OK);
    assert_string_equal(text, NEGOEX_SPNEGO_LATE_FALLBACK_OID_TEXT);
    assert_string_equal(text, "1.3.6.1.4.1.311.2.2.40");
    assert_string_equal(negoex_oid_name(NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER, NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN),
                        "Negotiate-Late-Fallback");
    assert_int_equal(negoex_oid_to_text(NEGOEX_SPNEGO_IAKERB_OID_DER, NEGOEX_SPNEGO_IAKERB_OID_DER_LEN, text,
                                        sizeof text, NULL),
                     NEGOEX_OK);
    assert_string_equal(text, "1.3.6.1.5.2.5");
    assert_string_equal(negoex_oid_name(NEGOEX_SPNEGO_IAKERB_OID_DER, NEGOEX_SPNEGO_IAKERB_OID_DER_LEN), "IAKerb");
}

/* ------------------------------------------------------------------------ */
/* supportedMechs [4]                                                         */
/* ------------------------------------------------------------------------ */

/*
 * NegTokenResp { negState accept-incomplete, supportedMech NEGOEX,
 * responseToken 0102, mechListMIC abcd, supportedMechs {Kerberos, NTLM} }:
 *   a0 03 0a 01 01                          5
 *   a1 0c 06 0a <NEGOEX>                   14
 *   a2 04 04 02 01 02                       6
 *   a3 04 04 02 ab cd                       6
 *   a4 19 30 17 06 09 <KRB> 06 0a <NTLM>   27   (list content 11 + 12 = 23 = 0x17)
 * SEQUENCE content 58 = 0x3a; a1 3c 30 3a ...: 62 bytes.
 */
#define RESP_LF                                                                                                    \
    "a13c303a"                                                                                                     \
    "a0030a0101"                                                                                                   \
    "a10c060a" HX_NEGOEX "a204040201 02"                                                                           \
    "a3040402abcd"                                                                                                 \
    "a4193017" "0609" HX_KRB "060a" HX_NTLM
#define RESP_LF_AT_A4 35   /* offset of the a4 field */
#define RESP_LF_LEN 62

static void test_supported_mechs_roundtrip(void **state)
{
    (void)state;
    uint8_t tok[128], out[128], s1[16], s2[16], s3[16];
    size_t len = unhex(RESP_LF, tok, sizeof tok), got = 0;
    negoex_spnego_token t;
    negoex_error_info e = {0, 0, NULL};
    assert_int_equal(len, RESP_LF_LEN);
    assert_int_equal(tok[RESP_LF_AT_A4], 0xa4);

    assert_int_equal(negoex_spnego_parse_ex(tok, len, LF, &t, &e), NEGOEX_OK);
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE);
    assert_int_equal(t.supported_mech_count, 2);
    assert_ptr_equal(t.supported_mechs.data, tok + RESP_LF_AT_A4 + 2);
    assert_int_equal(t.supported_mechs.len, 25);
    assert_int_equal(t.mech_list_mic.len, 2);

    negoex_spnego_mech_iter it;
    negoex_bytes o;
    assert_int_equal(negoex_spnego_mech_list_iter_init(&it, &t.supported_mechs), NEGOEX_OK);
    assert_int_equal(negoex_spnego_mech_iter_next(&it, &o), 1);
    assert_string_equal(negoex_oid_name(o.data, o.len), "Kerberos");
    assert_int_equal(negoex_spnego_mech_iter_next(&it, &o), 1);
    assert_string_equal(negoex_oid_name(o.data, o.len), "NTLM");
    assert_int_equal(negoex_spnego_mech_iter_next(&it, &o), 0);
    assert_int_equal(negoex_spnego_mech_list_iter_init(&it, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    /* Without Late Fallback the [4] is an unknown field, as in RFC 4178. */
    expect_err(negoex_spnego_parse(tok, len, &t, &e), &e, NEGOEX_ERR_DER_TAG, RESP_LF_AT_A4, "NegTokenResp");
    assert_int_equal(negoex_spnego_parse_ex(tok, len, 0x2, &t, NULL), NEGOEX_ERR_INVALID_ARGUMENT);

    /* Rebuilt from fields: the same bytes. */
    negoex_spnego_fields f;
    negoex_bytes list[2] = {oid(HX_KRB, s1), oid(HX_NTLM, s2)};
    negoex_spnego_fields_init(&f, K_RESP);
    f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    f.supported_mech = oid(HX_NEGOEX, s3);
    f.response_token = (negoex_bytes){(const uint8_t *)"\x01\x02", 2};
    f.mech_list_mic = (negoex_bytes){(const uint8_t *)"\xab\xcd", 2};
    f.supported_mechs = list;
    f.supported_mech_count = 2;
    assert_int_equal(negoex_spnego_write(NULL, 0, &got, &f), NEGOEX_OK);
    assert_int_equal(got, len);
    assert_int_equal(negoex_spnego_write(out, len - 1, &got, &f), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_OK);
    assert_int_equal(got, len);
    assert_memory_equal(out, tok, len);

    /* supportedMechs alone: a1 0f 30 0d a4 0b 30 09 06 07 ... no: one OID. */
    negoex_spnego_fields_init(&f, K_RESP);
    f.supported_mechs = list;
    f.supported_mech_count = 1;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_OK);
    uint8_t want[32];
    size_t wl = unhex("a111300fa40d300b0609" HX_KRB, want, sizeof want);
    assert_int_equal(got, wl);
    assert_memory_equal(out, want, wl);
    assert_int_equal(negoex_spnego_parse_ex(out, got, LF, &t, NULL), NEGOEX_OK);
    assert_int_equal(t.supported_mech_count, 1);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ABSENT);

    /* Framed NegTokenResp too (the codec allows a1 inside the framing). */
    f.framed = 1;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_OK);
    assert_int_equal(negoex_spnego_parse_ex(out, got, LF, &t, NULL), NEGOEX_OK);
    assert_true(t.framed);
    assert_int_equal(t.supported_mech_count, 1);
}

static void test_supported_mechs_writer_args(void **state)
{
    (void)state;
    uint8_t s1[16], s2[16], out[64];
    size_t got;
    negoex_bytes list[1] = {oid(HX_KRB, s1)};
    negoex_bytes bad[1] = {{(const uint8_t *)"\x2b\x80", 2}};
    negoex_spnego_fields f;

    negoex_spnego_fields_init(&f, K_RESP);
    f.supported_mechs = list; /* count 0 */
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_ERR_INVALID_ARGUMENT);
    f.supported_mechs = NULL;
    f.supported_mech_count = 1;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_ERR_INVALID_ARGUMENT);
    f.supported_mechs = bad;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_ERR_INVALID_ARGUMENT);
    /* Only a NegTokenResp carries it. */
    negoex_bytes mt[1] = {oid(HX_NEGOEX, s2)};
    negoex_spnego_fields_init(&f, K_INIT);
    f.mech_types = mt;
    f.mech_type_count = 1;
    f.supported_mechs = list;
    f.supported_mech_count = 1;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* Every proper prefix fails at the outer element (offset 0); a length inside
 * that claims one byte too many fails at that element's TLV. */
static void test_supported_mechs_truncated(void **state)
{
    (void)state;
    uint8_t tok[128], cut[128];
    size_t len = unhex(RESP_LF, tok, sizeof tok);
    negoex_spnego_token t;
    negoex_error_info e;
    for (size_t n = 1; n < len; n++) {
        memcpy(cut, tok, n);
        expect_err(negoex_spnego_parse_ex(cut, n, LF, &t, &e), &e, NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    }
    /* a4 19 -> a4 1a: the field runs past the SEQUENCE. */
    memcpy(cut, tok, len);
    cut[RESP_LF_AT_A4 + 1]++;
    expect_err(negoex_spnego_parse_ex(cut, len, LF, &t, &e), &e, NEGOEX_ERR_DER_TRUNCATED, RESP_LF_AT_A4,
               "supportedMechs");
    /* 30 17 -> 30 18: the list runs past [4]. */
    memcpy(cut, tok, len);
    cut[RESP_LF_AT_A4 + 3]++;
    expect_err(negoex_spnego_parse_ex(cut, len, LF, &t, &e), &e, NEGOEX_ERR_DER_TRUNCATED, RESP_LF_AT_A4 + 2,
               "supportedMechs");
    /* the NTLM OID's 06 0a -> 06 0b: runs past the list. */
    memcpy(cut, tok, len);
    cut[RESP_LF_AT_A4 + 4 + 11 + 1]++;
    expect_err(negoex_spnego_parse_ex(cut, len, LF, &t, &e), &e, NEGOEX_ERR_DER_TRUNCATED, RESP_LF_AT_A4 + 4 + 11,
               "supportedMechs");
}

/* A NegTokenResp "a1 L 30 L' a0030a0102 <field>": the field starts at 9. */
static int resp_with(const char *field_hex, uint8_t *buf, size_t cap, size_t *len)
{
    uint8_t f[64];
    size_t fl = unhex(field_hex, f, sizeof f);
    size_t seq = 5 + fl;
    assert_true(seq < 0x80 - 2 && 4 + seq <= cap);
    buf[0] = 0xa1;
    buf[1] = (uint8_t)(seq + 2);
    buf[2] = 0x30;
    buf[3] = (uint8_t)seq;
    unhex("a0030a0102", buf + 4, 5);
    memcpy(buf + 9, f, fl);
    *len = 4 + seq;
    return negoex_spnego_parse_ex(buf, *len, LF, &(negoex_spnego_token){0}, NULL);
}

static void test_supported_mechs_refused(void **state)
{
    (void)state;
    static const struct {
        const char *field;
        int code;
        size_t offset;
        const char *name;
    } cases[] = {
        {"a4020400", NEGOEX_ERR_DER_TAG, 11, "supportedMechs"},           /* OCTET STRING, not a list */
        {"a4023000", NEGOEX_ERR_DER_VALUE, 11, "supportedMechs"},         /* empty list */
        {"a40430020400", NEGOEX_ERR_DER_TAG, 13, "supportedMechs"},       /* element not an OID */
        {"a4053003060180", NEGOEX_ERR_DER_VALUE, 13, "supportedMechs"},   /* invalid OID */
        {"a406300306012a", NEGOEX_ERR_DER_TRUNCATED, 9, "supportedMechs"},  /* [4] runs past the SEQUENCE */
        {"a405300306012a00", NEGOEX_ERR_DER_TRAILING, 16, "NegTokenResp"},  /* junk after the fields */
        {"a40630030601 2a00", NEGOEX_ERR_DER_TRAILING, 16, "supportedMechs"}, /* junk after the list */
        {"8403300106", NEGOEX_ERR_DER_TAG, 9, "supportedMechs"},          /* primitive [4] */
        {"a4053003 06012a" "a4053003 06012a", NEGOEX_ERR_DER_TAG, 16, "supportedMechs"}, /* [4] twice */
        {"a4053003 06012a" "a3020400", NEGOEX_ERR_DER_TAG, 16, "mechListMIC"}, /* MIC after [4] */
        {"a4053003 06012a" "a5020400", NEGOEX_ERR_DER_TAG, 16, "NegTokenResp"}, /* unknown [5] */
        {"a48005", NEGOEX_ERR_DER_LENGTH, 10, "supportedMechs"},          /* indefinite length */
    };
    uint8_t buf[64];
    size_t len;
    negoex_spnego_token t, before;
    negoex_error_info e;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        (void)resp_with(cases[i].field, buf, sizeof buf, &len);
        memset(&t, 0x5a, sizeof t);
        before = t;
        int rc = negoex_spnego_parse_ex(buf, len, LF, &t, &e);
        if (rc != cases[i].code || e.offset != cases[i].offset || strcmp(e.field, cases[i].name) != 0)
            fail_msg("case %zu (%s): rc %d offset %zu field %s", i, cases[i].field, rc, e.offset,
                     e.field ? e.field : "(null)");
        /* *out untouched on failure */
        assert_memory_equal(&t, &before, sizeof t);
    }
    /* 06 01 2a is 1.2: a valid one-OID list */
    assert_int_equal(resp_with("a403300106" "", buf, sizeof buf, &len), NEGOEX_ERR_DER_TRUNCATED);
    assert_int_equal(resp_with("a4053003 06012a", buf, sizeof buf, &len), NEGOEX_OK);
    /* In a NegTokenInit, [4] stays NegTokenInit2's mechListMIC, flag or not. */
    uint8_t init[64];
    size_t il = unhex("a0153013 a00d300b0609" HX_KRB "a4020400", init, sizeof init);
    assert_int_equal(negoex_spnego_parse_ex(init, il, LF, &t, &e), NEGOEX_OK);
    assert_int_equal(t.kind, NEGOEX_SPNEGO_NEG_TOKEN_INIT2);
    assert_null(t.supported_mechs.data);
    assert_non_null(t.mech_list_mic.data);
}

/* ------------------------------------------------------------------------ */
/* Late Fallback mechListMIC input (MS-SPNG 3.1.5.1)                          */
/* ------------------------------------------------------------------------ */

/*
 * mechTypes {NEGOEX, Late Fallback}: 30 18 06 0a <NEGOEX> 06 0a <LATE>  (26 bytes)
 * supportedMechs {Kerberos}:         30 0b 06 09 <KRB>                   (13 bytes)
 * input = 30 2b  a0 1a <mechTypes>  a4 0d <supportedMechs>: 2 + 28 + 15 = 45 bytes.
 */
#define LIST_A "3018060a" HX_NEGOEX "060a" HX_LATE
#define LIST_B "300b0609" HX_KRB
#define MIC_INPUT "302b" "a01a" LIST_A "a40d" LIST_B

static void test_mic_input_hand_example(void **state)
{
    (void)state;
    uint8_t a[64], b[64], want[128], out[128];
    size_t al = unhex(LIST_A, a, sizeof a), bl = unhex(LIST_B, b, sizeof b), wl = unhex(MIC_INPUT, want, sizeof want);
    negoex_spnego_sent_list lists[2] = {{NEGOEX_SPNEGO_LIST_MECH_TYPES, {a, al}},
                                        {NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, {b, bl}}};
    size_t got = 0;
    assert_int_equal(al, 26);
    assert_int_equal(bl, 13);
    assert_int_equal(wl, 45);
    assert_int_equal(negoex_spnego_late_fallback_mic_input(NULL, 0, &got, lists, 2), NEGOEX_OK);
    assert_int_equal(got, wl);
    assert_int_equal(negoex_spnego_late_fallback_mic_input(out, wl - 1, &got, lists, 2), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(got, wl);
    assert_int_equal(negoex_spnego_late_fallback_mic_input(out, sizeof out, &got, lists, 2), NEGOEX_OK);
    assert_int_equal(got, wl);
    assert_memory_equal(out, want, wl);

    /* Order matters: the other order is other bytes. */
    negoex_spnego_sent_list swapped[2] = {lists[1], lists[0]};
    assert_int_equal(negoex_spnego_late_fallback_mic_input(out, sizeof out, &got, swapped, 2), NEGOEX_OK);
    assert_int_equal(got, wl);
    assert_memory_not_equal(out, want, wl);
    /* So does the field a list went in. */
    negoex_spnego_sent_list moved[2] = {lists[0], {NEGOEX_SPNEGO_LIST_MECH_TYPES, {b, bl}}};
    assert_int_equal(negoex_spnego_late_fallback_mic_input(out, sizeof out, &got, moved, 2), NEGOEX_OK);
    assert_memory_not_equal(out, want, wl);

    /* Refused: no list, a bad field, not a MechTypeList, junk after it, empty list. */
    uint8_t junk[64];
    memcpy(junk, b, bl);
    junk[bl] = 0;
    negoex_spnego_sent_list bad[] = {{1, {a, al}},
                                     {NEGOEX_SPNEGO_LIST_MECH_TYPES, {b + 2, bl - 2}},
                                     {NEGOEX_SPNEGO_LIST_MECH_TYPES, {junk, bl + 1}},
                                     {NEGOEX_SPNEGO_LIST_MECH_TYPES, {(const uint8_t *)"\x30\x00", 2}},
                                     {NEGOEX_SPNEGO_LIST_MECH_TYPES, {NULL, 0}}};
    assert_int_equal(negoex_spnego_late_fallback_mic_input(out, sizeof out, &got, lists, 0),
                     NEGOEX_ERR_INVALID_ARGUMENT);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(negoex_spnego_late_fallback_mic_input(out, sizeof out, &got, &bad[i], 1),
                         NEGOEX_ERR_INVALID_ARGUMENT);
}

/*
 * Both ways through the codec: the initiator offers NEGOEX and Late Fallback
 * (3.1.5.4), the acceptor answers with its supportedMechs; each side builds
 * the MIC input from what it sent and what it parsed, and they agree.
 */
static void test_both_ways(void **state)
{
    (void)state;
    uint8_t s1[16], s2[16], s3[16], s4[16], init_tok[128], resp_tok[128];
    size_t il, rl;
    negoex_bytes offer[2] = {oid(HX_NEGOEX, s1), {NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER, NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN}};
    negoex_bytes acc[2] = {oid(HX_KRB, s2), oid(HX_NTLM, s3)};
    negoex_spnego_fields f;

    negoex_spnego_fields_init(&f, K_INIT);
    f.framed = 1;
    f.mech_types = offer;
    f.mech_type_count = 2;
    assert_int_equal(negoex_spnego_write(init_tok, sizeof init_tok, &il, &f), NEGOEX_OK);

    /* Acceptor: reads the offer, sees Late Fallback, answers. */
    negoex_spnego_token ti, tr;
    assert_int_equal(negoex_spnego_parse(init_tok, il, &ti, NULL), NEGOEX_OK);
    negoex_bytes second;
    assert_int_equal(negoex_spnego_mech_type(&ti, 1, &second), NEGOEX_OK);
    assert_string_equal(negoex_oid_name(second.data, second.len), "Negotiate-Late-Fallback");
    negoex_spnego_fields_init(&f, K_RESP);
    f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    f.supported_mech = oid(HX_NEGOEX, s4);
    f.supported_mechs = acc;
    f.supported_mech_count = 2;
    assert_int_equal(negoex_spnego_write(resp_tok, sizeof resp_tok, &rl, &f), NEGOEX_OK);

    /* Initiator: reads it with Late Fallback on. */
    assert_int_equal(negoex_spnego_parse_ex(resp_tok, rl, LF, &tr, NULL), NEGOEX_OK);
    assert_int_equal(tr.supported_mech_count, 2);

    /* Initiator's view: its own list as written, the acceptor's as parsed. */
    uint8_t mine[64], in_i[160], in_a[160];
    size_t ml, li, la;
    assert_int_equal(negoex_spnego_write_mech_list(mine, sizeof mine, &ml, offer, 2), NEGOEX_OK);
    negoex_spnego_sent_list vi[2] = {{NEGOEX_SPNEGO_LIST_MECH_TYPES, {mine, ml}},
                                     {NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, tr.supported_mechs}};
    assert_int_equal(negoex_spnego_late_fallback_mic_input(in_i, sizeof in_i, &li, vi, 2), NEGOEX_OK);
    /* Acceptor's view: the offer as parsed, its own list as written. */
    uint8_t theirs[64];
    size_t tl;
    assert_int_equal(negoex_spnego_write_mech_list(theirs, sizeof theirs, &tl, acc, 2), NEGOEX_OK);
    negoex_spnego_sent_list va[2] = {{NEGOEX_SPNEGO_LIST_MECH_TYPES, ti.mech_types},
                                     {NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, {theirs, tl}}};
    assert_int_equal(negoex_spnego_late_fallback_mic_input(in_a, sizeof in_a, &la, va, 2), NEGOEX_OK);
    assert_int_equal(li, la);
    assert_memory_equal(in_i, in_a, li);
    /* and it is the hand-derived shape: 30 L a0 .. <mechTypes> a4 .. <supportedMechs> */
    assert_int_equal(in_i[0], 0x30);
    assert_int_equal(in_i[2], 0xa0);
    assert_int_equal(in_i[2 + 2 + ml], 0xa4);
}

/* ------------------------------------------------------------------------ */
/* Fragments (MS-SPNG 3.1.5.6-3.1.5.11)                                      */
/* ------------------------------------------------------------------------ */

static void test_fragment_header(void **state)
{
    (void)state;
    static const struct {
        const char *hex;
        int rc;
        size_t offset_or_hdr;
        size_t token_len;
        const char *field;
    } cases[] = {
        {"60 82 01 5d 06 06", NEGOEX_OK, 4, 0x15d + 4, NULL},   /* MS-SPNG section 4's example */
        {"a1 05", NEGOEX_OK, 2, 7, NULL},
        {"a0 81 80", NEGOEX_OK, 3, 0x80 + 3, NULL},
        {"a1 84 01 00 00 00", NEGOEX_OK, 6, 0x1000000 + 6, NULL},
        {"30 05", NEGOEX_ERR_DER_TAG, 0, 0, "NegotiationToken"},
        {"a1", NEGOEX_ERR_DER_TRUNCATED, 0, 0, "NegotiationToken"},
        {"60", NEGOEX_ERR_DER_TRUNCATED, 0, 0, "InitialContextToken"},
        {"a1 80", NEGOEX_ERR_DER_LENGTH, 1, 0, "NegotiationToken"},
        {"a1 85 01 00 00 00 00", NEGOEX_ERR_DER_LENGTH, 1, 0, "NegotiationToken"},
        {"a1 81 7f", NEGOEX_ERR_DER_LENGTH, 1, 0, "NegotiationToken"},
        {"a1 82 00 80", NEGOEX_ERR_DER_LENGTH, 1, 0, "NegotiationToken"},
        {"a1 82 01", NEGOEX_ERR_DER_TRUNCATED, 0, 0, "NegotiationToken"},
    };
    uint8_t buf[16];
    negoex_spnego_fragment_header h;
    negoex_error_info e;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = unhex(cases[i].hex, buf, sizeof buf);
        int rc = negoex_spnego_fragment_parse(buf, n, &h, &e);
        assert_int_equal(rc, cases[i].rc);
        if (rc == NEGOEX_OK) {
            assert_int_equal(h.tag, buf[0]);
            assert_int_equal(h.header_len, cases[i].offset_or_hdr);
            assert_int_equal(h.token_len, cases[i].token_len);
        } else {
            expect_err(rc, &e, cases[i].rc, cases[i].offset_or_hdr, cases[i].field);
        }
    }
    expect_err(negoex_spnego_fragment_parse(buf, 0, &h, &e), &e, NEGOEX_ERR_EMPTY_TOKEN, 0, "fragment");
}

/* A ~300-byte NegTokenResp with supportedMechs, for cutting. */
static size_t big_token(uint8_t *buf, size_t cap)
{
    static uint8_t body[260];
    uint8_t s1[16], s2[16];
    negoex_bytes list[2] = {oid(HX_KRB, s1), oid(HX_LATE, s2)};
    negoex_spnego_fields f;
    size_t n;
    for (size_t i = 0; i < sizeof body; i++)
        body[i] = (uint8_t)(i * 7 + 3);
    negoex_spnego_fields_init(&f, K_RESP);
    f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    f.response_token = (negoex_bytes){body, sizeof body};
    f.mech_list_mic = (negoex_bytes){body, 12};
    f.supported_mechs = list;
    f.supported_mech_count = 2;
    assert_int_equal(negoex_spnego_write(buf, cap, &n, &f), NEGOEX_OK);
    return n;
}

static void test_split_reassemble_identity(void **state)
{
    (void)state;
    uint8_t tok[512], buf[512];
    size_t len = big_token(tok, sizeof tok), count;
    negoex_bytes frag, whole;
    negoex_spnego_reassembler r;
    negoex_error_info e;

    /* 3.1.5.6: MaxOutputTokenSize must be greater than 5. */
    for (size_t max = 0; max < NEGOEX_SPNEGO_FRAGMENT_MIN_SEND; max++)
        assert_int_equal(negoex_spnego_fragment_split(tok, len, max, &count), NEGOEX_ERR_INVALID_ARGUMENT);
    /* Only whole tokens. */
    assert_int_equal(negoex_spnego_fragment_split(tok, len - 1, 64, &count), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_fragment_split(tok + 1, len - 1, 64, &count), NEGOEX_ERR_INVALID_ARGUMENT);

    size_t sizes = 0;
    for (size_t max = NEGOEX_SPNEGO_FRAGMENT_MIN_SEND; max <= len + 1; max++) {
        assert_int_equal(negoex_spnego_fragment_split(tok, len, max, &count), NEGOEX_OK);
        assert_int_equal(count, (len + max - 1) / max);
        assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
        r.max_fragments = count;
        r.parse_flags = LF;
        size_t at = 0;
        for (size_t i = 0; i < count; i++) {
            assert_int_equal(negoex_spnego_fragment_get(tok, len, max, i, &frag), NEGOEX_OK);
            assert_ptr_equal(frag.data, tok + at);
            assert_int_equal(frag.len, i + 1 < count ? max : len - at);
            at += frag.len;
            int rc = negoex_spnego_reassembler_feed(&r, frag.data, frag.len, &whole, &e);
            assert_int_equal(rc, i + 1 < count ? NEGOEX_CONTINUE : NEGOEX_COMPLETE);
        }
        assert_int_equal(negoex_spnego_fragment_get(tok, len, max, count, &frag), NEGOEX_ERR_INDEX_RANGE);
        assert_int_equal(whole.len, len);
        assert_ptr_equal(whole.data, buf);
        assert_memory_equal(whole.data, tok, len);
        sizes++;
    }
    assert_int_equal(sizes, len + 2 - NEGOEX_SPNEGO_FRAGMENT_MIN_SEND);

    /* A peer may send 5-byte fragments (3.1.1: "at least 5 bytes"). */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.max_fragments = SIZE_MAX;
    r.parse_flags = LF;
    int rc = NEGOEX_CONTINUE;
    for (size_t at = 0; at < len; at += 5)
        rc = negoex_spnego_reassembler_feed(&r, tok + at, len - at < 5 ? len - at : 5, &whole, &e);
    assert_int_equal(rc, NEGOEX_COMPLETE);
    assert_memory_equal(whole.data, tok, len);
    /* but not 4 */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    expect_err(negoex_spnego_reassembler_feed(&r, tok, 4, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_INCONSISTENT, 4,
               "fragment size");
}

/* The state that must not move on a rejection. */
typedef struct snap {
    negoex_spnego_reassembler r;
    uint8_t have[512];
} snap;

static void take(snap *s, const negoex_spnego_reassembler *r)
{
    s->r = *r;
    memcpy(s->have, r->buf, r->have);
}

static void same(const snap *s, const negoex_spnego_reassembler *r)
{
    assert_memory_equal(&s->r, r, sizeof *r);
    assert_memory_equal(s->have, r->buf, r->have);
}

static void test_reassembler_limits(void **state)
{
    (void)state;
    uint8_t tok[512], buf[512];
    size_t len = big_token(tok, sizeof tok);
    negoex_spnego_reassembler r;
    negoex_bytes whole;
    negoex_error_info e;
    snap s;

    /* Defaults. */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    assert_int_equal(r.max_fragments, NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS);
    assert_int_equal(r.max_token, sizeof buf);
    assert_int_equal(negoex_spnego_reassembler_init(NULL, buf, 1), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_reassembler_init(&r, NULL, 1), NEGOEX_ERR_INVALID_ARGUMENT);

    /* 10-byte fragments: the count is known from the first. */
    size_t need = (len + 9) / 10;
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.max_fragments = need - 1;
    take(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok, 10, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_COUNT, 10,
               "fragment count");
    same(&s, &r);
    r.max_fragments = need;
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, 10, &whole, &e), NEGOEX_CONTINUE);

    /* Token over max_token, and over the buffer. */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.parse_flags = LF;
    r.max_token = len - 1;
    take(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok, 10, &whole, &e), &e, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "fragment");
    same(&s, &r);
    r.max_token = len;
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, len, &whole, &e), NEGOEX_COMPLETE);
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, len - 1), NEGOEX_OK);
    r.max_token = SIZE_MAX;
    expect_err(negoex_spnego_reassembler_feed(&r, tok, 10, &whole, &e), &e, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "fragment");
    /* An announced 16 MiB token is refused from its header alone. */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    expect_err(negoex_spnego_reassembler_feed(&r, (const uint8_t *)"\xa1\x84\x01\x00\x00\x00", 6, &whole, &e), &e,
               NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "fragment");
    /* A single fragment and max_fragments 0. */
    r.max_fragments = 0;
    expect_err(negoex_spnego_reassembler_feed(&r, tok, len, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_COUNT, 0,
               "fragment count");
}

static void test_reassembler_rejects(void **state)
{
    (void)state;
    uint8_t tok[512], buf[512], bad[512];
    size_t len = big_token(tok, sizeof tok);
    negoex_spnego_reassembler r;
    negoex_bytes whole;
    negoex_error_info e;
    snap s;
    const size_t m = 70; /* fragments of 70 bytes: 0..3 full, 4 short */
    assert_true(len > 4 * m && len < 5 * m);

    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.parse_flags = LF;
    /* A continuation first: not a SPNEGO header. */
    take(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok + m, m, &whole, &e), &e, NEGOEX_ERR_DER_TAG, 0,
               "NegotiationToken");
    same(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok, 0, &whole, &e), &e, NEGOEX_ERR_EMPTY_TOKEN, 0, "fragment");
    same(&s, &r);
    /* A first fragment longer than the token it announces. */
    memcpy(bad, tok, len);
    bad[len] = 0;
    expect_err(negoex_spnego_reassembler_feed(&r, bad, len + 1, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_INCONSISTENT, len,
               "fragment");
    same(&s, &r);

    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, m, &whole, &e), NEGOEX_CONTINUE);
    take(&s, &r);
    /* longer than the first (3.1.5.7) */
    expect_err(negoex_spnego_reassembler_feed(&r, tok + m, m + 1, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_INCONSISTENT,
               2 * m, "fragment size");
    same(&s, &r);
    /* short but not the last */
    expect_err(negoex_spnego_reassembler_feed(&r, tok + m, m - 1, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_INCONSISTENT,
               2 * m - 1, "fragment size");
    same(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok + m, 0, &whole, &e), &e, NEGOEX_ERR_EMPTY_TOKEN, m, "fragment");
    same(&s, &r);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + m, m, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 2 * m, m, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 3 * m, m, &whole, &e), NEGOEX_CONTINUE);
    take(&s, &r);
    /* fragment 3 again (duplicate): 64 bytes where len - 4m are left */
    expect_err(negoex_spnego_reassembler_feed(&r, tok + 3 * m, m, &whole, &e), &e, NEGOEX_ERR_FRAGMENT_INCONSISTENT,
               len, "fragment");
    same(&s, &r);
    /* the right length but other bytes: the whole token no longer parses
     * (the last bytes are the supportedMechs OIDs: make the last one invalid) */
    memcpy(bad, tok + 4 * m, len - 4 * m);
    bad[len - 4 * m - 1] |= 0x80;
    expect_err(negoex_spnego_reassembler_feed(&r, bad, len - 4 * m, &whole, &e), &e, NEGOEX_ERR_DER_VALUE, len - 12,
               "supportedMechs");
    same(&s, &r);
    /* the right one completes */
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 4 * m, len - 4 * m, &whole, &e), NEGOEX_COMPLETE);
    assert_int_equal(whole.len, len);
    assert_memory_equal(whole.data, tok, len);
    assert_int_equal(r.fragments, 5);

    /* Fragments 1 and 2 swapped: sizes fit, the token does not parse. */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.parse_flags = LF;
    uint8_t hdr[512];
    size_t hl = 0;
    {
        /* A token whose structure spans the first fragments: many short OIDs. */
        uint8_t store[40][4];
        negoex_bytes many[40];
        negoex_spnego_fields f;
        for (int i = 0; i < 40; i++) {
            store[i][0] = 0x2a;
            store[i][1] = (uint8_t)(i + 1);
            many[i] = (negoex_bytes){store[i], 2};
        }
        negoex_spnego_fields_init(&f, K_RESP);
        f.supported_mechs = many;
        f.supported_mech_count = 40;
        assert_int_equal(negoex_spnego_write(hdr, sizeof hdr, &hl, &f), NEGOEX_OK);
    }
    const size_t q = 40;
    assert_true(hl > 3 * q);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr, q, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr + 2 * q, q, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr + q, q, &whole, &e), NEGOEX_CONTINUE);
    /* 4-byte OID TLVs (06 02 2a nn) from offset 8: 40 = 8 + 32, so a swap
     * keeps the structure; the values go out of order, which only a parse of
     * the contents can see. Feed the rest: it completes (documented limit). */
    int rc = NEGOEX_CONTINUE;
    for (size_t at = 3 * q; at < hl; at += q)
        rc = negoex_spnego_reassembler_feed(&r, hdr + at, hl - at < q ? hl - at : q, &whole, &e);
    assert_int_equal(rc, NEGOEX_COMPLETE);
    assert_memory_not_equal(whole.data, hdr, hl);

    /* With 10-byte fragments the swap breaks an OID TLV: refused at the end. */
    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    r.parse_flags = LF;
    const size_t t = 10;
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr, t, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr + 2 * t, t, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr + t, t, &whole, &e), NEGOEX_CONTINUE);
    rc = NEGOEX_CONTINUE;
    size_t at;
    for (at = 3 * t; at + t < hl; at += t)
        assert_int_equal(negoex_spnego_reassembler_feed(&r, hdr + at, t, &whole, &e), NEGOEX_CONTINUE);
    take(&s, &r);
    rc = negoex_spnego_reassembler_feed(&r, hdr + at, hl - at, &whole, &e);
    assert_true(rc < 0);
    same(&s, &r);
}

static void test_reassembler_sequence(void **state)
{
    (void)state;
    uint8_t tok[512], buf[512], small[64];
    size_t len = big_token(tok, sizeof tok);
    size_t sl = unhex(RESP_LF, small, sizeof small);
    negoex_spnego_reassembler r;
    negoex_bytes whole;
    negoex_error_info e;
    snap s;

    assert_int_equal(negoex_spnego_reassembler_init(&r, buf, sizeof buf), NEGOEX_OK);
    /* Late Fallback off: the whole token's [4] is refused at completion. */
    expect_err(negoex_spnego_reassembler_feed(&r, small, sl, &whole, &e), &e, NEGOEX_ERR_DER_TAG, RESP_LF_AT_A4,
               "NegTokenResp");
    r.parse_flags = LF;
    /* Unfragmented: complete at once. */
    assert_int_equal(negoex_spnego_reassembler_feed(&r, small, sl, &whole, &e), NEGOEX_COMPLETE);
    assert_int_equal(whole.len, sl);
    /* Then the next token starts; a rejected start keeps the finished one. */
    take(&s, &r);
    expect_err(negoex_spnego_reassembler_feed(&r, tok + 1, 10, &whole, &e), &e, NEGOEX_ERR_DER_TAG, 0,
               "NegotiationToken");
    same(&s, &r);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, 100, &whole, &e), NEGOEX_CONTINUE);
    /* reset drops the partial token (3.1.5.11) */
    negoex_spnego_reassembler_reset(&r);
    assert_int_equal(r.have, 0);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, 100, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 100, 100, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 200, 100, &whole, &e), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 300, len - 300, &whole, &e), NEGOEX_COMPLETE);
    assert_memory_equal(whole.data, tok, len);
    /* Arguments. */
    assert_int_equal(negoex_spnego_reassembler_feed(NULL, tok, 1, &whole, &e), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, NULL, 1, &whole, &e), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok, 1, NULL, &e), NEGOEX_ERR_INVALID_ARGUMENT);
    /* No error info: the same answers. */
    negoex_spnego_reassembler_reset(&r);
    assert_int_equal(negoex_spnego_reassembler_feed(&r, tok + 1, 10, &whole, NULL), NEGOEX_ERR_DER_TAG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_oids),
        cmocka_unit_test(test_supported_mechs_roundtrip),
        cmocka_unit_test(test_supported_mechs_writer_args),
        cmocka_unit_test(test_supported_mechs_truncated),
        cmocka_unit_test(test_supported_mechs_refused),
        cmocka_unit_test(test_mic_input_hand_example),
        cmocka_unit_test(test_both_ways),
        cmocka_unit_test(test_fragment_header),
        cmocka_unit_test(test_split_reassemble_identity),
        cmocka_unit_test(test_reassembler_limits),
        cmocka_unit_test(test_reassembler_rejects),
        cmocka_unit_test(test_reassembler_sequence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
