/*
 * SPNEGO with application mechanisms (negoex/spnego_mech.h): a Windows 11
 * client (Entra-joined: NEGOEX listed, maybe first with an optimistic NEGOEX
 * token) against an acceptor that only has an NTLM-like mechanism (ntlmtoy),
 * and the acceptor's choice among NEGOEX and app mechs
 * (docs/spnego-fallback.md).
 *
 * Hand-built Windows-shaped NegTokenInits (Windows' mechTypes order, an
 * optimistic Kerberos-shaped token under MS-KRB5, the NEGOEX-first variant
 * with Windows' own NEGO + META) must be declined with request-mic +
 * supportedMech NTLM and no responseToken; then our SPNEGO initiator set up
 * like Windows completes through the fallback with both MICs checked
 * (tampered MICs rejected without a change, the genuine ones then complete),
 * a wrong secret ends in a reject, NEGOEX is taken only when a scheme is
 * shared, the policy orders, no unconfigured mechanism is ever picked, and an
 * allocation-failure sweep leaks nothing.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>
#include <negoex/spnego_mech_ntlmtoy.h>

#include "testutil.h"

#define MAX_TOKENS TU_MAX_TOKENS
#define MAX_TOKEN_LEN TU_MAX_TOKEN_LEN

static const uint8_t REJECT[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02};

/* Windows 11's mechTypes (MS-SPNG 3.1.5.2 names the Kerberos ones). */
static const uint8_t OID_MSKRB5[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_IAKERB[] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x05};
static const uint8_t OID_U2U[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x03};
static const uint8_t OID_NTLM[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t OID_PRIVATE[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x63};

#define B(x) ((negoex_bytes){(x), sizeof(x)})
#define NX_OID ((negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN})

static const uint8_t SECRET[] = "correct horse battery staple";
static const uint8_t WRONG[] = "correct horse battery stapler";

/* ------------------------------------------------------------------------ */
/* Building sides                                                             */
/* ------------------------------------------------------------------------ */

static negoex_ntlmtoy_config toy_cfg(const uint8_t *secret, size_t len, const negoex_allocator *a)
{
    negoex_ntlmtoy_config c;
    negoex_ntlmtoy_config_init(&c);
    c.user = "alice@contoso.test";
    c.secret = secret;
    c.secret_len = len;
    c.allocator = a;
    return c;
}

static const negoex_ntlmtoy_config *good_toy(void)
{
    static negoex_ntlmtoy_config c;
    c = toy_cfg(SECRET, sizeof SECRET - 1, NULL);
    return &c;
}

static negoex_spnego_app_mech app(const uint8_t *oid, size_t len, const negoex_ntlmtoy_config *c)
{
    return (negoex_spnego_app_mech){{oid, len}, negoex_ntlmtoy_mech(), (void *)c};
}

/* A NEGOEX context with the test scheme under mech OID (1 or 2). */
static negoex_context *negoex_with(negoex_role role, int mech, const negoex_allocator *a)
{
    negoex_config c;
    negoex_config_init(&c);
    c.allocator = a;
    negoex_context *nx = NULL;
    if (negoex_context_new(&nx, role, &c) != NEGOEX_OK)
        return NULL;
    negoex_scheme *sc = NULL;
    int rc;
    if (mech == 3) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        rc = negoex_nxtoy_scheme_new(&sc, &nc, a);
    } else {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = mech == 1 ? NEGOEX_TEST_MECH1_OID : NEGOEX_TEST_MECH2_OID;
        rc = negoex_test_scheme_new(&sc, &tc, a);
    }
    if (rc == NEGOEX_OK && (rc = negoex_context_add_scheme(nx, sc)) != NEGOEX_OK)
        sc->cls->destroy(sc);
    if (rc != NEGOEX_OK) {
        negoex_context_free(nx);
        return NULL;
    }
    return nx;
}

/* cfg already holds the app mechs; nx may be NULL. */
static negoex_spnego *side(negoex_role role, negoex_context *nx, negoex_spnego_config *cfg)
{
    cfg->role = role;
    negoex_spnego *sp = NULL;
    int rc = negoex_spnego_new(&sp, nx, cfg);
    if (rc != NEGOEX_OK) {
        negoex_context_free(nx);
        fail_msg("negoex_spnego_new: %s", negoex_error_name(rc));
    }
    return sp;
}

/* An acceptor with only ntlmtoy under NTLM's OID (no NEGOEX at all). */
static negoex_spnego *ntlm_only_acceptor(const negoex_ntlmtoy_config *tc)
{
    static negoex_spnego_app_mech apps[1];
    apps[0] = app(OID_NTLM, sizeof OID_NTLM, tc);
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    return side(NEGOEX_ROLE_ACCEPTOR, NULL, &cfg);
}

/* Our initiator set up like an Entra-joined Windows 11 client: NEGOEX first
 * with an optimistic token (test scheme `mech`), then MS-KRB5, KRB5, IAKerb,
 * KRB5-U2U (listed, not runnable) and NTLM (ntlmtoy). */
static negoex_spnego *windows_initiator(int mech, const negoex_ntlmtoy_config *tc, const negoex_allocator *a)
{
    static negoex_bytes others[5];
    static negoex_spnego_app_mech apps[1];
    others[0] = B(OID_MSKRB5);
    others[1] = B(OID_KRB5);
    others[2] = B(OID_IAKERB);
    others[3] = B(OID_U2U);
    others[4] = B(OID_NTLM);
    apps[0] = app(OID_NTLM, sizeof OID_NTLM, tc);
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    cfg.other_mechs = others;
    cfg.other_mech_count = 5;
    cfg.negoex_position = 0;
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    negoex_context *nx = negoex_with(NEGOEX_ROLE_INITIATOR, mech, a);
    assert_non_null(nx);
    return side(NEGOEX_ROLE_INITIATOR, nx, &cfg);
}

