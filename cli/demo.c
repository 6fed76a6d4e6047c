/* `negoex demo`: both roles in one process (SPNEGO -> NEGOEX -> scheme), printing the flow. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: negoex demo [options]\n"
            "\n"
            "Runs an initiator and an acceptor in this process and prints every token\n"
            "and the messages in it.\n"
            "\n"
            "options:\n%s",
            cli_session_usage);
}

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
    static const char *const kinds[] = {"negTokenInit", "negTokenInit2", "negTokenResp"};
    printf(" SPNEGO %s", kinds[t.kind]);
    if (t.mech_types.data != NULL) {
        printf(" [");
        for (size_t i = 0; i < t.mech_type_count; i++) {
            negoex_bytes oid;
            if (negoex_spnego_mech_type(&t, i, &oid) == 0) {
                printf("%s", i ? " " : "");
                show_oid(oid.data, oid.len);
            }
        }
        printf("]");
    }
    if (t.neg_state != NEGOEX_NEG_STATE_ABSENT)
        printf(" %s", negoex_neg_state_name(t.neg_state));
    if (t.supported_mech.data != NULL) {
        printf(" mech=");
        show_oid(t.supported_mech.data, t.supported_mech.len);
    }
    negoex_bytes inner = t.mech_token.data != NULL ? t.mech_token : t.response_token;
    if (inner.data != NULL) {
        printf(" |");
        show_negoex(inner.data, inner.len);
    }
    if (t.mech_list_mic.data != NULL)
        printf(" | mechListMIC %zu bytes", t.mech_list_mic.len);
    printf("\n");
    fflush(stdout); /* keep the flow in order with --trace on stderr */
}

int cli_demo(int argc, char **argv)
{
    cli_session_opts o;
    cli_session_defaults(&o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
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
    cli_session side[2];
    if (cli_session_open(&o, NEGOEX_ROLE_INITIATOR, &side[0]) != 0)
        return CLI_EXIT_USAGE;
    if (cli_session_open(&o, NEGOEX_ROLE_ACCEPTOR, &side[1]) != 0) {
        cli_session_close(&side[0]);
        return CLI_EXIT_USAGE;
    }
    static const char *const name[2] = {"initiator -> acceptor", "acceptor -> initiator"};
    int status[2] = {0, 0};
    const uint8_t *out;
    size_t out_len;
    uint8_t *tok = NULL;
    size_t tok_len = 0;
    int turn = 0, rc = cli_session_step(&side[0], NULL, 0, &out, &out_len);
    for (int legs = 0; legs < 64; legs++) {
        status[turn] = rc;
        if (rc < 0) {
            if (out_len)
                show_token(name[turn], out, out_len, o.raw);
            printf("%s failed: %s (%s)\n", turn ? "acceptor" : "initiator", negoex_error_name(rc),
                   negoex_strerror(rc));
            break;
        }
        show_token(name[turn], out, out_len, o.raw);
        if (out_len == 0)
            break;
        free(tok);
        tok = malloc(out_len);
        if (tok == NULL)
            break;
        memcpy(tok, out, out_len);
        tok_len = out_len;
        turn ^= 1;
        rc = cli_session_step(&side[turn], tok, tok_len, &out, &out_len);
    }
    free(tok);
    int ok = status[0] == NEGOEX_COMPLETE && status[1] == NEGOEX_COMPLETE;
    if (ok) {
        negoex_guid conv;
        char g[NEGOEX_GUID_STRING_LEN + 1], s[NEGOEX_GUID_STRING_LEN + 1];
        if (negoex_context_conversation_id(side[0].nx, &conv) == NEGOEX_OK)
            negoex_guid_format(&conv, g);
        else
            strcpy(g, "?");
        negoex_guid_format(&negoex_context_selected_scheme(side[0].nx)->auth_scheme, s);
        printf("COMPLETE: %sconversation %s, scheme %s, both VERIFYs checked (%zu transcript bytes)%s\n",
               o.raw ? "" : "SPNEGO -> NEGOEX, ", g, s, negoex_context_transcript(side[0].nx).len,
               side[0].sp != NULL && negoex_spnego_mic_exchanged(side[0].sp) ? ", mechListMICs checked" : "");
    } else {
        printf("NOT COMPLETE: initiator %s, acceptor %s\n", negoex_error_name(status[0]),
               negoex_error_name(status[1]));
    }
    cli_session_close(&side[0]);
    cli_session_close(&side[1]);
    return ok ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}
