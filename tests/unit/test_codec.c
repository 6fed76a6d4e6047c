/*
 * Codec reader tests: every valid vector decodes with its fields, every rule of
 * docs/codec-errors.md rejects a mutated real vector with the documented code,
 * absolute offset and field name.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
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
#define V_BROKEN "windows/negoex/SYNTHETIC_BROKEN_picky_verify_encode_seq9.bin"
#define V_HDRONLY "windows/negoex/win_acceptor_nego_seq2_HEADER_ONLY.bin"
#define V_IMETA_DER "windows/negoex/win_pku2u_initiator_metadata_payload.der"
#define V_AMETA_DER "windows/negoex/win_pku2u_acceptor_metadata_payload.der"
#define V_SAMBA "windows/spnego/samba_torture_ndr_negoex_MESSAGE_ARRAY.hex"
#define V_MIT_NEGO "mit/scenarios/01-one-hop/00-i2a.negoex"
#define V_MIT_ALERT "mit/scenarios/17-alert-acceptor-to-initiator/01-a2i.negoex"
#define MIT_ALERT_OFF 323u /* 128 + 65 + 65 + 65: the 5th message of that token */
#define MIT_ALERT_LEN 92u

#define WIN_CONV "3b29075a-f391-af33-a1b4-a212249d7cb4"
#define PKU2U_TEXT "0d53335c-f9ea-4d0d-b2ec-4ae3786ec308"
#define MIT_SCHEME1 "c0a28569-66ac-0000-0000-000000000000"
#define MIT_SCHEME2 "d1b08469-2ca8-0000-0000-000000000000"
#define NXTOY_SCHEME "6f74786e-2d79-6373-6865-6d652d303031"

/* Offsets of the four valid Windows messages when concatenated. */
#define OFF_NEGO 0u
#define OFF_IMETA 112u
#define OFF_AMETA 409u
#define OFF_VERIFY 647u
#define CAT_LEN 739u

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static void put_u16(uint8_t *p, size_t off, uint16_t v)
{
    p[off] = (uint8_t)v;
    p[off + 1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, size_t off, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, size_t off, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[off + (size_t)i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p, size_t off)
{
    return (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
           (uint32_t)p[off + 3] << 24;
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

/* Concatenation of vector files (NULL-terminated list). */
static uint8_t *load_cat(const char *const *rels, size_t *len)
{
    uint8_t *out = NULL;
    size_t total = 0;
    for (size_t i = 0; rels[i] != NULL; i++) {
        size_t n;
        uint8_t *b = tu_load(rels[i], &n);
        uint8_t *grown = realloc(out, total + n);
        assert_non_null(grown);
        out = grown;
        memcpy(out + total, b, n);
        total += n;
        free(b);
    }
    *len = total;
    return out;
}

/* The four valid Windows messages, back to back (739 bytes). */
static uint8_t *load_windows_cat(size_t *len)
{
    static const char *const rels[] = {V_NEGO, V_IMETA, V_AMETA, V_VERIFY, NULL};
    uint8_t *b = load_cat(rels, len);
    assert_int_equal(*len, CAT_LEN);
    return b;
}

/* The MIT ALERT message alone (92 bytes). */
static uint8_t *load_mit_alert(size_t *len)
{
    size_t n;
    uint8_t *tok = tu_load(V_MIT_ALERT, &n);
    assert_int_equal(n, MIT_ALERT_OFF + MIT_ALERT_LEN);
    uint8_t *b = malloc(MIT_ALERT_LEN);
    assert_non_null(b);
    memcpy(b, tok + MIT_ALERT_OFF, MIT_ALERT_LEN);
    free(tok);
    *len = MIT_ALERT_LEN;
    return b;
}

static void guid_text(const negoex_guid *g, char out[NEGOEX_GUID_STRING_LEN + 1])
{
    negoex_guid_format(g, out);
}

static void assert_guid_text(const negoex_guid *g, const char *text)
{
    char t[NEGOEX_GUID_STRING_LEN + 1];
    guid_text(g, t);
    assert_string_equal(t, text);
}

static const char *safe(const char *s)
{
    return s ? s : "(null)";
}

/* Compares a returned code and error info with the expectation; on mismatch
 * prints both sides by name and fails at the caller's line. */
static void check_error(const char *what, int rc, const negoex_error_info *e, int code, size_t off,
                        const char *field, const char *file, int line)
{
    if (rc == code && e->code == code && e->offset == off && e->field != NULL &&
        strcmp(e->field, field) == 0)
        return;
    print_error("%s:%d: %s: expected %s (%d) at offset %zu field \"%s\"; got rc=%s (%d), "
                "info=%s (%d) at offset %zu field \"%s\"\n",
                file, line, what, negoex_error_name(code), code, off, field, negoex_error_name(rc), rc,
                negoex_error_name(e->code), e->code, e->offset, safe(e->field));
    _fail(file, line);
}

/*
 * The token is rejected with (code, off, field), by negoex_parse_message at
 * msg_off, by negoex_token_validate and by the reader (every message before
 * msg_off decoding, the error then sticking).
 */
static void expect_reject_(const uint8_t *tok, size_t len, size_t msg_off, int code, size_t off,
                           const char *field, const char *file, int line)
{
    negoex_message m;
    negoex_error_info e;
    int rc;

    memset(&e, 0, sizeof e);
    rc = negoex_parse_message(tok, len, msg_off, &m, &e);
    check_error("negoex_parse_message", rc, &e, code, off, field, file, line);

    memset(&e, 0, sizeof e);
    rc = negoex_token_validate(tok, len, &e);
    check_error("negoex_token_validate", rc, &e, code, off, field, file, line);

    negoex_reader r;
    negoex_reader_init(&r, tok, len);
    for (;;) {
        rc = negoex_reader_next(&r, &m);
        if (rc != 1)
            break;
        if (m.offset >= msg_off) {
            print_error("%s:%d: reader accepted the message at %zu\n", file, line, m.offset);
            _fail(file, line);
        }
    }
    check_error("negoex_reader_next", rc, &r.error, code, off, field, file, line);
    rc = negoex_reader_next(&r, &m);
    check_error("negoex_reader_next (again)", rc, &r.error, code, off, field, file, line);
}
#define expect_reject(tok, len, msg_off, code, off, field)                                         \
    expect_reject_((tok), (len), (msg_off), (code), (off), (field), __FILE__, __LINE__)

/* The token is accepted and holds n messages. */
static void expect_valid_(const uint8_t *tok, size_t len, int n, const char *file, int line)
{
    negoex_error_info e;
    memset(&e, 0, sizeof e);
    int rc = negoex_token_validate(tok, len, &e);
    if (rc != n) {
        print_error("%s:%d: negoex_token_validate = %d (%s), expected %d; info %s at %zu field %s\n",
                    file, line, rc, negoex_error_name(rc), n, negoex_error_name(e.code), e.offset,
                    safe(e.field));
        _fail(file, line);
    }
}
#define expect_valid(tok, len, n) expect_valid_((tok), (len), (n), __FILE__, __LINE__)

/* Parses the message at off, which must succeed. */
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

/* A NEGO built by the writer: PKU2U plus the given extensions (Windows NEGO in
 * front of it when with_prefix, so the built message sits at 112). */
static uint8_t *build_nego_with_extensions(const negoex_extension *exts, size_t n_ext, int with_prefix,
                                           size_t *msg_off, size_t *len)
{
    negoex_header_fields hdr;
    uint8_t random[NEGOEX_RANDOM_LEN];
    memset(&hdr, 0, sizeof hdr);
    hdr.seq = 1;
    assert_int_equal(negoex_guid_parse(&hdr.conversation_id, WIN_CONV), 0);
    for (size_t i = 0; i < sizeof random; i++)
        random[i] = (uint8_t)(0xa0 + i);

    size_t need = 0;
    assert_int_equal(negoex_write_nego(NULL, 0, &need, NEGOEX_ACCEPTOR_NEGO, &hdr, random, &NEGOEX_SCHEME_PKU2U, 1,
                                       exts, n_ext),
                     0);
    size_t prefix = 0;
    uint8_t *pre = NULL;
    if (with_prefix)
        pre = tu_load(V_NEGO, &prefix);
    uint8_t *b = malloc(prefix + need);
    assert_non_null(b);
    if (prefix)
        memcpy(b, pre, prefix);
    free(pre);
    size_t got = 0;
    assert_int_equal(negoex_write_nego(b + prefix, need, &got, NEGOEX_ACCEPTOR_NEGO, &hdr, random,
                                       &NEGOEX_SCHEME_PKU2U, 1, exts, n_ext),
                     0);
    assert_int_equal(got, need);
    *msg_off = prefix;
    *len = prefix + need;
    return b;
}

/* ------------------------------------------------------------------------ */
/* constants                                                                */
/* ------------------------------------------------------------------------ */

static void test_wire_constants(void **state)
{
    (void)state;
    assert_int_equal(NEGOEX_MESSAGE_HEADER_LEN, 40);
    assert_int_equal(NEGOEX_NEGO_HEADER_LEN, 96);
    assert_int_equal(NEGOEX_EXCHANGE_HEADER_LEN, 64);
    assert_int_equal(NEGOEX_VERIFY_HEADER_LEN, 80);
    assert_int_equal(NEGOEX_ALERT_HEADER_LEN, 72);
    assert_int_equal(NEGOEX_ALERT_HEADER_MIN, 68);
    assert_int_equal(NEGOEX_CHECKSUM_HEADER_LEN, 20);
    assert_int_equal(NEGOEX_EXTENSION_LEN, 12);
    assert_int_equal(NEGOEX_ALERT_LEN, 12);
    assert_int_equal(NEGOEX_AUTH_SCHEME_LEN, 16);
    assert_int_equal(NEGOEX_ALERT_PULSE_LEN, 8);
    assert_int_equal(NEGOEX_RANDOM_LEN, 32);
    assert_int_equal(NEGOEX_PROTOCOL_VERSION, 0);
    assert_int_equal(NEGOEX_CHECKSUM_SCHEME_RFC3961, 1);
    assert_int_equal(NEGOEX_ALERT_TYPE_PULSE, 1);
    assert_int_equal(NEGOEX_ALERT_VERIFY_NO_KEY, 1);
    assert_int_equal(NEGOEX_EXTENSION_CRITICAL, 0x80000000u);
    assert_int_equal(NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM, 25);
    assert_int_equal(NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM, 23);
    assert_int_equal(NEGOEX_MESSAGE_TYPE_COUNT, 8);

    /* "NEGOEXTS" read little-endian */
    const uint8_t *sig = (const uint8_t *)NEGOEX_SIGNATURE;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | sig[i];
    assert_int_equal(strlen(NEGOEX_SIGNATURE), 8);
    assert_true(v == NEGOEX_SIGNATURE_U64);

    /* fixed parts: 40-byte header + the type's fields (wire.md table) */
    assert_int_equal(NEGOEX_NEGO_HEADER_LEN, 40 + 32 + 8 + 8 + 8);
    assert_int_equal(NEGOEX_EXCHANGE_HEADER_LEN, 40 + 16 + 8);
    assert_int_equal(NEGOEX_VERIFY_HEADER_LEN, 40 + 16 + 20 + 4);
    assert_int_equal(NEGOEX_ALERT_HEADER_MIN, 40 + 16 + 4 + 8);
    assert_int_equal(NEGOEX_ALERT_HEADER_LEN, NEGOEX_ALERT_HEADER_MIN + 4);

    static const uint8_t oid[10] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e};
    assert_int_equal(NEGOEX_OID_DER_LEN, 10);
    assert_memory_equal(NEGOEX_OID_DER, oid, sizeof oid);
    assert_string_equal(NEGOEX_OID_TEXT, "1.3.6.1.4.1.311.2.2.30");
}

static void test_message_types(void **state)
{
    (void)state;
    static const char *const names[8] = {"INITIATOR_NEGO",     "ACCEPTOR_NEGO", "INITIATOR_META_DATA",
                                         "ACCEPTOR_META_DATA", "CHALLENGE",     "AP_REQUEST",
                                         "VERIFY",             "ALERT"};
    static const negoex_structure structs[8] = {
        NEGOEX_STRUCT_NEGO,     NEGOEX_STRUCT_NEGO,     NEGOEX_STRUCT_EXCHANGE, NEGOEX_STRUCT_EXCHANGE,
        NEGOEX_STRUCT_EXCHANGE, NEGOEX_STRUCT_EXCHANGE, NEGOEX_STRUCT_VERIFY,   NEGOEX_STRUCT_ALERT};
    for (uint32_t t = 0; t < 8; t++) {
        const char *n = negoex_message_type_name(t);
        assert_non_null(n);
        assert_string_equal(n, names[t]);
        assert_int_equal(negoex_message_structure(t), structs[t]);
    }
    assert_int_equal(NEGOEX_INITIATOR_NEGO, 0);
    assert_int_equal(NEGOEX_ALERT, 7);
    assert_null(negoex_message_type_name(8));
    assert_null(negoex_message_type_name(0xffffffffu));
    assert_int_equal(negoex_message_structure(8), NEGOEX_STRUCT_NONE);
    assert_int_equal(negoex_message_structure(0xffffffffu), NEGOEX_STRUCT_NONE);
}

/* ------------------------------------------------------------------------ */
/* valid vectors                                                            */
/* ------------------------------------------------------------------------ */

static void test_win_initiator_nego(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    assert_int_equal(len, 112);

    negoex_message m;
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.type, NEGOEX_INITIATOR_NEGO);
    assert_int_equal(m.seq, 0);
    assert_guid_text(&m.conversation_id, WIN_CONV);
    assert_int_equal(m.header_length, 96);
    assert_int_equal(m.message_length, 112);
    assert_int_equal(m.offset, 0);
    assert_ptr_equal(m.raw.data, b);
    assert_int_equal(m.raw.len, 112);

    static const uint8_t random[32] = {0xab, 0x1e, 0x9d, 0x6d, 0xa6, 0x77, 0x1d, 0xd4, 0x1a, 0x28, 0x0e,
                                       0x57, 0x45, 0xbb, 0xd9, 0x84, 0xc3, 0x5d, 0x2c, 0xdb, 0x70, 0x72,
                                       0xb8, 0x88, 0x19, 0x5c, 0x76, 0xef, 0x71, 0x6f, 0x47, 0x78};
    assert_ptr_equal(m.u.nego.random, b + 40);
    assert_memory_equal(m.u.nego.random, random, 32);
    assert_true(m.u.nego.protocol_version == 0);
    assert_int_equal(m.u.nego.auth_scheme_count, 1);
    assert_ptr_equal(m.u.nego.auth_schemes, b + 96);
    assert_int_equal(m.u.nego.extension_count, 0);

    negoex_guid g;
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_guid_text(&g, PKU2U_TEXT);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));
    assert_string_equal(negoex_guid_label(&g), "PKU2U");

    expect_valid(b, len, 1);
    free(b);
}

