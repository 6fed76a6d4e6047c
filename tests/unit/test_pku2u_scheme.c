/*
 * The PKU2U auth scheme: the ASN.1 encoders (Windows vectors re-encode to
 * their own bytes), full NEGOEX handshakes between two contexts with a
 * generated PKI (Windows 3-round-trip and optimistic forms, DH groups 2 and
 * 14, with and without channel bindings) and with the published
 * Windows-shaped identities, each failure with its exact error, the
 * Windows shape of our AS-REQ and metadata, and our acceptor on the Windows
 * AS-REQ vectors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <negoex/context.h>
#include <negoex/scheme_pku2u.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pku2u/asn1.h"
#include "pku2u/asn1_encode.h"
#include "pku2u/cms.h"
#include "pku2u/dh.h"
#include "pku2u/gss_tokens.h"
#include "pku2u/x509.h"
#include "testutil.h"

#define KC "windows/keys_certs/"
#define HOST "host.example.com"
#define UPN "user@example.com"
#define USER_SID "S-1-12-1-1111-2222-3333-4444"

/* ------------------------------------------------------------------------ */
/* Test PKI                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct pki {
    EVP_PKEY *ca_key, *user_key, *dev_key, *other_key;
    X509 *ca, *user, *dev;
    X509 *user_server_eku;  /* user certificate with serverAuth only */
    X509 *dev_client_eku;   /* device certificate with clientAuth only */
    X509 *other_ca, *other_user; /* another CA and a user under it */
    STACK_OF(X509) *anchors, *other_anchors;
} pki;

static pki P;

typedef tu_ext ext;

/* subject: "DC=..,CN=..,CN=.." entries in wire order; valid from an hour ago
 * for two days. */
static X509 *make_cert(const char *const *rdns, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, const ext *exts)
{
    static long serial = 7000;
    return tu_make_cert(rdns, key, issuer, issuer_key, exts, 2L * 86400, &serial);
}

static const ext CA_EXTS[] = {{NID_basic_constraints, "critical,CA:TRUE"}, {NID_key_usage, "keyCertSign"}, {0, NULL}};
static const ext USER_EXTS[] = {{NID_ext_key_usage, "clientAuth"},
                                {NID_subject_alt_name, "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:" UPN},
                                {0, NULL}};
static const ext USER_SERVER_EXTS[] = {{NID_ext_key_usage, "serverAuth"},
                                       {NID_subject_alt_name, "otherName:1.3.6.1.4.1.311.20.2.3;UTF8:" UPN},
                                       {0, NULL}};
static const ext DEV_EXTS[] = {{NID_ext_key_usage, "serverAuth"}, {NID_subject_alt_name, "DNS:" HOST}, {0, NULL}};
static const ext DEV_CLIENT_EXTS[] = {{NID_ext_key_usage, "clientAuth"}, {NID_subject_alt_name, "DNS:" HOST}, {0, NULL}};

static int pki_setup(void **state)
{
    (void)state;
    P.ca_key = EVP_RSA_gen(2048);
    P.user_key = EVP_RSA_gen(2048);
    P.dev_key = EVP_RSA_gen(2048);
    P.other_key = EVP_RSA_gen(2048);
    assert_non_null(P.ca_key);
    assert_non_null(P.user_key);
    assert_non_null(P.dev_key);
    assert_non_null(P.other_key);
    static const char *const ca_name[] = {"CN", "MS-Organization-P2P-Access [2024]", NULL};
    static const char *const user_name[] = {"DC", "0f0e0d0c-tenant", "CN", USER_SID, "CN", UPN, NULL};
    static const char *const dev_name[] = {"DC", "0f0e0d0c-tenant", "CN", "a1b2c3d4-device", NULL};
    static const char *const other_ca_name[] = {"CN", "Some Other CA", NULL};
    P.ca = make_cert(ca_name, P.ca_key, NULL, NULL, CA_EXTS);
    P.user = make_cert(user_name, P.user_key, P.ca, P.ca_key, USER_EXTS);
    P.dev = make_cert(dev_name, P.dev_key, P.ca, P.ca_key, DEV_EXTS);
    P.user_server_eku = make_cert(user_name, P.user_key, P.ca, P.ca_key, USER_SERVER_EXTS);
    P.dev_client_eku = make_cert(dev_name, P.dev_key, P.ca, P.ca_key, DEV_CLIENT_EXTS);
    P.other_ca = make_cert(other_ca_name, P.other_key, NULL, NULL, CA_EXTS);
    P.other_user = make_cert(user_name, P.user_key, P.other_ca, P.other_key, USER_EXTS);
    P.anchors = sk_X509_new_null();
    assert_non_null(P.anchors);
    assert_true(sk_X509_push(P.anchors, P.ca) > 0);
    P.other_anchors = sk_X509_new_null();
    assert_non_null(P.other_anchors);
    assert_true(sk_X509_push(P.other_anchors, P.other_ca) > 0);
    return 0;
}

static int pki_teardown(void **state)
{
    (void)state;
    sk_X509_free(P.anchors);
    sk_X509_free(P.other_anchors);
    X509 *certs[] = {P.ca, P.user, P.dev, P.user_server_eku, P.dev_client_eku, P.other_ca, P.other_user};
    for (size_t i = 0; i < sizeof certs / sizeof certs[0]; i++)
        X509_free(certs[i]);
    EVP_PKEY_free(P.ca_key);
    EVP_PKEY_free(P.user_key);
    EVP_PKEY_free(P.dev_key);
    EVP_PKEY_free(P.other_key);
    memset(&P, 0, sizeof P);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Configurations and the driver                                             */
/* ------------------------------------------------------------------------ */

typedef struct side {
    negoex_pku2u_config cfg;
    negoex_pku2u_status status;
    negoex_context *ctx;
    const negoex_allocator *alloc; /* for the scheme; NULL = malloc */
} side;

/* An allocator that counts live blocks (testutil). */
static tu_alloc COUNTING;

static void initiator_cfg(side *s)
{
    memset(s, 0, sizeof *s);
    negoex_pku2u_config_init(&s->cfg);
    s->cfg.cert = P.user;
    s->cfg.key = P.user_key;
    s->cfg.trust_anchors = P.anchors;
    s->cfg.target_host = HOST;
    s->cfg.netbios_name = "CLIENT-PC";
    s->cfg.status = &s->status;
}

static void acceptor_cfg(side *s)
{
    memset(s, 0, sizeof *s);
    negoex_pku2u_config_init(&s->cfg);
    s->cfg.cert = P.dev;
    s->cfg.key = P.dev_key;
    s->cfg.trust_anchors = P.anchors;
    s->cfg.status = &s->status;
}

static void open_side(side *s, negoex_role role, int optimistic)
{
    negoex_config c;
    negoex_config_init(&c);
    c.optimistic = optimistic;
    assert_int_equal(negoex_context_new(&s->ctx, role, &c), NEGOEX_OK);
    negoex_scheme *sc = NULL;
    int rc = negoex_pku2u_scheme_new(&sc, &s->cfg, s->alloc);
    if (rc != NEGOEX_OK)
        fail_msg("negoex_pku2u_scheme_new: %s", negoex_error_name(rc));
    rc = negoex_context_add_scheme(s->ctx, sc);
    if (rc != NEGOEX_OK) {
        sc->cls->destroy(sc);
        fail_msg("add_scheme: %s", negoex_error_name(rc));
    }
}

static void close_side(side *s)
{
    negoex_context_free(s->ctx);
    s->ctx = NULL;
}

/* Called with every token sent (leg 0 = the initiator's first). */
typedef void (*tamper_fn)(int leg, uint8_t *tok, size_t len, void *ud);

typedef struct run_result {
    int rc;         /* NEGOEX_COMPLETE for both, else the first failure */
    int failed;     /* 0 initiator, 1 acceptor, -1 none */
    int peer_rc;    /* the initiator's answer to the acceptor's error token */
    int legs;       /* tokens sent */
    int error_token; /* the failing acceptor sent a token */
} run_result;

static run_result drive(side *I, side *A, tamper_fn tf, void *ud)
{
    negoex_context *ctx[2] = {I->ctx, A->ctx};
    run_result r = {0, -1, 0, 0, 0};
    uint8_t *cur = NULL;
    size_t clen = 0;
    int done[2] = {0, 0};
    for (int leg = 0, who = 0; leg < 12; leg++, who ^= 1) {
        if (leg > 0 && clen == 0)
            break;
        const uint8_t *o = NULL;
        size_t ol = 0;
        int rc = negoex_context_step(ctx[who], cur, clen, &o, &ol);
        free(cur);
        cur = NULL;
        clen = 0;
        if (ol) {
            cur = malloc(ol);
            assert_non_null(cur);
            memcpy(cur, o, ol);
            clen = ol;
            r.legs++;
            if (tf != NULL && rc >= 0)
                tf(leg, cur, clen, ud);
        }
        if (rc < 0) {
            r.rc = rc;
            r.failed = who;
            r.error_token = clen != 0;
            if (clen != 0 && who == 1)
                r.peer_rc = negoex_context_step(ctx[0], cur, clen, &o, &ol);
            free(cur);
            return r;
        }
        done[who] = rc == NEGOEX_COMPLETE;
    }
    free(cur);
    r.rc = done[0] && done[1] ? NEGOEX_COMPLETE : NEGOEX_CONTINUE;
    return r;
}

/* ------------------------------------------------------------------------ */
/* Locating parts of tokens (for tampering and shape checks)                 */
/* ------------------------------------------------------------------------ */

/* The exchange bytes of the first message of type in a NEGOEX token. */
static int find_exchange(const uint8_t *tok, size_t len, uint32_t type, negoex_bytes *x)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1) {
        if (m.type == type) {
            *x = m.u.exchange.exchange;
            return 1;
        }
    }
    return 0;
}

