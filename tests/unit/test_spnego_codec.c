/*
 * SPNEGO codec tests: every MIT token and the Windows SPNEGO blobs decode with
 * their fields and re-encode byte for byte; every DER/SPNEGO rule of
 * docs/spnego-errors.md rejects a hand-made or mutated token with its code,
 * absolute offset and field; the writer's bytes, sizes and argument checks;
 * OID text, validity and names.
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

#include "negoex/negoex.h"
#include "negoex/scheme_test.h"
#include "negoex/spnego.h"
#include "testutil.h"

#define K_INIT NEGOEX_SPNEGO_NEG_TOKEN_INIT
#define K_INIT2 NEGOEX_SPNEGO_NEG_TOKEN_INIT2
#define K_RESP NEGOEX_SPNEGO_NEG_TOKEN_RESP

/* OID content octets, hex */
#define HX_NEGOEX "2b06010401823702021e"
#define HX_NTLM "2b06010401823702020a"
#define HX_KRB "2a864886f712010202"
/* [0] MechTypeList { Kerberos }: 15 bytes; in init() it sits at 4..18 */
#define MECH_K "a00d300b0609" HX_KRB

/* ------------------------------------------------------------------------ */
/* helpers                                                                  */
/* ------------------------------------------------------------------------ */

static uint8_t *hex(const char *h, size_t *len)
{
    uint8_t *p = tu_unhex(h, len);
    tu_track(p);
    return p;
}

/* tag len 30 len <content>, short lengths only: content starts at offset 4. */
static uint8_t *wrap_seq(uint8_t tag, const char *content_hex, size_t *len)
{
    size_t n = 0;
    uint8_t *c = tu_unhex(content_hex, &n);
    assert_true(n + 2 < 0x80);
    uint8_t *t = tu_malloc(n + 4);
    t[0] = tag;
    t[1] = (uint8_t)(n + 2);
    t[2] = 0x30;
    t[3] = (uint8_t)n;
    if (n)
        memcpy(t + 4, c, n);
    free(c);
    *len = n + 4;
    return t;
}

static uint8_t *resp(const char *content_hex, size_t *len)
{
    return wrap_seq(0xa1, content_hex, len);
}

static uint8_t *init(const char *content_hex, size_t *len)
{
    return wrap_seq(0xa0, content_hex, len);
}

static void parse_ok(const uint8_t *b, size_t n, negoex_spnego_token *t, const char *what)
{
    negoex_error_info e = {0, 0, NULL};
    int rc = negoex_spnego_parse(b, n, t, &e);
    if (rc != NEGOEX_OK)
        fail_msg("%s: parse failed %s at %zu (%s)", what, negoex_error_name(rc), e.offset,
                 e.field ? e.field : "?");
}

static void expect_fail_bytes(const uint8_t *b, size_t n, int code, size_t offset, const char *field,
                              const char *what)
{
    negoex_spnego_token t;
    memset(&t, 0x5a, sizeof t);
    negoex_spnego_token before = t;
    negoex_error_info e = {0, 12345, NULL};
    int rc = negoex_spnego_parse(b, n, &t, &e);
    if (rc != code || e.code != code || e.offset != offset || e.field == NULL || strcmp(e.field, field) != 0)
        fail_msg("%s: got %s at %zu (%s), want %s at %zu (%s)", what, negoex_error_name(rc), e.offset,
                 e.field ? e.field : "NULL", negoex_error_name(code), offset, field);
    /* A failed parse leaves the output alone, and err is optional. */
    assert_memory_equal(&t, &before, sizeof t);
    assert_int_equal(negoex_spnego_parse(b, n, &t, NULL), code);
}

#define FAIL_HEX(h, code, off, field)                                                                        \
    do {                                                                                                     \
        size_t n_;                                                                                           \
        uint8_t *b_ = hex(h, &n_);                                                                           \
        expect_fail_bytes(b_, n_, code, off, field, h);                                                      \
        tu_free(b_);                                                                                         \
    } while (0)
#define FAIL_RESP(c, code, off, field)                                                                       \
    do {                                                                                                     \
        size_t n_;                                                                                           \
        uint8_t *b_ = resp(c, &n_);                                                                          \
        expect_fail_bytes(b_, n_, code, off, field, "resp " c);                                              \
        tu_free(b_);                                                                                         \
    } while (0)
#define FAIL_INIT(c, code, off, field)                                                                       \
    do {                                                                                                     \
        size_t n_;                                                                                           \
        uint8_t *b_ = init(c, &n_);                                                                          \
        expect_fail_bytes(b_, n_, code, off, field, "init " c);                                              \
        tu_free(b_);                                                                                         \
    } while (0)

static void assert_oid_text(const negoex_bytes *oid, const char *want)
{
    char text[128];
    size_t need = 0;
    assert_int_equal(negoex_oid_to_text(oid->data, oid->len, text, sizeof text, &need), NEGOEX_OK);
    assert_string_equal(text, want);
    assert_int_equal(need, strlen(want) + 1);
}

static void assert_mech(const negoex_spnego_token *t, size_t i, const char *text, const char *name)
{
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_mech_type(t, i, &oid), NEGOEX_OK);
    assert_oid_text(&oid, text);
    const char *got = negoex_oid_name(oid.data, oid.len);
    if (name == NULL)
        assert_null(got);
    else
        assert_string_equal(got, name);
}

static void assert_bytes_hex(const negoex_bytes *b, const char *h)
{
    size_t n;
    uint8_t *want = hex(h, &n);
    assert_non_null(b->data);
    assert_int_equal(b->len, n);
    assert_memory_equal(b->data, want, n);
    tu_free(want);
}

static void assert_bytes_str(const negoex_bytes *b, const char *s)
{
    assert_non_null(b->data);
    assert_int_equal(b->len, strlen(s));
    assert_memory_equal(b->data, s, b->len);
}

/* Fields that rebuild t (mechs: room for 16 OIDs). */
static void fields_from(const negoex_spnego_token *t, negoex_bytes *mechs, negoex_spnego_fields *f)
{
    negoex_spnego_fields_init(f, t->kind);
    f->framed = t->framed;
    if (t->kind != K_RESP) {
        assert_true(t->mech_type_count >= 1 && t->mech_type_count <= 16);
        negoex_spnego_mech_iter it;
        assert_int_equal(negoex_spnego_mech_iter_init(&it, t), NEGOEX_OK);
        for (size_t i = 0; i < t->mech_type_count; i++) {
            assert_int_equal(negoex_spnego_mech_type(t, i, &mechs[i]), NEGOEX_OK);
            /* the one-pass iterator gives the same OIDs, then ends */
            negoex_bytes next;
            assert_int_equal(negoex_spnego_mech_iter_next(&it, &next), 1);
            assert_ptr_equal(next.data, mechs[i].data);
            assert_int_equal(next.len, mechs[i].len);
        }
        negoex_bytes end;
        assert_int_equal(negoex_spnego_mech_iter_next(&it, &end), 0);
        f->mech_types = mechs;
        f->mech_type_count = t->mech_type_count;
    }
    f->has_req_flags = t->has_req_flags;
    f->req_flags = t->req_flags;
    f->mech_token = t->mech_token;
    f->hint_name = t->hint_name;
    f->hint_address = t->hint_address;
    f->neg_state = t->neg_state;
    f->supported_mech = t->supported_mech;
    f->response_token = t->response_token;
    f->mech_list_mic = t->mech_list_mic;
}

/* Parse, rebuild from the view, write: the same bytes. */
static void assert_round_trip(const uint8_t *b, size_t n, const char *what)
{
    negoex_spnego_token t;
    negoex_spnego_fields f;
    negoex_bytes mechs[16];
    parse_ok(b, n, &t, what);
    fields_from(&t, mechs, &f);
    size_t need = 0, got = 0;
    assert_int_equal(negoex_spnego_write(NULL, 0, &need, &f), NEGOEX_OK);
    assert_int_equal(need, n);
    uint8_t *out = tu_malloc(need);
    assert_int_equal(negoex_spnego_write(out, need, &got, &f), NEGOEX_OK);
    assert_int_equal(got, n);
    if (memcmp(out, b, n) != 0)
        fail_msg("%s: re-encoding differs", what);
    tu_free(out);
}

/* A vector file of hex text. */
static uint8_t *load_hex(const char *rel, size_t *len)
{
    size_t n;
    uint8_t *text = tu_load(rel, &n);
    char *s = malloc(n + 1);
    assert_non_null(s);
    memcpy(s, text, n);
    s[n] = '\0';
    free(text);
    uint8_t *b = tu_unhex(s, len);
    free(s);
    tu_track(b);
    return b;
}

static int file_exists(const char *rel)
{
    FILE *f = fopen(tu_path(rel), "rb");
    if (f == NULL)
        return 0;
    fclose(f);
    return 1;
}

/* ------------------------------------------------------------------------ */
/* MIT krb5 scenarios                                                         */
/* ------------------------------------------------------------------------ */

/* Expectations transcribed from each scenario's decode.txt (an independent
 * decoder). mech_token/response_token: length, -1 = absent. */
typedef struct mit_token {
    const char *dir;
    const char *name;
    size_t len;
    int kind;
    int framed;
    int neg_state;
    int supported_negoex;
    long mech_token;
    long response_token;
    const char *mic;
} mit_token;

