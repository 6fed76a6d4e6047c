/*
 * Codec writer tests: parse -> negoex_write_message reproduces real messages
 * byte for byte; builders lay out the Windows format, report sizes, refuse
 * small buffers and wrong types without writing, and parse back.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "negoex/negoex.h"
#include "testutil.h"

#define V_NEGO "windows/negoex/win_initiator_nego_seq0.bin"
#define V_IMETA "windows/negoex/win_initiator_metadata_seq1.bin"
#define V_AMETA "windows/negoex/win_acceptor_metadata_seq3.bin"
#define V_VERIFY "windows/negoex/win_initiator_verify_seq7.bin"
#define V_SAMBA "windows/spnego/samba_torture_ndr_negoex_MESSAGE_ARRAY.hex"
#define V_MIT_ALERT "mit/scenarios/17-alert-acceptor-to-initiator/01-a2i.negoex"
#define MIT_ALERT_OFF 323u
#define MIT_ALERT_LEN 92u

#define WIN_CONV "3b29075a-f391-af33-a1b4-a212249d7cb4"
#define MIT_SCHEME1 "c0a28569-66ac-0000-0000-000000000000"
#define MIT_SCHEME2 "d1b08469-2ca8-0000-0000-000000000000"

#define FILL 0xa5

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint32_t get_u32(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
}

static uint16_t get_u16(const uint8_t *p, size_t off)
{
    return (uint16_t)(p[off] | p[off + 1] << 8);
}

static uint8_t *load_hex(const char *rel, size_t *len)
{
    size_t n;
    uint8_t *text = tu_load(rel, &n);
    char *z = malloc(n + 1);
    assert_non_null(z);
    memcpy(z, text, n);
    z[n] = '\0';
    free(text);
    uint8_t *bin = tu_unhex(z, len);
    free(z);
    return bin;
}

static const char *safe(const char *s)
{
    return s ? s : "(null)";
}

static void parse_ok_(const uint8_t *tok, size_t len, size_t off, negoex_message *m, const char *file,
                      int line)
{
    negoex_error_info e;
    memset(&e, 0, sizeof e);
    int rc = negoex_parse_message(tok, len, off, m, &e);
    if (rc != 0) {
        print_error("%s:%d: negoex_parse_message(off %zu) = %s (%d) at %zu field %s\n", file, line, off,
                    negoex_error_name(rc), rc, e.offset, safe(e.field));
        _fail(file, line);
    }
}
#define parse_ok(tok, len, off, m) parse_ok_((tok), (len), (off), (m), __FILE__, __LINE__)

static void expect_rc_(int rc, int want, const char *what, const char *file, int line)
{
    if (rc == want)
        return;
    print_error("%s:%d: %s = %s (%d), expected %s (%d)\n", file, line, what, negoex_error_name(rc), rc,
                negoex_error_name(want), want);
    _fail(file, line);
}
#define expect_rc(rc, want) expect_rc_((rc), (want), #rc, __FILE__, __LINE__)

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v)
            return 0;
    return 1;
}

/* Re-encodes a parsed message: size query, exact buffer, one byte short.
 * Returns the written copy (malloc'd, *out_len bytes). */
static uint8_t *rewrite(const negoex_message *m, size_t *out_len)
{
    size_t need = 0;
    expect_rc(negoex_write_message(NULL, 0, &need, m), 0);
    assert_true(need >= NEGOEX_MESSAGE_HEADER_LEN);

    uint8_t *small = malloc(need + 16);
    assert_non_null(small);
    memset(small, FILL, need + 16);
    size_t got = 0;
    expect_rc(negoex_write_message(small, need - 1, &got, m), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(got, need);
    assert_true(all_bytes(small, need + 16, FILL));
    free(small);

    uint8_t *out = malloc(need);
    assert_non_null(out);
    memset(out, FILL, need);
    got = 0;
    expect_rc(negoex_write_message(out, need, &got, m), 0);
    assert_int_equal(got, need);
    *out_len = need;
    return out;
}

static negoex_header_fields header(uint32_t seq, const char *conv)
{
    negoex_header_fields h;
    memset(&h, 0, sizeof h);
    h.seq = seq;
    assert_int_equal(negoex_guid_parse(&h.conversation_id, conv), 0);
    return h;
}

static negoex_guid guid(const char *text)
{
    negoex_guid g;
    assert_int_equal(negoex_guid_parse(&g, text), 0);
    return g;
}

static void assert_header(const uint8_t *b, uint32_t type, uint32_t seq, uint32_t hdr_len, uint32_t msg_len,
                          const negoex_guid *conv)
{
    assert_memory_equal(b, "NEGOEXTS", 8);
    assert_int_equal(get_u32(b, 8), type);
    assert_int_equal(get_u32(b, 12), seq);
    assert_int_equal(get_u32(b, 16), hdr_len);
    assert_int_equal(get_u32(b, 20), msg_len);
    assert_memory_equal(b + 24, conv->bytes, 16);
}

/* ------------------------------------------------------------------------ */
/* re-encoding real messages                                                */
/* ------------------------------------------------------------------------ */

static void roundtrip_exact(const uint8_t *tok, size_t len, size_t off, size_t want_len)
{
    negoex_message m;
    parse_ok(tok, len, off, &m);
    assert_int_equal(m.message_length, want_len);
    size_t n;
    uint8_t *out = rewrite(&m, &n);
    assert_int_equal(n, want_len);
    assert_memory_equal(out, tok + off, want_len);
    free(out);
}

static void test_rewrite_windows_messages(void **state)
{
    (void)state;
    static const struct {
        const char *rel;
        size_t len;
    } files[] = {{V_NEGO, 112}, {V_IMETA, 297}, {V_AMETA, 238}, {V_VERIFY, 92}};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t len;
        uint8_t *b = tu_load(files[i].rel, &len);
        assert_int_equal(len, files[i].len);
        roundtrip_exact(b, len, 0, files[i].len);
        free(b);
    }
}