/* The PKU2U message of the first AP_REQUEST / CHALLENGE with TOK_ID tok_id. */
static int find_pku2u(const uint8_t *tok, size_t len, unsigned tok_id, negoex_pku2u_message *msg)
{
    negoex_bytes x;
    if (!find_exchange(tok, len, NEGOEX_AP_REQUEST, &x) && !find_exchange(tok, len, NEGOEX_CHALLENGE, &x))
        return 0;
    if (negoex_pku2u_decode_token(x.data, x.len, msg, NULL) != NEGOEX_OK)
        return 0;
    return msg->token.tok_id == tok_id;
}

typedef struct tamper {
    unsigned tok_id; /* the PKU2U message to change */
    int what;        /* which part */
    int done;
} tamper;

enum { T_AUTHPACK, T_NETBIOS, T_TICKET_SNAME, T_AUTHENTICATOR, T_AP_REP };

static void flip(uint8_t *p)
{
    *p ^= 0x01;
}

static void tamper_cb(int leg, uint8_t *tok, size_t len, void *ud)
{
    tamper *t = ud;
    (void)leg;
    negoex_pku2u_message m;
    if (t->done || !find_pku2u(tok, len, t->tok_id, &m))
        return;
    switch (t->what) {
    case T_AUTHPACK: { /* last byte of the signed AuthPack (clientDHNonce) */
        negoex_krb_pa_pk_as_req pa;
        negoex_cms_signed_data sd;
        assert_int_equal(negoex_krb_decode_pa_pk_as_req(m.u.as_req.padata[0].value.data,
                                                        m.u.as_req.padata[0].value.len, &pa, NULL),
                         NEGOEX_OK);
        assert_int_equal(
            negoex_cms_decode_signed_data(pa.signed_auth_pack.data, pa.signed_auth_pack.len, &sd, NULL), NEGOEX_OK);
        flip((uint8_t *)sd.econtent.data + sd.econtent.len - 1);
        break;
    }
    case T_NETBIOS: /* a character of the NetBIOS address in the req-body */
        assert_true(m.u.as_req.has_addresses);
        flip((uint8_t *)m.u.as_req.addresses[0].address.data + 2);
        break;
    case T_TICKET_SNAME: /* the ticket's outer sname: nobody checks it but KRB-FINISHED */
        ((uint8_t *)m.u.as_rep.ticket.sname.components[1].data)[0] ^= 0x20; /* h -> H */
        break;
    case T_AUTHENTICATOR:
        flip((uint8_t *)m.u.ap_req.authenticator.cipher.data + m.u.ap_req.authenticator.cipher.len / 2);
        break;
    case T_AP_REP:
        flip((uint8_t *)m.u.ap_rep.enc_part.cipher.data + 20);
        break;
    default:
        break;
    }
    t->done = 1;
}

/* ------------------------------------------------------------------------ */
/* Checks on an established pair                                             */
/* ------------------------------------------------------------------------ */

static void assert_name(negoex_scheme *s, negoex_pku2u_name_kind kind, const char *want)
{
    char buf[512];
    size_t need = 0;
    int rc = negoex_pku2u_peer_name(s, kind, buf, sizeof buf, &need);
    if (rc != NEGOEX_OK)
        fail_msg("peer_name(%d): %s", (int)kind, negoex_error_name(rc));
    assert_string_equal(buf, want);
    assert_int_equal(need, strlen(want) + 1);
}

static int contains(const uint8_t *hay, size_t n, const char *needle)
{
    size_t m = strlen(needle);
    for (size_t i = 0; m <= n && i <= n - m; i++)
        if (memcmp(hay + i, needle, m) == 0)
            return 1;
    return 0;
}

static void wrap_roundtrip(negoex_scheme *from, negoex_scheme *to, int conf, const char *msg)
{
    negoex_buf tok, plain;
    negoex_buf_init(&tok, NULL);
    negoex_buf_init(&plain, NULL);
    assert_int_equal(negoex_pku2u_wrap(from, conf, (const uint8_t *)msg, strlen(msg), &tok), NEGOEX_OK);
    if (conf)
        assert_false(contains(tok.data, tok.len, msg));
    int cs = -1;
    assert_int_equal(negoex_pku2u_unwrap(to, tok.data, tok.len, &plain, &cs), NEGOEX_OK);
    assert_int_equal(cs, conf);
    assert_int_equal(plain.len, strlen(msg));
    assert_memory_equal(plain.data, msg, plain.len);
    /* The same token again is a replay. */
    plain.len = 0;
    assert_int_equal(negoex_pku2u_unwrap(to, tok.data, tok.len, &plain, &cs), NEGOEX_ERR_KRB_MALFORMED);
    negoex_buf_free(&tok);
    negoex_buf_free(&plain);
}

static void check_established(side *I, side *A, const char *dev_dns, const char *user_upn, const char *krb_name)
{
    assert_int_equal(negoex_context_peer_verified(I->ctx), 1);
    assert_int_equal(negoex_context_peer_verified(A->ctx), 1);
    negoex_bytes ti = negoex_context_transcript(I->ctx), ta = negoex_context_transcript(A->ctx);
    assert_int_equal(ti.len, ta.len);
    assert_memory_equal(ti.data, ta.data, ti.len);
    assert_int_equal(tu_msg_count_type(ti.data, ti.len, NEGOEX_VERIFY), 2);

    negoex_scheme *si = negoex_context_selected_scheme(I->ctx), *sa = negoex_context_selected_scheme(A->ctx);
    assert_true(negoex_scheme_is_pku2u(si));
    assert_true(negoex_scheme_is_pku2u(sa));
    assert_true(negoex_pku2u_is_established(si));
    assert_true(negoex_pku2u_is_established(sa));

    /* Identities. */
    assert_name(si, NEGOEX_PKU2U_PEER_DNS, dev_dns);
    assert_name(sa, NEGOEX_PKU2U_PEER_UPN, user_upn);
    assert_name(sa, NEGOEX_PKU2U_PEER_KRB_NAME, krb_name);
    assert_name(si, NEGOEX_PKU2U_PEER_KRB_NAME, krb_name);
    if (strcmp(dev_dns, HOST) == 0) {
        assert_name(si, NEGOEX_PKU2U_PEER_SUBJECT, "CN=a1b2c3d4-device,DC=0f0e0d0c-tenant");
        assert_name(sa, NEGOEX_PKU2U_PEER_SUBJECT, "CN=" UPN ",CN=" USER_SID ",DC=0f0e0d0c-tenant");
    }
    char small[4];
    size_t need = 0;
    assert_int_equal(negoex_pku2u_peer_name(sa, NEGOEX_PKU2U_PEER_KRB_NAME, small, sizeof small, &need),
                     NEGOEX_ERR_BUFFER_TOO_SMALL);
    assert_int_equal(need, strlen(krb_name) + 1);
    assert_string_equal(small, "Azu");
    assert_int_equal(negoex_pku2u_peer_name(si, NEGOEX_PKU2U_PEER_UPN, NULL, 0, NULL), NEGOEX_ERR_INDEX_RANGE);
    assert_non_null(negoex_pku2u_peer_cert(si));
    assert_non_null(negoex_pku2u_peer_cert(sa));

    /* Both sides hold the same keys. */
    negoex_pku2u_keys ki, ka;
    assert_int_equal(negoex_pku2u_session_keys(si, &ki), NEGOEX_OK);
    assert_int_equal(negoex_pku2u_session_keys(sa, &ka), NEGOEX_OK);
    assert_memory_equal(&ki, &ka, sizeof ki);
    assert_int_equal(ki.session.enctype, 18);
    assert_int_equal(ki.acceptor_subkey.len, 32);
    assert_memory_not_equal(ki.initiator_subkey.bytes, ki.acceptor_subkey.bytes, 32);
    assert_true(ki.initiator_seq < 0x80000000u && ki.acceptor_seq < 0x80000000u);
    OPENSSL_cleanse(&ki, sizeof ki);
    OPENSSL_cleanse(&ka, sizeof ka);

    /* SPNEGO mechListMIC through the context, both ways. */
    static const uint8_t mechs[] = {0x30, 0x0c, 0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x1e};
    negoex_buf mic;
    negoex_buf_init(&mic, NULL);
    assert_int_equal(negoex_context_make_mic(I->ctx, mechs, sizeof mechs, &mic), NEGOEX_OK);
    assert_int_equal(negoex_context_verify_mic(A->ctx, mechs, sizeof mechs, mic.data, mic.len), NEGOEX_OK);
    mic.len = 0;
    assert_int_equal(negoex_context_make_mic(A->ctx, mechs, sizeof mechs, &mic), NEGOEX_OK);
    assert_int_equal(negoex_context_verify_mic(I->ctx, mechs, sizeof mechs - 1, mic.data, mic.len),
                     NEGOEX_ERR_SPNEGO_MIC_MISMATCH);
    assert_int_equal(negoex_context_verify_mic(I->ctx, mechs, sizeof mechs, mic.data, mic.len), NEGOEX_OK);
    negoex_buf_free(&mic);

    /* Wrap / unwrap both ways, sealed and not. */
    wrap_roundtrip(si, sa, 1, "hello acceptor");
    wrap_roundtrip(sa, si, 1, "hello initiator");
    wrap_roundtrip(si, sa, 0, "integrity only");
    wrap_roundtrip(sa, si, 0, "integrity only, back");
    /* A token from ourselves is refused (reflection). */
    negoex_buf tok, plain;
    negoex_buf_init(&tok, NULL);
    negoex_buf_init(&plain, NULL);
    assert_int_equal(negoex_pku2u_wrap(si, 1, (const uint8_t *)"x", 1, &tok), NEGOEX_OK);
    assert_int_equal(negoex_pku2u_unwrap(si, tok.data, tok.len, &plain, NULL), NEGOEX_ERR_KRB_DIRECTION);
    negoex_buf_free(&tok);
    negoex_buf_free(&plain);
}

