/* `negoex initiate|accept --raw`: one side of a conversation over a line
 * protocol on stdin/stdout, so a peer (another process, a script, MIT through
 * a driver) can sit on the other end. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "session.h"

static void usage(FILE *f, const char *cmd)
{
    fprintf(f,
            "usage: negoex %s --raw [options]\n"
            "\n"
            "Speaks one side of a NEGOEX conversation. Prints `TOKEN <hex>` (or `TOKEN -`\n"
            "when there is nothing to send) and then `STATUS CONTINUE|COMPLETE|ERROR <text>`;\n"
            "reads the peer's tokens, one hex line each (a `TOKEN ` prefix is accepted and\n"
            "`STATUS` lines are skipped, so two instances can be wired to each other).\n"
            "The initiator prints its first token without input.\n"
            "\n"
            "options:\n"
            "  --raw                  bare NEGOEX tokens (required until SPNEGO framing lands)\n"
            "%s",
            cmd, cli_session_usage);
}

/* Reads the next peer token: skips STATUS lines and empty tokens. 1 = got one,
 * 0 = end of input, -1 = bad line. */
static int read_token(uint8_t **tok, size_t *len)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        char *p = line;
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
            p[--n] = '\0';
        if (strncmp(p, "STATUS", 6) == 0)
            continue;
        if (strncmp(p, "TOKEN ", 6) == 0)
            p += 6;
        if (strcmp(p, "-") == 0 || *p == '\0')
            continue;
        int rc = cli_hex_decode(p, strlen(p), tok, len);
        free(line);
        if (rc != 0) {
            cli_error("input is not a hex token");
            return -1;
        }
        return 1;
    }
    free(line);
    return 0;
}

static void print_token(const uint8_t *out, size_t len)
{
    fputs("TOKEN ", stdout);
    if (len == 0)
        fputs("-", stdout);
    else
        cli_print_hex(stdout, out, len);
    fputc('\n', stdout);
}

static int converse(int argc, char **argv, negoex_role role)
{
    cli_session_opts o;
    cli_session_defaults(&o);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, argv[0]);
            return CLI_EXIT_OK;
        }
        int r = cli_session_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_error("unknown option '%s'", argv[i]);
            usage(stderr, argv[0]);
            return CLI_EXIT_USAGE;
        }
    }
    if (!o.raw) {
        cli_error("SPNEGO framing is not implemented yet; pass --raw for bare NEGOEX tokens");
        return CLI_EXIT_USAGE;
    }
    negoex_context *ctx;
    if (cli_session_context(&o, role, &ctx) != 0)
        return CLI_EXIT_USAGE;

    int status = CLI_EXIT_INVALID;
    int first = role == NEGOEX_ROLE_INITIATOR;
    for (;;) {
        uint8_t *in = NULL;
        size_t in_len = 0;
        if (!first) {
            int r = read_token(&in, &in_len);
            if (r <= 0) {
                if (r == 0)
                    printf("STATUS ERROR end of input before the conversation completed\n");
                status = r == 0 ? CLI_EXIT_INVALID : CLI_EXIT_USAGE;
                break;
            }
        }
        first = 0;
        const uint8_t *out;
        size_t out_len;
        int rc = negoex_context_step(ctx, in, in_len, &out, &out_len);
        free(in);
        if (rc < 0) {
            negoex_error_info e;
            negoex_context_last_error(ctx, &e);
            if (out_len)
                print_token(out, out_len); /* the scheme's error token for the peer */
            if (e.field != NULL)
                printf("STATUS ERROR %s: %s (%s, offset %zu)\n", negoex_error_name(rc), negoex_strerror(rc),
                       e.field, e.offset);
            else
                printf("STATUS ERROR %s: %s\n", negoex_error_name(rc), negoex_strerror(rc));
            break;
        }
        print_token(out, out_len);
        printf("STATUS %s\n", rc == NEGOEX_COMPLETE ? "COMPLETE" : "CONTINUE");
        fflush(stdout);
        if (rc == NEGOEX_COMPLETE) {
            status = CLI_EXIT_OK;
            break;
        }
    }
    fflush(stdout);
    negoex_context_free(ctx);
    return status;
}

int cli_initiate(int argc, char **argv)
{
    return converse(argc, argv, NEGOEX_ROLE_INITIATOR);
}

int cli_accept(int argc, char **argv)
{
    return converse(argc, argv, NEGOEX_ROLE_ACCEPTOR);
}
