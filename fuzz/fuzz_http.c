/* libFuzzer target for the HTTP head parser of `negoex http-serve` /
 * `http-get` (cli/http.c) and the Negotiate field extraction it shares with
 * `negoex decode` (cli/input.c). Any bytes must parse or be refused with a
 * reason; what parses must be views inside the input, field names tokens,
 * values free of CR / LF / NUL. The end of the head must be found at the same
 * place whether the bytes arrive at once or one by one (the server scans
 * incrementally), and a decoded Negotiate token must re-encode to base64
 * that decodes to it again. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static void check_inside(cli_http_str s, const char *base, size_t size)
{
    CHECK(s.p != NULL || s.n == 0);
    if (s.p != NULL)
        CHECK(s.p >= base && s.n <= size && (size_t)(s.p - base) <= size - s.n);
}

static void check_negotiate(const cli_http_head *h, const char *name)
{
    uint8_t *tok;
    size_t len;
    const char *why;
    cli_http_nego k = cli_http_negotiate(h, name, &tok, &len, &why);
    CHECK(k >= CLI_HTTP_NEGO_BAD && k <= CLI_HTTP_NEGO_TOKEN);
    CHECK((k == CLI_HTTP_NEGO_BAD) == (why != NULL));
    if (k != CLI_HTTP_NEGO_TOKEN) {
        CHECK(tok == NULL && len == 0);
        return;
    }
    CHECK(tok != NULL && len > 0);
    char *b64 = cli_http_base64(tok, len);
    CHECK(b64 != NULL && strlen(b64) == (len + 2) / 3 * 4);
    cli_buffer b = {(uint8_t *)b64, strlen(b64)};
    CHECK(cli_decode_in_place(&b, CLI_INPUT_BASE64) == 0);
    CHECK(b.len == len && memcmp(b.data, tok, len) == 0);
    free(b64);
    free(tok);
}

static void check_head(const cli_http_head *h, const char *buf, size_t size, int request)
{
    CHECK(h->nfields <= CLI_HTTP_MAX_FIELDS);
    CHECK(h->minor >= 0 && h->minor <= 9);
    if (request) {
        CHECK(h->method.n > 0 && h->target.n > 0);
        check_inside(h->method, buf, size);
        check_inside(h->target, buf, size);
    } else {
        CHECK(h->status >= 100 && h->status <= 999);
        check_inside(h->reason, buf, size);
    }
    for (size_t i = 0; i < h->nfields; i++) {
        const cli_http_field *f = &h->fields[i];
        check_inside(f->name, buf, size);
        check_inside(f->value, buf, size);
        CHECK(f->name.n > 0 && memchr(f->name.p, ':', f->name.n) == NULL);
        for (size_t k = 0; k < f->value.n; k++)
            CHECK(f->value.p[k] != '\r' && f->value.p[k] != '\n' && f->value.p[k] != '\0');
        CHECK(cli_http_find(h, "x", NULL) <= h->nfields);
    }
    size_t cl = 0;
    int r = cli_http_content_length(h, 1024 * 1024, &cl);
    CHECK(r >= -1 && r <= 1 && (r == 1 || cl == 0) && cl <= 1024 * 1024);
    (void)cli_http_wants_close(h);
    (void)cli_http_has_token(h, "connection", "keep-alive");
    check_negotiate(h, "authorization");
    check_negotiate(h, "www-authenticate");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy exactly as long as the input, so reads past it are caught. */
    char *buf = malloc(size ? size : 1);
    if (buf == NULL)
        return 0;
    memcpy(buf, data, size);
    size_t max = size / 2 + 16; /* sometimes below the input's length */

    size_t whole = 0;
    int once = cli_http_head_end(buf, size, 0, max, &whole);
    CHECK(once >= -1 && once <= 1);
    if (once == 1)
        CHECK(whole > 0 && whole <= size && whole <= max && buf[whole - 1] == '\n');
    if (size <= 4096) {
        /* Byte by byte, as a slow client sends it. */
        int r = 0;
        size_t got = 0;
        for (size_t n = 1; n <= size && r == 0; n++)
            r = cli_http_head_end(buf, n, n - 1, max, &got);
        CHECK(r == once || (once == 0 && r == 0));
        if (r == 1)
            CHECK(got == whole);
    }

    size_t len = once == 1 ? whole : size;
    cli_http_head *h = malloc(sizeof *h);
    if (h != NULL) {
        if (cli_http_parse_request(buf, len, h) == NULL)
            check_head(h, buf, len, 1);
        if (cli_http_parse_response(buf, len, h) == NULL)
            check_head(h, buf, len, 0);
        free(h);
    }
    free(buf);
    return 0;
}
