/*
 * A small HTTP/1.1 message-head parser for `negoex http-serve` and
 * `negoex http-get` (RFC 9112 sections 2-5, RFC 9110 section 11): the
 * request line or status line and the header fields of one head, as views
 * into the caller's buffer, and the RFC 4559 Negotiate token of an
 * Authorization / WWW-Authenticate field. No I/O and no allocation except the
 * decoded token, so the libFuzzer target fuzz/fuzz_http.c drives it alone.
 *
 * Strict where laxness lets two parsers disagree (request smuggling): no
 * obs-fold, no whitespace before a field's colon, no control characters,
 * one Content-Length value, bare CR rejected. Line ends are CRLF or a bare
 * LF (RFC 9112 section 2.2 lets a recipient accept LF).
 */
#ifndef NEGOEX_CLI_HTTP_H
#define NEGOEX_CLI_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* A head (request or status line and the fields) is at most this long. */
#define CLI_HTTP_MAX_HEAD ((size_t)64 * 1024)
#define CLI_HTTP_MAX_FIELDS 64

typedef struct cli_http_str {
    const char *p;
    size_t n;
} cli_http_str;

typedef struct cli_http_field {
    cli_http_str name;
    cli_http_str value; /* without the surrounding whitespace */
} cli_http_field;

typedef struct cli_http_head {
    /* request */
    cli_http_str method;
    cli_http_str target;
    /* response */
    int status;
    cli_http_str reason;
    /* both: HTTP/1.<minor> */
    int minor;
    size_t nfields;
    cli_http_field fields[CLI_HTTP_MAX_FIELDS];
} cli_http_head;

/*
 * Where the head in buf/len ends (the empty line). from: bytes already
 * scanned by an earlier call on the same (grown) buffer, so a head that
 * trickles in byte by byte costs linear time. Returns 1 with *head_len (the
 * head with its empty line), 0 if buf holds no complete head yet, -1 if there
 * is none within max bytes.
 */
int cli_http_head_end(const char *buf, size_t len, size_t from, size_t max, size_t *head_len);

/*
 * Parse a whole head (what cli_http_head_end delimited, or a shorter buffer:
 * the empty line is optional). NULL on success, else a static text saying
 * what is wrong (for the log line); *h is then unspecified.
 */
const char *cli_http_parse_request(const char *buf, size_t len, cli_http_head *h);
const char *cli_http_parse_response(const char *buf, size_t len, cli_http_head *h);

/* The number of fields called name (ASCII case ignored); *value (may be
 * NULL) gets the first one's value. */
size_t cli_http_find(const cli_http_head *h, const char *name, cli_http_str *value);

/* 1 if the field's comma-separated list holds token (case ignored). */
int cli_http_has_token(const cli_http_head *h, const char *name, const char *token);

/* Content-Length: 0 when absent, 1 with *len, -1 when malformed, repeated
 * with other values, or above max. */
int cli_http_content_length(const cli_http_head *h, size_t max, size_t *len);

/* 1 if the connection ends after this message: `Connection: close`, or
 * HTTP/1.0 without `Connection: keep-alive`. */
int cli_http_wants_close(const cli_http_head *h);

typedef enum cli_http_nego {
    CLI_HTTP_NEGO_BAD = -1,  /* a Negotiate field that is not usable (*why says why) */
    CLI_HTTP_NEGO_NONE = 0,  /* no Negotiate challenge / credentials */
    CLI_HTTP_NEGO_EMPTY = 1, /* `Negotiate` alone (a first challenge) */
    CLI_HTTP_NEGO_TOKEN = 2  /* `Negotiate <base64>`: *tok (malloc'd) / *tok_len */
} cli_http_nego;

/*
 * The RFC 4559 Negotiate data of the fields called name (Authorization or
 * WWW-Authenticate): each field's value goes through
 * cli_http_negotiate_value (input.c, the parser `negoex decode` uses for
 * Negotiate lines), then must be token68 (RFC 9110 section 11.2) and
 * base64. Fields of other schemes are skipped; two Negotiate fields are
 * BAD (which one would the peer mean?).
 */
cli_http_nego cli_http_negotiate(const cli_http_head *h, const char *name, uint8_t **tok, size_t *tok_len,
                                 const char **why);

/* Standard base64 of data into a malloc'd NUL-terminated string, or NULL. */
char *cli_http_base64(const uint8_t *data, size_t len);

#endif
