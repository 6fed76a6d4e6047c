/*
 * negoex decode, SPNEGO half: a SPNEGO token (RFC 4178, MS-SPNG NegTokenInit2)
 * and the NEGOEX messages of its mechToken / responseToken.
 *
 * Same contract as the NEGOEX decode: everything (the SPNEGO DER, every OID,
 * the inner NEGOEX token) is checked before anything reaches stdout; a
 * rejection prints nothing there and one error line on stderr whose offset
 * counts from the start of the SPNEGO token, also for an error inside the
 * inner NEGOEX token (its codec offset plus the inner token's place).
 *
 * When the inner token is read as NEGOEX: when its mechanism is NEGOEX, as
 * the token itself says it (a NegTokenInit's mechToken is for the first of
 * its mechTypes, RFC 4178 4.2.1; a NegTokenResp's responseToken is for its
 * supportedMech). A later NegTokenResp names no mechanism; then a token
 * starting with the NEGOEX signature "NEGOEXTS" is taken as NEGOEX. Either
 * way it must then be valid NEGOEX. Trying the NEGOEX codec on any inner
 * token instead would show a broken NEGOEX token as opaque hex, and would
 * call NEGOEX what another mechanism (named in the token) sent.
 */
#include "cli.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/spnego.h>

/* Mirrors decode.c's wrapping of hex dumps. */
#define HEX_LINE_BYTES 32
/* "mechToken NEGOEX " + the longest NEGOEX field name, with room to spare. */
#define FIELD_MAX 96

int cli_spnego_detect(const uint8_t *data, size_t len)
{
    return len > 0 && (data[0] == 0x60 || data[0] == 0xa0 || data[0] == 0xa1);
}

typedef struct spnego_view {
    const uint8_t *base; /* the whole token: offsets are from here */
    size_t len;
    negoex_spnego_token t;
    char **mech_text;    /* dotted mechTypes, t.mech_type_count entries */
    negoex_bytes *mech_oid;
    char *supported_text;
    char **smech_text;   /* dotted supportedMechs (Late Fallback), t.supported_mech_count entries */
    negoex_bytes *smech_oid;
    const char *inner_name;   /* "mechToken" / "responseToken" */
    const negoex_bytes *inner;
    negoex_bytes inner_mech;  /* the inner token's mechanism, data NULL if unnamed */
    int inner_negoex;
    negoex_message *msgs;
    size_t msg_count;
} spnego_view;

static const char *kind_name(negoex_spnego_kind kind)
{
    switch (kind) {
    case NEGOEX_SPNEGO_NEG_TOKEN_INIT:
        return "negTokenInit";
    case NEGOEX_SPNEGO_NEG_TOKEN_INIT2:
        return "negTokenInit2";
    case NEGOEX_SPNEGO_NEG_TOKEN_RESP:
        return "negTokenResp";
    default:
        return "unknown";
    }
}

static int is_init(const negoex_spnego_token *t)
{
    return t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT || t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT2;
}

static size_t offset_of(const spnego_view *v, const uint8_t *p)
{
    return (size_t)(p - v->base);
}

static int oid_equal(const negoex_bytes *oid, const uint8_t *der, size_t len)
{
    return oid->data != NULL && oid->len == len && memcmp(oid->data, der, len) == 0;
}

static void view_free(spnego_view *v)
{
    if (v->mech_text != NULL)
        for (size_t i = 0; i < v->t.mech_type_count; i++)
            free(v->mech_text[i]);
    free(v->mech_text);
    free(v->mech_oid);
    free(v->supported_text);
    if (v->smech_text != NULL)
        for (size_t i = 0; i < v->t.supported_mech_count; i++)
            free(v->smech_text[i]);
    free(v->smech_text);
    free(v->smech_oid);
    free(v->msgs);
}

/* Rejects what the parser let through but we cannot print: the error line
 * for oid (at its place in the token), or NO_MEMORY. */