static void check_exchange_vector(const char *rel, const char *der_rel, uint32_t type, uint32_t seq,
                                  size_t msg_len, size_t exch_len)
{
    size_t len, der_len;
    uint8_t *b = tu_load(rel, &len);
    uint8_t *der = tu_load(der_rel, &der_len);
    assert_int_equal(len, msg_len);
    assert_int_equal(der_len, exch_len);

    negoex_message m;
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.type, type);
    assert_int_equal(m.seq, seq);
    assert_guid_text(&m.conversation_id, WIN_CONV);
    assert_int_equal(m.header_length, 64);
    assert_int_equal(m.message_length, msg_len);
    assert_int_equal(m.offset, 0);
    assert_ptr_equal(m.raw.data, b);
    assert_int_equal(m.raw.len, msg_len);
    assert_guid_text(&m.u.exchange.auth_scheme, PKU2U_TEXT);
    assert_int_equal(m.u.exchange.exchange.len, exch_len);
    assert_ptr_equal(m.u.exchange.exchange.data, b + 64);
    assert_memory_equal(m.u.exchange.exchange.data, der, der_len);

    negoex_guid g;
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));
    expect_valid(b, len, 1);
    free(der);
    free(b);
}

static void test_win_initiator_metadata(void **state)
{
    (void)state;
    check_exchange_vector(V_IMETA, V_IMETA_DER, NEGOEX_INITIATOR_META_DATA, 1, 297, 233);
}

static void test_win_acceptor_metadata(void **state)
{
    (void)state;
    check_exchange_vector(V_AMETA, V_AMETA_DER, NEGOEX_ACCEPTOR_META_DATA, 3, 238, 174);
}

static void test_win_initiator_verify(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_VERIFY, &len);
    assert_int_equal(len, 92);

    negoex_message m;
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.type, NEGOEX_VERIFY);
    assert_int_equal(m.seq, 7);
    assert_guid_text(&m.conversation_id, WIN_CONV);
    assert_int_equal(m.header_length, 80);
    assert_int_equal(m.message_length, 92);
    assert_guid_text(&m.u.verify.auth_scheme, PKU2U_TEXT);
    assert_int_equal(m.u.verify.checksum_scheme, 1);
    assert_int_equal(m.u.verify.checksum_type, 16);
    assert_int_equal(m.u.verify.checksum.len, 12);
    assert_ptr_equal(m.u.verify.checksum.data, b + 80);
    static const uint8_t cks[12] = {0xe4, 0xa7, 0x70, 0x94, 0x17, 0x83, 0xcc, 0x0c, 0x0d, 0x24, 0x3a, 0x57};
    assert_memory_equal(m.u.verify.checksum.data, cks, 12);

    negoex_guid g;
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));
    expect_valid(b, len, 1);
    free(b);
}

static void test_samba_message_array(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_hex(V_SAMBA, &len);
    assert_int_equal(len, 264);
    expect_valid(b, len, 2);

    negoex_reader r;
    negoex_message m;
    negoex_guid g;
    negoex_reader_init(&r, b, len);

    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_NEGO);
    assert_int_equal(m.seq, 0);
    assert_int_equal(m.offset, 0);
    assert_int_equal(m.header_length, 96);
    assert_int_equal(m.message_length, 112);
    assert_ptr_equal(m.raw.data, b);
    assert_guid_text(&m.conversation_id, "7130cb06-2062-6a1b-409e-3514c26b1773");
    assert_ptr_equal(m.u.nego.random, b + 40);
    static const uint8_t random_head[4] = {0xba, 0x25, 0xdd, 0x80};
    assert_memory_equal(m.u.nego.random, random_head, 4);
    assert_true(m.u.nego.protocol_version == 0);
    assert_int_equal(m.u.nego.auth_scheme_count, 1);
    assert_ptr_equal(m.u.nego.auth_schemes, b + 96);
    assert_int_equal(m.u.nego.extension_count, 0);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_guid_text(&g, PKU2U_TEXT);

    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_META_DATA);
    assert_int_equal(m.seq, 1);
    assert_int_equal(m.offset, 112);
    assert_int_equal(m.header_length, 64);
    assert_int_equal(m.message_length, 152);
    assert_ptr_equal(m.raw.data, b + 112);
    assert_int_equal(m.raw.len, 152);
    assert_guid_text(&m.conversation_id, "7130cb06-2062-6a1b-409e-3514c26b1773");
    assert_guid_text(&m.u.exchange.auth_scheme, PKU2U_TEXT);
    assert_int_equal(m.u.exchange.exchange.len, 88);
    assert_ptr_equal(m.u.exchange.exchange.data, b + 112 + 64);
    static const uint8_t exch_head[4] = {0x30, 0x56, 0xa0, 0x54};
    assert_memory_equal(m.u.exchange.exchange.data, exch_head, 4);

    assert_int_equal(negoex_reader_next(&r, &m), 0);
    assert_int_equal(negoex_reader_next(&r, &m), 0);

    /* the second message parsed on its own, at its absolute offset */
    parse_ok(b, len, 112, &m);
    assert_int_equal(m.offset, 112);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_META_DATA);
    free(b);
}

static void test_concatenated_windows(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_windows_cat(&len);
    expect_valid(b, len, 4);

    static const size_t offs[4] = {OFF_NEGO, OFF_IMETA, OFF_AMETA, OFF_VERIFY};
    static const uint32_t types[4] = {NEGOEX_INITIATOR_NEGO, NEGOEX_INITIATOR_META_DATA,
                                      NEGOEX_ACCEPTOR_META_DATA, NEGOEX_VERIFY};
    static const uint32_t seqs[4] = {0, 1, 3, 7};
    static const uint32_t lens[4] = {112, 297, 238, 92};

    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, b, len);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(negoex_reader_next(&r, &m), 1);
        assert_int_equal(m.offset, offs[i]);
        assert_int_equal(m.type, types[i]);
        assert_int_equal(m.seq, seqs[i]);
        assert_int_equal(m.message_length, lens[i]);
        assert_ptr_equal(m.raw.data, b + offs[i]);
        assert_int_equal(m.raw.len, lens[i]);
        assert_guid_text(&m.conversation_id, WIN_CONV);

        negoex_message p;
        parse_ok(b, len, offs[i], &p);
        assert_int_equal(p.offset, offs[i]);
        assert_int_equal(p.type, types[i]);
        assert_int_equal(p.seq, seqs[i]);
    }
    assert_int_equal(negoex_reader_next(&r, &m), 0);
    assert_int_equal(negoex_reader_next(&r, &m), 0);

    /* views point into the token at their absolute place */
    parse_ok(b, len, OFF_VERIFY, &m);
    assert_ptr_equal(m.u.verify.checksum.data, b + OFF_VERIFY + 80);
    parse_ok(b, len, OFF_IMETA, &m);
    assert_ptr_equal(m.u.exchange.exchange.data, b + OFF_IMETA + 64);
    assert_int_equal(m.u.exchange.exchange.len, 233);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* MIT scenarios                                                            */
/* ------------------------------------------------------------------------ */

struct mit_file {
    const char *path; /* under mit/scenarios */
    const char *types;
    uint32_t lens[5];
};