static const mit_token MIT[] = {
    {"01-one-hop", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"01-one-hop", "01-a2i", 385, K_RESP, 0, 0, 1, -1, 350, NULL},
    {"02-two-hops", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"02-two-hops", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"02-two-hops", "02-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"02-two-hops", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"03-three-hops", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"03-three-hops", "01-a2i", 358, K_RESP, 0, 1, 1, -1, 323, NULL},
    {"03-three-hops", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"03-three-hops", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"04-four-hops", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"04-four-hops", "01-a2i", 358, K_RESP, 0, 1, 1, -1, 323, NULL},
    {"04-four-hops", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"04-four-hops", "03-a2i", 174, K_RESP, 0, 1, 0, -1, 157, NULL},
    {"04-four-hops", "04-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"04-four-hops", "05-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"05-early-keys-three-hops", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"05-early-keys-three-hops", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"05-early-keys-three-hops", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"05-early-keys-three-hops", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"06-early-keys-four-hops", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"06-early-keys-four-hops", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"06-early-keys-four-hops", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"06-early-keys-four-hops", "03-a2i", 78, K_RESP, 0, 0, 0, -1, 65, NULL},
    {"08-no-optimistic-token", "00-i2a", 302, K_INIT, 1, -1, 0, 258, -1, NULL},
    {"08-no-optimistic-token", "01-a2i", 293, K_RESP, 0, 1, 1, -1, 258, NULL},
    {"08-no-optimistic-token", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"08-no-optimistic-token", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"09-first-mech-init-query-fail", "00-i2a", 388, K_INIT, 1, -1, 0, 344, -1, NULL},
    {"09-first-mech-init-query-fail", "01-a2i", 304, K_RESP, 0, 0, 1, -1, 269, NULL},
    {"10-first-mech-accept-query-fail", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"10-first-mech-accept-query-fail", "01-a2i", 208, K_RESP, 0, 1, 1, -1, 177, NULL},
    {"10-first-mech-accept-query-fail", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"10-first-mech-accept-query-fail", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"11-first-mech-accept-exchange-fail", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"11-first-mech-accept-exchange-fail", "01-a2i", 208, K_RESP, 0, 1, 1, -1, 177, NULL},
    {"11-first-mech-accept-exchange-fail", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"11-first-mech-accept-exchange-fail", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"12-init-exchange-fail-one-hop", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"12-init-exchange-fail-one-hop", "01-a2i", 385, K_RESP, 0, 0, 1, -1, 350, NULL},
    {"12-init-exchange-fail-one-hop", "02-i2a", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"12-init-exchange-fail-one-hop", "03-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"13-init-exchange-fail-two-hops-early-keys", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"13-init-exchange-fail-two-hops-early-keys", "01-a2i", 450, K_RESP, 0, 0, 1, -1, 415, NULL},
    {"13-init-exchange-fail-two-hops-early-keys", "02-i2a", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"13-init-exchange-fail-two-hops-early-keys", "03-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"14-init-exchange-fail-two-hops", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"14-init-exchange-fail-two-hops", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"14-init-exchange-fail-two-hops", "02-i2a", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"14-init-exchange-fail-two-hops", "03-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"15-first-mech-init-sec-context-fail", "00-i2a", 388, K_INIT, 1, -1, 0, 344, -1, NULL},
    {"15-first-mech-init-sec-context-fail", "01-a2i", 304, K_RESP, 0, 0, 1, -1, 269, NULL},
    {"16-first-mech-accept-sec-context-fail", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"16-first-mech-accept-sec-context-fail", "01-a2i", 293, K_RESP, 0, 1, 1, -1, 258, NULL},
    {"16-first-mech-accept-sec-context-fail", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"16-first-mech-accept-sec-context-fail", "03-a2i", 81, K_RESP, 0, 1, 0, -1, 68, NULL},
    {"16-first-mech-accept-sec-context-fail", "04-i2a", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"16-first-mech-accept-sec-context-fail", "05-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"17-alert-acceptor-to-initiator", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"17-alert-acceptor-to-initiator", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"17-alert-acceptor-to-initiator", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"17-alert-acceptor-to-initiator", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"18-alert-initiator-to-acceptor", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"18-alert-initiator-to-acceptor", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"18-alert-initiator-to-acceptor", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"18-alert-initiator-to-acceptor", "03-a2i", 174, K_RESP, 0, 1, 0, -1, 157, NULL},
    {"18-alert-initiator-to-acceptor", "04-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"18-alert-initiator-to-acceptor", "05-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"19-channel-bindings", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"19-channel-bindings", "01-a2i", 385, K_RESP, 0, 0, 1, -1, 350, NULL},
    {"20-five-hops", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"20-five-hops", "01-a2i", 358, K_RESP, 0, 1, 1, -1, 323, NULL},
    {"20-five-hops", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"20-five-hops", "03-a2i", 78, K_RESP, 0, 1, 0, -1, 65, NULL},
    {"20-five-hops", "04-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"20-five-hops", "05-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"22-single-scheme-both-sides", "00-i2a", 388, K_INIT, 1, -1, 0, 344, -1, NULL},
    {"22-single-scheme-both-sides", "01-a2i", 304, K_RESP, 0, 0, 1, -1, 269, NULL},
    {"23-acceptor-supports-only-second", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"23-acceptor-supports-only-second", "01-a2i", 208, K_RESP, 0, 1, 1, -1, 177, NULL},
    {"23-acceptor-supports-only-second", "02-i2a", 88, K_RESP, 0, 1, 0, -1, 75, NULL},
    {"23-acceptor-supports-only-second", "03-a2i", 174, K_RESP, 0, 1, 0, -1, 157, NULL},
    {"23-acceptor-supports-only-second", "04-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"23-acceptor-supports-only-second", "05-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"24-no-metadata-either-side", "00-i2a", 323, K_INIT, 1, -1, 0, 279, -1, NULL},
    {"24-no-metadata-either-side", "01-a2i", 235, K_RESP, 0, 0, 1, -1, 204, NULL},
    {"25-initiator-prefers-second", "00-i2a", 469, K_INIT, 1, -1, 0, 425, -1, NULL},
    {"25-initiator-prefers-second", "01-a2i", 293, K_RESP, 0, 1, 1, -1, 258, NULL},
    {"25-initiator-prefers-second", "02-i2a", 184, K_RESP, 0, 1, 0, -1, 167, NULL},
    {"25-initiator-prefers-second", "03-a2i", 105, K_RESP, 0, 0, 0, -1, 92, NULL},
    {"26-no-common-scheme", "00-i2a", 388, K_INIT, 1, -1, 0, 344, -1, NULL},
    {"26-no-common-scheme", "01-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"27-two-schemes-neg-mechs-both", "00-i2a", 377, K_INIT, 1, -1, 0, 333, -1, NULL},
    {"27-two-schemes-neg-mechs-both", "01-a2i", 450, K_RESP, 0, 1, 1, -1, 415, NULL},
    {"27-two-schemes-neg-mechs-both", "02-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"27-two-schemes-neg-mechs-both", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"30-nxtoy-basic", "00-i2a", 330, K_INIT, 1, -1, 0, 286, -1, NULL},
    {"30-nxtoy-basic", "01-a2i", 412, K_RESP, 0, 1, 1, -1, 377, NULL},
    {"30-nxtoy-basic", "02-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"30-nxtoy-basic", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"31-nxtoy-forced-mechlistmic", "00-i2a", 330, K_INIT, 1, -1, 0, 286, -1, NULL},
    {"31-nxtoy-forced-mechlistmic", "01-a2i", 412, K_RESP, 0, 1, 1, -1, 377, NULL},
    {"31-nxtoy-forced-mechlistmic", "02-i2a", 121, K_RESP, 0, 1, 0, -1, 92, "f774c66b4f533b621ec7144b"},
    {"31-nxtoy-forced-mechlistmic", "03-a2i", 25, K_RESP, 0, 0, 0, -1, -1, "f774c66b4f533b621ec7144b"},
    {"32-nxtoy-no-early-ctx-PITFALL", "00-i2a", 330, K_INIT, 1, -1, 0, 286, -1, NULL},
    {"32-nxtoy-no-early-ctx-PITFALL", "01-a2i", 229, K_RESP, 0, 1, 1, -1, 198, NULL},
    {"32-nxtoy-no-early-ctx-PITFALL", "02-i2a", 100, K_RESP, 0, 1, 0, -1, 87, NULL},
    {"32-nxtoy-no-early-ctx-PITFALL", "03-a2i", 9, K_RESP, 0, 2, 0, -1, -1, NULL},
    {"33-nxtoy-plus-negoextest", "00-i2a", 411, K_INIT, 1, -1, 0, 367, -1, NULL},
    {"33-nxtoy-plus-negoextest", "01-a2i", 493, K_RESP, 0, 1, 1, -1, 458, NULL},
    {"33-nxtoy-plus-negoextest", "02-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"33-nxtoy-plus-negoextest", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
    {"34-nxtoy-no-integ-no-meta", "00-i2a", 238, K_INIT, 1, -1, 0, 199, -1, NULL},
    {"34-nxtoy-no-integ-no-meta", "01-a2i", 326, K_RESP, 0, 1, 1, -1, 291, NULL},
    {"34-nxtoy-no-integ-no-meta", "02-i2a", 105, K_RESP, 0, 1, 0, -1, 92, NULL},
    {"34-nxtoy-no-integ-no-meta", "03-a2i", 9, K_RESP, 0, 0, 0, -1, -1, NULL},
};
#define MIT_COUNT (sizeof MIT / sizeof MIT[0])

static const char MIT_MECH_LIST[] = "300c060a" HX_NEGOEX;

static void check_mit_token(const mit_token *m)
{
    char rel[256], what[256];
    snprintf(rel, sizeof rel, "mit/scenarios/%s/%s.bin", m->dir, m->name);
    snprintf(what, sizeof what, "%s/%s", m->dir, m->name);
    size_t n;
    uint8_t *b = tu_load_tracked(rel, &n);
    assert_int_equal(n, m->len);

    negoex_spnego_token t;
    parse_ok(b, n, &t, what);
    assert_int_equal(t.kind, m->kind);
    assert_int_equal(t.framed, m->framed);
    assert_int_equal(t.neg_state, m->neg_state);
    assert_false(t.has_req_flags);
    assert_null(t.hint_name.data);
    assert_null(t.hint_address.data);
    if (m->kind == K_INIT) {
        assert_int_equal(t.mech_type_count, 1);
        assert_bytes_hex(&t.mech_types, MIT_MECH_LIST);
        assert_mech(&t, 0, NEGOEX_OID_TEXT, "NEGOEX");
        negoex_bytes oid;
        assert_int_equal(negoex_spnego_mech_type(&t, 1, &oid), NEGOEX_ERR_INDEX_RANGE);
    } else {
        assert_null(t.mech_types.data);
        assert_int_equal(t.mech_type_count, 0);
    }
    if (m->supported_negoex) {
        assert_int_equal(t.supported_mech.len, NEGOEX_OID_DER_LEN);
        assert_memory_equal(t.supported_mech.data, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
    } else {
        assert_null(t.supported_mech.data);
    }
    const negoex_bytes *inner = NULL;
    if (m->mech_token >= 0) {
        assert_non_null(t.mech_token.data);
        assert_int_equal(t.mech_token.len, (size_t)m->mech_token);
        inner = &t.mech_token;
    } else {
        assert_null(t.mech_token.data);
    }
    if (m->response_token >= 0) {
        assert_non_null(t.response_token.data);
        assert_int_equal(t.response_token.len, (size_t)m->response_token);
        inner = &t.response_token;
    } else {
        assert_null(t.response_token.data);
    }
    if (m->mic != NULL)
        assert_bytes_hex(&t.mech_list_mic, m->mic);
    else
        assert_null(t.mech_list_mic.data);

    /* The inner token is the captured NEGOEX, byte for byte. */
    snprintf(rel, sizeof rel, "mit/scenarios/%s/%s.negoex", m->dir, m->name);
    if (inner != NULL) {
        size_t nn;
        uint8_t *nx = tu_load_tracked(rel, &nn);
        assert_int_equal(nn, inner->len);
        assert_memory_equal(nx, inner->data, nn);
        assert_true(negoex_token_validate(inner->data, inner->len, NULL) > 0);
        tu_free(nx);
    } else {
        assert_false(file_exists(rel));
    }
    assert_round_trip(b, n, what);
    tu_free(b);
}

static void test_mit_tokens(void **state)
{
    (void)state;
    for (size_t i = 0; i < MIT_COUNT; i++)
        check_mit_token(&MIT[i]);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The table covers every .bin of every scenario directory, and only those. */
static void test_mit_table_complete(void **state)
{
    (void)state;
    char base[4096];
    snprintf(base, sizeof base, "%s", tu_path("mit/scenarios"));
    DIR *d = opendir(base);
    assert_non_null(d);
    size_t dirs = 0, bins = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        char sub[4600];
        snprintf(sub, sizeof sub, "%s/%s", base, e->d_name);
        DIR *s = opendir(sub);
        if (s == NULL)
            continue;
        dirs++;
        struct dirent *f;
        while ((f = readdir(s)) != NULL) {
            size_t l = strlen(f->d_name);
            if (l < 4 || strcmp(f->d_name + l - 4, ".bin") != 0)
                continue;
            bins++;
            int found = 0;
            for (size_t i = 0; i < MIT_COUNT && !found; i++)
                found = strcmp(MIT[i].dir, e->d_name) == 0 && strncmp(MIT[i].name, f->d_name, l - 4) == 0 &&
                        strlen(MIT[i].name) == l - 4;
            if (!found)
                fail_msg("%s/%s is not in the table", e->d_name, f->d_name);
        }
        closedir(s);
    }
    closedir(d);
    assert_int_equal(dirs, 32);
    assert_int_equal(bins, MIT_COUNT);
    assert_int_equal(MIT_COUNT, 116);
    /* no duplicates in the table */
    const char *keys[MIT_COUNT];
    char store[MIT_COUNT][96];
    for (size_t i = 0; i < MIT_COUNT; i++) {
        snprintf(store[i], sizeof store[i], "%s/%s", MIT[i].dir, MIT[i].name);
        keys[i] = store[i];
    }
    qsort(keys, MIT_COUNT, sizeof keys[0], cmp_str);
    for (size_t i = 1; i < MIT_COUNT; i++)
        assert_string_not_equal(keys[i - 1], keys[i]);
}

/* Scenario 31: the forced mechListMIC, the same value both ways. */
static void test_mit_mech_list_mic(void **state)
{
    (void)state;
    static const char *const files[] = {"mit/scenarios/31-nxtoy-forced-mechlistmic/02-i2a.bin",
                                        "mit/scenarios/31-nxtoy-forced-mechlistmic/03-a2i.bin"};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *b = tu_load_tracked(files[i], &n);
        negoex_spnego_token t;
        parse_ok(b, n, &t, files[i]);
        assert_int_equal(t.kind, K_RESP);
        assert_int_equal(t.neg_state, i == 0 ? NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE : NEGOEX_NEG_STATE_ACCEPT_COMPLETED);
        assert_bytes_hex(&t.mech_list_mic, "f774c66b4f533b621ec7144b");
        /* [3] is the last field: a3 0e 04 0c <12 bytes> ends the token */
        assert_true(t.mech_list_mic.data + 12 == b + n);
        assert_int_equal(b[n - 16], 0xa3);
        tu_free(b);
    }
    /* The MIC covers the initiator's MechTypeList TLV. */
    size_t n;
    uint8_t *b = tu_load_tracked("mit/scenarios/31-nxtoy-forced-mechlistmic/00-i2a.bin", &n);
    negoex_spnego_token t;
    parse_ok(b, n, &t, "31/00");
    assert_int_equal(t.mech_types.len, 14);
    assert_true(t.mech_types.data == b + 22); /* 60 82 01 46 | 06 06 .. | a0 82 01 3a | 30 82 01 36 | a0 0e */
    tu_free(b);
}

static void test_mit_reject_token(void **state)
{
    (void)state;
    size_t n;
    uint8_t *want = hex("a1073005a0030a0102", &n);
    static const char *const files[] = {
        "mit/scenarios/12-init-exchange-fail-one-hop/02-i2a.bin", "mit/scenarios/12-init-exchange-fail-one-hop/03-a2i.bin",
        "mit/scenarios/26-no-common-scheme/01-a2i.bin", "mit/scenarios/32-nxtoy-no-early-ctx-PITFALL/03-a2i.bin"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        size_t fn;
        uint8_t *b = tu_load_tracked(files[i], &fn);
        assert_int_equal(fn, n);
        assert_memory_equal(b, want, n);
        tu_free(b);
    }
    negoex_spnego_token t;
    parse_ok(want, n, &t, "reject");
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.framed, 0);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_REJECT);
    assert_null(t.supported_mech.data);
    assert_null(t.response_token.data);
    assert_null(t.mech_list_mic.data);

    /* The writer makes the same 9 bytes. */
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, K_RESP);
    f.neg_state = NEGOEX_NEG_STATE_REJECT;
    uint8_t out[16];
    size_t got = 0;
    assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_OK);
    assert_int_equal(got, n);
    assert_memory_equal(out, want, n);
    tu_free(want);
}

/* ------------------------------------------------------------------------ */
/* Windows SPNEGO (SMB2 NEGOTIATE security blobs and captures)                */
/* ------------------------------------------------------------------------ */

/* The acceptor-first NEGOEX of an SMB2 NEGOTIATE: [NEGOEX, NTLM] and an
 * ACCEPTOR_NEGO + ACCEPTOR_META_DATA mechToken. */
static void check_smb2_blob(const uint8_t *b, size_t n, size_t token_len, const char *what)
{
    negoex_spnego_token t;
    parse_ok(b, n, &t, what);
    assert_int_equal(t.framed, 1);
    assert_int_equal(t.mech_type_count, 2);
    assert_mech(&t, 0, NEGOEX_OID_TEXT, "NEGOEX");
    assert_mech(&t, 1, "1.3.6.1.4.1.311.2.2.10", "NTLM");
    assert_int_equal(t.mech_types.len, 26);
    assert_true(t.mech_types.data == b + 22);
    assert_false(t.has_req_flags);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ABSENT);
    assert_int_equal(t.mech_token.len, token_len);
    assert_memory_equal(t.mech_token.data, NEGOEX_SIGNATURE, 8);
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, t.mech_token.data, t.mech_token.len);
    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_NEGO);
    assert_int_equal(negoex_reader_next(&r, &m), 1);
    assert_int_equal(m.type, NEGOEX_ACCEPTOR_META_DATA);
    assert_int_equal(negoex_reader_next(&r, &m), 0);
    assert_null(t.mech_list_mic.data);
    assert_round_trip(b, n, what);
}

