/*
 * `negoex demo`: both roles in one process, printing the flow.
 *
 * By default SPNEGO -> NEGOEX -> PKU2U with a test PKI made in memory
 * (negoex/testpki.h): every leg with its SPNEGO fields, its NEGOEX messages
 * and the PKU2U message inside (through the dissector, negoex/pku2u.h), then
 * the identities each side established and a wrapped message each way.
 * `--scheme test|nxtoy` runs the test schemes as before (one line per token).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/x509.h>

#include <negoex/pku2u.h>
#include <negoex/testpki.h>

#include "cli.h"
#include "session.h"

#define MAX_LEGS 64

static void usage(FILE *f)
{
    fprintf(f,
            "usage: negoex demo [--optimistic] [--trace] [--raw] [--target SERVICE/HOST]\n"
            "                   [--upn UPN] [--dh-group 2|14]\n"
            "       negoex demo --scheme test|nxtoy [options]\n"
            "\n"
            "Runs an initiator and an acceptor in this process and prints every leg.\n"
            "\n"
            "Default: SPNEGO -> NEGOEX -> PKU2U. A test PKI shaped like Azure AD's P2P one\n"
            "is generated in memory (a CA, a user certificate for the initiator, a device\n"
            "certificate for the acceptor); the initiator targets TERMSRV/localhost (the\n"
            "device's dNSName). Shown: each token's direction, SPNEGO kind and negState,\n"
            "its NEGOEX messages with their sequence numbers and the PKU2U message inside\n"
            "(AS-REQ, AS-REP, AP-REQ, AP-REP, KRB-ERROR; metadata), then the identity\n"
            "each side established from the other's certificate, and one RFC 4121 Wrap\n"
            "token each way. Windows' form (3 SPNEGO round trips) unless --optimistic\n"
            "(the AS-REQ rides in the first token: 2 round trips).\n"
            "\n"
            "  --optimistic           the 2-round-trip form\n"
            "  --trace                every field: each token decoded as `negoex decode`\n"
            "                         prints it (PKU2U messages dissected), the Wrap tokens\n"
            "                         in hex, and one line per NEGOEX message on stderr\n"
            "  --raw                  bare NEGOEX tokens, no SPNEGO\n"
            "  --target SERVICE/HOST  the target (HOST also goes into the device certificate)\n"
            "  --upn UPN              the user's UPN (default %s)\n"
            "  --dh-group 2|14        the Diffie-Hellman group (default 2, as Windows)\n"
            "For your own certificates, run `negoex initiate` and `negoex accept`.\n"
            "\n"
            "With --scheme test (MIT's negoextest) or nxtoy: one line per token.\n"
            "\n"
            "The options of initiate / accept (the demo takes no PKU2U files: it makes its own):\n%s",
            NEGOEX_TESTPKI_DEFAULT_UPN, cli_session_usage);
}

/* ------------------------------------------------------------------------ */
/* Test schemes: one line per token (the original demo)                      */
/* ------------------------------------------------------------------------ */

static void show_negoex(const uint8_t *tok, size_t len)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1)
        printf(" %s[%u]", negoex_message_type_name(m.type), (unsigned)m.seq);
}

static void show_oid(const uint8_t *der, size_t len)
{
    const char *name = negoex_oid_name(der, len);
    char text[128];
    if (name == NULL && negoex_oid_to_text(der, len, text, sizeof text, NULL) == 0)
        name = text;
    printf("%s", name != NULL ? name : "?");
}

static const char *const spnego_kinds[] = {"negTokenInit", "negTokenInit2", "negTokenResp"};

/* " SPNEGO <kind> [mechs] <negState> mech=<oid>"; *inner: the mechToken / responseToken. */
static void show_spnego_fields(const negoex_spnego_token *t, negoex_bytes *inner)
{
    printf(" SPNEGO %s", spnego_kinds[t->kind]);
    if (t->mech_types.data != NULL) {
        printf(" [");
        negoex_spnego_mech_iter it;
        negoex_bytes oid;
        if (negoex_spnego_mech_iter_init(&it, t) == NEGOEX_OK)
            for (size_t i = 0; negoex_spnego_mech_iter_next(&it, &oid) == 1; i++) {
                printf("%s", i ? " " : "");
                show_oid(oid.data, oid.len);
            }
        printf("]");
    }
    if (t->neg_state != NEGOEX_NEG_STATE_ABSENT)
        printf(" %s", negoex_neg_state_name(t->neg_state));
    if (t->supported_mech.data != NULL) {
        printf(" mech=");
        show_oid(t->supported_mech.data, t->supported_mech.len);
    }
    *inner = t->mech_token.data != NULL ? t->mech_token : t->response_token;
}

