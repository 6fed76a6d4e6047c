/* `negoex initiate|accept`: one side of a conversation over a line
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
            "usage: negoex %s [options]\n"
            "\n"
            "Speaks one side of a SPNEGO/NEGOEX conversation. Prints `TOKEN <hex>` (or\n"
            "`TOKEN -` when there is nothing to send; with --http `Negotiate <base64>`)\n"
            "and then `STATUS CONTINUE|COMPLETE|ERROR <text>`; reads the peer's tokens,\n"
            "one line each: hex, `TOKEN <hex>`, or an HTTP `Negotiate <base64>` line\n"
            "(`Authorization:` / `WWW-Authenticate:` prefixes accepted). `STATUS` lines\n"
            "and `PEER` lines are skipped, so two instances can be wired to each other.\n"
            "The initiator prints its first token without input.\n"
            "\n"
            "With --scheme pku2u, after `STATUS COMPLETE` come the names of the peer's\n"
            "verified certificate, one `PEER <KIND> <name>` line each:\n"
            "  PEER UPN alice@contoso.test       its SAN UPN (a user: what the acceptor sees)\n"
            "  PEER DNS localhost                its SAN dNSName (a device: what the initiator sees)\n"
            "  PEER KRB-NAME AzureAD\\...         acceptor: the initiator's Kerberos client name\n"
            "  PEER SUBJECT CN=...,DC=...        its subject (RFC 4514), always last\n"
            "A PKU2U failure names what failed: `STATUS ERROR CERT_UNTRUSTED: ...` on the\n"
            "side that checked, `STATUS ERROR PKU2U_KRB_ERROR: ...` on an initiator the\n"
            "acceptor answered with a KRB-ERROR.\n"
            "\n"
            "Default scheme: test (pku2u when PKU2U options are given). Example:\n"
            "  negoex certs --out pki\n"
            "  mkfifo a2i\n"
            "  negoex initiate --scheme pku2u --cert pki/user.pem --key pki/user.key \\\n"
            "      --ca pki/ca.pem --target TERMSRV/localhost < a2i |\n"
            "  negoex accept --scheme pku2u --cert pki/device.pem --key pki/device.key \\\n"
            "      --ca pki/ca.pem > a2i\n"
            "\n"
            "options:\n"
            "%s",
            cmd, cli_session_usage);
}

/* Reads the next peer token: skips STATUS lines and empty tokens (unless
 * want_empty: the peer's acknowledgement of a fragment, MS-SPNG 3.1.5.8,
 * returned as a token of length 0). 1 = got one, 0 = end of input, -1 = bad line. */
static int read_token(uint8_t **tok, size_t *len, int want_empty)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        char *p = line;
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
            p[--n] = '\0';
        if (strncmp(p, "STATUS", 6) == 0 || strncmp(p, "PEER", 4) == 0)
            continue;
        size_t off, vlen;
        if (cli_http_negotiate_value((const uint8_t *)p, (size_t)n, &off, &vlen)) {
            if (vlen == 0 || (vlen == 1 && p[off] == '-'))
                continue;
            cli_buffer b = {malloc(vlen), vlen};
            if (b.data == NULL) {
                free(line);
                cli_error("out of memory");
                return -1;
            }
            memcpy(b.data, p + off, vlen);
            free(line);
            if (cli_decode_in_place(&b, CLI_INPUT_BASE64) != 0) {
                cli_buffer_free(&b);
                cli_error("Negotiate value is not base64");
                return -1;
            }
            *tok = b.data;
            *len = b.len;
            return 1;
        }
        if (strncmp(p, "TOKEN ", 6) == 0)
            p += 6;
        if (want_empty && strcmp(p, "-") == 0) {
            free(line);
            *tok = NULL;
            *len = 0;
            return 1;
        }
        if (strcmp(p, "-") == 0 || *p == '\0')
            continue;
        int rc = cli_hex_decode(p, strlen(p), tok, len);
        free(line);
        if (rc != 0) {
            cli_error("input is not a hex token or a Negotiate line");
            return -1;
        }
        return 1;
    }
    free(line);
    return 0;
}

static void print_token(const uint8_t *out, size_t len, int http)
{
    if (http && len != 0) {
        fputs("Negotiate ", stdout);
        cli_print_base64(stdout, out, len);
    } else {
        fputs("TOKEN ", stdout);
        if (len == 0)
            fputs("-", stdout);
        else
            cli_print_hex(stdout, out, len);
    }
    fputc('\n', stdout);
}

/* `PEER <KIND> <name>` for each name the peer's certificate has. */
static void print_peer(const cli_session *s)
{
    static const negoex_pku2u_name_kind kinds[] = {NEGOEX_PKU2U_PEER_UPN, NEGOEX_PKU2U_PEER_DNS,
                                                    NEGOEX_PKU2U_PEER_KRB_NAME, NEGOEX_PKU2U_PEER_SUBJECT};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (kinds[i] == NEGOEX_PKU2U_PEER_KRB_NAME && s->role != NEGOEX_ROLE_ACCEPTOR)
            continue; /* the client name is the initiator's: only the acceptor's peer has one */
        char *name = cli_session_peer_name(s, kinds[i]);
        if (name != NULL)
            printf("PEER %s %s\n", cli_peer_kind_name(kinds[i]), name);
        free(name);
    }
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
    if (o.raw && o.http) {
        cli_error("--http carries SPNEGO tokens; it does not go with --raw");
        return CLI_EXIT_USAGE;
    }
    if (cli_session_finish(&o, CLI_SCHEME_TEST) != 0)
        return CLI_EXIT_USAGE;
    if (cli_session_need_identity(&o, argv[0]) != 0)
        return CLI_EXIT_USAGE;
    if (o.scheme == CLI_SCHEME_PKU2U) {
        if (role == NEGOEX_ROLE_INITIATOR && o.target_host == NULL) {
            cli_error("initiate --scheme pku2u needs --target SERVICE/HOST");
            return CLI_EXIT_USAGE;
        }
        if (role == NEGOEX_ROLE_INITIATOR && o.host_name != NULL) {
            cli_error("--host names the acceptor itself; the initiator takes --target SERVICE/HOST");
            return CLI_EXIT_USAGE;
        }
    }
    cli_session sess;
    if (cli_session_open(&o, role, &sess) != 0)
        return CLI_EXIT_USAGE;

    int status = CLI_EXIT_INVALID;
    int first = role == NEGOEX_ROLE_INITIATOR;
    for (;;) {
        uint8_t *in = NULL;
        size_t in_len = 0;
        if (!first) {
            int r = read_token(&in, &in_len, sess.sp != NULL && negoex_spnego_fragments_pending(sess.sp) != 0);
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
        int rc = cli_session_step(&sess, in, in_len, &out, &out_len);
        free(in);
        if (rc < 0) {
            char text[512];
            cli_session_describe_error(&sess, rc, text, sizeof text);
            if (out_len)
                print_token(out, out_len, o.http); /* the reject or error token for the peer */
            printf("STATUS ERROR %s\n", text);
            break;
        }
        print_token(out, out_len, o.http);
        printf("STATUS %s\n", rc == NEGOEX_COMPLETE ? "COMPLETE" : "CONTINUE");
        if (rc == NEGOEX_COMPLETE) {
            if (sess.scheme == CLI_SCHEME_PKU2U)
                print_peer(&sess);
            status = CLI_EXIT_OK;
            fflush(stdout);
            break;
        }
        fflush(stdout);
    }
    fflush(stdout);
    cli_session_close(&sess);
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
