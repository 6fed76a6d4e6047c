/*
 * negoex decode, PKU2U half: what the PKU2U auth scheme carries, through the
 * library's dissector (negoex/pku2u.h).
 *
 *   - Inside NEGOEX (decode.c): the Exchange payload of an AP_REQUEST /
 *     CHALLENGE (a PKU2U GSS token) or INITIATOR_META_DATA /
 *     ACCEPTOR_META_DATA (PKU2U metadata) whose auth scheme is PKU2U (the GUID
 *     Windows sends or the documented one) is shown decoded under the message:
 *     "exchange_decoded" in JSON, an indented tree in text. A payload that
 *     does not decode is not a malformed NEGOEX token: the NEGOEX layer is
 *     still shown, with "exchange_error" (JSON) / the reason (text), and the
 *     exit status stays 0. An analyser should show what is there and say
 *     what is wrong, not hide the conversation because one inner token is bad.
 *   - Alone (`--as krb`, `--as pku2u-metadata`): the input is that payload.
 *     Then a malformed payload is the malformed token: exit 1, nothing on
 *     stdout, one error line.
 *
 * Each decode is rendered into memory first and written only when complete,
 * so a failure can never leave half a tree on stdout.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/pku2u.h>

/* The dissector nests at most 16 levels (include/negoex/pku2u.h keeps it small). */
#define TREE_MAX_DEPTH 32
#define TREE_INDENT_MAX 160

typedef struct tree_out {
    FILE *f;
    int json;
    const char *pfx;  /* text: the indent of the top line */
    const char *head; /* text: printed before the top BEGIN's name */
    int list[TREE_MAX_DEPTH];
    int first[TREE_MAX_DEPTH];
} tree_out;

/* ------------------------------------------------------------------------ */
/* Strings                                                                   */
/* ------------------------------------------------------------------------ */

/* Text: printable ASCII shown as is when nothing could be misread (no double
 * quote, no slash, which joins principal components, no leading / trailing
 * space), else quoted with escapes. The plain form never holds an escape, so
 * a backslash in it is a backslash (Windows names: AzureAD\user). */
static int plain_string(const uint8_t *s, size_t len)
{
    if (len == 0 || s[0] == ' ' || s[len - 1] == ' ')
        return 0;
    for (size_t i = 0; i < len; i++)
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '/')
            return 0;
    return 1;
}

static void text_string(FILE *f, const uint8_t *s, size_t len)
{
    if (plain_string(s, len))
        fwrite(s, 1, len, f);
    else
        cli_quoted_string(f, s, len, 0);
}

/* Length of the valid UTF-8 sequence at s (no overlongs, surrogates or
 * values past U+10FFFF), 0 if there is none. */
static size_t utf8_seq(const uint8_t *s, size_t len)
{
    uint32_t cp;
    size_t n;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        n = 2, cp = s[0] & 0x1fu;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        n = 3, cp = s[0] & 0x0fu;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        n = 4, cp = s[0] & 0x07u;
    else
        return 0;
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3fu);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* UTF-8 text (a DN string): as is where it is valid UTF-8, control
 * characters and stray bytes escaped (\u00NN in JSON, \xNN in text). */
static void utf8_string(FILE *f, const char *text, int json)
{
    const uint8_t *s = (const uint8_t *)text;
    size_t len = strlen(text);

    if (json)
        fputc('"', f);
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);

        if (n > 1) {
            fwrite(s + i, 1, n, f);
            i += n;
            continue;
        }
        if (n == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
            if (json && (s[i] == '"' || s[i] == '\\'))
                fputc('\\', f);
            fputc(s[i], f);
        } else {
            fprintf(f, json ? "\\u%04x" : "\\x%02x", s[i]);
        }
        i++;
    }
    if (json)
        fputc('"', f);
}

/* "20370914024805Z (2037-09-14 02:48:05 UTC)" from the KerberosTime text. */
static void text_time(FILE *f, const negoex_bytes *t)
{
    const char *s = (const char *)t->data;

    fwrite(t->data, 1, t->len, f);
    if (t->len == 15)
        fprintf(f, " (%.4s-%.2s-%.2s %.2s:%.2s:%.2s UTC)", s, s + 4, s + 6, s + 8, s + 10, s + 12);
}

