/* Sockets and buffered HTTP messages (see http_conn.h). */
#include "http_conn.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli.h"

void cli_http_conn_init(cli_http_conn *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
}

void cli_http_conn_close(cli_http_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    free(c->buf);
    memset(c, 0, sizeof *c);
    c->fd = -1;
}

/* One read() into buf, growing it up to limit. 1 read, 0 EOF, -1 error. */
static int fill(cli_http_conn *c, size_t limit)
{
    if (c->len == c->cap) {
        size_t ncap = c->cap == 0 ? 4096 : c->cap * 2;
        if (ncap > limit)
            ncap = limit;
        if (ncap <= c->len)
            return -1;
        char *p = realloc(c->buf, ncap);
        if (p == NULL)
            return -1;
        c->buf = p;
        c->cap = ncap;
    }
    for (;;) {
        ssize_t n = read(c->fd, c->buf + c->len, c->cap - c->len);
        if (n > 0) {
            c->len += (size_t)n;
            return 1;
        }
        if (n == 0)
            return 0;
        if (errno != EINTR)
            return -1;
    }
}

cli_http_read cli_http_read_head(cli_http_conn *c, size_t *head_len)
{
    for (;;) {
        int r = cli_http_head_end(c->buf, c->len, c->scanned, CLI_HTTP_MAX_HEAD, head_len);
        if (r > 0) {
            c->scanned = 0;
            return CLI_HTTP_READ_OK;
        }
        if (r < 0)
            return CLI_HTTP_READ_TOO_LARGE;
        c->scanned = c->len;
        /* Room for a whole head plus one byte, to tell "too large" from "incomplete". */
        r = fill(c, CLI_HTTP_MAX_HEAD + 1);
        if (r == 0)
            return c->len == 0 ? CLI_HTTP_READ_EOF : CLI_HTTP_READ_TRUNCATED;
        if (r < 0)
            return CLI_HTTP_READ_IO;
    }
}

cli_http_read cli_http_read_more(cli_http_conn *c, size_t n)
{
    while (c->len < n) {
        int r = fill(c, n);
        if (r == 0)
            return CLI_HTTP_READ_TRUNCATED;
        if (r < 0)
            return CLI_HTTP_READ_IO;
    }
    return CLI_HTTP_READ_OK;
}

cli_http_read cli_http_read_to_eof(cli_http_conn *c, size_t max)
{
    for (;;) {
        if (c->len == max)
            return CLI_HTTP_READ_TOO_LARGE;
        int r = fill(c, max);
        if (r == 0)
            return CLI_HTTP_READ_OK;
        if (r < 0)
            return CLI_HTTP_READ_IO;
    }
}

void cli_http_consume(cli_http_conn *c, size_t n)
{
    if (n >= c->len) {
        c->len = 0;
    } else {
        memmove(c->buf, c->buf + n, c->len - n);
        c->len -= n;
    }
    c->scanned = 0;
}

int cli_http_write(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, data, len, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

void cli_http_linger(int fd)
{
    char sink[16384];
    size_t total = 0;
    if (shutdown(fd, SHUT_WR) != 0)
        return;
    cli_http_timeouts(fd, 1);
    while (total < CLI_HTTP_MAX_BODY) {
        ssize_t n = read(fd, sink, sizeof sink);
        if (n <= 0)
            break;
        total += (size_t)n;
    }
}

void cli_http_timeouts(int fd, int seconds)
{
    struct timeval tv = {seconds, 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    (void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int cli_http_split_hostport(char *buf, const char **host, const char **port)
{
    char *colon;
    if (buf[0] == '[') {
        char *close = strchr(buf, ']');
        if (close == NULL || (close[1] != ':' && close[1] != '\0'))
            return -1;
        *close = '\0';
        *host = buf + 1;
        colon = close[1] == ':' ? close + 1 : NULL;
    } else {
        colon = strrchr(buf, ':');
        *host = buf;
    }
    *port = NULL;
    if (colon != NULL) {
        *colon = '\0';
        *port = colon + 1;
        if (**port == '\0' || strspn(*port, "0123456789") != strlen(*port) || strlen(*port) > 5 ||
            atoi(*port) > 65535)
            return -1;
    }
    return **host == '\0' ? -1 : 0;
}

static int resolve(const char *host, const char *port, int passive, struct addrinfo **res)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = passive ? AI_PASSIVE | AI_NUMERICSERV : AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, res);
    if (rc != 0) {
        cli_error("%s port %s: %s", host, port, gai_strerror(rc));
        return -1;
    }
    return 0;
}

static int bind_listen(int fd, const struct addrinfo *ai)
{
    int one = 1;
    (void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    return bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 16) != 0 ? -1 : 0;
}

static int do_connect(int fd, const struct addrinfo *ai)
{
    return connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 ? -1 : 0;
}

/* The first address of host:port on which a socket can be made and `op`
 * succeeds (getaddrinfo's order); -1 with errno's text logged otherwise. */
static int open_first(const char *host, const char *port, int passive, int (*op)(int, const struct addrinfo *),
                      const char *what)
{
    struct addrinfo *res, *ai;
    if (resolve(host, port, passive, &res) != 0)
        return -1;
    int fd = -1, err = 0;
    for (ai = res; ai != NULL && fd < 0; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            err = errno;
            continue;
        }
        if (op(fd, ai) != 0) {
            err = errno;
            close(fd);
            fd = -1;
        }
    }
    freeaddrinfo(res);
    if (fd < 0)
        cli_error("cannot %s %s port %s: %s", what, host, port, strerror(err));
    return fd;
}

int cli_http_listen(const char *host, const char *port, int *bound)
{
    int fd = open_first(host, port, 1, bind_listen, "listen on");
    if (fd < 0)
        return -1;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    *bound = 0;
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0) {
        if (ss.ss_family == AF_INET)
            *bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        else if (ss.ss_family == AF_INET6)
            *bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    return fd;
}

int cli_http_dial(const char *host, const char *port)
{
    return open_first(host, port, 0, do_connect, "connect to");
}

int cli_http_send_built(int fd, FILE *f, char **text, size_t *n)
{
    int rc = fclose(f) != 0 ? -1 : cli_http_write(fd, *text, *n);
    free(*text);
    *text = NULL;
    return rc;
}