/* One line per token: the SPNEGO fields, then the NEGOEX messages inside. */
static void show_token(const char *dir, const uint8_t *tok, size_t len, int raw)
{
    if (len == 0) {
        printf("%s (no token)\n", dir);
        return;
    }
    printf("%s %zu bytes:", dir, len);
    negoex_spnego_token t;
    if (raw || negoex_spnego_parse(tok, len, &t, NULL) != 0) {
        show_negoex(tok, len);
        printf("\n");
        fflush(stdout);
        return;
    }
    negoex_bytes inner;
    show_spnego_fields(&t, &inner);
    if (inner.data != NULL) {
        printf(" |");
        show_negoex(inner.data, inner.len);
    }
    if (t.mech_list_mic.data != NULL)
        printf(" | mechListMIC %zu bytes", t.mech_list_mic.len);
    printf("\n");
    fflush(stdout); /* keep the flow in order with --trace on stderr */
}

/* ------------------------------------------------------------------------ */
/* PKU2U: what each message carries                                          */
/* ------------------------------------------------------------------------ */

#define NAME_MAX_TEXT 384

/* What the one-glance view shows of a PKU2U token or metadata (dissector events). */
typedef struct krb_view {
    char kind[32];
    char cname[NAME_MAX_TEXT], sname[NAME_MAX_TEXT], realm[128];
    char signer[NAME_MAX_TEXT];  /* the first certificate's subject (the CMS signer's) */
    char trusts[NAME_MAX_TEXT];  /* metadata: the trusted certifiers, "; " between */
    char etext[256];
    char enc[96];                /* the encrypted part: "etype 18 (aes256-...), N bytes" */
    char ap_options[96];
    const char *error_label;
    int64_t error_code;
    int has_error;
    int64_t dh_group;
    int has_dh_group;
} krb_view;

/* Appends printable ASCII as is, anything else as '?': the view is for eyes. */
static void append_text(char *dst, size_t cap, const uint8_t *s, size_t len)
{
    size_t n = strlen(dst);
    for (size_t i = 0; i < len && n + 1 < cap; i++)
        dst[n++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
    dst[n] = '\0';
}

static void append_cstr(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, "%s", s);
}