static void test_windows_blobs(void **state)
{
    (void)state;
    /* packetgen and smbj: negHints absent, no [4]: on the wire this is the
     * NegTokenInit encoding, so the kind reads as INIT. */
    static const char *const plain[] = {"windows/spnego/packetgen_smb2_frame2_security_blob.hex",
                                        "windows/spnego/packetgen_smb2_frame4_security_blob.hex",
                                        "windows/spnego/smbj_negTokenInit2_negoex.hex"};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *b = load_hex(plain[i], &n);
        assert_int_equal(n, 320);
        check_smb2_blob(b, n, 264, plain[i]);
        negoex_spnego_token t;
        parse_ok(b, n, &t, plain[i]);
        assert_int_equal(t.kind, K_INIT);
        assert_null(t.hint_name.data);
        assert_null(t.hint_address.data);
        tu_free(b);
    }

    size_t n;
    uint8_t *b = load_hex("windows/spnego/syringe_negTokenInit2_negoex_xmlprovider.hex", &n);
    assert_int_equal(n, 353);
    check_smb2_blob(b, n, 254, "syringe");
    negoex_spnego_token t;
    parse_ok(b, n, &t, "syringe");
    assert_int_equal(t.kind, K_INIT2);
    assert_bytes_str(&t.hint_name, "not_defined_in_RFC4178@please_ignore");
    assert_true(t.hint_name.data == b + 317);
    assert_null(t.hint_address.data);
    tu_free(b);

    /* Not SPNEGO: raw NEGOEX. */
    b = load_hex("windows/spnego/samba_torture_ndr_negoex_MESSAGE_ARRAY.hex", &n);
    expect_fail_bytes(b, n, NEGOEX_ERR_DER_TAG, 0, "NegotiationToken", "samba raw negoex");
    tu_free(b);
}

/* Tokens sliced out of the packetgen captures (offset in the pcapng file). */
static uint8_t *slice(const char *rel, size_t at, size_t len)
{
    size_t n;
    uint8_t *f = tu_load_tracked(rel, &n);
    assert_true(at + len <= n);
    uint8_t *b = tu_malloc(len);
    memcpy(b, f + at, len);
    tu_free(f);
    return b;
}

#define PCAP_NEGO "windows/spnego/packetgen-smb2-nego.pcapng"
#define PCAP_SMB2 "windows/spnego/packetgen-smb2.pcapng"

static void test_windows_captures(void **state)
{
    (void)state;
    negoex_spnego_token t;

    /* Windows Server 2008 R2's NEGOTIATE response: a real NegTokenInit2 with
     * negHints, five mechanisms, no mechToken. */
    uint8_t *b = slice(PCAP_NEGO, 1438, 105);
    parse_ok(b, 105, &t, "nego init2");
    assert_int_equal(t.kind, K_INIT2);
    assert_int_equal(t.framed, 1);
    assert_int_equal(t.mech_type_count, 5);
    assert_mech(&t, 0, NEGOEX_OID_TEXT, "NEGOEX");
    assert_mech(&t, 1, "1.2.840.48018.1.2.2", "MS-Kerberos");
    assert_mech(&t, 2, "1.2.840.113554.1.2.2", "Kerberos");
    assert_mech(&t, 3, "1.2.840.113554.1.2.2.3", "Kerberos-U2U");
    assert_mech(&t, 4, "1.3.6.1.4.1.311.2.2.10", "NTLM");
    assert_bytes_str(&t.hint_name, "Server2008@SMB3.local");
    assert_null(t.hint_address.data);
    assert_null(t.mech_token.data);
    assert_null(t.mech_list_mic.data);
    assert_round_trip(b, 105, "nego init2");
    tu_free(b);

    /* The client's first token: NegTokenInit [NTLM] with NTLM NEGOTIATE. */
    static const struct { const char *file; size_t at; } client_init[] = {{PCAP_NEGO, 1722}, {PCAP_SMB2, 2142}};
    for (size_t i = 0; i < 2; i++) {
        b = slice(client_init[i].file, client_init[i].at, 74);
        parse_ok(b, 74, &t, "client init");
        assert_int_equal(t.kind, K_INIT);
        assert_int_equal(t.framed, 1);
        assert_int_equal(t.mech_type_count, 1);
        assert_mech(&t, 0, "1.3.6.1.4.1.311.2.2.10", "NTLM");
        assert_int_equal(t.mech_token.len, 40);
        assert_memory_equal(t.mech_token.data, "NTLMSSP\0\1\0\0\0", 12);
        assert_round_trip(b, 74, "client init");
        tu_free(b);
    }

    /* The server's NTLM CHALLENGE: accept-incomplete, supportedMech NTLM. */
    static const struct { const char *file; size_t at, len, token; } challenge[] = {{PCAP_NEGO, 1958, 262, 230},
                                                                                  {PCAP_SMB2, 2378, 271, 238}};
    for (size_t i = 0; i < 2; i++) {
        b = slice(challenge[i].file, challenge[i].at, challenge[i].len);
        parse_ok(b, challenge[i].len, &t, "challenge");
        assert_int_equal(t.kind, K_RESP);
        assert_int_equal(t.framed, 0);
        assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE);
        assert_oid_text(&t.supported_mech, "1.3.6.1.4.1.311.2.2.10");
        assert_int_equal(t.response_token.len, challenge[i].token);
        assert_memory_equal(t.response_token.data, "NTLMSSP\0\2\0\0\0", 12);
        assert_null(t.mech_list_mic.data);
        assert_round_trip(b, challenge[i].len, "challenge");
        tu_free(b);
    }

    /* The client's AUTHENTICATE with a mechListMIC (NTLM's 16-byte signature). */
    b = slice(PCAP_NEGO, 2398, 575);
    parse_ok(b, 575, &t, "authenticate");
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE);
    assert_null(t.supported_mech.data);
    assert_int_equal(t.response_token.len, 534);
    assert_memory_equal(t.response_token.data, "NTLMSSP\0\3\0\0\0", 12);
    assert_bytes_hex(&t.mech_list_mic, "0100000042bc83ce2531ce3500000000");
    assert_round_trip(b, 575, "authenticate");
    tu_free(b);

    /* The server's accept-completed with its mechListMIC. */
    b = slice(PCAP_SMB2, 3518, 29);
    parse_ok(b, 29, &t, "accept-completed");
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ACCEPT_COMPLETED);
    assert_null(t.supported_mech.data);
    assert_null(t.response_token.data);
    assert_bytes_hex(&t.mech_list_mic, "010000003b24ffa2f56d67e400000000");
    assert_round_trip(b, 29, "accept-completed");
    tu_free(b);

    /* The two NEGOTIATE responses of packetgen-smb2 are the .hex blobs. */
    static const struct { size_t at; const char *hexfile; } blobs[] = {
        {770, "windows/spnego/packetgen_smb2_frame2_security_blob.hex"},
        {1582, "windows/spnego/packetgen_smb2_frame4_security_blob.hex"}};
    for (size_t i = 0; i < 2; i++) {
        size_t n;
        uint8_t *want = load_hex(blobs[i].hexfile, &n);
        b = slice(PCAP_SMB2, blobs[i].at, n);
        assert_memory_equal(b, want, n);
        tu_free(b);
        tu_free(want);
    }
}