static void test_rewrite_samba_messages(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_hex(V_SAMBA, &len);
    assert_int_equal(len, 264);
    roundtrip_exact(b, len, 0, 112);   /* ACCEPTOR_NEGO seq 0 */
    roundtrip_exact(b, len, 112, 152); /* ACCEPTOR_META_DATA seq 1 */
    free(b);
}

/* MIT's messages re-encode identically, except that the packed NEGO's bytes
 * 86..87 (MIT's ExtensionArrayOffset low half, "60 00") become Windows' zero pad. */
static int rewrite_mit_file(const char *rel)
{
    size_t len;
    uint8_t *b = tu_load(rel, &len);
    negoex_reader r;
    negoex_message m;
    int n = 0, rc;
    negoex_reader_init(&r, b, len);
    while ((rc = negoex_reader_next(&r, &m)) == 1) {
        size_t out_len;
        uint8_t *out = rewrite(&m, &out_len);
        assert_int_equal(out_len, m.message_length);
        if (negoex_message_structure(m.type) == NEGOEX_STRUCT_NEGO) {
            assert_int_equal(m.raw.data[86], 0x60);
            assert_int_equal(out[86], 0);
            assert_int_equal(out[87], 0);
            assert_memory_equal(out, m.raw.data, 86);
            assert_memory_equal(out + 88, m.raw.data + 88, out_len - 88);
        } else {
            assert_memory_equal(out, m.raw.data, out_len);
        }
        free(out);
        n++;
    }
    if (rc != 0)
        fail_msg("%s: reader_next = %s at %zu", rel, negoex_error_name(rc), r.error.offset);
    free(b);
    return n;
}