/* From each scenario's decode.txt (an independent decoder). */
static const struct mit_file MIT_FILES[] = {
    {"01-one-hop/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"01-one-hop/01-a2i.negoex", "1336", {128,65,65,92}},
    {"02-two-hops/00-i2a.negoex", "0225", {128,65,65,75}},
    {"02-two-hops/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"02-two-hops/02-i2a.negoex", "6", {92}},
    {"03-three-hops/00-i2a.negoex", "0225", {128,65,65,75}},
    {"03-three-hops/01-a2i.negoex", "1334", {128,65,65,65}},
    {"03-three-hops/02-i2a.negoex", "56", {75,92}},
    {"03-three-hops/03-a2i.negoex", "6", {92}},
    {"04-four-hops/00-i2a.negoex", "0225", {128,65,65,75}},
    {"04-four-hops/01-a2i.negoex", "1334", {128,65,65,65}},
    {"04-four-hops/02-i2a.negoex", "5", {75}},
    {"04-four-hops/03-a2i.negoex", "46", {65,92}},
    {"04-four-hops/04-i2a.negoex", "6", {92}},
    {"05-early-keys-three-hops/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"05-early-keys-three-hops/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"05-early-keys-three-hops/02-i2a.negoex", "5", {75}},
    {"06-early-keys-four-hops/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"06-early-keys-four-hops/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"06-early-keys-four-hops/02-i2a.negoex", "5", {75}},
    {"06-early-keys-four-hops/03-a2i.negoex", "4", {65}},
    {"08-no-optimistic-token/00-i2a.negoex", "022", {128,65,65}},
    {"08-no-optimistic-token/01-a2i.negoex", "133", {128,65,65}},
    {"08-no-optimistic-token/02-i2a.negoex", "56", {75,92}},
    {"08-no-optimistic-token/03-a2i.negoex", "6", {92}},
    {"09-first-mech-init-query-fail/00-i2a.negoex", "0256", {112,65,75,92}},
    {"09-first-mech-init-query-fail/01-a2i.negoex", "136", {112,65,92}},
    {"10-first-mech-accept-query-fail/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"10-first-mech-accept-query-fail/01-a2i.negoex", "13", {112,65}},
    {"10-first-mech-accept-query-fail/02-i2a.negoex", "56", {75,92}},
    {"10-first-mech-accept-query-fail/03-a2i.negoex", "6", {92}},
    {"11-first-mech-accept-exchange-fail/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"11-first-mech-accept-exchange-fail/01-a2i.negoex", "13", {112,65}},
    {"11-first-mech-accept-exchange-fail/02-i2a.negoex", "56", {75,92}},
    {"11-first-mech-accept-exchange-fail/03-a2i.negoex", "6", {92}},
    {"12-init-exchange-fail-one-hop/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"12-init-exchange-fail-one-hop/01-a2i.negoex", "1336", {128,65,65,92}},
    {"13-init-exchange-fail-two-hops-early-keys/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"13-init-exchange-fail-two-hops-early-keys/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"14-init-exchange-fail-two-hops/00-i2a.negoex", "0225", {128,65,65,75}},
    {"14-init-exchange-fail-two-hops/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"15-first-mech-init-sec-context-fail/00-i2a.negoex", "0256", {112,65,75,92}},
    {"15-first-mech-init-sec-context-fail/01-a2i.negoex", "136", {112,65,92}},
    {"16-first-mech-accept-sec-context-fail/00-i2a.negoex", "0225", {128,65,65,75}},
    {"16-first-mech-accept-sec-context-fail/01-a2i.negoex", "133", {128,65,65}},
    {"16-first-mech-accept-sec-context-fail/02-i2a.negoex", "5", {75}},
    {"16-first-mech-accept-sec-context-fail/03-a2i.negoex", "4", {68}},
    {"17-alert-acceptor-to-initiator/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"17-alert-acceptor-to-initiator/01-a2i.negoex", "13347", {128,65,65,65,92}},
    {"17-alert-acceptor-to-initiator/02-i2a.negoex", "56", {75,92}},
    {"17-alert-acceptor-to-initiator/03-a2i.negoex", "6", {92}},
    {"18-alert-initiator-to-acceptor/00-i2a.negoex", "0225", {128,65,65,75}},
    {"18-alert-initiator-to-acceptor/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"18-alert-initiator-to-acceptor/02-i2a.negoex", "57", {75,92}},
    {"18-alert-initiator-to-acceptor/03-a2i.negoex", "46", {65,92}},
    {"18-alert-initiator-to-acceptor/04-i2a.negoex", "6", {92}},
    {"19-channel-bindings/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"19-channel-bindings/01-a2i.negoex", "1336", {128,65,65,92}},
    {"20-five-hops/00-i2a.negoex", "0225", {128,65,65,75}},
    {"20-five-hops/01-a2i.negoex", "1334", {128,65,65,65}},
    {"20-five-hops/02-i2a.negoex", "5", {75}},
    {"20-five-hops/03-a2i.negoex", "4", {65}},
    {"20-five-hops/04-i2a.negoex", "56", {75,92}},
    {"20-five-hops/05-a2i.negoex", "6", {92}},
    {"22-single-scheme-both-sides/00-i2a.negoex", "0256", {112,65,75,92}},
    {"22-single-scheme-both-sides/01-a2i.negoex", "136", {112,65,92}},
    {"23-acceptor-supports-only-second/00-i2a.negoex", "0225", {128,65,65,75}},
    {"23-acceptor-supports-only-second/01-a2i.negoex", "13", {112,65}},
    {"23-acceptor-supports-only-second/02-i2a.negoex", "5", {75}},
    {"23-acceptor-supports-only-second/03-a2i.negoex", "46", {65,92}},
    {"23-acceptor-supports-only-second/04-i2a.negoex", "6", {92}},
    {"24-no-metadata-either-side/00-i2a.negoex", "056", {112,75,92}},
    {"24-no-metadata-either-side/01-a2i.negoex", "16", {112,92}},
    {"25-initiator-prefers-second/00-i2a.negoex", "02256", {128,65,65,75,92}},
    {"25-initiator-prefers-second/01-a2i.negoex", "133", {128,65,65}},
    {"25-initiator-prefers-second/02-i2a.negoex", "56", {75,92}},
    {"25-initiator-prefers-second/03-a2i.negoex", "6", {92}},
    {"26-no-common-scheme/00-i2a.negoex", "0256", {112,65,75,92}},
    {"27-two-schemes-neg-mechs-both/00-i2a.negoex", "0225", {128,65,65,75}},
    {"27-two-schemes-neg-mechs-both/01-a2i.negoex", "13346", {128,65,65,65,92}},
    {"27-two-schemes-neg-mechs-both/02-i2a.negoex", "6", {92}},
    {"30-nxtoy-basic/00-i2a.negoex", "025", {112,87,87}},
    {"30-nxtoy-basic/01-a2i.negoex", "1346", {112,86,87,92}},
    {"30-nxtoy-basic/02-i2a.negoex", "6", {92}},
    {"31-nxtoy-forced-mechlistmic/00-i2a.negoex", "025", {112,87,87}},
    {"31-nxtoy-forced-mechlistmic/01-a2i.negoex", "1346", {112,86,87,92}},
    {"31-nxtoy-forced-mechlistmic/02-i2a.negoex", "6", {92}},
    {"32-nxtoy-no-early-ctx-PITFALL/00-i2a.negoex", "025", {112,87,87}},
    {"32-nxtoy-no-early-ctx-PITFALL/01-a2i.negoex", "13", {112,86}},
    {"32-nxtoy-no-early-ctx-PITFALL/02-i2a.negoex", "5", {87}},
    {"33-nxtoy-plus-negoextest/00-i2a.negoex", "0225", {128,87,65,87}},
    {"33-nxtoy-plus-negoextest/01-a2i.negoex", "13346", {128,86,65,87,92}},
    {"33-nxtoy-plus-negoextest/02-i2a.negoex", "6", {92}},
    {"34-nxtoy-no-integ-no-meta/00-i2a.negoex", "05", {112,87}},
    {"34-nxtoy-no-integ-no-meta/01-a2i.negoex", "146", {112,87,92}},
    {"34-nxtoy-no-integ-no-meta/02-i2a.negoex", "6", {92}},
};
#define MIT_FILE_COUNT (sizeof MIT_FILES / sizeof MIT_FILES[0])
#define MIT_MESSAGE_TOTAL 279

static int known_mit_scheme(const negoex_guid *g)
{
    char t[NEGOEX_GUID_STRING_LEN + 1];
    guid_text(g, t);
    return strcmp(t, MIT_SCHEME1) == 0 || strcmp(t, MIT_SCHEME2) == 0 || strcmp(t, NXTOY_SCHEME) == 0;
}

static const struct mit_file *find_mit_file(const char *rel)
{
    for (size_t i = 0; i < MIT_FILE_COUNT; i++)
        if (strcmp(MIT_FILES[i].path, rel) == 0)
            return &MIT_FILES[i];
    return NULL;
}

/* Decodes one .negoex file fully; returns the number of messages. Records the
 * sequence numbers seen and the conversation id. */
static int check_mit_file(const char *rel, const struct mit_file *want, uint64_t *seqs_seen,
                          negoex_guid *conv, int *have_conv)
{
    char path[1024];
    snprintf(path, sizeof path, "mit/scenarios/%s", rel);
    size_t len;
    uint8_t *b = tu_load(path, &len);
    int n = (int)strlen(want->types);

    negoex_error_info e;
    memset(&e, 0, sizeof e);
    int rc = negoex_token_validate(b, len, &e);
    if (rc != n)
        fail_msg("%s: negoex_token_validate = %d (%s at %zu, %s), expected %d", rel, rc,
                 negoex_error_name(rc), e.offset, safe(e.field), n);

    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, b, len);
    size_t pos = 0;
    for (int i = 0; i < n; i++) {
        rc = negoex_reader_next(&r, &m);
        if (rc != 1)
            fail_msg("%s: message %d: reader_next = %d (%s)", rel, i, rc, negoex_error_name(rc));
        assert_int_equal(m.offset, pos);
        assert_int_equal(m.type, (uint32_t)(want->types[i] - '0'));
        assert_int_equal(m.message_length, want->lens[i]);
        assert_int_equal(m.raw.len, want->lens[i]);
        assert_ptr_equal(m.raw.data, b + pos);
        assert_true(m.seq < 64);
        assert_false(*seqs_seen & (UINT64_C(1) << m.seq)); /* each seq once per scenario */
        *seqs_seen |= UINT64_C(1) << m.seq;
        if (!*have_conv) {
            *conv = m.conversation_id;
            *have_conv = 1;
        }
        assert_true(negoex_guid_equal(conv, &m.conversation_id));

        negoex_guid g;
        switch (negoex_message_structure(m.type)) {
        case NEGOEX_STRUCT_NEGO:
            assert_int_equal(m.header_length, 96);
            assert_true(m.u.nego.protocol_version == 0);
            assert_true(m.u.nego.auth_scheme_count >= 1);
            assert_int_equal(m.u.nego.extension_count, 0);
            for (size_t k = 0; k < m.u.nego.auth_scheme_count; k++) {
                assert_int_equal(negoex_nego_auth_scheme(&m, k, &g), 0);
                assert_true(known_mit_scheme(&g));
            }
            assert_int_equal(negoex_nego_auth_scheme(&m, m.u.nego.auth_scheme_count, &g),
                             NEGOEX_ERR_INDEX_RANGE);
            break;
        case NEGOEX_STRUCT_EXCHANGE:
            assert_int_equal(m.header_length, 64);
            assert_int_equal(m.u.exchange.exchange.len, want->lens[i] - 64);
            assert_ptr_equal(m.u.exchange.exchange.data, b + pos + 64);
            assert_true(known_mit_scheme(&m.u.exchange.auth_scheme));
            break;
        case NEGOEX_STRUCT_VERIFY:
            assert_int_equal(m.header_length, 80);
            assert_int_equal(m.u.verify.checksum_scheme, 1);
            assert_int_equal(m.u.verify.checksum_type, 16);
            assert_int_equal(m.u.verify.checksum.len, 12);
            assert_ptr_equal(m.u.verify.checksum.data, b + pos + 80);
            assert_true(known_mit_scheme(&m.u.verify.auth_scheme));
            break;
        case NEGOEX_STRUCT_ALERT: {
            negoex_alert a;
            assert_int_equal(m.header_length, 72);
            assert_int_equal(m.u.alert.alert_count, 1);
            assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
            assert_true(a.is_pulse);
            assert_int_equal(a.reason, NEGOEX_ALERT_VERIFY_NO_KEY);
            assert_true(known_mit_scheme(&m.u.alert.auth_scheme));
            break;
        }
        default:
            fail_msg("%s: message %d: no structure for type %u", rel, i, m.type);
        }
        if (m.type != NEGOEX_INITIATOR_NEGO && m.type != NEGOEX_ACCEPTOR_NEGO) {
            assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
            assert_true(known_mit_scheme(&g));
        }
        pos += m.message_length;
    }
    assert_int_equal(negoex_reader_next(&r, &m), 0);
    assert_int_equal(pos, len); /* the messages cover the token exactly */
    free(b);
    return n;
}

static void test_mit_scenarios_all_decode(void **state)
{
    (void)state;
    char root[4096];
    snprintf(root, sizeof root, "%s", tu_path("mit/scenarios"));
    DIR *top = opendir(root);
    if (top == NULL)
        fail_msg("cannot open %s", root);

    unsigned char found[MIT_FILE_COUNT];
    memset(found, 0, sizeof found);
    int files = 0, messages = 0, scenarios_with_tokens = 0;
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
        uint64_t seqs = 0;
        negoex_guid conv;
        int have_conv = 0, scen_msgs = 0;
        struct dirent *fe;
        while ((fe = readdir(sd)) != NULL) {
            size_t nl = strlen(fe->d_name);
            if (nl < 8 || strcmp(fe->d_name + nl - 7, ".negoex") != 0)
                continue;
            char rel[600];
            snprintf(rel, sizeof rel, "%s/%s", scen, fe->d_name);
            const struct mit_file *want = find_mit_file(rel);
            if (want == NULL)
                fail_msg("%s: not in the expected table", rel);
            size_t idx = (size_t)(want - MIT_FILES);
            assert_int_equal(found[idx], 0);
            found[idx] = 1;
            int n = check_mit_file(rel, want, &seqs, &conv, &have_conv);
            files++;
            scen_msgs += n;
        }
        closedir(sd);
        if (scen_msgs > 0) {
            scenarios_with_tokens++;
            /* one counter per conversation, both directions: 0 .. n-1, each once */
            assert_true(scen_msgs < 64);
            assert_true(seqs == (UINT64_C(1) << scen_msgs) - 1);
        }
        messages += scen_msgs;
    }
    closedir(top);
    assert_int_equal(files, MIT_FILE_COUNT);
    assert_int_equal(files, 96);
    assert_int_equal(messages, MIT_MESSAGE_TOTAL);
    assert_int_equal(scenarios_with_tokens, 30);
    for (size_t i = 0; i < MIT_FILE_COUNT; i++)
        if (!found[i])
            fail_msg("%s: expected but not found", MIT_FILES[i].path);
}

static void test_mit_packed_nego(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_MIT_NEGO, &len);
    assert_int_equal(len, 425);
    /* MIT's packed layout: Extensions {offset 96} at 86, so 86..87 read 60 00, 88..95 zero */
    assert_int_equal(b[86], 0x60);
    assert_int_equal(b[87], 0x00);
    for (size_t i = 88; i < 96; i++)
        assert_int_equal(b[i], 0);

    negoex_message m;
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.type, NEGOEX_INITIATOR_NEGO);
    assert_int_equal(m.seq, 0);
    assert_int_equal(m.header_length, 96);
    assert_int_equal(m.message_length, 128);
    assert_true(m.u.nego.protocol_version == 0);
    assert_int_equal(m.u.nego.auth_scheme_count, 2);
    assert_ptr_equal(m.u.nego.auth_schemes, b + 96);
    assert_int_equal(m.u.nego.extension_count, 0);

    negoex_guid g;
    negoex_extension x;
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_guid_text(&g, MIT_SCHEME1);
    assert_int_equal(negoex_nego_auth_scheme(&m, 1, &g), 0);
    assert_guid_text(&g, MIT_SCHEME2);
    assert_int_equal(negoex_nego_auth_scheme(&m, 2, &g), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_INDEX_RANGE);
    assert_null(negoex_guid_label(&g));
    expect_valid(b, len, 5);
    free(b);
}

static void test_mit_alert(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_MIT_ALERT, &len);
    assert_int_equal(len, MIT_ALERT_OFF + MIT_ALERT_LEN);
    expect_valid(b, len, 5);

    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, b, len);
    for (int i = 0; i < 5; i++)
        assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(negoex_reader_next(&r, &m), 0);

    /* the last one is the ALERT */
    assert_int_equal(m.type, NEGOEX_ALERT);
    assert_int_equal(m.seq, 9);
    assert_int_equal(m.offset, MIT_ALERT_OFF);
    assert_int_equal(m.header_length, 72);
    assert_int_equal(m.message_length, 92);
    assert_guid_text(&m.conversation_id, "dd7f47c7-d8a6-df67-2a70-283c9e3a6e6e");
    assert_guid_text(&m.u.alert.auth_scheme, MIT_SCHEME1);
    assert_int_equal(m.u.alert.error_code, 0);
    assert_int_equal(m.u.alert.alert_count, 1);
    assert_ptr_equal(m.u.alert.alerts, b + MIT_ALERT_OFF + 72);

    negoex_alert a;
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, NEGOEX_ALERT_TYPE_PULSE);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, NEGOEX_ALERT_VERIFY_NO_KEY);
    assert_int_equal(a.value.len, 8);
    assert_ptr_equal(a.value.data, b + MIT_ALERT_OFF + 84);
    static const uint8_t pulse[8] = {8, 0, 0, 0, 1, 0, 0, 0};
    assert_memory_equal(a.value.data, pulse, 8);
    assert_int_equal(negoex_alert_get(&m, 1, &a), NEGOEX_ERR_INDEX_RANGE);

    negoex_guid g;
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_guid_text(&g, MIT_SCHEME1);

    /* parsed alone, at its absolute offset */
    negoex_message p;
    parse_ok(b, len, MIT_ALERT_OFF, &p);
    assert_int_equal(p.type, NEGOEX_ALERT);
    assert_int_equal(p.offset, MIT_ALERT_OFF);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* reject rules (docs/codec-errors.md), one test per rule                   */
/* ------------------------------------------------------------------------ */

static void test_reject_empty_token(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    negoex_error_info e;
    memset(&e, 0xff, sizeof e);
    int rc = negoex_token_validate(b, 0, &e);
    check_error("negoex_token_validate", rc, &e, NEGOEX_ERR_EMPTY_TOKEN, 0, "token", __FILE__, __LINE__);

    /* the reader has nothing to return: end of token, not an error */
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, b, 0);
    assert_int_equal(negoex_reader_next(&r, &m), 0);
    free(b);
}

static void test_reject_truncated_header(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);

    /* 39 bytes: one short of a header */
    expect_reject(b, 39, 0, NEGOEX_ERR_TRUNCATED_HEADER, 0, "MessageHeader");
    expect_reject(b, 1, 0, NEGOEX_ERR_TRUNCATED_HEADER, 0, "MessageHeader");

    negoex_message m;
    negoex_error_info e;
    memset(&e, 0, sizeof e);
    int rc = negoex_parse_message(b, 0, 0, &m, &e);
    check_error("negoex_parse_message(len 0)", rc, &e, NEGOEX_ERR_TRUNCATED_HEADER, 0, "MessageHeader",
                __FILE__, __LINE__);
    free(b);

    /* a valid message followed by 10 junk bytes: the junk is a truncated header at 112 */
    uint8_t *j = tu_load(V_NEGO, &len);
    uint8_t *buf = malloc(len + 10);
    assert_non_null(buf);
    memcpy(buf, j, len);
    memset(buf + len, 0x4e, 10);
    expect_reject(buf, len + 10, 112, NEGOEX_ERR_TRUNCATED_HEADER, 112, "MessageHeader");
    /* ... and 39 bytes of a second valid header */
    uint8_t *buf2 = malloc(len + 39);
    assert_non_null(buf2);
    memcpy(buf2, j, len);
    memcpy(buf2 + len, j, 39);
    expect_reject(buf2, len + 39, 112, NEGOEX_ERR_TRUNCATED_HEADER, 112, "MessageHeader");
    free(buf2);
    free(buf);
    free(j);
}