/* ------------------------------------------------------------------------ */
/* Truncation and mutation of real tokens                                     */
/* ------------------------------------------------------------------------ */

/* Every proper prefix fails at the outer TLV (it claims more than there is). */
static void check_prefixes(const uint8_t *b, size_t n, const char *what)
{
    const char *outer = b[0] == 0x60 ? "InitialContextToken" : "NegotiationToken";
    expect_fail_bytes(b, 0, NEGOEX_ERR_EMPTY_TOKEN, 0, "token", what);
    for (size_t l = 1; l < n; l++) {
        /* an exact-size copy, so ASan sees any read past the prefix */
        uint8_t *p = tu_malloc(l);
        memcpy(p, b, l);
        expect_fail_bytes(p, l, NEGOEX_ERR_DER_TRUNCATED, 0, outer, what);
        tu_free(p);
    }
}

static void test_truncation_every_length(void **state)
{
    (void)state;
    for (size_t i = 0; i < MIT_COUNT; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "mit/scenarios/%s/%s.bin", MIT[i].dir, MIT[i].name);
        size_t n;
        uint8_t *b = tu_load_tracked(rel, &n);
        check_prefixes(b, n, rel);
        tu_free(b);
    }
    size_t n;
    uint8_t *b = load_hex("windows/spnego/syringe_negTokenInit2_negoex_xmlprovider.hex", &n);
    check_prefixes(b, n, "syringe");
    tu_free(b);
    b = slice(PCAP_NEGO, 1438, 105);
    check_prefixes(b, 105, "nego init2");
    tu_free(b);
}

/* Every single-bit flip of real tokens: fails with a located error, or parses
 * and then re-encodes to exactly the mutated bytes. */
static void flip_all(const uint8_t *b, size_t n, const char *what)
{
    uint8_t *m = tu_malloc(n);
    for (size_t i = 0; i < n; i++) {
        for (unsigned bit = 0; bit < 8; bit++) {
            memcpy(m, b, n);
            m[i] ^= (uint8_t)(1u << bit);
            negoex_spnego_token t;
            negoex_error_info e = {0, 0, NULL};
            int rc = negoex_spnego_parse(m, n, &t, &e);
            if (rc == NEGOEX_OK) {
                assert_round_trip(m, n, what);
            } else {
                assert_int_equal(e.code, rc);
                assert_true(rc <= NEGOEX_ERR_DER_TRUNCATED && rc >= NEGOEX_ERR_SPNEGO_OID);
                assert_non_null(e.field);
                assert_true(e.offset <= n);
            }
        }
    }
    tu_free(m);
}

static void test_bit_flips(void **state)
{
    (void)state;
    static const char *const files[] = {"mit/scenarios/31-nxtoy-forced-mechlistmic/00-i2a.bin",
                                        "mit/scenarios/31-nxtoy-forced-mechlistmic/03-a2i.bin",
                                        "mit/scenarios/02-two-hops/01-a2i.bin"};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        uint8_t *b = tu_load_tracked(files[i], &n);
        flip_all(b, n, files[i]);
        tu_free(b);
    }
    size_t n;
    uint8_t *b = load_hex("windows/spnego/syringe_negTokenInit2_negoex_xmlprovider.hex", &n);
    flip_all(b, n, "syringe");
    tu_free(b);
    b = slice(PCAP_NEGO, 1438, 105);
    flip_all(b, 105, "nego init2");
    tu_free(b);
}

/* ------------------------------------------------------------------------ */
/* DER rules                                                                  */
/* ------------------------------------------------------------------------ */

#define REJECT "a1073005a0030a0102"