/* ------------------------------------------------------------------------ */
/* Handshakes                                                                */
/* ------------------------------------------------------------------------ */

typedef struct hs_case {
    int optimistic;
    int group;
    const char *cb;
    int wrapped;
    int sha256;
    int counting; /* schemes on the counting allocator */
    int cb_hash;  /* the acceptor gets the Bnd hash instead of the data */
} hs_case;

static void run_case(const hs_case *c)
{
    side I, A;
    initiator_cfg(&I);
    acceptor_cfg(&A);
    I.cfg.dh_group = c->group;
    if (c->cb != NULL) {
        I.cfg.channel_bindings = (const uint8_t *)c->cb;
        I.cfg.channel_bindings_len = strlen(c->cb);
        A.cfg.channel_bindings = (const uint8_t *)c->cb;
        A.cfg.channel_bindings_len = strlen(c->cb);
    }
    uint8_t bnd[NEGOEX_GSS_BND_LEN];
    if (c->cb != NULL && c->cb_hash) {
        negoex_gss_channel_bindings gcb;
        memset(&gcb, 0, sizeof gcb);
        gcb.application_data = (const uint8_t *)c->cb;
        gcb.application_data_len = strlen(c->cb);
        assert_int_equal(negoex_gss_channel_bindings_hash(&gcb, bnd), NEGOEX_OK);
        A.cfg.channel_bindings = NULL;
        A.cfg.channel_bindings_len = 0;
        A.cfg.channel_bindings_hash = bnd;
    }
    I.cfg.wrapped_cms = A.cfg.wrapped_cms = c->wrapped;
    if (c->sha256)
        I.cfg.digest = A.cfg.digest = NEGOEX_PKU2U_DIGEST_SHA256;
    A.cfg.host_name = HOST;
    A.cfg.service = "TERMSRV";
    if (c->counting) {
        tu_alloc_init(&COUNTING, 0);
        I.alloc = A.alloc = &COUNTING.a;
    }
    open_side(&I, NEGOEX_ROLE_INITIATOR, c->optimistic);
    open_side(&A, NEGOEX_ROLE_ACCEPTOR, c->optimistic);
    run_result r = drive(&I, &A, NULL, NULL);
    if (r.rc != NEGOEX_COMPLETE)
        fail_msg("handshake (optimistic %d, group %d, cb %s): %s on the %s (%s: %s)", c->optimistic, c->group,
                 c->cb ? c->cb : "-", negoex_error_name(r.rc), r.failed ? "acceptor" : "initiator",
                 negoex_error_name(r.failed ? A.status.error : I.status.error),
                 r.failed ? (A.status.what ? A.status.what : "") : (I.status.what ? I.status.what : ""));
    /* Windows form: NEGO+META / NEGO+META / AS-REQ / AS-REP / AP-REQ+VERIFY /
     * AP-REP+VERIFY; optimistic: two legs fewer. */
    assert_int_equal(r.legs, c->optimistic ? 4 : 6);
    check_established(&I, &A, HOST, UPN, "AzureAD\\" UPN);
    assert_int_equal(I.status.error, 0);
    assert_int_equal(A.status.error, 0);
    close_side(&I);
    close_side(&A);
    if (c->counting)
        assert_int_equal(COUNTING.live, 0);
}

static void test_handshakes(void **state)
{
    (void)state;
    static const hs_case cases[] = {
        /* optimistic, group, channel bindings, wrapped CMS, SHA-256, counting allocator, Bnd hash */
        {0, 2, NULL, 0, 0, 0, 0},
        {1, 2, NULL, 0, 0, 0, 0},
        {0, 14, NULL, 0, 0, 0, 0},
        {1, 14, NULL, 0, 0, 0, 0},
        {0, 2, "tls-server-end-point:abcdef", 0, 0, 0, 0},
        {1, 14, "tls-server-end-point:abcdef", 0, 0, 0, 0},
        {0, 2, NULL, 1, 1, 0, 0},
        {1, 2, "cb", 1, 0, 0, 0},
        {0, 2, NULL, 0, 0, 1, 0},
        {1, 14, "cb", 0, 0, 1, 0},
        {0, 14, "tls-unique:0123", 0, 0, 0, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i]);
}

/* The published Windows-shaped identities (expired: the clock is set inside
 * their validity), files loaded by path: s7's client certificate and the
 * device's P2P server certificate share the device key. */
static void test_handshake_published(void **state)
{
    (void)state;
    char cert_i[1024], cert_a[1024], key[1024], ca[1024];
    snprintf(cert_i, sizeof cert_i, "%s", tu_path(KC "devmachine_p2p_client_cert_s7_2022-10-23.der"));
    snprintf(cert_a, sizeof cert_a, "%s", tu_path(KC "devmachine_p2p_server_cert_2022-10-23.der"));
    snprintf(key, sizeof key, "%s", tu_path(KC "devmachine_device_rsa_private_key_pkcs1.der"));
    snprintf(ca, sizeof ca, "%s", tu_path(KC "p2p_ca_MS-Organization-P2P-Access_2022.der"));
    const int64_t t = 1666561500; /* 2022-10-23T21:45:00Z */
    for (int optimistic = 0; optimistic < 2; optimistic++) {
        side I, A;
        initiator_cfg(&I);
        acceptor_cfg(&A);
        I.cfg.cert = A.cfg.cert = NULL;
        I.cfg.key = A.cfg.key = NULL;
        I.cfg.trust_anchors = A.cfg.trust_anchors = NULL;
        I.cfg.cert_file = cert_i;
        A.cfg.cert_file = cert_a;
        I.cfg.key_file = A.cfg.key_file = key;
        I.cfg.trust_file = A.cfg.trust_file = ca;
        I.cfg.target_host = "192.168.0.109";
        I.cfg.now = A.cfg.now = t;
        open_side(&I, NEGOEX_ROLE_INITIATOR, optimistic);
        open_side(&A, NEGOEX_ROLE_ACCEPTOR, optimistic);
        run_result r = drive(&I, &A, NULL, NULL);
        if (r.rc != NEGOEX_COMPLETE)
            fail_msg("published: %s (%s / %s)", negoex_error_name(r.rc), negoex_error_name(I.status.error),
                     negoex_error_name(A.status.error));
        check_established(&I, &A, "192.168.0.109", "s7@dataans.com", "AzureAD\\s7@dataans.com");
        close_side(&I);
        close_side(&A);
    }

    /* At the real time the certificates have long expired. */
    side I, A;
    initiator_cfg(&I);
    acceptor_cfg(&A);
    I.cfg.cert = A.cfg.cert = NULL;
    I.cfg.key = A.cfg.key = NULL;
    I.cfg.trust_anchors = A.cfg.trust_anchors = NULL;
    I.cfg.cert_file = cert_i;
    A.cfg.cert_file = cert_a;
    I.cfg.key_file = A.cfg.key_file = key;
    I.cfg.trust_file = A.cfg.trust_file = ca;
    I.cfg.target_host = "192.168.0.109";
    open_side(&I, NEGOEX_ROLE_INITIATOR, 0);
    open_side(&A, NEGOEX_ROLE_ACCEPTOR, 0);
    run_result r = drive(&I, &A, NULL, NULL);
    assert_int_equal(r.rc, NEGOEX_ERR_SCHEME_FAILED);
    assert_int_equal(r.failed, 1);
    assert_int_equal(A.status.error, NEGOEX_ERR_CERT_EXPIRED);
    assert_int_equal(A.status.krb_error, 71);
    assert_int_equal(I.status.error, NEGOEX_ERR_PKU2U_KRB_ERROR);
    assert_int_equal(I.status.krb_error, 71);
    assert_non_null(strstr(I.status.peer_text, "CERT_EXPIRED"));
    close_side(&I);
    close_side(&A);
}

/* ------------------------------------------------------------------------ */
/* Failures                                                                  */
/* ------------------------------------------------------------------------ */

typedef void (*cfg_fn)(side *I, side *A);

typedef struct fail_case {
    const char *name;
    cfg_fn cfg;
    tamper t;
    int failed;       /* 0 the initiator fails, 1 the acceptor */
    int error;        /* the failing side's exact error */
    int32_t krb_error; /* acceptor: the KRB-ERROR code sent */
} fail_case;