static void test_reject_bad_signature(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    b[0] = 'n';
    expect_reject(b, len, 0, NEGOEX_ERR_BAD_SIGNATURE, 0, "Signature");
    b[0] = 'N';
    b[7] = 'X';
    expect_reject(b, len, 0, NEGOEX_ERR_BAD_SIGNATURE, 0, "Signature");
    free(b);

    /* third message of the Windows token: absolute offset */
    uint8_t *c = load_windows_cat(&len);
    c[OFF_AMETA + 3] ^= 0x20;
    expect_reject(c, len, OFF_AMETA, NEGOEX_ERR_BAD_SIGNATURE, OFF_AMETA, "Signature");
    free(c);

    /* a valid message followed by 40 zero bytes */
    uint8_t *v = tu_load(V_VERIFY, &len);
    uint8_t *z = calloc(1, len + 40);
    assert_non_null(z);
    memcpy(z, v, len);
    expect_reject(z, len + 40, 92, NEGOEX_ERR_BAD_SIGNATURE, 92, "Signature");
    free(z);
    free(v);
}

static void test_reject_unknown_type(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 8, 8);
    expect_reject(b, len, 0, NEGOEX_ERR_UNKNOWN_TYPE, 8, "MessageType");
    put_u32(b, 8, 0xffffffffu);
    expect_reject(b, len, 0, NEGOEX_ERR_UNKNOWN_TYPE, 8, "MessageType");
    put_u32(b, 8, 0x100);
    expect_reject(b, len, 0, NEGOEX_ERR_UNKNOWN_TYPE, 8, "MessageType");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_IMETA + 8, 8);
    expect_reject(c, len, OFF_IMETA, NEGOEX_ERR_UNKNOWN_TYPE, OFF_IMETA + 8, "MessageType");
    free(c);
}

static void test_reject_header_length(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 16, 39);
    expect_reject(b, len, 0, NEGOEX_ERR_HEADER_LENGTH, 16, "cbHeaderLength");
    put_u32(b, 16, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_HEADER_LENGTH, 16, "cbHeaderLength");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_VERIFY + 16, 39);
    expect_reject(c, len, OFF_VERIFY, NEGOEX_ERR_HEADER_LENGTH, OFF_VERIFY + 16, "cbHeaderLength");
    free(c);
}

static void test_reject_message_length(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 20, 95); /* < cbHeaderLength 96 */
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_LENGTH, 20, "cbMessageLength");
    put_u32(b, 20, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_LENGTH, 20, "cbMessageLength");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_IMETA + 20, 63);
    expect_reject(c, len, OFF_IMETA, NEGOEX_ERR_MESSAGE_LENGTH, OFF_IMETA + 20, "cbMessageLength");
    free(c);
}

static void test_reject_message_truncated(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 20, 113);
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    put_u32(b, 20, 0xffffffffu);
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    put_u32(b, 20, 112);
    expect_reject(b, 111, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    expect_reject(b, 40, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    free(b);

    /* a token cut inside its second message */
    uint8_t *c = load_windows_cat(&len);
    expect_reject(c, OFF_AMETA - 1, OFF_IMETA, NEGOEX_ERR_MESSAGE_TRUNCATED, OFF_IMETA + 20,
                  "cbMessageLength");
    expect_reject(c, CAT_LEN - 1, OFF_VERIFY, NEGOEX_ERR_MESSAGE_TRUNCATED, OFF_VERIFY + 20,
                  "cbMessageLength");
    free(c);
}

static void test_reject_header_only_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_HDRONLY, &len);
    assert_int_equal(len, 40);
    /* cbHeaderLength 96, cbMessageLength 112, only 40 bytes present */
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    free(b);
}

