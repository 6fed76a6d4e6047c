/*
 * verify_log: recomputes every NEGOEX VERIFY checksum of a relay.py log.
 *
 * usage: verify_log [--allow-none] [-v] LOG
 *
 * LOG has one line per token in wire order, `i2a <hex>` (initiator to
 * acceptor) or `a2i <hex>`; `result ...` lines, `#` comments and empty lines
 * are skipped. Each token is SPNEGO (its mechToken or responseToken holds the
 * NEGOEX messages; a reject or a MIC-only token holds none) or bare NEGOEX.
 * The transcript is every NEGOEX message on the wire, both directions, in
 * order; a VERIFY's checksum covers the transcript before it. The keys are
 * those of MIT's NEGOEX test mechanism (negoextest, and our `test` scheme):
 * aes256-cts-hmac-sha1-96, 32 bytes all zero except byte 0, which is 1 for
 * the initiator's key (key usage 25) and 0 for the acceptor's (usage 23).
 *
 * Prints one line per VERIFY (`seq N from initiator: ok (scheme GUID)`), one
 * per ALERT, and a summary; with -v also one line per token listing its
 * messages (`i2a token 1: INITIATOR_NEGO[0] ...`). Also checks that the
 * sequence numbers count up from 0 across the transcript.
 *
 * Exit status: 0 if every VERIFY checks, the sequence numbers are in order
 * and there is at least one VERIFY (none is fine with --allow-none);
 * 1 otherwise; 2 for usage errors or an unreadable log.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/negoex.h>
#include <negoex/spnego.h>
#include <negoex/verify.h>

#define KEY_LEN 32

typedef struct buffer {
    uint8_t *data;
    size_t len;
    size_t cap;
} buffer;

static int buffer_append(buffer *b, const uint8_t *p, size_t n)
{
    if (n > SIZE_MAX - b->len)
        return -1;
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) {
            if (cap > SIZE_MAX / 2)
                return -1;
            cap *= 2;
        }
        uint8_t *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    if (n != 0)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static int hex_value(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes hex (no separators) into a fresh buffer; -1 if it is not hex. */
static int hex_decode(const char *s, size_t n, uint8_t **out, size_t *out_len)
{
    if (n % 2 != 0 || n == 0)
        return -1;
    uint8_t *d = malloc(n / 2);
    if (d == NULL)
        return -1;
    for (size_t i = 0; i < n; i += 2) {
        int hi = hex_value((unsigned char)s[i]), lo = hex_value((unsigned char)s[i + 1]);
        if (hi < 0 || lo < 0) {
            free(d);
            return -1;
        }
        d[i / 2] = (uint8_t)(hi << 4 | lo);
    }
    *out = d;
    *out_len = n / 2;
    return 0;
}

typedef struct state {
    buffer transcript;
    int verbose;
    unsigned tokens;
    unsigned messages;
    unsigned verifies;
    unsigned verify_ok;
    unsigned verify_bad;
    unsigned alerts;
    unsigned seq_errors;
    uint32_t next_seq;
} state;

static void print_alerts(const negoex_message *m)
{
    for (size_t k = 0; k < m->u.alert.alert_count; k++) {
        negoex_alert a;
        if (negoex_alert_get(m, k, &a) != NEGOEX_OK)
            continue;
        if (a.is_pulse)
            printf(" pulse reason %u%s", (unsigned)a.reason,
                   a.reason == NEGOEX_ALERT_VERIFY_NO_KEY ? " (VERIFY_NO_KEY)" : "");
        else
            printf(" type %u", (unsigned)a.type);
    }
}