static void test_der_lengths(void **state)
{
    (void)state;
    /* non-minimal: long form for a length under 128, a leading zero octet */
    FAIL_HEX("a18107" "3005a0030a0102", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    FAIL_HEX("a1820007" "3005a0030a0102", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    FAIL_HEX("a1840000 0007" "3005a0030a0102", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    FAIL_HEX("a108" "308105a0030a0102", NEGOEX_ERR_DER_LENGTH, 3, "NegTokenResp");
    FAIL_HEX("a108" "3006" "a081030a0102", NEGOEX_ERR_DER_LENGTH, 5, "negState");
    /* BER's indefinite form */
    FAIL_HEX("a180" "3005a0030a0102" "0000", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    FAIL_HEX("a109" "3080a0030a01020000", NEGOEX_ERR_DER_LENGTH, 3, "NegTokenResp");
    /* five length octets (and the reserved 0xff) */
    FAIL_HEX("a1850000000007" "3005a0030a0102", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    FAIL_HEX("a1ff" "3005a0030a0102", NEGOEX_ERR_DER_LENGTH, 1, "NegotiationToken");
    /* a minimal 4-octet length beyond the token */
    FAIL_HEX("a18401000000" "3005a0030a0102", NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    /* long form cut off inside its length octets */
    FAIL_HEX("a182", NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    FAIL_HEX("a18201", NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    /* the long form itself is fine: 128 bytes of responseToken */
    size_t n;
    uint8_t tok[3 + 3 + 3 + 3 + 128];
    static const uint8_t head[] = {0xa1, 0x81, 0x89, 0x30, 0x81, 0x86, 0xa2, 0x81, 0x83, 0x04, 0x81, 0x80};
    memcpy(tok, head, sizeof head);
    memset(tok + sizeof head, 0x42, 128);
    n = sizeof head + 128;
    negoex_spnego_token t;
    parse_ok(tok, n, &t, "long form");
    assert_int_equal(t.response_token.len, 128);
    assert_true(t.response_token.data == tok + 12);
    assert_round_trip(tok, n, "long form");
}

static void test_der_truncated(void **state)
{
    (void)state;
    FAIL_HEX("a1", NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    FAIL_HEX("a108" "3005a0030a0102", NEGOEX_ERR_DER_TRUNCATED, 0, "NegotiationToken");
    /* the SEQUENCE claims more than its [1] holds */
    FAIL_HEX("a107" "3006a0030a0102", NEGOEX_ERR_DER_TRUNCATED, 2, "NegTokenResp");
    /* a required element missing where its container ends */
    FAIL_HEX("a100", NEGOEX_ERR_DER_TRUNCATED, 2, "NegTokenResp");
    FAIL_RESP("a000", NEGOEX_ERR_DER_TRUNCATED, 6, "negState");
    FAIL_RESP("a00a0a0102", NEGOEX_ERR_DER_TRUNCATED, 4, "negState");
    FAIL_HEX("6008" "06062b0601050502", NEGOEX_ERR_DER_TRUNCATED, 10, "NegotiationToken");
    FAIL_HEX("6000", NEGOEX_ERR_DER_TRUNCATED, 2, "thisMech");
    FAIL_HEX("600a" "06062b0601050502" "a100", NEGOEX_ERR_DER_TRUNCATED, 12, "NegTokenResp");
}

static void test_der_trailing(void **state)
{
    (void)state;
    /* after the whole token */
    FAIL_HEX(REJECT "00", NEGOEX_ERR_DER_TRAILING, 9, "NegotiationToken");
    FAIL_HEX("6011" "06062b0601050502" REJECT "00", NEGOEX_ERR_DER_TRAILING, 19, "InitialContextToken");
    /* inside the framing, after the NegotiationToken */
    FAIL_HEX("6012" "06062b0601050502" REJECT "00", NEGOEX_ERR_DER_TRAILING, 19, "InitialContextToken");
    /* inside [1], after the SEQUENCE */
    FAIL_HEX("a108" "3005a0030a0102" "00", NEGOEX_ERR_DER_TRAILING, 9, "NegotiationToken");
    /* inside the SEQUENCE, after its last field */
    FAIL_RESP("a0030a0102" "00", NEGOEX_ERR_DER_TRAILING, 9, "NegTokenResp");
    FAIL_RESP("a0030a0102" "e0020400", NEGOEX_ERR_DER_TRAILING, 9, "NegTokenResp");
    FAIL_RESP("a3020400" "3000", NEGOEX_ERR_DER_TRAILING, 8, "NegTokenResp");
    FAIL_INIT(MECH_K "00", NEGOEX_ERR_DER_TRAILING, 19, "NegTokenInit");
    /* inside an explicit tag, after its element */
    FAIL_RESP("a0040a010200", NEGOEX_ERR_DER_TRAILING, 9, "negState");
    FAIL_RESP("a10d060a" HX_NEGOEX "00", NEGOEX_ERR_DER_TRAILING, 18, "supportedMech");
    FAIL_INIT("a00e300b0609" HX_KRB "00", NEGOEX_ERR_DER_TRAILING, 19, "mechTypes");
    FAIL_INIT(MECH_K "a2030400ff", NEGOEX_ERR_DER_TRAILING, 23, "mechToken");
    /* inside negHints, after hintName */
    FAIL_INIT(MECH_K "a3073005a0021b0000", NEGOEX_ERR_DER_TRAILING, 27, "negHints");
}

static void test_der_tags(void **state)
{
    (void)state;
    /* wrong outer tag */
    FAIL_HEX("3007" "3005a0030a0102", NEGOEX_ERR_DER_TAG, 0, "NegotiationToken");
    FAIL_HEX("a207" "3005a0030a0102", NEGOEX_ERR_DER_TAG, 0, "NegotiationToken");
    FAIL_HEX("6207" "3005a0030a0102", NEGOEX_ERR_DER_TAG, 0, "NegotiationToken");
    FAIL_HEX("00", NEGOEX_ERR_DER_TAG, 0, "NegotiationToken");
    /* high-tag form */
    FAIL_HEX("bf0107" "3005a0030a0102", NEGOEX_ERR_DER_TAG, 0, "NegotiationToken");
    FAIL_RESP("bf010400", NEGOEX_ERR_DER_TAG, 4, "NegTokenResp");
    FAIL_INIT(MECH_K "a2031f0100", NEGOEX_ERR_DER_TAG, 21, "mechToken");
    /* the SEQUENCE inside [0]/[1] */
    FAIL_HEX("a1023100", NEGOEX_ERR_DER_TAG, 2, "NegTokenResp");
    FAIL_HEX("a0021000", NEGOEX_ERR_DER_TAG, 2, "NegTokenInit");
    /* inside the framing: not an OID, not a NegotiationToken */
    FAIL_HEX("6011" "04062b0601050502" REJECT, NEGOEX_ERR_DER_TAG, 2, "thisMech");
    FAIL_HEX("6011" "06062b0601050502" "3007" "3005a0030a0102", NEGOEX_ERR_DER_TAG, 10, "NegotiationToken");
    /* primitive where constructed is required and the reverse */
    FAIL_RESP("800102", NEGOEX_ERR_DER_TAG, 4, "negState");
    FAIL_RESP("a20424020400", NEGOEX_ERR_DER_TAG, 6, "responseToken");
    FAIL_INIT(MECH_K "a10423020142", NEGOEX_ERR_DER_TAG, 21, "reqFlags");
    /* wrong universal type inside a field */
    FAIL_RESP("a003020101", NEGOEX_ERR_DER_TAG, 6, "negState");
    FAIL_RESP("a1030c0100", NEGOEX_ERR_DER_TAG, 6, "supportedMech");
    FAIL_RESP("a303020100", NEGOEX_ERR_DER_TAG, 6, "mechListMIC");
    FAIL_INIT("a0053103060100", NEGOEX_ERR_DER_TAG, 6, "mechTypes");
    FAIL_INIT("a0053003040100", NEGOEX_ERR_DER_TAG, 8, "mechTypes");
    FAIL_INIT(MECH_K "a303020100", NEGOEX_ERR_DER_TAG, 21, "mechListMIC");
    FAIL_INIT(MECH_K "a3063004a0020c00", NEGOEX_ERR_DER_TAG, 25, "hintName");
    FAIL_INIT(MECH_K "a3063004a1021b00", NEGOEX_ERR_DER_TAG, 25, "hintAddress");
    /* first element not a field */
    FAIL_RESP("0400", NEGOEX_ERR_DER_TAG, 4, "NegTokenResp");
}

static void test_field_order(void **state)
{
    (void)state;
    /* out of order and repeated */
    FAIL_RESP("a2020400" "a0030a0102", NEGOEX_ERR_DER_TAG, 8, "negState");
    FAIL_RESP("a0030a0101" "a0030a0102", NEGOEX_ERR_DER_TAG, 9, "negState");
    FAIL_RESP("a3020400" "a2020400", NEGOEX_ERR_DER_TAG, 8, "responseToken");
    FAIL_RESP("a3020400" "a3020400", NEGOEX_ERR_DER_TAG, 8, "mechListMIC");
    FAIL_INIT(MECH_K MECH_K, NEGOEX_ERR_DER_TAG, 19, "mechTypes");
    FAIL_INIT(MECH_K "a2020400" "a103030100", NEGOEX_ERR_DER_TAG, 23, "reqFlags");
    FAIL_INIT(MECH_K "a4020400" "a3083006a1040402abcd", NEGOEX_ERR_DER_TAG, 23, "negHints");
    FAIL_INIT(MECH_K "a3083006a1040402abcd" "a3083006a1040402abcd", NEGOEX_ERR_DER_TAG, 29, "negHints");
    FAIL_INIT(MECH_K "a3063004a1020400" "a0021b00", NEGOEX_ERR_DER_TAG, 27, "mechTypes");
    FAIL_INIT(MECH_K "a30a3008a1020400a0021b00", NEGOEX_ERR_DER_TAG, 27, "hintName");
    /* RFC 4178's mechListMIC at [3] is the last field: no second MIC at [3] or [4] */
    FAIL_INIT(MECH_K "a3020400" "a3020400", NEGOEX_ERR_DER_TAG, 23, "mechListMIC");
    FAIL_INIT(MECH_K "a3020400" "a4020400", NEGOEX_ERR_DER_TAG, 23, "NegTokenInit");
    /* unknown fields */
    FAIL_RESP("a5020400", NEGOEX_ERR_DER_TAG, 4, "NegTokenResp");
    FAIL_RESP("a0030a0102" "a4020400", NEGOEX_ERR_DER_TAG, 9, "NegTokenResp");
    FAIL_INIT(MECH_K "a5020400", NEGOEX_ERR_DER_TAG, 19, "NegTokenInit");
    FAIL_INIT(MECH_K "a3063004a2020400", NEGOEX_ERR_DER_TAG, 23, "negHints");
    /* mechTypes is required and first */
    FAIL_INIT("", NEGOEX_ERR_DER_TAG, 4, "mechTypes");
    FAIL_INIT("a2020400", NEGOEX_ERR_DER_TAG, 4, "mechTypes");
    FAIL_INIT("a103030100" MECH_K, NEGOEX_ERR_DER_TAG, 4, "mechTypes");
}

static void test_der_values(void **state)
{
    (void)state;
    /* ENUMERATED: one octet, 0..3 */
    FAIL_RESP("a0030a0104", NEGOEX_ERR_DER_VALUE, 6, "negState");
    FAIL_RESP("a0030a01ff", NEGOEX_ERR_DER_VALUE, 6, "negState");
    FAIL_RESP("a0040a020001", NEGOEX_ERR_DER_VALUE, 6, "negState");
    FAIL_RESP("a0040a020000", NEGOEX_ERR_DER_VALUE, 6, "negState");
    FAIL_RESP("a0020a00", NEGOEX_ERR_DER_VALUE, 6, "negState");
    /* BIT STRING ContextFlags */
    FAIL_INIT(MECH_K "a1020300", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");           /* no unused-bits octet */
    FAIL_INIT(MECH_K "a103030101", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");         /* unused bits without octets */
    FAIL_INIT(MECH_K "a10403020842", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");       /* unused > 7 */
    FAIL_INIT(MECH_K "a10403020143", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");       /* an unused bit set */
    FAIL_INIT(MECH_K "a10403020042", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");       /* trailing zero bit kept */
    FAIL_INIT(MECH_K "a1050303004200", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");     /* trailing zero octet */
    FAIL_INIT(MECH_K "a10403020000", NEGOEX_ERR_DER_VALUE, 21, "reqFlags");       /* all zero */
    FAIL_INIT(MECH_K "a1080306000000000080", NEGOEX_ERR_DER_VALUE, 21, "reqFlags"); /* bit 32 */
    FAIL_INIT(MECH_K "a1080306070000000080", NEGOEX_ERR_DER_VALUE, 21, "reqFlags"); /* 5 octets, bit 32 */
    /* MechTypeList */
    FAIL_INIT("a0023000", NEGOEX_ERR_DER_VALUE, 6, "mechTypes");
    FAIL_INIT("a0053003060180", NEGOEX_ERR_DER_VALUE, 8, "mechTypes");      /* 0x80 first: leading zero group */
    FAIL_INIT("a006300406022b86", NEGOEX_ERR_DER_VALUE, 8, "mechTypes");    /* last octet continues */
    FAIL_INIT("a00430020600", NEGOEX_ERR_DER_VALUE, 8, "mechTypes");         /* empty OID */
    FAIL_INIT("a010300e0609" HX_KRB "060180", NEGOEX_ERR_DER_VALUE, 19, "mechTypes");
    FAIL_INIT("a00830060604038001 02", NEGOEX_ERR_DER_VALUE, 8, "mechTypes"); /* 80 inside */
    /* supportedMech, thisMech */
    FAIL_RESP("a103060180", NEGOEX_ERR_DER_VALUE, 6, "supportedMech");
    FAIL_RESP("a10406022b86", NEGOEX_ERR_DER_VALUE, 6, "supportedMech");
    FAIL_RESP("a1020600", NEGOEX_ERR_DER_VALUE, 6, "supportedMech");
    FAIL_HEX("600c" "060180" REJECT, NEGOEX_ERR_DER_VALUE, 2, "thisMech");
    /* negHints with neither hint */
    FAIL_INIT(MECH_K "a3023000", NEGOEX_ERR_DER_VALUE, 21, "negHints");
}

static void test_framing(void **state)
{
    (void)state;
    /* another mechanism named in the framing */
    FAIL_HEX("6014" "0609" HX_KRB REJECT, NEGOEX_ERR_SPNEGO_OID, 2, "thisMech");
    FAIL_HEX("6015" "060a" HX_NEGOEX REJECT, NEGOEX_ERR_SPNEGO_OID, 2, "thisMech");
    FAIL_HEX("6010" "06052b06010505" REJECT, NEGOEX_ERR_SPNEGO_OID, 2, "thisMech");
    FAIL_HEX("6012" "06072b060105050201" REJECT, NEGOEX_ERR_SPNEGO_OID, 2, "thisMech");
    FAIL_HEX("608111" "06062b0601050502" REJECT, NEGOEX_ERR_DER_LENGTH, 1, "InitialContextToken");

    /* framed NegTokenResp: allowed, and written back the same */
    size_t n;
    uint8_t *b = hex("6011" "06062b0601050502" REJECT, &n);
    negoex_spnego_token t;
    parse_ok(b, n, &t, "framed resp");
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.framed, 1);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_REJECT);
    assert_round_trip(b, n, "framed resp");
    tu_free(b);

    /* empty NegTokenResp: every field is optional */
    b = hex("a1023000", &n);
    parse_ok(b, n, &t, "empty resp");
    assert_int_equal(t.kind, K_RESP);
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_ABSENT);
    assert_null(t.supported_mech.data);
    assert_null(t.response_token.data);
    assert_null(t.mech_list_mic.data);
    assert_round_trip(b, n, "empty resp");
    tu_free(b);

    FAIL_HEX("", NEGOEX_ERR_EMPTY_TOKEN, 0, "token");
}

static void test_valid_variants(void **state)
{
    (void)state;
    size_t n;
    negoex_spnego_token t;

    /* reqFlags, named bit n = 1 << n */
    static const struct { const char *bits; uint32_t flags; } flags[] = {
        {"a103030100", 0},
        {"a10403020780", NEGOEX_SPNEGO_FLAG_DELEG},
        {"a10403020640", NEGOEX_SPNEGO_FLAG_MUTUAL},
        {"a10403020142", NEGOEX_SPNEGO_FLAG_MUTUAL | NEGOEX_SPNEGO_FLAG_INTEG},
        {"a104030201fe", 0x7f},
        {"a10403020308", NEGOEX_SPNEGO_FLAG_ANON},
        {"a1050303070080", 1u << 8},
    };
    for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
        char h[128];
        snprintf(h, sizeof h, "%s%s", MECH_K, flags[i].bits);
        uint8_t *b = init(h, &n);
        parse_ok(b, n, &t, h);
        assert_int_equal(t.kind, K_INIT);
        assert_int_equal(t.has_req_flags, 1);
        assert_int_equal(t.req_flags, flags[i].flags);
        assert_round_trip(b, n, h);
        tu_free(b);
    }
    uint8_t *b = init(MECH_K "a10703050000000001", &n);
    parse_ok(b, n, &t, "bit 31");
    assert_int_equal(t.req_flags, 1u << 31);
    assert_round_trip(b, n, "bit 31");
    tu_free(b);
    b = init(MECH_K "a107030500ffffffff", &n);
    parse_ok(b, n, &t, "all bits");
    assert_int_equal(t.req_flags, 0xffffffffu);
    assert_round_trip(b, n, "all bits");
    tu_free(b);

    /* RFC 4178 NegTokenInit with a mechListMIC at [3] */
    b = init(MECH_K "a2020400" "a3040402abcd", &n);
    parse_ok(b, n, &t, "init mic");
    assert_int_equal(t.kind, K_INIT);
    assert_non_null(t.mech_token.data);
    assert_int_equal(t.mech_token.len, 0); /* present and empty */
    assert_true(t.mech_token.data == b + 23);
    assert_bytes_hex(&t.mech_list_mic, "abcd");
    assert_round_trip(b, n, "init mic");
    tu_free(b);

    /* NegTokenInit2 by its MIC at [4] alone */
    b = init(MECH_K "a4040402abcd", &n);
    parse_ok(b, n, &t, "init2 mic");
    assert_int_equal(t.kind, K_INIT2);
    assert_null(t.hint_name.data);
    assert_bytes_hex(&t.mech_list_mic, "abcd");
    assert_round_trip(b, n, "init2 mic");
    tu_free(b);

    /* NegTokenInit2 with hintAddress only, then hintName and both, then a MIC */
    b = init(MECH_K "a3083006a1040402abcd", &n);
    parse_ok(b, n, &t, "hint address");
    assert_int_equal(t.kind, K_INIT2);
    assert_null(t.hint_name.data);
    assert_bytes_hex(&t.hint_address, "abcd");
    assert_null(t.mech_list_mic.data);
    assert_round_trip(b, n, "hint address");
    tu_free(b);
    b = init(MECH_K "a30e300ca0041b02686ea1040402abcd" "a4020400", &n);
    parse_ok(b, n, &t, "both hints");
    assert_int_equal(t.kind, K_INIT2);
    assert_bytes_str(&t.hint_name, "hn");
    assert_bytes_hex(&t.hint_address, "abcd");
    assert_non_null(t.mech_list_mic.data);
    assert_int_equal(t.mech_list_mic.len, 0);
    assert_round_trip(b, n, "both hints");
    tu_free(b);

    /* every negState and a framed NegTokenResp with everything */
    for (int s = 0; s < 4; s++) {
        char h[64];
        snprintf(h, sizeof h, "a0030a01%02x", s);
        b = resp(h, &n);
        parse_ok(b, n, &t, h);
        assert_int_equal(t.neg_state, s);
        assert_round_trip(b, n, h);
        tu_free(b);
    }
    b = resp("a0030a0103" "a10c060a" HX_NEGOEX "a2030401ff" "a3020400", &n);
    parse_ok(b, n, &t, "full resp");
    assert_int_equal(t.neg_state, NEGOEX_NEG_STATE_REQUEST_MIC);
    assert_oid_text(&t.supported_mech, NEGOEX_OID_TEXT);
    assert_bytes_hex(&t.response_token, "ff");
    assert_int_equal(t.mech_list_mic.len, 0);
    assert_non_null(t.mech_list_mic.data);
    assert_round_trip(b, n, "full resp");
    tu_free(b);

    /* OIDs with multi-octet and large arcs are valid mechanisms, even one
     * beyond 64 bits that has no dotted text */
    b = init("a00e300c060a81ffffffffffffffff7f", &n);
    parse_ok(b, n, &t, "64-bit arc");
    assert_mech(&t, 0, "2.18446744073709551535", NULL);
    assert_round_trip(b, n, "64-bit arc");
    tu_free(b);
    b = init("a00f300d060b2a82808080808080808000", &n);
    parse_ok(b, n, &t, "65-bit arc");
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_mech_type(&t, 0, &oid), NEGOEX_OK);
    assert_int_equal(negoex_oid_to_text(oid.data, oid.len, NULL, 0, NULL), NEGOEX_ERR_DER_VALUE);
    assert_round_trip(b, n, "65-bit arc");
    tu_free(b);
}

static void test_api_arguments(void **state)
{
    (void)state;
    negoex_spnego_token t;
    negoex_error_info e = {0, 99, NULL};
    static const uint8_t rej[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02};
    assert_int_equal(negoex_spnego_parse(rej, sizeof rej, NULL, &e), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(e.code, NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_parse(NULL, 9, &t, &e), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_parse(NULL, 0, &t, &e), NEGOEX_ERR_EMPTY_TOKEN);
    assert_int_equal(e.offset, 0);
    assert_string_equal(e.field, "token");

    /* mech_type accessor */
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_parse(rej, sizeof rej, &t, NULL), NEGOEX_OK);
    assert_int_equal(negoex_spnego_mech_type(&t, 0, &oid), NEGOEX_ERR_WRONG_TYPE);
    negoex_spnego_mech_iter it;
    assert_int_equal(negoex_spnego_mech_iter_init(&it, &t), NEGOEX_ERR_WRONG_TYPE);
    assert_int_equal(negoex_spnego_mech_type(NULL, 0, &oid), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_mech_type(&t, 0, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    size_t n;
    uint8_t *b = init("a0183016" "0609" HX_KRB "0609" "2a864882f712010202", &n);
    assert_int_equal(negoex_spnego_parse(b, n, &t, NULL), NEGOEX_OK);
    assert_int_equal(t.mech_type_count, 2);
    assert_mech(&t, 0, "1.2.840.113554.1.2.2", "Kerberos");
    assert_mech(&t, 1, "1.2.840.48018.1.2.2", "MS-Kerberos");
    assert_int_equal(negoex_spnego_mech_type(&t, 2, &oid), NEGOEX_ERR_INDEX_RANGE);
    assert_int_equal(negoex_spnego_mech_type(&t, (size_t)-1, &oid), NEGOEX_ERR_INDEX_RANGE);
    /* a hand-made view that is not a MechTypeList */
    negoex_spnego_token bad = t;
    static const uint8_t junk[] = {0x04, 0x00};
    bad.mech_types.data = junk;
    bad.mech_types.len = sizeof junk;
    assert_int_equal(negoex_spnego_mech_type(&bad, 0, &oid), NEGOEX_ERR_INVALID_ARGUMENT);
    static const uint8_t not_oid[] = {0x30, 0x03, 0x04, 0x01, 0x00};
    bad.mech_types.data = not_oid;
    bad.mech_types.len = sizeof not_oid;
    assert_int_equal(negoex_spnego_mech_type(&bad, 0, &oid), NEGOEX_ERR_INVALID_ARGUMENT);
    /* a count larger than the list */
    bad.mech_types = t.mech_types;
    bad.mech_type_count = 3;
    assert_int_equal(negoex_spnego_mech_type(&bad, 2, &oid), NEGOEX_ERR_INDEX_RANGE);
    bad.mech_types.data = NULL;
    assert_int_equal(negoex_spnego_mech_type(&bad, 0, &oid), NEGOEX_ERR_INDEX_RANGE);
    tu_free(b);
}

/* ------------------------------------------------------------------------ */
/* Writer                                                                     */
/* ------------------------------------------------------------------------ */

static negoex_bytes B(const void *p, size_t n)
{
    negoex_bytes b = {p, n};
    return b;
}

static const uint8_t OID_NEGOEX[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e};
static const uint8_t OID_NTLM[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t OID_KRB[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};

/* Writes f, compares with the hex, checks the size query, exact fit and one
 * byte short (nothing written), and parses the result back. */
static void expect_write(const negoex_spnego_fields *f, const char *want_hex)
{
    size_t want_len;
    uint8_t *want = hex(want_hex, &want_len);
    size_t need = 0, got = 0;
    assert_int_equal(negoex_spnego_write(NULL, 0, &need, f), NEGOEX_OK);
    assert_int_equal(need, want_len);
    uint8_t *out = tu_malloc(want_len);
    memset(out, 0xee, want_len);
    got = 0;
    assert_int_equal(negoex_spnego_write(out, want_len - 1, &got, f), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(got, want_len);
    for (size_t i = 0; i < want_len; i++)
        assert_int_equal(out[i], 0xee);
    assert_int_equal(negoex_spnego_write(out, want_len, &got, f), NEGOEX_OK);
    assert_int_equal(got, want_len);
    if (memcmp(out, want, want_len) != 0) {
        char h[4096] = "";
        for (size_t i = 0; i < want_len && 2 * i + 2 < sizeof h; i++)
            snprintf(h + 2 * i, 3, "%02x", out[i]);
        fail_msg("wrote %s\n want %s", h, want_hex);
    }
    assert_round_trip(out, want_len, want_hex);
    tu_free(out);
    tu_free(want);
}

static void test_write_tokens(void **state)
{
    (void)state;
    negoex_spnego_fields f;
    negoex_bytes mechs[] = {B(OID_NEGOEX, sizeof OID_NEGOEX), B(OID_NTLM, sizeof OID_NTLM)};

    /* the initiator's first token, framed */
    negoex_spnego_fields_init(&f, K_INIT);
    f.framed = 1;
    f.mech_types = mechs;
    f.mech_type_count = 1;
    f.mech_token = B("abc", 3);
    expect_write(&f, "6023 06062b0601050502 a019 3017 a00e 300c 060a" HX_NEGOEX "a205 0403 616263");

    /* NegTokenInit2 as an SMB2 server sends it, with a MIC at [4] */
    static const char hint[] = "not_defined_in_RFC4178@please_ignore";
    negoex_spnego_fields_init(&f, K_INIT2);
    f.mech_types = mechs;
    f.mech_type_count = 2;
    f.hint_name = B(hint, strlen(hint));
    f.mech_list_mic = B("\x01\x02", 2);
    expect_write(&f, "a050 304e a01a 3018 060a" HX_NEGOEX "060a" HX_NTLM
                     "a32a 3028 a026 1b24 6e6f745f646566696e65645f696e5f5246433431373840706c656173655f69676e6f7265"
                     "a404 0402 0102");

    /* INIT2 without hints: the MIC still goes to [4] */
    f.hint_name = B(NULL, 0);
    expect_write(&f, "a024 3022 a01a 3018 060a" HX_NEGOEX "060a" HX_NTLM "a404 0402 0102");
    /* negHints with an empty hintAddress, no MIC */
    f.mech_list_mic = B(NULL, 0);
    f.hint_address = B("", 0); /* present, empty */
    expect_write(&f, "a026 3024 a01a 3018 060a" HX_NEGOEX "060a" HX_NTLM "a306 3004 a102 0400");

    /* RFC 4178 NegTokenInit: MIC at [3], reqFlags */
    negoex_spnego_fields_init(&f, K_INIT);
    f.mech_types = mechs + 1;
    f.mech_type_count = 1;
    f.has_req_flags = 1;
    f.req_flags = NEGOEX_SPNEGO_FLAG_MUTUAL | NEGOEX_SPNEGO_FLAG_INTEG;
    f.mech_list_mic = B("\xaa", 1);
    expect_write(&f, "a01d 301b a00e 300c 060a" HX_NTLM "a104 03020142 a303 0401aa");

    /* NegTokenResp with every field; empty; reject */
    negoex_spnego_fields_init(&f, K_RESP);
    f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    f.supported_mech = mechs[0];
    f.response_token = B("\xff", 1);
    f.mech_list_mic = B("", 0);
    expect_write(&f, "a11e 301c a0030a0101 a10c060a" HX_NEGOEX "a2030401ff a3020400");
    negoex_spnego_fields_init(&f, K_RESP);
    expect_write(&f, "a1023000");
    f.framed = 1;
    expect_write(&f, "600c 06062b0601050502 a1023000");
}

static void test_write_req_flags(void **state)
{
    (void)state;
    static const struct { uint32_t flags; const char *bits; } cases[] = {
        {0, "030100"},
        {0x01, "03020780"},
        {0x02, "03020640"},
        {0x42, "03020142"},
        {0x7f, "030201fe"},
        {0x80, "03020001"},
        {1u << 8, "0303070080"},
        {1u << 15, "0303000001"},
        {1u << 16, "030407000080"},
        {1u << 31, "03050000000001"},
        {0xffffffffu, "030500ffffffff"},
    };
    negoex_bytes mech = B(OID_KRB, sizeof OID_KRB);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        negoex_spnego_fields f;
        negoex_spnego_fields_init(&f, K_INIT);
        f.mech_types = &mech;
        f.mech_type_count = 1;
        f.has_req_flags = 1;
        f.req_flags = cases[i].flags;
        size_t bl;
        uint8_t *bits = hex(cases[i].bits, &bl);
        uint8_t out[64];
        size_t got = 0;
        assert_int_equal(negoex_spnego_write(out, sizeof out, &got, &f), NEGOEX_OK);
        assert_int_equal(got, 4 + 15 + 2 + bl);
        assert_int_equal(out[19], 0xa1);
        assert_int_equal(out[20], bl);
        assert_memory_equal(out + 21, bits, bl);
        negoex_spnego_token t;
        parse_ok(out, got, &t, cases[i].bits);
        assert_int_equal(t.req_flags, cases[i].flags);
        tu_free(bits);
    }
}

static void test_write_long_lengths(void **state)
{
    (void)state;
    static const struct { size_t len; const char *hdr; } cases[] = {
        {0, "0400"}, {127, "047f"}, {128, "048180"}, {255, "0481ff"}, {256, "04820100"},
        {65535, "0482ffff"}, {65536, "0483010000"}, {(1u << 24) + 1, "048401000001"},
    };
    uint8_t *data = tu_malloc((1u << 24) + 1);
    memset(data, 0x5a, (1u << 24) + 1);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        negoex_spnego_fields f;
        negoex_spnego_fields_init(&f, K_RESP);
        f.response_token = B(data, cases[i].len);
        size_t need = 0;
        assert_int_equal(negoex_spnego_write(NULL, 0, &need, &f), NEGOEX_OK);
        uint8_t *out = tu_malloc(need);
        size_t got = 0;
        assert_int_equal(negoex_spnego_write(out, need, &got, &f), NEGOEX_OK);
        assert_int_equal(got, need);
        size_t hl;
        uint8_t *hdr = hex(cases[i].hdr, &hl);
        /* a1 L 30 L a2 L | 04 L <data>: the OCTET STRING ends the token */
        assert_memory_equal(out + need - cases[i].len - hl, hdr, hl);
        negoex_spnego_token t;
        parse_ok(out, got, &t, cases[i].hdr);
        assert_int_equal(t.response_token.len, cases[i].len);
        assert_true(t.response_token.data == out + need - cases[i].len);
        assert_round_trip(out, got, cases[i].hdr);
        tu_free(hdr);
        tu_free(out);
    }
    tu_free(data);
}

static void test_write_arguments(void **state)
{
    (void)state;
    negoex_bytes good[] = {B(OID_NEGOEX, sizeof OID_NEGOEX)};
    negoex_bytes bad_oid[] = {B("\x80\x01", 2)};
    negoex_bytes null_oid[] = {B(NULL, 0)};
    negoex_spnego_fields f;
    uint8_t out[128];
    size_t len = 777;

#define BAD(setup)                                                                                           \
    do {                                                                                                     \
        negoex_spnego_fields_init(&f, K_INIT);                                                               \
        f.mech_types = good;                                                                                 \
        f.mech_type_count = 1;                                                                               \
        setup;                                                                                               \
        len = 777;                                                                                           \
        if (negoex_spnego_write(out, sizeof out, &len, &f) != NEGOEX_ERR_INVALID_ARGUMENT)                   \
            fail_msg("accepted: %s", #setup);                                                                \
        assert_int_equal(len, 777);                                                                          \
    } while (0)

    BAD(f.kind = (negoex_spnego_kind)3);
    BAD(f.kind = (negoex_spnego_kind)-1);
    BAD(f.mech_types = NULL);
    BAD(f.mech_type_count = 0);
    BAD(f.mech_types = bad_oid);
    BAD(f.mech_types = null_oid);
    BAD(f.neg_state = NEGOEX_NEG_STATE_ACCEPT_COMPLETED);
    BAD(f.supported_mech = good[0]);
    BAD(f.response_token = B("x", 1));
    BAD(f.hint_name = B("x", 1));
    BAD(f.hint_address = B("", 0));
    BAD(f.mech_token = B(NULL, 3));
    BAD(f.mech_list_mic = B(NULL, 1));
    BAD((f.kind = K_INIT2, f.hint_name = B(NULL, 2)));
    BAD((f.kind = K_INIT2, f.mech_types = NULL));
    BAD((f.kind = K_INIT2, f.neg_state = NEGOEX_NEG_STATE_REJECT));
    BAD((f.kind = K_RESP));                             /* mech types in a NegTokenResp */
    BAD((f.kind = K_RESP, f.mech_types = NULL));        /* count without list */
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.has_req_flags = 1));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.mech_token = B("", 0)));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.hint_name = B("", 0)));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.hint_address = B("", 0)));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.neg_state = 4));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.neg_state = -2));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.supported_mech = bad_oid[0]));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.supported_mech = B("", 0)));
    BAD((f.kind = K_RESP, f.mech_types = NULL, f.mech_type_count = 0, f.response_token = B(NULL, 1)));
