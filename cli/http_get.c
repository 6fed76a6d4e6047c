/*
 * `negoex http-get URL`: an HTTP/1.1 client that authenticates with RFC 4559
 * Negotiate through libnegoex's own SPNEGO initiator (the session set-up of
 * `negoex initiate`, session.c). It follows 401 Negotiate challenges on one
 * keep-alive connection (the conversation is bound to it) until a final
 * status, feeds a token that comes with the 200 to the initiator (the
 * acceptor's last leg: PKU2U's AP-REP, i.e. mutual authentication) and
 * succeeds only when the initiator completed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"
#include "http_conn.h"
#include "session.h"

#define MAX_REQUESTS 16 /* a conversation never needs more round trips */
#define GET_TIMEOUT 30

static void usage(FILE *f)
{
    fprintf(f,
            "usage: negoex http-get [options] http://HOST[:PORT][/PATH]\n"
            "\n"
            "GETs the URL with Negotiate authentication (RFC 4559): on `401` with\n"
            "`WWW-Authenticate: Negotiate` it runs the SPNEGO initiator (as `negoex\n"
            "initiate`) and answers each challenge token on the same keep-alive\n"
            "connection until the server gives a final status. A token sent with that\n"
            "status (the acceptor's last leg) goes to the initiator, which must then be\n"
            "complete (mutual authentication). Prints the body on stdout and one status\n"
            "line on stderr. Exit status 0 for a 200 with the initiator complete, 1\n"
            "otherwise, 2 for usage and connection errors. http:// only.\n"
            "\n"
            "With --scheme pku2u the target defaults to HTTP/HOST (HOST of the URL; the\n"
            "server's certificate must name it); --target SERVICE/HOST overrides it.\n"
            "Example:\n"
            "  negoex http-get --scheme pku2u --cert pki/user.pem --key pki/user.key \\\n"
            "      --ca pki/ca.pem --target HTTP/localhost http://127.0.0.1:8080/\n"
            "\n"
            "scheme options (as `negoex initiate`):\n"
            "%s",
            cli_session_usage);
}

typedef struct url {
    char buf[512];
    char authority[300]; /* for the Host field */
    const char *host, *port;
    const char *path;
} url;

static int parse_url(const char *text, url *u)
{
    if (strncmp(text, "http://", 7) != 0) {
        cli_error("only http:// URLs are supported: '%s'", text);
        return -1;
    }
    text += 7;
    size_t alen = strcspn(text, "/?#");
    if (alen == 0 || alen >= sizeof u->authority || strlen(text) >= sizeof u->buf - 2) {
        cli_error("the URL needs a host: http://HOST[:PORT][/PATH]");
        return -1;
    }
    memcpy(u->authority, text, alen);
    u->authority[alen] = '\0';
    if (strchr(u->authority, '@') != NULL) {
        cli_error("user information in the URL is not supported");
        return -1;
    }
    /* buf: the host:port copy (split in place), then the path. */
    memcpy(u->buf, u->authority, alen + 1);
    const char *rest = text + alen;
    size_t plen = strcspn(rest, "#"); /* the fragment is not sent */
    char *path = u->buf + alen + 1;
    if (plen == 0 || rest[0] != '/') {
        path[0] = '/';
        memcpy(path + 1, rest, plen);
        path[plen + 1] = '\0';
    } else {
        memcpy(path, rest, plen);
        path[plen] = '\0';
    }
    for (const char *p = path; *p != '\0'; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            cli_error("the URL's path has a space or a control character");
            return -1;
        }
    }
    u->path = path;
    if (cli_http_split_hostport(u->buf, &u->host, &u->port) != 0) {
        cli_error("bad host or port in the URL");
        return -1;
    }
    if (u->port == NULL)
        u->port = "80";
    return 0;
}

