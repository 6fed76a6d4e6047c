/* HTTP/1.1 message heads (see http.h). */
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_http_head_end(const char *buf, size_t len, size_t from, size_t max, size_t *head_len)
{
    /* The empty line ends the head: "\n\n" or "\n\r\n". Rescan the last two
     * bytes of the earlier part, they may start the end. */
    size_t i = from > 2 ? from - 2 : 0;
    for (; i < len && i < max; i++) {
        if (buf[i] != '\n')
            continue;
        if (i + 1 < len && buf[i + 1] == '\n') {
            *head_len = i + 2;
            return *head_len <= max ? 1 : -1;
        }
        if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n') {
            *head_len = i + 3;
            return *head_len <= max ? 1 : -1;
        }
    }
    return len >= max ? -1 : 0;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int same_ci(cli_http_str s, const char *word)
{
    size_t n = strlen(word);
    if (s.n != n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)word[i]))
            return 0;
    return 1;
}

/* RFC 9110 section 5.6.2 tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* The next line of [*pos, end): without its LF and an optional CR before
 * it. 0 at the end, -1 for a CR elsewhere in the line. The last line may lack
 * its LF. */
static int next_line(const char *buf, size_t end, size_t *pos, cli_http_str *line)
{
    if (*pos >= end)
        return 0;
    size_t start = *pos, i = start;
    while (i < end && buf[i] != '\n')
        i++;
    *pos = i < end ? i + 1 : i;
    size_t n = i - start;
    if (n > 0 && buf[start + n - 1] == '\r')
        n--;
    if (memchr(buf + start, '\r', n) != NULL)
        return -1;
    line->p = buf + start;
    line->n = n;
    return 1;
}

/* "HTTP/1.x" (RFC 9112 section 2.3: only major version 1 here). */
static int version(cli_http_str s, int *minor)
{
    if (s.n != 8 || memcmp(s.p, "HTTP/1.", 7) != 0 || s.p[7] < '0' || s.p[7] > '9')
        return -1;
    *minor = s.p[7] - '0';
    return 0;
}

/* The field lines after the first line; stops at the empty line. */
static const char *fields(const char *buf, size_t len, size_t pos, cli_http_head *h)
{
    cli_http_str line;
    int r;
    while ((r = next_line(buf, len, &pos, &line)) > 0) {
        if (line.n == 0)
            return pos == len ? NULL : "data after the empty line";
        if (line.p[0] == ' ' || line.p[0] == '\t')
            return "obsolete line folding"; /* RFC 9112 section 5.2: reject */
        if (h->nfields == CLI_HTTP_MAX_FIELDS)
            return "too many header fields";
        size_t i = 0;
        while (i < line.n && is_tchar((unsigned char)line.p[i]))
            i++;
        if (i == 0 || i == line.n || line.p[i] != ':')
            return "malformed header field name"; /* also whitespace before ':' (section 5.1) */
        cli_http_field *f = &h->fields[h->nfields++];
        f->name = (cli_http_str){line.p, i};
        size_t v = i + 1, e = line.n;
        while (v < e && (line.p[v] == ' ' || line.p[v] == '\t'))
            v++;
        while (e > v && (line.p[e - 1] == ' ' || line.p[e - 1] == '\t'))
            e--;
        for (size_t k = v; k < e; k++) {
            unsigned char c = (unsigned char)line.p[k];
            if ((c < 0x20 && c != '\t') || c == 0x7f)
                return "control character in a header field value";
        }
        f->value = (cli_http_str){line.p + v, e - v};
    }
    return r < 0 ? "bare CR in the head" : NULL;
}

const char *cli_http_parse_request(const char *buf, size_t len, cli_http_head *h)
{
    memset(h, 0, sizeof *h);
    size_t pos = 0;
    cli_http_str line;
    int r = next_line(buf, len, &pos, &line);
    if (r <= 0)
        return r < 0 ? "bare CR in the request line" : "empty request";
    /* method SP request-target SP HTTP-version (RFC 9112 section 3), single spaces. */
    const char *sp1 = memchr(line.p, ' ', line.n);
    if (sp1 == NULL)
        return "malformed request line";
    const char *rest = sp1 + 1;
    size_t rest_n = line.n - (size_t)(rest - line.p);
    const char *sp2 = memchr(rest, ' ', rest_n);
    if (sp2 == NULL)
        return "malformed request line";
    h->method = (cli_http_str){line.p, (size_t)(sp1 - line.p)};
    h->target = (cli_http_str){rest, (size_t)(sp2 - rest)};
    cli_http_str ver = {sp2 + 1, rest_n - (size_t)(sp2 + 1 - rest)};
    if (h->method.n == 0 || h->target.n == 0)
        return "malformed request line";
    for (size_t i = 0; i < h->method.n; i++)
        if (!is_tchar((unsigned char)h->method.p[i]))
            return "malformed method";
    for (size_t i = 0; i < h->target.n; i++)
        if ((unsigned char)h->target.p[i] <= 0x20 || (unsigned char)h->target.p[i] >= 0x7f)
            return "malformed request target";
    if (version(ver, &h->minor) != 0)
        return "not HTTP/1.x";
    return fields(buf, len, pos, h);
}