static int view_event(void *ud, const negoex_dissect_event *ev)
{
    krb_view *v = ud;
    const char *name = ev->name;
    if (ev->kind == NEGOEX_DISSECT_END || name == NULL)
        return 0;
    if (ev->depth == 0) {
        snprintf(v->kind, sizeof v->kind, "%s", name);
        return 0;
    }
    switch (ev->kind) {
    case NEGOEX_DISSECT_PRINCIPAL: {
        char *dst = strcmp(name, "cname") == 0 ? v->cname : strcmp(name, "sname") == 0 ? v->sname : NULL;
        if (dst == NULL || dst[0] != '\0')
            break; /* the first one of each */
        for (size_t i = 0; i < ev->count; i++) {
            if (i > 0)
                append_cstr(dst, NAME_MAX_TEXT, "/");
            append_text(dst, NAME_MAX_TEXT, ev->strings[i].data, ev->strings[i].len);
        }
        break;
    }
    case NEGOEX_DISSECT_STRING:
        if (strcmp(name, "realm") == 0 && v->realm[0] == '\0')
            append_text(v->realm, sizeof v->realm, ev->bytes.data, ev->bytes.len);
        else if (strcmp(name, "e-text") == 0 && v->etext[0] == '\0')
            append_text(v->etext, sizeof v->etext, ev->bytes.data, ev->bytes.len);
        break;
    case NEGOEX_DISSECT_DN:
        if (strcmp(name, "subject") == 0 && v->signer[0] == '\0') {
            append_text(v->signer, sizeof v->signer, (const uint8_t *)ev->text, strlen(ev->text));
        } else if (strcmp(name, "subjectName") == 0) {
            if (v->trusts[0] != '\0')
                append_cstr(v->trusts, sizeof v->trusts, "; ");
            append_text(v->trusts, sizeof v->trusts, (const uint8_t *)ev->text, strlen(ev->text));
        }
        break;
    case NEGOEX_DISSECT_INT:
        if (strcmp(name, "dh-group") == 0 && !v->has_dh_group) {
            v->dh_group = ev->num;
            v->has_dh_group = 1;
        } else if (strcmp(name, "error-code") == 0 && !v->has_error) {
            v->error_code = ev->num;
            v->error_label = ev->label; /* a static name */
            v->has_error = 1;
        }
        break;
    case NEGOEX_DISSECT_FLAGS:
        if (strcmp(name, "ap-options") == 0 && ev->label != NULL)
            snprintf(v->ap_options, sizeof v->ap_options, "%s", ev->label[0] != '\0' ? ev->label : "none");
        break;
    case NEGOEX_DISSECT_ENC_DATA:
        /* The AP-REQ's authenticator; the AS-REP's / AP-REP's own enc-part (not the ticket's). */
        if ((strcmp(name, "authenticator") == 0 || (strcmp(name, "enc-part") == 0 && ev->depth == 1)) &&
            v->enc[0] == '\0')
            snprintf(v->enc, sizeof v->enc, "%s, etype %" PRId64 " (%s), %zu bytes", name, ev->num,
                     ev->label != NULL ? ev->label : "?", ev->length);
        break;
    default:
        break;
    }
    return 0;
}

#define DETAIL "          " /* the indent of a message's detail lines */

static void show_detail(const char *key, const char *value)
{
    if (value != NULL && value[0] != '\0')
        printf(DETAIL "%-9s %s\n", key, value);
}

/* The PKU2U payload of an exchange message, at a glance. */
static void show_pku2u_payload(const negoex_message *m)
{
    krb_view v;
    negoex_error_info err;
    memset(&v, 0, sizeof v);
    int meta = m->type == NEGOEX_INITIATOR_META_DATA || m->type == NEGOEX_ACCEPTOR_META_DATA;
    const negoex_bytes *x = &m->u.exchange.exchange;
    int rc = meta ? negoex_pku2u_dissect_metadata(x->data, x->len, NEGOEX_PKU2U_METADATA_ANY, view_event, &v, &err)
                  : negoex_pku2u_dissect_token(x->data, x->len, view_event, &v, &err);
    if (rc < 0) {
        printf(": PKU2U %s that does not decode (%s)\n", meta ? "metadata" : "token", negoex_error_name(rc));
        return;
    }
    if (meta) {
        printf(": PKU2U metadata\n");
        show_detail("trusts", v.trusts);
        if (v.sname[0] != '\0') {
            char target[NAME_MAX_TEXT + 140];
            snprintf(target, sizeof target, "%s @ %s", v.sname, v.realm);
            show_detail("target", target);
        }
        return;
    }
    printf(": PKU2U %s", v.kind);
    if (strcmp(v.kind, "AS-REQ") == 0) {
        if (v.has_dh_group)
            printf(" (PKINIT, Diffie-Hellman group %" PRId64 ")", v.dh_group);
        printf("\n");
        show_detail("cname", v.cname);
        show_detail("sname", v.sname);
        show_detail("signed by", v.signer);
    } else if (strcmp(v.kind, "AS-REP") == 0) {
        printf(" (PKINIT reply: the acceptor's DH key, a ticket for itself)\n");
        show_detail("cname", v.cname);
        show_detail("ticket", v.sname);
        show_detail("signed by", v.signer);
        show_detail("encrypted", v.enc);
    } else if (strcmp(v.kind, "AP-REQ") == 0) {
        printf(" (the ticket, an Authenticator with the initiator's subkey and KRB-FINISHED)\n");
        show_detail("ticket", v.sname);
        show_detail("options", v.ap_options);
        show_detail("encrypted", v.enc);
    } else if (strcmp(v.kind, "AP-REP") == 0) {
        printf(" (the acceptor's subkey)\n");
        show_detail("encrypted", v.enc);
    } else if (strcmp(v.kind, "KRB-ERROR") == 0) {
        printf("\n");
        char code[96];
        if (v.has_error) {
            snprintf(code, sizeof code, "%" PRId64 " (%s)", v.error_code,
                     v.error_label != NULL ? v.error_label : "?");
            show_detail("error", code);
        }
        show_detail("e-text", v.etext);
    } else {
        printf("\n");
    }
}

