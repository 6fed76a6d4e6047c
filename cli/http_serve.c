/*
 * `negoex http-serve`: an HTTP/1.1 server that asks for RFC 4559 Negotiate
 * authentication and runs libnegoex's SPNEGO acceptor (the session set-up of
 * `negoex accept`, session.c) over as many 401 round trips as the scheme
 * needs, then answers 200 with the identity it authenticated.
 *
 * Deliberately a minimal loop, one connection at a time, and not an HTTP
 * library: Negotiate's state belongs to the TCP connection (RFC 4559 section
 * 6: the round trips of one authentication must share it), and serving one
 * connection until it closes keeps that binding trivial (the acceptor is a
 * local of the connection loop); it also adds no dependency to the project.
 * A stalled client cannot hold the server forever: reads and writes time
 * out (CONN_TIMEOUT).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "http.h"
#include "http_conn.h"
#include "session.h"

#define CONN_TIMEOUT 10 /* seconds a connection may stay silent */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: negoex http-serve [--listen HOST:PORT] [--once] [--max-requests N] [options]\n"
            "\n"
            "An HTTP/1.1 server that requires Negotiate authentication (RFC 4559): it\n"
            "answers `401` with `WWW-Authenticate: Negotiate`, runs the SPNEGO acceptor\n"
            "(the same as `negoex accept`) over as many round trips as the scheme needs\n"
            "on one keep-alive connection (`401` + `WWW-Authenticate: Negotiate <token>`\n"
            "in between), then answers `200` with the authenticated identity in the body\n"
            "(PKU2U: the `UPN`, `KRB-NAME` and `SUBJECT` of the client's certificate;\n"
            "test scheme: the scheme and the conversation id) and the acceptor's last\n"
            "token, if any, in `WWW-Authenticate`. Each connection has its own acceptor;\n"
            "a failure answers 400 or 401, logs one line on stderr and resets it.\n"
            "\n"
            "  --listen HOST:PORT     where to listen (default 127.0.0.1:8080); port 0\n"
            "                         picks a free port. Prints `listening on HOST:PORT`\n"
            "  --once                 exit after the first successful authentication\n"
            "  --max-requests N       exit after answering N requests\n"
            "\n"
            "Example (PKU2U; the client: `negoex http-get`, or curl through the GSS module):\n"
            "  negoex certs --out pki\n"
            "  negoex http-serve --scheme pku2u --cert pki/device.pem --key pki/device.key \\\n"
            "      --ca pki/ca.pem\n"
            "\n"
            "scheme options (as `negoex accept`):\n"
            "%s",
            cli_session_usage);
}

typedef struct server {
    cli_session_opts opts;
    int once;
    unsigned long max_requests; /* 0 = no limit */
    unsigned long requests;
    int done;                   /* --once / --max-requests reached */
} server;

/* One connection's authentication: the acceptor while a conversation runs. */
typedef struct conn_auth {
    cli_session sess;
    int open;
    unsigned legs;
    char peer[64]; /* the client's address, for log lines */
} conn_auth;

static void auth_reset(conn_auth *a)
{
    if (a->open)
        cli_session_close(&a->sess);
    a->open = 0;
    a->legs = 0;
}

/* status 0: nothing was answered. */
static void logline(const conn_auth *a, int status, const char *what)
{
    if (status == 0)
        fprintf(stderr, "negoex http-serve: %s: - %s\n", a->peer, what);
    else
        fprintf(stderr, "negoex http-serve: %s: %d %s\n", a->peer, status, what);
    fflush(stderr);
}

/* Writes one response; Content-Length always. token: NULL = no
 * WWW-Authenticate, length 0 = the bare `Negotiate` challenge. */
