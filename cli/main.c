/*
 * negoex: command-line face of libnegoex.
 *
 * Subcommands live in their own files; this table is the only place that
 * knows them, so adding one is a file plus a row.
 */
#include "cli.h"
#include "http_conn.h"

#include <string.h>

#include <negoex/negoex.h>

typedef struct cli_command {
    const char *name;
    cli_handler handler;
    const char *help;
} cli_command;

int cli_verify_check(int argc, char **argv); /* verify_check.c */

static const cli_command commands[] = {
    {"decode", cli_decode, "print the messages of a NEGOEX token (text or --json)"},
    {"initiate", cli_initiate, "be the initiator of a conversation over stdin/stdout"},
    {"accept", cli_accept, "be the acceptor of a conversation over stdin/stdout"},
    {"demo", cli_demo, "run both roles in this process and print the flow"},
    {"bench", cli_bench, "run a benchmark (codec, handshake) and print its figures"},
    {"certs", cli_certs, "write a test PKI shaped like Azure AD's P2P one (CA, user, device)"},
    {"verify-check", cli_verify_check, "which key, key usage and transcript each VERIFY of a conversation matches"},
    {"http-serve", cli_http_serve, "HTTP server requiring Negotiate (SPNEGO acceptor), answers the identity"},
    {"http-get", cli_http_get, "GET a URL with Negotiate authentication (SPNEGO initiator)"},
};

#define COMMAND_COUNT (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *f)
{
    fputs("usage: negoex <command> [options] [args]\n"
          "       negoex --help | --version\n"
          "\n"
          "commands:\n",
          f);
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fputs("\n"
          "`negoex <command> --help` describes a command.\n"
          "Exit status: 0 success, 1 invalid input, 2 usage or I/O error.\n",
          f);
}

static const cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < COMMAND_COUNT; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const cli_command *cmd;
    int status;

    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        if (argc > 2 && strcmp(argv[1], "help") == 0) {
            /* "negoex help decode" == "negoex decode --help" */
            char help_opt[] = "--help";
            char *sub_argv[3];

            cmd = find_command(argv[2]);
            if (cmd == NULL) {
                cli_error("unknown command '%s'", argv[2]);
                usage(stderr);
                return CLI_EXIT_USAGE;
            }
            sub_argv[0] = argv[2];
            sub_argv[1] = help_opt;
            sub_argv[2] = NULL;
            return cmd->handler(2, sub_argv);
        }
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("negoex %s\n", NEGOEX_VERSION_STRING);
        return CLI_EXIT_OK;
    }
    cmd = find_command(argv[1]);
    if (cmd == NULL) {
        if (argv[1][0] == '-')
            cli_error("unknown option '%s'", argv[1]);
        else
            cli_error("unknown command '%s'", argv[1]);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    status = cmd->handler(argc - 1, argv + 1);
    /* A full disk or closed pipe must not pass for success. */
    if (fflush(stdout) != 0 || ferror(stdout)) {
        cli_error("cannot write to standard output");
        if (status == CLI_EXIT_OK)
            status = CLI_EXIT_USAGE;
    }
    return status;
}