static void show_guid(const negoex_guid *g)
{
    const char *label = negoex_guid_label(g);
    char text[NEGOEX_GUID_STRING_LEN + 1];
    if (label == NULL) {
        negoex_guid_format(g, text);
        label = text;
    }
    printf("%s", label);
}

/* One line per NEGOEX message (and detail lines for PKU2U payloads). */
static void show_messages(const uint8_t *tok, size_t len, int from_acceptor)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1) {
        printf("      %s seq %u", negoex_message_type_name(m.type), (unsigned)m.seq);
        switch (negoex_message_structure(m.type)) {
        case NEGOEX_STRUCT_NEGO:
            printf(": auth schemes");
            for (size_t i = 0; i < m.u.nego.auth_scheme_count; i++) {
                negoex_guid g;
                if (negoex_nego_auth_scheme(&m, i, &g) == 0) {
                    printf(" ");
                    show_guid(&g);
                }
            }
            printf("\n");
            break;
        case NEGOEX_STRUCT_EXCHANGE:
            if (negoex_pku2u_is_scheme(&m.u.exchange.auth_scheme)) {
                show_pku2u_payload(&m);
            } else {
                printf(": ");
                show_guid(&m.u.exchange.auth_scheme);
                printf(", %zu bytes\n", m.u.exchange.exchange.len);
            }
            break;
        case NEGOEX_STRUCT_VERIFY: {
            const char *cksum = cli_checksum_type_name(m.u.verify.checksum_type);
            printf(": %s over the transcript with the %s's subkey (key usage %d)\n", cksum != NULL ? cksum : "?",
                   from_acceptor ? "acceptor" : "initiator", from_acceptor ? 23 : 25);
            break;
        }
        case NEGOEX_STRUCT_ALERT:
            printf(": error 0x%08" PRIx32 ", %u alert(s)\n", m.u.alert.error_code, (unsigned)m.u.alert.alert_count);
            break;
        default:
            printf("\n");
            break;
        }
    }
}

/* Every field of a token, as `negoex decode` prints it, indented under the leg. */
static void show_decoded(const uint8_t *tok, size_t len, int raw)
{
    char *text = NULL;
    size_t n = 0;
    FILE *mem = open_memstream(&text, &n);
    if (mem == NULL)
        return;
    if (raw) {
        negoex_message *msgs;
        size_t count;
        negoex_error_info info;
        if (cli_negoex_collect(tok, len, &msgs, &count, &info) == 0) {
            (void)cli_negoex_print_text(mem, "", msgs, count);
            free(msgs);
        }
    } else {
        (void)cli_decode_spnego(mem, tok, len, 0);
    }
    if (fclose(mem) != 0) {
        free(text);
        return;
    }
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(text + i, '\n', n - i);
        size_t end = nl != NULL ? (size_t)(nl - text) : n;
        if (end > i)
            printf("    | %.*s\n", (int)(end - i), text + i);
        else
            printf("    |\n");
        i = end + 1;
    }
    free(text);
}

/* A leg of the PKU2U demo: a header line, then the messages. */
static void show_leg(int leg, int turn, int rc, const uint8_t *tok, size_t len, int raw, int trace)
{
    static const char *const dir[2] = {"initiator -> acceptor", "acceptor -> initiator"};
    if (len == 0) {
        printf("[%d] %s: nothing to send%s\n", leg, dir[turn],
               rc == NEGOEX_COMPLETE ? (turn ? " (the acceptor is complete)" : " (the initiator is complete)") : "");
        fflush(stdout);
        return;
    }
    printf("[%d] %s: %zu bytes,", leg, dir[turn], len);
    negoex_spnego_token t;
    negoex_bytes inner = {tok, len};
    if (raw || negoex_spnego_parse(tok, len, &t, NULL) != 0) {
        printf(" NEGOEX\n");
    } else {
        show_spnego_fields(&t, &inner);
        if (t.mech_list_mic.data != NULL)
            printf(", mechListMIC %zu bytes", t.mech_list_mic.len);
        printf("\n");
    }
    if (inner.data != NULL)
        show_messages(inner.data, inner.len, turn);
    if (trace)
        show_decoded(tok, len, raw);
    fflush(stdout); /* keep the flow in order with --trace on stderr */
}