static int respond(int fd, int status, const char *reason, const uint8_t *token, size_t token_len, int with_challenge,
                   const char *body, int head_only, int closing)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return -1;
    size_t blen = strlen(body);
    fprintf(f, "HTTP/1.1 %d %s\r\n", status, reason);
    if (with_challenge) {
        fputs("WWW-Authenticate: Negotiate", f);
        if (token_len != 0) {
            fputc(' ', f);
            cli_print_base64(f, token, token_len);
        }
        fputs("\r\n", f);
    }
    fprintf(f, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %zu\r\n", blen);
    if (closing)
        fputs("Connection: close\r\n", f);
    fputs("\r\n", f);
    if (!head_only)
        fputs(body, f);
    return cli_http_send_built(fd, f, &text, &n);
}

/* The 200 body: who authenticated (malloc'd). */
static char *identity_body(const cli_session *s)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return NULL;
    negoex_scheme *sc = cli_session_scheme(s);
    negoex_guid conv;
    char conv_text[NEGOEX_GUID_STRING_LEN + 1] = "?", scheme_text[NEGOEX_GUID_STRING_LEN + 1] = "?";
    if (negoex_context_conversation_id(s->nx, &conv) == NEGOEX_OK)
        negoex_guid_format(&conv, conv_text);
    if (sc != NULL)
        negoex_guid_format(&sc->auth_scheme, scheme_text);
    fprintf(f, "authenticated: scheme %s (%s), conversation %s\n", sc != NULL ? sc->cls->name : "?", scheme_text,
            conv_text);
    if (s->scheme == CLI_SCHEME_PKU2U) {
        /* What `negoex accept` prints as PEER lines: the verified certificate's names. */
        static const negoex_pku2u_name_kind kinds[] = {NEGOEX_PKU2U_PEER_UPN, NEGOEX_PKU2U_PEER_KRB_NAME,
                                                        NEGOEX_PKU2U_PEER_SUBJECT};
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
            char *name = cli_session_peer_name(s, kinds[i]);
            if (name != NULL)
                fprintf(f, "%s %s\n", cli_peer_kind_name(kinds[i]), name);
            free(name);
        }
    }
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}

static const char BODY_401[] = "Negotiate authentication required\n";
static const char BODY_400[] = "bad request\n";

/*
 * One request whose head parsed. Returns 0 to keep the connection, 1 to
 * close it, -1 on a write error.
 */
static int handle(server *srv, conn_auth *a, int fd, const cli_http_head *h, int closing)
{
    int head_only = h->method.n == 4 && memcmp(h->method.p, "HEAD", 4) == 0;
    uint8_t *tok;
    size_t tok_len;
    const char *why;
    cli_http_nego k = cli_http_negotiate(h, "authorization", &tok, &tok_len, &why);
    if (k == CLI_HTTP_NEGO_BAD) {
        logline(a, 400, why);
        auth_reset(a);
        return respond(fd, 400, "Bad Request", NULL, 0, 0, BODY_400, head_only, closing) != 0 ? -1 : closing;
    }
    if (k != CLI_HTTP_NEGO_TOKEN) {
        /* No credentials (or `Negotiate` alone, or another scheme): the challenge.
         * A conversation left half-way is abandoned. */
        auth_reset(a);
        return respond(fd, 401, "Unauthorized", NULL, 0, 1, BODY_401, head_only, closing) != 0 ? -1 : closing;
    }
    /* A new initial token (RFC 2743 framing) restarts the conversation. */
    if (a->open && tok[0] == 0x60)
        auth_reset(a);
    if (!a->open) {
        if (cli_session_open(&srv->opts, NEGOEX_ROLE_ACCEPTOR, &a->sess) != 0) {
            free(tok);
            logline(a, 500, "cannot create the acceptor");
            return respond(fd, 500, "Internal Server Error", NULL, 0, 0, "internal error\n", head_only, 1) != 0
                       ? -1
                       : 1;
        }
        a->open = 1;
    }
    const uint8_t *out;
    size_t out_len;
    int rc = cli_session_step(&a->sess, tok, tok_len, &out, &out_len);
    free(tok);
    a->legs++;
    if (rc < 0) {
        char text[512];
        cli_session_describe_error(&a->sess, rc, text, sizeof text);
        logline(a, 401, text);
        /* The reject (or the scheme's error token, e.g. PKU2U's KRB-ERROR)
         * tells the client why; the context is gone either way. */
        int w = respond(fd, 401, "Unauthorized", out, out_len, 1, BODY_401, head_only, closing);
        auth_reset(a);
        return w != 0 ? -1 : closing;
    }
    if (rc == NEGOEX_CONTINUE) {
        return respond(fd, 401, "Unauthorized", out, out_len, 1, BODY_401, head_only, closing) != 0 ? -1 : closing;
    }
    char *body = identity_body(&a->sess);
    if (body == NULL) {
        auth_reset(a);
        logline(a, 500, "out of memory");
        return respond(fd, 500, "Internal Server Error", NULL, 0, 0, "internal error\n", head_only, 1) != 0 ? -1
                                                                                                          : 1;
    }
    int w = respond(fd, 200, "OK", out, out_len, out_len != 0, body, head_only, closing);
    char line[256];
    char *nl = strchr(body, '\n');
    /* The first identity line (PKU2U: the UPN), else the scheme line. */
    const char *who = nl != NULL && nl[1] != '\0' ? nl + 1 : body + strlen("authenticated: ");
    snprintf(line, sizeof line, "authenticated in %u round trip%s: %.*s", a->legs, a->legs == 1 ? "" : "s",
             (int)strcspn(who, "\n"), who);
    logline(a, 200, line);
    free(body);
    auth_reset(a);
    if (srv->once)
        srv->done = 1;
    return w != 0 ? -1 : closing;
}

