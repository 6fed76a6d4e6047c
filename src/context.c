/*
 * The NEGOEX conversation (docs/wire.md "Conversation rules").
 *
 * A step runs in two phases: the peer's messages are checked and handed to
 * the schemes in wire order, then our reply is emitted (NEGO, META_DATA, the
 * scheme's token, ALERT, VERIFY) so that the transcript keeps wire order.
 * Everything the context owns is snapshotted before a step and restored if
 * the token is rejected; schemes are stepped on clones for the same reason.
 */
#include <negoex/context.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "checksum.h"
#include "context_internal.h"

#define DEFAULT_MAX_TOKEN ((size_t)1 << 20)
#define DEFAULT_MAX_TRANSCRIPT ((size_t)4 << 20)
#define DEFAULT_MAX_SCHEMES 16
#define NEGOEX_MAX_SCHEMES 255 /* bounds the NEGO list we build on the stack */
#define NO_META SIZE_MAX

enum phase {
    PHASE_START,    /* nothing sent or received yet */
    PHASE_EXCHANGE, /* NEGO sent/received; scheme tokens flowing */
    PHASE_COMPLETE
};

/* Per local scheme, rolled back with the rest of the state. */
struct scheme_flags {
    uint8_t active;      /* not dropped (metadata or optimistic step failed) */
    uint8_t peer_listed; /* named in the peer's NEGO */
};

/* Everything a rejected token must not change, besides the schemes. */
struct conv_state {
    enum phase phase;
    int have_conv_id;
    negoex_guid conv_id;
    uint32_t next_seq;
    int selected;         /* index of the negotiated scheme, or -1 */
    int optimistic;       /* initiator: index the optimistic token was for, or -1 */
    int scheme_started;   /* the selected/optimistic scheme has been stepped */
    int scheme_complete;
    int sent_verify;
    int peer_verified;
    size_t transcript_len;
};

struct negoex_context {
    negoex_role role;
    negoex_config cfg;
    const negoex_allocator *alloc;
    negoex_allocator alloc_copy;
    int failed; /* a scheme without clone saw a rejected token, or a scheme failed */

    size_t nschemes;
    negoex_scheme **schemes;   /* committed */
    negoex_scheme **work;      /* clones used during a step (NULL = untouched) */
    struct scheme_flags *flags, *saved_flags;
    int touched_unclonable;

    struct conv_state st, saved;
    negoex_buf transcript;
    negoex_buf out;

    /* per-step scratch */
    negoex_buf meta;           /* metadata payloads, back to back */
    size_t *meta_off, *meta_len;
    negoex_buf step_out;       /* the scheme's token for this step */
    int have_step_out;
    int alert_pending;
    int send_nego;             /* acceptor: reply starts with ACCEPTOR_NEGO */
    int have_nego_random;      /* initiator: nego_random drawn with the conversation ID */
    uint8_t nego_random[NEGOEX_RANDOM_LEN];
    negoex_error_info last_error;
};

/* ------------------------------------------------------------------------ */

void negoex_config_init(negoex_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->max_token_size = DEFAULT_MAX_TOKEN;
    cfg->max_transcript_size = DEFAULT_MAX_TRANSCRIPT;
    cfg->max_schemes = DEFAULT_MAX_SCHEMES;
    cfg->optimistic = 1;
}

static int default_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    return len <= INT32_MAX && RAND_bytes(out, (int)len) == 1 ? 0 : -1;
}

static int is_initiator(const negoex_context *ctx)
{
    return ctx->role == NEGOEX_ROLE_INITIATOR;
}

int negoex_context_new(negoex_context **out, negoex_role role, const negoex_config *cfg)
{
    if (out == NULL || (role != NEGOEX_ROLE_INITIATOR && role != NEGOEX_ROLE_ACCEPTOR))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    negoex_config c;
    negoex_config_init(&c);
    if (cfg != NULL) {
        if (cfg->struct_size < sizeof c)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        c = *cfg;
        c.struct_size = sizeof c;
    }
    if (c.allocator != NULL && (c.allocator->alloc == NULL || c.allocator->realloc == NULL ||
                                c.allocator->free == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (c.max_schemes == 0 || c.max_schemes > NEGOEX_MAX_SCHEMES || c.max_token_size == 0 ||
        c.max_transcript_size == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (c.rng == NULL)
        c.rng = default_rng;

    negoex_context *ctx = negoex_mem_alloc(c.allocator, sizeof *ctx);
    if (ctx == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(ctx, 0, sizeof *ctx);
    ctx->role = role;
    ctx->cfg = c;
    if (c.allocator != NULL) {
        ctx->alloc_copy = *c.allocator;
        ctx->alloc = &ctx->alloc_copy;
        ctx->cfg.allocator = ctx->alloc;
    }
    size_t n = c.max_schemes;
    ctx->schemes = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->schemes);
    ctx->work = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->work);
    ctx->flags = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->flags);
    ctx->saved_flags = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->saved_flags);
    ctx->meta_off = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->meta_off);
    ctx->meta_len = negoex_mem_alloc(ctx->alloc, n * sizeof *ctx->meta_len);
    negoex_buf_init(&ctx->transcript, ctx->alloc);
    negoex_buf_init(&ctx->out, ctx->alloc);
    negoex_buf_init(&ctx->meta, ctx->alloc);
    negoex_buf_init(&ctx->step_out, ctx->alloc);
    if (ctx->schemes == NULL || ctx->work == NULL || ctx->flags == NULL || ctx->saved_flags == NULL ||
        ctx->meta_off == NULL || ctx->meta_len == NULL) {
        negoex_context_free(ctx);
        return NEGOEX_ERR_NO_MEMORY;
    }
    memset(ctx->work, 0, n * sizeof *ctx->work);
    ctx->st.selected = -1;
    ctx->st.optimistic = -1;
    *out = ctx;
    return NEGOEX_OK;
}