/* ------------------------------------------------------------------------ */
/* Driving both sides                                                        */
/* ------------------------------------------------------------------------ */

typedef struct run_result {
    int status[2]; /* last step result of each side */
    int legs;      /* tokens sent */
    int failed;    /* the side that failed, or -1 */
} run_result;

/* Steps both sides until one has nothing to send or fails. pku2u: the
 * multi-line view, else the one-line one. */
static run_result converse(cli_session side[2], const cli_session_opts *o, int pku2u)
{
    static const char *const name[2] = {"initiator -> acceptor", "acceptor -> initiator"};
    run_result r = {{0, 0}, 0, -1};
    const uint8_t *out;
    size_t out_len;
    uint8_t *tok = NULL;
    int turn = 0, rc = cli_session_step(&side[0], NULL, 0, &out, &out_len);
    for (int leg = 1; leg <= MAX_LEGS; leg++) {
        r.status[turn] = rc;
        if (rc < 0) {
            if (out_len) {
                r.legs++;
                if (pku2u)
                    show_leg(leg, turn, rc, out, out_len, o->raw, o->trace);
                else
                    show_token(name[turn], out, out_len, o->raw);
            }
            r.failed = turn;
            if (pku2u) {
                char text[512];
                cli_session_describe_error(&side[turn], rc, text, sizeof text);
                printf("%s failed: %s\n", turn ? "acceptor" : "initiator", text);
                /* The peer reads the error token: a KRB-ERROR names what failed. */
                if (turn == 1 && out_len != 0) {
                    free(tok);
                    tok = malloc(out_len);
                    if (tok != NULL) {
                        memcpy(tok, out, out_len);
                        int prc = cli_session_step(&side[0], tok, out_len, &out, &out_len);
                        r.status[0] = prc;
                        if (prc < 0) {
                            cli_session_describe_error(&side[0], prc, text, sizeof text);
                            printf("initiator failed: %s\n", text);
                        }
                    }
                }
            } else {
                printf("%s failed: %s (%s)\n", turn ? "acceptor" : "initiator", negoex_error_name(rc),
                       negoex_strerror(rc));
            }
            break;
        }
        if (pku2u)
            show_leg(leg, turn, rc, out, out_len, o->raw, o->trace);
        else
            show_token(name[turn], out, out_len, o->raw);
        if (out_len == 0)
            break;
        r.legs++;
        free(tok);
        tok = malloc(out_len);
        if (tok == NULL)
            break;
        memcpy(tok, out, out_len);
        size_t tok_len = out_len;
        turn ^= 1;
        rc = cli_session_step(&side[turn], tok, tok_len, &out, &out_len);
    }
    free(tok);
    return r;
}

static void show_complete(cli_session side[2], const char *chain, int raw)
{
    negoex_guid conv;
    char g[NEGOEX_GUID_STRING_LEN + 1], s[NEGOEX_GUID_STRING_LEN + 1];
    if (negoex_context_conversation_id(side[0].nx, &conv) == NEGOEX_OK)
        negoex_guid_format(&conv, g);
    else
        strcpy(g, "?");
    const negoex_scheme *sc = negoex_context_selected_scheme(side[0].nx);
    negoex_guid_format(&sc->auth_scheme, s);
    const char *label = negoex_guid_label(&sc->auth_scheme);
    printf("COMPLETE: %s%sconversation %s, scheme %s%s%s%s, both VERIFYs checked (%zu transcript bytes)%s\n",
           raw ? "" : "SPNEGO -> ", chain, g, s, label != NULL ? " (" : "", label != NULL ? label : "",
           label != NULL ? ")" : "", negoex_context_transcript(side[0].nx).len,
           side[0].sp != NULL && negoex_spnego_mic_exchanged(side[0].sp) ? ", mechListMICs checked" : "");
}

