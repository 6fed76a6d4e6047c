/*
 * negoex decode [--json] [--as KIND] [FILE|-]: print every message of one NEGOEX token,
 * or a SPNEGO token and the NEGOEX token inside it (decode_spnego.c).
 *
 * The whole token is validated before anything reaches stdout, so a consumer
 * never sees half a decode: either all messages, or nothing plus one error
 * line on stderr. The Exchange payloads of PKU2U messages are decoded too
 * (decode_pku2u.c); `--as` names the kind of token instead of detecting it.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>

/* Hex dumps in text mode wrap at this many bytes per line. */
#define HEX_LINE_BYTES 32
/* Room for the deepest indent: a caller's prefix plus our own levels. */
#define TEXT_INDENT_MAX 64

static void decode_usage(FILE *f)
{
    fputs("usage: negoex decode [--json] [FILE|-]\n"
          "       negoex decode --as KIND [--json] [FILE|-]\n"
          "       negoex decode --fragments [--json] [--late-fallback] [FILE|- | FILE FILE...]\n"
          "\n"
          "Prints one token, either\n"
          "  - a NEGOEX token (one or more messages back to back), or\n"
          "  - a SPNEGO token (RFC 4178, MS-SPNG): a GSS-framed first token (60 ..),\n"
          "    a bare NegTokenInit / NegTokenInit2 (a0 ..) or NegTokenResp (a1 ..),\n"
          "    with the NEGOEX messages of its mechToken / responseToken.\n"
          "FILE (default: stdin) holds the token as binary, hex (whitespace and colons\n"
          "ignored) or base64, or as one HTTP header line (RFC 4559):\n"
          "  [Authorization: | WWW-Authenticate: | Proxy-Authorization: |\n"
          "   Proxy-Authenticate:] Negotiate <base64>\n"
          "(names case-insensitive, surrounding whitespace and CRLF ignored). The\n"
          "encoding and the kind of token are detected.\n"
          "\n"
          "The inner token of a SPNEGO token is decoded as NEGOEX when its mechanism is\n"
          "NEGOEX (the first mechType of a NegTokenInit, the supportedMech of a\n"
          "NegTokenResp) or, when the token names no mechanism (a later NegTokenResp),\n"
          "when it starts with \"NEGOEXTS\". Then it must be valid NEGOEX; any other\n"
          "inner token (Kerberos, NTLM, ...) is shown as hex.\n"
          "\n"
          "NEGOEX messages of the PKU2U auth scheme also show their Exchange payload\n"
          "decoded: the Kerberos message of an AP_REQUEST / CHALLENGE (AS-REQ, AS-REP,\n"
          "AP-REQ, AP-REP, KRB-ERROR with the PKINIT data; encrypted parts as etype,\n"
          "kvno and length) and the metadata of INITIATOR_META_DATA /\n"
          "ACCEPTOR_META_DATA (trusted certifiers, target realm and sname). A payload\n"
          "that does not decode is shown with the reason (\"exchange_error\" in JSON);\n"
          "the NEGOEX token is still valid then.\n"
          "\n"
          "  --json      print {\"negoex\": [message, ...]} instead of text; for a SPNEGO\n"
          "              token {\"spnego\": {...}, \"negoex\": [...]}, \"negoex\" only\n"
          "              when the inner token is NEGOEX; PKU2U messages get\n"
          "              \"exchange_decoded\": {\"kind\": ..., ...} or \"exchange_error\"\n"
          "  --as KIND   what the token is, instead of detecting it:\n"
          "                negoex          NEGOEX messages\n"
          "                spnego          a SPNEGO token\n"
          "                krb             a PKU2U GSS token (60 .. 06 06 2b 06 01 05 02 07\n"
          "                                TOK_ID, then AS-REQ / AS-REP / AP-REQ / AP-REP /\n"
          "                                KRB-ERROR); JSON {\"krb\": {...}}\n"
          "                pku2u-metadata  a PKU2U metadata payload; JSON\n"
          "                                {\"pku2u_metadata\": {...}}\n"
          "  --late-fallback\n"
          "              read a NegTokenResp's supportedMechs [4] (MS-SPNG Late Fallback)\n"
          "              strictly; without it such a token is still shown, and a token\n"
          "              that parses neither way gets the RFC 4178 error\n"
          "  --fragments the input is the fragments of one SPNEGO token (MS-SPNG\n"
          "              3.1.5.6-3.1.5.11): one per FILE, or with one text input one per\n"
          "              line (hex, base64 or a Negotiate header line); they are\n"
          "              reassembled (the first holds the token's ASN.1 header) and the\n"
          "              token decoded after a list of the fragments (JSON \"fragments\")\n"
          "  -h, --help  show this help\n"
          "\n"
          "Exit status: 0 valid token, 1 malformed token (nothing on stdout, one error\n"
          "line on stderr; its offset counts from the start of the whole token, also\n"
          "for an error inside a SPNEGO token's NEGOEX messages), 2 usage or I/O error.\n",
          f);
}