static void test_rewrite_mit_messages(void **state)
{
    (void)state;
    char root[4096];
    snprintf(root, sizeof root, "%s", tu_path("mit/scenarios"));
    DIR *top = opendir(root);
    if (top == NULL)
        fail_msg("cannot open %s", root);
    int files = 0, messages = 0;
    struct dirent *de;
    while ((de = readdir(top)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        char dir[4096 + 256];
        struct stat st;
        snprintf(dir, sizeof dir, "%s/%s", root, de->d_name);
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
            continue;
        char scen[256];
        snprintf(scen, sizeof scen, "%s", de->d_name);
        DIR *sd = opendir(dir);
        assert_non_null(sd);
        struct dirent *fe;
        while ((fe = readdir(sd)) != NULL) {
            size_t nl = strlen(fe->d_name);
            if (nl < 8 || strcmp(fe->d_name + nl - 7, ".negoex") != 0)
                continue;
            char rel[700];
            snprintf(rel, sizeof rel, "mit/scenarios/%s/%s", scen, fe->d_name);
            messages += rewrite_mit_file(rel);
            files++;
        }
        closedir(sd);
    }
    closedir(top);
    assert_int_equal(files, 96);
    assert_int_equal(messages, 279);
}

/* ------------------------------------------------------------------------ */
/* builders: exact Windows bytes                                            */
/* ------------------------------------------------------------------------ */

static void test_build_windows_nego_exact(void **state)
{
    (void)state;
    size_t len;
    uint8_t *want = tu_load(V_NEGO, &len);
    negoex_header_fields h = header(0, WIN_CONV);

    size_t need = 0;
    expect_rc(negoex_write_nego(NULL, 0, &need, NEGOEX_INITIATOR_NEGO, &h, want + 40, &NEGOEX_SCHEME_PKU2U, 1,
                                NULL, 0),
              0);
    assert_int_equal(need, 112);

    uint8_t out[128];
    memset(out, FILL, sizeof out);
    size_t got = 0;
    expect_rc(negoex_write_nego(out, sizeof out, &got, NEGOEX_INITIATOR_NEGO, &h, want + 40, &NEGOEX_SCHEME_PKU2U,
                                1, NULL, 0),
              0);
    assert_int_equal(got, 112);
    assert_memory_equal(out, want, 112);
    assert_true(all_bytes(out + 112, sizeof out - 112, FILL)); /* nothing past the message */

    /* no extensions: ExtensionArrayOffset 0 and count 0 (bytes 88..95 all zero) */
    assert_true(all_bytes(out + 88, 8, 0));
    assert_int_equal(get_u32(out, 80), 96);
    assert_int_equal(get_u16(out, 84), 1);
    assert_true(all_bytes(out + 86, 2, 0));
    assert_true(all_bytes(out + 72, 8, 0)); /* ProtocolVersion 0 */
    free(want);
}

static void test_build_windows_exchange_exact(void **state)
{
    (void)state;
    static const struct {
        const char *rel;
        uint32_t type, seq;
        size_t len;
    } files[] = {{V_IMETA, NEGOEX_INITIATOR_META_DATA, 1, 297}, {V_AMETA, NEGOEX_ACCEPTOR_META_DATA, 3, 238}};
    for (size_t i = 0; i < 2; i++) {
        size_t len;
        uint8_t *want = tu_load(files[i].rel, &len);
        assert_int_equal(len, files[i].len);
        negoex_header_fields h = header(files[i].seq, WIN_CONV);
        size_t need = 0;
        expect_rc(negoex_write_exchange(NULL, 0, &need, files[i].type, &h, &NEGOEX_SCHEME_PKU2U, want + 64,
                                        len - 64),
                  0);
        assert_int_equal(need, len);
        uint8_t *out = malloc(len);
        assert_non_null(out);
        memset(out, FILL, len);
        size_t got = 0;
        expect_rc(negoex_write_exchange(out, len, &got, files[i].type, &h, &NEGOEX_SCHEME_PKU2U, want + 64,
                                        len - 64),
                  0);
        assert_int_equal(got, len);
        assert_memory_equal(out, want, len);
        free(out);
        free(want);
    }
}

static void test_build_windows_verify_exact(void **state)
{
    (void)state;
    size_t len;
    uint8_t *want = tu_load(V_VERIFY, &len);
    negoex_header_fields h = header(7, WIN_CONV);
    uint8_t out[100];
    memset(out, FILL, sizeof out);
    size_t got = 0;
    expect_rc(negoex_write_verify(out, sizeof out, &got, &h, &NEGOEX_SCHEME_PKU2U,
                                  NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256, want + 80, 12),
              0);
    assert_int_equal(got, 92);
    assert_memory_equal(out, want, 92);

    /* header 80, CHECKSUM {20, 1, 16, 80, 12}, 4 zero pad bytes, value at 80 */
    assert_int_equal(get_u32(out, 16), 80);
    assert_int_equal(get_u32(out, 56), 20);
    assert_int_equal(get_u32(out, 60), 1);
    assert_int_equal(get_u32(out, 64), 16);
    assert_int_equal(get_u32(out, 68), 80);
    assert_int_equal(get_u32(out, 72), 12);
    assert_true(all_bytes(out + 76, 4, 0));
    assert_true(all_bytes(out + 92, sizeof out - 92, FILL));
    free(want);
}

static void test_encode_pulse(void **state)
{
    (void)state;
    uint8_t p[NEGOEX_ALERT_PULSE_LEN];
    static const uint8_t want1[8] = {0x08, 0, 0, 0, 0x01, 0, 0, 0};
    static const uint8_t want2[8] = {0x08, 0, 0, 0, 0x78, 0x56, 0x34, 0x12};
    memset(p, FILL, sizeof p);
    negoex_encode_pulse(p, NEGOEX_ALERT_VERIFY_NO_KEY);
    assert_memory_equal(p, want1, 8);
    negoex_encode_pulse(p, 0x12345678u);
    assert_memory_equal(p, want2, 8);
}

static void test_build_alert_layout(void **state)
{
    (void)state;
    negoex_header_fields h = header(9, "dd7f47c7-d8a6-df67-2a70-283c9e3a6e6e");
    negoex_guid scheme = guid(MIT_SCHEME1);
    uint8_t pulse[NEGOEX_ALERT_PULSE_LEN];
    negoex_encode_pulse(pulse, NEGOEX_ALERT_VERIFY_NO_KEY);
    negoex_alert a;
    memset(&a, 0, sizeof a);
    a.type = NEGOEX_ALERT_TYPE_PULSE;
    a.value.data = pulse;
    a.value.len = sizeof pulse;

    size_t need = 0;
    expect_rc(negoex_write_alert(NULL, 0, &need, &h, &scheme, 0, &a, 1), 0);
    assert_int_equal(need, 72 + 12 + 8);

    uint8_t out[128];
    memset(out, FILL, sizeof out);
    size_t got = 0;
    expect_rc(negoex_write_alert(out, sizeof out, &got, &h, &scheme, 0, &a, 1), 0);
    assert_int_equal(got, 92);
    assert_header(out, NEGOEX_ALERT, 9, 72, 92, &h.conversation_id);
    assert_memory_equal(out + 40, scheme.bytes, 16);
    assert_int_equal(get_u32(out, 56), 0);      /* ErrorCode */
    assert_int_equal(get_u16(out, 64), 1);      /* AlertCount */
    assert_true(all_bytes(out + 66, 6, 0));     /* pad 66..71 zero: MIT reads the count as u32 */
    uint32_t aoff = get_u32(out, 60);
    assert_true(aoff >= 72 && aoff + 12 <= 92);
    assert_int_equal(get_u32(out, aoff), 1);    /* ALERT_TYPE_PULSE */
    uint32_t voff = get_u32(out, aoff + 4);
    assert_int_equal(get_u32(out, aoff + 8), 8);
    assert_true(voff >= 72 && voff + 8 <= 92);
    static const uint8_t pulse_wire[8] = {0x08, 0, 0, 0, 0x01, 0, 0, 0};
    assert_memory_equal(out + voff, pulse_wire, 8);
    assert_true(all_bytes(out + 92, sizeof out - 92, FILL));

    /* the same fields as MIT's ALERT give MIT's bytes (array at 72, value at 84) */
    size_t len;
    uint8_t *mit = tu_load(V_MIT_ALERT, &len);
    assert_int_equal(len, MIT_ALERT_OFF + MIT_ALERT_LEN);
    assert_memory_equal(out, mit + MIT_ALERT_OFF, MIT_ALERT_LEN);
    free(mit);
}

/* ------------------------------------------------------------------------ */
/* size query, small buffers, wrong types, limits                            */
/* ------------------------------------------------------------------------ */

static void test_size_query_and_small_buffer(void **state)
{
    (void)state;
    negoex_header_fields h = header(4, WIN_CONV);
    uint8_t random[NEGOEX_RANDOM_LEN];
    memset(random, 0x11, sizeof random);
    negoex_guid schemes[2] = {NEGOEX_SCHEME_PKU2U, guid(MIT_SCHEME2)};
    static const uint8_t xv[3] = {1, 2, 3};
    negoex_extension x = {5, 0, {xv, sizeof xv}};
    static const uint8_t payload[10] = {9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    static const uint8_t cks[12] = {1};
    uint8_t pulse[8];
    negoex_encode_pulse(pulse, 1);
    negoex_alert al = {NEGOEX_ALERT_TYPE_PULSE, {pulse, 8}, 1, 1};

    enum { N = 4 };
    size_t expected[N] = {96 + 2 * 16 + 12 + 3, 64 + 10, 80 + 12, 72 + 12 + 8};
    for (int k = 0; k < N; k++) {
        size_t need = 0;
        int rc = -1;
        switch (k) {
        case 0:
            rc = negoex_write_nego(NULL, 0, &need, NEGOEX_ACCEPTOR_NEGO, &h, random, schemes, 2, &x, 1);
            break;
        case 1:
            rc = negoex_write_exchange(NULL, 0, &need, NEGOEX_CHALLENGE, &h, &schemes[0], payload, sizeof payload);
            break;
        case 2:
            rc = negoex_write_verify(NULL, 0, &need, &h, &schemes[0], 16, cks, sizeof cks);
            break;
        default:
            rc = negoex_write_alert(NULL, 0, &need, &h, &schemes[0], 0, &al, 1);
            break;
        }
        expect_rc(rc, 0);
        assert_int_equal(need, expected[k]);

        /* too small by one, and zero capacity: nothing written, size reported */
        size_t caps[2] = {need - 1, 0};
        for (int c = 0; c < 2; c++) {
            uint8_t buf[256];
            memset(buf, FILL, sizeof buf);
            size_t got = 0;
            switch (k) {
            case 0:
                rc = negoex_write_nego(buf, caps[c], &got, NEGOEX_ACCEPTOR_NEGO, &h, random, schemes, 2, &x, 1);
                break;
            case 1:
                rc = negoex_write_exchange(buf, caps[c], &got, NEGOEX_CHALLENGE, &h, &schemes[0], payload,
                                           sizeof payload);
                break;
            case 2:
                rc = negoex_write_verify(buf, caps[c], &got, &h, &schemes[0], 16, cks, sizeof cks);
                break;
            default:
                rc = negoex_write_alert(buf, caps[c], &got, &h, &schemes[0], 0, &al, 1);
                break;
            }
            expect_rc(rc, NEGOEX_ERR_BUFFER_TOO_SMALL);
            assert_int_equal(got, need);
            assert_true(all_bytes(buf, sizeof buf, FILL));
        }

        /* a larger buffer: exactly need bytes written */
        uint8_t big[256];
        memset(big, FILL, sizeof big);
        size_t got = 0;
        switch (k) {
        case 0:
            rc = negoex_write_nego(big, sizeof big, &got, NEGOEX_ACCEPTOR_NEGO, &h, random, schemes, 2, &x, 1);
            break;
        case 1:
            rc = negoex_write_exchange(big, sizeof big, &got, NEGOEX_CHALLENGE, &h, &schemes[0], payload,
                                       sizeof payload);
            break;
        case 2:
            rc = negoex_write_verify(big, sizeof big, &got, &h, &schemes[0], 16, cks, sizeof cks);
            break;
        default:
            rc = negoex_write_alert(big, sizeof big, &got, &h, &schemes[0], 0, &al, 1);
            break;
        }
        expect_rc(rc, 0);
        assert_int_equal(got, need);
        assert_int_equal(get_u32(big, 20), need);
        assert_true(all_bytes(big + need, sizeof big - need, FILL));
        negoex_error_info e;
        assert_int_equal(negoex_token_validate(big, need, &e), 1);
    }
}

static void test_builder_wrong_type(void **state)
{
    (void)state;
    negoex_header_fields h = header(0, WIN_CONV);
    uint8_t random[NEGOEX_RANDOM_LEN] = {0};
    static const uint8_t payload[4] = {1, 2, 3, 4};
    uint8_t buf[256];
    size_t got;

    /* NEGO builder given a type of another structure */
    static const uint32_t not_nego[] = {NEGOEX_INITIATOR_META_DATA, NEGOEX_ACCEPTOR_META_DATA, NEGOEX_CHALLENGE,
                                        NEGOEX_AP_REQUEST, NEGOEX_VERIFY, NEGOEX_ALERT};
    for (size_t i = 0; i < sizeof not_nego / sizeof not_nego[0]; i++) {
        memset(buf, FILL, sizeof buf);
        got = 0;
        expect_rc(negoex_write_nego(buf, sizeof buf, &got, not_nego[i], &h, random, &NEGOEX_SCHEME_PKU2U, 1, NULL,
                                    0),
                  NEGOEX_ERR_WRONG_TYPE);
        assert_true(all_bytes(buf, sizeof buf, FILL));
        expect_rc(negoex_write_nego(NULL, 0, &got, not_nego[i], &h, random, &NEGOEX_SCHEME_PKU2U, 1, NULL, 0),
                  NEGOEX_ERR_WRONG_TYPE);
    }

    /* EXCHANGE builder given a type of another structure */
    static const uint32_t not_exchange[] = {NEGOEX_INITIATOR_NEGO, NEGOEX_ACCEPTOR_NEGO, NEGOEX_VERIFY,
                                            NEGOEX_ALERT};
    for (size_t i = 0; i < sizeof not_exchange / sizeof not_exchange[0]; i++) {
        memset(buf, FILL, sizeof buf);
        got = 0;
        expect_rc(negoex_write_exchange(buf, sizeof buf, &got, not_exchange[i], &h, &NEGOEX_SCHEME_PKU2U, payload,
                                        sizeof payload),
                  NEGOEX_ERR_WRONG_TYPE);
        assert_true(all_bytes(buf, sizeof buf, FILL));
        expect_rc(negoex_write_exchange(NULL, 0, &got, not_exchange[i], &h, &NEGOEX_SCHEME_PKU2U, payload,
                                        sizeof payload),
                  NEGOEX_ERR_WRONG_TYPE);
    }

    /* types outside 0..7 are refused by both, without writing */
    memset(buf, FILL, sizeof buf);
    assert_true(negoex_write_nego(buf, sizeof buf, &got, 8, &h, random, &NEGOEX_SCHEME_PKU2U, 1, NULL, 0) < 0);
    assert_true(negoex_write_exchange(buf, sizeof buf, &got, 0xffffffffu, &h, &NEGOEX_SCHEME_PKU2U, payload,
                                      sizeof payload) < 0);
    assert_true(all_bytes(buf, sizeof buf, FILL));

    /* every right type is accepted */
    for (uint32_t t = NEGOEX_INITIATOR_NEGO; t <= NEGOEX_ACCEPTOR_NEGO; t++)
        expect_rc(negoex_write_nego(buf, sizeof buf, &got, t, &h, random, &NEGOEX_SCHEME_PKU2U, 1, NULL, 0), 0);
    for (uint32_t t = NEGOEX_INITIATOR_META_DATA; t <= NEGOEX_AP_REQUEST; t++)
        expect_rc(negoex_write_exchange(buf, sizeof buf, &got, t, &h, &NEGOEX_SCHEME_PKU2U, payload, sizeof payload),
                  0);
}

/* Counts that do not fit their u16 wire field. */
static void test_builder_too_large(void **state)
{
    (void)state;
    negoex_header_fields h = header(0, WIN_CONV);
    uint8_t random[NEGOEX_RANDOM_LEN] = {0};
    const size_t n = 65536;
    size_t got;

    negoex_guid *schemes = calloc(n, sizeof *schemes);
    assert_non_null(schemes);
    size_t cap = 96 + n * 16 + 64;
    uint8_t *buf = malloc(cap);
    assert_non_null(buf);
    memset(buf, FILL, 64);
    expect_rc(negoex_write_nego(buf, cap, &got, NEGOEX_INITIATOR_NEGO, &h, random, schemes, n, NULL, 0),
              NEGOEX_ERR_TOO_LARGE);
    assert_true(all_bytes(buf, 64, FILL));
    /* 65535 fits */
    expect_rc(negoex_write_nego(buf, cap, &got, NEGOEX_INITIATOR_NEGO, &h, random, schemes, n - 1, NULL, 0), 0);
    assert_int_equal(got, 96 + (n - 1) * 16);
    assert_int_equal(get_u16(buf, 84), 0xffff);
    free(buf);
    free(schemes);

    negoex_extension *ext = calloc(n, sizeof *ext);
    assert_non_null(ext);
    cap = 96 + 16 + n * 12 + 64;
    buf = malloc(cap);
    assert_non_null(buf);
    memset(buf, FILL, 64);
    expect_rc(negoex_write_nego(buf, cap, &got, NEGOEX_INITIATOR_NEGO, &h, random, &NEGOEX_SCHEME_PKU2U, 1, ext, n),
              NEGOEX_ERR_TOO_LARGE);
    assert_true(all_bytes(buf, 64, FILL));
    free(buf);
    free(ext);

    negoex_alert *al = calloc(n, sizeof *al);
    assert_non_null(al);
    for (size_t i = 0; i < n; i++)
        al[i].type = 2;
    cap = 72 + n * 12 + 64;
    buf = malloc(cap);
    assert_non_null(buf);
    memset(buf, FILL, 64);
    expect_rc(negoex_write_alert(buf, cap, &got, &h, &NEGOEX_SCHEME_PKU2U, 0, al, n), NEGOEX_ERR_TOO_LARGE);
    assert_true(all_bytes(buf, 64, FILL));
    free(buf);
    free(al);

    /* a payload whose message length would not fit cbMessageLength (size query only) */
    if (SIZE_MAX > UINT32_MAX) {
        static const uint8_t dummy[1] = {0};
        size_t big = (size_t)UINT32_MAX - 63; /* 64 + that = 2^32 */
        expect_rc(negoex_write_exchange(NULL, 0, &got, NEGOEX_AP_REQUEST, &h, &NEGOEX_SCHEME_PKU2U, dummy, big),
                  NEGOEX_ERR_TOO_LARGE);
        expect_rc(negoex_write_exchange(NULL, 0, &got, NEGOEX_AP_REQUEST, &h, &NEGOEX_SCHEME_PKU2U, dummy, big - 1),
                  0);
        assert_int_equal(got, UINT32_MAX);
        expect_rc(negoex_write_verify(NULL, 0, &got, &h, &NEGOEX_SCHEME_PKU2U, 16, dummy, (size_t)UINT32_MAX),
                  NEGOEX_ERR_TOO_LARGE);
    }
}

/* ------------------------------------------------------------------------ */
/* build -> parse                                                           */
/* ------------------------------------------------------------------------ */

static void test_build_parse_nego(void **state)
{
    (void)state;
    negoex_header_fields h = header(0x01020304, "0123abcd-4567-89ef-fedc-ba9876543210");
    uint8_t random[NEGOEX_RANDOM_LEN];
    for (size_t i = 0; i < sizeof random; i++)
        random[i] = (uint8_t)(i * 7 + 1);
    negoex_guid schemes[3] = {NEGOEX_SCHEME_PKU2U, guid(MIT_SCHEME1), guid(MIT_SCHEME2)};
    static const uint8_t v0[5] = {'h', 'e', 'l', 'l', 'o'};
    negoex_extension ext[2] = {{0x1234, 0, {v0, sizeof v0}}, {0x7fffffff, 0, {NULL, 0}}};

    size_t need = 0;
    expect_rc(negoex_write_nego(NULL, 0, &need, NEGOEX_ACCEPTOR_NEGO, &h, random, schemes, 3, ext, 2), 0);
    assert_int_equal(need, 96 + 3 * 16 + 2 * 12 + 5);
    uint8_t *b = malloc(need);
    assert_non_null(b);
    memset(b, FILL, need);
    size_t got = 0;
    expect_rc(negoex_write_nego(b, need, &got, NEGOEX_ACCEPTOR_NEGO, &h, random, schemes, 3, ext, 2), 0);
    assert_int_equal(got, need);
    assert_header(b, NEGOEX_ACCEPTOR_NEGO, 0x01020304, 96, (uint32_t)need, &h.conversation_id);
    assert_int_equal(get_u16(b, 84), 3);
    assert_int_equal(get_u16(b, 92), 2);
    assert_true(all_bytes(b + 86, 2, 0));
    assert_true(all_bytes(b + 94, 2, 0));
    assert_true(get_u32(b, 88) >= 96);

    negoex_message m;
    parse_ok(b, need, 0, &m);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_NEGO);
    assert_int_equal(m.seq, 0x01020304);
    assert_true(negoex_guid_equal(&m.conversation_id, &h.conversation_id));
    assert_int_equal(m.header_length, 96);
    assert_int_equal(m.message_length, need);
    assert_memory_equal(m.u.nego.random, random, 32);
    assert_true(m.u.nego.protocol_version == 0);
    assert_int_equal(m.u.nego.auth_scheme_count, 3);
    assert_int_equal(m.u.nego.extension_count, 2);
    for (size_t i = 0; i < 3; i++) {
        negoex_guid g;
        assert_int_equal(negoex_nego_auth_scheme(&m, i, &g), 0);
        assert_true(negoex_guid_equal(&g, &schemes[i]));
    }
    for (size_t i = 0; i < 2; i++) {
        negoex_extension x;
        assert_int_equal(negoex_nego_extension(&m, i, &x), 0);
        assert_int_equal(x.type, ext[i].type);
        assert_int_equal(x.critical, 0);
        assert_int_equal(x.value.len, ext[i].value.len);
        if (x.value.len)
            assert_memory_equal(x.value.data, ext[i].value.data, x.value.len);
    }

    /* and write_message gives the same bytes back */
    size_t n;
    uint8_t *again = rewrite(&m, &n);
    assert_int_equal(n, need);
    assert_memory_equal(again, b, need);
    free(again);
    free(b);
}

static void test_build_parse_exchange(void **state)
{
    (void)state;
    negoex_header_fields h = header(5, WIN_CONV);
    negoex_guid scheme = guid(MIT_SCHEME2);
    static const uint8_t payload[3] = {0xde, 0xad, 0x01};
    for (uint32_t t = NEGOEX_INITIATOR_META_DATA; t <= NEGOEX_AP_REQUEST; t++) {
        /* empty payload */
        uint8_t b[128];
        memset(b, FILL, sizeof b);
        size_t got = 0;
        expect_rc(negoex_write_exchange(b, sizeof b, &got, t, &h, &scheme, NULL, 0), 0);
        assert_int_equal(got, 64);
        assert_header(b, t, 5, 64, 64, &h.conversation_id);
        assert_int_equal(get_u32(b, 60), 0);
        negoex_message m;
        parse_ok(b, got, 0, &m);
        assert_int_equal(m.type, t);
        assert_int_equal(m.seq, 5);
        assert_int_equal(m.message_length, 64);
        assert_true(negoex_guid_equal(&m.u.exchange.auth_scheme, &scheme));
        assert_int_equal(m.u.exchange.exchange.len, 0);
        size_t n;
        uint8_t *again = rewrite(&m, &n);
        assert_int_equal(n, 64);
        assert_memory_equal(again, b, 64);
        free(again);

        /* small payload */
        memset(b, FILL, sizeof b);
        expect_rc(negoex_write_exchange(b, sizeof b, &got, t, &h, &scheme, payload, sizeof payload), 0);
        assert_int_equal(got, 67);
        assert_int_equal(get_u32(b, 56), 64);
        assert_int_equal(get_u32(b, 60), 3);
        parse_ok(b, got, 0, &m);
        assert_int_equal(m.u.exchange.exchange.len, 3);
        assert_ptr_equal(m.u.exchange.exchange.data, b + 64);
        assert_memory_equal(m.u.exchange.exchange.data, payload, 3);
        assert_true(all_bytes(b + 67, sizeof b - 67, FILL));
    }
}

static void test_build_parse_verify(void **state)
{
    (void)state;
    negoex_header_fields h = header(6, WIN_CONV);
    uint8_t cks[16];
    for (size_t i = 0; i < sizeof cks; i++)
        cks[i] = (uint8_t)(0xf0 - i);
    uint8_t b[128];
    memset(b, FILL, sizeof b);
    size_t got = 0;
    expect_rc(negoex_write_verify(b, sizeof b, &got, &h, &NEGOEX_SCHEME_PKU2U, NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128,
                                  cks, sizeof cks),
              0);
    assert_int_equal(got, 96);
    assert_header(b, NEGOEX_VERIFY, 6, 80, 96, &h.conversation_id);
    assert_true(all_bytes(b + 76, 4, 0));
    assert_memory_equal(b + 80, cks, sizeof cks);

    negoex_message m;
    parse_ok(b, got, 0, &m);
    assert_int_equal(m.type, NEGOEX_VERIFY);
    assert_true(negoex_guid_equal(&m.u.verify.auth_scheme, &NEGOEX_SCHEME_PKU2U));
    assert_int_equal(m.u.verify.checksum_scheme, NEGOEX_CHECKSUM_SCHEME_RFC3961);
    assert_int_equal(m.u.verify.checksum_type, 15);
    assert_int_equal(m.u.verify.checksum.len, 16);
    assert_memory_equal(m.u.verify.checksum.data, cks, 16);
    size_t n;
    uint8_t *again = rewrite(&m, &n);
    assert_memory_equal(again, b, 96);
    free(again);
}

static void test_build_parse_alert_two(void **state)
{
    (void)state;
    negoex_header_fields h = header(12, WIN_CONV);
    uint8_t pulse[8];
    negoex_encode_pulse(pulse, NEGOEX_ALERT_VERIFY_NO_KEY);
    static const uint8_t other[3] = {'x', 'y', 'z'};
    negoex_alert in[2];
    memset(in, 0, sizeof in);
    in[0].type = NEGOEX_ALERT_TYPE_PULSE;
    in[0].value.data = pulse;
    in[0].value.len = 8;
    in[1].type = 0x42;
    in[1].value.data = other;
    in[1].value.len = 3;
    in[1].is_pulse = 1; /* ignored by the builder */
    in[1].reason = 9;

    size_t need = 0;
    expect_rc(negoex_write_alert(NULL, 0, &need, &h, &NEGOEX_SCHEME_PKU2U, 0xc000006du, in, 2), 0);
    assert_int_equal(need, 72 + 24 + 8 + 3);
    uint8_t b[160];
    memset(b, FILL, sizeof b);
    size_t got = 0;
    expect_rc(negoex_write_alert(b, sizeof b, &got, &h, &NEGOEX_SCHEME_PKU2U, 0xc000006du, in, 2), 0);
    assert_int_equal(got, need);
    assert_header(b, NEGOEX_ALERT, 12, 72, (uint32_t)need, &h.conversation_id);
    assert_int_equal(get_u32(b, 56), 0xc000006du);
    assert_int_equal(get_u16(b, 64), 2);
    assert_true(all_bytes(b + 66, 6, 0));

    negoex_message m;
    parse_ok(b, got, 0, &m);
    assert_int_equal(m.type, NEGOEX_ALERT);
    assert_int_equal(m.header_length, 72);
    assert_int_equal(m.u.alert.error_code, 0xc000006du);
    assert_int_equal(m.u.alert.alert_count, 2);
    assert_true(negoex_guid_equal(&m.u.alert.auth_scheme, &NEGOEX_SCHEME_PKU2U));
    negoex_alert a;
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, 1);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, 1);
    assert_int_equal(a.value.len, 8);
    assert_memory_equal(a.value.data, pulse, 8);
    assert_int_equal(negoex_alert_get(&m, 1, &a), 0);
    assert_int_equal(a.type, 0x42);
    assert_false(a.is_pulse);
    assert_int_equal(a.value.len, 3);
    assert_memory_equal(a.value.data, other, 3);
    assert_int_equal(negoex_alert_get(&m, 2, &a), NEGOEX_ERR_INDEX_RANGE);

    size_t n;
    uint8_t *again = rewrite(&m, &n);
    assert_int_equal(n, need);
    assert_memory_equal(again, b, need);
    free(again);
}