static void test_reject_fixed_part(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 16, 64); /* a NEGO needs 96 */
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    put_u32(b, 16, 95);
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    put_u32(b, 16, 40);
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    free(b);

    b = tu_load(V_IMETA, &len);
    put_u32(b, 16, 63); /* an EXCHANGE needs 64 */
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    free(b);

    b = tu_load(V_VERIFY, &len);
    put_u32(b, 16, 76); /* a VERIFY needs 80 */
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    put_u32(b, 16, 79);
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    free(b);

    b = load_mit_alert(&len);
    put_u32(b, 16, 66); /* an ALERT needs 68 */
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    put_u32(b, 16, 67);
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    free(b);

    /* in the middle of the Windows token and of MIT's token */
    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_VERIFY + 16, 76);
    expect_reject(c, len, OFF_VERIFY, NEGOEX_ERR_FIXED_PART, OFF_VERIFY + 16, "cbHeaderLength");
    free(c);
    c = tu_load(V_MIT_ALERT, &len);
    put_u32(c, MIT_ALERT_OFF + 16, 66);
    expect_reject(c, len, MIT_ALERT_OFF, NEGOEX_ERR_FIXED_PART, MIT_ALERT_OFF + 16, "cbHeaderLength");
    free(c);
}

static void test_reject_synthetic_broken_verify(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_BROKEN, &len);
    assert_int_equal(len, 92);
    /* cbHeaderLength 76 < 80 */
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    /* it claims 88 bytes: the parse does not get to the 4 extra bytes either */
    expect_reject(b, 88, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    free(b);
}

static void test_fixed_part_minimum_accepted(void **state)
{
    (void)state;
    size_t len;
    negoex_message m;
    negoex_alert a;

    /* ALERT headers of 68 or more are accepted (the alert array is still at 72) */
    uint8_t *b = load_mit_alert(&len);
    put_u32(b, 16, 68);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.type, NEGOEX_ALERT);
    assert_int_equal(m.header_length, 68);
    assert_int_equal(m.u.alert.alert_count, 1);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, 1);
    put_u32(b, 16, 72);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.header_length, 72);
    free(b);

    /* header exactly the fixed part for each structure */
    b = tu_load(V_NEGO, &len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.header_length, NEGOEX_NEGO_HEADER_LEN);
    free(b);
    b = tu_load(V_AMETA, &len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.header_length, NEGOEX_EXCHANGE_HEADER_LEN);
    free(b);
    b = tu_load(V_VERIFY, &len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.header_length, NEGOEX_VERIFY_HEADER_LEN);
    free(b);
}

static void test_reject_version(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u64(b, 72, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_VERSION, 72, "ProtocolVersion");
    put_u64(b, 72, UINT64_C(0x100000000)); /* the high half counts too */
    expect_reject(b, len, 0, NEGOEX_ERR_VERSION, 72, "ProtocolVersion");
    put_u64(b, 72, UINT64_MAX);
    expect_reject(b, len, 0, NEGOEX_ERR_VERSION, 72, "ProtocolVersion");
    free(b);

    /* samba's ACCEPTOR_NEGO */
    uint8_t *s = load_hex(V_SAMBA, &len);
    put_u64(s, 72, 2);
    expect_reject(s, len, 0, NEGOEX_ERR_VERSION, 72, "ProtocolVersion");
    free(s);
}

static void test_reject_auth_scheme_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u16(b, 84, 2); /* 96 + 2*16 > 112 */
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    put_u16(b, 84, 0xffff);
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    put_u16(b, 84, 1);
    put_u32(b, 80, 97); /* 97 + 16 > 112 */
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    put_u32(b, 80, 113); /* offset beyond the message */
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    free(b);

    /* the message ends one byte early: its scheme no longer fits */
    b = tu_load(V_NEGO, &len);
    put_u32(b, 20, 111);
    expect_reject(b, 111, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    free(b);

    /* a NEGO second in its token: absolute offset */
    static const char *const rels[] = {V_IMETA, V_NEGO, NULL};
    uint8_t *c = load_cat(rels, &len);
    put_u16(c, 297 + 84, 3);
    expect_reject(c, len, 297, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 297 + 80, "AuthSchemes");
    free(c);
}

static void test_reject_extension_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_NEGO, &len);
    put_u32(b, 88, 112);
    put_u16(b, 92, 1); /* 112 + 12 > 112 */
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    put_u32(b, 88, 104); /* 104 + 12 > 112 */
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    put_u32(b, 88, 200);
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    put_u32(b, 88, 96);
    put_u16(b, 92, 2); /* 96 + 24 > 112 */
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    free(b);

    /* a built NEGO with an extension, behind the Windows NEGO */
    static const uint8_t val[4] = {'a', 'b', 'c', 'd'};
    negoex_extension x = {0x1234, 0, {val, sizeof val}};
    size_t mo;
    b = build_nego_with_extensions(&x, 1, 1, &mo, &len);
    expect_valid(b, len, 2);
    put_u16(b, mo + 92, 40);
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VECTOR, mo + 88, "Extensions");
    free(b);
}

static void test_reject_critical_extension(void **state)
{
    (void)state;
    static const uint8_t val[4] = {'a', 'b', 'c', 'd'};
    negoex_extension x[2] = {{0x1234, 0, {val, sizeof val}}, {0x42, 0, {NULL, 0}}};
    size_t mo, len;
    uint8_t *b = build_nego_with_extensions(x, 2, 1, &mo, &len);
    assert_int_equal(mo, 112);
    expect_valid(b, len, 2);
    uint32_t xoff = get_u32(b, mo + 88);
    assert_true(xoff >= 96);
    assert_int_equal(get_u32(b, mo + xoff), 0x1234);
    assert_int_equal(get_u32(b, mo + xoff + 12), 0x42);

    /* first extension critical */
    put_u32(b, mo + xoff, 0x1234u | NEGOEX_EXTENSION_CRITICAL);
    expect_reject(b, len, mo, NEGOEX_ERR_CRITICAL_EXTENSION, mo + xoff, "ExtensionType");
    /* only the second (zero-length value) critical */
    put_u32(b, mo + xoff, 0x1234u);
    put_u32(b, mo + xoff + 12, 0x42u | NEGOEX_EXTENSION_CRITICAL);
    expect_reject(b, len, mo, NEGOEX_ERR_CRITICAL_EXTENSION, mo + xoff + 12, "ExtensionType");
    /* bit 31 alone */
    put_u32(b, mo + xoff + 12, NEGOEX_EXTENSION_CRITICAL);
    expect_reject(b, len, mo, NEGOEX_ERR_CRITICAL_EXTENSION, mo + xoff + 12, "ExtensionType");
    free(b);

    /* the same at the start of a token */
    b = build_nego_with_extensions(x, 1, 0, &mo, &len);
    assert_int_equal(mo, 0);
    xoff = get_u32(b, 88);
    put_u32(b, xoff, 0xffffffffu);
    expect_reject(b, len, 0, NEGOEX_ERR_CRITICAL_EXTENSION, xoff, "ExtensionType");
    free(b);
}

static void test_reject_extension_value(void **state)
{
    (void)state;
    static const uint8_t val[4] = {'a', 'b', 'c', 'd'};
    negoex_extension x[2] = {{0x42, 0, {NULL, 0}}, {0x1234, 0, {val, sizeof val}}};
    size_t mo, len;
    uint8_t *b = build_nego_with_extensions(x, 2, 1, &mo, &len);
    expect_valid(b, len, 2);
    size_t msg_len = len - mo;
    uint32_t xoff = get_u32(b, mo + 88);
    size_t el = mo + xoff + 12; /* the second extension */
    uint32_t voff = get_u32(b, el + 4);
    assert_int_equal(get_u32(b, el + 8), 4);
    assert_true(voff >= 96 && voff + 4 <= msg_len);
    assert_memory_equal(b + mo + voff, val, 4);

    put_u32(b, el + 8, (uint32_t)(msg_len - voff + 1)); /* one byte past the end */
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    put_u32(b, el + 8, 4);
    put_u32(b, el + 4, (uint32_t)msg_len); /* starts at the end */
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    put_u32(b, el + 4, 0x7fffffffu);
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    put_u32(b, el + 4, voff);
    put_u32(b, el + 8, 0xffffffffu);
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    /* the first extension's (empty) value made non-empty and too long */
    put_u32(b, el + 8, 4);
    put_u32(b, mo + xoff + 4, voff);
    put_u32(b, mo + xoff + 8, (uint32_t)(msg_len - voff + 1));
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, mo + xoff + 4, "ExtensionValue");
    free(b);
}

static void test_reject_exchange_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_IMETA, &len);
    put_u32(b, 60, 234); /* 64 + 234 > 297 */
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    put_u32(b, 60, 233);
    put_u32(b, 56, 65);
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    put_u32(b, 56, 298);
    put_u32(b, 60, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_AMETA + 60, 175); /* 64 + 175 > 238 */
    expect_reject(c, len, OFF_AMETA, NEGOEX_ERR_EXCHANGE_VECTOR, OFF_AMETA + 56, "Exchange");
    free(c);
}

static void test_reject_checksum_header(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_VERIFY, &len);
    put_u32(b, 56, 21);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_HEADER, 56, "Checksum.cbHeaderLength");
    put_u32(b, 56, 16);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_HEADER, 56, "Checksum.cbHeaderLength");
    put_u32(b, 56, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_HEADER, 56, "Checksum.cbHeaderLength");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_VERIFY + 56, 24);
    expect_reject(c, len, OFF_VERIFY, NEGOEX_ERR_CHECKSUM_HEADER, OFF_VERIFY + 56,
                  "Checksum.cbHeaderLength");
    free(c);
}

static void test_reject_checksum_scheme(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_VERIFY, &len);
    put_u32(b, 60, 2);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_SCHEME, 60, "ChecksumScheme");
    put_u32(b, 60, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_SCHEME, 60, "ChecksumScheme");
    put_u32(b, 60, 0x80000001u);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_SCHEME, 60, "ChecksumScheme");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_VERIFY + 60, 3);
    expect_reject(c, len, OFF_VERIFY, NEGOEX_ERR_CHECKSUM_SCHEME, OFF_VERIFY + 60, "ChecksumScheme");
    free(c);
}

static void test_reject_checksum_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = tu_load(V_VERIFY, &len);
    put_u32(b, 72, 13); /* 80 + 13 > 92 */
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    put_u32(b, 72, 12);
    put_u32(b, 68, 81);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    put_u32(b, 68, 93);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    free(b);

    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_VERIFY + 72, 0xffffffffu);
    expect_reject(c, len, OFF_VERIFY, NEGOEX_ERR_CHECKSUM_VECTOR, OFF_VERIFY + 68, "ChecksumValue");
    free(c);
}

static void test_reject_alert_vector(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_mit_alert(&len);
    put_u16(b, 64, 2); /* 72 + 24 > 92 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    put_u16(b, 64, 0xffff);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    put_u16(b, 64, 1);
    put_u32(b, 60, 81); /* 81 + 12 > 92 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    put_u32(b, 60, 93);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    free(b);

    uint8_t *c = tu_load(V_MIT_ALERT, &len);
    put_u16(c, MIT_ALERT_OFF + 64, 2);
    expect_reject(c, len, MIT_ALERT_OFF, NEGOEX_ERR_ALERT_VECTOR, MIT_ALERT_OFF + 60, "Alerts");
    free(c);
}

static void test_reject_alert_value(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_mit_alert(&len);
    /* alert 0 at 72: type@72 offset@76 length@80, value at 84 (8 bytes) */
    assert_int_equal(get_u32(b, 76), 84);
    assert_int_equal(get_u32(b, 80), 8);
    put_u32(b, 80, 9); /* 84 + 9 > 92 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    put_u32(b, 80, 8);
    put_u32(b, 76, 85);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    put_u32(b, 76, 1000);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    /* the same for an unknown alert type: its value is still bounds-checked */
    put_u32(b, 72, 0x99);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    free(b);

    uint8_t *c = tu_load(V_MIT_ALERT, &len);
    put_u32(c, MIT_ALERT_OFF + 80, 100);
    expect_reject(c, len, MIT_ALERT_OFF, NEGOEX_ERR_ALERT_VALUE, MIT_ALERT_OFF + 76, "AlertValue");
    free(c);
}