static int oid_text(const spnego_view *v, const negoex_bytes *oid, const char *field, char **out,
                    negoex_error_info *info)
{
    size_t need = 0;
    int rc = negoex_oid_to_text(oid->data, oid->len, NULL, 0, &need);
    char *text;

    *out = NULL;
    if (rc == NEGOEX_ERR_BUFFER_TOO_SMALL && need > 0) {
        text = malloc(need);
        if (text == NULL)
            rc = NEGOEX_ERR_NO_MEMORY;
        else if ((rc = negoex_oid_to_text(oid->data, oid->len, text, need, NULL)) == 0)
            *out = text;
        else
            free(text);
    } else if (rc == 0) {
        rc = NEGOEX_ERR_DER_VALUE; /* nothing fits in 0 bytes: the API broke its word */
    }
    if (rc < 0) {
        info->code = rc;
        info->offset = offset_of(v, oid->data);
        info->field = field;
    }
    return rc;
}

/* A MechTypeList view as dotted texts and OID views (count entries). */
static int list_texts(const spnego_view *v, const negoex_bytes *list, size_t count, const char *field,
                      char ***texts, negoex_bytes **oids, negoex_error_info *info)
{
    negoex_spnego_mech_iter it;
    int rc;

    *texts = calloc(count, sizeof(**texts));
    *oids = calloc(count, sizeof(**oids));
    if (*texts == NULL || *oids == NULL) {
        info->code = NEGOEX_ERR_NO_MEMORY;
        return NEGOEX_ERR_NO_MEMORY;
    }
    rc = negoex_spnego_mech_list_iter_init(&it, list);
    for (size_t i = 0; i < count; i++) {
        if (rc == NEGOEX_OK)
            rc = negoex_spnego_mech_iter_next(&it, &(*oids)[i]) == 1 ? NEGOEX_OK : NEGOEX_ERR_INVALID_ARGUMENT;
        if (rc < 0) {
            info->code = rc;
            info->offset = offset_of(v, list->data);
            info->field = field;
            return rc;
        }
        rc = oid_text(v, &(*oids)[i], field, &(*texts)[i], info);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* The whole check; on failure *info says where (offsets from v->base).
 * Late Fallback's supportedMechs [4] (docs/spnego-late-fallback.md): read
 * when late_fallback is set; otherwise a token that only parses with it is
 * still shown, and one that parses neither way gets the plain RFC 4178 /
 * MS-SPNG error. */
static int view_build(spnego_view *v, const uint8_t *data, size_t len, negoex_error_info *info,
                      char *field, size_t field_cap, int late_fallback)
{
    int rc;

    memset(info, 0, sizeof(*info));
    v->base = data;
    v->len = len;
    rc = negoex_spnego_parse_ex(data, len, late_fallback ? NEGOEX_SPNEGO_PARSE_LATE_FALLBACK : 0, &v->t, info);
    if (rc < 0 && !late_fallback &&
        negoex_spnego_parse_ex(data, len, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &v->t, NULL) == NEGOEX_OK) {
        memset(info, 0, sizeof(*info));
        rc = 0;
    }
    if (rc < 0) {
        info->code = rc;
        return rc;
    }
    if (v->t.supported_mechs.data != NULL) {
        rc = list_texts(v, &v->t.supported_mechs, v->t.supported_mech_count, "supportedMechs", &v->smech_text,
                        &v->smech_oid, info);
        if (rc < 0)
            return rc;
    }

    if (v->t.mech_types.data != NULL && v->t.mech_type_count > 0) {
        v->mech_text = calloc(v->t.mech_type_count, sizeof(*v->mech_text));
        v->mech_oid = calloc(v->t.mech_type_count, sizeof(*v->mech_oid));
        if (v->mech_text == NULL || v->mech_oid == NULL) {
            info->code = NEGOEX_ERR_NO_MEMORY;
            return NEGOEX_ERR_NO_MEMORY;
        }
        negoex_spnego_mech_iter it;
        rc = negoex_spnego_mech_iter_init(&it, &v->t);
        for (size_t i = 0; i < v->t.mech_type_count; i++) {
            if (rc == NEGOEX_OK)
                rc = negoex_spnego_mech_iter_next(&it, &v->mech_oid[i]) == 1 ? NEGOEX_OK : NEGOEX_ERR_INVALID_ARGUMENT;
            if (rc < 0) {
                info->code = rc;
                info->offset = offset_of(v, v->t.mech_types.data);
                info->field = "mechTypes";
                return rc;
            }
            rc = oid_text(v, &v->mech_oid[i], "MechType", &v->mech_text[i], info);
            if (rc < 0)
                return rc;
        }
    }
    if (v->t.supported_mech.data != NULL) {
        rc = oid_text(v, &v->t.supported_mech, "supportedMech", &v->supported_text, info);
        if (rc < 0)
            return rc;
    }

    /* The inner token, and whether it is NEGOEX (see the top of the file). */
    if (is_init(&v->t)) {
        v->inner_name = "mechToken";
        v->inner = &v->t.mech_token;
        if (v->mech_oid != NULL)
            v->inner_mech = v->mech_oid[0];
    } else {
        v->inner_name = "responseToken";
        v->inner = &v->t.response_token;
        v->inner_mech = v->t.supported_mech;
    }
    if (v->inner->data == NULL)
        return 0;
    if (v->inner_mech.data != NULL)
        v->inner_negoex = oid_equal(&v->inner_mech, NEGOEX_OID_DER, NEGOEX_OID_DER_LEN);
    else
        v->inner_negoex = v->inner->len >= strlen(NEGOEX_SIGNATURE) &&
                          memcmp(v->inner->data, NEGOEX_SIGNATURE, strlen(NEGOEX_SIGNATURE)) == 0;
    if (!v->inner_negoex)
        return 0;
    rc = cli_negoex_collect(v->inner->data, v->inner->len, &v->msgs, &v->msg_count, info);
    if (rc < 0) {
        /* Codec offsets are within the inner token; report them within the whole one. */
        info->code = rc;
        info->offset += offset_of(v, v->inner->data);
        snprintf(field, field_cap, "%s NEGOEX %s", v->inner_name,
                 info->field != NULL ? info->field : "token");
        info->field = field;
        return rc;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Text                                                                      */
/* ------------------------------------------------------------------------ */

static void text_mech(FILE *f, const char *text, const negoex_bytes *oid)
{
    const char *name = negoex_oid_name(oid->data, oid->len);

    fputs(text, f);
    if (name != NULL)
        fprintf(f, " (%s)", name);
    fputc('\n', f);
}

/* A GeneralString in quotes: printable ASCII as is, " and \ escaped, other
 * bytes as \xNN in text and \u00NN in JSON (bytes 80..ff become U+0080..U+00FF,
 * Latin-1, so any bytes give valid JSON and map back one to one). */
void cli_quoted_string(FILE *f, const uint8_t *s, size_t len, int json)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"' || s[i] == '\\')
            fprintf(f, "\\%c", s[i]);
        else if (s[i] >= 0x20 && s[i] < 0x7f)
            fputc(s[i], f);
        else
            fprintf(f, json ? "\\u%04x" : "\\x%02x", s[i]);
    }
    fputc('"', f);
}

static void text_string(FILE *f, const uint8_t *s, size_t len)
{
    cli_quoted_string(f, s, len, 0);
}

static int text_inner(FILE *f, const spnego_view *v)
{
    const negoex_bytes *in = v->inner;

    fprintf(f, "  %s: %zu bytes at offset %zu", v->inner_name, in->len, offset_of(v, in->data));
    if (v->inner_negoex) {
        fprintf(f, ", NEGOEX, %zu message%s\n", v->msg_count, v->msg_count == 1 ? "" : "s");
        return cli_negoex_print_text(f, "    ", v->msgs, v->msg_count);
    }
    if (v->inner_mech.data != NULL) {
        const char *name = negoex_oid_name(v->inner_mech.data, v->inner_mech.len);

        if (name != NULL)
            fprintf(f, ", %s", name);
    }
    fputc('\n', f);
    for (size_t i = 0; i < in->len; i += HEX_LINE_BYTES) {
        size_t n = in->len - i < HEX_LINE_BYTES ? in->len - i : HEX_LINE_BYTES;

        fputs("    ", f);
        cli_print_hex(f, in->data + i, n);
        fputc('\n', f);
    }
    return 0;
}

static void text_flags(FILE *f, uint32_t flags)
{
    int first = 1;

    fprintf(f, "  reqFlags: 0x%02" PRIx32, flags);
    for (unsigned bit = 0; bit < 32; bit++) {
        const char *name;

        if (!(flags & ((uint32_t)1 << bit)))
            continue;
        name = negoex_spnego_flag_name(bit);
        fputs(first ? " (" : ", ", f);
        if (name != NULL)
            fputs(name, f);
        else
            fprintf(f, "bit%u", bit);
        first = 0;
    }
    fputs(first ? "\n" : ")\n", f);
}

static void text_mech_list(FILE *f, const char *label, char *const *texts, const negoex_bytes *oids, size_t count)
{
    fprintf(f, "  %s: %zu\n", label, count);
    for (size_t i = 0; i < count; i++) {
        fprintf(f, "    [%zu] ", i);
        text_mech(f, texts[i], &oids[i]);
    }
}

static int print_text(FILE *f, const spnego_view *v)
{
    const negoex_spnego_token *t = &v->t;
    int rc = 0;

    fprintf(f, "SPNEGO %s%s, %zu bytes\n", kind_name(t->kind), t->framed ? " (GSS-framed)" : "", v->len);
    if (t->framed)
        fputs("  thisMech: " NEGOEX_SPNEGO_OID_TEXT " (SPNEGO)\n", f);
    if (is_init(t)) {
        if (v->mech_text != NULL)
            text_mech_list(f, "mechTypes", v->mech_text, v->mech_oid, t->mech_type_count);
        if (t->has_req_flags)
            text_flags(f, t->req_flags);
        if (v->inner->data != NULL)
            rc = text_inner(f, v);
        if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT2 || t->hint_name.data != NULL ||
            t->hint_address.data != NULL) {
            fputs("  negHints:\n", f);
            if (t->hint_name.data != NULL) {
                fputs("    hintName: ", f);
                text_string(f, t->hint_name.data, t->hint_name.len);
                fputc('\n', f);
            }
            if (t->hint_address.data != NULL)
                cli_text_bytes(f, "    ", "hintAddress", t->hint_address.data, t->hint_address.len);
        }
    } else {
        if (t->neg_state != NEGOEX_NEG_STATE_ABSENT) {
            const char *name = negoex_neg_state_name(t->neg_state);

            fprintf(f, "  negState: %s (%d)\n", name != NULL ? name : "unknown", t->neg_state);
        }
        if (v->supported_text != NULL) {
            fputs("  supportedMech: ", f);
            text_mech(f, v->supported_text, &t->supported_mech);
        }
        if (v->inner->data != NULL)
            rc = text_inner(f, v);
    }
    if (rc < 0)
        return rc;
    if (t->mech_list_mic.data != NULL)
        cli_text_bytes(f, "  ", "mechListMIC", t->mech_list_mic.data, t->mech_list_mic.len);
    if (v->smech_text != NULL)
        text_mech_list(f, "supportedMechs (Late Fallback)", v->smech_text, v->smech_oid, t->supported_mech_count);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* JSON: one object; "spnego" on one line, then "negoex" as decode.c prints */
/* it for a NEGOEX token.                                                   */
/* ------------------------------------------------------------------------ */

static void json_hex(FILE *f, const char *key, const negoex_bytes *b)
{
    fprintf(f, ", \"%s\": \"", key);
    cli_print_hex(f, b->data, b->len);
    fputc('"', f);
}

static void json_string(FILE *f, const uint8_t *s, size_t len)
{
    cli_quoted_string(f, s, len, 1);
}

/* ", "key": ["1.2...", ...]" and, with names, ", "key_names": ["Name" or null, ...]" */
static void json_mech_list(FILE *f, const char *key, char *const *texts, const negoex_bytes *oids, size_t count,
                           int names)
{
    fprintf(f, ", \"%s\": [", key);
    for (size_t i = 0; i < count; i++)
        fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", texts[i]);
    fputc(']', f);
    if (!names)
        return;
    fprintf(f, ", \"%s_names\": [", key);
    for (size_t i = 0; i < count; i++) {
        const char *name = negoex_oid_name(oids[i].data, oids[i].len);

        if (name != NULL)
            fprintf(f, "%s\"%s\"", i > 0 ? ", " : "", name);
        else
            fprintf(f, "%snull", i > 0 ? ", " : "");
    }
    fputc(']', f);
}

/* MS-SPNG 3.1.5.4: the Late Fallback OID among the mechanisms, or a
 * supportedMechs field (only Late Fallback sends one). */
static int late_fallback_seen(const spnego_view *v)
{
    if (v->smech_text != NULL)
        return 1;
    for (size_t i = 0; v->mech_oid != NULL && i < v->t.mech_type_count; i++)
        if (oid_equal(&v->mech_oid[i], NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER, NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN))
            return 1;
    return 0;
}

static int print_json(FILE *f, const spnego_view *v, const char *prefix)
{
    const negoex_spnego_token *t = &v->t;
    int rc = 0;

    fprintf(f, "{%s\"spnego\": {\"kind\": \"%s\", \"framed\": %s", prefix != NULL ? prefix : "",
            kind_name(t->kind), t->framed ? "true" : "false");
    if (v->mech_text != NULL)
        json_mech_list(f, "mech_types", v->mech_text, v->mech_oid, t->mech_type_count, 0);
    if (t->has_req_flags) {
        int first = 1;

        fputs(", \"req_flags\": [", f);
        for (unsigned bit = 0; bit < 32; bit++) {
            const char *name;

            if (!(t->req_flags & ((uint32_t)1 << bit)))
                continue;
            name = negoex_spnego_flag_name(bit);
            fputs(first ? "\"" : ", \"", f);
            if (name != NULL)
                fputs(name, f);
            else
                fprintf(f, "bit%u", bit);
            fputc('"', f);
            first = 0;
        }
        fputc(']', f);
    }
    if (t->neg_state != NEGOEX_NEG_STATE_ABSENT) {
        const char *name = negoex_neg_state_name(t->neg_state);

        if (name != NULL)
            fprintf(f, ", \"neg_state\": \"%s\"", name);
        else
            fprintf(f, ", \"neg_state\": %d", t->neg_state);
    }
    if (v->supported_text != NULL)
        fprintf(f, ", \"supported_mech\": \"%s\"", v->supported_text);
    if (v->inner->data != NULL)
        json_hex(f, is_init(t) ? "mech_token" : "response_token", v->inner);
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_INIT2 || t->hint_name.data != NULL || t->hint_address.data != NULL) {
        const char *sep = "";

        fputs(", \"neg_hints\": {", f);
        if (t->hint_name.data != NULL) {
            fputs("\"hint_name\": ", f);
            json_string(f, t->hint_name.data, t->hint_name.len);
            sep = ", ";
        }
        if (t->hint_address.data != NULL) {
            fprintf(f, "%s\"hint_address\": \"", sep);
            cli_print_hex(f, t->hint_address.data, t->hint_address.len);
            fputc('"', f);
        }
        fputc('}', f);
    }
    if (t->mech_list_mic.data != NULL)
        json_hex(f, "mech_list_mic", &t->mech_list_mic);
    if (v->smech_text != NULL)
        json_mech_list(f, "supported_mechs", v->smech_text, v->smech_oid, t->supported_mech_count, 1);
    if (late_fallback_seen(v))
        fputs(", \"late_fallback\": true", f);
    fputc('}', f);
    if (v->inner_negoex) {
        fputs(",\n \"negoex\": ", f);
        rc = cli_negoex_print_json_array(f, v->msgs, v->msg_count);
    }
    fputs("}\n", f);
    return rc;
}

/* ------------------------------------------------------------------------ */

int cli_decode_spnego(FILE *f, const uint8_t *data, size_t len, int json)
{
    return cli_decode_spnego_ex(f, data, len, json, 0, NULL);
}

int cli_decode_spnego_ex(FILE *f, const uint8_t *data, size_t len, int json, int late_fallback,
                         const char *prefix)
{
    spnego_view v;
    negoex_error_info info;
    char field[FIELD_MAX];
    int rc;

    memset(&v, 0, sizeof(v));
    rc = view_build(&v, data, len, &info, field, sizeof(field), late_fallback);
    if (rc < 0) {
        cli_report_codec_error(rc, &info);
        view_free(&v);
        return rc == NEGOEX_ERR_NO_MEMORY ? CLI_EXIT_USAGE : CLI_EXIT_INVALID;
    }
    if (!json && prefix != NULL)
        fputs(prefix, f);
    rc = json ? print_json(f, &v, prefix) : print_text(f, &v);
    view_free(&v);
    if (rc < 0) {
        cli_report_accessor_failure(rc);
        return CLI_EXIT_INVALID;
    }
    return CLI_EXIT_OK;
}

/* ------------------------------------------------------------------------ */
/* Fragments (MS-SPNG 3.1.5.6-3.1.5.11): each input is one fragment; they    */
/* are reassembled with the library's reassembler, then the token decoded.  */
/* ------------------------------------------------------------------------ */

int cli_decode_spnego_fragments(FILE *f, const cli_buffer *frags, size_t count, int json, int late_fallback)
{
    negoex_spnego_reassembler r;
    negoex_error_info info;
    negoex_bytes token = {NULL, 0};
    char field[FIELD_MAX];
    char *prefix = NULL;
    size_t prefix_len = 0, token_len = 0, header_len = 0;
    uint8_t *buf = malloc(NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN);
    FILE *p;
    int rc = NEGOEX_CONTINUE, exit_code;

    if (buf == NULL || negoex_spnego_reassembler_init(&r, buf, NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN) != 0) {
        free(buf);
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    /* The fragments' own checks; the token is decoded (strictly or not) below. */
    r.parse_flags = NEGOEX_SPNEGO_PARSE_LATE_FALLBACK;
    memset(&info, 0, sizeof(info));
    for (size_t i = 0; i < count; i++) {
        if (rc == NEGOEX_COMPLETE) {
            info.code = NEGOEX_ERR_DER_TRAILING;
            info.offset = token.len;
            snprintf(field, sizeof(field), "fragment %zu (after the complete token)", i);
            info.field = field;
            cli_report_codec_error(info.code, &info);
            free(buf);
            return CLI_EXIT_INVALID;
        }
        rc = negoex_spnego_reassembler_feed(&r, frags[i].data, frags[i].len, &token, &info);
        if (rc < 0) {
            snprintf(field, sizeof(field), "fragment %zu %s", i, info.field != NULL ? info.field : "");
            info.field = field;
            cli_report_codec_error(rc, &info);
            free(buf);
            return rc == NEGOEX_ERR_NO_MEMORY ? CLI_EXIT_USAGE : CLI_EXIT_INVALID;
        }
        if (i == 0) {
            negoex_spnego_fragment_header h;

            if (negoex_spnego_fragment_parse(frags[0].data, frags[0].len, &h, NULL) == 0) {
                token_len = h.token_len;
                header_len = h.header_len;
            }
        }
    }
    if (rc != NEGOEX_COMPLETE) {
        info.code = NEGOEX_ERR_DER_TRUNCATED;
        info.offset = r.have;
        snprintf(field, sizeof(field), "fragments (%zu of %zu bytes after %zu fragment%s)", r.have, r.need,
                 r.fragments, r.fragments == 1 ? "" : "s");
        info.field = field;
        cli_report_codec_error(info.code, &info);
        free(buf);
        return CLI_EXIT_INVALID;
    }
    /* What the fragments were, printed only once the token decodes. */
    p = open_memstream(&prefix, &prefix_len);
    if (p == NULL) {
        free(buf);
        cli_error("out of memory");
        return CLI_EXIT_USAGE;
    }
    if (json) {
        size_t at = 0;

        fprintf(p, "\"fragments\": {\"count\": %zu, \"token_length\": %zu, \"header_length\": %zu, \"sizes\": [",
                count, token_len, header_len);
        for (size_t i = 0; i < count; i++)
            fprintf(p, "%s%zu", i > 0 ? ", " : "", frags[i].len);
        fputs("], \"offsets\": [", p);
        for (size_t i = 0; i < count; i++) {
            fprintf(p, "%s%zu", i > 0 ? ", " : "", at);
            at += frags[i].len;
        }
        fputs("]},\n ", p);
    } else {
        size_t at = 0;

        fprintf(p, "SPNEGO fragments: %zu, token %zu bytes (ASN.1 header %zu bytes, in fragment 0)\n", count,
                token_len, header_len);
        for (size_t i = 0; i < count; i++) {
            fprintf(p, "  fragment %zu/%zu: %zu bytes at offset %zu\n", i + 1, count, frags[i].len, at);
            at += frags[i].len;
        }
        fputs("reassembled:\n", p);
    }
    fclose(p);
    exit_code = cli_decode_spnego_ex(f, token.data, token.len, json, late_fallback, prefix);
    free(prefix);
    free(buf);
    return exit_code;
}