/* The original demo: the test schemes. */
static int demo_test_schemes(const cli_session_opts *o)
{
    cli_session side[2];
    if (cli_session_open(o, NEGOEX_ROLE_INITIATOR, &side[0]) != 0)
        return CLI_EXIT_USAGE;
    if (cli_session_open(o, NEGOEX_ROLE_ACCEPTOR, &side[1]) != 0) {
        cli_session_close(&side[0]);
        return CLI_EXIT_USAGE;
    }
    run_result r = converse(side, o, 0);
    int ok = r.status[0] == NEGOEX_COMPLETE && r.status[1] == NEGOEX_COMPLETE;
    if (ok)
        show_complete(side, o->raw ? "" : "NEGOEX, ", o->raw);
    else
        printf("NOT COMPLETE: initiator %s, acceptor %s\n", negoex_error_name(r.status[0]),
               negoex_error_name(r.status[1]));
    cli_session_close(&side[0]);
    cli_session_close(&side[1]);
    return ok ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}

/* ------------------------------------------------------------------------ */
/* PKU2U                                                                      */
/* ------------------------------------------------------------------------ */

static void print_subject(X509 *x)
{
    BIO *b = BIO_new_fp(stdout, BIO_NOCLOSE);
    if (b == NULL)
        return;
    X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    BIO_free(b);
}

static void show_pki(const negoex_testpki *pki)
{
    printf("test PKI generated in memory (RSA %d; `negoex certs --out DIR` writes one to files):\n",
           EVP_PKEY_get_bits(negoex_testpki_get0_key(pki, NEGOEX_TESTPKI_CA)));
    printf("    CA         ");
    print_subject(negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_CA));
    printf("\n    initiator  user   ");
    print_subject(negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_USER));
    printf("\n                      SAN UPN %s, EKU clientAuth\n", negoex_testpki_upn(pki));
    printf("    acceptor   device ");
    print_subject(negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_DEVICE));
    printf("\n                      SAN DNS %s, EKU serverAuth\n", negoex_testpki_host(pki));
}

/* What one side established about the other. */
static void show_identity(const cli_session *s)
{
    static const negoex_pku2u_name_kind kinds[] = {NEGOEX_PKU2U_PEER_UPN, NEGOEX_PKU2U_PEER_DNS,
                                                    NEGOEX_PKU2U_PEER_KRB_NAME, NEGOEX_PKU2U_PEER_SUBJECT};
    int acc = s->role == NEGOEX_ROLE_ACCEPTOR;
    printf("    %s sees the %s as\n", acc ? "acceptor" : "initiator", acc ? "initiator" : "acceptor");
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i] == NEGOEX_PKU2U_PEER_KRB_NAME && !acc)
            continue; /* the Kerberos client name is the initiator's */
        char *name = cli_session_peer_name(s, kinds[i]);
        if (name != NULL)
            printf("        %-9s %s\n", cli_peer_kind_name(kinds[i]), name);
        free(name);
    }
}

static const char *enctype_name(int32_t e)
{
    return e == NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96   ? "aes256-cts-hmac-sha1-96"
           : e == NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96 ? "aes128-cts-hmac-sha1-96"
                                                         : "?";
}

/* Both sides hold the same keys; says which. 0 when they agree. */
static int show_keys(const cli_session side[2])
{
    negoex_pku2u_keys k[2];
    if (negoex_pku2u_session_keys(cli_session_scheme(&side[0]), &k[0]) != NEGOEX_OK)
        return -1;
    if (negoex_pku2u_session_keys(cli_session_scheme(&side[1]), &k[1]) != NEGOEX_OK) {
        OPENSSL_cleanse(k, sizeof k);
        return -1;
    }
    int same = k[0].session.len == k[1].session.len && k[0].acceptor_subkey.len == k[1].acceptor_subkey.len &&
               k[0].initiator_subkey.len == k[1].initiator_subkey.len &&
               CRYPTO_memcmp(k[0].session.bytes, k[1].session.bytes, k[0].session.len) == 0 &&
               CRYPTO_memcmp(k[0].initiator_subkey.bytes, k[1].initiator_subkey.bytes, k[0].initiator_subkey.len) ==
                   0 &&
               CRYPTO_memcmp(k[0].acceptor_subkey.bytes, k[1].acceptor_subkey.bytes, k[0].acceptor_subkey.len) == 0;
    printf("keys: %s (%s)\n",
           same ? "both sides hold the same session key and subkeys" : "the sides' keys DIFFER",
           enctype_name(k[0].acceptor_subkey.enctype));
    OPENSSL_cleanse(k, sizeof k);
    return same ? 0 : -1;
}