#undef BAD

    negoex_spnego_fields_init(&f, K_RESP);
    assert_int_equal(negoex_spnego_write(out, sizeof out, NULL, &f), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write(out, sizeof out, &len, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write(NULL, 4, &len, &f), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_OK);
    assert_int_equal(len, 4);
    assert_int_equal(negoex_spnego_write(out, 3, &len, &f), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 4);

    /* fields_init */
    memset(&f, 0x77, sizeof f);
    negoex_spnego_fields_init(&f, K_INIT2);
    assert_int_equal(f.kind, K_INIT2);
    assert_int_equal(f.neg_state, NEGOEX_NEG_STATE_ABSENT);
    assert_null(f.mech_types);
    assert_int_equal(f.mech_type_count, 0);
    assert_int_equal(f.framed, 0);
    assert_int_equal(f.has_req_flags, 0);
    assert_null(f.mech_token.data);
    assert_null(f.mech_list_mic.data);
    negoex_spnego_fields_init(NULL, K_INIT); /* no crash */

#if SIZE_MAX > 0xffffffffu
    /* Lengths past 4 length octets cannot be written (or read). The data is
     * never touched: sizing fails first. */
    negoex_spnego_fields_init(&f, K_RESP);
    f.response_token = B(out, (size_t)0xffffffffu + 1);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.response_token = B(out, 0xffffffffu); /* fits, its [2] wrapper does not */
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.response_token = B(out, 0xffffffffu - 12); /* the [1] wrapper does not */
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.response_token = B(out, 0xffffffffu - 18); /* bare fits, the framing does not */
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_OK);
    assert_int_equal(len, (size_t)0xffffffffu + 6);
    f.framed = 1;
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    negoex_spnego_fields_init(&f, K_RESP);
    f.mech_list_mic = B(out, 0xffffffffu);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    negoex_spnego_fields_init(&f, K_INIT2);
    f.mech_types = good;
    f.mech_type_count = 1;
    f.mech_token = B(out, 0xffffffffu);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.mech_token = B(NULL, 0);
    f.hint_name = B(out, 0xffffffffu);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.hint_name = B(out, 0xffffffffu - 6); /* fits its [0], not negHints' SEQUENCE */
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
    f.hint_name = B(NULL, 0);
    f.hint_address = B(out, 0xffffffffu);
    assert_int_equal(negoex_spnego_write(NULL, 0, &len, &f), NEGOEX_ERR_TOO_LARGE);
