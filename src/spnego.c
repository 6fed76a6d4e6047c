/*
 * SPNEGO (RFC 4178) over one NEGOEX context.
 *
 * NEGOEX is the only mechanism this side runs; the initiator may list others
 * (so its token looks like Windows' or MIT's) but ends the conversation if the
 * acceptor picks one of them. mechListMIC follows MIT's rule: required when
 * NEGOEX was not the initiator's first mechanism, when the scheme asks, when
 * the configuration says so, or once the peer sent one; each side's MIC
 * covers the initiator's DER MechTypeList.
 *
 * A token is processed against a copy of the SPNEGO state and the NEGOEX step
 * runs through negoex_context_step_checked, whose check callback verifies the
 * peer's MIC and builds our whole reply: a rejected token (bad DER, wrong
 * field, bad MIC, bad NEGOEX) changes nothing. Failures of the negotiation
 * itself end the context and hand out a reject token.
 */
#include <negoex/spnego.h>

#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "context_internal.h"

#define DEFAULT_MAX_TOKEN (((size_t)1 << 20) + ((size_t)64 << 10))
#define MAX_MECHS 16 /* Windows lists six */

/* negState reject, as MIT and Windows send it. */
static const uint8_t REJECT_TOKEN[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02};

enum sp_phase { SP_START, SP_RUNNING, SP_COMPLETE, SP_FAILED };

/* Everything a rejected token must leave as it was. */
struct sp_state {
    enum sp_phase phase;
    int negoex_started;     /* NEGOEX's first token went out (initiator) / came in (acceptor) */
    int negoex_complete;
    int first_reply_seen;   /* initiator: the acceptor's first NegTokenResp arrived */
    int peer_completed;     /* initiator: the acceptor said accept-completed */
    int mic_required;
    int mic_sent;
    int peer_mic_verified;
};

struct negoex_spnego {
    negoex_context *nx;
    const negoex_allocator *alloc; /* NULL or &alloc_copy: outlives nx while freeing */
    negoex_allocator alloc_copy;
    negoex_role role;
    negoex_spnego_config cfg;

    /* initiator: the list we send, NEGOEX at negoex_index */
    negoex_bytes mechs[MAX_MECHS];
    size_t nmechs;
    size_t negoex_index;
    negoex_buf mech_store;
    /* the initiator's MechTypeList TLV: what both MICs cover */
    negoex_buf mech_list;

    struct sp_state st;
    negoex_buf out;
    negoex_buf hints_store;
    negoex_spnego_token hints;
    int have_hints;
    negoex_error_info last_error;
};

/* A token being processed: the parsed view and the state it would lead to. */
struct sp_step {
    negoex_spnego *sp;
    const uint8_t *base;            /* the peer's token, for offsets */
    const negoex_spnego_token *in;  /* NULL: no MIC rules for this step */
    negoex_spnego_fields *init;     /* initiator's first token, being built */
    struct sp_state ns;
    int neg_state_out;              /* acceptor: negState of the reply */
    int with_supported_mech;        /* acceptor's first reply */
    int fatal;                      /* the error ends the conversation */
};

void negoex_spnego_config_init(negoex_spnego_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->max_token_size = DEFAULT_MAX_TOKEN;
}

static int is_initiator(const negoex_spnego *sp)
{
    return sp->role == NEGOEX_ROLE_INITIATOR;
}

static int is_negoex_oid(const uint8_t *der, size_t len)
{
    return der != NULL && len == NEGOEX_OID_DER_LEN && memcmp(der, NEGOEX_OID_DER, len) == 0;
}