/* One message from one side to the other in an RFC 4121 Wrap token. 0 if it arrived intact. */
static int wrap_one(cli_session *from, cli_session *to, const char *msg, int trace)
{
    negoex_buf tok, plain;
    negoex_buf_init(&tok, NULL);
    negoex_buf_init(&plain, NULL);
    const char *fname = from->role == NEGOEX_ROLE_INITIATOR ? "initiator" : "acceptor";
    const char *tname = to->role == NEGOEX_ROLE_INITIATOR ? "initiator" : "acceptor";
    int conf = 0, ok = 0;
    int rc = negoex_pku2u_wrap(cli_session_scheme(from), 1, (const uint8_t *)msg, strlen(msg), &tok);
    if (rc != NEGOEX_OK) {
        printf("    %s cannot wrap: %s\n", fname, negoex_error_name(rc));
        goto done;
    }
    printf("    %-9s wraps   \"%s\": a %zu-byte Wrap token (TOK_ID %02x %02x, sealed)\n", fname, msg, tok.len,
           tok.len > 1 ? tok.data[0] : 0, tok.len > 1 ? tok.data[1] : 0);
    if (trace) {
        cli_text_bytes(stdout, "      ", "token", tok.data, tok.len);
    }
    rc = negoex_pku2u_unwrap(cli_session_scheme(to), tok.data, tok.len, &plain, &conf);
    if (rc != NEGOEX_OK) {
        printf("    %s cannot unwrap it: %s\n", tname, negoex_error_name(rc));
        goto done;
    }
    printf("    %-9s unwraps \"", tname);
    fwrite(plain.data, 1, plain.len, stdout);
    printf("\" (%s, integrity and sequence checked)\n", conf ? "decrypted" : "not sealed");
    ok = plain.len == strlen(msg) && memcmp(plain.data, msg, plain.len) == 0;
done:
    negoex_buf_free(&tok);
    negoex_buf_free(&plain);
    return ok ? 0 : -1;
}