const char *cli_http_parse_response(const char *buf, size_t len, cli_http_head *h)
{
    memset(h, 0, sizeof *h);
    size_t pos = 0;
    cli_http_str line;
    int r = next_line(buf, len, &pos, &line);
    if (r <= 0)
        return r < 0 ? "bare CR in the status line" : "empty response";
    /* HTTP-version SP 3DIGIT SP [reason] (RFC 9112 section 4); the SP before
     * an empty reason may be missing. */
    if (line.n < 12 || line.p[8] != ' ')
        return "malformed status line";
    if (version((cli_http_str){line.p, 8}, &h->minor) != 0)
        return "not HTTP/1.x";
    for (size_t i = 9; i < 12; i++) {
        if (line.p[i] < '0' || line.p[i] > '9')
            return "malformed status code";
        h->status = h->status * 10 + (line.p[i] - '0');
    }
    if (h->status < 100)
        return "malformed status code";
    if (line.n > 12 && line.p[12] != ' ')
        return "malformed status line";
    h->reason = line.n > 13 ? (cli_http_str){line.p + 13, line.n - 13} : (cli_http_str){line.p + line.n, 0};
    for (size_t i = 0; i < h->reason.n; i++) {
        unsigned char c = (unsigned char)h->reason.p[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f)
            return "control character in the reason phrase";
    }
    return fields(buf, len, pos, h);
}

size_t cli_http_find(const cli_http_head *h, const char *name, cli_http_str *value)
{
    size_t count = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        if (!same_ci(h->fields[i].name, name))
            continue;
        if (count++ == 0 && value != NULL)
            *value = h->fields[i].value;
    }
    return count;
}

int cli_http_has_token(const cli_http_head *h, const char *name, const char *token)
{
    for (size_t i = 0; i < h->nfields; i++) {
        if (!same_ci(h->fields[i].name, name))
            continue;
        cli_http_str v = h->fields[i].value;
        size_t p = 0;
        while (p <= v.n) {
            size_t e = p;
            while (e < v.n && v.p[e] != ',')
                e++;
            size_t a = p, b = e;
            while (a < b && (v.p[a] == ' ' || v.p[a] == '\t'))
                a++;
            while (b > a && (v.p[b - 1] == ' ' || v.p[b - 1] == '\t'))
                b--;
            if (same_ci((cli_http_str){v.p + a, b - a}, token))
                return 1;
            p = e + 1;
        }
    }
    return 0;
}

int cli_http_content_length(const cli_http_head *h, size_t max, size_t *len)
{
    int found = 0;
    size_t first = 0;
    for (size_t i = 0; i < h->nfields; i++) {
        if (!same_ci(h->fields[i].name, "content-length"))
            continue;
        cli_http_str v = h->fields[i].value;
        size_t n = 0;
        if (v.n == 0 || v.n > 12)
            return -1;
        for (size_t k = 0; k < v.n; k++) {
            if (v.p[k] < '0' || v.p[k] > '9')
                return -1;
            n = n * 10 + (size_t)(v.p[k] - '0');
        }
        if (n > max || (found && n != first))
            return -1; /* RFC 9112 section 6.3: differing values are an error */
        first = n;
        found = 1;
    }
    *len = first;
    return found;
}

int cli_http_wants_close(const cli_http_head *h)
{
    if (cli_http_has_token(h, "connection", "close"))
        return 1;
    return h->minor == 0 && !cli_http_has_token(h, "connection", "keep-alive");
}

/* token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=" */
static int is_token68(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && ((p[i] >= '0' && p[i] <= '9') || (p[i] >= 'a' && p[i] <= 'z') || (p[i] >= 'A' && p[i] <= 'Z') ||
                     (p[i] != '\0' && strchr("-._~+/", p[i]) != NULL)))
        i++;
    if (i == 0)
        return 0;
    while (i < n && p[i] == '=')
        i++;
    return i == n;
}

cli_http_nego cli_http_negotiate(const cli_http_head *h, const char *name, uint8_t **tok, size_t *tok_len,
                                 const char **why)
{
    cli_http_nego result = CLI_HTTP_NEGO_NONE;
    cli_http_str found = {NULL, 0};
    *tok = NULL;
    *tok_len = 0;
    *why = NULL;
    for (size_t i = 0; i < h->nfields; i++) {
        if (!same_ci(h->fields[i].name, name))
            continue;
        size_t off, n;
        const cli_http_str v = h->fields[i].value;
        if (!cli_http_negotiate_value((const uint8_t *)v.p, v.n, &off, &n))
            continue; /* another scheme (Basic, NTLM, ...) */
        if (result != CLI_HTTP_NEGO_NONE) {
            *why = "more than one Negotiate field";
            return CLI_HTTP_NEGO_BAD;
        }
        found = (cli_http_str){v.p + off, n};
        result = n == 0 ? CLI_HTTP_NEGO_EMPTY : CLI_HTTP_NEGO_TOKEN;
    }
    if (result != CLI_HTTP_NEGO_TOKEN)
        return result;
    /* The base64 decoder skips whitespace; token68 has none. */
    if (!is_token68(found.p, found.n)) {
        *why = "the Negotiate data is not token68";
        return CLI_HTTP_NEGO_BAD;
    }
    cli_buffer b = {malloc(found.n), found.n};
    if (b.data == NULL) {
        *why = "out of memory";
        return CLI_HTTP_NEGO_BAD;
    }
    memcpy(b.data, found.p, found.n);
    if (cli_decode_in_place(&b, CLI_INPUT_BASE64) != 0 || b.len == 0) {
        cli_buffer_free(&b);
        *why = "the Negotiate data is not base64";
        return CLI_HTTP_NEGO_BAD;
    }
    *tok = b.data;
    *tok_len = b.len;
    return CLI_HTTP_NEGO_TOKEN;
}

char *cli_http_base64(const uint8_t *data, size_t len)
{
    char *text = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&text, &n);
    if (f == NULL)
        return NULL;
    cli_print_base64(f, data, len);
    if (fclose(f) != 0) {
        free(text);
        return NULL;
    }
    return text;
}