static int set_error(negoex_spnego *sp, int code, size_t offset, const char *field)
{
    sp->last_error.code = code;
    sp->last_error.offset = offset;
    sp->last_error.field = field;
    return code;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

static int build_initiator_list(negoex_spnego *sp, const negoex_spnego_config *cfg)
{
    size_t n = cfg->other_mech_count + 1;
    if (n > MAX_MECHS || (cfg->other_mech_count != 0 && cfg->other_mechs == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t total = NEGOEX_OID_DER_LEN;
    for (size_t i = 0; i < cfg->other_mech_count; i++) {
        const negoex_bytes *m = &cfg->other_mechs[i];
        if (!negoex_oid_valid(m->data, m->len) || is_negoex_oid(m->data, m->len))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (cfg->other_mechs[j].len == m->len && memcmp(cfg->other_mechs[j].data, m->data, m->len) == 0)
                return NEGOEX_ERR_INVALID_ARGUMENT;
        total += m->len;
    }
    /* One copy of every OID, then the views into it. */
    uint8_t *at;
    int rc = negoex_buf_reserve(&sp->mech_store, total, &at);
    if (rc < 0)
        return rc;
    sp->mech_store.len = total;
    size_t pos = cfg->negoex_position < n ? cfg->negoex_position : n - 1;
    size_t other = 0;
    for (size_t i = 0; i < n; i++) {
        const uint8_t *src;
        size_t len;
        if (i == pos) {
            src = NEGOEX_OID_DER;
            len = NEGOEX_OID_DER_LEN;
        } else {
            src = cfg->other_mechs[other].data;
            len = cfg->other_mechs[other].len;
            other++;
        }
        memcpy(at, src, len);
        sp->mechs[i].data = at;
        sp->mechs[i].len = len;
        at += len;
    }
    sp->nmechs = n;
    sp->negoex_index = pos;

    size_t need = 0;
    rc = negoex_spnego_write_mech_list(NULL, 0, &need, sp->mechs, n);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    rc = negoex_buf_reserve(&sp->mech_list, need, &at);
    if (rc < 0)
        return rc;
    rc = negoex_spnego_write_mech_list(at, need, &need, sp->mechs, n);
    if (rc < 0)
        return rc;
    sp->mech_list.len = need;
    return NEGOEX_OK;
}

int negoex_spnego_new(negoex_spnego **out, negoex_context *nx, const negoex_spnego_config *cfg)
{
    negoex_spnego_config c;
    if (out == NULL || nx == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    negoex_spnego_config_init(&c);
    if (cfg != NULL) {
        if (cfg->struct_size < sizeof(uint32_t) || cfg->struct_size > sizeof c)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        memcpy(&c, cfg, cfg->struct_size);
        c.struct_size = sizeof c;
    }
    if (c.max_token_size == 0)
        c.max_token_size = DEFAULT_MAX_TOKEN;

    const negoex_allocator *alloc = negoex_context_allocator(nx);
    negoex_spnego *sp = negoex_mem_alloc(alloc, sizeof *sp);
    if (sp == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(sp, 0, sizeof *sp);
    if (alloc != NULL) {
        sp->alloc_copy = *alloc;
        sp->alloc = &sp->alloc_copy;
    }
    alloc = sp->alloc;
    sp->role = negoex_context_role(nx);
    sp->cfg = c;
    sp->cfg.other_mechs = NULL; /* copied below; the caller's array may go */
    negoex_buf_init(&sp->mech_store, alloc);
    negoex_buf_init(&sp->mech_list, alloc);
    negoex_buf_init(&sp->out, alloc);
    negoex_buf_init(&sp->hints_store, alloc);
    sp->st.phase = SP_START;
    if (is_initiator(sp)) {
        int rc = build_initiator_list(sp, &c);
        if (rc < 0) {
            sp->nx = NULL;
            negoex_spnego_free(sp);
            return rc;
        }
        sp->st.mic_required = sp->negoex_index != 0 || c.always_mic;
    } else {
        sp->st.mic_required = c.always_mic != 0;
    }
    sp->nx = nx;
    *out = sp;
    return NEGOEX_OK;
}

void negoex_spnego_free(negoex_spnego *sp)
{
    if (sp == NULL)
        return;
    negoex_context_free(sp->nx);
    negoex_buf_free(&sp->mech_store);
    negoex_buf_free(&sp->mech_list);
    negoex_buf_free(&sp->out);
    negoex_buf_free(&sp->hints_store);
    /* The allocator lives inside the block being wiped. */
    negoex_allocator a = sp->alloc_copy;
    negoex_mem_free_secret(sp->alloc != NULL ? &a : NULL, sp, sizeof *sp);
}

/* ------------------------------------------------------------------------ */
/* Output                                                                     */
/* ------------------------------------------------------------------------ */

static void trace_token(const negoex_spnego *sp, const char *dir, const negoex_spnego_token *t)
{
    if (sp->cfg.trace == NULL)
        return;
    char line[512];
    size_t n = 0;
    static const char *const kinds[] = {"negTokenInit", "negTokenInit2", "negTokenResp"};
#define ADD(...)                                                                                        \
    do {                                                                                                \
        if (n < sizeof line) {                                                                          \
            int w_ = snprintf(line + n, sizeof line - n, __VA_ARGS__);                                  \
            n = w_ < 0 ? sizeof line : n + (size_t)w_;                                                  \
        }                                                                                               \
    } while (0)
    ADD("SPNEGO %s %s%s", dir, kinds[t->kind], t->framed ? " (framed)" : "");
    negoex_spnego_mech_iter w;
    if (t->mech_types.data != NULL && negoex_spnego_mech_iter_init(&w, t) == NEGOEX_OK) {
        ADD(" mechTypes=");
        negoex_bytes oid = {NULL, 0};
        /* Up to what the line holds. */
        for (size_t i = 0; n < sizeof line && negoex_spnego_mech_iter_next(&w, &oid) == 1; i++) {
            const char *name = negoex_oid_name(oid.data, oid.len);
            char text[128];
            if (name == NULL && negoex_oid_to_text(oid.data, oid.len, text, sizeof text, NULL) == 0)
                name = text;
            ADD("%s%s", i ? "," : "", name != NULL ? name : "?");
        }
    }
    if (t->neg_state != NEGOEX_NEG_STATE_ABSENT)
        ADD(" negState=%s", negoex_neg_state_name(t->neg_state));
    if (t->supported_mech.data != NULL) {
        const char *name = negoex_oid_name(t->supported_mech.data, t->supported_mech.len);
        ADD(" supportedMech=%s", name != NULL ? name : "other");
    }
    if (t->mech_token.data != NULL)
        ADD(" mechToken=%zu", t->mech_token.len);
    if (t->response_token.data != NULL)
        ADD(" responseToken=%zu", t->response_token.len);
    if (t->mech_list_mic.data != NULL)
        ADD(" mechListMIC=%zu", t->mech_list_mic.len);
    if (t->hint_name.data != NULL)
        ADD(" hintName=%zu", t->hint_name.len);
#undef ADD
    if (n >= sizeof line)
        memcpy(line + sizeof line - 4, "...", 4);
    sp->cfg.trace(sp->cfg.trace_ud, line);
}

/* Writes f into sp->out (replacing it) and traces it. */
static int put_token(negoex_spnego *sp, const negoex_spnego_fields *f)
{
    size_t need = 0;
    int rc = negoex_spnego_write(NULL, 0, &need, f);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    sp->out.len = 0;
    uint8_t *at;
    rc = negoex_buf_reserve(&sp->out, need, &at);
    if (rc < 0)
        return rc;
    rc = negoex_spnego_write(at, need, &need, f);
    if (rc < 0)
        return rc;
    sp->out.len = need;
    if (sp->cfg.trace != NULL) {
        negoex_spnego_token t;
        if (negoex_spnego_parse(sp->out.data, sp->out.len, &t, NULL) == 0)
            trace_token(sp, "sent", &t);
    }
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* mechListMIC and the reply, inside the NEGOEX step                          */
/* ------------------------------------------------------------------------ */

static size_t offset_in(const uint8_t *base, const negoex_bytes *b)
{
    return b->data != NULL ? (size_t)(b->data - base) : 0;
}

/* Errors after which the conversation cannot go on (the rest reject a token). */
static int is_fatal(int code)
{
    switch (code) {
    case NEGOEX_ERR_NO_COMMON_SCHEME:
    case NEGOEX_ERR_SCHEME_FAILED:
    case NEGOEX_ERR_NO_KEY:
    case NEGOEX_ERR_FAILED:
    case NEGOEX_ERR_RNG:
    case NEGOEX_ERR_CRYPTO:
    case NEGOEX_ERR_SPNEGO_NO_COMMON_MECH:
    case NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED:
    case NEGOEX_ERR_SPNEGO_REJECTED:
        return 1;
    default:
        return 0;
    }
}

/* Checks the peer's MIC, makes ours and writes the reply. nx_out is the
 * NEGOEX token of this step (if any). */
static int finish_step(struct sp_step *s, int nx_result, const uint8_t *nx_out, size_t nx_len)
{
    negoex_spnego *sp = s->sp;
    struct sp_state *ns = &s->ns;
    const negoex_spnego_token *in = s->in;
    if (nx_result == NEGOEX_COMPLETE)
        ns->negoex_complete = 1;

    if (s->init != NULL) {
        if (nx_len != 0)
            s->init->mech_token = (negoex_bytes){nx_out, nx_len};
        return put_token(sp, s->init);
    }

    negoex_bytes mic_in = in != NULL ? in->mech_list_mic : (negoex_bytes){NULL, 0};
    size_t mic_off = offset_in(s->base, &mic_in);
    if (mic_in.data != NULL) {
        if (!ns->negoex_complete || ns->peer_mic_verified)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, mic_off, "mechListMIC");
        int rc = negoex_context_verify_mic(sp->nx, sp->mech_list.data, sp->mech_list.len, mic_in.data, mic_in.len);
        if (rc < 0) {
            s->fatal = rc == NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
            return set_error(sp, rc, mic_off, "mechListMIC");
        }
        ns->peer_mic_verified = 1;
        ns->mic_required = 1;
    }
    /* Asked as soon as a scheme is selected, so an acceptor whose scheme
     * wants MICs can say request-mic in its first reply (MIT's acceptor
     * never asks, and then completes without the MICs its scheme wanted). */
    if (negoex_context_requires_mic(sp->nx))
        ns->mic_required = 1;

    /* MIT's rule: the side that sends the last mechanism token sends its
     * MIC with it. The acceptor has the last word when it still has a
     * NEGOEX token to send; the initiator when the acceptor says completed. */
    if (ns->negoex_complete && ns->mic_required && !ns->peer_mic_verified && in != NULL) {
        int peer_sent_last = is_initiator(sp) ? ns->peer_completed : nx_len == 0;
        if (peer_sent_last)
            return set_error(sp, NEGOEX_ERR_SPNEGO_MIC_MISSING, 0, "mechListMIC");
    }

    negoex_buf mic;
    negoex_buf_init(&mic, sp->alloc);
    if (ns->negoex_complete && ns->mic_required && !ns->mic_sent) {
        int rc = negoex_context_make_mic(sp->nx, sp->mech_list.data, sp->mech_list.len, &mic);
        if (rc < 0) {
            negoex_buf_free(&mic);
            s->fatal = rc != NEGOEX_ERR_NO_MEMORY;
            return set_error(sp, rc, 0, "mechListMIC");
        }
        ns->mic_sent = 1;
    }

    int done = ns->negoex_complete && (!ns->mic_required || (ns->mic_sent && ns->peer_mic_verified));
    negoex_spnego_fields f;
    int rc = NEGOEX_OK;
    if (is_initiator(sp)) {
        if (done && (ns->peer_completed || (ns->mic_required && mic.len != 0 && ns->peer_mic_verified))) {
            /* Complete on accept-completed, or when our MIC answers the
             * acceptor's verified one: that is the last message, and MIT's
             * acceptor sends no accept-completed after it. */
            ns->phase = SP_COMPLETE;
        } else if (ns->peer_completed) {
            /* accept-completed, yet NEGOEX or the MICs are not done. */
            rc = set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        } else if (nx_len == 0 && mic.len == 0 && ns->negoex_started) {
            /* accept-incomplete with nothing for us to answer. */
            rc = set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        }
        sp->out.len = 0;
        if (rc == NEGOEX_OK && (nx_len != 0 || mic.len != 0)) {
            negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
            f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
            if (nx_len != 0)
                f.response_token = (negoex_bytes){nx_out, nx_len};
            if (mic.len != 0)
                f.mech_list_mic = (negoex_bytes){mic.data, mic.len};
            rc = put_token(sp, &f);
        }
    } else {
        if (done)
            ns->phase = SP_COMPLETE;
        negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
        if (done)
            f.neg_state = NEGOEX_NEG_STATE_ACCEPT_COMPLETED;
        else if (s->with_supported_mech && ns->mic_required)
            f.neg_state = NEGOEX_NEG_STATE_REQUEST_MIC;
        else
            f.neg_state = s->neg_state_out;
        if (s->with_supported_mech)
            f.supported_mech = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
        if (nx_len != 0)
            f.response_token = (negoex_bytes){nx_out, nx_len};
        if (mic.len != 0)
            f.mech_list_mic = (negoex_bytes){mic.data, mic.len};
        rc = put_token(sp, &f);
    }
    negoex_buf_free(&mic);
    return rc;
}

static int step_check(void *ud, negoex_context *nx, int result, const uint8_t *out, size_t out_len)
{
    (void)nx;
    return finish_step(ud, result, out, out_len);
}

/* Runs NEGOEX on the peer's inner token (or starts it: in NULL). */
static int run_negoex(struct sp_step *s, const negoex_bytes *inner, size_t inner_off)
{
    negoex_spnego *sp = s->sp;
    const uint8_t *nx_out = NULL;
    size_t nx_len = 0;
    const uint8_t *data = inner != NULL ? inner->data : NULL;
    size_t len = inner != NULL ? inner->len : 0;
    memset(&sp->last_error, 0, sizeof sp->last_error);
    int rc = negoex_context_step_checked(sp->nx, data, len, &nx_out, &nx_len, step_check, s);
    if (rc >= 0) {
        s->ns.negoex_started = 1;
        return rc;
    }
    if (sp->last_error.code == rc)
        return rc; /* ours, from finish_step */
    /* A NEGOEX error: its offset is inside the inner token. */
    negoex_error_info e;
    negoex_context_last_error(sp->nx, &e);
    set_error(sp, rc, e.offset + inner_off, e.field);
    s->fatal = is_fatal(rc);
    if (rc == NEGOEX_ERR_SCHEME_FAILED && !is_initiator(sp) && nx_len != 0) {
        /* The acceptor's scheme failed with an error token: MIT sends it
         * with accept-incomplete so the initiator's scheme can report it. */
        negoex_spnego_fields f;
        negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
        f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
        if (s->with_supported_mech)
            f.supported_mech = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
        f.response_token = (negoex_bytes){nx_out, nx_len};
        if (put_token(sp, &f) == NEGOEX_OK)
            s->fatal = 2; /* failed, and out holds the error token */
    }
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Initiator                                                                  */
/* ------------------------------------------------------------------------ */

/* Every token after the first: a bare NegTokenResp; a reject ends it. */
static int check_later_token(struct sp_step *s)
{
    const negoex_spnego_token *t = s->in;
    if (t->kind != NEGOEX_SPNEGO_NEG_TOKEN_RESP || t->framed)
        return set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
    if (t->neg_state == NEGOEX_NEG_STATE_REJECT) {
        s->fatal = 1;
        return set_error(s->sp, NEGOEX_ERR_SPNEGO_REJECTED, 0, "negState");
    }
    return NEGOEX_OK;
}

/* The peer's responseToken goes to NEGOEX; without one, only the MIC
 * rules run, and only once NEGOEX is complete. */
static int continue_negoex(struct sp_step *s, const uint8_t *in)
{
    const negoex_spnego_token *t = s->in;
    if (t->response_token.data != NULL) {
        if (s->ns.negoex_complete)
            return set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->response_token),
                             "responseToken");
        return run_negoex(s, &t->response_token, offset_in(in, &t->response_token));
    }
    if (!s->ns.negoex_complete)
        return set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "responseToken");
    return finish_step(s, NEGOEX_COMPLETE, NULL, 0);
}

static int initiator_first(struct sp_step *s, const uint8_t *in, size_t in_len)
{
    negoex_spnego *sp = s->sp;
    if (in_len != 0) {
        /* A server's NegTokenInit2 (SMB2 NEGOTIATE): hints only. */
        const negoex_spnego_token *t = s->in;
        if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
        if (t->mech_token.data != NULL && t->mech_token.len != 0) {
            negoex_bytes first;
            if (negoex_spnego_mech_type(t, 0, &first) == 0 && is_negoex_oid(first.data, first.len)) {
                negoex_error_info e;
                int rc = negoex_token_validate(t->mech_token.data, t->mech_token.len, &e);
                if (rc < 0)
                    return set_error(sp, rc, e.offset + offset_in(in, &t->mech_token), e.field);
            }
        }
        uint8_t *at;
        sp->hints_store.len = 0;
        int rc = negoex_buf_reserve(&sp->hints_store, in_len, &at);
        if (rc < 0)
            return rc;
    }

    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_INIT);
    f.framed = 1;
    f.mech_types = sp->mechs;
    f.mech_type_count = sp->nmechs;
    s->ns.phase = SP_RUNNING;
    int rc;
    if (sp->negoex_index != 0) {
        rc = put_token(sp, &f); /* an optimistic token would be for another mech */
    } else {
        s->init = &f;
        s->in = NULL;
        rc = run_negoex(s, NULL, 0);
    }
    if (rc >= 0 && in_len != 0) {
        memcpy(sp->hints_store.data, in, in_len);
        sp->hints_store.len = in_len;
        sp->have_hints = negoex_spnego_parse(sp->hints_store.data, in_len, &sp->hints, NULL) == 0;
    }
    return rc;
}

static int initiator_reply(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    struct sp_state *ns = &s->ns;
    int rc = check_later_token(s);
    if (rc < 0)
        return rc;
    if (!ns->first_reply_seen) {
        if (t->neg_state == NEGOEX_NEG_STATE_ABSENT)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->supported_mech.data == NULL)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "supportedMech");
        size_t found = SIZE_MAX;
        for (size_t i = 0; i < sp->nmechs; i++)
            if (sp->mechs[i].len == t->supported_mech.len &&
                memcmp(sp->mechs[i].data, t->supported_mech.data, t->supported_mech.len) == 0)
                found = i;
        if (found == SIZE_MAX)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mech), "supportedMech");
        if (found != sp->negoex_index) {
            s->fatal = 1;
            return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->supported_mech),
                             "supportedMech");
        }
        ns->first_reply_seen = 1;
    } else if (t->supported_mech.data != NULL && !is_negoex_oid(t->supported_mech.data, t->supported_mech.len)) {
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mech), "supportedMech");
    }
    if (t->neg_state == NEGOEX_NEG_STATE_REQUEST_MIC)
        ns->mic_required = 1;
    if (t->neg_state == NEGOEX_NEG_STATE_ACCEPT_COMPLETED)
        ns->peer_completed = 1;

    if (!ns->negoex_started) {
        /* NEGOEX was not first: the acceptor chose it; start it now. */
        if (t->response_token.data != NULL)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->response_token), "responseToken");
        if (ns->peer_completed)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->mech_list_mic.data != NULL)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->mech_list_mic), "mechListMIC");
        s->in = NULL;
        return run_negoex(s, NULL, 0);
    }
    return continue_negoex(s, in);
}