static void peer_text(int fd, char *buf, size_t cap)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    snprintf(buf, cap, "?");
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        return;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
        const uint8_t *b = (const uint8_t *)&in->sin_addr;
        snprintf(buf, cap, "%u.%u.%u.%u:%u", b[0], b[1], b[2], b[3], ntohs(in->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        snprintf(buf, cap, "[v6]:%u", ntohs(((const struct sockaddr_in6 *)&ss)->sin6_port));
    }
}

static int counted(server *srv)
{
    srv->requests++;
    if (srv->max_requests != 0 && srv->requests >= srv->max_requests)
        srv->done = 1;
    return srv->done;
}

/* Serves one connection until it closes, fails or the server is done. */
static void serve_connection(server *srv, int fd)
{
    cli_http_conn c;
    conn_auth a;
    memset(&a, 0, sizeof a);
    cli_http_conn_init(&c, fd);
    cli_http_timeouts(fd, CONN_TIMEOUT);
    peer_text(fd, a.peer, sizeof a.peer);
    while (!srv->done) {
        size_t head_len;
        cli_http_read r = cli_http_read_head(&c, &head_len);
        if (r == CLI_HTTP_READ_EOF)
            break;
        if (r != CLI_HTTP_READ_OK) {
            if (r == CLI_HTTP_READ_TOO_LARGE) {
                logline(&a, 400, "request head larger than 64 KiB");
                (void)respond(fd, 400, "Bad Request", NULL, 0, 0, BODY_400, 0, 1);
            } else if (r == CLI_HTTP_READ_TRUNCATED) {
                logline(&a, 400, "connection closed in the middle of a request head");
                (void)respond(fd, 400, "Bad Request", NULL, 0, 0, BODY_400, 0, 1);
            } else {
                char what[128];
                snprintf(what, sizeof what, "connection dropped: %s",
                         errno == EAGAIN || errno == EWOULDBLOCK ? "idle too long" : strerror(errno));
                logline(&a, 0, what);
                break; /* nothing answered: not counted as a request */
            }
            counted(srv);
            break;
        }
        cli_http_head h;
        const char *bad = cli_http_parse_request(c.buf, head_len, &h);
        size_t body_len = 0;
        if (bad == NULL && cli_http_find(&h, "transfer-encoding", NULL) != 0)
            bad = "Transfer-Encoding is not supported";
        if (bad == NULL && cli_http_content_length(&h, CLI_HTTP_MAX_BODY, &body_len) < 0)
            bad = "bad Content-Length";
        if (bad != NULL) {
            /* The message's end is unknown: answer and close (RFC 9112 section 6.3). */
            logline(&a, 400, bad);
            (void)respond(fd, 400, "Bad Request", NULL, 0, 0, BODY_400, 0, 1);
            counted(srv);
            break;
        }
        if (body_len != 0 && cli_http_read_more(&c, head_len + body_len) != CLI_HTTP_READ_OK) {
            logline(&a, 0, "connection dropped in the middle of a request body");
            break;
        }
        int closing = cli_http_wants_close(&h);
        int done = counted(srv);
        int r2 = handle(srv, &a, fd, &h, closing || done);
        cli_http_consume(&c, head_len + body_len); /* the request (a body is ignored) */
        if (r2 != 0)
            break;
    }
    if (c.fd >= 0 && !srv->done)
        cli_http_linger(c.fd);
    auth_reset(&a);
    cli_http_conn_close(&c);
}

