/*
 * Reading a token from a file or stdin, in binary, hex or base64.
 *
 * People paste tokens from traces (hex, often with colons as Wireshark
 * copies them) or from logs (base64), so the tool guesses rather than asks.
 */
#include "cli.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>

#define READ_CHUNK ((size_t)64 * 1024)

const char *cli_input_format_name(cli_input_format fmt)
{
    switch (fmt) {
    case CLI_INPUT_HEX:
        return "hex";
    case CLI_INPUT_BASE64:
        return "base64";
    case CLI_INPUT_BINARY:
    default:
        return "binary";
    }
}

void cli_buffer_free(cli_buffer *buf)
{
    if (buf == NULL)
        return;
    free(buf->data);
    buf->data = NULL;
    buf->len = 0;
}

static int is_space(uint8_t c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static int base64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

/*
 * Both decoders may run with out == in: each output byte needs at least one
 * more input byte than it occupies, so writes never overtake reads.
 * out == NULL only validates.
 */
static int hex_decode_into(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    size_t n = 0;
    int high = -1;

    for (size_t i = 0; i < len; i++) {
        int v;

        if (is_space(in[i]) || in[i] == ':')
            continue;
        v = hex_value(in[i]);
        if (v < 0)
            return -1;
        if (high < 0) {
            high = v;
        } else {
            if (out != NULL)
                out[n] = (uint8_t)((high << 4) | v);
            n++;
            high = -1;
        }
    }
    if (high >= 0)
        return -1;
    *out_len = n;
    return 0;
}

/* Standard alphabet; padding optional but, if present, only at the end. */
static int base64_decode_into(const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
    size_t n = 0, chars = 0, pad = 0;
    uint32_t acc = 0;
    int bits = 0;

    for (size_t i = 0; i < len; i++) {
        int v;

        if (is_space(in[i]))
            continue;
        if (in[i] == '=') {
            if (++pad > 2)
                return -1;
            continue;
        }
        if (pad > 0)
            return -1; /* data after padding */
        v = base64_value(in[i]);
        if (v < 0)
            return -1;
        chars++;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (out != NULL)
                out[n] = (uint8_t)(acc >> bits);
            n++;
            acc &= (1u << bits) - 1;
        }
    }
    /* A lone trailing character carries no whole byte; padding must complete a quantum. */
    if (chars % 4 == 1)
        return -1;
    if (pad > 0 && (chars + pad) % 4 != 0)
        return -1;
    *out_len = n;
    return 0;
}

cli_input_format cli_detect_format(const uint8_t *data, size_t len)
{
    size_t sig_len = strlen(NEGOEX_SIGNATURE), n;

    if (len >= sig_len && memcmp(data, NEGOEX_SIGNATURE, sig_len) == 0)
        return CLI_INPUT_BINARY;
    /* A SPNEGO token: GSS framing, NegTokenInit(2), NegTokenResp. None of these
     * bytes is a hex or base64 character, so this only says it early. */
    if (len > 0 && (data[0] == 0x60 || data[0] == 0xa0 || data[0] == 0xa1))
        return CLI_INPUT_BINARY;
    if (hex_decode_into(data, len, NULL, &n) == 0)
        return CLI_INPUT_HEX;
    /* Only a well-formed base64 text counts; otherwise let the codec judge the bytes. */
    if (base64_decode_into(data, len, NULL, &n) == 0)
        return CLI_INPUT_BASE64;
    return CLI_INPUT_BINARY;
}

int cli_decode_in_place(cli_buffer *buf, cli_input_format fmt)
{
    size_t n;

    switch (fmt) {
    case CLI_INPUT_HEX:
        if (buf->len == 0)
            return 0;
        if (hex_decode_into(buf->data, buf->len, buf->data, &n) != 0)
            return -1;
        buf->len = n;
        return 0;
    case CLI_INPUT_BASE64:
        if (buf->len == 0)
            return 0;
        if (base64_decode_into(buf->data, buf->len, buf->data, &n) != 0)
            return -1;
        buf->len = n;
        return 0;
    case CLI_INPUT_BINARY:
    default:
        return 0;
    }
}