/* Checks one VERIFY sent by `from` against the transcript so far. */
static void check_verify(state *st, const negoex_message *m, int from_initiator)
{
    uint8_t key[KEY_LEN] = {0};
    key[0] = from_initiator ? 1 : 0;
    int32_t usage = from_initiator ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM;
    const char *who = from_initiator ? "initiator" : "acceptor";
    char guid[NEGOEX_GUID_STRING_LEN + 1];
    negoex_guid_format(&m->u.verify.auth_scheme, guid);

    st->verifies++;
    /* The same check as `negoex verify-check` (negoex/verify.h). */
    int rc = negoex_verify_check(m, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96, key, sizeof key, usage,
                                 st->transcript.data, st->transcript.len);
    if (rc == NEGOEX_OK) {
        st->verify_ok++;
        printf("seq %u from %s: ok (scheme %s, checksum type %u, %zu transcript bytes)\n", (unsigned)m->seq, who,
               guid, (unsigned)m->u.verify.checksum_type, st->transcript.len);
    } else {
        st->verify_bad++;
        printf("seq %u from %s: FAILED %s: %s (scheme %s, checksum type %u, %zu transcript bytes)\n",
               (unsigned)m->seq, who, negoex_error_name(rc), negoex_strerror(rc), guid,
               (unsigned)m->u.verify.checksum_type, st->transcript.len);
    }
}

/* The NEGOEX bytes of a wire token: SPNEGO mechToken / responseToken, or
 * the token itself if it is bare NEGOEX. 1 = *inner set, 0 = none carried,
 * -1 = neither SPNEGO nor NEGOEX. */
static int negoex_payload(const uint8_t *tok, size_t len, negoex_bytes *inner, const char **what)
{
    negoex_spnego_token sp;
    if (negoex_spnego_parse(tok, len, &sp, NULL) == NEGOEX_OK) {
        negoex_bytes b = sp.kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP ? sp.response_token : sp.mech_token;
        if (sp.kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP)
            *what = sp.neg_state == NEGOEX_NEG_STATE_REJECT ? "SPNEGO reject" : "SPNEGO negTokenResp";
        else
            *what = "SPNEGO negTokenInit";
        if (b.data == NULL || b.len == 0)
            return 0;
        *inner = b;
        return 1;
    }
    negoex_error_info e;
    if (negoex_token_validate(tok, len, &e) > 0) {
        *what = "NEGOEX";
        *inner = (negoex_bytes){tok, len};
        return 1;
    }
    return -1;
}

/* One wire token. Returns 0, or -1 if it cannot be read. */
static int process_token(state *st, const uint8_t *tok, size_t len, int from_initiator, unsigned lineno)
{
    const char *dir = from_initiator ? "i2a" : "a2i";
    negoex_bytes inner = {NULL, 0};
    const char *what = "";
    st->tokens++;
    int has = negoex_payload(tok, len, &inner, &what);
    if (has < 0) {
        fprintf(stderr, "verify_log: line %u: the %s token is neither SPNEGO nor NEGOEX\n", lineno, dir);
        return -1;
    }
    if (st->verbose)
        printf("%s token %u: %s%s", dir, st->tokens, what, has ? ":" : " (no NEGOEX)");
    if (has == 0) {
        if (st->verbose)
            printf("\n");
        return 0;
    }
    negoex_reader r;
    negoex_message m;
    int rc;
    if (st->verbose) { /* the listing first, then the checks */
        negoex_reader_init(&r, inner.data, inner.len);
        while ((rc = negoex_reader_next(&r, &m)) == 1) {
            const char *name = negoex_message_type_name(m.type);
            printf(" %s[%u]", name != NULL ? name : "?", (unsigned)m.seq);
        }
        printf("\n");
    }
    const char *who = from_initiator ? "initiator" : "acceptor";
    negoex_reader_init(&r, inner.data, inner.len);
    while ((rc = negoex_reader_next(&r, &m)) == 1) {
        st->messages++;
        if (m.seq != st->next_seq) {
            printf("seq %u from %s: out of order (expected seq %u)\n", (unsigned)m.seq, who,
                   (unsigned)st->next_seq);
            st->seq_errors++;
        }
        st->next_seq = m.seq + 1;
        if (m.type == NEGOEX_VERIFY) {
            check_verify(st, &m, from_initiator);
        } else if (m.type == NEGOEX_ALERT) {
            st->alerts++;
            char guid[NEGOEX_GUID_STRING_LEN + 1];
            negoex_guid_format(&m.u.alert.auth_scheme, guid);
            printf("seq %u from %s: ALERT (scheme %s, error 0x%08x,", (unsigned)m.seq, who, guid,
                   (unsigned)m.u.alert.error_code);
            print_alerts(&m);
            printf(")\n");
        }
        if (buffer_append(&st->transcript, m.raw.data, m.raw.len) != 0) {
            fprintf(stderr, "verify_log: out of memory\n");
            return -1;
        }
    }
    if (rc < 0) {
        fprintf(stderr, "verify_log: line %u: bad NEGOEX in the %s token: %s (%s, offset %zu)\n", lineno, dir,
                negoex_error_name(rc), r.error.field != NULL ? r.error.field : "?", r.error.offset);
        return -1;
    }
    return 0;
}