static void c_untrusted(side *I, side *A)
{
    (void)A;
    I->cfg.cert = P.other_user;
}
static void c_client_eku(side *I, side *A)
{
    (void)A;
    I->cfg.cert = P.user_server_eku;
}
static void c_server_eku(side *I, side *A)
{
    (void)I;
    A->cfg.cert = P.dev_client_eku;
}
static void c_server_untrusted(side *I, side *A)
{
    I->cfg.trust_anchors = P.other_anchors;
    A->cfg.trust_anchors = P.anchors;
}
static void c_host(side *I, side *A)
{
    (void)A;
    I->cfg.target_host = "other.example.com";
}
static void c_acceptor_host(side *I, side *A)
{
    (void)I;
    A->cfg.host_name = "elsewhere.example.com";
}
static void c_group(side *I, side *A)
{
    I->cfg.dh_group = NEGOEX_PKU2U_DH_MODP2;
    A->cfg.dh_groups_accepted = NEGOEX_PKU2U_ACCEPT_MODP14;
}
static void c_skew(side *I, side *A)
{
    int64_t now = (int64_t)time(NULL);
    I->cfg.now = now;
    A->cfg.now = now + 301;
}
static void c_skew_ok(side *I, side *A)
{
    int64_t now = (int64_t)time(NULL);
    I->cfg.now = now;
    A->cfg.now = now - 299;
}
static void c_cb_differ(side *I, side *A)
{
    I->cfg.channel_bindings = (const uint8_t *)"binding-A";
    I->cfg.channel_bindings_len = 9;
    A->cfg.channel_bindings = (const uint8_t *)"binding-B";
    A->cfg.channel_bindings_len = 9;
}
static void c_cb_missing(side *I, side *A)
{
    (void)I;
    A->cfg.channel_bindings = (const uint8_t *)"binding";
    A->cfg.channel_bindings_len = 7;
}
static void c_digest(side *I, side *A)
{
    I->cfg.digest = NEGOEX_PKU2U_DIGEST_SHA1;
    A->cfg.accept_digests = NEGOEX_PKU2U_DIGEST_SHA256;
}
static void c_etype(side *I, side *A)
{
    (void)A;
    I->cfg.etype_count = 2;
    I->cfg.etypes[0] = 23;
    I->cfg.etypes[1] = -135;
}
static void c_none(side *I, side *A)
{
    (void)I;
    (void)A;
}

static void run_fail(const fail_case *c, int optimistic)
{
    side I, A;
    initiator_cfg(&I);
    acceptor_cfg(&A);
    c->cfg(&I, &A);
    open_side(&I, NEGOEX_ROLE_INITIATOR, optimistic);
    open_side(&A, NEGOEX_ROLE_ACCEPTOR, optimistic);
    tamper t = c->t;
    run_result r = drive(&I, &A, t.tok_id ? tamper_cb : NULL, &t);
    if (c->error == 0) {
        if (r.rc != NEGOEX_COMPLETE)
            fail_msg("%s: %s (%s / %s)", c->name, negoex_error_name(r.rc), negoex_error_name(I.status.error),
                     negoex_error_name(A.status.error));
        close_side(&I);
        close_side(&A);
        return;
    }
    if (r.rc != NEGOEX_ERR_SCHEME_FAILED || r.failed != c->failed)
        fail_msg("%s (optimistic %d): %s on side %d, expected SCHEME_FAILED on side %d (I %s, A %s)", c->name,
                 optimistic, negoex_error_name(r.rc), r.failed, c->failed, negoex_error_name(I.status.error),
                 negoex_error_name(A.status.error));
    side *f = c->failed ? &A : &I;
    if (f->status.error != c->error)
        fail_msg("%s: %s (%s), expected %s", c->name, negoex_error_name(f->status.error),
                 f->status.what ? f->status.what : "", negoex_error_name(c->error));
    assert_non_null(f->status.what);
    if (c->failed) {
        /* A KRB-ERROR went to the initiator, which fails on it. */
        assert_true(r.error_token);
        assert_int_equal(A.status.krb_error, c->krb_error);
        assert_int_equal(r.peer_rc, NEGOEX_ERR_SCHEME_FAILED);
        assert_int_equal(I.status.error, NEGOEX_ERR_PKU2U_KRB_ERROR);
        assert_int_equal(I.status.krb_error, c->krb_error);
        assert_non_null(strstr(I.status.peer_text, negoex_error_name(c->error)));
        /* The failing side's scheme object says the same. */
    } else {
        assert_false(r.error_token);
    }
    close_side(&I);
    close_side(&A);
}

static const fail_case FAILS[] = {
    {"untrusted client certificate", c_untrusted, {0, 0, 0}, 1, NEGOEX_ERR_CERT_UNTRUSTED, 62},
    {"client certificate without clientAuth", c_client_eku, {0, 0, 0}, 1, NEGOEX_ERR_CERT_EKU, 77},
    {"server certificate without serverAuth", c_server_eku, {0, 0, 0}, 0, NEGOEX_ERR_CERT_EKU, 0},
    {"untrusted server certificate", c_server_untrusted, {0, 0, 0}, 0, NEGOEX_ERR_CERT_UNTRUSTED, 0},
    {"host name mismatch", c_host, {0, 0, 0}, 0, NEGOEX_ERR_CERT_NAME, 0},
    {"request for another host", c_acceptor_host, {0, 0, 0}, 1, NEGOEX_ERR_PKU2U_TARGET, 7},
    {"DH group refused", c_group, {0, 0, 0}, 1, NEGOEX_ERR_DH_GROUP, 65},
    {"clock skew", c_skew, {0, 0, 0}, 1, NEGOEX_ERR_PKU2U_CLOCK_SKEW, 37},
    {"clock skew inside the limit", c_skew_ok, {0, 0, 0}, 1, 0, 0},
    {"channel bindings differ", c_cb_differ, {0, 0, 0}, 1, NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS, 41},
    {"channel bindings missing", c_cb_missing, {0, 0, 0}, 1, NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS, 41},
    {"digest refused", c_digest, {0, 0, 0}, 1, NEGOEX_ERR_CMS_DIGEST, 81},
    {"no usable etype", c_etype, {0, 0, 0}, 1, NEGOEX_ERR_KRB_ENCTYPE, 14},
    {"tampered AuthPack (bad signature)", c_none, {NEGOEX_PKU2U_TOK_AS_REQ, T_AUTHPACK, 0}, 1,
     NEGOEX_ERR_CMS_SIGNATURE, 64},
    {"tampered req-body (paChecksum)", c_none, {NEGOEX_PKU2U_TOK_AS_REQ, T_NETBIOS, 0}, 1,
     NEGOEX_ERR_PKU2U_PA_CHECKSUM, 41},
    {"tampered AS-REP (KRB-FINISHED)", c_none, {NEGOEX_PKU2U_TOK_AS_REP, T_TICKET_SNAME, 0}, 1,
     NEGOEX_ERR_PKU2U_FINISHED, 41},
    {"tampered AP-REQ", c_none, {NEGOEX_PKU2U_TOK_AP_REQ, T_AUTHENTICATOR, 0}, 1, NEGOEX_ERR_KRB_INTEGRITY, 31},
    {"tampered AP-REP", c_none, {NEGOEX_PKU2U_TOK_AP_REP, T_AP_REP, 0}, 0, NEGOEX_ERR_KRB_INTEGRITY, 0},
};

static void test_failures(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof FAILS / sizeof FAILS[0]; i++)
        run_fail(&FAILS[i], 0);
}

/* Optimistic form: a failing first AS-REQ is dropped by the acceptor's
 * context, the initiator starts again, and the second one fails for good. */
static void test_failures_optimistic(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof FAILS / sizeof FAILS[0]; i++) {
        if (FAILS[i].t.tok_id == NEGOEX_PKU2U_TOK_AS_REQ)
            continue; /* the tamper hits the first AS-REQ only: the retry succeeds */
        run_fail(&FAILS[i], 1);
    }
    /* A tampered optimistic AS-REQ: the acceptor's context drops it (the
     * scheme failed with CMS_SIGNATURE, no error token), the initiator
     * starts again and that attempt succeeds, but NEGOEX's VERIFY covers
     * the transcript, which holds the tampered message on one side only. */
    side I, A;
    initiator_cfg(&I);
    acceptor_cfg(&A);
    open_side(&I, NEGOEX_ROLE_INITIATOR, 1);
    open_side(&A, NEGOEX_ROLE_ACCEPTOR, 1);
    tamper t = {NEGOEX_PKU2U_TOK_AS_REQ, T_AUTHPACK, 0};
    run_result r = drive(&I, &A, tamper_cb, &t);
    assert_int_equal(r.rc, NEGOEX_ERR_CHECKSUM_MISMATCH);
    assert_int_equal(r.failed, 1);
    assert_int_equal(r.legs, 5); /* NEGO+META+AS-REQ, NEGO+META, AS-REQ, AS-REP, AP-REQ+VERIFY */
    assert_int_equal(A.status.error, NEGOEX_ERR_CMS_SIGNATURE);
    assert_int_equal(I.status.error, 0);
    close_side(&I);
    close_side(&A);
}

/* ------------------------------------------------------------------------ */
/* Configuration errors, reset, direct use                                   */
/* ------------------------------------------------------------------------ */