int cli_hex_decode(const char *text, size_t len, uint8_t **out, size_t *out_len)
{
    const uint8_t *in = (const uint8_t *)text;
    uint8_t *buf;
    size_t n;

    *out = NULL;
    *out_len = 0;
    /* Validate and size first: an empty line then needs no allocation. */
    if (hex_decode_into(in, len, NULL, &n) != 0)
        return -1;
    if (n == 0)
        return 0;
    buf = malloc(n);
    if (buf == NULL || hex_decode_into(in, len, buf, &n) != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

int cli_read_raw(const char *path, cli_buffer *out)
{
    int use_stdin = path == NULL || strcmp(path, "-") == 0;
    const char *name = use_stdin ? "<stdin>" : path;
    FILE *f = use_stdin ? stdin : fopen(path, "rb");
    uint8_t *data = NULL;
    size_t len = 0, cap = 0;

    out->data = NULL;
    out->len = 0;
    if (f == NULL) {
        cli_error("cannot open '%s': %s", name, strerror(errno));
        return -1;
    }
    for (;;) {
        size_t want, got;

        if (len == cap) {
            /* One byte past the limit tells "exactly at" from "over". */
            size_t ncap = cap == 0 ? READ_CHUNK : cap * 2;
            uint8_t *p;

            if (ncap > CLI_INPUT_MAX + 1)
                ncap = CLI_INPUT_MAX + 1;
            p = realloc(data, ncap);
            if (p == NULL) {
                cli_error("out of memory reading '%s'", name);
                goto fail;
            }
            data = p;
            cap = ncap;
        }
        want = cap - len;
        errno = 0;
        got = fread(data + len, 1, want, f);
        len += got;
        if (len > CLI_INPUT_MAX) {
            cli_error("'%s' is larger than the %zu MiB input limit", name,
                      CLI_INPUT_MAX / (1024 * 1024));
            goto fail;
        }
        if (got < want) {
            if (ferror(f)) {
                cli_error("cannot read '%s': %s", name, errno ? strerror(errno) : "read error");
                goto fail;
            }
            break; /* end of file */
        }
    }
    if (!use_stdin)
        fclose(f);
    out->data = data;
    out->len = len;
    return 0;

fail:
    if (!use_stdin)
        fclose(f);
    free(data);
    return -1;
}

int cli_read_input(const char *path, cli_buffer *out, cli_input_format *fmt)
{
    cli_input_format detected;

    if (cli_read_raw(path, out) != 0)
        return -1;
    detected = cli_detect_format(out->data, out->len);
    if (cli_decode_in_place(out, detected) != 0) {
        /* Detection only picks an encoding that decodes, so this is a bug. */
        cli_error("cannot decode %s input", cli_input_format_name(detected));
        cli_buffer_free(out);
        return -1;
    }
    if (fmt != NULL)
        *fmt = detected;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HTTP Negotiate header lines (RFC 4559)                                   */
/* ------------------------------------------------------------------------ */

static int ascii_lower(uint8_t c)
{
    return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* 1 if data[*pos..] starts with word (lowercase), any case; *pos moves past it. */
static int skip_word(const uint8_t *data, size_t len, size_t *pos, const char *word)
{
    size_t n = strlen(word);

    if (len - *pos < n)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(data[*pos + i]) != (uint8_t)word[i])
            return 0;
    *pos += n;
    return 1;
}

static void skip_blanks(const uint8_t *data, size_t len, size_t *pos)
{
    while (*pos < len && (data[*pos] == ' ' || data[*pos] == '\t'))
        (*pos)++;
}

int cli_http_negotiate_value(const uint8_t *data, size_t len, size_t *off, size_t *value_len)
{
    static const char *const headers[] = {"authorization", "www-authenticate", "proxy-authorization",
                                          "proxy-authenticate"};
    size_t pos = 0, end = len;

    *off = 0;
    *value_len = 0;
    if (data == NULL)
        return 0;
    while (pos < len && is_space(data[pos]))
        pos++;
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        size_t p = pos;

        if (!skip_word(data, len, &p, headers[i]))
            continue;
        skip_blanks(data, len, &p);
        if (p < len && data[p] == ':') {
            pos = p + 1;
            skip_blanks(data, len, &pos);
            break;
        }
    }
    /* The auth-scheme, then 1*SP and the token68 (or nothing: a bare challenge). */
    if (!skip_word(data, len, &pos, "negotiate"))
        return 0;
    if (pos < len && !is_space(data[pos]))
        return 0; /* "NegotiateX..." is not this scheme */
    while (pos < len && is_space(data[pos]))
        pos++;
    while (end > pos && is_space(data[end - 1]))
        end--;
    *off = pos;
    *value_len = end - pos;
    return 1;
}

int cli_read_token(const char *path, cli_buffer *out)
{
    size_t off, n, decoded;

    if (cli_read_raw(path, out) != 0)
        return CLI_EXIT_USAGE;
    if (!cli_http_negotiate_value(out->data, out->len, &off, &n)) {
        cli_input_format fmt = cli_detect_format(out->data, out->len);

        if (cli_decode_in_place(out, fmt) != 0) {
            /* Detection only picks an encoding that decodes, so this is a bug. */
            cli_error("cannot decode %s input", cli_input_format_name(fmt));
            cli_buffer_free(out);
            return CLI_EXIT_USAGE;
        }
        return CLI_EXIT_OK;
    }
    /* The header's value is the token in base64 (RFC 4559 section 4). */
    if (base64_decode_into(out->data + off, n, out->data, &decoded) != 0) {
        cli_error("Negotiate header: the value is not base64");
        cli_buffer_free(out);
        return CLI_EXIT_INVALID;
    }
    out->len = decoded;
    return CLI_EXIT_OK;
}