static const char *type_name(uint32_t type)
{
    const char *name = negoex_message_type_name(type);

    return name != NULL ? name : "UNKNOWN";
}

const char *cli_checksum_type_name(uint32_t type)
{
    switch (type) {
    case NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128:
        return "hmac-sha1-96-aes128";
    case NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256:
        return "hmac-sha1-96-aes256";
    default:
        return NULL;
    }
}

static const char *pulse_reason_name(uint32_t reason)
{
    return reason == NEGOEX_ALERT_VERIFY_NO_KEY ? "VERIFY_NO_KEY" : NULL;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */
/* ------------------------------------------------------------------------ */

static void text_guid(FILE *f, const negoex_guid *guid)
{
    char text[NEGOEX_GUID_STRING_LEN + 1];
    const char *label = negoex_guid_label(guid);

    negoex_guid_format(guid, text);
    fputs(text, f);
    if (label != NULL)
        fprintf(f, " (%s)", label);
}

/* "<label>: N bytes" then the bytes, wrapped, one level deeper. */
void cli_text_bytes(FILE *f, const char *indent, const char *label, const uint8_t *data, size_t len)
{
    fprintf(f, "%s%s: %zu bytes", indent, label, len);
    if (len <= HEX_LINE_BYTES) {
        if (len > 0) {
            fputc(' ', f);
            cli_print_hex(f, data, len);
        }
        fputc('\n', f);
        return;
    }
    fputc('\n', f);
    for (size_t i = 0; i < len; i += HEX_LINE_BYTES) {
        size_t n = len - i < HEX_LINE_BYTES ? len - i : HEX_LINE_BYTES;

        fprintf(f, "%s  ", indent);
        cli_print_hex(f, data + i, n);
        fputc('\n', f);
    }
}

/* pfx (the caller's indent) then the fixed indent of one level. */
static void indent_join(char *out, size_t cap, const char *pfx, const char *more)
{
    snprintf(out, cap, "%s%s", pfx, more);
}

static int text_nego(FILE *f, const char *pfx, const negoex_message *m)
{
    char ind[TEXT_INDENT_MAX];

    indent_join(ind, sizeof(ind), pfx, "      ");
    fprintf(f, "%s    random: ", pfx);
    cli_print_hex(f, m->u.nego.random, NEGOEX_RANDOM_LEN);
    fprintf(f, "\n%s    protocol version: %" PRIu64 "\n", pfx, m->u.nego.protocol_version);
    fprintf(f, "%s    auth schemes: %u\n", pfx, (unsigned)m->u.nego.auth_scheme_count);
    for (size_t i = 0; i < m->u.nego.auth_scheme_count; i++) {
        negoex_guid g;
        int rc = negoex_nego_auth_scheme(m, i, &g);

        if (rc < 0)
            return rc;
        fprintf(f, "%s      [%zu] ", pfx, i);
        text_guid(f, &g);
        fputc('\n', f);
    }
    fprintf(f, "%s    extensions: %u\n", pfx, (unsigned)m->u.nego.extension_count);
    for (size_t i = 0; i < m->u.nego.extension_count; i++) {
        negoex_extension ext;
        int rc = negoex_nego_extension(m, i, &ext);
        char label[64];

        if (rc < 0)
            return rc;
        snprintf(label, sizeof(label), "[%zu] type 0x%08" PRIx32 "%s", i, ext.type,
                 ext.critical ? " critical" : "");
        cli_text_bytes(f, ind, label, ext.value.data, ext.value.len);
    }
    return 0;
}

static void text_exchange(FILE *f, const char *pfx, const negoex_message *m)
{
    char ind[TEXT_INDENT_MAX];

    indent_join(ind, sizeof(ind), pfx, "    ");
    fprintf(f, "%s    auth scheme: ", pfx);
    text_guid(f, &m->u.exchange.auth_scheme);
    fputc('\n', f);
    cli_text_bytes(f, ind, "exchange", m->u.exchange.exchange.data, m->u.exchange.exchange.len);
    cli_pku2u_exchange_text(f, pfx, m);
}

static void text_verify(FILE *f, const char *pfx, const negoex_message *m)
{
    const char *cksum = cli_checksum_type_name(m->u.verify.checksum_type);
    char ind[TEXT_INDENT_MAX];

    indent_join(ind, sizeof(ind), pfx, "    ");
    fprintf(f, "%s    auth scheme: ", pfx);
    text_guid(f, &m->u.verify.auth_scheme);
    fprintf(f, "\n%s    checksum scheme: %" PRIu32 "%s\n", pfx, m->u.verify.checksum_scheme,
            m->u.verify.checksum_scheme == NEGOEX_CHECKSUM_SCHEME_RFC3961 ? " (RFC3961)" : "");
    fprintf(f, "%s    checksum type: %" PRIu32, pfx, m->u.verify.checksum_type);
    if (cksum != NULL)
        fprintf(f, " (%s)", cksum);
    fputc('\n', f);
    cli_text_bytes(f, ind, "checksum", m->u.verify.checksum.data, m->u.verify.checksum.len);
}

static int text_alert(FILE *f, const char *pfx, const negoex_message *m)
{
    char ind[TEXT_INDENT_MAX];

    indent_join(ind, sizeof(ind), pfx, "      ");
    fprintf(f, "%s    auth scheme: ", pfx);
    text_guid(f, &m->u.alert.auth_scheme);
    fprintf(f, "\n%s    error code: 0x%08" PRIx32 "\n", pfx, m->u.alert.error_code);
    fprintf(f, "%s    alerts: %u\n", pfx, (unsigned)m->u.alert.alert_count);
    for (size_t i = 0; i < m->u.alert.alert_count; i++) {
        negoex_alert a;
        int rc = negoex_alert_get(m, i, &a);
        char label[64];

        if (rc < 0)
            return rc;
        snprintf(label, sizeof(label), "[%zu] type %" PRIu32 "%s", i, a.type, a.is_pulse ? " (PULSE)" : "");
        cli_text_bytes(f, ind, label, a.value.data, a.value.len);
        if (a.is_pulse) {
            const char *reason = pulse_reason_name(a.reason);

            fprintf(f, "%s        reason: %" PRIu32, pfx, a.reason);
            if (reason != NULL)
                fprintf(f, " (%s)", reason);
            fputc('\n', f);
        }
    }
    return 0;
}

int cli_negoex_print_text(FILE *f, const char *pfx, const negoex_message *msgs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        const negoex_message *m = &msgs[i];
        char conv[NEGOEX_GUID_STRING_LEN + 1];
        int rc = 0;

        negoex_guid_format(&m->conversation_id, conv);
        if (i > 0)
            fputc('\n', f);
        fprintf(f, "%s[%zu] %s conv %s %" PRIu32 " bytes\n", pfx, i, type_name(m->type), conv,
                m->message_length);
        fprintf(f, "%s    seq: %" PRIu32 "\n", pfx, m->seq);
        fprintf(f, "%s    header length: %" PRIu32 "\n", pfx, m->header_length);
        fprintf(f, "%s    offset: %zu\n", pfx, m->offset);
        switch (negoex_message_structure(m->type)) {
        case NEGOEX_STRUCT_NEGO:
            rc = text_nego(f, pfx, m);
            break;
        case NEGOEX_STRUCT_EXCHANGE:
            text_exchange(f, pfx, m);
            break;
        case NEGOEX_STRUCT_VERIFY:
            text_verify(f, pfx, m);
            break;
        case NEGOEX_STRUCT_ALERT:
            rc = text_alert(f, pfx, m);
            break;
        case NEGOEX_STRUCT_NONE:
        default:
            break;
        }
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON: one message per line. Every string we emit is a type name, a GUID  */
/* or hex, so nothing needs escaping.                                       */
/* ------------------------------------------------------------------------ */

static void json_hex(FILE *f, const char *key, const uint8_t *data, size_t len)
{
    fprintf(f, ", \"%s\": \"", key);
    cli_print_hex(f, data, len);
    fputc('"', f);
}

static void json_guid(FILE *f, const char *key, const negoex_guid *guid)
{
    char text[NEGOEX_GUID_STRING_LEN + 1];

    negoex_guid_format(guid, text);
    fprintf(f, ", \"%s\": \"%s\"", key, text);
}

static int json_nego(FILE *f, const negoex_message *m)
{
    json_hex(f, "random", m->u.nego.random, NEGOEX_RANDOM_LEN);
    fprintf(f, ", \"protocol_version\": %" PRIu64 ", \"auth_schemes\": [", m->u.nego.protocol_version);
    for (size_t i = 0; i < m->u.nego.auth_scheme_count; i++) {
        negoex_guid g;
        char text[NEGOEX_GUID_STRING_LEN + 1];
        int rc = negoex_nego_auth_scheme(m, i, &g);

        if (rc < 0)
            return rc;
        negoex_guid_format(&g, text);
        fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", text);
    }
    fputs("], \"extensions\": [", f);
    for (size_t i = 0; i < m->u.nego.extension_count; i++) {
        negoex_extension ext;
        int rc = negoex_nego_extension(m, i, &ext);

        if (rc < 0)
            return rc;
        fprintf(f, "%s{\"type\": %" PRIu32 ", \"critical\": %s", i > 0 ? ", " : "", ext.type,
                ext.critical ? "true" : "false");
        json_hex(f, "value", ext.value.data, ext.value.len);
        fputc('}', f);
    }
    fputc(']', f);
    return 0;
}

static int json_alert(FILE *f, const negoex_message *m)
{
    json_guid(f, "auth_scheme", &m->u.alert.auth_scheme);
    fprintf(f, ", \"error_code\": %" PRIu32 ", \"alerts\": [", m->u.alert.error_code);
    for (size_t i = 0; i < m->u.alert.alert_count; i++) {
        negoex_alert a;
        int rc = negoex_alert_get(m, i, &a);

        if (rc < 0)
            return rc;
        fprintf(f, "%s{\"type\": %" PRIu32, i > 0 ? ", " : "", a.type);
        json_hex(f, "value", a.value.data, a.value.len);
        if (a.is_pulse)
            fprintf(f, ", \"reason\": %" PRIu32, a.reason);
        fputc('}', f);
    }
    fputc(']', f);
    return 0;
}

int cli_negoex_print_json_array(FILE *f, const negoex_message *msgs, size_t count)
{
    fputc('[', f);
    for (size_t i = 0; i < count; i++) {
        const negoex_message *m = &msgs[i];
        int rc = 0;

        fprintf(f, "%s\n  {\"type\": \"%s\", \"seq\": %" PRIu32, i > 0 ? "," : "", type_name(m->type), m->seq);
        json_guid(f, "conversation_id", &m->conversation_id);
        fprintf(f, ", \"header_length\": %" PRIu32 ", \"message_length\": %" PRIu32 ", \"offset\": %zu",
                m->header_length, m->message_length, m->offset);
        switch (negoex_message_structure(m->type)) {
        case NEGOEX_STRUCT_NEGO:
            rc = json_nego(f, m);
            break;
        case NEGOEX_STRUCT_EXCHANGE:
            json_guid(f, "auth_scheme", &m->u.exchange.auth_scheme);
            json_hex(f, "exchange", m->u.exchange.exchange.data, m->u.exchange.exchange.len);
            cli_pku2u_exchange_json(f, m);
            break;
        case NEGOEX_STRUCT_VERIFY:
            json_guid(f, "auth_scheme", &m->u.verify.auth_scheme);
            fprintf(f, ", \"checksum_scheme\": %" PRIu32 ", \"checksum_type\": %" PRIu32,
                    m->u.verify.checksum_scheme, m->u.verify.checksum_type);
            json_hex(f, "checksum", m->u.verify.checksum.data, m->u.verify.checksum.len);
            break;
        case NEGOEX_STRUCT_ALERT:
            rc = json_alert(f, m);
            break;
        case NEGOEX_STRUCT_NONE:
        default:
            break;
        }
        if (rc < 0)
            return rc;
        fputc('}', f);
    }
    fputs(count > 0 ? "\n]" : "]", f);
    return 0;
}

static int print_json(FILE *f, const negoex_message *msgs, size_t count)
{
    int rc;

    fputs("{\"negoex\": ", f);
    rc = cli_negoex_print_json_array(f, msgs, count);
    fputs("}\n", f);
    return rc;
}

/* ------------------------------------------------------------------------ */

void cli_report_accessor_failure(int code)
{
    /* Accessors cannot fail on a validated message; if they do, say so loudly. */
    cli_error("%s: %s (internal: accessor failed on a validated message)", negoex_error_name(code),
              negoex_strerror(code));
}

void cli_report_codec_error(int code, const negoex_error_info *info)
{
    if (info->field != NULL)
        cli_error("%s: %s in %s (offset %zu)", negoex_error_name(code), negoex_strerror(code), info->field,
                  info->offset);
    else
        cli_error("%s: %s (offset %zu)", negoex_error_name(code), negoex_strerror(code), info->offset);
}

/*
 * Parses every message into msgs (allocated, *count entries). Returns 0, or
 * a negative codec code with *info filled.
 */
int cli_negoex_collect(const uint8_t *data, size_t len, negoex_message **msgs, size_t *count,
                       negoex_error_info *info)
{
    negoex_reader reader;
    negoex_message *list, extra;
    size_t n = 0;
    int total, rc = 0;

    *msgs = NULL;
    *count = 0;
    memset(info, 0, sizeof(*info));
    total = negoex_token_validate(data, len, info);
    if (total < 0)
        return total;
    if (total == 0) { /* not promised by the API; keep the loop below in bounds */
        info->code = NEGOEX_ERR_EMPTY_TOKEN;
        info->field = "token";
        return NEGOEX_ERR_EMPTY_TOKEN;
    }
    list = calloc((size_t)total, sizeof(*list));
    if (list == NULL) {
        info->code = NEGOEX_ERR_NO_MEMORY;
        return NEGOEX_ERR_NO_MEMORY;
    }
    negoex_reader_init(&reader, data, len);
    while (n < (size_t)total && (rc = negoex_reader_next(&reader, &list[n])) == 1)
        n++;
    /* The reader must agree with the validator: exactly total messages, then the end. */
    if (n == (size_t)total)
        rc = negoex_reader_next(&reader, &extra);
    if (rc != 0 || n != (size_t)total) {
        *info = reader.error;
        free(list);
        if (rc < 0)
            return rc;
        info->code = NEGOEX_ERR_INVALID_ARGUMENT;
        info->offset = reader.pos;
        info->field = "token (reader and validator disagree)";
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
    *msgs = list;
    *count = n;
    return 0;
}

/* One fragment per non-blank line of a text input: a Negotiate header line
 * (its base64 value), hex or base64. Binary input is one fragment. */
static int split_lines(cli_buffer *raw, cli_buffer **out, size_t *count)
{
    size_t n = 0, cap = 0, pos = 0, off, vlen;
    cli_buffer *list = NULL;

    *out = NULL;
    *count = 0;
    int text = 1;

    /* Text = printable ASCII and line breaks only (a binary token starts with
     * 60, a0 or a1, none of them printable). */
    for (size_t i = 0; i < raw->len && text; i++)
        text = (raw->data[i] >= 0x20 && raw->data[i] < 0x7f) || raw->data[i] == '\n' || raw->data[i] == '\r' ||
               raw->data[i] == '\t';
    if (!text || raw->len == 0) {
        list = malloc(sizeof(*list));
        if (list == NULL)
            return -1;
        *list = *raw;
        raw->data = NULL;
        raw->len = 0;
        *out = list;
        *count = 1;
        return 0;
    }
    while (pos < raw->len) {
        size_t end = pos;
        cli_buffer line;
        cli_input_format fmt;

        while (end < raw->len && raw->data[end] != '\n')
            end++;
        line.len = end - pos;
        line.data = NULL;
        if (line.len > 0) {
            line.data = malloc(line.len);
            if (line.data == NULL)
                goto fail;
            memcpy(line.data, raw->data + pos, line.len);
        }
        pos = end + 1;
        if (cli_http_negotiate_value(line.data, line.len, &off, &vlen)) {
            memmove(line.data, line.data + off, vlen);
            line.len = vlen;
            fmt = CLI_INPUT_BASE64;
        } else {
            fmt = cli_detect_format(line.data, line.len);
        }
        if (fmt == CLI_INPUT_BINARY || cli_decode_in_place(&line, fmt) != 0) {
            cli_buffer_free(&line);
            cli_error("decode --fragments: line %zu is neither hex, base64 nor a Negotiate header", n + 1);
            goto fail;
        }
        if (line.len == 0) { /* a blank line */
            cli_buffer_free(&line);
            continue;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            cli_buffer *p = realloc(list, ncap * sizeof(*list));

            if (p == NULL) {
                cli_buffer_free(&line);
                goto fail;
            }
            list = p;
            cap = ncap;
        }
        list[n++] = line;
    }
    *out = list;
    *count = n;
    return 0;

fail:
    for (size_t i = 0; i < n; i++)
        cli_buffer_free(&list[i]);
    free(list);
    return -1;
}

static int decode_fragments(char **paths, size_t npaths, int json, int late_fallback)
{
    cli_buffer *frags = NULL;
    size_t count = 0;
    int rc;

    if (npaths <= 1) {
        cli_buffer raw;

        if (cli_read_raw(npaths == 1 ? paths[0] : NULL, &raw) != 0)
            return CLI_EXIT_USAGE;
        rc = split_lines(&raw, &frags, &count);
        cli_buffer_free(&raw);
        if (rc != 0)
            return CLI_EXIT_USAGE;
    } else {
        frags = calloc(npaths, sizeof(*frags));
        if (frags == NULL) {
            cli_error("out of memory");
            return CLI_EXIT_USAGE;
        }
        for (count = 0; count < npaths; count++) {
            rc = cli_read_token(paths[count], &frags[count]);
            if (rc != CLI_EXIT_OK)
                goto done;
        }
    }
    if (count == 0) {
        cli_error("decode --fragments: no fragment in the input");
        rc = CLI_EXIT_INVALID;
        goto done;
    }
    rc = cli_decode_spnego_fragments(stdout, frags, count, json, late_fallback);
done:
    for (size_t i = 0; i < count; i++)
        cli_buffer_free(&frags[i]);
    free(frags);
    return rc;
}

int cli_decode(int argc, char **argv)
{
    const char *path = NULL, *as = "auto";
    int json = 0, options_done = 0, fragments = 0, late_fallback = 0;
    char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t npaths = 0;

    if (paths == NULL) {
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    cli_buffer token;
    negoex_message *msgs;
    negoex_error_info info;
    size_t count;
    int rc;

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];

        if (!options_done && arg[0] == '-' && arg[1] != '\0') {
            if (strcmp(arg, "--") == 0) {
                options_done = 1;
            } else if (strcmp(arg, "--json") == 0) {
                json = 1;
            } else if (strcmp(arg, "--fragments") == 0) {
                fragments = 1;
            } else if (strcmp(arg, "--late-fallback") == 0) {
                late_fallback = 1;
            } else if (strcmp(arg, "--as") == 0 || strncmp(arg, "--as=", 5) == 0) {
                if (arg[4] == '=') {
                    as = arg + 5;
                } else if (i + 1 < argc) {
                    as = argv[++i];
                } else {
                    cli_error("decode: --as needs a kind (negoex, spnego, krb, pku2u-metadata)");
                    decode_usage(stderr);
                    free(paths);
                    return CLI_EXIT_USAGE;
                }
                if (strcmp(as, "auto") != 0 && strcmp(as, "negoex") != 0 && strcmp(as, "spnego") != 0 &&
                    strcmp(as, "krb") != 0 && strcmp(as, "pku2u-metadata") != 0) {
                    cli_error("decode: unknown kind '%s' for --as (negoex, spnego, krb, pku2u-metadata)", as);
                    decode_usage(stderr);
                    free(paths);
                    return CLI_EXIT_USAGE;
                }
            } else if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
                decode_usage(stdout);
                free(paths);
                return CLI_EXIT_OK;
            } else {
                cli_error("decode: unknown option '%s'", arg);
                decode_usage(stderr);
                free(paths);
                return CLI_EXIT_USAGE;
            }
        } else {
            /* Several inputs only as fragments (checked once all options are read). */
            if (path == NULL)
                path = arg;
            paths[npaths++] = argv[i];
        }
    }
    if (npaths > 1 && !fragments) {
        cli_error("decode: more than one input ('%s' and '%s')", paths[0], paths[1]);
        decode_usage(stderr);
        free(paths);
        return CLI_EXIT_USAGE;
    }
    if (fragments) {
        if (strcmp(as, "auto") != 0 && strcmp(as, "spnego") != 0) {
            cli_error("decode: --fragments is for SPNEGO tokens (--as spnego)");
            free(paths);
            return CLI_EXIT_USAGE;
        }
        rc = decode_fragments(paths, npaths, json, late_fallback);
        free(paths);
        return rc;
    }
    free(paths);

    rc = cli_read_token(path, &token);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (strcmp(as, "krb") == 0 || strcmp(as, "pku2u-metadata") == 0) {
        rc = cli_decode_pku2u(stdout, token.data, token.len, json, strcmp(as, "pku2u-metadata") == 0);
        cli_buffer_free(&token);
        return rc;
    }
    if (strcmp(as, "spnego") == 0 || (strcmp(as, "auto") == 0 && cli_spnego_detect(token.data, token.len))) {
        rc = cli_decode_spnego_ex(stdout, token.data, token.len, json, late_fallback, NULL);
        cli_buffer_free(&token);
        return rc;
    }
    rc = cli_negoex_collect(token.data, token.len, &msgs, &count, &info);
    if (rc < 0) {
        cli_report_codec_error(rc, &info);
        cli_buffer_free(&token);
        return rc == NEGOEX_ERR_NO_MEMORY ? CLI_EXIT_USAGE : CLI_EXIT_INVALID;
    }
    rc = json ? print_json(stdout, msgs, count) : cli_negoex_print_text(stdout, "", msgs, count);
    free(msgs);
    cli_buffer_free(&token);
    if (rc < 0) {
        cli_report_accessor_failure(rc);
        return CLI_EXIT_INVALID;
    }
    return CLI_EXIT_OK;
}