static void destroy_scheme(negoex_scheme *s)
{
    if (s != NULL && s->cls != NULL && s->cls->destroy != NULL)
        s->cls->destroy(s);
}

void negoex_context_free(negoex_context *ctx)
{
    if (ctx == NULL)
        return;
    const negoex_allocator *a = ctx->alloc;
    for (size_t i = 0; i < ctx->nschemes; i++) {
        if (ctx->work != NULL)
            destroy_scheme(ctx->work[i]);
        destroy_scheme(ctx->schemes[i]);
    }
    negoex_buf_free(&ctx->transcript);
    negoex_buf_free(&ctx->out);
    negoex_buf_free(&ctx->meta);
    negoex_buf_free(&ctx->step_out);
    negoex_mem_free(a, ctx->schemes);
    negoex_mem_free(a, ctx->work);
    negoex_mem_free(a, ctx->flags);
    negoex_mem_free(a, ctx->saved_flags);
    negoex_mem_free(a, ctx->meta_off);
    negoex_mem_free(a, ctx->meta_len);
    /* The allocator copy lives inside the block being wiped. */
    negoex_allocator copy = ctx->alloc_copy;
    negoex_mem_free_secret(a != NULL ? &copy : NULL, ctx, sizeof *ctx);
}

int negoex_context_add_scheme(negoex_context *ctx, negoex_scheme *scheme)
{
    if (ctx == NULL || scheme == NULL || scheme->cls == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const negoex_scheme_class *c = scheme->cls;
    if (c->api_version != NEGOEX_SCHEME_API_VERSION || c->query_meta_data == NULL ||
        c->exchange_meta_data == NULL || c->step == NULL || c->get_key == NULL || c->reset == NULL ||
        c->destroy == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (ctx->st.phase != PHASE_START || ctx->failed)
        return NEGOEX_ERR_UNEXPECTED_MESSAGE;
    if (ctx->nschemes >= ctx->cfg.max_schemes)
        return NEGOEX_ERR_TOO_MANY_SCHEMES;
    for (size_t i = 0; i < ctx->nschemes; i++)
        if (negoex_guid_equal(&ctx->schemes[i]->auth_scheme, &scheme->auth_scheme))
            return NEGOEX_ERR_DUPLICATE_SCHEME;
    ctx->schemes[ctx->nschemes] = scheme;
    ctx->work[ctx->nschemes] = NULL;
    ctx->flags[ctx->nschemes].active = 1;
    ctx->flags[ctx->nschemes].peer_listed = 0;
    ctx->nschemes++;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Schemes seen through the step's working copies.                           */

static negoex_scheme *scheme_at(const negoex_context *ctx, int i)
{
    return ctx->work[i] != NULL ? ctx->work[i] : ctx->schemes[i];
}

/* The scheme to call a mutating method on: a clone made on first use. */
static int scheme_mut(negoex_context *ctx, int i, negoex_scheme **out)
{
    if (ctx->work[i] == NULL) {
        negoex_scheme *orig = ctx->schemes[i];
        if (orig->cls->clone == NULL) {
            ctx->touched_unclonable = 1;
            *out = orig;
            return NEGOEX_OK;
        }
        negoex_scheme *copy = NULL;
        int rc = orig->cls->clone(orig, &copy);
        if (rc < 0 || copy == NULL)
            return rc < 0 ? rc : NEGOEX_ERR_NO_MEMORY;
        ctx->work[i] = copy;
    }
    *out = ctx->work[i];
    return NEGOEX_OK;
}

static int find_scheme(const negoex_context *ctx, const negoex_guid *g)
{
    for (size_t i = 0; i < ctx->nschemes; i++)
        if (negoex_guid_equal(&ctx->schemes[i]->auth_scheme, g))
            return (int)i;
    return -1;
}

static int current_scheme(const negoex_context *ctx)
{
    return ctx->st.selected >= 0 ? ctx->st.selected : ctx->st.optimistic;
}

/* ------------------------------------------------------------------------ */
/* Trace                                                                     */

static void trace_message(const negoex_context *ctx, const char *dir, const uint8_t *raw, size_t len)
{
    if (ctx->cfg.trace == NULL)
        return;
    negoex_message m;
    if (negoex_parse_message(raw, len, 0, &m, NULL) != NEGOEX_OK)
        return;
    char line[512];
    int n = snprintf(line, sizeof line, "%s [%u]%s:", dir, (unsigned)m.seq, negoex_message_type_name(m.type));
    char g[NEGOEX_GUID_STRING_LEN + 1];
    negoex_guid guid;
    if (negoex_message_structure(m.type) == NEGOEX_STRUCT_NEGO) {
        for (size_t i = 0; i < m.u.nego.auth_scheme_count && n > 0 && (size_t)n < sizeof line - 40; i++) {
            if (negoex_nego_auth_scheme(&m, i, &guid) == NEGOEX_OK) {
                negoex_guid_format(&guid, g);
                n += snprintf(line + n, sizeof line - (size_t)n, " %s", g);
            }
        }
    } else if (negoex_message_auth_scheme(&m, &guid) == NEGOEX_OK && n > 0) {
        negoex_guid_format(&guid, g);
        n += snprintf(line + n, sizeof line - (size_t)n, " %s", g);
    }
    if (n > 0 && (size_t)n < sizeof line)
        snprintf(line + n, sizeof line - (size_t)n, " (%zu bytes)", len);
    ctx->cfg.trace(ctx->cfg.trace_ud, line);
}

/* ------------------------------------------------------------------------ */
/* Emitting our messages: into the output token and the transcript.          */

static int transcript_room(negoex_context *ctx, size_t n)
{
    if (n > ctx->cfg.max_transcript_size - ctx->transcript.len ||
        ctx->transcript.len > ctx->cfg.max_transcript_size)
        return NEGOEX_ERR_TRANSCRIPT_TOO_LARGE;
    if (n > ctx->cfg.max_token_size - ctx->out.len || ctx->out.len > ctx->cfg.max_token_size)
        return NEGOEX_ERR_TOKEN_TOO_LARGE;
    return NEGOEX_OK;
}

/* Commits a message just written at the end of ctx->out (len bytes). */
static int sent(negoex_context *ctx, size_t len)
{
    const uint8_t *msg = ctx->out.data + ctx->out.len;
    int rc = negoex_buf_append(&ctx->transcript, msg, len);
    if (rc != NEGOEX_OK)
        return rc;
    ctx->out.len += len;
    ctx->st.next_seq++;
    trace_message(ctx, "sending", msg, len);
    return NEGOEX_OK;
}

/* One message we send: its type and the fields its structure needs. */
struct out_msg {
    uint32_t type;
    int scheme;                       /* index; unused for NEGO */
    const uint8_t *data;              /* exchange bytes or checksum */
    size_t len;
    uint32_t checksum_type;
    const uint8_t *random;            /* NEGO */
    const negoex_guid *schemes;       /* NEGO */
    size_t scheme_count;
    const negoex_alert *alert;        /* ALERT (one) */
};

static int write_out(const negoex_context *ctx, const struct out_msg *m, uint8_t *buf, size_t cap, size_t *need)
{
    negoex_header_fields h;
    h.seq = ctx->st.next_seq;
    h.conversation_id = ctx->st.conv_id;
    const negoex_guid *g = m->scheme >= 0 ? &ctx->schemes[m->scheme]->auth_scheme : NULL;
    switch (negoex_message_structure(m->type)) {
    case NEGOEX_STRUCT_NEGO:
        return negoex_write_nego(buf, cap, need, m->type, &h, m->random, m->schemes, m->scheme_count, NULL, 0);
    case NEGOEX_STRUCT_EXCHANGE:
        return negoex_write_exchange(buf, cap, need, m->type, &h, g, m->data, m->len);
    case NEGOEX_STRUCT_VERIFY:
        return negoex_write_verify(buf, cap, need, &h, g, m->checksum_type, m->data, m->len);
    default:
        return negoex_write_alert(buf, cap, need, &h, g, 0, m->alert, 1);
    }
}

/* Writes a message at the end of the output token and records it. */
static int emit(negoex_context *ctx, const struct out_msg *m)
{
    size_t need;
    uint8_t *at;
    int rc = write_out(ctx, m, NULL, 0, &need);
    if (rc == NEGOEX_OK)
        rc = transcript_room(ctx, need);
    if (rc == NEGOEX_OK)
        rc = negoex_buf_reserve(&ctx->out, need, &at);
    if (rc == NEGOEX_OK)
        rc = write_out(ctx, m, at, need, &need);
    return rc == NEGOEX_OK ? sent(ctx, need) : rc;
}

static int emit_exchange(negoex_context *ctx, uint32_t type, int idx, const uint8_t *data, size_t len)
{
    struct out_msg m = {.type = type, .scheme = idx, .data = data, .len = len};
    return emit(ctx, &m);
}

static int emit_nego(negoex_context *ctx)
{
    uint8_t random[NEGOEX_RANDOM_LEN];
    if (ctx->have_nego_random) {
        memcpy(random, ctx->nego_random, sizeof random);
        ctx->have_nego_random = 0;
    } else if (ctx->cfg.rng(ctx->cfg.rng_ud, random, sizeof random) != 0) {
        return NEGOEX_ERR_RNG;
    }
    /* The schemes we offer (initiator) or share (acceptor), in our order. */
    negoex_guid list[NEGOEX_MAX_SCHEMES];
    size_t n = 0;
    for (size_t i = 0; i < ctx->nschemes; i++)
        if (ctx->flags[i].active)
            list[n++] = ctx->schemes[i]->auth_scheme;
    struct out_msg m = {.type = is_initiator(ctx) ? NEGOEX_INITIATOR_NEGO : NEGOEX_ACCEPTOR_NEGO,
                        .scheme = -1, .random = random, .schemes = list, .scheme_count = n};
    return emit(ctx, &m);
}

static int emit_alert_pulse(negoex_context *ctx, int idx)
{
    uint8_t pulse[NEGOEX_ALERT_PULSE_LEN];
    negoex_encode_pulse(pulse, NEGOEX_ALERT_VERIFY_NO_KEY);
    negoex_alert a;
    memset(&a, 0, sizeof a);
    a.type = NEGOEX_ALERT_TYPE_PULSE;
    a.value.data = pulse;
    a.value.len = sizeof pulse;
    struct out_msg m = {.type = NEGOEX_ALERT, .scheme = idx, .alert = &a};
    return emit(ctx, &m);
}

static int own_usage(const negoex_context *ctx)
{
    return is_initiator(ctx) ? NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM : NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM;
}

static int peer_usage(const negoex_context *ctx)
{
    return is_initiator(ctx) ? NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM : NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM;
}

/* Sends our VERIFY if we have not yet and the scheme has a signing key. */
static int maybe_emit_verify(negoex_context *ctx)
{
    int idx = current_scheme(ctx);
    if (idx < 0 || ctx->st.sent_verify || !ctx->st.scheme_started)
        return NEGOEX_OK;
    negoex_scheme *s = scheme_at(ctx, idx);
    negoex_key key;
    memset(&key, 0, sizeof key);
    int rc = s->cls->get_key(s, NEGOEX_KEY_SIGN, &key);
    if (rc == NEGOEX_SCHEME_NOT_YET)
        return NEGOEX_OK;
    if (rc < 0) {
        OPENSSL_cleanse(&key, sizeof key);
        return NEGOEX_ERR_SCHEME_FAILED;
    }
    if (key.len > sizeof key.bytes) {
        OPENSSL_cleanse(&key, sizeof key);
        return NEGOEX_ERR_KEY_SIZE;
    }
    uint8_t cksum[NEGOEX_CKSUM_MAX];
    size_t cklen = 0;
    int32_t cktype = 0;
    rc = negoex_checksum_make(key.enctype, key.bytes, key.len, own_usage(ctx), ctx->transcript.data,
                              ctx->transcript.len, &cktype, cksum, &cklen);
    OPENSSL_cleanse(&key, sizeof key);
    if (rc != NEGOEX_OK)
        return rc;
    struct out_msg m = {.type = NEGOEX_VERIFY, .scheme = idx, .data = cksum, .len = cklen,
                        .checksum_type = (uint32_t)cktype};
    rc = emit(ctx, &m);
    if (rc == NEGOEX_OK)
        ctx->st.sent_verify = 1;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Scheme calls                                                              */

/* Queries metadata of every active scheme; a failing one is dropped. */
static int query_all_meta(negoex_context *ctx)
{
    ctx->meta.len = 0;
    for (size_t i = 0; i < ctx->nschemes; i++) {
        ctx->meta_len[i] = NO_META;
        if (!ctx->flags[i].active)
            continue;
        negoex_scheme *s;
        int rc = scheme_mut(ctx, (int)i, &s);
        if (rc != NEGOEX_OK)
            return rc;
        size_t before = ctx->meta.len;
        rc = s->cls->query_meta_data(s, is_initiator(ctx), &ctx->meta);
        if (rc < 0) {
            ctx->meta.len = before;
            ctx->flags[i].active = 0;
        } else if (rc == NEGOEX_SCHEME_NONE) {
            ctx->meta.len = before;
        } else {
            ctx->meta_off[i] = before;
            ctx->meta_len[i] = ctx->meta.len - before;
        }
    }
    return NEGOEX_OK;
}

static int emit_all_meta(negoex_context *ctx)
{
    uint32_t type = is_initiator(ctx) ? NEGOEX_INITIATOR_META_DATA : NEGOEX_ACCEPTOR_META_DATA;
    for (size_t i = 0; i < ctx->nschemes; i++) {
        if (!ctx->flags[i].active || ctx->meta_len[i] == NO_META)
            continue;
        int rc = emit_exchange(ctx, type, (int)i, ctx->meta.data ? ctx->meta.data + ctx->meta_off[i] : NULL,
                               ctx->meta_len[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

/* Steps scheme idx with the peer's token (NULL to start); its output goes to
 * step_out. Returns the scheme's error as NEGOEX_ERR_SCHEME_FAILED. */
static int step_scheme(negoex_context *ctx, int idx, const uint8_t *in, size_t in_len)
{
    negoex_scheme *s;
    int rc = scheme_mut(ctx, idx, &s);
    if (rc != NEGOEX_OK)
        return rc;
    ctx->step_out.len = 0;
    int complete = 0;
    rc = s->cls->step(s, is_initiator(ctx), in, in_len, &ctx->step_out, &complete);
    ctx->have_step_out = ctx->step_out.len > 0;
    if (rc < 0)
        return NEGOEX_ERR_SCHEME_FAILED;
    ctx->st.scheme_started = 1;
    ctx->st.scheme_complete = complete != 0;
    return NEGOEX_OK;
}

/* Forgets an abandoned attempt of scheme idx (optimistic token not taken). */
static int reset_scheme(negoex_context *ctx, int idx)
{
    negoex_scheme *s;
    int rc = scheme_mut(ctx, idx, &s);
    if (rc != NEGOEX_OK)
        return rc;
    s->cls->reset(s);
    ctx->st.scheme_started = 0;
    ctx->st.scheme_complete = 0;
    ctx->st.sent_verify = 0;
    ctx->have_step_out = 0;
    ctx->step_out.len = 0;
    return NEGOEX_OK;
}

/* Checks the peer's VERIFY for the selected scheme against the transcript so
 * far (which does not yet hold this VERIFY). No key yet: answer with a pulse. */
static int check_peer_verify(negoex_context *ctx, const negoex_message *m)
{
    int idx = ctx->st.selected;
    negoex_scheme *s = scheme_at(ctx, idx);
    negoex_key key;
    memset(&key, 0, sizeof key);
    int rc = s->cls->get_key(s, NEGOEX_KEY_VERIFY, &key);
    if (rc == NEGOEX_SCHEME_NOT_YET) {
        ctx->alert_pending = 1;
        return NEGOEX_OK;
    }
    if (rc < 0 || key.len > sizeof key.bytes) {
        OPENSSL_cleanse(&key, sizeof key);
        return rc < 0 ? NEGOEX_ERR_SCHEME_FAILED : NEGOEX_ERR_KEY_SIZE;
    }
    rc = negoex_checksum_verify((int32_t)m->u.verify.checksum_type, key.enctype, key.bytes, key.len,
                                peer_usage(ctx), ctx->transcript.data, ctx->transcript.len,
                                m->u.verify.checksum.data, m->u.verify.checksum.len);
    OPENSSL_cleanse(&key, sizeof key);
    if (rc != NEGOEX_OK)
        return rc;
    ctx->st.peer_verified = 1;
    ctx->alert_pending = 0;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Receiving                                                                 */

static int is_peer_type(const negoex_context *ctx, uint32_t type)
{
    switch (type) {
    case NEGOEX_VERIFY:
    case NEGOEX_ALERT:
        return 1;
    case NEGOEX_ACCEPTOR_NEGO:
    case NEGOEX_ACCEPTOR_META_DATA:
    case NEGOEX_CHALLENGE:
        return is_initiator(ctx);
    default:
        return !is_initiator(ctx);
    }
}

static int reject(negoex_context *ctx, int code, const negoex_message *m, size_t field_off, const char *field)
{
    ctx->last_error.code = code;
    ctx->last_error.offset = m->offset + field_off;
    ctx->last_error.field = field;
    return code;
}

/* NEGO from the peer: remember which of our schemes it names. */
static void take_peer_nego(negoex_context *ctx, const negoex_message *m)
{
    for (size_t i = 0; i < ctx->nschemes; i++)
        ctx->flags[i].peer_listed = 0;
    for (size_t k = 0; k < m->u.nego.auth_scheme_count; k++) {
        negoex_guid g;
        if (negoex_nego_auth_scheme(m, k, &g) != NEGOEX_OK)
            continue;
        int i = find_scheme(ctx, &g);
        if (i >= 0)
            ctx->flags[i].peer_listed = 1;
    }
}

/*
 * Initiator: the acceptor's list is in its preference order, so the first
 * listed scheme we still have wins. Acceptor: our first active scheme that the
 * initiator listed wins, and our reply lists the shared ones in our order.
 */
static int select_scheme(negoex_context *ctx, const uint8_t *peer_nego_schemes, size_t count)
{
    if (is_initiator(ctx)) {
        for (size_t k = 0; k < count; k++) {
            negoex_guid g;
            memcpy(g.bytes, peer_nego_schemes + k * NEGOEX_AUTH_SCHEME_LEN, NEGOEX_AUTH_SCHEME_LEN);
            int i = find_scheme(ctx, &g);
            if (i >= 0 && ctx->flags[i].active) {
                ctx->st.selected = i;
                return NEGOEX_OK;
            }
        }
        return NEGOEX_ERR_NO_COMMON_SCHEME;
    }
    for (size_t i = 0; i < ctx->nschemes; i++)
        if (!ctx->flags[i].peer_listed)
            ctx->flags[i].active = 0;
    int rc = query_all_meta(ctx);
    if (rc != NEGOEX_OK)
        return rc;
    for (size_t i = 0; i < ctx->nschemes; i++) {
        if (ctx->flags[i].active) {
            ctx->st.selected = (int)i;
            return NEGOEX_OK;
        }
    }
    return NEGOEX_ERR_NO_COMMON_SCHEME;
}

struct token_walk {
    int first_token;       /* the token that must open with the peer's NEGO */
    int negotiated;        /* selection done in this token */
    const uint8_t *peer_schemes;
    size_t peer_scheme_count;
    int optimistic_failed; /* acceptor: the optimistic token failed; ignore its VERIFY */
    int optimistic_continued; /* initiator: the reply holds a CHALLENGE/VERIFY for the optimistic
                                 scheme, so the acceptor took it: that scheme is the one */
    int saw_exchange;      /* an AP_REQUEST/CHALLENGE was handled in this token */
};

static int finish_negotiation(negoex_context *ctx, struct token_walk *w)
{
    if (!w->first_token || w->negotiated)
        return NEGOEX_OK;
    if (is_initiator(ctx) && w->optimistic_continued) {
        int o = ctx->st.optimistic;
        if (!ctx->flags[o].active)
            return NEGOEX_ERR_NO_COMMON_SCHEME;
        ctx->st.selected = o;
        w->negotiated = 1;
        return NEGOEX_OK;
    }
    int rc = select_scheme(ctx, w->peer_schemes, w->peer_scheme_count);
    if (rc != NEGOEX_OK)
        return rc;
    w->negotiated = 1;
    if (is_initiator(ctx) && ctx->st.optimistic >= 0 && ctx->st.optimistic != ctx->st.selected) {
        rc = reset_scheme(ctx, ctx->st.optimistic);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

static int handle_meta(negoex_context *ctx, const negoex_message *m)
{
    int i = find_scheme(ctx, &m->u.exchange.auth_scheme);
    if (i < 0 || !ctx->flags[i].active)
        return NEGOEX_OK; /* not ours, or already dropped */
    negoex_scheme *s;
    int rc = scheme_mut(ctx, i, &s);
    if (rc != NEGOEX_OK)
        return rc;
    if (s->cls->exchange_meta_data(s, is_initiator(ctx), m->u.exchange.exchange.data,
                                   m->u.exchange.exchange.len) < 0)
        ctx->flags[i].active = 0;
    return NEGOEX_OK;
}

static int handle_exchange(negoex_context *ctx, struct token_walk *w, const negoex_message *m)
{
    int i = find_scheme(ctx, &m->u.exchange.auth_scheme);
    int selected = ctx->st.selected;
    if (!is_initiator(ctx) && w->first_token) {
        /* The optimistic token counts only if it is for our first choice. */
        if (i != selected || w->saw_exchange)
            return w->saw_exchange ? NEGOEX_ERR_UNEXPECTED_MESSAGE : NEGOEX_OK;
        w->saw_exchange = 1;
        int rc = step_scheme(ctx, i, m->u.exchange.exchange.data, m->u.exchange.exchange.len);
        if (rc == NEGOEX_ERR_SCHEME_FAILED) {
            w->optimistic_failed = 1; /* carry on as if it never arrived */
            return reset_scheme(ctx, i);
        }
        return rc;
    }
    if (!is_initiator(ctx) && !ctx->st.scheme_started && i >= 0 && i != selected && ctx->flags[i].active &&
        m->type == NEGOEX_AP_REQUEST) {
        ctx->st.selected = i;
        selected = i;
    }
    if (i < 0 || i != selected || w->saw_exchange || ctx->st.scheme_complete)
        return NEGOEX_ERR_UNEXPECTED_MESSAGE;
    if (is_initiator(ctx) && !ctx->st.scheme_started)
        return NEGOEX_ERR_UNEXPECTED_MESSAGE;
    w->saw_exchange = 1;
    return step_scheme(ctx, i, m->u.exchange.exchange.data, m->u.exchange.exchange.len);
}

static int handle_verify(negoex_context *ctx, struct token_walk *w, const negoex_message *m)
{
    int i = find_scheme(ctx, &m->u.verify.auth_scheme);
    if (i < 0 || i != ctx->st.selected)
        return NEGOEX_OK; /* for a scheme we did not select: ignored */
    if (w->optimistic_failed)
        return NEGOEX_OK; /* signs an attempt we discarded; the initiator restarts */
    return check_peer_verify(ctx, m);
}

static void handle_alert(negoex_context *ctx, const negoex_message *m)
{
    int i = find_scheme(ctx, &m->u.alert.auth_scheme);
    if (i < 0 || i != ctx->st.selected)
        return;
    for (size_t k = 0; k < m->u.alert.alert_count; k++) {
        negoex_alert a;
        if (negoex_alert_get(m, k, &a) == NEGOEX_OK && a.is_pulse && a.reason == NEGOEX_ALERT_VERIFY_NO_KEY)
            ctx->st.sent_verify = 0; /* the peer could not check it: send a fresh one */
    }
}

static int receive_token(negoex_context *ctx, const uint8_t *in, size_t in_len)
{
    struct token_walk w;
    memset(&w, 0, sizeof w);
    w.first_token = ctx->st.selected < 0;
    negoex_reader r;
    negoex_message m;
    if (is_initiator(ctx) && w.first_token && ctx->st.optimistic >= 0) {
        negoex_reader_init(&r, in, in_len);
        while (negoex_reader_next(&r, &m) == 1) {
            negoex_guid g;
            if ((m.type == NEGOEX_CHALLENGE || m.type == NEGOEX_VERIFY) &&
                negoex_message_auth_scheme(&m, &g) == NEGOEX_OK &&
                negoex_guid_equal(&g, &ctx->schemes[ctx->st.optimistic]->auth_scheme))
                w.optimistic_continued = 1;
        }
    }
    negoex_reader_init(&r, in, in_len);
    int rc, index = 0, meta_phase = 0;
    while ((rc = negoex_reader_next(&r, &m)) == 1) {
        /* The conversation id comes from the first NEGO the acceptor sees. */
        if (!ctx->st.have_conv_id) {
            if (m.type != NEGOEX_INITIATOR_NEGO)
                return reject(ctx, is_peer_type(ctx, m.type) ? NEGOEX_ERR_UNEXPECTED_MESSAGE
                                                             : NEGOEX_ERR_WRONG_ROLE,
                              &m, 8, "MessageType");
            ctx->st.conv_id = m.conversation_id;
            ctx->st.have_conv_id = 1;
        } else if (!negoex_guid_equal(&m.conversation_id, &ctx->st.conv_id)) {
            return reject(ctx, NEGOEX_ERR_CONVERSATION_ID, &m, 24, "ConversationId");
        }
        if (!is_peer_type(ctx, m.type))
            return reject(ctx, NEGOEX_ERR_WRONG_ROLE, &m, 8, "MessageType");
        if (m.seq != ctx->st.next_seq)
            return reject(ctx, NEGOEX_ERR_SEQUENCE, &m, 12, "SequenceNum");

        switch (m.type) {
        case NEGOEX_INITIATOR_NEGO:
        case NEGOEX_ACCEPTOR_NEGO:
            if (!w.first_token || index != 0)
                return reject(ctx, NEGOEX_ERR_UNEXPECTED_MESSAGE, &m, 8, "MessageType");
            take_peer_nego(ctx, &m);
            w.peer_schemes = m.u.nego.auth_schemes;
            w.peer_scheme_count = m.u.nego.auth_scheme_count;
            meta_phase = 1;
            rc = NEGOEX_OK;
            break;
        case NEGOEX_INITIATOR_META_DATA:
        case NEGOEX_ACCEPTOR_META_DATA:
            if (!meta_phase)
                return reject(ctx, NEGOEX_ERR_UNEXPECTED_MESSAGE, &m, 8, "MessageType");
            rc = handle_meta(ctx, &m);
            break;
        default:
            if (w.first_token && index == 0)
                return reject(ctx, NEGOEX_ERR_UNEXPECTED_MESSAGE, &m, 8, "MessageType");
            meta_phase = 0;
            rc = finish_negotiation(ctx, &w);
            if (rc != NEGOEX_OK)
                break;
            if (m.type == NEGOEX_VERIFY)
                rc = handle_verify(ctx, &w, &m);
            else if (m.type == NEGOEX_ALERT)
                handle_alert(ctx, &m);
            else
                rc = handle_exchange(ctx, &w, &m);
            break;
        }
        if (rc != NEGOEX_OK) {
            /* Scheme failures keep the peer's token as the place they happened. */
            return reject(ctx, rc, &m, 0, negoex_message_type_name(m.type));
        }
        rc = negoex_buf_append(&ctx->transcript, m.raw.data, m.raw.len);
        if (rc != NEGOEX_OK)
            return rc;
        ctx->st.next_seq++;
        trace_message(ctx, "received", m.raw.data, m.raw.len);
        index++;
    }
    if (rc < 0)
        return rc; /* cannot happen: the token was validated */
    rc = finish_negotiation(ctx, &w);
    if (rc != NEGOEX_OK)
        return rc;

    if (is_initiator(ctx) && w.first_token) {
        /* Optimistic token not taken (other scheme chosen, or no CHALLENGE /
         * VERIFY for it): start the selected scheme afresh. */
        int sel = ctx->st.selected;
        if (ctx->st.optimistic == sel && !w.optimistic_continued && ctx->st.scheme_started) {
            rc = reset_scheme(ctx, sel);
            if (rc != NEGOEX_OK)
                return rc;
        }
        ctx->st.optimistic = -1;
        if (!ctx->st.scheme_started) {
            rc = step_scheme(ctx, sel, NULL, 0);
            if (rc != NEGOEX_OK)
                return rc;
        }
    }
    if (!is_initiator(ctx))
        ctx->send_nego = w.first_token;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* The initiator's first token                                                */

static int initiator_start(negoex_context *ctx)
{
    if (ctx->cfg.rng == default_rng) {
        /* One RAND_bytes for the conversation ID and the Random of the NEGO
         * this step sends: each call is a DRBG generate with its locking and
         * reseed checks, which costs far more than the bytes. A caller's rng
         * is still called once per value, in the same order. */
        uint8_t r[sizeof ctx->st.conv_id.bytes + NEGOEX_RANDOM_LEN];
        if (default_rng(NULL, r, sizeof r) != 0)
            return NEGOEX_ERR_RNG;
        memcpy(ctx->st.conv_id.bytes, r, sizeof ctx->st.conv_id.bytes);
        memcpy(ctx->nego_random, r + sizeof ctx->st.conv_id.bytes, sizeof ctx->nego_random);
        ctx->have_nego_random = 1;
    } else if (ctx->cfg.rng(ctx->cfg.rng_ud, ctx->st.conv_id.bytes, sizeof ctx->st.conv_id.bytes) != 0) {
        return NEGOEX_ERR_RNG;
    }
    ctx->st.have_conv_id = 1;
    int rc = query_all_meta(ctx);
    if (rc != NEGOEX_OK)
        return rc;
    if (ctx->cfg.optimistic) {
        /* A scheme that cannot produce its first token is dropped, and the
         * next one is tried, before NEGO is built. */
        for (size_t i = 0; i < ctx->nschemes; i++) {
            if (!ctx->flags[i].active)
                continue;
            rc = step_scheme(ctx, (int)i, NULL, 0);
            if (rc == NEGOEX_OK) {
                ctx->st.optimistic = (int)i;
                break;
            }
            if (rc != NEGOEX_ERR_SCHEME_FAILED)
                return rc;
            ctx->flags[i].active = 0;
            ctx->have_step_out = 0;
        }
    }
    int any = 0;
    for (size_t i = 0; i < ctx->nschemes; i++)
        any |= ctx->flags[i].active;
    if (!any)
        return NEGOEX_ERR_NO_COMMON_SCHEME;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* A step                                                                    */

static int emit_reply(negoex_context *ctx, int with_nego)
{
    int rc = NEGOEX_OK;
    if (with_nego) {
        rc = emit_nego(ctx);
        if (rc == NEGOEX_OK)
            rc = emit_all_meta(ctx);
    }
    int idx = current_scheme(ctx);
    if (rc == NEGOEX_OK && ctx->have_step_out && idx >= 0)
        rc = emit_exchange(ctx, is_initiator(ctx) ? NEGOEX_AP_REQUEST : NEGOEX_CHALLENGE, idx,
                           ctx->step_out.data, ctx->step_out.len);
    if (rc == NEGOEX_OK && ctx->alert_pending && ctx->st.selected >= 0)
        rc = emit_alert_pulse(ctx, ctx->st.selected);
    if (rc == NEGOEX_OK)
        rc = maybe_emit_verify(ctx);
    return rc;
}

static void snapshot(negoex_context *ctx)
{
    ctx->saved = ctx->st;
    ctx->st.transcript_len = ctx->transcript.len;
    ctx->saved.transcript_len = ctx->transcript.len;
    memcpy(ctx->saved_flags, ctx->flags, ctx->nschemes * sizeof *ctx->flags);
    ctx->touched_unclonable = 0;
    ctx->out.len = 0;
    ctx->step_out.len = 0;
    ctx->have_step_out = 0;
    ctx->alert_pending = 0;
    ctx->send_nego = 0;
    ctx->have_nego_random = 0;
}

static void commit(negoex_context *ctx)
{
    for (size_t i = 0; i < ctx->nschemes; i++) {
        if (ctx->work[i] != NULL) {
            destroy_scheme(ctx->schemes[i]);
            ctx->schemes[i] = ctx->work[i];
            ctx->work[i] = NULL;
        }
    }
    ctx->st.transcript_len = ctx->transcript.len;
}

static void rollback(negoex_context *ctx)
{
    for (size_t i = 0; i < ctx->nschemes; i++) {
        destroy_scheme(ctx->work[i]);
        ctx->work[i] = NULL;
    }
    ctx->st = ctx->saved;
    memcpy(ctx->flags, ctx->saved_flags, ctx->nschemes * sizeof *ctx->flags);
    if (ctx->transcript.len > ctx->saved.transcript_len)
        OPENSSL_cleanse(ctx->transcript.data + ctx->saved.transcript_len,
                        ctx->transcript.len - ctx->saved.transcript_len);
    ctx->transcript.len = ctx->saved.transcript_len;
    if (ctx->touched_unclonable)
        ctx->failed = 1; /* the scheme saw the token and cannot be restored */
}

int negoex_context_step_checked(negoex_context *ctx, const uint8_t *in, size_t in_len, const uint8_t **out,
                                size_t *out_len, negoex_step_check_fn check, void *check_ud)
{
    if (ctx == NULL || out == NULL || out_len == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    memset(&ctx->last_error, 0, sizeof ctx->last_error);
    int early = NEGOEX_OK;
    int starting = is_initiator(ctx) && ctx->st.phase == PHASE_START;
    if (ctx->failed)
        early = NEGOEX_ERR_FAILED;
    else if (ctx->st.phase == PHASE_COMPLETE)
        early = NEGOEX_ERR_COMPLETE;
    else if (ctx->nschemes == 0)
        early = NEGOEX_ERR_NO_COMMON_SCHEME;
    else if (starting && in_len != 0)
        early = NEGOEX_ERR_UNEXPECTED_MESSAGE;
    else if (!starting && in_len == 0)
        early = NEGOEX_ERR_MISSING_TOKEN;
    else if (in_len > ctx->cfg.max_token_size)
        early = NEGOEX_ERR_TOKEN_TOO_LARGE;
    else if (in_len > ctx->cfg.max_transcript_size - ctx->transcript.len)
        early = NEGOEX_ERR_TRANSCRIPT_TOO_LARGE;
    if (early != NEGOEX_OK) {
        ctx->last_error.code = early;
        ctx->last_error.field = "token";
        return early;
    }
    if (!starting) {
        int rc = negoex_token_validate(in, in_len, &ctx->last_error);
        if (rc < 0)
            return rc;
    }

    snapshot(ctx);
    int rc = starting ? initiator_start(ctx) : receive_token(ctx, in, in_len);
    if (rc == NEGOEX_OK) {
        rc = emit_reply(ctx, starting || ctx->send_nego);
    } else if (rc == NEGOEX_ERR_SCHEME_FAILED && !is_initiator(ctx) && ctx->have_step_out &&
               ctx->st.selected >= 0) {
        /* The acceptor's scheme failed with an error token for the peer:
         * hand it out as a CHALLENGE; the conversation is over. */
        ctx->out.len = 0;
        ctx->st.next_seq = ctx->saved.next_seq + (uint32_t)negoex_token_validate(in, in_len, NULL);
        (void)emit_exchange(ctx, NEGOEX_CHALLENGE, ctx->st.selected, ctx->step_out.data, ctx->step_out.len);
        size_t n = ctx->out.len;
        rollback(ctx);
        ctx->failed = 1;
        *out = ctx->out.data;
        *out_len = n;
        return rc;
    }
    if (rc == NEGOEX_OK && ctx->st.scheme_complete && !ctx->st.sent_verify) {
        /* Complete: a scheme that has no key by now never will. */
        rc = NEGOEX_ERR_NO_KEY;
    }
    if (rc != NEGOEX_OK) {
        if (ctx->last_error.code == NEGOEX_OK) {
            ctx->last_error.code = rc;
            ctx->last_error.field = NULL;
        }
        rollback(ctx);
        ctx->out.len = 0;
        return rc;
    }
    if (ctx->st.phase == PHASE_START)
        ctx->st.phase = PHASE_EXCHANGE;
    int result = NEGOEX_CONTINUE;
    if (ctx->st.scheme_complete && ctx->st.peer_verified) {
        ctx->st.phase = PHASE_COMPLETE;
        result = NEGOEX_COMPLETE;
    }
    if (check != NULL) {
        /* The caller's own checks on this token (SPNEGO's mechListMIC) run
         * on the stepped state; failing them undoes the step. */
        rc = check(check_ud, ctx, result, ctx->out.len ? ctx->out.data : NULL, ctx->out.len);
        if (rc < 0) {
            rollback(ctx);
            ctx->out.len = 0;
            return rc;
        }
    }
    commit(ctx);
    *out = ctx->out.len ? ctx->out.data : NULL;
    *out_len = ctx->out.len;
    return result;
}

int negoex_context_step(negoex_context *ctx, const uint8_t *in, size_t in_len, const uint8_t **out,
                        size_t *out_len)
{
    return negoex_context_step_checked(ctx, in, in_len, out, out_len, NULL, NULL);
}

const negoex_allocator *negoex_context_allocator(const negoex_context *ctx)
{
    return ctx->alloc;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                 */

void negoex_context_last_error(const negoex_context *ctx, negoex_error_info *err)
{
    if (ctx != NULL && err != NULL)
        *err = ctx->last_error;
}

negoex_role negoex_context_role(const negoex_context *ctx)
{
    return ctx->role;
}

negoex_scheme *negoex_context_selected_scheme(const negoex_context *ctx)
{
    return ctx != NULL && ctx->st.selected >= 0 ? ctx->schemes[ctx->st.selected] : NULL;
}

/* The selected scheme as of now: inside a step check that is the working clone. */
static negoex_scheme *live_selected(const negoex_context *ctx)
{
    if (ctx == NULL || ctx->st.selected < 0)
        return NULL;
    negoex_scheme *w = ctx->work[ctx->st.selected];
    return w != NULL ? w : ctx->schemes[ctx->st.selected];
}

int negoex_context_conversation_id(const negoex_context *ctx, negoex_guid *out)
{
    if (ctx == NULL || out == NULL || !ctx->st.have_conv_id)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = ctx->st.conv_id;
    return NEGOEX_OK;
}

int negoex_context_peer_verified(const negoex_context *ctx)
{
    return ctx != NULL && ctx->st.peer_verified;
}

int negoex_context_is_complete(const negoex_context *ctx)
{
    return ctx != NULL && ctx->st.phase == PHASE_COMPLETE;
}

negoex_bytes negoex_context_transcript(const negoex_context *ctx)
{
    negoex_bytes b = {NULL, 0};
    if (ctx != NULL) {
        b.data = ctx->transcript.data;
        b.len = ctx->transcript.len;
    }
    return b;
}

size_t negoex_context_heap_bytes(const negoex_context *ctx)
{
    if (ctx == NULL)
        return 0;
    size_t n = ctx->cfg.max_schemes;
    return sizeof *ctx + n * (2 * sizeof *ctx->schemes + 2 * sizeof *ctx->flags + 2 * sizeof(size_t)) +
           ctx->transcript.cap + ctx->out.cap + ctx->meta.cap + ctx->step_out.cap;
}

int negoex_context_make_mic(negoex_context *ctx, const uint8_t *data, size_t len, negoex_buf *mic)
{
    negoex_scheme *s = live_selected(ctx);
    if (s == NULL || mic == NULL || !negoex_context_is_complete(ctx))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (s->cls->make_mic == NULL)
        return NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
    return s->cls->make_mic(s, data, len, mic) < 0 ? NEGOEX_ERR_SCHEME_FAILED : NEGOEX_OK;
}

int negoex_context_verify_mic(negoex_context *ctx, const uint8_t *data, size_t len, const uint8_t *mic,
                              size_t mic_len)
{
    negoex_scheme *s = live_selected(ctx);
    if (s == NULL || mic == NULL || !negoex_context_is_complete(ctx))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (s->cls->verify_mic == NULL)
        return NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
    return s->cls->verify_mic(s, data, len, mic, mic_len) < 0 ? NEGOEX_ERR_SPNEGO_MIC_MISMATCH : NEGOEX_OK;
}

int negoex_context_requires_mic(const negoex_context *ctx)
{
    negoex_scheme *s = live_selected(ctx);
    return s != NULL && s->cls->requires_mic != NULL && s->cls->requires_mic(s) > 0;
}