/* ------------------------------------------------------------------------ */
/* Acceptor                                                                   */
/* ------------------------------------------------------------------------ */

static int acceptor_first(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    if (t->kind != NEGOEX_SPNEGO_NEG_TOKEN_INIT)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
    if (!t->framed)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "InitialContextToken");
    size_t idx = 0;
    int found = 0;
    negoex_spnego_mech_iter w;
    negoex_bytes oid = {NULL, 0};
    if (negoex_spnego_mech_iter_init(&w, t) == NEGOEX_OK)
        for (; negoex_spnego_mech_iter_next(&w, &oid) == 1; idx++)
            if ((found = is_negoex_oid(oid.data, oid.len)) != 0)
                break;
    if (!found) {
        s->fatal = 1;
        return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->mech_types), "mechTypes");
    }
    if (t->mech_list_mic.data != NULL)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->mech_list_mic), "mechListMIC");

    /* Both MICs cover the initiator's list as it sent it. */
    uint8_t *at;
    sp->mech_list.len = 0;
    int rc = negoex_buf_reserve(&sp->mech_list, t->mech_types.len, &at);
    if (rc < 0)
        return rc;
    memcpy(at, t->mech_types.data, t->mech_types.len);
    sp->mech_list.len = t->mech_types.len;

    struct sp_state *ns = &s->ns;
    ns->phase = SP_RUNNING;
    s->with_supported_mech = 1;
    /* RFC 4178 5: NEGOEX is not the initiator's first choice, so its
     * optimistic token (for that one) is dropped and both MICs become
     * mandatory; request-mic tells the initiator (also when our own
     * configuration wants MICs, which it cannot know otherwise). */
    if (idx != 0)
        ns->mic_required = 1;
    s->neg_state_out = ns->mic_required ? NEGOEX_NEG_STATE_REQUEST_MIC : NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    if (idx != 0 || t->mech_token.data == NULL) {
        negoex_spnego_fields f;
        negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
        f.neg_state = s->neg_state_out;
        f.supported_mech = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
        return put_token(sp, &f);
    }
    s->in = NULL; /* the MIC rules start with the next token */
    return run_negoex(s, &t->mech_token, offset_in(in, &t->mech_token));
}