static void test_reject_alert_pulse(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b = load_mit_alert(&len);
    put_u32(b, 80, 4); /* pulse value of 4 bytes */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    put_u32(b, 80, 7);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    put_u32(b, 80, 8);
    put_u32(b, 84, 7); /* pulse cbHeaderLength < 8 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    put_u32(b, 84, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    put_u32(b, 84, 9); /* > value length 8 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    put_u32(b, 84, 0xffffffffu);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 84, "AlertPulse");
    /* a shorter pulse placed elsewhere: the offset follows the value */
    put_u32(b, 84, 8);
    put_u32(b, 76, 86);
    put_u32(b, 80, 6);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_PULSE, 86, "AlertPulse");
    free(b);

    uint8_t *c = tu_load(V_MIT_ALERT, &len);
    put_u32(c, MIT_ALERT_OFF + 80, 4);
    expect_reject(c, len, MIT_ALERT_OFF, NEGOEX_ERR_ALERT_PULSE, MIT_ALERT_OFF + 84, "AlertPulse");
    free(c);
}

/* offset 0xfffffff0-ish + count/length: a naive 32-bit add wraps to a small value */
static void test_reject_vector_offset_overflow(void **state)
{
    (void)state;
    size_t len, mo;
    uint8_t *b;

    /* AuthSchemes: 0xfffffff0 + 1*16 wraps to 0 */
    b = tu_load(V_NEGO, &len);
    put_u32(b, 80, 0xfffffff0u);
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    put_u32(b, 80, 0xffffffe0u);
    put_u16(b, 84, 3); /* + 48 wraps to 16 */
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    free(b);

    /* Extensions: 0xfffffff4 + 1*12 wraps to 0 */
    b = tu_load(V_NEGO, &len);
    put_u32(b, 88, 0xfffffff4u);
    put_u16(b, 92, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    put_u32(b, 88, 0xfffffff0u); /* + 12 wraps to 0xfffffffc, +24 to 8 */
    put_u16(b, 92, 2);
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    free(b);

    /* Extension value: 0xfffffff0 + 0x20 wraps to 0x10 */
    static const uint8_t val[4] = {1, 2, 3, 4};
    negoex_extension x = {7, 0, {val, sizeof val}};
    b = build_nego_with_extensions(&x, 1, 1, &mo, &len);
    size_t el = mo + get_u32(b, mo + 88);
    put_u32(b, el + 4, 0xfffffff0u);
    put_u32(b, el + 8, 0x20);
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    put_u32(b, el + 4, 100);
    put_u32(b, el + 8, 0xffffffffu - 50); /* 100 + that wraps to 49 */
    expect_reject(b, len, mo, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    free(b);

    /* Exchange: 0xfffffff0 + 0x20 wraps to 0x10; 64 + 0xffffffff wraps to 63 */
    b = tu_load(V_IMETA, &len);
    put_u32(b, 56, 0xfffffff0u);
    put_u32(b, 60, 0x20);
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    put_u32(b, 56, 0xfffffff0u);
    put_u32(b, 60, 0x10);
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    put_u32(b, 56, 64);
    put_u32(b, 60, 0xffffffffu);
    expect_reject(b, len, 0, NEGOEX_ERR_EXCHANGE_VECTOR, 56, "Exchange");
    free(b);

    /* ChecksumValue: 0xfffffff4 + 12 wraps to 0 */
    b = tu_load(V_VERIFY, &len);
    put_u32(b, 68, 0xfffffff4u);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    put_u32(b, 68, 80);
    put_u32(b, 72, 0xfffffff0u); /* 80 + that wraps to 64 */
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    free(b);

    /* Alerts: 0xfffffff4 + 1*12 wraps to 0 */
    b = load_mit_alert(&len);
    put_u32(b, 60, 0xfffffff4u);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    free(b);

    /* Alert value: 0xfffffff8 + 8 wraps to 0 */
    b = load_mit_alert(&len);
    put_u32(b, 76, 0xfffffff8u);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    put_u32(b, 76, 84);
    put_u32(b, 80, 0xfffffff0u); /* 84 + that wraps to 68 */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    free(b);
}

/* rule 20: a non-empty vector inside the header (offset < cbHeaderLength) */
static void test_reject_vector_overlaps_header(void **state)
{
    (void)state;
    size_t len, mo;
    uint8_t *b;

    b = tu_load(V_NEGO, &len);
    put_u32(b, 80, 40); /* schemes at 40..56: inside the message, inside the header */
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 80, "AuthSchemes");
    put_u32(b, 80, 95);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 80, "AuthSchemes");
    put_u32(b, 80, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 80, "AuthSchemes");
    free(b);

    b = tu_load(V_NEGO, &len);
    put_u32(b, 88, 0);
    put_u16(b, 92, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 88, "Extensions");
    put_u32(b, 88, 84);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 88, "Extensions");
    free(b);

    static const uint8_t val[4] = {1, 2, 3, 4};
    negoex_extension x = {7, 0, {val, sizeof val}};
    b = build_nego_with_extensions(&x, 1, 1, &mo, &len);
    size_t el = mo + get_u32(b, mo + 88);
    put_u32(b, el + 4, 40);
    expect_reject(b, len, mo, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, el + 4, "ExtensionValue");
    put_u32(b, el + 4, 92); /* 92..96: last bytes of the header */
    expect_reject(b, len, mo, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, el + 4, "ExtensionValue");
    free(b);

    /* exchange offset 40, length 10 */
    b = tu_load(V_IMETA, &len);
    put_u32(b, 56, 40);
    put_u32(b, 60, 10);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 56, "Exchange");
    put_u32(b, 56, 63);
    put_u32(b, 60, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 56, "Exchange");
    free(b);
    uint8_t *c = load_windows_cat(&len);
    put_u32(c, OFF_IMETA + 56, 40);
    put_u32(c, OFF_IMETA + 60, 10);
    expect_reject(c, len, OFF_IMETA, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, OFF_IMETA + 56, "Exchange");
    free(c);

    /* checksum into the header or its padding */
    b = tu_load(V_VERIFY, &len);
    put_u32(b, 68, 64);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 68, "ChecksumValue");
    put_u32(b, 68, 76); /* the SYNTHETIC_BROKEN mistake with a correct cbHeaderLength */
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 68, "ChecksumValue");
    free(b);

    b = load_mit_alert(&len);
    put_u32(b, 60, 40);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 60, "Alerts");
    put_u32(b, 60, 71);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 60, "Alerts");
    free(b);

    b = load_mit_alert(&len);
    put_u32(b, 76, 64);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 76, "AlertValue");
    free(b);

    c = tu_load(V_MIT_ALERT, &len);
    put_u32(c, MIT_ALERT_OFF + 76, 40);
    expect_reject(c, len, MIT_ALERT_OFF, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, MIT_ALERT_OFF + 76,
                  "AlertValue");
    free(c);
}

/* "Checks run in this order; the first failure wins." */
static void test_reject_rule_order(void **state)
{
    (void)state;
    size_t len, mo;
    uint8_t *b;

    b = tu_load(V_NEGO, &len);
    b[0] = 'X';
    put_u32(b, 8, 9);
    put_u32(b, 16, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_BAD_SIGNATURE, 0, "Signature");
    b[0] = 'N';
    expect_reject(b, len, 0, NEGOEX_ERR_UNKNOWN_TYPE, 8, "MessageType");
    put_u32(b, 8, 0);
    put_u32(b, 20, 10); /* also < cbHeaderLength */
    expect_reject(b, len, 0, NEGOEX_ERR_HEADER_LENGTH, 16, "cbHeaderLength");
    put_u32(b, 16, 96);
    put_u32(b, 20, 90);
    put_u64(b, 72, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_LENGTH, 20, "cbMessageLength");
    put_u32(b, 16, 64); /* fixed part too small too */
    put_u32(b, 20, 200);
    expect_reject(b, len, 0, NEGOEX_ERR_MESSAGE_TRUNCATED, 20, "cbMessageLength");
    put_u32(b, 20, 112);
    expect_reject(b, len, 0, NEGOEX_ERR_FIXED_PART, 16, "cbHeaderLength");
    put_u32(b, 16, 96);
    put_u16(b, 84, 5);
    put_u16(b, 92, 5);
    expect_reject(b, len, 0, NEGOEX_ERR_VERSION, 72, "ProtocolVersion");
    put_u64(b, 72, 0);
    expect_reject(b, len, 0, NEGOEX_ERR_AUTH_SCHEME_VECTOR, 80, "AuthSchemes");
    /* rule 20 for AuthSchemes runs right after its bounds rule, before Extensions */
    put_u16(b, 84, 1);
    put_u32(b, 80, 40);
    put_u32(b, 88, 500);
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 80, "AuthSchemes");
    put_u32(b, 80, 96);
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VECTOR, 88, "Extensions");
    free(b);

    /* critical before the value of the same extension */
    negoex_extension x = {7, 0, {NULL, 0}};
    b = build_nego_with_extensions(&x, 1, 0, &mo, &len);
    size_t el = get_u32(b, 88);
    put_u32(b, el, 7u | NEGOEX_EXTENSION_CRITICAL);
    put_u32(b, el + 4, 0x7ffffff0u);
    put_u32(b, el + 8, 16);
    expect_reject(b, len, 0, NEGOEX_ERR_CRITICAL_EXTENSION, el, "ExtensionType");
    put_u32(b, el, 7);
    expect_reject(b, len, 0, NEGOEX_ERR_EXTENSION_VALUE, el + 4, "ExtensionValue");
    free(b);

    b = tu_load(V_VERIFY, &len);
    put_u32(b, 56, 21);
    put_u32(b, 60, 2);
    put_u32(b, 72, 99);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_HEADER, 56, "Checksum.cbHeaderLength");
    put_u32(b, 56, 20);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_SCHEME, 60, "ChecksumScheme");
    put_u32(b, 60, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_CHECKSUM_VECTOR, 68, "ChecksumValue");
    free(b);

    b = load_mit_alert(&len);
    put_u32(b, 80, 99);     /* bad value ... */
    put_u16(b, 64, 3);      /* ... behind a bad vector */
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VECTOR, 60, "Alerts");
    put_u16(b, 64, 1);
    expect_reject(b, len, 0, NEGOEX_ERR_ALERT_VALUE, 76, "AlertValue");
    put_u32(b, 80, 8);
    put_u32(b, 76, 60);     /* inside the header, and a bad pulse there */
    expect_reject(b, len, 0, NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, 76, "AlertValue");
    free(b);
}

/* ------------------------------------------------------------------------ */
/* tolerated on purpose                                                     */
/* ------------------------------------------------------------------------ */

