/*
 * negoex verify-check: which key, key usage and transcript each VERIFY of a
 * captured conversation was made with.
 *
 * Sources disagree on both (../shared/docs/negoex-wire.md): MS-NEGOEX's text
 * gives the initiator usage 23 and the acceptor 25, MIT, Heimdal and Windows
 * use 25 and 23; the transcript is every message before the VERIFY on the
 * wire, where narrower readings have been tried (without ALERTs, without the
 * peer's VERIFY, up to the previous VERIFY, one direction only, one auth
 * scheme only). This tool tries each and says which one the bytes match.
 * The checksum itself is the library's (negoex_verify_check, verify.h).
 */
#include "cli.h"

#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/spnego.h>
#include <negoex/verify.h>

int cli_verify_check(int argc, char **argv);

#define MAX_KEY 64

typedef struct vc_msg {
    negoex_message m; /* views into its token */
    int from_initiator;
    unsigned token;   /* 1-based token number */
} vc_msg;

typedef struct vc_state {
    uint8_t **tokens; /* the tokens' NEGOEX bytes (kept: the messages point into them) */
    size_t token_count;
    vc_msg *msgs;
    size_t count, cap;
    int last_from_initiator; /* -1 before the first token */
} vc_state;

/* The transcripts tried, in this order (the settled rule first). */
enum { T_ALL, T_TO_PREV_VERIFY, T_NO_ALERTS, T_NO_VERIFIES, T_SCHEME_ONLY, T_SENT_ONLY, T_RECEIVED_ONLY, T_COUNT };

static const char *const T_NAMES[T_COUNT] = {
    "all",              /* every message before it, both directions (MS-NEGOEX, MIT, Windows) */
    "to-prev-verify",   /* up to and including the previous VERIFY */
    "no-alerts",        /* every message before it but the ALERTs */
    "no-verifies",      /* ... but earlier VERIFYs */
    "scheme-only",      /* NEGOs and this auth scheme's messages only */
    "sent-only",        /* only what the VERIFY's sender sent */
    "received-only",    /* only what it received */
};

static void usage(FILE *f)
{
    fputs("usage: negoex verify-check --key HEX [--key2 HEX] [--enctype N] [--json] [CONVERSATION|-]\n"
          "\n"
          "For each NEGOEX VERIFY of a conversation, finds the key (--key, --key2), the\n"
          "key usage (25, 23) and the transcript it was computed over.\n"
          "CONVERSATION has one token per line in wire order: hex, base64, `Negotiate <b64>`\n"
          "(an HTTP header line), `TOKEN <hex>`, or relay.py's `i2a <hex>` / `a2i <hex>`;\n"
          "`#` comments, `result` lines and empty lines are skipped. SPNEGO tokens are\n"
          "unwrapped to their NEGOEX messages. Without i2a/a2i, a token's direction comes\n"
          "from its message types, else it alternates (the first is the initiator's).\n"
          "Transcripts tried: all (every message before the VERIFY), to-prev-verify,\n"
          "no-alerts, no-verifies, scheme-only, sent-only, received-only.\n"
          "--enctype N: 17 or 18; default: the one of the VERIFY's checksum type.\n"
          "Exit status: 0 every VERIFY matched, 1 one matched nothing, 2 usage or input error.\n",
          f);
}

static int parse_key(const char *hex, uint8_t *key, size_t *len)
{
    uint8_t *k = NULL;
    size_t n = 0;
    if (cli_hex_decode(hex, strlen(hex), &k, &n) != 0 || n == 0 || n > MAX_KEY) {
        free(k);
        return -1;
    }
    memcpy(key, k, n);
    *len = n;
    free(k);
    return 0;
}

/* The direction a token's messages imply: 1 initiator, 0 acceptor, -1 none
 * (VERIFY and ALERT go both ways). */