static int acceptor_next(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    int rc = check_later_token(s);
    if (rc < 0)
        return rc;
    if (t->supported_mech.data != NULL)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mech), "supportedMech");
    s->neg_state_out = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    return continue_negoex(s, in);
}

/* ------------------------------------------------------------------------ */
/* Step                                                                       */
/* ------------------------------------------------------------------------ */

static int is_reject(const uint8_t *in, size_t in_len)
{
    negoex_spnego_token t;
    return in_len != 0 && negoex_spnego_parse(in, in_len, &t, NULL) == 0 &&
           t.kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP && t.neg_state == NEGOEX_NEG_STATE_REJECT;
}

int negoex_spnego_step(negoex_spnego *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    if (sp == NULL || out == NULL || out_len == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    memset(&sp->last_error, 0, sizeof sp->last_error);
    sp->out.len = 0;
    if (sp->st.phase == SP_FAILED)
        return set_error(sp, NEGOEX_ERR_FAILED, 0, "token");
    if (sp->st.phase == SP_COMPLETE && !is_reject(in, in_len))
        return set_error(sp, NEGOEX_ERR_COMPLETE, 0, "token");
    int initiator_starts = is_initiator(sp) && sp->st.phase == SP_START;
    if (in_len == 0 && !initiator_starts)
        return set_error(sp, NEGOEX_ERR_MISSING_TOKEN, 0, "token");
    if (in_len > sp->cfg.max_token_size)
        return set_error(sp, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "token");

    negoex_spnego_token t;
    struct sp_step s;
    memset(&s, 0, sizeof s);
    s.sp = sp;
    s.base = in;
    s.ns = sp->st;
    if (in_len != 0) {
        int rc = negoex_spnego_parse(in, in_len, &t, &sp->last_error);
        if (rc < 0)
            return rc;
        trace_token(sp, "received", &t);
        s.in = &t;
    }

    int rc;
    if (sp->st.phase == SP_COMPLETE) {
        /* The peer refused what we took as complete (MIT's initiator does
         * this when it drops the scheme the acceptor completed). */
        s.fatal = 1;
        rc = set_error(sp, NEGOEX_ERR_SPNEGO_REJECTED, 0, "negState");
    } else if (initiator_starts)
        rc = initiator_first(&s, in, in_len);
    else if (is_initiator(sp))
        rc = initiator_reply(&s, in);
    else if (sp->st.phase == SP_START)
        rc = acceptor_first(&s, in);
    else
        rc = acceptor_next(&s, in);

    if (rc < 0) {
        if (sp->last_error.code == NEGOEX_OK)
            set_error(sp, rc, 0, NULL);
        if (!s.fatal) {
            sp->out.len = 0;
            return rc; /* the token is rejected; nothing changed */
        }
        sp->st.phase = SP_FAILED;
        if (s.fatal == 2) {
            *out = sp->out.data; /* the acceptor scheme's error token */
            *out_len = sp->out.len;
        } else if (!initiator_starts && (rc != NEGOEX_ERR_SPNEGO_REJECTED || !is_initiator(sp))) {
            /* (an acceptor answers a reject with one, as MIT does) */
            *out = REJECT_TOKEN;
            *out_len = sizeof REJECT_TOKEN;
            if (sp->cfg.trace != NULL)
                sp->cfg.trace(sp->cfg.trace_ud, "SPNEGO sent negTokenResp negState=reject");
        }
        return rc;
    }
    sp->st = s.ns;
    if (sp->st.phase == SP_START)
        sp->st.phase = SP_RUNNING;
    *out = sp->out.len ? sp->out.data : NULL;
    *out_len = sp->out.len;
    return sp->st.phase == SP_COMPLETE ? NEGOEX_COMPLETE : NEGOEX_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------ */

negoex_context *negoex_spnego_negoex(const negoex_spnego *sp)
{
    return sp != NULL ? sp->nx : NULL;
}

void negoex_spnego_last_error(const negoex_spnego *sp, negoex_error_info *err)
{
    if (sp != NULL && err != NULL)
        *err = sp->last_error;
}

int negoex_spnego_is_complete(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.phase == SP_COMPLETE;
}

int negoex_spnego_mic_required(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.mic_required;
}

int negoex_spnego_mic_exchanged(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.mic_sent && sp->st.peer_mic_verified;
}

const negoex_spnego_token *negoex_spnego_hints(const negoex_spnego *sp)
{
    return sp != NULL && sp->have_hints ? &sp->hints : NULL;
}