static void test_config(void **state)
{
    (void)state;
    negoex_pku2u_config c;
    negoex_scheme *s = NULL;
    negoex_pku2u_config_init(&c);
    assert_int_equal(c.struct_size, sizeof c);
    assert_int_equal(c.kdc_options, 0x40810010u);
    assert_int_equal(c.cname_type, -128);
    assert_int_equal(c.etype_count, 5);
    assert_string_equal(c.till, "20370914024805Z");
    /* No identity, no anchors. */
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    assert_null(s);
    c.cert = P.user;
    c.key = P.user_key;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    c.trust_anchors = P.anchors;
    c.key = P.dev_key; /* not the certificate's */
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_CREDENTIAL_LOAD);
    c.key = P.user_key;
    c.dh_group = 5;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    c.dh_group = 14;
    c.till = "2037";
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    c.till = NEGOEX_PKU2U_DEFAULT_TILL;
    static const uint8_t h16[16] = {0};
    c.channel_bindings = (const uint8_t *)"x";
    c.channel_bindings_len = 1;
    c.channel_bindings_hash = h16;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    c.channel_bindings = NULL;
    c.channel_bindings_len = 0;
    c.channel_bindings_hash = NULL;
    c.struct_size = 8;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_ERR_INVALID_ARGUMENT);
    c.struct_size = sizeof c;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &c, NULL), NEGOEX_OK);
    assert_true(negoex_scheme_is_pku2u(s));
    assert_false(negoex_pku2u_is_established(s));
    char buf[8];
    assert_int_equal(negoex_pku2u_peer_name(s, NEGOEX_PKU2U_PEER_UPN, buf, sizeof buf, NULL), NEGOEX_SCHEME_NOT_YET);
    negoex_pku2u_keys k;
    assert_int_equal(negoex_pku2u_session_keys(s, &k), NEGOEX_SCHEME_NOT_YET);
    negoex_buf b;
    negoex_buf_init(&b, NULL);
    assert_int_equal(negoex_pku2u_wrap(s, 1, (const uint8_t *)"x", 1, &b), NEGOEX_ERR_NO_KEY);

    /* An initiator without a target drops out at its metadata. */
    assert_true(s->cls->query_meta_data(s, 1, &b) < 0);
    negoex_pku2u_status st;
    negoex_pku2u_last_status(s, &st);
    assert_int_equal(st.error, NEGOEX_ERR_INVALID_ARGUMENT);
    s->cls->destroy(s);
    negoex_buf_free(&b);
}

/* Direct steps: reset forgets the attempt; a clone continues alone. */
static void test_reset_clone(void **state)
{
    (void)state;
    side I, A;
    initiator_cfg(&I);
    acceptor_cfg(&A);
    negoex_scheme *si = NULL, *sa = NULL;
    assert_int_equal(negoex_pku2u_scheme_new(&si, &I.cfg, NULL), NEGOEX_OK);
    assert_int_equal(negoex_pku2u_scheme_new(&sa, &A.cfg, NULL), NEGOEX_OK);
    negoex_buf t1, t2, rep;
    negoex_buf_init(&t1, NULL);
    negoex_buf_init(&t2, NULL);
    negoex_buf_init(&rep, NULL);
    int complete = -1;
    assert_int_equal(si->cls->step(si, 1, NULL, 0, &t1, &complete), NEGOEX_OK);
    assert_int_equal(complete, 0);
    negoex_key key;
    assert_int_equal(si->cls->get_key(si, NEGOEX_KEY_SIGN, &key), NEGOEX_SCHEME_NOT_YET);
    si->cls->reset(si);
    assert_int_equal(si->cls->step(si, 1, NULL, 0, &t2, &complete), NEGOEX_OK);
    assert_true(t1.len > 500 && t2.len > 500);
    assert_true(t1.len != t2.len || memcmp(t1.data, t2.data, t1.len) != 0); /* new DH key and nonce */

    /* A clone of the acceptor answers; the original is untouched. */
    negoex_scheme *ca = NULL;
    assert_int_equal(sa->cls->clone(sa, &ca), NEGOEX_OK);
    assert_int_equal(ca->cls->step(ca, 0, t2.data, t2.len, &rep, &complete), NEGOEX_OK);
    assert_int_equal(complete, 0);
    ca->cls->destroy(ca);
    rep.len = 0;
    assert_int_equal(sa->cls->step(sa, 0, t2.data, t2.len, &rep, &complete), NEGOEX_OK);
    /* The old AS-REQ's DH key is gone: the initiator cannot use this reply
     * after a reset ... but the current attempt can. */
    negoex_scheme *ci = NULL;
    assert_int_equal(si->cls->clone(si, &ci), NEGOEX_OK);
    negoex_buf apreq;
    negoex_buf_init(&apreq, NULL);
    assert_int_equal(ci->cls->step(ci, 1, rep.data, rep.len, &apreq, &complete), NEGOEX_OK);
    assert_int_equal(ci->cls->get_key(ci, NEGOEX_KEY_SIGN, &key), NEGOEX_OK);
    assert_int_equal(key.enctype, 18);
    ci->cls->destroy(ci);
    /* The original initiator is still waiting for the AS-REP. */
    assert_int_equal(si->cls->get_key(si, NEGOEX_KEY_SIGN, &key), NEGOEX_SCHEME_NOT_YET);
    /* An AS-REP where an AP-REP is due, or an AS-REQ to the initiator. */
    negoex_buf junk;
    negoex_buf_init(&junk, NULL);
    assert_int_equal(si->cls->step(si, 1, t1.data, t1.len, &junk, &complete), NEGOEX_ERR_PKU2U_UNEXPECTED);
    negoex_buf_free(&junk);
    negoex_buf_free(&apreq);
    si->cls->destroy(si);
    sa->cls->destroy(sa);
    negoex_buf_free(&t1);
    negoex_buf_free(&t2);
    negoex_buf_free(&rep);
}

/* ------------------------------------------------------------------------ */
/* Windows shape                                                             */
/* ------------------------------------------------------------------------ */