#endif
}

static void test_write_mech_list(void **state)
{
    (void)state;
    negoex_bytes mechs[] = {B(OID_NEGOEX, sizeof OID_NEGOEX), B(OID_NTLM, sizeof OID_NTLM)};
    uint8_t out[64];
    size_t len = 0, want_len;
    uint8_t *want = hex("300c060a" HX_NEGOEX, &want_len);
    assert_int_equal(negoex_spnego_write_mech_list(NULL, 0, &len, mechs, 1), NEGOEX_OK);
    assert_int_equal(len, 14);
    memset(out, 0xee, sizeof out);
    assert_int_equal(negoex_spnego_write_mech_list(out, 13, &len, mechs, 1), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(len, 14);
    assert_int_equal(out[0], 0xee);
    assert_int_equal(negoex_spnego_write_mech_list(out, 14, &len, mechs, 1), NEGOEX_OK);
    assert_memory_equal(out, want, want_len);
    tu_free(want);

    /* the bytes a MIT initiator's mechListMIC covers */
    size_t n;
    uint8_t *b = tu_load_tracked("mit/scenarios/31-nxtoy-forced-mechlistmic/00-i2a.bin", &n);
    negoex_spnego_token t;
    parse_ok(b, n, &t, "31/00");
    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, &len, mechs, 1), NEGOEX_OK);
    assert_int_equal(len, t.mech_types.len);
    assert_memory_equal(out, t.mech_types.data, len);
    tu_free(b);

    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, &len, mechs, 2), NEGOEX_OK);
    assert_int_equal(len, 26);
    assert_int_equal(out[1], 24);

    negoex_bytes bad[] = {B("\x2b\x86", 2)};
    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, &len, bad, 1), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, &len, NULL, 1), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, &len, mechs, 0), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write_mech_list(out, sizeof out, NULL, mechs, 1), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_write_mech_list(NULL, 5, &len, mechs, 1), NEGOEX_ERR_INVALID_ARGUMENT);
}