static void usage(FILE *f)
{
    fputs("usage: verify_log [--allow-none] [-v] LOG\n"
          "Recomputes every NEGOEX VERIFY in a relay.py log with the keys of MIT's test\n"
          "mechanism. Exit 0 if all check (and there is at least one, unless --allow-none).\n",
          f);
}

int main(int argc, char **argv)
{
    int allow_none = 0;
    const char *path = NULL;
    state st;
    memset(&st, 0, sizeof st);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--allow-none") == 0) {
            allow_none = 1;
        } else if (strcmp(argv[i], "-v") == 0 || strcmp(argv[i], "--verbose") == 0) {
            st.verbose = 1;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            fprintf(stderr, "verify_log: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        } else if (path == NULL) {
            path = argv[i];
        } else {
            usage(stderr);
            return 2;
        }
    }
    if (path == NULL) {
        usage(stderr);
        return 2;
    }
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        perror(path);
        return 2;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    unsigned lineno = 0;
    int status = 0;
    while ((n = getline(&line, &cap, f)) >= 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' '))
            line[--n] = '\0';
        if (n == 0 || line[0] == '#' || strncmp(line, "result ", 7) == 0)
            continue;
        int from_initiator;
        if (strncmp(line, "i2a ", 4) == 0)
            from_initiator = 1;
        else if (strncmp(line, "a2i ", 4) == 0)
            from_initiator = 0;
        else {
            fprintf(stderr, "verify_log: line %u: not `i2a <hex>`, `a2i <hex>` or `result ...`\n", lineno);
            status = 2;
            break;
        }
        uint8_t *tok;
        size_t len;
        if (hex_decode(line + 4, (size_t)n - 4, &tok, &len) != 0) {
            fprintf(stderr, "verify_log: line %u: the token is not hex\n", lineno);
            status = 2;
            break;
        }
        int rc = process_token(&st, tok, len, from_initiator, lineno);
        free(tok);
        if (rc != 0) {
            status = 1;
            break;
        }
    }
    free(line);
    if (f != stdin)
        fclose(f);
    free(st.transcript.data);

    printf("verify_log: %u tokens, %u NEGOEX messages (%zu transcript bytes), %u ALERT; %u VERIFY: %u ok, %u "
           "failed",
           st.tokens, st.messages, st.transcript.len, st.alerts, st.verifies, st.verify_ok, st.verify_bad);
    if (st.seq_errors)
        printf("; %u sequence numbers out of order", st.seq_errors);
    if (status != 0)
        printf("; log not fully read");
    printf("\n");
    if (status != 0)
        return status;
    if (st.verify_bad != 0 || st.seq_errors != 0)
        return 1;
    if (st.verifies == 0 && !allow_none) {
        printf("verify_log: no VERIFY message (use --allow-none where that is expected)\n");
        return 1;
    }
    return 0;
}