/* Built messages back to back form a valid token. */
static void test_built_token(void **state)
{
    (void)state;
    negoex_header_fields h = header(0, WIN_CONV);
    uint8_t random[NEGOEX_RANDOM_LEN];
    memset(random, 0x33, sizeof random);
    static const uint8_t meta[4] = {'M', 'E', 'T', 'A'};
    static const uint8_t cks[12] = {0};
    uint8_t pulse[8];
    negoex_encode_pulse(pulse, 1);
    negoex_alert al = {NEGOEX_ALERT_TYPE_PULSE, {pulse, 8}, 0, 0};

    uint8_t tok[512];
    size_t pos = 0, got;
    size_t offs[5];
    offs[0] = pos;
    expect_rc(negoex_write_nego(tok + pos, sizeof tok - pos, &got, NEGOEX_INITIATOR_NEGO, &h, random,
                                &NEGOEX_SCHEME_PKU2U, 1, NULL, 0),
              0);
    pos += got;
    h.seq = 1;
    offs[1] = pos;
    expect_rc(negoex_write_exchange(tok + pos, sizeof tok - pos, &got, NEGOEX_INITIATOR_META_DATA, &h,
                                    &NEGOEX_SCHEME_PKU2U, meta, sizeof meta),
              0);
    pos += got;
    h.seq = 2;
    offs[2] = pos;
    expect_rc(negoex_write_exchange(tok + pos, sizeof tok - pos, &got, NEGOEX_AP_REQUEST, &h, &NEGOEX_SCHEME_PKU2U,
                                    NULL, 0),
              0);
    pos += got;
    h.seq = 3;
    offs[3] = pos;
    expect_rc(negoex_write_verify(tok + pos, sizeof tok - pos, &got, &h, &NEGOEX_SCHEME_PKU2U, 16, cks, 12), 0);
    pos += got;
    h.seq = 4;
    offs[4] = pos;
    expect_rc(negoex_write_alert(tok + pos, sizeof tok - pos, &got, &h, &NEGOEX_SCHEME_PKU2U, 0, &al, 1), 0);
    pos += got;
    assert_int_equal(pos, 112 + 68 + 64 + 92 + 92);

    negoex_error_info e;
    assert_int_equal(negoex_token_validate(tok, pos, &e), 5);
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, pos);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(negoex_reader_next(&r, &m), 1);
        assert_int_equal(m.seq, i);
        assert_int_equal(m.offset, offs[i]);
    }
    assert_int_equal(negoex_reader_next(&r, &m), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rewrite_windows_messages),
        cmocka_unit_test(test_rewrite_samba_messages),
        cmocka_unit_test(test_rewrite_mit_messages),
        cmocka_unit_test(test_build_windows_nego_exact),
        cmocka_unit_test(test_build_windows_exchange_exact),
        cmocka_unit_test(test_build_windows_verify_exact),
        cmocka_unit_test(test_encode_pulse),
        cmocka_unit_test(test_build_alert_layout),
        cmocka_unit_test(test_size_query_and_small_buffer),
        cmocka_unit_test(test_builder_wrong_type),
        cmocka_unit_test(test_builder_too_large),
        cmocka_unit_test(test_build_parse_nego),
        cmocka_unit_test(test_build_parse_exchange),
        cmocka_unit_test(test_build_parse_verify),
        cmocka_unit_test(test_build_parse_alert_two),
        cmocka_unit_test(test_built_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