/* ------------------------------------------------------------------------ */
/* Tokens                                                                     */
/* ------------------------------------------------------------------------ */

typedef tu_token token;
typedef tu_conversation conversation;
#define converse tu_spnego_converse

static const char *oid_label(const uint8_t *der, size_t len)
{
    const char *n = negoex_oid_name(der, len);
    return n != NULL ? n : "?";
}

/* "resp ns=3 sm=NTLM rt=0 mic" style shape of one token. */
static void shape(const uint8_t *data, size_t len, char *out, size_t cap)
{
    negoex_spnego_token t;
    negoex_error_info e;
    int rc = negoex_spnego_parse(data, len, &t, &e);
    if (rc != 0)
        fail_msg("token does not parse: %s at %zu", negoex_error_name(rc), e.offset);
    size_t n = (size_t)snprintf(out, cap, "%s%s", t.kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP ? "resp" : "init",
                                t.framed ? " framed" : "");
    if (t.mech_types.data != NULL) {
        n += (size_t)snprintf(out + n, cap - n, " mt=");
        for (size_t i = 0; i < t.mech_type_count; i++) {
            negoex_bytes oid;
            assert_int_equal(negoex_spnego_mech_type(&t, i, &oid), 0);
            n += (size_t)snprintf(out + n, cap - n, "%s%s", i ? "," : "", oid_label(oid.data, oid.len));
        }
    }
    if (t.mech_token.data != NULL)
        n += (size_t)snprintf(out + n, cap - n, " tok");
    if (t.neg_state != NEGOEX_NEG_STATE_ABSENT)
        n += (size_t)snprintf(out + n, cap - n, " ns=%d", t.neg_state);
    if (t.supported_mech.data != NULL)
        n += (size_t)snprintf(out + n, cap - n, " sm=%s", oid_label(t.supported_mech.data, t.supported_mech.len));
    if (t.response_token.data != NULL)
        n += (size_t)snprintf(out + n, cap - n, " rt");
    if (t.mech_list_mic.data != NULL)
        n += (size_t)snprintf(out + n, cap - n, " mic");
    assert_true(n < cap);
}

static void expect_shapes(const conversation *c, const char *const *want, size_t n)
{
    if (c->count != n) {
        for (size_t i = 0; i < c->count; i++) {
            char got[512];
            shape(c->tokens[i].data, c->tokens[i].len, got, sizeof got);
            print_message("token %zu: %s\n", i, got);
        }
        fail_msg("%zu tokens, expected %zu", c->count, n);
    }
    for (size_t i = 0; i < n; i++) {
        char got[512];
        shape(c->tokens[i].data, c->tokens[i].len, got, sizeof got);
        if (strcmp(got, want[i]) != 0)
            fail_msg("token %zu:\n  want %s\n  got  %s", i, want[i], got);
    }
}

/* A framed NegTokenInit with the given mechTypes and optimistic token. */
static size_t write_init(const negoex_bytes *mechs, size_t n, const uint8_t *tok, size_t tok_len, uint8_t *out,
                         size_t cap)
{
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_INIT);
    f.framed = 1;
    f.mech_types = mechs;
    f.mech_type_count = n;
    if (tok != NULL)
        f.mech_token = (negoex_bytes){tok, tok_len};
    size_t len = 0;
    assert_int_equal(negoex_spnego_write(out, cap, &len, &f), 0);
    return len;
}

/* Rebuilds a NegTokenResp with one byte of its MIC flipped (or the MIC removed). */
static size_t tamper_mic(const uint8_t *in, size_t len, int remove, uint8_t *out, size_t cap)
{
    negoex_spnego_token t;
    assert_int_equal(negoex_spnego_parse(in, len, &t, NULL), 0);
    assert_non_null(t.mech_list_mic.data);
    uint8_t mic[256];
    assert_true(t.mech_list_mic.len <= sizeof mic);
    memcpy(mic, t.mech_list_mic.data, t.mech_list_mic.len);
    mic[t.mech_list_mic.len / 2] ^= 0x01;
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, t.kind);
    f.neg_state = t.neg_state;
    f.supported_mech = t.supported_mech;
    f.response_token = t.response_token;
    if (!remove)
        f.mech_list_mic = (negoex_bytes){mic, t.mech_list_mic.len};
    size_t n = 0;
    assert_int_equal(negoex_spnego_write(out, cap, &n, &f), 0);
    return n;
}

/* Windows 11's order: MS-KRB5, KRB5, IAKerb, NEGOEX, KRB5-U2U, NTLM. */
static const negoex_bytes WIN11[6] = {B(OID_MSKRB5), B(OID_KRB5), B(OID_IAKERB),
                                      {NEGOEX_OID_DER, NEGOEX_OID_DER_LEN}, B(OID_U2U), B(OID_NTLM)};
/* The NEGOEX-first variant (Entra-joined, optimistic NEGOEX token). */
static const negoex_bytes WIN11_NX_FIRST[6] = {{NEGOEX_OID_DER, NEGOEX_OID_DER_LEN}, B(OID_MSKRB5), B(OID_KRB5),
                                               B(OID_IAKERB), B(OID_U2U), B(OID_NTLM)};

