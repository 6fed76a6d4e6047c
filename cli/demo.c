/* `negoex demo`: both roles in one process, printing the flow. */
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

static void show_token(const char *dir, const uint8_t *tok, size_t len)
{
    if (len == 0) {
        printf("%s (no token)\n", dir);
        return;
    }
    printf("%s %zu bytes:", dir, len);
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1)
        printf(" %s[%u]", negoex_message_type_name(m.type), (unsigned)m.seq);
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
    negoex_context *side[2] = {NULL, NULL};
    if (cli_session_context(&o, NEGOEX_ROLE_INITIATOR, &side[0]) != 0 ||
        cli_session_context(&o, NEGOEX_ROLE_ACCEPTOR, &side[1]) != 0) {
        negoex_context_free(side[0]);
        return CLI_EXIT_USAGE;
    }
    static const char *const name[2] = {"initiator -> acceptor", "acceptor -> initiator"};
    int status[2] = {0, 0};
    const uint8_t *out;
    size_t out_len;
    uint8_t *tok = NULL;
    size_t tok_len = 0;
    int turn = 0, rc = negoex_context_step(side[0], NULL, 0, &out, &out_len);
    for (int legs = 0; legs < 64; legs++) {
        status[turn] = rc;
        if (rc < 0) {
            if (out_len)
                show_token(name[turn], out, out_len);
            printf("%s failed: %s (%s)\n", turn ? "acceptor" : "initiator", negoex_error_name(rc),
                   negoex_strerror(rc));
            break;
        }
        show_token(name[turn], out, out_len);
        if (out_len == 0)
            break;
        free(tok);
        tok = malloc(out_len);
        if (tok == NULL)
            break;
        memcpy(tok, out, out_len);
        tok_len = out_len;
        turn ^= 1;
        rc = negoex_context_step(side[turn], tok, tok_len, &out, &out_len);
    }
    free(tok);
    int ok = status[0] == NEGOEX_COMPLETE && status[1] == NEGOEX_COMPLETE;
    if (ok) {
        negoex_guid conv;
        char g[NEGOEX_GUID_STRING_LEN + 1], s[NEGOEX_GUID_STRING_LEN + 1];
        if (negoex_context_conversation_id(side[0], &conv) == NEGOEX_OK)
            negoex_guid_format(&conv, g);
        else
            strcpy(g, "?");
        negoex_guid_format(&negoex_context_selected_scheme(side[0])->auth_scheme, s);
        printf("COMPLETE: conversation %s, scheme %s, both VERIFYs checked (%zu transcript bytes)\n", g, s,
               negoex_context_transcript(side[0]).len);
    } else {
        printf("NOT COMPLETE: initiator %s, acceptor %s\n", negoex_error_name(status[0]),
               negoex_error_name(status[1]));
    }
    negoex_context_free(side[0]);
    negoex_context_free(side[1]);
    return ok ? CLI_EXIT_OK : CLI_EXIT_INVALID;
}