/* An empty vector's offset is never checked (Windows writes 0). */
static void test_empty_vector_garbage_offset_accepted(void **state)
{
    (void)state;
    size_t len, mo;
    uint8_t *b;
    negoex_message m;
    negoex_guid g;
    negoex_extension x;
    negoex_alert a;

    b = tu_load(V_NEGO, &len);
    put_u32(b, 88, 0xdeadbeefu); /* Extensions: count 0 */
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.nego.extension_count, 0);
    assert_int_equal(m.u.nego.auth_scheme_count, 1);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_INDEX_RANGE);
    put_u32(b, 80, 0xffffffffu);
    put_u16(b, 84, 0); /* AuthSchemes: count 0 */
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.nego.auth_scheme_count, 0);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), NEGOEX_ERR_INDEX_RANGE);
    put_u32(b, 80, 40); /* empty and "inside the header": still fine */
    put_u32(b, 88, 1);
    expect_valid(b, len, 1);
    free(b);

    b = tu_load(V_IMETA, &len);
    put_u32(b, 56, 0xdeadbeefu);
    put_u32(b, 60, 0);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.exchange.exchange.len, 0);
    put_u32(b, 56, 40);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.exchange.exchange.len, 0);
    put_u32(b, 56, 0);
    expect_valid(b, len, 1);
    free(b);

    b = tu_load(V_VERIFY, &len);
    put_u32(b, 68, 0xfffffff0u);
    put_u32(b, 72, 0);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.verify.checksum.len, 0);
    assert_int_equal(m.u.verify.checksum_type, 16);
    free(b);

    b = load_mit_alert(&len);
    put_u32(b, 60, 0xffffffffu);
    put_u16(b, 64, 0);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.alert.alert_count, 0);
    assert_int_equal(negoex_alert_get(&m, 0, &a), NEGOEX_ERR_INDEX_RANGE);
    free(b);

    /* an alert of an unknown type with an empty value at a garbage offset */
    b = load_mit_alert(&len);
    put_u32(b, 72, 5);
    put_u32(b, 76, 0xdeadbeefu);
    put_u32(b, 80, 0);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, 5);
    assert_false(a.is_pulse);
    assert_int_equal(a.value.len, 0);
    free(b);

    /* an extension with an empty value at a garbage offset */
    negoex_extension ext = {9, 0, {NULL, 0}};
    b = build_nego_with_extensions(&ext, 1, 1, &mo, &len);
    size_t el = mo + get_u32(b, mo + 88);
    put_u32(b, el + 4, 0xdeadbeefu);
    put_u32(b, el + 8, 0);
    parse_ok(b, len, mo, &m);
    assert_int_equal(m.u.nego.extension_count, 1);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), 0);
    assert_int_equal(x.type, 9);
    assert_int_equal(x.value.len, 0);
    expect_valid(b, len, 2);
    free(b);
}

/* Pad bytes are never read (MIT puts data there). */
static void test_pad_bytes_ignored(void **state)
{
    (void)state;
    size_t len;
    uint8_t *b;
    negoex_message m;
    negoex_alert a;
    negoex_guid g;

    b = tu_load(V_NEGO, &len);
    b[86] = b[87] = b[94] = b[95] = 0xff;
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.nego.auth_scheme_count, 1);
    assert_int_equal(m.u.nego.extension_count, 0);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));
    free(b);

    b = tu_load(V_VERIFY, &len);
    memset(b + 76, 0xff, 4);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.verify.checksum.len, 12);
    assert_ptr_equal(m.u.verify.checksum.data, b + 80);
    free(b);

    b = load_mit_alert(&len);
    memset(b + 66, 0xff, 6);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.alert.alert_count, 1);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, 1);
    free(b);
}

static void test_unknown_extensions_accepted(void **state)
{
    (void)state;
    static const uint8_t v0[4] = {'a', 'b', 'c', 'd'};
    static const uint8_t v2[1] = {'z'};
    negoex_extension in[3] = {
        {0x1234, 0, {v0, sizeof v0}},
        {0x7fffffff, 0, {NULL, 0}},
        {0, 0, {v2, sizeof v2}},
    };
    size_t mo, len;
    uint8_t *b = build_nego_with_extensions(in, 3, 1, &mo, &len);
    expect_valid(b, len, 2);

    negoex_message m;
    parse_ok(b, len, mo, &m);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_NEGO);
    assert_int_equal(m.offset, mo);
    assert_int_equal(m.u.nego.extension_count, 3);
    assert_ptr_equal(m.u.nego.extensions, b + mo + get_u32(b, mo + 88));
    for (size_t i = 0; i < 3; i++) {
        negoex_extension x;
        memset(&x, 0xee, sizeof x);
        assert_int_equal(negoex_nego_extension(&m, i, &x), 0);
        assert_int_equal(x.type, in[i].type);
        assert_int_equal(x.critical, 0);
        assert_int_equal(x.value.len, in[i].value.len);
        if (x.value.len) {
            assert_true(x.value.data >= b + mo + 96 && x.value.data + x.value.len <= b + len);
            assert_memory_equal(x.value.data, in[i].value.data, x.value.len);
        }
    }
    negoex_extension x;
    assert_int_equal(negoex_nego_extension(&m, 3, &x), NEGOEX_ERR_INDEX_RANGE);
    free(b);
}

static void test_unknown_alert_types_accepted(void **state)
{
    (void)state;
    size_t len;
    negoex_message m;
    negoex_alert a;
    uint8_t *b = load_mit_alert(&len);

    put_u32(b, 72, 0x77);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, 0x77);
    assert_false(a.is_pulse);
    assert_int_equal(a.value.len, 8);
    assert_ptr_equal(a.value.data, b + 84);

    put_u32(b, 72, 0);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, 0);
    assert_false(a.is_pulse);

    /* not a pulse, so a short value is fine */
    put_u32(b, 72, 2);
    put_u32(b, 80, 3);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(a.type, 2);
    assert_false(a.is_pulse);
    assert_int_equal(a.value.len, 3);

    /* a pulse with an unknown reason is reported as is */
    put_u32(b, 72, 1);
    put_u32(b, 80, 8);
    put_u32(b, 88, 0x2a);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, 0x2a);
    free(b);
}

/* The codec leaves conversation rules to the context: these all parse. */
static void test_codec_leaves_conversation_rules_alone(void **state)
{
    (void)state;
    size_t len;
    negoex_message m;
    uint8_t *b = tu_load(V_VERIFY, &len);
    put_u32(b, 64, 99); /* unknown (unkeyed) checksum type */
    put_u32(b, 12, 0xffffffffu);
    memset(b + 24, 0, 16);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.verify.checksum_type, 99);
    assert_int_equal(m.seq, 0xffffffffu);
    free(b);

    /* messages of both roles in one token, in no protocol order */
    static const char *const rels[] = {V_VERIFY, V_AMETA, V_NEGO, V_IMETA, V_VERIFY, NULL};
    b = load_cat(rels, &len);
    expect_valid(b, len, 5);
    free(b);
}

/* Vectors need not sit where Windows puts them: views follow the offsets. */
static void test_vectors_at_other_offsets(void **state)
{
    (void)state;
    size_t len, mo;
    negoex_message m;
    negoex_guid g;
    uint8_t *b;

    b = tu_load(V_IMETA, &len);
    put_u32(b, 56, 65);
    put_u32(b, 60, 232);
    parse_ok(b, len, 0, &m);
    assert_ptr_equal(m.u.exchange.exchange.data, b + 65);
    assert_int_equal(m.u.exchange.exchange.len, 232);
    put_u32(b, 56, 296); /* the last byte */
    put_u32(b, 60, 1);
    parse_ok(b, len, 0, &m);
    assert_ptr_equal(m.u.exchange.exchange.data, b + 296);
    assert_int_equal(m.u.exchange.exchange.len, 1);
    free(b);

    b = tu_load(V_VERIFY, &len);
    put_u32(b, 68, 84);
    put_u32(b, 72, 8);
    parse_ok(b, len, 0, &m);
    assert_ptr_equal(m.u.verify.checksum.data, b + 84);
    assert_int_equal(m.u.verify.checksum.len, 8);
    free(b);

    /* MIT NEGO: the AuthSchemes vector moved to its second element */
    b = tu_load(V_MIT_NEGO, &len);
    put_u32(b, 80, 112);
    put_u16(b, 84, 1);
    parse_ok(b, len, 0, &m);
    assert_int_equal(m.u.nego.auth_scheme_count, 1);
    assert_ptr_equal(m.u.nego.auth_schemes, b + 112);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_guid_text(&g, MIT_SCHEME2);
    free(b);

    /* an extension value pointing at the auth scheme bytes */
    static const uint8_t val[4] = {1, 2, 3, 4};
    negoex_extension x = {7, 0, {val, sizeof val}};
    negoex_extension got;
    b = build_nego_with_extensions(&x, 1, 1, &mo, &len);
    size_t el = mo + get_u32(b, mo + 88);
    put_u32(b, el + 4, 96);
    put_u32(b, el + 8, 16);
    parse_ok(b, len, mo, &m);
    assert_int_equal(negoex_nego_extension(&m, 0, &got), 0);
    assert_ptr_equal(got.value.data, b + mo + 96);
    assert_int_equal(got.value.len, 16);
    assert_memory_equal(got.value.data, NEGOEX_SCHEME_PKU2U.bytes, 16);
    free(b);

    /* an alert value at the end of a longer message */
    b = load_mit_alert(&len);
    uint8_t *big = calloc(1, len + 8);
    assert_non_null(big);
    memcpy(big, b, len);
    put_u32(big, 20, (uint32_t)len + 8);
    put_u32(big, 76, (uint32_t)len);
    memcpy(big + len, b + 84, 8);
    negoex_alert a;
    parse_ok(big, len + 8, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_ptr_equal(a.value.data, big + len);
    assert_true(a.is_pulse);
    assert_int_equal(a.reason, 1);
    free(big);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* accessors                                                                */
/* ------------------------------------------------------------------------ */

static void test_accessor_wrong_type(void **state)
{
    (void)state;
    size_t len;
    negoex_message m;
    negoex_guid g;
    negoex_extension x;
    negoex_alert a;
    uint8_t *c = load_windows_cat(&len);

    /* NEGO */
    parse_ok(c, len, OFF_NEGO, &m);
    assert_int_equal(negoex_alert_get(&m, 0, &a), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_message_auth_scheme(&m, &g), NEGOEX_ERR_WRONG_TYPE);

    /* EXCHANGE */
    parse_ok(c, len, OFF_IMETA, &m);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_alert_get(&m, 0, &a), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));

    /* VERIFY */
    parse_ok(c, len, OFF_VERIFY, &m);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_alert_get(&m, 0, &a), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_true(negoex_guid_equal(&g, &NEGOEX_SCHEME_PKU2U));
    free(c);

    /* ALERT */
    uint8_t *b = load_mit_alert(&len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_alert_get(&m, 0, &a), 0);
    assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    assert_guid_text(&g, MIT_SCHEME1);
    free(b);

    /* every exchange type counts as EXCHANGE */
    b = tu_load(V_IMETA, &len);
    for (uint32_t t = NEGOEX_INITIATOR_META_DATA; t <= NEGOEX_AP_REQUEST; t++) {
        put_u32(b, 8, t);
        parse_ok(b, len, 0, &m);
        assert_int_equal(m.type, t);
        assert_int_equal(m.u.exchange.exchange.len, 233);
        assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), NEGOEX_ERR_WRONG_TYPE);
        assert_int_equal(negoex_message_auth_scheme(&m, &g), 0);
    }
    free(b);
}

static void test_accessor_index_range(void **state)
{
    (void)state;
    size_t len;
    negoex_message m;
    negoex_guid g;
    negoex_extension x;
    negoex_alert a;

    uint8_t *b = tu_load(V_NEGO, &len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_nego_auth_scheme(&m, 0, &g), 0);
    assert_int_equal(negoex_nego_auth_scheme(&m, 1, &g), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_nego_auth_scheme(&m, SIZE_MAX, &g), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_nego_extension(&m, 0, &x), NEGOEX_ERR_INDEX_RANGE);
    free(b);

    b = load_mit_alert(&len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_alert_get(&m, 1, &a), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_alert_get(&m, SIZE_MAX, &a), NEGOEX_ERR_INDEX_RANGE);
    free(b);

    negoex_extension in[2] = {{1, 0, {NULL, 0}}, {2, 0, {NULL, 0}}};
    size_t mo;
    b = build_nego_with_extensions(in, 2, 0, &mo, &len);
    parse_ok(b, len, 0, &m);
    assert_int_equal(negoex_nego_extension(&m, 1, &x), 0);
    assert_int_equal(x.type, 2);
    assert_int_equal(negoex_nego_extension(&m, 2, &x), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_nego_extension(&m, (size_t)1 << 16, &x), NEGOEX_ERR_INDEX_RANGE);
    free(b);
}