int cli_http_serve(int argc, char **argv)
{
    server srv;
    memset(&srv, 0, sizeof srv);
    cli_session_defaults(&srv.opts);
    const char *listen_arg = "127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--listen") == 0 || strcmp(a, "--max-requests") == 0) {
            if (i + 1 >= argc) {
                cli_error("%s needs a value", a);
                return CLI_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (a[2] == 'l') {
                listen_arg = v;
            } else {
                char *end;
                errno = 0;
                srv.max_requests = strtoul(v, &end, 10);
                if (*v < '1' || *v > '9' || *end != '\0' || errno != 0) {
                    cli_error("--max-requests takes a positive number");
                    return CLI_EXIT_USAGE;
                }
            }
            continue;
        }
        if (strcmp(a, "--once") == 0) {
            srv.once = 1;
            continue;
        }
        int r = cli_session_option(&srv.opts, argc, argv, &i);
        if (r < 0)
            return CLI_EXIT_USAGE;
        if (r == 0) {
            cli_error("unknown option '%s'", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
    }
    if (srv.opts.raw) {
        cli_error("http-serve carries SPNEGO tokens (RFC 4559); --raw does not apply");
        return CLI_EXIT_USAGE;
    }
    if (cli_session_finish(&srv.opts, CLI_SCHEME_TEST) != 0)
        return CLI_EXIT_USAGE;
    if (cli_session_need_identity(&srv.opts, "http-serve") != 0)
        return CLI_EXIT_USAGE;
    /* The credentials load now, so a bad file fails at start, not per client. */
    cli_session probe;
    if (cli_session_open(&srv.opts, NEGOEX_ROLE_ACCEPTOR, &probe) != 0)
        return CLI_EXIT_USAGE;
    cli_session_close(&probe);

    char hostport[300];
    const char *host, *port;
    if (strlen(listen_arg) >= sizeof hostport) {
        cli_error("--listen takes HOST:PORT");
        return CLI_EXIT_USAGE;
    }
    strcpy(hostport, listen_arg);
    if (cli_http_split_hostport(hostport, &host, &port) != 0 || port == NULL) {
        cli_error("--listen takes HOST:PORT, e.g. 127.0.0.1:8080 (port 0: any free port)");
        return CLI_EXIT_USAGE;
    }
    int bound;
    int lfd = cli_http_listen(host, port, &bound);
    if (lfd < 0)
        return CLI_EXIT_USAGE;
    printf(strchr(host, ':') != NULL ? "listening on [%s]:%d\n" : "listening on %s:%d\n", host, bound);
    fflush(stdout);
    while (!srv.done) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            cli_error("accept: %s", strerror(errno));
            close(lfd);
            return CLI_EXIT_USAGE;
        }
        serve_connection(&srv, fd);
    }
    close(lfd);
    return CLI_EXIT_OK;
}