static int implied_direction(const uint8_t *tok, size_t len)
{
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, tok, len);
    while (negoex_reader_next(&r, &m) == 1) {
        switch (m.type) {
        case NEGOEX_INITIATOR_NEGO:
        case NEGOEX_INITIATOR_META_DATA:
        case NEGOEX_AP_REQUEST:
            return 1;
        case NEGOEX_ACCEPTOR_NEGO:
        case NEGOEX_ACCEPTOR_META_DATA:
        case NEGOEX_CHALLENGE:
            return 0;
        default:
            break;
        }
    }
    return -1;
}

/* Decodes the token of one line into a fresh buffer. 0, or -1 (not a token). */
static int line_token(const char *line, size_t n, int *dir, uint8_t **out, size_t *out_len)
{
    *dir = -1;
    if (n > 4 && (strncmp(line, "i2a ", 4) == 0 || strncmp(line, "a2i ", 4) == 0)) {
        *dir = line[0] == 'i';
        line += 4;
        n -= 4;
    } else if (n > 6 && strncmp(line, "TOKEN ", 6) == 0) {
        line += 6;
        n -= 6;
    }
    size_t off = 0, vlen = 0;
    if (cli_http_negotiate_value((const uint8_t *)line, n, &off, &vlen)) {
        cli_buffer b = {malloc(vlen ? vlen : 1), vlen};
        if (b.data == NULL)
            return -1;
        memcpy(b.data, line + off, vlen);
        if (vlen == 0 || cli_decode_in_place(&b, CLI_INPUT_BASE64) != 0) {
            cli_buffer_free(&b);
            return -1;
        }
        *out = b.data;
        *out_len = b.len;
        return 0;
    }
    cli_input_format fmt = cli_detect_format((const uint8_t *)line, n);
    if (fmt == CLI_INPUT_BINARY)
        return -1;
    cli_buffer b = {malloc(n), n};
    if (b.data == NULL)
        return -1;
    memcpy(b.data, line, n);
    if (cli_decode_in_place(&b, fmt) != 0 || b.len == 0) {
        cli_buffer_free(&b);
        return -1;
    }
    *out = b.data;
    *out_len = b.len;
    return 0;
}

/* Adds one wire token (SPNEGO or bare NEGOEX). 0, or -1 after an error line. */
static int add_token(vc_state *st, uint8_t *tok, size_t len, int dir, unsigned lineno)
{
    negoex_bytes inner = {NULL, 0};
    negoex_spnego_token sp;
    if (negoex_spnego_parse(tok, len, &sp, NULL) == NEGOEX_OK) {
        inner = sp.kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP ? sp.response_token : sp.mech_token;
    } else {
        negoex_error_info e;
        int rc = negoex_token_validate(tok, len, &e);
        if (rc <= 0) {
            cli_error("line %u: neither SPNEGO nor NEGOEX (%s at offset %zu)", lineno, negoex_error_name(rc),
                      e.offset);
            free(tok);
            return -1;
        }
        inner = (negoex_bytes){tok, len};
    }
    uint8_t **t = realloc(st->tokens, (st->token_count + 1) * sizeof *t);
    if (t == NULL) {
        free(tok);
        cli_error("out of memory");
        return -1;
    }
    st->tokens = t;
    st->tokens[st->token_count++] = tok;
    if (dir < 0 && inner.len != 0)
        dir = implied_direction(inner.data, inner.len);
    if (dir < 0)
        dir = st->last_from_initiator < 0 ? 1 : !st->last_from_initiator;
    st->last_from_initiator = dir;
    if (inner.len == 0)
        return 0;
    negoex_error_info e;
    if (negoex_token_validate(inner.data, inner.len, &e) <= 0) {
        cli_error("line %u: bad NEGOEX inside the token: %s (%s, offset %zu)", lineno,
                  negoex_error_name(negoex_token_validate(inner.data, inner.len, NULL)), e.field ? e.field : "?",
                  e.offset);
        return -1;
    }
    negoex_reader r;
    negoex_message m;
    negoex_reader_init(&r, inner.data, inner.len);
    while (negoex_reader_next(&r, &m) == 1) {
        if (st->count == st->cap) {
            size_t cap = st->cap ? st->cap * 2 : 32;
            vc_msg *nm = realloc(st->msgs, cap * sizeof *nm);
            if (nm == NULL) {
                cli_error("out of memory");
                return -1;
            }
            st->msgs = nm;
            st->cap = cap;
        }
        st->msgs[st->count++] = (vc_msg){m, dir, (unsigned)st->token_count};
    }
    return 0;
}