static int principal_equal(const negoex_krb_principal *a, const negoex_krb_principal *b)
{
    if (a->name_type != b->name_type || a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (a->components[i].len != b->components[i].len ||
            memcmp(a->components[i].data, b->components[i].data, a->components[i].len) != 0)
            return 0;
    return 1;
}

static negoex_bytes str_view(const char *s)
{
    negoex_bytes b = {(const uint8_t *)s, strlen(s)};
    return b;
}

static void assert_view(negoex_bytes v, const char *s)
{
    if (v.len != strlen(s) || memcmp(v.data, s, v.len) != 0)
        fail_msg("\"%.*s\" != \"%s\"", (int)v.len, (const char *)v.data, s);
}

static void assert_views_equal(negoex_bytes a, negoex_bytes b)
{
    assert_int_equal(a.len, b.len);
    assert_memory_equal(a.data, b.data, a.len);
}

/* Decoded AS-REQ parts. */
typedef struct as_req_parts {
    negoex_pku2u_message m;
    negoex_krb_pa_pk_as_req pa;
    negoex_cms_signed_data sd;
    negoex_krb_auth_pack ap;
} as_req_parts;

static void decode_as_req(const uint8_t *tok, size_t len, as_req_parts *p)
{
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_pku2u_decode_token(tok, len, &p->m, &err);
    if (rc != NEGOEX_OK)
        fail_msg("AS-REQ: %s at %zu (%s)", negoex_error_name(rc), err.offset, err.field ? err.field : "");
    assert_int_equal(p->m.token.tok_id, NEGOEX_PKU2U_TOK_AS_REQ);
    assert_int_equal(p->m.u.as_req.padata_count, 1);
    assert_int_equal(p->m.u.as_req.padata[0].type, NEGOEX_KRB_PA_PK_AS_REQ);
    assert_int_equal(negoex_krb_decode_pa_pk_as_req(p->m.u.as_req.padata[0].value.data,
                                                    p->m.u.as_req.padata[0].value.len, &p->pa, NULL),
                     NEGOEX_OK);
    assert_int_equal(negoex_cms_decode_signed_data(p->pa.signed_auth_pack.data, p->pa.signed_auth_pack.len, &p->sd,
                                                   NULL),
                     NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_auth_pack(p->sd.econtent.data, p->sd.econtent.len, &p->ap, NULL), NEGOEX_OK);
}

/* Everything of two AS-REQs that does not depend on the identity, the time
 * or randomness is the same. */
static void compare_as_req_shape(const as_req_parts *ours, const as_req_parts *win)
{
    const negoex_krb_kdc_req *a = &ours->m.u.as_req, *b = &win->m.u.as_req;
    assert_int_equal(a->kdc_options, b->kdc_options);
    assert_int_equal(a->has_cname, b->has_cname);
    assert_int_equal(a->cname.name_type, b->cname.name_type);
    assert_int_equal(a->cname.count, b->cname.count);
    assert_views_equal(a->realm, b->realm);
    assert_int_equal(a->sname.name_type, b->sname.name_type);
    assert_int_equal(a->sname.count, b->sname.count);
    assert_views_equal(a->sname.components[0], b->sname.components[0]);
    assert_null(a->from.data);
    assert_null(b->from.data);
    assert_views_equal(a->till, b->till);
    assert_views_equal(a->rtime, b->rtime);
    assert_int_equal(a->nonce, b->nonce);
    assert_int_equal(a->etype_count, b->etype_count);
    assert_memory_equal(a->etypes, b->etypes, a->etype_count * sizeof a->etypes[0]);
    assert_int_equal(a->has_addresses, b->has_addresses);
    assert_int_equal(a->address_count, b->address_count);
    assert_int_equal(a->addresses[0].addr_type, b->addresses[0].addr_type);
    assert_int_equal(a->addresses[0].address.len, b->addresses[0].address.len);
    assert_int_equal(a->has_enc_authorization_data, b->has_enc_authorization_data);
    assert_int_equal(a->additional_ticket_count, b->additional_ticket_count);
    /* PA-PK-AS-REQ and the SignedData. */
    assert_int_equal(ours->pa.has_trusted_certifiers, win->pa.has_trusted_certifiers);
    assert_null(ours->pa.kdc_pk_id.data);
    assert_int_equal(ours->sd.wrapped, win->sd.wrapped);
    assert_int_equal(ours->sd.version, win->sd.version);
    assert_int_equal(ours->sd.digest_algorithm_count, win->sd.digest_algorithm_count);
    assert_views_equal(ours->sd.digest_algorithms[0], win->sd.digest_algorithms[0]);
    assert_views_equal(ours->sd.econtent_type, win->sd.econtent_type);
    assert_int_equal(ours->sd.certificate_count, win->sd.certificate_count);
    assert_int_equal(ours->sd.has_crls, win->sd.has_crls);
    assert_int_equal(ours->sd.signer_count, win->sd.signer_count);
    const negoex_cms_signer *x = &ours->sd.signers[0], *y = &win->sd.signers[0];
    assert_int_equal(x->version, y->version);
    assert_int_equal(x->sid_is_ski, y->sid_is_ski);
    assert_views_equal(x->digest_algorithm, y->digest_algorithm);
    assert_views_equal(x->content_type_attr, y->content_type_attr);
    assert_int_equal(x->message_digest_attr.len, y->message_digest_attr.len);
    assert_views_equal(x->signature_algorithm, y->signature_algorithm);
    assert_int_equal(x->has_unsigned_attrs, y->has_unsigned_attrs);
    /* AuthPack. */
    const negoex_krb_auth_pack *p = &ours->ap, *q = &win->ap;
    assert_int_equal(p->nonce, q->nonce);
    assert_int_equal(p->pa_checksum.len, q->pa_checksum.len);
    assert_views_equal(p->cpv_algorithm, q->cpv_algorithm);
    assert_views_equal(p->cpv_parameters, q->cpv_parameters); /* group 2 with q, byte for byte */
    assert_int_equal(p->is_dh, q->is_dh);
    assert_int_equal(p->dh_y_was_negative, q->dh_y_was_negative);
    assert_null(p->supported_cms_types.data);
    assert_null(q->supported_cms_types.data);
    assert_int_equal(p->client_dh_nonce.len, q->client_dh_nonce.len);
}

static void test_windows_shape(void **state)
{
    (void)state;
    size_t wlen = 0;
    uint8_t *wtok = tu_load("windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin", &wlen);
    as_req_parts *win = calloc(1, sizeof *win), *ours = calloc(1, sizeof *ours);
    assert_non_null(win);
    assert_non_null(ours);
    decode_as_req(wtok, wlen, win);

    /* Our initiator with s7's published identity, aimed at the same target
     * as that capture. */
    side I;
    initiator_cfg(&I);
    char cert[1024], key[1024], ca[1024];
    snprintf(cert, sizeof cert, "%s", tu_path(KC "devmachine_p2p_client_cert_s7_2022-10-23.der"));
    snprintf(key, sizeof key, "%s", tu_path(KC "devmachine_device_rsa_private_key_pkcs1.der"));
    snprintf(ca, sizeof ca, "%s", tu_path(KC "p2p_ca_MS-Organization-P2P-Access_2022.der"));
    I.cfg.cert = NULL;
    I.cfg.key = NULL;
    I.cfg.trust_anchors = NULL;
    I.cfg.cert_file = cert;
    I.cfg.key_file = key;
    I.cfg.trust_file = ca;
    I.cfg.target_host = "dest.dataans.com";
    I.cfg.netbios_name = "desktop-8f33rfh.example"; /* first label, upper case, padded */
    I.cfg.now = 1666094641;                        /* 2022-10-18T12:04:01Z */
    negoex_scheme *s = NULL;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &I.cfg, NULL), NEGOEX_OK);

    /* Metadata: same structure and values as Windows' but the CA list
     * (Windows lists its CA twice; we list each anchor once). */
    negoex_buf meta;
    negoex_buf_init(&meta, NULL);
    assert_int_equal(s->cls->query_meta_data(s, 1, &meta), NEGOEX_OK);
    negoex_pku2u_metadata mo, mw;
    assert_int_equal(negoex_pku2u_decode_metadata(meta.data, meta.len, &mo, NULL), NEGOEX_OK);
    size_t mlen = 0;
    uint8_t *wmeta = tu_load("windows/negoex/win_pku2u_initiator_metadata_payload.der", &mlen);
    assert_int_equal(negoex_pku2u_decode_metadata(wmeta, mlen, &mw, NULL), NEGOEX_OK);
    assert_int_equal(mo.initiator, 1);
    assert_int_equal(mo.trusted_certifier_count, 1);
    assert_non_null(mo.trusted_certifiers[0].subject_name.data);
    assert_null(mo.trusted_certifiers[0].issuer_and_serial.data);
    assert_null(mw.trusted_certifiers[0].issuer_and_serial.data);
    negoex_x509_name nm;
    assert_int_equal(negoex_x509_decode_name(mo.trusted_certifiers[0].subject_name.data,
                                             mo.trusted_certifiers[0].subject_name.len, &nm, NULL),
                     NEGOEX_OK);
    char text[256];
    assert_int_equal(negoex_x509_name_to_string(&nm, text, sizeof text, NULL), NEGOEX_OK);
    assert_string_equal(text, "CN=MS-Organization-P2P-Access [2022]");
    assert_int_equal(nm.attrs[0].value_tag, 0x1e); /* BMPString, as the Windows CA names itself */
    assert_views_equal(mo.target_realm, mw.target_realm);
    assert_int_equal(mo.target_sname.name_type, mw.target_sname.name_type);
    assert_int_equal(mo.target_sname.count, mw.target_sname.count);
    assert_views_equal(mo.target_sname.components[0], mw.target_sname.components[0]);
    assert_view(mo.target_sname.components[1], "dest.dataans.com");
    free(wmeta);

    /* Acceptor metadata: certifiers only. */
    negoex_scheme *sa = NULL;
    side A;
    acceptor_cfg(&A);
    assert_int_equal(negoex_pku2u_scheme_new(&sa, &A.cfg, NULL), NEGOEX_OK);
    meta.len = 0;
    assert_int_equal(sa->cls->query_meta_data(sa, 0, &meta), NEGOEX_OK);
    assert_int_equal(negoex_pku2u_decode_acceptor_metadata(meta.data, meta.len, &mo, NULL), NEGOEX_OK);
    assert_int_equal(mo.initiator, 0);
    assert_int_equal(mo.trusted_certifier_count, 1);
    /* The acceptor takes Windows' initiator metadata; the initiator Windows'
     * acceptor metadata. */
    wmeta = tu_load("windows/negoex/win_pku2u_initiator_metadata_payload.der", &mlen);
    assert_int_equal(sa->cls->exchange_meta_data(sa, 0, wmeta, mlen), NEGOEX_OK);
    free(wmeta);
    wmeta = tu_load("windows/negoex/win_pku2u_acceptor_metadata_payload.der", &mlen);
    assert_int_equal(s->cls->exchange_meta_data(s, 1, wmeta, mlen), NEGOEX_OK);
    /* ... and not the other way round. */
    assert_true(s->cls->exchange_meta_data(s, 1, meta.data + 1, meta.len - 1) < 0);
    free(wmeta);
    sa->cls->destroy(sa);
    negoex_buf_free(&meta);

    /* The AS-REQ. */
    negoex_buf tok;
    negoex_buf_init(&tok, NULL);
    int complete = -1;
    assert_int_equal(s->cls->step(s, 1, NULL, 0, &tok, &complete), NEGOEX_OK);
    decode_as_req(tok.data, tok.len, ours);
    compare_as_req_shape(ours, win);
    /* Identity-derived but equal: s7 is the user of that capture. */
    assert_views_equal(ours->m.u.as_req.cname.components[0], win->m.u.as_req.cname.components[0]);
    assert_view(ours->m.u.as_req.cname.components[0],
                "AzureAD\\MS-Organization-P2P-Access [2022]\\S-1-12-1-3653211022-1339006422-2627573900-1560734919");
    assert_views_equal(ours->m.u.as_req.sname.components[1], win->m.u.as_req.sname.components[1]);
    assert_views_equal(ours->m.u.as_req.addresses[0].address, str_view("DESKTOP-8F33RFH "));
    assert_views_equal(ours->m.u.as_req.addresses[0].address, win->m.u.as_req.addresses[0].address);
    assert_view(ours->ap.ctime, "20221018120401Z");
    /* paChecksum = SHA-1 of the body as sent. */
    uint8_t d[20];
    unsigned int dl = 0;
    assert_true(EVP_Digest(ours->m.u.as_req.req_body.data, ours->m.u.as_req.req_body.len, d, &dl, EVP_sha1(), NULL));
    assert_views_equal(ours->ap.pa_checksum, (negoex_bytes){d, 20});
    /* The GSS framing: 60 82 len len, the PKU2U OID, TOK_ID 05 00. */
    assert_int_equal(tok.data[0], 0x60);
    assert_int_equal(tok.data[1], 0x82);
    assert_int_equal(((size_t)tok.data[2] << 8 | tok.data[3]) + 4, tok.len);
    assert_memory_equal(tok.data + 4, "\x06\x06\x2b\x06\x01\x05\x02\x07\x05\x00", 10);

    /* Group 14 and a wrapped, SHA-256 signature on request. */
    s->cls->destroy(s);
    I.cfg.dh_group = 14;
    I.cfg.wrapped_cms = 1;
    I.cfg.digest = NEGOEX_PKU2U_DIGEST_SHA256;
    assert_int_equal(negoex_pku2u_scheme_new(&s, &I.cfg, NULL), NEGOEX_OK);
    tok.len = 0;
    assert_int_equal(s->cls->step(s, 1, NULL, 0, &tok, &complete), NEGOEX_OK);
    decode_as_req(tok.data, tok.len, ours);
    assert_int_equal(ours->sd.wrapped, 1);
    negoex_krb_dh_params prm;
    assert_int_equal(negoex_krb_decode_dh_params(ours->ap.cpv_parameters.data, ours->ap.cpv_parameters.len, &prm,
                                                 NULL),
                     NEGOEX_OK);
    negoex_dh_params dp = {prm.p.data, prm.p.len, prm.g.data, prm.g.len, prm.q.data, prm.q.len};
    assert_int_equal(negoex_dh_group_identify(&dp), 14);
    s->cls->destroy(s);
    negoex_buf_free(&tok);
    free(wtok);
    free(win);
    free(ours);
}