/* Sends GET with the token (NULL: no Authorization). */
static int send_request(int fd, const url *u, const uint8_t *tok, size_t tok_len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return -1;
    fprintf(f, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: negoex-http-get\r\nAccept: */*\r\n", u->path,
            u->authority);
    if (tok != NULL) {
        fputs("Authorization: Negotiate ", f);
        cli_print_base64(f, tok, tok_len);
        fputs("\r\n", f);
    }
    fputs("\r\n", f);
    return cli_http_send_built(fd, f, &text, &n);
}

static void peer_summary(const cli_session *s, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (s->scheme != CLI_SCHEME_PKU2U)
        return;
    char *dns = cli_session_peer_name(s, NEGOEX_PKU2U_PEER_DNS);
    if (dns != NULL)
        snprintf(buf, cap, "; server DNS %s", dns);
    free(dns);
}

int cli_http_get(int argc, char **argv)
{
    cli_session_opts o;
    cli_session_defaults(&o);
    const char *url_arg = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (argv[i][0] != '-' && url_arg == NULL) {
            url_arg = argv[i];
            continue;
        }
        int r = cli_session_option(&o, argc, argv, &i);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_error(argv[i][0] == '-' ? "unknown option '%s'" : "one URL only: '%s'", argv[i]);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (url_arg == NULL) {
        cli_error("http-get needs a URL");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    url u;
    if (parse_url(url_arg, &u) != 0)
        return CLI_EXIT_USAGE;
    if (o.raw) {
        cli_error("http-get carries SPNEGO tokens (RFC 4559); --raw does not apply");
        return CLI_EXIT_USAGE;
    }
    if (cli_session_finish(&o, CLI_SCHEME_TEST) != 0)
        return CLI_EXIT_USAGE;
    if (cli_session_need_identity(&o, "http-get") != 0)
        return CLI_EXIT_USAGE;
    if (o.scheme == CLI_SCHEME_PKU2U) {
        if (o.host_name != NULL) {
            cli_error("--host names an acceptor; http-get takes --target SERVICE/HOST");
            return CLI_EXIT_USAGE;
        }
        if (o.target_host == NULL) {
            /* Like a browser's or curl's HTTP@host target (RFC 4559 section 4). */
            o.target_service = "HTTP";
            o.target_host = u.host;
        }
    }

    int fd = cli_http_dial(u.host, u.port);
    if (fd < 0)
        return CLI_EXIT_USAGE;
    cli_http_conn c;
    cli_http_conn_init(&c, fd);
    cli_http_timeouts(fd, GET_TIMEOUT);
    cli_session sess;
    int open = 0, complete = 0, status = CLI_EXIT_INVALID;
    uint8_t *send_tok = NULL; /* what the next request carries (a copy) */
    size_t send_len = 0;
    unsigned requests = 0;
    char err[600] = "";

    for (;;) {
        if (requests == MAX_REQUESTS) {
            snprintf(err, sizeof err, "still 401 after %u requests", requests);
            break;
        }
        requests++;
        int w = send_request(fd, &u, send_tok, send_len);
        free(send_tok);
        send_tok = NULL;
        if (w != 0) {
            snprintf(err, sizeof err, "cannot send the request (the server closed the connection?)");
            status = CLI_EXIT_USAGE;
            break;
        }
        size_t head_len, body_len = 0;
        cli_http_read r = cli_http_read_head(&c, &head_len);
        if (r != CLI_HTTP_READ_OK) {
            snprintf(err, sizeof err, "%s after request %u",
                     r == CLI_HTTP_READ_TOO_LARGE ? "response head larger than 64 KiB"
                     : r == CLI_HTTP_READ_IO      ? "read error or timeout"
                                                  : "connection closed",
                     requests);
            status = CLI_EXIT_USAGE;
            break;
        }
        cli_http_head h;
        const char *bad = cli_http_parse_response(c.buf, head_len, &h);
        if (bad == NULL && cli_http_find(&h, "transfer-encoding", NULL) != 0)
            bad = "Transfer-Encoding is not supported";
        int has_len = bad == NULL ? cli_http_content_length(&h, CLI_HTTP_MAX_BODY, &body_len) : 0;
        if (bad == NULL && has_len < 0)
            bad = "bad Content-Length";
        if (bad != NULL) {
            snprintf(err, sizeof err, "malformed response: %s", bad);
            break;
        }
        int closing = cli_http_wants_close(&h);
        if (has_len == 0) {
            /* No length: the body runs to the end of the connection. */
            closing = 1;
            r = cli_http_read_to_eof(&c, head_len + CLI_HTTP_MAX_BODY);
            body_len = c.len - head_len;
        } else {
            r = cli_http_read_more(&c, head_len + body_len);
        }
        if (r != CLI_HTTP_READ_OK) {
            snprintf(err, sizeof err, "the response body did not arrive whole");
            status = CLI_EXIT_USAGE;
            break;
        }
        uint8_t *tok;
        size_t tok_len;
        const char *why;
        cli_http_nego k = cli_http_negotiate(&h, "www-authenticate", &tok, &tok_len, &why);
        if (k == CLI_HTTP_NEGO_BAD) {
            snprintf(err, sizeof err, "HTTP %d: %s", h.status, why);
            break;
        }
        if (h.status == 401) {
            const uint8_t *out = NULL;
            size_t out_len = 0;
            int rc;
            if (k == CLI_HTTP_NEGO_NONE) {
                snprintf(err, sizeof err, "HTTP 401 without a Negotiate challenge");
                break;
            }
            if (k == CLI_HTTP_NEGO_EMPTY) {
                if (open) {
                    snprintf(err, sizeof err, "HTTP 401: the server rejected the authentication");
                    break;
                }
                if (cli_session_open(&o, NEGOEX_ROLE_INITIATOR, &sess) != 0) {
                    status = CLI_EXIT_USAGE;
                    break;
                }
                open = 1;
                rc = cli_session_step(&sess, NULL, 0, &out, &out_len);
            } else if (!open || complete) {
                free(tok);
                snprintf(err, sizeof err, "HTTP 401 with a Negotiate token %s",
                         open ? "after the initiator completed" : "before any challenge");
                break;
            } else {
                rc = cli_session_step(&sess, tok, tok_len, &out, &out_len);
                free(tok);
            }
            if (rc < 0) {
                char text[512];
                cli_session_describe_error(&sess, rc, text, sizeof text);
                snprintf(err, sizeof err, "HTTP 401: %s", text);
                break;
            }
            complete = rc == NEGOEX_COMPLETE;
            if (out_len == 0) {
                snprintf(err, sizeof err, "HTTP 401, and the initiator has nothing more to send");
                break;
            }
            if (closing) {
                snprintf(err, sizeof err, "HTTP 401, and the server closed the connection (Negotiate is bound to it)");
                status = CLI_EXIT_USAGE;
                break;
            }
            if ((send_tok = malloc(out_len)) == NULL) {
                snprintf(err, sizeof err, "out of memory");
                break;
            }
            memcpy(send_tok, out, out_len);
            send_len = out_len;
            cli_http_consume(&c, head_len + body_len);
            continue;
        }
        /* A final status. Its token is the acceptor's last leg (RFC 4559 section 5). */
        int final_tok = k == CLI_HTTP_NEGO_TOKEN;
        if (final_tok) {
            if (!open || complete) {
                free(tok);
                snprintf(err, sizeof err, "HTTP %d with a Negotiate token %s", h.status,
                         open ? "after the initiator completed" : "without a conversation");
                break;
            }
            const uint8_t *out;
            size_t out_len;
            int rc = cli_session_step(&sess, tok, tok_len, &out, &out_len);
            free(tok);
            if (rc < 0) {
                char text[512];
                cli_session_describe_error(&sess, rc, text, sizeof text);
                snprintf(err, sizeof err, "HTTP %d, but the server's last token fails: %s", h.status, text);
                break;
            }
            complete = rc == NEGOEX_COMPLETE;
        }
        fwrite(c.buf + head_len, 1, body_len, stdout);
        fflush(stdout);
        char peer[300];
        if (open)
            peer_summary(&sess, peer, sizeof peer);
        else
            peer[0] = '\0';
        if (h.status == 200 && complete) {
            fprintf(stderr,
                    "negoex http-get: HTTP %d %.*s; %u requests on 1 connection; mutual authentication "
                    "complete (%s)%s\n",
                    h.status, (int)h.reason.n, h.reason.p, requests,
                    final_tok ? "the server's last token checked" : "no last token", peer);
            status = CLI_EXIT_OK;
        } else {
            snprintf(err, sizeof err, "HTTP %d %.*s; %s", h.status, (int)(h.reason.n > 100 ? 100 : h.reason.n),
                     h.reason.p, open ? "the initiator did not complete" : "no Negotiate authentication");
        }
        break;
    }
    free(send_tok);
    if (err[0] != '\0') {
        /* One line; what came from the server is printable text already
         * (the parser rejects control characters). */
        fprintf(stderr, "negoex http-get: %s\n", err);
    }
    if (open)
        cli_session_close(&sess);
    cli_http_conn_close(&c);
    return status;
}