static const negoex_guid *msg_scheme(const negoex_message *m)
{
    switch (negoex_message_structure(m->type)) {
    case NEGOEX_STRUCT_EXCHANGE:
        return &m->u.exchange.auth_scheme;
    case NEGOEX_STRUCT_VERIFY:
        return &m->u.verify.auth_scheme;
    case NEGOEX_STRUCT_ALERT:
        return &m->u.alert.auth_scheme;
    default:
        return NULL;
    }
}

/* Transcript variant t for the VERIFY at index v into *buf (malloc'd).
 * Returns 0, 1 when the variant does not apply, -1 out of memory. */
static int transcript(const vc_state *st, size_t v, int t, uint8_t **buf, size_t *len)
{
    const vc_msg *ver = &st->msgs[v];
    size_t end = v;
    if (t == T_TO_PREV_VERIFY) {
        size_t p = v;
        while (p > 0 && st->msgs[p - 1].m.type != NEGOEX_VERIFY)
            p--;
        if (p == 0)
            return 1; /* no earlier VERIFY */
        end = p;
    }
    size_t total = 0;
    for (size_t i = 0; i < end; i++)
        total += st->msgs[i].m.raw.len;
    uint8_t *b = malloc(total ? total : 1);
    if (b == NULL)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < end; i++) {
        const vc_msg *x = &st->msgs[i];
        const negoex_guid *g = msg_scheme(&x->m);
        int keep = 1;
        switch (t) {
        case T_NO_ALERTS:
            keep = x->m.type != NEGOEX_ALERT;
            break;
        case T_NO_VERIFIES:
            keep = x->m.type != NEGOEX_VERIFY;
            break;
        case T_SCHEME_ONLY:
            keep = g == NULL || negoex_guid_equal(g, &ver->m.u.verify.auth_scheme);
            break;
        case T_SENT_ONLY:
            keep = x->from_initiator == ver->from_initiator;
            break;
        case T_RECEIVED_ONLY:
            keep = x->from_initiator != ver->from_initiator;
            break;
        default:
            break;
        }
        if (keep) {
            memcpy(b + n, x->m.raw.data, x->m.raw.len);
            n += x->m.raw.len;
        }
    }
    *buf = b;
    *len = n;
    return 0;
}

typedef struct vc_keys {
    const uint8_t *key[2];
    size_t len[2];
    size_t count;
    int32_t enctype; /* 0: from the checksum type */
} vc_keys;

typedef struct vc_match {
    int key;   /* 0 --key, 1 --key2 */
    int32_t usage;
    int t;
    size_t bytes;
} vc_match;

#define MAX_MATCHES (2 * 2 * T_COUNT)

/* Every (transcript, usage, key) the VERIFY at v matches, preference order.
 * Returns the count, or a negative error that rules out every candidate
 * (an unkeyed or unknown checksum type, a key of the wrong size, ...). */