/* Our acceptor on the Windows client's AS-REQs: the signature verifies, the
 * paChecksum matches, the certificate chains to the published 2022 root with
 * clientAuth at a time inside its validity; an AS-REP comes out (nothing
 * further is possible without the client's DH key). */
static void test_windows_as_req_accepted(void **state)
{
    (void)state;
    static const char *const vecs[] = {"windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin",
                                       "windows/pku2u/win_client_as_req_gss_token_2022-09-25.bin"};
    char cert[1024], key[1024], ca[1024];
    snprintf(cert, sizeof cert, "%s", tu_path(KC "devmachine_p2p_server_cert_2022-10-23.der"));
    snprintf(key, sizeof key, "%s", tu_path(KC "devmachine_device_rsa_private_key_pkcs1.der"));
    snprintf(ca, sizeof ca, "%s", tu_path(KC "p2p_ca_MS-Organization-P2P-Access_2022.der"));
    for (size_t i = 0; i < sizeof vecs / sizeof vecs[0]; i++) {
        size_t len = 0;
        uint8_t *tok = tu_load(vecs[i], &len);
        as_req_parts *w = calloc(1, sizeof *w);
        assert_non_null(w);
        decode_as_req(tok, len, w);
        int64_t ctime = 0;
        assert_int_equal(negoex_krb_time_to_unix(w->ap.ctime, &ctime), NEGOEX_OK);

        for (int variant = 0; variant < 4; variant++) {
            side A;
            acceptor_cfg(&A);
            A.cfg.cert = NULL;
            A.cfg.key = NULL;
            A.cfg.trust_anchors = NULL;
            A.cfg.cert_file = cert;
            A.cfg.key_file = key;
            A.cfg.trust_file = ca;
            A.cfg.now = ctime;
            int want = NEGOEX_OK;
            if (variant == 1) {
                A.cfg.now = 0; /* today: the client certificate expired long ago */
                want = NEGOEX_ERR_CERT_EXPIRED;
            } else if (variant == 2) {
                A.cfg.validation_time = ctime; /* certificate time fine, but the clock is today's */
                A.cfg.now = 0;
                want = NEGOEX_ERR_PKU2U_CLOCK_SKEW;
            } else if (variant == 3) {
                A.cfg.dh_groups_accepted = NEGOEX_PKU2U_ACCEPT_MODP14; /* Windows offers group 2 */
                want = NEGOEX_ERR_DH_GROUP;
            }
            negoex_scheme *s = NULL;
            assert_int_equal(negoex_pku2u_scheme_new(&s, &A.cfg, NULL), NEGOEX_OK);
            negoex_buf out;
            negoex_buf_init(&out, NULL);
            int complete = -1;
            int rc = s->cls->step(s, 0, tok, len, &out, &complete);
            if (rc != want)
                fail_msg("%s variant %d: %s (%s), expected %s", vecs[i], variant, negoex_error_name(rc),
                         A.status.what ? A.status.what : "", negoex_error_name(want));
            negoex_pku2u_message m;
            assert_int_equal(negoex_pku2u_decode_token(out.data, out.len, &m, NULL), NEGOEX_OK);
            if (want != NEGOEX_OK) {
                assert_int_equal(m.token.tok_id, NEGOEX_PKU2U_TOK_KRB_ERROR);
                assert_int_equal(m.u.krb_error.error_code, A.status.krb_error);
            } else {
                assert_int_equal(complete, 0);
                assert_int_equal(m.token.tok_id, NEGOEX_PKU2U_TOK_AS_REP);
                assert_view(m.u.as_rep.crealm, "WELLKNOWN:PKU2U");
                assert_int_equal(m.u.as_rep.cname.name_type, -128);
                assert_view(m.u.as_rep.cname.components[0], "AzureAD\\s7@dataans.com");
                assert_true(principal_equal(&m.u.as_rep.ticket.sname, &w->m.u.as_req.sname));
                assert_name(s, NEGOEX_PKU2U_PEER_UPN, "s7@dataans.com");
                assert_name(s, NEGOEX_PKU2U_PEER_KRB_NAME, "AzureAD\\s7@dataans.com");
                /* The reply's PA-PK-AS-REP is Windows-shaped: bare SignedData
                 * over KDCDHKeyInfo with nonce 0, a 32-byte server nonce. */
                negoex_krb_pa_pk_as_rep pr;
                assert_int_equal(negoex_krb_decode_pa_pk_as_rep(m.u.as_rep.padata[0].value.data,
                                                                m.u.as_rep.padata[0].value.len, &pr, NULL),
                                 NEGOEX_OK);
                assert_int_equal(pr.server_dh_nonce.len, 32);
                negoex_cms_verified v;
                assert_int_equal(negoex_cms_verify(pr.dh_signed_data.data, pr.dh_signed_data.len,
                                                   NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN, NULL,
                                                   &v, NULL),
                                 NEGOEX_OK);
                assert_int_equal(v.wrapped, 0);
                assert_int_equal(v.digest, NEGOEX_CMS_DIGEST_SHA1);
                negoex_krb_kdc_dh_key_info ki;
                assert_int_equal(negoex_krb_decode_kdc_dh_key_info(v.econtent.data, v.econtent.len, &ki, NULL),
                                 NEGOEX_OK);
                assert_int_equal(ki.nonce, 0);
                assert_int_equal(ki.y.len, 128);
                negoex_cms_verified_clear(&v);
            }
            negoex_buf_free(&out);
            s->cls->destroy(s);
        }
        free(w);
        free(tok);
    }
}

/* ------------------------------------------------------------------------ */
/* Encoders on Windows bytes                                                 */
/* ------------------------------------------------------------------------ */

static void assert_buf(const negoex_buf *b, negoex_bytes want, const char *what)
{
    if (b->len != want.len || memcmp(b->data, want.data, want.len) != 0)
        fail_msg("%s: re-encoding differs (%zu vs %zu bytes)", what, b->len, want.len);
}