/* ------------------------------------------------------------------------ */
/* OIDs and names                                                             */
/* ------------------------------------------------------------------------ */

static void expect_text(const char *h, const char *want)
{
    size_t n;
    uint8_t *der = hex(h, &n);
    assert_true(negoex_oid_valid(der, n));
    char out[128];
    size_t need = 0;
    int rc = negoex_oid_to_text(der, n, out, sizeof out, &need);
    if (rc != NEGOEX_OK)
        fail_msg("%s: %d", h, rc);
    assert_string_equal(out, want);
    assert_int_equal(need, strlen(want) + 1);
    /* exact fit, one short (nothing written), size query */
    memset(out, 0xee, sizeof out);
    need = 0;
    assert_int_equal(negoex_oid_to_text(der, n, out, strlen(want), &need), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, strlen(want) + 1);
    assert_int_equal((uint8_t)out[0], 0xee);
    assert_int_equal(negoex_oid_to_text(der, n, NULL, 0, &need), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(negoex_oid_to_text(der, n, out, 0, NULL), NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(negoex_oid_to_text(der, n, out, strlen(want) + 1, NULL), NEGOEX_OK);
    assert_string_equal(out, want);
    /* and the encoder agrees */
    uint8_t back[32];
    size_t bl = 0;
    assert_int_equal(negoex_oid_encode(want, back, sizeof back, &bl), NEGOEX_OK);
    assert_int_equal(bl, n);
    assert_memory_equal(back, der, n);
    tu_free(der);
}

static void test_oid_to_text(void **state)
{
    (void)state;
    expect_text(HX_NEGOEX, "1.3.6.1.4.1.311.2.2.30");
    expect_text("2b0601050502", NEGOEX_SPNEGO_OID_TEXT);
    expect_text("6985a2c0ac66", "2.25.1414534758");
    /* the first subidentifier carries two arcs */
    expect_text("00", "0.0");
    expect_text("27", "0.39");
    expect_text("28", "1.0");
    expect_text("4f", "1.39");
    expect_text("50", "2.0");
    expect_text("7f", "2.47");
    expect_text("8100", "2.48");
    expect_text("8837", "2.999");
    expect_text("2a 00 7f 8100 ff7f 818000", "1.2.0.127.128.16383.16384");
    /* 64-bit arcs */
    expect_text("2a 81ffffffffffffffff7f", "1.2.18446744073709551615");
    expect_text("81ffffffffffffffff7f", "2.18446744073709551535");
    expect_text("2a7f", "1.2.127");

    /* NEGOEX_SPNEGO_OID_DER matches its text */
    char out[64];
    assert_int_equal(negoex_oid_to_text(NEGOEX_SPNEGO_OID_DER, NEGOEX_SPNEGO_OID_DER_LEN, out, sizeof out, NULL),
                     NEGOEX_OK);
    assert_string_equal(out, NEGOEX_SPNEGO_OID_TEXT);

    /* beyond 64 bits: valid encoding, no text */
    size_t n;
    uint8_t *der = hex("2a 82808080808080808000", &n); /* 2^64 */
    assert_true(negoex_oid_valid(der, n));
    size_t need = 123;
    assert_int_equal(negoex_oid_to_text(der, n, out, sizeof out, &need), NEGOEX_ERR_DER_VALUE);
    assert_int_equal(need, 123);
    tu_free(der);
    der = hex("82808080808080808000", &n); /* first subidentifier 2^64 */
    assert_int_equal(negoex_oid_to_text(der, n, out, sizeof out, NULL), NEGOEX_ERR_DER_VALUE);
    tu_free(der);

    /* invalid encodings */
    static const char *const bad[] = {"", "80", "8001", "2a8001", "2b86", "2b0601ff", "2a80808001"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        der = hex(bad[i], &n);
        assert_false(negoex_oid_valid(der, n));
        assert_int_equal(negoex_oid_to_text(der, n, out, sizeof out, NULL), NEGOEX_ERR_DER_VALUE);
        tu_free(der);
    }
    assert_false(negoex_oid_valid(NULL, 3));
    assert_int_equal(negoex_oid_to_text(NULL, 3, out, sizeof out, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_oid_to_text(NULL, 0, out, sizeof out, NULL), NEGOEX_ERR_DER_VALUE);
}

static void test_oid_valid(void **state)
{
    (void)state;
    static const char *const good[] = {"00", "7f", "2a", "8100", "81ff7f", "2a864886f712010202", "01020304"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t n;
        uint8_t *der = hex(good[i], &n);
        assert_true(negoex_oid_valid(der, n));
        tu_free(der);
    }
    assert_true(negoex_oid_valid(NEGOEX_OID_DER, NEGOEX_OID_DER_LEN));
    assert_false(negoex_oid_valid(NEGOEX_OID_DER, 0));
    /* cut in the middle of a subidentifier */
    static const uint8_t krb[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
    assert_false(negoex_oid_valid(krb, 2));
    assert_true(negoex_oid_valid(krb, 3));
    assert_false(negoex_oid_valid(krb, 5));
}

static void test_oid_names(void **state)
{
    (void)state;
    static const struct { const char *text, *name; } known[] = {
        {"1.3.6.1.4.1.311.2.2.30", "NEGOEX"},
        {"1.3.6.1.4.1.311.2.2.10", "NTLM"},
        {"1.2.840.113554.1.2.2", "Kerberos"},
        {"1.2.840.48018.1.2.2", "MS-Kerberos"},
        {"1.2.840.113554.1.2.2.3", "Kerberos-U2U"},
        {"1.3.6.1.5.2.5", "IAKerb"},
        {"1.3.6.1.5.2.7", "PKU2U"},
        {"1.3.6.1.5.5.2", "SPNEGO"},
        {"1.3.6.1.4.1.311.2.2.40", "Negotiate-Late-Fallback"},
        {"2.25.1414534758", "test-mech-1"},
        {"2.25.1175737388", "test-mech-2"},
        {"2.25.305419896", "nxtoy"},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint8_t der[32];
        size_t n = 0;
        assert_int_equal(negoex_oid_encode(known[i].text, der, sizeof der, &n), NEGOEX_OK);
        const char *name = negoex_oid_name(der, n);
        if (name == NULL || strcmp(name, known[i].name) != 0)
            fail_msg("%s: %s", known[i].text, name ? name : "NULL");
        /* a prefix or an extension is another OID (Kerberos-U2U less its
         * last arc is Kerberos) */
        const char *prefix = negoex_oid_name(der, n - 1);
        if (strcmp(known[i].name, "Kerberos-U2U") == 0)
            assert_string_equal(prefix, "Kerberos");
        else
            assert_null(prefix);
        der[n] = 0x01;
        assert_null(negoex_oid_name(der, n + 1));
    }
    assert_string_equal(negoex_oid_name(NEGOEX_OID_DER, NEGOEX_OID_DER_LEN), "NEGOEX");
    assert_string_equal(negoex_oid_name(NEGOEX_SPNEGO_OID_DER, NEGOEX_SPNEGO_OID_DER_LEN), "SPNEGO");
    assert_null(negoex_oid_name(NULL, 0));
    assert_null(negoex_oid_name((const uint8_t *)"\x2a", 1));
    assert_null(negoex_oid_name((const uint8_t *)"", 0));
}

static void test_state_and_flag_names(void **state)
{
    (void)state;
    assert_string_equal(negoex_neg_state_name(NEGOEX_NEG_STATE_ACCEPT_COMPLETED), "accept-completed");
    assert_string_equal(negoex_neg_state_name(NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE), "accept-incomplete");
    assert_string_equal(negoex_neg_state_name(NEGOEX_NEG_STATE_REJECT), "reject");
    assert_string_equal(negoex_neg_state_name(NEGOEX_NEG_STATE_REQUEST_MIC), "request-mic");
    assert_null(negoex_neg_state_name(NEGOEX_NEG_STATE_ABSENT));
    assert_null(negoex_neg_state_name(4));
    static const char *const flags[] = {"delegFlag", "mutualFlag", "replayFlag", "sequenceFlag",
                                        "anonFlag",  "confFlag",   "integFlag"};
    for (unsigned i = 0; i < 7; i++)
        assert_string_equal(negoex_spnego_flag_name(i), flags[i]);
    assert_null(negoex_spnego_flag_name(7));
    assert_null(negoex_spnego_flag_name(31));
    assert_int_equal(NEGOEX_SPNEGO_FLAG_INTEG, 1u << 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_mit_tokens, tu_release_all),
        cmocka_unit_test_teardown(test_mit_table_complete, tu_release_all),
        cmocka_unit_test_teardown(test_mit_mech_list_mic, tu_release_all),
        cmocka_unit_test_teardown(test_mit_reject_token, tu_release_all),
        cmocka_unit_test_teardown(test_windows_blobs, tu_release_all),
        cmocka_unit_test_teardown(test_windows_captures, tu_release_all),
        cmocka_unit_test_teardown(test_truncation_every_length, tu_release_all),
        cmocka_unit_test_teardown(test_bit_flips, tu_release_all),
        cmocka_unit_test_teardown(test_der_lengths, tu_release_all),
        cmocka_unit_test_teardown(test_der_truncated, tu_release_all),
        cmocka_unit_test_teardown(test_der_trailing, tu_release_all),
        cmocka_unit_test_teardown(test_der_tags, tu_release_all),
        cmocka_unit_test_teardown(test_field_order, tu_release_all),
        cmocka_unit_test_teardown(test_der_values, tu_release_all),
        cmocka_unit_test_teardown(test_framing, tu_release_all),
        cmocka_unit_test_teardown(test_valid_variants, tu_release_all),
        cmocka_unit_test_teardown(test_api_arguments, tu_release_all),
        cmocka_unit_test_teardown(test_write_tokens, tu_release_all),
        cmocka_unit_test_teardown(test_write_req_flags, tu_release_all),
        cmocka_unit_test_teardown(test_write_long_lengths, tu_release_all),
        cmocka_unit_test_teardown(test_write_arguments, tu_release_all),
        cmocka_unit_test_teardown(test_write_mech_list, tu_release_all),
        cmocka_unit_test_teardown(test_oid_to_text, tu_release_all),
        cmocka_unit_test_teardown(test_oid_valid, tu_release_all),
        cmocka_unit_test_teardown(test_oid_names, tu_release_all),
        cmocka_unit_test_teardown(test_state_and_flag_names, tu_release_all),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