static int explain(const vc_state *st, size_t v, const vc_keys *k, vc_match *out, int *last_error)
{
    const vc_msg *ver = &st->msgs[v];
    int32_t usages[2];
    usages[0] = ver->from_initiator ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM;
    usages[1] = ver->from_initiator ? NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM : NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM;
    uint8_t *seen[T_COUNT] = {NULL};
    size_t seen_len[T_COUNT] = {0};
    int n = 0, tried_ok = 0;
    *last_error = 0;
    for (int t = 0; t < T_COUNT; t++) {
        uint8_t *b = NULL;
        size_t blen = 0;
        int rc = transcript(st, v, t, &b, &blen);
        if (rc < 0) {
            n = NEGOEX_ERR_NO_MEMORY;
            break;
        }
        if (rc > 0)
            continue;
        int dup = 0; /* the same bytes as a variant tried before: named by that one */
        for (int u = 0; u < t && !dup; u++)
            dup = seen[u] != NULL && seen_len[u] == blen && memcmp(seen[u], b, blen) == 0;
        if (dup) {
            free(b);
            continue;
        }
        seen[t] = b;
        seen_len[t] = blen;
        for (int u = 0; u < 2; u++) {
            for (size_t j = 0; j < k->count; j++) {
                int r = negoex_verify_check(&ver->m, k->enctype, k->key[j], k->len[j], usages[u], b, blen);
                if (r == 0 || r == NEGOEX_ERR_CHECKSUM_MISMATCH)
                    tried_ok = 1;
                else
                    *last_error = r;
                if (r == 0 && n < MAX_MATCHES)
                    out[n++] = (vc_match){(int)j, usages[u], t, blen};
            }
        }
    }
    for (int t = 0; t < T_COUNT; t++)
        free(seen[t]);
    if (n == 0 && !tried_ok && *last_error != 0)
        return *last_error;
    return n;
}

static const char *who(int from_initiator)
{
    return from_initiator ? "initiator" : "acceptor";
}