static void test_encoders_windows(void **state)
{
    (void)state;
    negoex_buf b;
    negoex_buf_init(&b, NULL);
    size_t len = 0;
    uint8_t *tok = tu_load("windows/pku2u/win_client_as_req_gss_token_2022-10-18.bin", &len);
    as_req_parts *w = calloc(1, sizeof *w);
    assert_non_null(w);
    decode_as_req(tok, len, w);
    assert_int_equal(negoex_krb_encode_as_req(&w->m.u.as_req, &b), NEGOEX_OK);
    assert_buf(&b, w->m.token.pdu, "AS-REQ");
    b.len = 0;
    assert_int_equal(negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_AS_REQ, w->m.token.pdu.data, w->m.token.pdu.len, &b),
                     NEGOEX_OK);
    assert_buf(&b, (negoex_bytes){tok, len}, "AS-REQ token");
    b.len = 0;
    assert_int_equal(negoex_krb_encode_kdc_req_body(&w->m.u.as_req, &b), NEGOEX_OK);
    assert_buf(&b, w->m.u.as_req.req_body, "KDC-REQ-BODY");
    b.len = 0;
    assert_int_equal(negoex_krb_encode_pa_pk_as_req(w->pa.signed_auth_pack.data, w->pa.signed_auth_pack.len, &b),
                     NEGOEX_OK);
    assert_buf(&b, w->m.u.as_req.padata[0].value, "PA-PK-AS-REQ");
    negoex_krb_auth_pack_in ai = {w->ap.cusec, w->ap.ctime, w->ap.nonce, w->ap.pa_checksum, w->ap.dh.p,
                                  w->ap.dh.g,  w->ap.dh.q,  w->ap.dh_y,  w->ap.client_dh_nonce};
    b.len = 0;
    assert_int_equal(negoex_krb_encode_auth_pack(&ai, &b), NEGOEX_OK);
    assert_buf(&b, w->sd.econtent, "AuthPack");
    free(tok);
    free(w);

    /* AS-REP of a Windows acceptor, and its PA-PK-AS-REP pieces. */
    tok = tu_load("windows/pku2u/win_server_as_rep_gss_token_2022-05-17.bin", &len);
    negoex_pku2u_message *m = calloc(1, sizeof *m);
    assert_non_null(m);
    assert_int_equal(negoex_pku2u_decode_token(tok, len, m, NULL), NEGOEX_OK);
    b.len = 0;
    assert_int_equal(negoex_krb_encode_as_rep(&m->u.as_rep, &b), NEGOEX_OK);
    assert_buf(&b, m->token.pdu, "AS-REP");
    b.len = 0;
    assert_int_equal(negoex_krb_encode_ticket(&m->u.as_rep.ticket, &b), NEGOEX_OK);
    assert_buf(&b, m->u.as_rep.ticket.raw, "Ticket");
    negoex_krb_pa_pk_as_rep pr;
    assert_int_equal(negoex_krb_decode_pa_pk_as_rep(m->u.as_rep.padata[0].value.data, m->u.as_rep.padata[0].value.len,
                                                    &pr, NULL),
                     NEGOEX_OK);
    b.len = 0;
    assert_int_equal(negoex_krb_encode_pa_pk_as_rep_dh(pr.dh_signed_data.data, pr.dh_signed_data.len,
                                                       pr.server_dh_nonce.data, pr.server_dh_nonce.len, &b),
                     NEGOEX_OK);
    assert_buf(&b, m->u.as_rep.padata[0].value, "PA-PK-AS-REP");
    negoex_cms_signed_data sd;
    assert_int_equal(negoex_cms_decode_signed_data(pr.dh_signed_data.data, pr.dh_signed_data.len, &sd, NULL),
                     NEGOEX_OK);
    negoex_krb_kdc_dh_key_info ki;
    assert_int_equal(negoex_krb_decode_kdc_dh_key_info(sd.econtent.data, sd.econtent.len, &ki, NULL), NEGOEX_OK);
    b.len = 0;
    assert_int_equal(negoex_krb_encode_kdc_dh_key_info(ki.y.data, ki.y.len, ki.nonce, &b), NEGOEX_OK);
    assert_buf(&b, sd.econtent, "KDCDHKeyInfo");
    free(tok);
    free(m);

    /* Metadata both ways, the authorization data and its restrictions. */
    static const char *const metas[] = {"windows/negoex/win_pku2u_initiator_metadata_payload.der",
                                        "windows/negoex/win_pku2u_acceptor_metadata_payload.der",
                                        "windows/negoex/sspirs_debugserver_acceptor_metadata_payload.der"};
    for (size_t i = 0; i < 3; i++) {
        tok = tu_load(metas[i], &len);
        negoex_pku2u_metadata md;
        assert_int_equal(negoex_pku2u_decode_metadata(tok, len, &md, NULL), NEGOEX_OK);
        b.len = 0;
        assert_int_equal(negoex_pku2u_encode_metadata(&md, &b), NEGOEX_OK);
        assert_buf(&b, (negoex_bytes){tok, len}, metas[i]);
        free(tok);
    }
    tok = tu_load("windows/pku2u/win_client_authenticator_authorization_data.der", &len);
    negoex_krb_authz_data ad, ad2;
    negoex_krb_ad_restrictions r;
    assert_int_equal(negoex_krb_decode_authz_data(tok, len, &ad, NULL), NEGOEX_OK);
    b.len = 0;
    assert_int_equal(negoex_krb_encode_authz_data(&ad, &b), NEGOEX_OK);
    assert_buf(&b, (negoex_bytes){tok, len}, "AuthorizationData");
    assert_int_equal(negoex_krb_decode_authz_data(ad.entries[0].ad_data.data, ad.entries[0].ad_data.len, &ad2, NULL),
                     NEGOEX_OK);
    assert_int_equal(
        negoex_krb_decode_ad_restrictions(ad2.entries[0].ad_data.data, ad2.entries[0].ad_data.len, &r, NULL),
        NEGOEX_OK);
    b.len = 0;
    assert_int_equal(negoex_krb_encode_ad_restrictions(&r, &b), NEGOEX_OK);
    assert_buf(&b, ad2.entries[0].ad_data, "KERB-AD-RESTRICTIONS");
    free(tok);

    /* KRB-FINISHED as the constants describe it: 30 19 a1 17 30 15 ... */
    uint8_t mic[12];
    memset(mic, 0xab, sizeof mic);
    negoex_krb_cksum c = {16, {mic, sizeof mic}};
    b.len = 0;
    assert_int_equal(negoex_krb_encode_finished(&c, &b), NEGOEX_OK);
    assert_int_equal(b.len, 27);
    assert_memory_equal(b.data, "\x30\x19\xa1\x17\x30\x15\xa0\x03\x02\x01\x10\xa1\x0e\x04\x0c", 15);
    negoex_krb_finished fin;
    assert_int_equal(negoex_krb_decode_finished(b.data, b.len, &fin, NULL), NEGOEX_OK);
    assert_int_equal(fin.gss_mic.cksumtype, 16);

    /* KerberosTime both ways. */
    char t[16];
    assert_int_equal(negoex_krb_time_from_unix(2136509285, t), NEGOEX_OK);
    assert_string_equal(t, "20370914024805Z");
    assert_int_equal(negoex_krb_time_from_unix(0, t), NEGOEX_OK);
    assert_string_equal(t, "19700101000000Z");
    assert_int_equal(negoex_krb_time_from_unix(951782400, t), NEGOEX_OK); /* leap day */
    assert_string_equal(t, "20000229000000Z");
    int64_t back = 0;
    assert_int_equal(negoex_krb_time_to_unix(str_view("20000229000000Z"), &back), NEGOEX_OK);
    assert_int_equal(back, 951782400);
    negoex_buf_free(&b);
}

/* Our own messages round-trip through the decoders. */
static void test_encoders_roundtrip(void **state)
{
    (void)state;
    negoex_buf b;
    negoex_buf_init(&b, NULL);
    uint8_t keyb[32], cipher[60];
    memset(keyb, 0x11, sizeof keyb);
    memset(cipher, 0x22, sizeof cipher);
    negoex_krb_principal cn = {-128, 1, {str_view("AzureAD\\u@x")}};
    negoex_krb_principal sn = {2, 2, {str_view("TERMSRV"), str_view("h")}};

    negoex_krb_enc_ticket_part t, t2;
    memset(&t, 0, sizeof t);
    t.flags = 0x00600000;
    t.key.keytype = 18;
    t.key.keyvalue = (negoex_bytes){keyb, 32};
    t.crealm = str_view("WELLKNOWN:PKU2U");
    t.cname = cn;
    t.tr_contents = str_view("");
    t.authtime = str_view("20240101000000Z");
    t.endtime = str_view("20240101100000Z");
    assert_int_equal(negoex_krb_encode_enc_ticket_part(&t, &b), NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_enc_ticket_part(b.data, b.len, &t2, NULL), NEGOEX_OK);
    assert_int_equal(t2.flags, t.flags);
    assert_int_equal(t2.tr_contents.len, 0);
    assert_true(principal_equal(&t2.cname, &cn));

    negoex_krb_authenticator a, a2;
    memset(&a, 0, sizeof a);
    a.crealm = str_view("WELLKNOWN:PKU2U");
    a.cname = cn;
    a.cusec = 999999;
    a.ctime = str_view("20240101000000Z");
    a.has_seq_number = 1;
    a.seq_number = 0x7fffffff;
    b.len = 0;
    assert_int_equal(negoex_krb_encode_authenticator(&a, NULL, &b), NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_authenticator(b.data, b.len, &a2, NULL), NEGOEX_OK);
    assert_int_equal(a2.seq_number, 0x7fffffff);
    assert_false(a2.has_subkey);
    assert_false(a2.has_cksum);
    a.cusec = 1000000;
    assert_int_equal(negoex_krb_encode_authenticator(&a, NULL, &b), NEGOEX_ERR_INVALID_ARGUMENT);

    negoex_krb_error e, e2;
    memset(&e, 0, sizeof e);
    e.stime = str_view("20240101000000Z");
    e.error_code = 62;
    e.realm = str_view("WELLKNOWN:PKU2U");
    e.sname = sn;
    e.e_text = str_view("CERT_UNTRUSTED");
    b.len = 0;
    assert_int_equal(negoex_krb_encode_error(&e, &b), NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_error(b.data, b.len, &e2, NULL), NEGOEX_OK);
    assert_int_equal(e2.error_code, 62);
    assert_view(e2.e_text, "CERT_UNTRUSTED");
    assert_false(e2.has_cusec);

    negoex_krb_enc_ap_rep_part p, p2;
    memset(&p, 0, sizeof p);
    p.ctime = str_view("20240101000000Z");
    p.cusec = 5;
    p.has_subkey = 1;
    p.subkey.keytype = 18;
    p.subkey.keyvalue = (negoex_bytes){keyb, 32};
    b.len = 0;
    assert_int_equal(negoex_krb_encode_enc_ap_rep_part(&p, &b), NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_enc_ap_rep_part(b.data, b.len, &p2, NULL), NEGOEX_OK);
    assert_true(p2.has_subkey);
    assert_false(p2.has_seq_number);

    negoex_krb_ap_rep r = {{18, 1, 3, {cipher, sizeof cipher}}}, r2;
    b.len = 0;
    assert_int_equal(negoex_krb_encode_ap_rep(&r, &b), NEGOEX_OK);
    assert_int_equal(negoex_krb_decode_ap_rep(b.data, b.len, &r2, NULL), NEGOEX_OK);
    assert_int_equal(r2.enc_part.kvno, 3);

    /* Refused values. */
    negoex_krb_principal empty = {1, 0, {{NULL, 0}}};
    e.sname = empty;
    assert_int_equal(negoex_krb_encode_error(&e, &b), NEGOEX_ERR_INVALID_ARGUMENT);
    e.sname = sn;
    e.stime = str_view("2024");
    assert_int_equal(negoex_krb_encode_error(&e, &b), NEGOEX_ERR_INVALID_ARGUMENT);
    negoex_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoders_windows),
        cmocka_unit_test(test_encoders_roundtrip),
        cmocka_unit_test(test_config),
        cmocka_unit_test(test_reset_clone),
        cmocka_unit_test(test_handshakes),
        cmocka_unit_test(test_handshake_published),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_failures_optimistic),
        cmocka_unit_test(test_windows_shape),
        cmocka_unit_test(test_windows_as_req_accepted),
    };
    return cmocka_run_group_tests(tests, pki_setup, pki_teardown);
}