/* ------------------------------------------------------------------------ */
/* reader                                                                   */
/* ------------------------------------------------------------------------ */

static void test_reader_sticky_error(void **state)
{
    (void)state;
    size_t len;
    uint8_t *c = load_windows_cat(&len);
    c[OFF_AMETA] = 'x';

    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, c, len);
    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.offset, OFF_NEGO);
    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.offset, OFF_IMETA);
    for (int i = 0; i < 3; i++) {
        int rc = negoex_reader_next(&r, &m);
        check_error("negoex_reader_next", rc, &r.error, NEGOEX_ERR_BAD_SIGNATURE, OFF_AMETA, "Signature",
                    __FILE__, __LINE__);
    }
    /* repairing the buffer does not revive a failed reader */
    c[OFF_AMETA] = 'N';
    int rc = negoex_reader_next(&r, &m);
    check_error("negoex_reader_next (repaired)", rc, &r.error, NEGOEX_ERR_BAD_SIGNATURE, OFF_AMETA,
                "Signature", __FILE__, __LINE__);

    /* a fresh reader over the repaired token reads all four */
    negoex_reader_init(&r, c, len);
    for (int i = 0; i < 4; i++)
        assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(negoex_reader_next(&r, &m), 0);
    assert_int_equal(negoex_reader_next(&r, &m), 0);

    /* failure on the very first message */
    put_u32(c, 16, 12);
    negoex_reader_init(&r, c, len);
    for (int i = 0; i < 2; i++) {
        rc = negoex_reader_next(&r, &m);
        check_error("negoex_reader_next", rc, &r.error, NEGOEX_ERR_HEADER_LENGTH, 16, "cbHeaderLength",
                    __FILE__, __LINE__);
    }
    free(c);
}

/* ------------------------------------------------------------------------ */
/* error text                                                               */
/* ------------------------------------------------------------------------ */

#define ERR(name) {NEGOEX_ERR_##name, #name}
static const struct {
    int code;
    const char *name;
} ERROR_CODES[] = {
    ERR(INVALID_ARGUMENT),
    ERR(NO_MEMORY),
    ERR(BUFFER_TOO_SMALL),
    ERR(GUID_SYNTAX),
    ERR(INDEX_RANGE),
    ERR(WRONG_TYPE),
    ERR(TOO_LARGE),
    ERR(EMPTY_TOKEN),
    ERR(TRUNCATED_HEADER),
    ERR(BAD_SIGNATURE),
    ERR(HEADER_LENGTH),
    ERR(MESSAGE_LENGTH),
    ERR(MESSAGE_TRUNCATED),
    ERR(UNKNOWN_TYPE),
    ERR(FIXED_PART),
    ERR(VERSION),
    ERR(AUTH_SCHEME_VECTOR),
    ERR(EXTENSION_VECTOR),
    ERR(EXTENSION_VALUE),
    ERR(CRITICAL_EXTENSION),
    ERR(EXCHANGE_VECTOR),
    ERR(CHECKSUM_VECTOR),
    ERR(CHECKSUM_HEADER),
    ERR(CHECKSUM_SCHEME),
    ERR(ALERT_VECTOR),
    ERR(ALERT_VALUE),
    ERR(ALERT_PULSE),
    ERR(VECTOR_OVERLAPS_HEADER),
    ERR(SEQUENCE),
    ERR(CONVERSATION_ID),
    ERR(WRONG_ROLE),
    ERR(UNEXPECTED_MESSAGE),
    ERR(NO_COMMON_SCHEME),
    ERR(CHECKSUM_MISMATCH),
    ERR(UNKEYED_CHECKSUM),
    ERR(UNSUPPORTED_CHECKSUM),
    ERR(NO_KEY),
    ERR(COMPLETE),
    ERR(TOKEN_TOO_LARGE),
    ERR(TRANSCRIPT_TOO_LARGE),
    ERR(TOO_MANY_SCHEMES),
    ERR(SCHEME_FAILED),
    ERR(RNG),
    ERR(CRYPTO),
    ERR(DUPLICATE_SCHEME),
    ERR(MISSING_TOKEN),
    ERR(FAILED),
    ERR(KEY_SIZE),
    ERR(KRB_MALFORMED),
    ERR(KRB_INTEGRITY),
    ERR(KRB_DIRECTION),
    ERR(KRB_ENCTYPE),
    ERR(DH_PUBLIC),
    ERR(DH_GROUP),
    ERR(CMS_MALFORMED),
    ERR(CMS_SIGNATURE),
    ERR(CMS_CONTENT_TYPE),
    ERR(CMS_DIGEST),
    ERR(CERT_UNTRUSTED),
    ERR(CERT_EXPIRED),
    ERR(CERT_NOT_YET_VALID),
    ERR(CERT_INVALID),
    ERR(CERT_EKU),
    ERR(CERT_NAME),
    ERR(CREDENTIAL_LOAD),
    ERR(DER_TRUNCATED),
    ERR(DER_LENGTH),
    ERR(DER_TAG),
    ERR(DER_TRAILING),
    ERR(DER_VALUE),
    ERR(SPNEGO_OID),
    ERR(SPNEGO_UNEXPECTED),
    ERR(SPNEGO_NO_COMMON_MECH),
    ERR(SPNEGO_REJECTED),
    ERR(SPNEGO_MIC_MISSING),
    ERR(SPNEGO_MIC_MISMATCH),
    ERR(SPNEGO_MIC_UNSUPPORTED),
    ERR(PKU2U_CLOCK_SKEW),
    ERR(PKU2U_PA_CHECKSUM),
    ERR(PKU2U_FINISHED),
    ERR(PKU2U_CHANNEL_BINDINGS),
    ERR(PKU2U_TARGET),
    ERR(PKU2U_MISMATCH),
    ERR(PKU2U_UNEXPECTED),
    ERR(PKU2U_KRB_ERROR),
};
#undef ERR
#define ERROR_CODE_COUNT (sizeof ERROR_CODES / sizeof ERROR_CODES[0])

static void test_error_strings(void **state)
{
    (void)state;
    const char *texts[ERROR_CODE_COUNT + 1];
    const char *names[ERROR_CODE_COUNT + 1];

    for (size_t i = 0; i < ERROR_CODE_COUNT; i++) {
        int code = ERROR_CODES[i].code;
        assert_true(code < 0);
        texts[i] = negoex_strerror(code);
        names[i] = negoex_error_name(code);
        if (texts[i] == NULL || texts[i][0] == '\0')
            fail_msg("negoex_strerror(%d) is empty", code);
        if (names[i] == NULL || strcmp(names[i], ERROR_CODES[i].name) != 0)
            fail_msg("negoex_error_name(%d) = \"%s\", expected \"%s\"", code, safe(names[i]),
                     ERROR_CODES[i].name);
        if (strcmp(texts[i], "unknown error") == 0)
            fail_msg("negoex_strerror(%s) is the unknown-code text", ERROR_CODES[i].name);
    }
    texts[ERROR_CODE_COUNT] = negoex_strerror(NEGOEX_OK);
    names[ERROR_CODE_COUNT] = negoex_error_name(NEGOEX_OK);
    assert_non_null(texts[ERROR_CODE_COUNT]);
    assert_non_null(names[ERROR_CODE_COUNT]);
    assert_true(texts[ERROR_CODE_COUNT][0] != '\0');
    assert_true(names[ERROR_CODE_COUNT][0] != '\0');
    assert_string_not_equal(names[ERROR_CODE_COUNT], "UNKNOWN");
    assert_string_not_equal(texts[ERROR_CODE_COUNT], "unknown error");

    for (size_t i = 0; i <= ERROR_CODE_COUNT; i++) {
        for (size_t j = i + 1; j <= ERROR_CODE_COUNT; j++) {
            if (strcmp(texts[i], texts[j]) == 0)
                fail_msg("negoex_strerror: same text \"%s\" for #%zu and #%zu", texts[i], i, j);
            if (strcmp(names[i], names[j]) == 0)
                fail_msg("negoex_error_name: same name \"%s\" for #%zu and #%zu", names[i], i, j);
        }
    }

    /* codes outside the enum */
    static const int unknown[] = {1, 42, -8, -19, -41, -59, -97, -99, -106, -109, -118, -127, -129, -138, -149, -1000, INT_MIN, INT_MAX};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        assert_string_equal(negoex_strerror(unknown[i]), "unknown error");
        assert_string_equal(negoex_error_name(unknown[i]), "UNKNOWN");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wire_constants),
        cmocka_unit_test(test_message_types),
        cmocka_unit_test(test_win_initiator_nego),
        cmocka_unit_test(test_win_initiator_metadata),
        cmocka_unit_test(test_win_acceptor_metadata),
        cmocka_unit_test(test_win_initiator_verify),
        cmocka_unit_test(test_samba_message_array),
        cmocka_unit_test(test_concatenated_windows),
        cmocka_unit_test(test_mit_scenarios_all_decode),
        cmocka_unit_test(test_mit_packed_nego),
        cmocka_unit_test(test_mit_alert),
        cmocka_unit_test(test_reject_empty_token),
        cmocka_unit_test(test_reject_truncated_header),
        cmocka_unit_test(test_reject_bad_signature),
        cmocka_unit_test(test_reject_unknown_type),
        cmocka_unit_test(test_reject_header_length),
        cmocka_unit_test(test_reject_message_length),
        cmocka_unit_test(test_reject_message_truncated),
        cmocka_unit_test(test_reject_header_only_vector),
        cmocka_unit_test(test_reject_fixed_part),
        cmocka_unit_test(test_reject_synthetic_broken_verify),
        cmocka_unit_test(test_fixed_part_minimum_accepted),
        cmocka_unit_test(test_reject_version),
        cmocka_unit_test(test_reject_auth_scheme_vector),
        cmocka_unit_test(test_reject_extension_vector),
        cmocka_unit_test(test_reject_critical_extension),
        cmocka_unit_test(test_reject_extension_value),
        cmocka_unit_test(test_reject_exchange_vector),
        cmocka_unit_test(test_reject_checksum_header),
        cmocka_unit_test(test_reject_checksum_scheme),
        cmocka_unit_test(test_reject_checksum_vector),
        cmocka_unit_test(test_reject_alert_vector),
        cmocka_unit_test(test_reject_alert_value),
        cmocka_unit_test(test_reject_alert_pulse),
        cmocka_unit_test(test_reject_vector_offset_overflow),
        cmocka_unit_test(test_reject_vector_overlaps_header),
        cmocka_unit_test(test_reject_rule_order),
        cmocka_unit_test(test_empty_vector_garbage_offset_accepted),
        cmocka_unit_test(test_pad_bytes_ignored),
        cmocka_unit_test(test_unknown_extensions_accepted),
        cmocka_unit_test(test_unknown_alert_types_accepted),
        cmocka_unit_test(test_codec_leaves_conversation_rules_alone),
        cmocka_unit_test(test_vectors_at_other_offsets),
        cmocka_unit_test(test_accessor_wrong_type),
        cmocka_unit_test(test_accessor_index_range),
        cmocka_unit_test(test_reader_sticky_error),
        cmocka_unit_test(test_error_strings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