int cli_verify_check(int argc, char **argv)
{
    uint8_t key1[MAX_KEY], key2[MAX_KEY];
    vc_keys keys;
    memset(&keys, 0, sizeof keys);
    int json = 0, have_key2 = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        } else if (strcmp(a, "--json") == 0) {
            json = 1;
        } else if (strcmp(a, "--key") == 0 || strcmp(a, "--key2") == 0 || strcmp(a, "--enctype") == 0) {
            if (i + 1 >= argc) {
                cli_error("%s needs a value", a);
                return CLI_EXIT_USAGE;
            }
            const char *v = argv[++i];
            if (strcmp(a, "--enctype") == 0) {
                char *end;
                long e = strtol(v, &end, 10);
                if (*v == '\0' || *end != '\0' || (e != NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96 &&
                                                   e != NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96)) {
                    cli_error("--enctype takes 17 or 18");
                    return CLI_EXIT_USAGE;
                }
                keys.enctype = (int32_t)e;
            } else {
                int second = strcmp(a, "--key2") == 0;
                size_t *len = &keys.len[second];
                if (parse_key(v, second ? key2 : key1, len) != 0) {
                    cli_error("%s takes a key in hex (1 to %d bytes)", a, MAX_KEY);
                    return CLI_EXIT_USAGE;
                }
                have_key2 |= second;
                keys.key[second] = second ? key2 : key1;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error("unknown option '%s'", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        } else if (path == NULL) {
            path = a;
        } else {
            cli_error("one conversation at a time");
            return CLI_EXIT_USAGE;
        }
    }
    if (keys.key[0] == NULL) {
        cli_error("--key is required");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    keys.count = have_key2 ? 2 : 1;

    FILE *f = path == NULL || strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        cli_error("cannot open %s", path);
        return CLI_EXIT_USAGE;
    }
    vc_state st;
    memset(&st, 0, sizeof st);
    st.last_from_initiator = -1;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int status = CLI_EXIT_OK;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        size_t s = 0, e = (size_t)n;
        while (s < e && (line[s] == ' ' || line[s] == '\t'))
            s++;
        while (e > s && (line[e - 1] == '\n' || line[e - 1] == '\r' || line[e - 1] == ' ' || line[e - 1] == '\t'))
            e--;
        line[e] = '\0';
        const char *l = line + s;
        if (e == s || l[0] == '#' || strncmp(l, "result ", 7) == 0)
            continue;
        int dir;
        uint8_t *tok;
        size_t tl;
        if (line_token(l, e - s, &dir, &tok, &tl) != 0) {
            cli_error("line %u: not a token (hex, base64, Negotiate <b64>, i2a/a2i <hex>)", lineno);
            status = CLI_EXIT_USAGE;
            break;
        }
        if (add_token(&st, tok, tl, dir, lineno) != 0) {
            status = CLI_EXIT_USAGE;
            break;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);

    unsigned verifies = 0, matched = 0;
    if (status == CLI_EXIT_OK) {
        if (json)
            printf("{\"verifies\": [");
        for (size_t v = 0; v < st.count; v++) {
            const negoex_message *m = &st.msgs[v].m;
            if (m->type != NEGOEX_VERIFY)
                continue;
            vc_match found[MAX_MATCHES];
            int err = 0;
            int nm = explain(&st, v, &keys, found, &err);
            char guid[NEGOEX_GUID_STRING_LEN + 1];
            negoex_guid_format(&m->u.verify.auth_scheme, guid);
            int enctype = keys.enctype ? keys.enctype : negoex_verify_enctype(m->u.verify.checksum_type);
            const char *from = who(st.msgs[v].from_initiator);
            matched += nm > 0;
            if (json) {
                printf("%s\n  {\"seq\": %u, \"from\": \"%s\", \"token\": %u, \"scheme\": \"%s\", \"checksum_type\": %u, "
                       "\"enctype\": %d, \"match\": ",
                       verifies ? "," : "", (unsigned)m->seq, from, st.msgs[v].token, guid,
                       (unsigned)m->u.verify.checksum_type, enctype);
                if (nm > 0)
                    printf("{\"key\": \"%s\", \"usage\": %d, \"transcript\": \"%s\", \"transcript_bytes\": %zu}",
                           found[0].key ? "key2" : "key", (int)found[0].usage, T_NAMES[found[0].t], found[0].bytes);
                else
                    printf("null");
                printf(", \"matches\": [");
                for (int i = 0; i < nm; i++)
                    printf("%s{\"key\": \"%s\", \"usage\": %d, \"transcript\": \"%s\", \"transcript_bytes\": %zu}",
                           i ? ", " : "", found[i].key ? "key2" : "key", (int)found[i].usage, T_NAMES[found[i].t],
                           found[i].bytes);
                printf("]");
                if (nm < 0)
                    printf(", \"error\": \"%s\"", negoex_error_name(nm));
                printf("}");
            } else {
                printf("seq %u from %s (token %u, scheme %s, checksum type %u, enctype %d): ", (unsigned)m->seq, from,
                       st.msgs[v].token, guid, (unsigned)m->u.verify.checksum_type, enctype);
                if (nm > 0) {
                    printf("match key=%s usage=%d transcript=%s (%zu bytes)", found[0].key ? "key2" : "key",
                           (int)found[0].usage, T_NAMES[found[0].t], found[0].bytes);
                    if (nm > 1) {
                        printf("; also");
                        for (int i = 1; i < nm; i++)
                            printf(" %s/%d/%s", found[i].key ? "key2" : "key", (int)found[i].usage,
                                   T_NAMES[found[i].t]);
                    }
                    printf("\n");
                } else if (nm == 0) {
                    printf("no match (tried %zu key%s x usages 25, 23 x %d transcripts)\n", keys.count,
                           keys.count > 1 ? "s" : "", T_COUNT);
                } else {
                    printf("no match: %s: %s\n", negoex_error_name(nm), negoex_strerror(nm));
                }
            }
            verifies++;
        }
        if (json)
            printf("%s], \"tokens\": %zu, \"messages\": %zu, \"verify_count\": %u, \"matched\": %u, \"unmatched\": %u}\n",
                   verifies ? "\n" : "", st.token_count, st.count, verifies, matched, verifies - matched);
        else
            printf("verify-check: %zu tokens, %zu NEGOEX messages, %u VERIFY: %u matched, %u unmatched\n",
                   st.token_count, st.count, verifies, matched, verifies - matched);
        if (matched < verifies)
            status = CLI_EXIT_INVALID;
    }
    for (size_t i = 0; i < st.token_count; i++)
        free(st.tokens[i]);
    free(st.tokens);
    free(st.msgs);
    return status;
}