/* Whether an address has a text form: NetBIOS names, IPv4 and IPv6. */
static int address_has_text(int64_t type, const negoex_bytes *a)
{
    return type == 20 || (type == 2 && a->len == 4) || (type == 24 && a->len == 16);
}

/* That text form (quoted in JSON; a NetBIOS name quoted in both). */
static void address_text(FILE *f, int64_t type, const negoex_bytes *a, int json)
{
    if (type == 20) {
        cli_quoted_string(f, a->data, a->len, json);
        return;
    }
    if (json)
        fputc('"', f);
    if (type == 2)
        fprintf(f, "%u.%u.%u.%u", a->data[0], a->data[1], a->data[2], a->data[3]);
    else
        for (size_t i = 0; i < 16; i += 2)
            fprintf(f, "%s%x", i > 0 ? ":" : "", (unsigned)(a->data[i] << 8 | a->data[i + 1]));
    if (json)
        fputc('"', f);
}

/* ------------------------------------------------------------------------ */
/* Text: one line per field, two spaces per level                            */
/* ------------------------------------------------------------------------ */

static void text_indent(char *out, size_t cap, const char *pfx, unsigned depth)
{
    size_t n = (size_t)snprintf(out, cap, "%s", pfx);

    for (unsigned i = 0; i < depth && n + 2 < cap; i++) {
        out[n++] = ' ';
        out[n++] = ' ';
    }
    out[n < cap ? n : cap - 1] = '\0';
}

static void text_label(FILE *f, const char *label)
{
    if (label != NULL)
        fprintf(f, " (%s)", label);
}

static void text_value(FILE *f, const negoex_dissect_event *ev)
{
    switch (ev->kind) {
    case NEGOEX_DISSECT_INT:
        fprintf(f, "%" PRId64, ev->num);
        text_label(f, ev->label);
        break;
    case NEGOEX_DISSECT_FLAGS:
        fprintf(f, "0x%08" PRIx32, (uint32_t)ev->num);
        if (ev->label != NULL && ev->label[0] != '\0')
            text_label(f, ev->label);
        break;
    case NEGOEX_DISSECT_STRING:
        text_string(f, ev->bytes.data, ev->bytes.len);
        break;
    case NEGOEX_DISSECT_TIME:
        text_time(f, &ev->bytes);
        break;
    case NEGOEX_DISSECT_OID:
        fputs(ev->text, f);
        text_label(f, ev->label);
        break;
    case NEGOEX_DISSECT_DN:
        utf8_string(f, ev->text, 0);
        break;
    case NEGOEX_DISSECT_PRINCIPAL: {
        int plain = 1;

        for (size_t i = 0; i < ev->count; i++)
            plain = plain && plain_string(ev->strings[i].data, ev->strings[i].len);
        for (size_t i = 0; i < ev->count; i++) {
            if (i > 0)
                fputc('/', f);
            if (plain)
                fwrite(ev->strings[i].data, 1, ev->strings[i].len, f);
            else
                cli_quoted_string(f, ev->strings[i].data, ev->strings[i].len, 0);
        }
        if (ev->label != NULL)
            fprintf(f, " (%s, %" PRId64 ")", ev->label, ev->num);
        else
            fprintf(f, " (name-type %" PRId64 ")", ev->num);
        break;
    }
    case NEGOEX_DISSECT_INT_LIST:
        for (size_t i = 0; i < ev->count; i++) {
            fprintf(f, "%s%" PRId32, i > 0 ? ", " : "", ev->ints[i]);
            if (ev->labels != NULL)
                text_label(f, ev->labels[i]);
        }
        break;
    case NEGOEX_DISSECT_ADDRESS:
        if (ev->label != NULL)
            fprintf(f, "%s (%" PRId64 ") ", ev->label, ev->num);
        else
            fprintf(f, "addr-type %" PRId64 " ", ev->num);
        if (address_has_text(ev->num, &ev->bytes))
            address_text(f, ev->num, &ev->bytes, 0);
        else
            cli_print_hex(f, ev->bytes.data, ev->bytes.len);
        break;
    case NEGOEX_DISSECT_ENC_DATA:
        fprintf(f, "etype %" PRId64, ev->num);
        text_label(f, ev->label);
        if (ev->has_kvno)
            fprintf(f, ", kvno %" PRIu32, ev->kvno);
        fprintf(f, ", %zu bytes of ciphertext", ev->length);
        break;
    default:
        break;
    }
}