/* The DER of WIN11 as Windows sends it (30 len, six OIDs). */
static const uint8_t WIN11_DER[] = {
    0x30, 0x42, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x06, 0x09, 0x2a, 0x86,
    0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x06, 0x06, 0x2b, 0x06, 0x01, 0x05, 0x02, 0x05, 0x06, 0x0a,
    0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e, 0x06, 0x0a, 0x2a, 0x86, 0x48, 0x86, 0xf7,
    0x12, 0x01, 0x02, 0x02, 0x03, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};

/* The acceptor's whole first answer when it declines for NTLM: negState
 * request-mic, supportedMech NTLM, nothing else. */
static const uint8_t DECLINE_FOR_NTLM[] = {0xa1, 0x15, 0x30, 0x13, 0xa0, 0x03, 0x0a, 0x01, 0x03, 0xa1, 0x0c, 0x06,
                                           0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};

/* A Kerberos-shaped optimistic token: RFC 1964 framing (60 .. 06 09 KRB5 01 00)
 * around the start of an AP-REQ (6e ..); never parsed by the acceptor. */
static size_t krb5_shaped(uint8_t *out)
{
    static const uint8_t head[] = {0x60, 0x2a, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01,
                                   0x02, 0x02, 0x01, 0x00, 0x6e, 0x1b, 0x30, 0x19, 0xa0, 0x03, 0x02,
                                   0x01, 0x05, 0xa1, 0x03, 0x02, 0x01, 0x0e, 0xa2, 0x07, 0x03, 0x05};
    memcpy(out, head, sizeof head);
    memset(out + sizeof head, 0x20, 11); /* ap-options and a ticket's worth of filler */
    return sizeof head + 11;
}

/* ------------------------------------------------------------------------ */
/* Windows 11 tokens to an acceptor with only ntlmtoy                         */
/* ------------------------------------------------------------------------ */

static void expect_decline(const uint8_t *init, size_t len)
{
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    const uint8_t *out;
    size_t olen;
    assert_int_equal(negoex_spnego_step(A, init, len, &out, &olen), NEGOEX_CONTINUE);
    assert_int_equal(olen, sizeof DECLINE_FOR_NTLM);
    assert_memory_equal(out, DECLINE_FOR_NTLM, sizeof DECLINE_FOR_NTLM);
    assert_true(negoex_spnego_mic_required(A));
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_selected_mech(A, &oid), NEGOEX_OK);
    assert_int_equal(oid.len, sizeof OID_NTLM);
    assert_memory_equal(oid.data, OID_NTLM, sizeof OID_NTLM);
    assert_int_equal(negoex_spnego_selected_app(A), 0);
    assert_null(negoex_spnego_negoex(A));
    negoex_spnego_free(A);
}

static void test_win11_list_without_token(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = write_init(WIN11, 6, NULL, 0, buf, sizeof buf);
    /* the list is Windows' byte for byte */
    negoex_spnego_token t;
    assert_int_equal(negoex_spnego_parse(buf, n, &t, NULL), 0);
    assert_int_equal(t.mech_types.len, sizeof WIN11_DER);
    assert_memory_equal(t.mech_types.data, WIN11_DER, sizeof WIN11_DER);
    expect_decline(buf, n);
}

static void test_win11_optimistic_mskrb5(void **state)
{
    (void)state;
    uint8_t tok[64], buf[512];
    size_t tl = krb5_shaped(tok);
    size_t n = write_init(WIN11, 6, tok, tl, buf, sizeof buf);
    expect_decline(buf, n);
}

static void test_win11_negoex_first_windows_nego(void **state)
{
    (void)state;
    /* Windows' own INITIATOR_NEGO + INITIATOR_META_DATA (PKU2U) as the
     * optimistic NEGOEX token. */
    size_t l0, l1;
    uint8_t *nego = tu_load("windows/negoex/win_initiator_nego_seq0.bin", &l0);
    uint8_t *meta = tu_load("windows/negoex/win_initiator_metadata_seq1.bin", &l1);
    uint8_t *tok = malloc(l0 + l1);
    assert_non_null(tok);
    memcpy(tok, nego, l0);
    memcpy(tok + l0, meta, l1);
    assert_int_equal(negoex_token_validate(tok, l0 + l1, NULL), 2);
    uint8_t *buf = malloc(l0 + l1 + 256);
    assert_non_null(buf);
    size_t n = write_init(WIN11_NX_FIRST, 6, tok, l0 + l1, buf, l0 + l1 + 256);
    expect_decline(buf, n);

    /* the same token to an acceptor whose NEGOEX has only the test scheme
     * (not PKU2U) beside ntlmtoy: no shared scheme, so ntlmtoy */
    negoex_spnego_app_mech apps[1] = {app(OID_NTLM, sizeof OID_NTLM, good_toy())};
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    negoex_spnego *A = side(NEGOEX_ROLE_ACCEPTOR, negoex_with(NEGOEX_ROLE_ACCEPTOR, 1, NULL), &cfg);
    const uint8_t *out;
    size_t olen;
    assert_int_equal(negoex_spnego_step(A, buf, n, &out, &olen), NEGOEX_CONTINUE);
    assert_int_equal(olen, sizeof DECLINE_FOR_NTLM);
    assert_memory_equal(out, DECLINE_FOR_NTLM, sizeof DECLINE_FOR_NTLM);
    /* the NEGOEX context saw nothing that stuck */
    assert_null(negoex_context_selected_scheme(negoex_spnego_negoex(A)));
    assert_false(negoex_context_is_complete(negoex_spnego_negoex(A)));
    negoex_spnego_free(A);
    free(buf);
    free(tok);
    free(nego);
    free(meta);
}

