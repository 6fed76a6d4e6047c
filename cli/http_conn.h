/* Sockets and buffered HTTP/1.1 messages for `negoex http-serve` / `http-get`. */
#ifndef NEGOEX_CLI_HTTP_CONN_H
#define NEGOEX_CLI_HTTP_CONN_H

#include <stddef.h>
#include <stdio.h>

#include "http.h"

/* A message body is at most this long (both commands only exchange small ones). */
#define CLI_HTTP_MAX_BODY ((size_t)1024 * 1024)

typedef struct cli_http_conn {
    int fd;
    char *buf;      /* received, not yet consumed */
    size_t len, cap;
    size_t scanned; /* bytes of buf already searched for the end of the head */
} cli_http_conn;

void cli_http_conn_init(cli_http_conn *c, int fd);
/* Closes the socket and frees the buffer. */
void cli_http_conn_close(cli_http_conn *c);

typedef enum cli_http_read {
    CLI_HTTP_READ_OK = 1,
    CLI_HTTP_READ_EOF = 0,         /* closed cleanly before a byte of the next message */
    CLI_HTTP_READ_IO = -1,         /* read error or timeout */
    CLI_HTTP_READ_TRUNCATED = -2,  /* closed in the middle of a message */
    CLI_HTTP_READ_TOO_LARGE = -3   /* no end of head within CLI_HTTP_MAX_HEAD */
} cli_http_read;

/* Reads until buf starts with a whole head; *head_len is its length. */
cli_http_read cli_http_read_head(cli_http_conn *c, size_t *head_len);
/* Reads until buf holds at least n bytes (the head and its body). */
cli_http_read cli_http_read_more(cli_http_conn *c, size_t n);
/* Reads until the peer closes (a body without Content-Length), at most
 * max bytes in buf. */
cli_http_read cli_http_read_to_eof(cli_http_conn *c, size_t max);
/* Drops the first n bytes of buf (the message handled). */
void cli_http_consume(cli_http_conn *c, size_t n);

/* Writes all of data; 0 or -1. Never raises SIGPIPE. */
int cli_http_write(int fd, const char *data, size_t len);
/* Closes f (an open_memstream over *text / *n), sends what it holds and
 * frees it; 0 or -1. */
int cli_http_send_built(int fd, FILE *f, char **text, size_t *n);

/* A listening TCP socket on host:port (port 0: any); *bound gets the port. */
int cli_http_listen(const char *host, const char *port, int *bound);
/* A connected TCP socket, or -1 after printing an error. */
int cli_http_dial(const char *host, const char *port);
/* Before closing a connection whose request was not read to its end: stop
 * sending, then read and drop what the peer still sends (at most a second
 * and 1 MiB), so the kernel does not answer it with a reset that could
 * destroy the error response on its way (a "lingering close"). */
void cli_http_linger(int fd);
/* Sets the receive and send timeouts of fd. */
void cli_http_timeouts(int fd, int seconds);

/* "HOST:PORT" (HOST may be [v6]) into host / port (pointers into buf). */
int cli_http_split_hostport(char *buf, const char **host, const char **port);

/* The subcommands (http_serve.c, http_get.c), for main.c's table. */
int cli_http_serve(int argc, char **argv);
int cli_http_get(int argc, char **argv);

#endif