static int text_event(void *ud, const negoex_dissect_event *ev)
{
    tree_out *o = ud;
    char ind[TREE_INDENT_MAX];
    char label[96];
    int in_list;

    if (ev->depth >= TREE_MAX_DEPTH)
        return NEGOEX_ERR_TOO_LARGE;
    if (ev->kind == NEGOEX_DISSECT_END)
        return 0;
    if (ev->depth == 0) { /* the top line */
        fprintf(o->f, "%s%s%s\n", o->pfx, o->head, ev->name);
        o->list[0] = 0;
        return 0;
    }
    in_list = o->list[ev->depth - 1];
    text_indent(ind, sizeof ind, o->pfx, ev->depth);
    if (in_list)
        snprintf(label, sizeof label, "[%zu] %s", ev->index, ev->name);
    else
        snprintf(label, sizeof label, "%s", ev->name);
    switch (ev->kind) {
    case NEGOEX_DISSECT_BEGIN:
        fprintf(o->f, "%s%s", ind, label);
        if (ev->label != NULL)
            fprintf(o->f, "%s%s", in_list ? " " : ": ", ev->label);
        fputc('\n', o->f);
        o->list[ev->depth] = 0;
        break;
    case NEGOEX_DISSECT_BEGIN_LIST:
        fprintf(o->f, "%s%s: %zu\n", ind, label, ev->count);
        o->list[ev->depth] = 1;
        break;
    case NEGOEX_DISSECT_BYTES:
        cli_text_bytes(o->f, ind, label, ev->bytes.data, ev->bytes.len);
        break;
    default:
        /* A list element is its value alone: "[0] CN=...". */
        if (in_list)
            fprintf(o->f, "%s[%zu] ", ind, ev->index);
        else
            fprintf(o->f, "%s%s: ", ind, ev->name);
        text_value(o->f, ev);
        fputc('\n', o->f);
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON: one object, on one line                                            */
/* ------------------------------------------------------------------------ */

static void json_key(FILE *f, const char *name)
{
    fprintf(f, "\"%s\": ", name); /* the dissector's names are plain ASCII */
}

static void json_value(FILE *f, const negoex_dissect_event *ev)
{
    switch (ev->kind) {
    case NEGOEX_DISSECT_INT:
        fprintf(f, "%" PRId64, ev->num);
        break;
    case NEGOEX_DISSECT_FLAGS: {
        /* The names of the set bits (unknown ones as "bitN"), as the
         * dissector lists them: ", " between names. */
        const char *p = ev->label != NULL ? ev->label : "";

        fputc('[', f);
        while (*p != '\0') {
            const char *end = strstr(p, ", ");
            size_t n = end != NULL ? (size_t)(end - p) : strlen(p);

            fprintf(f, "%s\"%.*s\"", p == ev->label ? "" : ", ", (int)n, p);
            p += n;
            if (*p != '\0')
                p += 2;
        }
        fputc(']', f);
        break;
    }
    case NEGOEX_DISSECT_STRING:
    case NEGOEX_DISSECT_TIME:
        cli_quoted_string(f, ev->bytes.data, ev->bytes.len, 1);
        break;
    case NEGOEX_DISSECT_BYTES:
        fputc('"', f);
        cli_print_hex(f, ev->bytes.data, ev->bytes.len);
        fputc('"', f);
        break;
    case NEGOEX_DISSECT_OID:
        fprintf(f, "\"%s\"", ev->text); /* digits and dots */
        break;
    case NEGOEX_DISSECT_DN:
        utf8_string(f, ev->text, 1);
        break;
    case NEGOEX_DISSECT_PRINCIPAL:
        fprintf(f, "{\"name-type\": %" PRId64 ", \"name-string\": [", ev->num);
        for (size_t i = 0; i < ev->count; i++) {
            if (i > 0)
                fputs(", ", f);
            cli_quoted_string(f, ev->strings[i].data, ev->strings[i].len, 1);
        }
        fputs("]}", f);
        break;
    case NEGOEX_DISSECT_INT_LIST:
        fputc('[', f);
        for (size_t i = 0; i < ev->count; i++)
            fprintf(f, "%s%" PRId32, i > 0 ? ", " : "", ev->ints[i]);
        fputc(']', f);
        break;
    case NEGOEX_DISSECT_ADDRESS:
        fprintf(f, "{\"addr-type\": %" PRId64 ", \"address\": \"", ev->num);
        cli_print_hex(f, ev->bytes.data, ev->bytes.len);
        fputc('"', f);
        if (address_has_text(ev->num, &ev->bytes)) {
            fputs(", \"text\": ", f);
            address_text(f, ev->num, &ev->bytes, 1);
        }
        fputc('}', f);
        break;
    case NEGOEX_DISSECT_ENC_DATA:
        fprintf(f, "{\"etype\": %" PRId64, ev->num);
        if (ev->has_kvno)
            fprintf(f, ", \"kvno\": %" PRIu32, ev->kvno);
        fprintf(f, ", \"length\": %zu}", ev->length);
        break;
    default:
        fputs("null", f);
        break;
    }
}

static int json_event(void *ud, const negoex_dissect_event *ev)
{
    tree_out *o = ud;
    unsigned d = ev->depth;

    if (d >= TREE_MAX_DEPTH)
        return NEGOEX_ERR_TOO_LARGE;
    if (ev->kind == NEGOEX_DISSECT_END) {
        fputc(o->list[d] ? ']' : '}', o->f);
        return 0;
    }
    if (d > 0) {
        if (!o->first[d - 1])
            fputs(", ", o->f);
        o->first[d - 1] = 0;
        if (!o->list[d - 1])
            json_key(o->f, ev->name);
    }
    switch (ev->kind) {
    case NEGOEX_DISSECT_BEGIN:
        o->list[d] = 0;
        o->first[d] = 1;
        fputc('{', o->f);
        /* The top object says what it is; a structure whose type the
         * dissector names says so the same way. */
        if (d == 0 || ev->label != NULL) {
            fputs("\"kind\": ", o->f);
            cli_quoted_string(o->f, (const uint8_t *)(d == 0 ? ev->name : ev->label),
                              strlen(d == 0 ? ev->name : ev->label), 1);
            o->first[d] = 0;
        }
        break;
    case NEGOEX_DISSECT_BEGIN_LIST:
        o->list[d] = 1;
        o->first[d] = 1;
        fputc('[', o->f);
        break;
    default:
        json_value(o->f, ev);
        break;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rendering into memory                                                     */
/* ------------------------------------------------------------------------ */

typedef enum payload_kind {
    PAYLOAD_TOKEN,
    PAYLOAD_META_INITIATOR,
    PAYLOAD_META_ACCEPTOR,
    PAYLOAD_META_ANY
} payload_kind;

/*
 * Dissects data as kind and renders it (JSON, or text whose top line is
 * pfx + head + the kind's name) into a malloc'd string. Returns 0, or the
 * dissector's negative code with *info filled (nothing allocated then).
 */
static int render(const uint8_t *data, size_t len, payload_kind kind, int json, const char *pfx, const char *head,
                  char **out, size_t *out_len, negoex_error_info *info)
{
    tree_out o;
    char *buf = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    memset(info, 0, sizeof(*info));
    memset(&o, 0, sizeof(o));
    o.json = json;
    o.pfx = pfx;
    o.head = head;
    o.f = open_memstream(&buf, &n);
    if (o.f == NULL) {
        info->code = NEGOEX_ERR_NO_MEMORY;
        return NEGOEX_ERR_NO_MEMORY;
    }
    if (kind == PAYLOAD_TOKEN) {
        rc = negoex_pku2u_dissect_token(data, len, json ? json_event : text_event, &o, info);
    } else {
        negoex_pku2u_metadata_kind mk = kind == PAYLOAD_META_INITIATOR  ? NEGOEX_PKU2U_METADATA_INITIATOR
                                        : kind == PAYLOAD_META_ACCEPTOR ? NEGOEX_PKU2U_METADATA_ACCEPTOR
                                                                        : NEGOEX_PKU2U_METADATA_ANY;

        rc = negoex_pku2u_dissect_metadata(data, len, mk, json ? json_event : text_event, &o, info);
    }
    if (fclose(o.f) != 0 && rc == 0)
        rc = NEGOEX_ERR_NO_MEMORY;
    if (rc < 0) {
        if (info->code == 0) {
            info->code = rc;
            info->field = "exchange";
        }
        free(buf);
        return rc;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* Which decode applies to a message: -1 for none (other schemes, other types). */
static int message_payload(const negoex_message *m)
{
    if (negoex_message_structure(m->type) != NEGOEX_STRUCT_EXCHANGE ||
        !negoex_pku2u_is_scheme(&m->u.exchange.auth_scheme))
        return -1;
    switch (m->type) {
    case NEGOEX_AP_REQUEST:
    case NEGOEX_CHALLENGE:
        return PAYLOAD_TOKEN;
    case NEGOEX_INITIATOR_META_DATA:
        return PAYLOAD_META_INITIATOR;
    case NEGOEX_ACCEPTOR_META_DATA:
        return PAYLOAD_META_ACCEPTOR;
    default:
        return -1;
    }
}

static const char *payload_name(int kind)
{
    return kind == PAYLOAD_TOKEN ? "PKU2U token" : "PKU2U metadata";
}

void cli_pku2u_exchange_text(FILE *f, const char *pfx, const negoex_message *m)
{
    int kind = message_payload(m);
    char ind[TREE_INDENT_MAX];
    negoex_error_info info;
    char *text;
    size_t n;

    if (kind < 0)
        return;
    /* The tree's top line sits with the message's fields, its fields one level deeper. */
    snprintf(ind, sizeof ind, "%s    ", pfx);
    if (render(m->u.exchange.exchange.data, m->u.exchange.exchange.len, (payload_kind)kind, 0, ind,
               kind == PAYLOAD_TOKEN ? "exchange decoded: PKU2U " : "exchange decoded: ", &text, &n, &info) == 0) {
        fwrite(text, 1, n, f);
        free(text);
        return;
    }
    fprintf(f, "%sexchange decoded: not a valid %s: %s: %s", ind, payload_name(kind), negoex_error_name(info.code),
            negoex_strerror(info.code));
    if (info.field != NULL)
        fprintf(f, " in %s", info.field);
    fprintf(f, " (offset %zu in the exchange)\n", info.offset);
}

void cli_pku2u_exchange_json(FILE *f, const negoex_message *m)
{
    int kind = message_payload(m);
    negoex_error_info info;
    char *text;
    size_t n;

    if (kind < 0)
        return;
    if (render(m->u.exchange.exchange.data, m->u.exchange.exchange.len, (payload_kind)kind, 1, "", "", &text, &n,
               &info) == 0) {
        fputs(", \"exchange_decoded\": ", f);
        fwrite(text, 1, n, f);
        free(text);
        return;
    }
    fprintf(f, ", \"exchange_error\": {\"decoding\": \"%s\", \"error\": \"%s\", \"message\": \"%s\"",
            payload_name(kind), negoex_error_name(info.code), negoex_strerror(info.code));
    if (info.field != NULL) {
        fputs(", \"field\": ", f);
        cli_quoted_string(f, (const uint8_t *)info.field, strlen(info.field), 1);
    }
    fprintf(f, ", \"offset\": %zu}", info.offset);
}

int cli_decode_pku2u(FILE *f, const uint8_t *data, size_t len, int json, int metadata)
{
    negoex_error_info info;
    char *text;
    size_t n;
    int rc = render(data, len, metadata ? PAYLOAD_META_ANY : PAYLOAD_TOKEN, json, "", metadata ? "" : "PKU2U ", &text,
                    &n, &info);
    if (rc < 0) {
        cli_report_codec_error(rc, &info);
        return rc == NEGOEX_ERR_NO_MEMORY ? CLI_EXIT_USAGE : CLI_EXIT_INVALID;
    }
    if (json) {
        fprintf(f, "{\"%s\": ", metadata ? "pku2u_metadata" : "krb");
        fwrite(text, 1, n, f);
        fputs("}\n", f);
    } else {
        /* The top line also gives the size, as the SPNEGO decode does. */
        char *nl = memchr(text, '\n', n);
        size_t first = nl != NULL ? (size_t)(nl - text) : n;

        fwrite(text, 1, first, f);
        fprintf(f, ", %zu bytes\n", len);
        if (nl != NULL)
            fwrite(nl + 1, 1, n - first - 1, f);
    }
    free(text);
    return CLI_EXIT_OK;
}