/* ------------------------------------------------------------------------ */
/* The whole conversation through the fallback                               */
/* ------------------------------------------------------------------------ */

static const char *const FALLBACK_SHAPES[] = {
    "init framed mt=NEGOEX,MS-Kerberos,Kerberos,IAKerb,Kerberos-U2U,NTLM tok",
    "resp ns=3 sm=NTLM",
    "resp ns=1 rt",
    "resp ns=1 rt",
    "resp ns=1 rt mic",
    "resp ns=0 mic",
};
#define NFALLBACK (sizeof FALLBACK_SHAPES / sizeof FALLBACK_SHAPES[0])

static void test_fallback_completes_with_mics(void **state)
{
    (void)state;
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    conversation *c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    expect_shapes(c, FALLBACK_SHAPES, NFALLBACK);
    assert_true(negoex_spnego_mic_exchanged(I));
    assert_true(negoex_spnego_mic_exchanged(A));

    /* both name NTLM; the acceptor knows the user */
    negoex_bytes oi, oa;
    assert_int_equal(negoex_spnego_selected_mech(I, &oi), NEGOEX_OK);
    assert_int_equal(negoex_spnego_selected_mech(A, &oa), NEGOEX_OK);
    assert_int_equal(oi.len, sizeof OID_NTLM);
    assert_memory_equal(oi.data, OID_NTLM, sizeof OID_NTLM);
    assert_int_equal(oa.len, sizeof OID_NTLM);
    assert_string_equal(negoex_ntlmtoy_user(negoex_spnego_app_state(A)), "alice@contoso.test");
    assert_int_equal(negoex_spnego_selected_app(I), 0);
    /* the initiator's NEGOEX started (its optimistic token) and was dropped */
    assert_null(negoex_context_selected_scheme(negoex_spnego_negoex(I)));

    /* The MICs cover the initiator's mechTypes exactly as sent: each one
     * verifies over those bytes and not over a list in another order. */
    negoex_spnego_token t0, t4, t5;
    assert_int_equal(negoex_spnego_parse(c->tokens[0].data, c->tokens[0].len, &t0, NULL), 0);
    assert_int_equal(negoex_spnego_parse(c->tokens[4].data, c->tokens[4].len, &t4, NULL), 0);
    assert_int_equal(negoex_spnego_parse(c->tokens[5].data, c->tokens[5].len, &t5, NULL), 0);
    const negoex_spnego_mech_ops *ops = negoex_ntlmtoy_mech();
    void *as = negoex_spnego_app_state(A), *is = negoex_spnego_app_state(I);
    assert_int_equal(ops->verify_mic(as, t0.mech_types.data, t0.mech_types.len, t4.mech_list_mic.data,
                                     t4.mech_list_mic.len),
                     NEGOEX_OK);
    assert_int_equal(ops->verify_mic(is, t0.mech_types.data, t0.mech_types.len, t5.mech_list_mic.data,
                                     t5.mech_list_mic.len),
                     NEGOEX_OK);
    uint8_t other[128];
    size_t on = 0;
    assert_int_equal(negoex_spnego_write_mech_list(other, sizeof other, &on, WIN11, 6), 0);
    assert_int_equal(
        ops->verify_mic(as, other, on, t4.mech_list_mic.data, t4.mech_list_mic.len), NEGOEX_ERR_SPNEGO_MIC_MISMATCH);
    /* and a MIC is not valid the other way (per-direction keys) */
    assert_int_equal(ops->verify_mic(is, t0.mech_types.data, t0.mech_types.len, t4.mech_list_mic.data,
                                     t4.mech_list_mic.len),
                     NEGOEX_ERR_SPNEGO_MIC_MISMATCH);
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

/* Replays a recorded good conversation step by step, with the token at
 * `bad` (4 = the initiator's MIC, 5 = the acceptor's) tampered first. */
static void tamper_run(size_t bad, int remove)
{
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    const uint8_t *out;
    size_t len;
    uint8_t t[MAX_TOKEN_LEN], forged[MAX_TOKEN_LEN];
    int rc = negoex_spnego_step(I, NULL, 0, &out, &len);
    assert_int_equal(rc, NEGOEX_CONTINUE);
    for (size_t k = 1; len != 0; k++) {
        size_t tl = len;
        memcpy(t, out, len);
        negoex_spnego *to = k % 2 ? A : I;
        if (k - 1 == bad) {
            size_t fl = tamper_mic(t, tl, remove, forged, sizeof forged);
            int want = remove ? NEGOEX_ERR_SPNEGO_MIC_MISSING : NEGOEX_ERR_SPNEGO_MIC_MISMATCH;
            assert_int_equal(negoex_spnego_step(to, forged, fl, &out, &len), want);
            assert_int_equal(len, 0);
            negoex_error_info e;
            negoex_spnego_last_error(to, &e);
            assert_string_equal(e.field, "mechListMIC");
            assert_false(negoex_spnego_is_complete(to));
            assert_false(negoex_spnego_mic_exchanged(to));
        }
        rc = negoex_spnego_step(to, t, tl, &out, &len);
        assert_true(rc == NEGOEX_CONTINUE || rc == NEGOEX_COMPLETE);
    }
    assert_true(negoex_spnego_is_complete(I));
    assert_true(negoex_spnego_is_complete(A));
    assert_true(negoex_spnego_mic_exchanged(I));
    assert_true(negoex_spnego_mic_exchanged(A));
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

static void test_fallback_tampered_mics(void **state)
{
    (void)state;
    tamper_run(4, 0); /* the initiator's MIC, with AUTHENTICATE: the acceptor's ntlmtoy state is rolled back */
    tamper_run(5, 0); /* the acceptor's MIC */
    tamper_run(4, 1); /* removed */
    tamper_run(5, 1);
}

static void test_fallback_wrong_secret(void **state)
{
    (void)state;
    negoex_ntlmtoy_config bad = toy_cfg(WRONG, sizeof WRONG - 1, NULL);
    negoex_spnego *I = windows_initiator(1, &bad, NULL);
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    conversation *c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_ERR_SPNEGO_MECH_AUTH);
    assert_int_equal(c->init_rc, NEGOEX_ERR_SPNEGO_REJECTED);
    assert_int_equal(c->count, 6);
    assert_int_equal(c->tokens[5].len, sizeof REJECT);
    assert_memory_equal(c->tokens[5].data, REJECT, sizeof REJECT);
    negoex_error_info e;
    negoex_spnego_last_error(A, &e);
    assert_int_equal(e.code, NEGOEX_ERR_SPNEGO_MECH_AUTH);
    assert_string_equal(e.field, "responseToken");
    assert_string_equal(negoex_error_name(NEGOEX_ERR_SPNEGO_MECH_AUTH), "SPNEGO_MECH_AUTH");
    assert_false(negoex_spnego_is_complete(A));
    /* failed for good */
    const uint8_t *out;
    size_t len;
    assert_int_equal(negoex_spnego_step(A, c->tokens[4].data, c->tokens[4].len, &out, &len), NEGOEX_ERR_FAILED);
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    /* the acceptor accepts only bob */
    negoex_ntlmtoy_config only_bob = *good_toy();
    only_bob.expected_user = "bob@contoso.test";
    I = windows_initiator(1, good_toy(), NULL);
    A = ntlm_only_acceptor(&only_bob);
    c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_ERR_SPNEGO_MECH_AUTH);
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

static void test_malformed_app_token_rejected(void **state)
{
    (void)state;
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    const uint8_t *out;
    size_t len;
    uint8_t t0[MAX_TOKEN_LEN], t2[MAX_TOKEN_LEN], bad[MAX_TOKEN_LEN];
    assert_int_equal(negoex_spnego_step(I, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    size_t l0 = len;
    memcpy(t0, out, len);
    assert_int_equal(negoex_spnego_step(A, t0, l0, &out, &len), NEGOEX_CONTINUE);
    assert_int_equal(negoex_spnego_step(I, out, len, &out, &len), NEGOEX_CONTINUE);
    size_t l2 = len;
    memcpy(t2, out, len);
    /* the NEGOTIATE with its type byte changed: rejected, nothing changes */
    negoex_spnego_token t;
    assert_int_equal(negoex_spnego_parse(t2, l2, &t, NULL), 0);
    size_t at = (size_t)(t.response_token.data - t2) + 7;
    memcpy(bad, t2, l2);
    bad[at] = 0x03;
    assert_int_equal(negoex_spnego_step(A, bad, l2, &out, &len), NEGOEX_ERR_SPNEGO_MECH_TOKEN);
    assert_int_equal(len, 0);
    negoex_error_info e;
    negoex_spnego_last_error(A, &e);
    assert_string_equal(e.field, "responseToken");
    assert_int_equal(e.offset, at - 7);
    /* a supportedMech in a later token is refused too */
    assert_int_equal(negoex_spnego_step(A, DECLINE_FOR_NTLM, sizeof DECLINE_FOR_NTLM, &out, &len),
                     NEGOEX_ERR_SPNEGO_UNEXPECTED);
    /* the genuine NEGOTIATE goes on */
    assert_int_equal(negoex_spnego_step(A, t2, l2, &out, &len), NEGOEX_CONTINUE);
    assert_true(len > 0);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

/* ------------------------------------------------------------------------ */
/* The acceptor's choice                                                      */
/* ------------------------------------------------------------------------ */

static negoex_spnego *negoex_and_ntlm_acceptor(int mech, size_t negoex_position, int policy)
{
    static negoex_spnego_app_mech apps[1];
    apps[0] = app(OID_NTLM, sizeof OID_NTLM, good_toy());
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    cfg.negoex_position = negoex_position;
    cfg.acceptor_policy = policy;
    return side(NEGOEX_ROLE_ACCEPTOR, negoex_with(NEGOEX_ROLE_ACCEPTOR, mech, NULL), &cfg);
}

static void test_negoex_only_when_scheme_shared(void **state)
{
    (void)state;
    /* shared (test scheme 1 both sides): NEGOEX, the optimistic token taken */
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    negoex_spnego *A = negoex_and_ntlm_acceptor(1, 0, NEGOEX_SPNEGO_POLICY_OWN_ORDER);
    conversation *c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    char got[512];
    shape(c->tokens[1].data, c->tokens[1].len, got, sizeof got);
    assert_string_equal(got, "resp ns=0 sm=NEGOEX rt");
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_selected_mech(A, &oid), NEGOEX_OK);
    assert_int_equal(oid.len, NEGOEX_OID_DER_LEN);
    assert_memory_equal(oid.data, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
    assert_int_equal(negoex_spnego_selected_app(A), -1);
    assert_null(negoex_spnego_app_state(A));
    assert_non_null(negoex_context_selected_scheme(negoex_spnego_negoex(A)));
    assert_false(negoex_spnego_mic_required(A));
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    /* not shared (initiator test scheme 2, acceptor 1): ntlmtoy */
    I = windows_initiator(2, good_toy(), NULL);
    A = negoex_and_ntlm_acceptor(1, 0, NEGOEX_SPNEGO_POLICY_OWN_ORDER);
    c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    expect_shapes(c, FALLBACK_SHAPES, NFALLBACK);
    assert_int_equal(negoex_spnego_selected_app(A), 0);
    assert_true(negoex_spnego_mic_exchanged(A));
    assert_null(negoex_context_selected_scheme(negoex_spnego_negoex(A)));
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    /* not shared and nothing else: NEGOEX's own failure, as before */
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    A = side(NEGOEX_ROLE_ACCEPTOR, negoex_with(NEGOEX_ROLE_ACCEPTOR, 1, NULL), &cfg);
    I = windows_initiator(2, good_toy(), NULL);
    c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_ERR_NO_COMMON_SCHEME);
    assert_int_equal(c->init_rc, NEGOEX_ERR_SPNEGO_REJECTED);
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

static void test_policy_orders(void **state)
{
    (void)state;
    /* Initiator: NEGOEX (test scheme 1, optimistic) first, then NTLM.
     * Acceptor: NEGOEX after NTLM in its own order. */
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    negoex_spnego *A = negoex_and_ntlm_acceptor(1, 1, NEGOEX_SPNEGO_POLICY_OWN_ORDER);
    conversation *c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    expect_shapes(c, FALLBACK_SHAPES, NFALLBACK); /* own order: NTLM although NEGOEX is shared */
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    I = windows_initiator(1, good_toy(), NULL);
    A = negoex_and_ntlm_acceptor(1, 1, NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    char got[512];
    shape(c->tokens[1].data, c->tokens[1].len, got, sizeof got);
    assert_string_equal(got, "resp ns=0 sm=NEGOEX rt"); /* initiator order: NEGOEX */
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    /* Two app mechs (ntlmtoy as NTLM and as KRB5); the initiator lists NTLM
     * first with its optimistic NEGOTIATE, the acceptor prefers KRB5. */
    negoex_spnego_app_mech iapps[2] = {app(OID_NTLM, sizeof OID_NTLM, good_toy()),
                                       app(OID_KRB5, sizeof OID_KRB5, good_toy())};
    negoex_spnego_app_mech aapps[2] = {app(OID_KRB5, sizeof OID_KRB5, good_toy()),
                                       app(OID_NTLM, sizeof OID_NTLM, good_toy())};
    for (int policy = 0; policy < 2; policy++) {
        negoex_spnego_config ic, ac;
        negoex_spnego_config_init(&ic);
        ic.app_mechs = iapps;
        ic.app_mech_count = 2;
        negoex_spnego_config_init(&ac);
        ac.app_mechs = aapps;
        ac.app_mech_count = 2;
        ac.acceptor_policy = policy;
        I = side(NEGOEX_ROLE_INITIATOR, NULL, &ic);
        A = side(NEGOEX_ROLE_ACCEPTOR, NULL, &ac);
        converse(I, A, c);
        assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
        assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
        if (policy == NEGOEX_SPNEGO_POLICY_OWN_ORDER) {
            static const char *const want[] = {
                "init framed mt=NTLM,Kerberos tok", "resp ns=3 sm=Kerberos", "resp ns=1 rt",
                "resp ns=1 rt",                     "resp ns=1 rt mic",      "resp ns=0 mic",
            };
            expect_shapes(c, want, 6);
            assert_int_equal(negoex_spnego_selected_app(A), 0);
            assert_int_equal(negoex_spnego_selected_app(I), 1);
            assert_true(negoex_spnego_mic_exchanged(I));
        } else {
            /* the optimistic NEGOTIATE taken: no MIC needed (first choice) */
            static const char *const want[] = {
                "init framed mt=NTLM,Kerberos tok",
                "resp ns=1 sm=NTLM rt",
                "resp ns=1 rt",
                "resp ns=0",
            };
            expect_shapes(c, want, 4);
            assert_int_equal(negoex_spnego_selected_app(A), 1);
            assert_false(negoex_spnego_mic_required(A));
        }
        negoex_spnego_free(I);
        negoex_spnego_free(A);
    }
    free(c);
}

static void test_mskrb5_echoed(void **state)
{
    (void)state;
    /* MS-SPNG 3.1.5.2: Windows' optimistic Kerberos token comes under
     * MS-KRB5; an acceptor with Kerberos (here ntlmtoy registered as KRB5)
     * takes it and echoes MS-KRB5 in supportedMech. */
    negoex_spnego_app_mech iapps[1] = {app(OID_MSKRB5, sizeof OID_MSKRB5, good_toy())};
    negoex_spnego_app_mech aapps[1] = {app(OID_KRB5, sizeof OID_KRB5, good_toy())};
    negoex_spnego_config ic, ac;
    negoex_spnego_config_init(&ic);
    negoex_bytes others[2] = {B(OID_MSKRB5), B(OID_KRB5)};
    ic.other_mechs = others; /* Windows lists both, MS-KRB5 first */
    ic.other_mech_count = 2;
    ic.app_mechs = iapps;
    ic.app_mech_count = 1;
    negoex_spnego_config_init(&ac);
    ac.app_mechs = aapps;
    ac.app_mech_count = 1;
    negoex_spnego *I = side(NEGOEX_ROLE_INITIATOR, NULL, &ic);
    negoex_spnego *A = side(NEGOEX_ROLE_ACCEPTOR, NULL, &ac);
    conversation *c = malloc(sizeof *c);
    assert_non_null(c);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    static const char *const want[] = {
        "init framed mt=MS-Kerberos,Kerberos tok",
        "resp ns=1 sm=MS-Kerberos rt",
        "resp ns=1 rt",
        "resp ns=0",
    };
    expect_shapes(c, want, 4);
    negoex_spnego_free(I);
    negoex_spnego_free(A);

    ic.other_mechs = NULL;
    ic.other_mech_count = 0;
    I = side(NEGOEX_ROLE_INITIATOR, NULL, &ic);
    A = side(NEGOEX_ROLE_ACCEPTOR, NULL, &ac);
    converse(I, A, c);
    assert_int_equal(c->acc_rc, NEGOEX_COMPLETE);
    assert_int_equal(c->init_rc, NEGOEX_COMPLETE);
    static const char *const want2[] = {
        "init framed mt=MS-Kerberos tok",
        "resp ns=1 sm=MS-Kerberos rt",
        "resp ns=1 rt",
        "resp ns=0",
    };
    expect_shapes(c, want2, 4);
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_selected_mech(A, &oid), NEGOEX_OK);
    assert_int_equal(oid.len, sizeof OID_MSKRB5);
    assert_memory_equal(oid.data, OID_MSKRB5, sizeof OID_MSKRB5);
    free(c);
    negoex_spnego_free(I);
    negoex_spnego_free(A);
}

static void test_never_unconfigured(void **state)
{
    (void)state;
    const uint8_t *out;
    size_t len;
    uint8_t buf[512];
    /* Windows' list without NTLM, to an acceptor with only ntlmtoy: reject */
    size_t n = write_init(WIN11, 5, NULL, 0, buf, sizeof buf);
    negoex_spnego *A = ntlm_only_acceptor(good_toy());
    assert_int_equal(negoex_spnego_step(A, buf, n, &out, &len), NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
    assert_int_equal(len, sizeof REJECT);
    assert_memory_equal(out, REJECT, sizeof REJECT);
    negoex_spnego_free(A);

    /* NEGOEX listed (first, with a token) to an acceptor without NEGOEX: never taken */
    negoex_bytes nx_only[2] = {NX_OID, B(OID_PRIVATE)};
    static const uint8_t junk[] = "NEGOEXTS";
    n = write_init(nx_only, 2, junk, sizeof junk - 1, buf, sizeof buf);
    A = ntlm_only_acceptor(good_toy());
    assert_int_equal(negoex_spnego_step(A, buf, n, &out, &len), NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
    negoex_spnego_free(A);

    /* an app mech under a private OID answers only that OID */
    negoex_spnego_app_mech apps[1] = {app(OID_PRIVATE, sizeof OID_PRIVATE, good_toy())};
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    A = side(NEGOEX_ROLE_ACCEPTOR, NULL, &cfg);
    n = write_init(WIN11, 6, NULL, 0, buf, sizeof buf);
    assert_int_equal(negoex_spnego_step(A, buf, n, &out, &len), NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
    negoex_spnego_free(A);

    /* the initiator refuses a supportedMech it listed but cannot run, and one
     * it never listed */
    negoex_spnego *I = windows_initiator(1, good_toy(), NULL);
    assert_int_equal(negoex_spnego_step(I, NULL, 0, &out, &len), NEGOEX_CONTINUE);
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
    f.neg_state = NEGOEX_NEG_STATE_REQUEST_MIC;
    f.supported_mech = B(OID_PRIVATE);
    assert_int_equal(negoex_spnego_write(buf, sizeof buf, &n, &f), 0);
    assert_int_equal(negoex_spnego_step(I, buf, n, &out, &len), NEGOEX_ERR_SPNEGO_UNEXPECTED);
    f.supported_mech = B(OID_IAKERB);
    assert_int_equal(negoex_spnego_write(buf, sizeof buf, &n, &f), 0);
    assert_int_equal(negoex_spnego_step(I, buf, n, &out, &len), NEGOEX_ERR_SPNEGO_NO_COMMON_MECH);
    assert_int_equal(len, sizeof REJECT);
    negoex_spnego_free(I);
}

static void test_bad_app_config(void **state)
{
    (void)state;
    negoex_spnego *sp = NULL;
    negoex_spnego_config cfg;
    negoex_spnego_config_init(&cfg);
    assert_int_equal(cfg.role, -1);
    negoex_spnego_app_mech apps[2] = {app(OID_NTLM, sizeof OID_NTLM, good_toy()),
                                      app(OID_NTLM, sizeof OID_NTLM, good_toy())};
    cfg.app_mechs = apps;
    cfg.app_mech_count = 1;
    /* no NEGOEX context: a role is needed */
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    cfg.role = NEGOEX_ROLE_ACCEPTOR;
    cfg.app_mech_count = 0; /* ... and app mechs */
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    cfg.app_mech_count = 2; /* twice NTLM */
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    apps[1].oid = NX_OID; /* NEGOEX as an app mech */
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_spnego_mech_ops broken = *negoex_ntlmtoy_mech();
    broken.step = NULL;
    apps[1] = (negoex_spnego_app_mech){B(OID_KRB5), &broken, NULL};
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    /* a role that contradicts the NEGOEX context's */
    cfg.app_mech_count = 1;
    negoex_context *nx = negoex_with(NEGOEX_ROLE_INITIATOR, 1, NULL);
    assert_int_equal(negoex_spnego_new(&sp, nx, &cfg), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_null(sp);
    negoex_context_free(nx);
    /* before any choice there is none */
    cfg.role = NEGOEX_ROLE_ACCEPTOR;
    assert_int_equal(negoex_spnego_new(&sp, NULL, &cfg), NEGOEX_OK);
    negoex_bytes oid;
    assert_int_equal(negoex_spnego_selected_mech(sp, &oid), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_int_equal(negoex_spnego_selected_app(sp), -1);
    assert_null(negoex_spnego_app_state(sp));
    negoex_spnego_free(sp);
    /* ntlmtoy itself: a secret is required */
    negoex_ntlmtoy_config nosecret = toy_cfg(NULL, 0, NULL);
    void *st = NULL;
    assert_int_equal(negoex_ntlmtoy_mech()->create(&nosecret, NEGOEX_ROLE_ACCEPTOR, &st), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_null(st);
}

/* ------------------------------------------------------------------------ */
/* Allocation failures over a fallback handshake                              */
/* ------------------------------------------------------------------------ */

static void test_allocation_failures(void **state)
{
    (void)state;
    unsigned long completed = 0;
    for (unsigned long k = 1; k < 600; k++) {
        tu_alloc st;
        tu_alloc_init(&st, k);
        const negoex_allocator a = st.a;
        negoex_ntlmtoy_config tc = toy_cfg(SECRET, sizeof SECRET - 1, &a);
        negoex_spnego *I = NULL, *A = NULL;

        /* initiator: Windows-like, NEGOEX (nxtoy) first, ntlmtoy */
        negoex_bytes others[2] = {B(OID_MSKRB5), B(OID_NTLM)};
        negoex_spnego_app_mech iapps[1] = {app(OID_NTLM, sizeof OID_NTLM, &tc)};
        negoex_spnego_config ic;
        negoex_spnego_config_init(&ic);
        ic.other_mechs = others;
        ic.other_mech_count = 2;
        ic.app_mechs = iapps;
        ic.app_mech_count = 1;
        negoex_context *nx = negoex_with(NEGOEX_ROLE_INITIATOR, 3, &a);
        if (nx != NULL && negoex_spnego_new(&I, nx, &ic) != NEGOEX_OK)
            negoex_context_free(nx);
        /* acceptor: ntlmtoy only, no NEGOEX */
        negoex_spnego_app_mech aapps[1] = {app(OID_NTLM, sizeof OID_NTLM, &tc)};
        negoex_spnego_config ac;
        negoex_spnego_config_init(&ac);
        ac.app_mechs = aapps;
        ac.app_mech_count = 1;
        ac.role = NEGOEX_ROLE_ACCEPTOR;
        ac.allocator = &a;
        if (negoex_spnego_new(&A, NULL, &ac) != NEGOEX_OK)
            A = NULL;

        if (I != NULL && A != NULL) {
            const uint8_t *out;
            size_t len;
            uint8_t t[MAX_TOKEN_LEN];
            int rc = negoex_spnego_step(I, NULL, 0, &out, &len);
            int to_acc = 1, ri = rc, ra = 0;
            while (rc >= 0 && len != 0) {
                memcpy(t, out, len);
                size_t tl = len;
                /* a token rejected for lack of memory is simply sent again */
                for (int again = 0; again < 3; again++) {
                    rc = negoex_spnego_step(to_acc ? A : I, t, tl, &out, &len);
                    if (rc != NEGOEX_ERR_NO_MEMORY)
                        break;
                }
                if (to_acc)
                    ra = rc;
                else
                    ri = rc;
                to_acc = !to_acc;
            }
            /* (NEGOEX drops a scheme whose metadata could not be made:
             * NO_COMMON_SCHEME on the initiator's first step) */
            if (rc < 0 && rc != NEGOEX_ERR_NO_MEMORY && rc != NEGOEX_ERR_SPNEGO_REJECTED &&
                rc != NEGOEX_ERR_SPNEGO_MECH_FAILED && rc != NEGOEX_ERR_NO_COMMON_SCHEME &&
                rc != NEGOEX_ERR_SCHEME_FAILED)
                fail_msg("k=%lu: %s", k, negoex_error_name(rc));
            if (ri == NEGOEX_COMPLETE && ra == NEGOEX_COMPLETE) {
                completed++;
                assert_true(negoex_spnego_mic_exchanged(A));
            }
        }
        negoex_spnego_free(I);
        negoex_spnego_free(A);
        if (st.live != 0)
            fail_msg("k=%lu: %ld blocks leaked", k, st.live);
        if (st.calls < k) {
            /* k beyond the last allocation: this run saw no failure */
            assert_true(completed > 0);
            return;
        }
    }
    fail_msg("more than 600 allocations in one conversation");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_win11_list_without_token),
        cmocka_unit_test(test_win11_optimistic_mskrb5),
        cmocka_unit_test(test_win11_negoex_first_windows_nego),
        cmocka_unit_test(test_fallback_completes_with_mics),
        cmocka_unit_test(test_fallback_tampered_mics),
        cmocka_unit_test(test_fallback_wrong_secret),
        cmocka_unit_test(test_malformed_app_token_rejected),
        cmocka_unit_test(test_negoex_only_when_scheme_shared),
        cmocka_unit_test(test_policy_orders),
        cmocka_unit_test(test_mskrb5_echoed),
        cmocka_unit_test(test_never_unconfigured),
        cmocka_unit_test(test_bad_app_config),
        cmocka_unit_test(test_allocation_failures),
    };
    return cmocka_run_group_tests_name("test_spnego_fallback", tests, NULL, NULL);
}