static int demo_pku2u(cli_session_opts *o, const char *upn)
{
    negoex_testpki_options to;
    negoex_testpki_options_init(&to);
    if (upn != NULL)
        to.upn = upn;
    if (o->target_host != NULL)
        to.host = o->target_host;
    negoex_testpki *pki = NULL;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_testpki_new(&to, time(NULL), &pki, &err);
    if (rc != NEGOEX_OK) {
        cli_error("cannot generate the test PKI: %s (%s)", negoex_strerror(rc),
                  err.field != NULL ? err.field : "?");
        return rc == NEGOEX_ERR_INVALID_ARGUMENT ? CLI_EXIT_USAGE : CLI_EXIT_INVALID;
    }
    STACK_OF(X509) *anchors = sk_X509_new_null();
    if (anchors == NULL || sk_X509_push(anchors, negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_CA)) <= 0) {
        cli_error("out of memory");
        sk_X509_free(anchors);
        negoex_testpki_free(pki);
        return CLI_EXIT_USAGE;
    }
    const char *service = o->target_service != NULL ? o->target_service : NEGOEX_PKU2U_DEFAULT_SERVICE;
    const char *host = negoex_testpki_host(pki);

    cli_session_opts oi = *o, oa = *o;
    oi.target_service = oa.target_service = service;
    oi.target_host = oa.target_host = host; /* the acceptor answers to that name only */
    oi.cert = negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_USER);
    oi.pkey = negoex_testpki_get0_key(pki, NEGOEX_TESTPKI_USER);
    oa.cert = negoex_testpki_get0_cert(pki, NEGOEX_TESTPKI_DEVICE);
    oa.pkey = negoex_testpki_get0_key(pki, NEGOEX_TESTPKI_DEVICE);
    oi.anchors = oa.anchors = anchors;

    printf("negoex demo: %sNEGOEX -> PKU2U, an initiator and an acceptor in this process\n",
           o->raw ? "" : "SPNEGO -> ");
    show_pki(pki);
    printf("target %s/%s in realm %s; %s\n\n", service, host, NEGOEX_PKU2U_REALM,
           o->optimistic ? "optimistic form: the AS-REQ rides in the first token (2 round trips)"
                         : "Windows' form: metadata first, then AS and AP exchanges (3 round trips)");
    fflush(stdout);

    int status = CLI_EXIT_INVALID;
    cli_session side[2];
    if (cli_session_open(&oi, NEGOEX_ROLE_INITIATOR, &side[0]) != 0) {
        status = CLI_EXIT_USAGE;
        goto out;
    }
    if (cli_session_open(&oa, NEGOEX_ROLE_ACCEPTOR, &side[1]) != 0) {
        cli_session_close(&side[0]);
        status = CLI_EXIT_USAGE;
        goto out;
    }
    run_result r = converse(side, o, 1);
    if (r.status[0] == NEGOEX_COMPLETE && r.status[1] == NEGOEX_COMPLETE) {
        printf("\nidentities (from each peer's verified certificate):\n");
        show_identity(&side[0]);
        show_identity(&side[1]);
        int bad = show_keys(side);
        printf("\nwrapped messages (RFC 4121 Wrap tokens under the acceptor's subkey):\n");
        bad |= wrap_one(&side[0], &side[1], "Hello acceptor, this is the initiator.", o->trace);
        bad |= wrap_one(&side[1], &side[0], "Hello initiator, the acceptor here.", o->trace);
        printf("\n");
        if (bad == 0) {
            char chain[64];
            snprintf(chain, sizeof chain, "NEGOEX -> PKU2U in %d round trips, ", (r.legs + 1) / 2);
            show_complete(side, chain, o->raw);
            status = CLI_EXIT_OK;
        } else {
            printf("NOT COMPLETE: the established contexts disagree\n");
        }
    } else {
        printf("NOT COMPLETE: initiator %s, acceptor %s\n",
               negoex_error_name(r.status[0] == NEGOEX_ERR_SCHEME_FAILED && side[0].status.error < 0
                                     ? side[0].status.error
                                     : r.status[0]),
               negoex_error_name(r.status[1] == NEGOEX_ERR_SCHEME_FAILED && side[1].status.error < 0
                                     ? side[1].status.error
                                     : r.status[1]));
    }
    cli_session_close(&side[0]);
    cli_session_close(&side[1]);
out:
    sk_X509_free(anchors);
    negoex_testpki_free(pki);
    return status;
}

int cli_demo(int argc, char **argv)
{
    cli_session_opts o;
    const char *upn = NULL;
    cli_session_defaults(&o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(argv[i], "--upn") == 0) {
            if (i + 1 >= argc) {
                cli_error("--upn needs a value");
                return CLI_EXIT_USAGE;
            }
            upn = argv[++i];
            if (o.pku2u_option == NULL)
                o.pku2u_option = "--upn";
            continue;
        }
        int r = cli_session_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_error("unknown option '%s'", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    /* The demo's identities are its own: refuse file options before looking at the files. */
    const char *files = o.cert_file != NULL   ? "--cert"
                        : o.p12_file != NULL  ? "--p12"
                        : o.password != NULL  ? "--password"
                        : o.ca_file != NULL || o.ca_dir != NULL ? "--ca"
                        : o.host_name != NULL ? "--host"
                        : o.time != 0         ? "--time"
                                              : NULL;
    if (files != NULL && (!o.scheme_given || o.scheme == CLI_SCHEME_PKU2U)) {
        cli_error("%s: the demo makes its own PKI in memory; for your own certificates run "
                  "`negoex initiate` and `negoex accept` (see their --help)",
                  files);
        return CLI_EXIT_USAGE;
    }
    if (cli_session_finish(&o, CLI_SCHEME_PKU2U) != 0)
        return CLI_EXIT_USAGE;
    if (o.scheme != CLI_SCHEME_PKU2U)
        return demo_test_schemes(&o);
    return demo_pku2u(&o, upn);
}
