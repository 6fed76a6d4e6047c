/*
 * SPNEGO (RFC 4178) over one NEGOEX context and the application's own
 * mechanisms (negoex/spnego_mech.h; docs/spnego-fallback.md).
 *
 * The initiator may also list mechanisms it cannot run (so its token looks
 * like Windows' or MIT's) and ends the conversation if the acceptor picks one
 * of them; it follows the acceptor to any other mechanism it lists (RFC 4178
 * 3). The acceptor picks by its policy among what it has, declines an
 * optimistic token for another mechanism (RFC 4178 4.2.2) and, when the
 * initiator's optimistic token is NEGOEX, takes NEGOEX only if that token
 * names an auth scheme it shares. mechListMIC follows MIT's rule: required
 * when the selected mechanism was not the initiator's first (RFC 4178 5),
 * when the mechanism asks, when the configuration says so, or once the peer
 * sent one; each side's MIC covers the initiator's DER MechTypeList.
 *
 * A token is processed against a copy of the SPNEGO state and the NEGOEX step
 * runs through negoex_context_step_checked, whose check callback verifies the
 * peer's MIC and builds our whole reply: a rejected token (bad DER, wrong
 * field, bad MIC, bad NEGOEX) changes nothing. Failures of the negotiation
 * itself end the context and hand out a reject token.
 */

#include "spnego_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* MS-SPNG 3.1.5.2: Windows' legacy Kerberos OID names the same mechanism as
 * RFC 4121's; an app mech under either one answers both. */
const uint8_t SP_OID_KRB5[9] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
const uint8_t SP_OID_MSKRB5[9] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};

/* negState reject, as MIT and Windows send it. */
static const uint8_t REJECT_TOKEN[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02};

void negoex_spnego_config_init(negoex_spnego_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->max_token_size = DEFAULT_MAX_TOKEN;
    cfg->role = -1;
}

int sp_is_initiator(const negoex_spnego *sp)
{
    return sp->role == NEGOEX_ROLE_INITIATOR;
}

int sp_is_negoex_oid(const uint8_t *der, size_t len)
{
    return der != NULL && len == NEGOEX_OID_DER_LEN && memcmp(der, NEGOEX_OID_DER, len) == 0;
}

int sp_set_error(negoex_spnego *sp, int code, size_t offset, const char *field)
{
    sp->last_error.code = code;
    sp->last_error.offset = offset;
    sp->last_error.field = field;
    return code;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

int sp_same_oid(const negoex_bytes *a, const uint8_t *der, size_t len)
{
    return a->len == len && der != NULL && memcmp(a->data, der, len) == 0;
}

int sp_is_krb5_alias(const uint8_t *der, size_t len)
{
    return (len == sizeof SP_OID_KRB5 && memcmp(der, SP_OID_KRB5, len) == 0) ||
           (len == sizeof SP_OID_MSKRB5 && memcmp(der, SP_OID_MSKRB5, len) == 0);
}

/* The app mech a listed OID names (exactly, or Kerberos under its other
 * OID: MS-SPNG 3.1.5.2), or SIZE_MAX. */
size_t sp_app_for_oid(const negoex_spnego *sp, const uint8_t *der, size_t len, int alias)
{
    for (size_t i = 0; i < sp->napps; i++)
        if (sp_same_oid(&sp->apps[i].oid, der, len))
            return i;
    if (alias && sp_is_krb5_alias(der, len))
        for (size_t i = 0; i < sp->napps; i++)
            if (sp_is_krb5_alias(sp->apps[i].oid.data, sp->apps[i].oid.len))
                return i;
    return SIZE_MAX;
}

static int check_apps(const negoex_spnego_config *cfg)
{
    if (cfg->app_mech_count > MAX_APPS || (cfg->app_mech_count != 0 && cfg->app_mechs == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < cfg->app_mech_count; i++) {
        const negoex_spnego_app_mech *m = &cfg->app_mechs[i];
        const negoex_spnego_mech_ops *o = m->ops;
        if (o == NULL || o->struct_size < offsetof(negoex_spnego_mech_ops, requires_mic) || o->create == NULL ||
            o->free == NULL || o->step == NULL || !negoex_oid_valid(m->oid.data, m->oid.len) ||
            sp_is_negoex_oid(m->oid.data, m->oid.len))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (sp_same_oid(&cfg->app_mechs[j].oid, m->oid.data, m->oid.len))
                return NEGOEX_ERR_INVALID_ARGUMENT;
    }
    return NEGOEX_OK;
}

/*
 * The OIDs we keep (app mechs', the initiator's other mechs') in one copy,
 * and the initiator's list: other_mechs in order (an app mech listed there
 * takes that place), then the remaining app mechs, NEGOEX inserted at
 * negoex_position when there is a NEGOEX context.
 */
static int build_lists(negoex_spnego *sp, const negoex_spnego_config *cfg, int with_negoex)
{
    int initiator = sp_is_initiator(sp);
    size_t nother = initiator ? cfg->other_mech_count : 0;
    if (nother != 0 && cfg->other_mechs == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t total = 0;
    for (size_t i = 0; i < nother; i++) {
        const negoex_bytes *m = &cfg->other_mechs[i];
        if (!negoex_oid_valid(m->data, m->len) || sp_is_negoex_oid(m->data, m->len))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (sp_same_oid(&cfg->other_mechs[j], m->data, m->len))
                return NEGOEX_ERR_INVALID_ARGUMENT;
        total += m->len;
    }
    for (size_t i = 0; i < cfg->app_mech_count; i++)
        total += cfg->app_mechs[i].oid.len;
    uint8_t *at = NULL;
    if (total != 0) {
        int rc = negoex_buf_reserve(&sp->mech_store, total, &at);
        if (rc < 0)
            return rc;
        sp->mech_store.len = total;
    }
    for (size_t i = 0; i < cfg->app_mech_count; i++) {
        sp->apps[i] = cfg->app_mechs[i];
        memcpy(at, cfg->app_mechs[i].oid.data, cfg->app_mechs[i].oid.len);
        sp->apps[i].oid.data = at;
        at += cfg->app_mechs[i].oid.len;
    }
    sp->napps = cfg->app_mech_count;
    sp->negoex_rank = cfg->negoex_position < sp->napps ? cfg->negoex_position : sp->napps;
    if (!initiator)
        return NEGOEX_OK;

    /* Every app mech listed once: in other_mechs' place, or after them. */
    size_t napps_extra = 0;
    for (size_t i = 0; i < sp->napps; i++) {
        int listed = 0;
        for (size_t j = 0; j < nother; j++)
            listed |= sp_same_oid(&cfg->other_mechs[j], sp->apps[i].oid.data, sp->apps[i].oid.len);
        napps_extra += !listed;
    }
    size_t n = nother + napps_extra + (with_negoex ? 1 : 0);
    if (n == 0 || n + (cfg->late_fallback != 0) > MAX_MECHS)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t pos = !with_negoex ? SIZE_MAX : cfg->negoex_position < n ? cfg->negoex_position : n - 1;
    size_t k = 0;
    for (size_t i = 0; i < nother + sp->napps; i++) {
        if (k == pos) {
            sp->mechs[k] = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
            sp->mech_kind[k++] = MK_NEGOEX;
        }
        if (i < nother) {
            const negoex_bytes *m = &cfg->other_mechs[i];
            size_t app = sp_app_for_oid(sp, m->data, m->len, 0);
            if (app != SIZE_MAX) {
                sp->mechs[k] = sp->apps[app].oid;
                sp->mech_kind[k] = MK_APP;
                sp->mech_app[k++] = app;
            } else {
                memcpy(at, m->data, m->len);
                sp->mechs[k] = (negoex_bytes){at, m->len};
                sp->mech_kind[k++] = MK_OTHER;
                at += m->len;
            }
        } else {
            size_t app = i - nother;
            int listed = 0;
            for (size_t j = 0; j < nother; j++)
                listed |= sp_same_oid(&cfg->other_mechs[j], sp->apps[app].oid.data, sp->apps[app].oid.len);
            if (listed)
                continue;
            sp->mechs[k] = sp->apps[app].oid;
            sp->mech_kind[k] = MK_APP;
            sp->mech_app[k++] = app;
        }
    }
    if (k == pos) {
        sp->mechs[k] = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
        sp->mech_kind[k++] = MK_NEGOEX;
    }
    for (size_t i = 0; i < k; i++)
        sp->st.cur[i] = (uint8_t)i;
    sp->st.ncur = k;
    if (cfg->late_fallback) {
        /* MS-SPNG 3.1.5.4: the Late Fallback mechType, after the real
         * mechanisms so that a peer without it never selects it. */
        sp->mechs[k] = (negoex_bytes){OID_LATE_FALLBACK, NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN};
        sp->mech_kind[k++] = MK_OTHER;
    }
    sp->nmechs = k;
    sp->negoex_index = pos;

    size_t need = 0;
    int rc = negoex_spnego_write_mech_list(NULL, 0, &need, sp->mechs, k);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    rc = negoex_buf_reserve(&sp->mech_list, need, &at);
    if (rc < 0)
        return rc;
    rc = negoex_spnego_write_mech_list(at, need, &need, sp->mechs, k);
    if (rc < 0)
        return rc;
    sp->mech_list.len = need;
    return NEGOEX_OK;
}

int negoex_spnego_new(negoex_spnego **out, negoex_context *nx, const negoex_spnego_config *cfg)
{
    negoex_spnego_config c;
    if (out == NULL)
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
    if (c.max_output_token_size != 0 && c.max_output_token_size < NEGOEX_SPNEGO_FRAGMENT_MIN_SEND)
        return NEGOEX_ERR_INVALID_ARGUMENT; /* MS-SPNG 3.1.5.6: "MUST be greater than 5" */
    int rc = check_apps(&c);
    if (rc < 0)
        return rc;
    negoex_role role;
    if (nx != NULL)
        role = negoex_context_role(nx);
    else if (c.app_mech_count != 0 && (c.role == NEGOEX_ROLE_INITIATOR || c.role == NEGOEX_ROLE_ACCEPTOR))
        role = (negoex_role)c.role;
    else
        return NEGOEX_ERR_INVALID_ARGUMENT; /* SPNEGO without NEGOEX needs app mechs and a role */
    if (nx != NULL && c.role >= 0 && c.role != (int)role)
        return NEGOEX_ERR_INVALID_ARGUMENT;

    const negoex_allocator *alloc = nx != NULL ? negoex_context_allocator(nx) : c.allocator;
    negoex_spnego *sp = negoex_mem_alloc(alloc, sizeof *sp);
    if (sp == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(sp, 0, sizeof *sp);
    if (alloc != NULL) {
        sp->alloc_copy = *alloc;
        sp->alloc = &sp->alloc_copy;
    }
    alloc = sp->alloc;
    sp->role = role;
    sp->cfg = c;
    sp->cfg.other_mechs = NULL; /* copied below; the caller's arrays may go */
    sp->cfg.app_mechs = NULL;
    sp->cfg.allocator = NULL;
    sp->negoex_index = SIZE_MAX;
    negoex_buf_init(&sp->mech_store, alloc);
    negoex_buf_init(&sp->mech_list, alloc);
    negoex_buf_init(&sp->out, alloc);
    negoex_buf_init(&sp->hints_store, alloc);
    negoex_buf_init(&sp->lf_store, alloc);
    negoex_buf_init(&sp->lf_mic, alloc);
    negoex_buf_init(&sp->frag_in, alloc);
    sp->st.phase = SP_START;
    rc = build_lists(sp, &c, nx != NULL);
    if (rc < 0) {
        negoex_spnego_free(sp);
        return rc;
    }
    if (sp_is_initiator(sp))
        sp->st.mic_required = (sp->napps == 0 && sp->negoex_index != 0) || c.always_mic;
    else
        sp->st.mic_required = c.always_mic != 0;
    sp->nx = nx;
    *out = sp;
    return NEGOEX_OK;
}

void sp_free_app_state(negoex_spnego *sp, size_t app, void *state)
{
    if (state != NULL)
        sp->apps[app].ops->free(state);
}

void negoex_spnego_free(negoex_spnego *sp)
{
    if (sp == NULL)
        return;
    negoex_context_free(sp->nx);
    sp_free_app_state(sp, sp->app_state_idx, sp->app_state);
    negoex_buf_free(&sp->mech_store);
    negoex_buf_free(&sp->mech_list);
    negoex_buf_free(&sp->out);
    negoex_buf_free(&sp->hints_store);
    negoex_buf_free(&sp->lf_store);
    negoex_buf_free(&sp->lf_mic);
    negoex_buf_free(&sp->frag_in);
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
    if (t->supported_mechs.data != NULL)
        ADD(" supportedMechs=%zu", t->supported_mech_count);
    if (t->hint_name.data != NULL)
        ADD(" hintName=%zu", t->hint_name.len);
#undef ADD
    if (n >= sizeof line)
        memcpy(line + sizeof line - 4, "...", 4);
    sp->cfg.trace(sp->cfg.trace_ud, line);
}

/* Writes f into sp->out (replacing it) and traces it. */
int sp_put_token(negoex_spnego *sp, const negoex_spnego_fields *f)
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
        if (negoex_spnego_parse_ex(sp->out.data, sp->out.len, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, NULL) == 0)
            trace_token(sp, "sent", &t);
    }
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* mechListMIC and the reply, inside the NEGOEX step                          */
/* ------------------------------------------------------------------------ */

size_t sp_offset_in(const uint8_t *base, const negoex_bytes *b)
{
    return b->data != NULL ? (size_t)(b->data - base) : 0;
}

/* Errors after which the conversation cannot go on (the rest reject a token). */
int sp_is_fatal(int code)
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
    case NEGOEX_ERR_SPNEGO_MECH_AUTH:
    case NEGOEX_ERR_SPNEGO_MECH_FAILED:
    case NEGOEX_ERR_SPNEGO_MECH_RETRY:
        return 1;
    default:
        return 0;
    }
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

static unsigned parse_flags(const negoex_spnego *sp)
{
    /* supportedMechs [4] is read only by an initiator that offered Late
     * Fallback (docs/spnego-late-fallback.md C3). */
    return sp_is_initiator(sp) && sp->cfg.late_fallback ? NEGOEX_SPNEGO_PARSE_LATE_FALLBACK : 0;
}

/*
 * MS-SPNG 3.1.5.9-3.1.5.11: an input whose ASN.1 header announces more than
 * it holds (or any input while a token is being assembled) goes to the
 * reassembler. NEGOEX_CONTINUE: more to come; NEGOEX_COMPLETE: *whole is
 * the token (in frag_in). 0: a whole token, taken as it is. A rejected
 * fragment changes nothing.
 */
static int reassemble(negoex_spnego *sp, const uint8_t *in, size_t in_len, negoex_bytes *whole)
{
    if (!sp->ra_busy) {
        negoex_spnego_fragment_header h;
        if (negoex_spnego_fragment_parse(in, in_len, &h, NULL) != NEGOEX_OK || h.token_len <= in_len)
            return 0; /* whole (or not SPNEGO at all: the parser says why) */
        /* A first fragment: a buffer of exactly the announced size, within
         * max_token_size (else the reassembler refuses it: TOKEN_TOO_LARGE). */
        size_t cap = h.token_len <= sp->cfg.max_token_size ? h.token_len : 0;
        uint8_t *at = NULL;
        if (cap != 0) {
            sp->frag_in.len = 0;
            int rc = negoex_buf_reserve(&sp->frag_in, cap, &at);
            if (rc < 0)
                return sp_set_error(sp, rc, 0, "fragment");
        }
        negoex_spnego_reassembler saved = sp->ra;
        if (negoex_spnego_reassembler_init(&sp->ra, at, cap) < 0) {
            sp->ra = saved;
            return sp_set_error(sp, NEGOEX_ERR_INVALID_ARGUMENT, 0, "fragment");
        }
        sp->ra.max_fragments = sp->cfg.max_input_fragments;
        sp->ra.max_token = sp->cfg.max_token_size;
        sp->ra.parse_flags = parse_flags(sp);
        int rc = negoex_spnego_reassembler_feed(&sp->ra, in, in_len, whole, &sp->last_error);
        if (rc < 0) {
            sp->ra = saved;
            return rc;
        }
        sp->ra_busy = rc == NEGOEX_CONTINUE;
        return rc;
    }
    int rc = negoex_spnego_reassembler_feed(&sp->ra, in, in_len, whole, &sp->last_error);
    if (rc == NEGOEX_COMPLETE)
        sp->ra_busy = 0;
    return rc;
}

/* The next fragment of sp->out (3.1.5.7); the token's status with the last. */
static int next_fragment(negoex_spnego *sp, const uint8_t **out, size_t *out_len)
{
    negoex_bytes v = {NULL, 0};
    if (negoex_spnego_fragment_get(sp->out.data, sp->out.len, sp->cfg.max_output_token_size, sp->frag_next, &v) < 0)
        return sp_set_error(sp, NEGOEX_ERR_FAILED, 0, "fragment"); /* cannot happen */
    sp->frag_next++;
    *out = v.data;
    *out_len = v.len;
    if (sp->frag_next < sp->frag_count)
        return NEGOEX_CONTINUE;
    sp->frag_count = sp->frag_next = 0;
    return sp->frag_status;
}

static int step_whole(negoex_spnego *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len,
                      int *rejected);

int negoex_spnego_step(negoex_spnego *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    if (sp == NULL || out == NULL || out_len == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    *out_len = 0;
    if (sp->frag_count != 0) {
        /* 3.1.5.8: the peer answers each fragment with an empty token
         * (step(NULL, 0)); anything else while ours is unsent is refused
         * and changes nothing. */
        if (in_len != 0)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_FRAGMENT_PENDING, 0, "token");
        memset(&sp->last_error, 0, sizeof sp->last_error);
        return next_fragment(sp, out, out_len);
    }
    memset(&sp->last_error, 0, sizeof sp->last_error);
    if (sp->st.phase == SP_FAILED) {
        sp->out.len = 0;
        return sp_set_error(sp, NEGOEX_ERR_FAILED, 0, "token");
    }
    if (in_len > sp->cfg.max_token_size && !sp->ra_busy) {
        sp->out.len = 0;
        return sp_set_error(sp, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "token");
    }
    negoex_spnego_reassembler saved = sp->ra;
    int was_busy = sp->ra_busy;
    if (in_len != 0 && sp->st.phase != SP_COMPLETE && sp->cfg.max_input_fragments > 1) {
        negoex_bytes whole = {NULL, 0};
        int rc = reassemble(sp, in, in_len, &whole);
        if (rc < 0)
            return rc;
        if (rc == NEGOEX_CONTINUE)
            return NEGOEX_CONTINUE; /* 3.1.5.11: an empty output token */
        if (rc == NEGOEX_COMPLETE) {
            in = whole.data;
            in_len = whole.len;
        }
    }
    int rejected = 0;
    int rc = step_whole(sp, in, in_len, out, out_len, &rejected);
    if (rejected) {
        /* The whole token was rejected: so is its last fragment. */
        sp->ra = saved;
        sp->ra_busy = was_busy;
        return rc;
    }
    if (rc >= 0 && sp->cfg.max_output_token_size != 0 && *out_len > sp->cfg.max_output_token_size &&
        *out == sp->out.data) {
        /* FragmentToFit (3.1.5.6, 3.2.5): the token goes out in pieces. */
        size_t count = 0;
        if (negoex_spnego_fragment_split(sp->out.data, sp->out.len, sp->cfg.max_output_token_size, &count) ==
                NEGOEX_OK &&
            count > 1) {
            sp->frag_count = count;
            sp->frag_next = 0;
            sp->frag_status = rc;
            return next_fragment(sp, out, out_len);
        }
    }
    return rc;
}

static int step_whole(negoex_spnego *sp, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len,
                      int *rejected)
{
    sp->out.len = 0;
    if (sp->st.phase == SP_COMPLETE && !is_reject(in, in_len))
        return sp_set_error(sp, NEGOEX_ERR_COMPLETE, 0, "token");
    int initiator_starts = sp_is_initiator(sp) && sp->st.phase == SP_START;
    if (in_len == 0 && !initiator_starts)
        return sp_set_error(sp, NEGOEX_ERR_MISSING_TOKEN, 0, "token");

    negoex_spnego_token t;
    struct sp_step s;
    memset(&s, 0, sizeof s);
    s.sp = sp;
    s.base = in;
    s.ns = sp->st;
    s.app_work = sp_committed_app(sp, &sp->st);
    if (in_len != 0) {
        int rc = negoex_spnego_parse_ex(in, in_len, parse_flags(sp), &t, &sp->last_error);
        if (rc < 0) {
            *rejected = 1;
            return rc;
        }
        trace_token(sp, "received", &t);
        s.in = &t;
    }

    int rc;
    if (sp->st.phase == SP_COMPLETE) {
        /* The peer refused what we took as complete (MIT's initiator does
         * this when it drops the scheme the acceptor completed). */
        s.fatal = 1;
        rc = sp_set_error(sp, NEGOEX_ERR_SPNEGO_REJECTED, 0, "negState");
    } else if (initiator_starts)
        rc = sp_initiator_first(&s, in, in_len);
    else if (sp_is_initiator(sp))
        rc = sp_initiator_reply(&s, in);
    else if (sp->st.phase == SP_START || sp->st.awaiting_retry)
        rc = sp_acceptor_first(&s, in);
    else
        rc = sp_acceptor_next(&s, in);

    if (rc < 0) {
        if (sp->last_error.code == NEGOEX_OK)
            sp_set_error(sp, rc, 0, NULL);
        if (!s.fatal) {
            sp->out.len = 0;
            *rejected = 1;
            return rc; /* the token is rejected; nothing changed */
        }
        sp->st.phase = SP_FAILED;
        sp->ra_busy = 0; /* 3.1.5.11: a partial token goes with the context */
        if (s.fatal == 2) {
            *out = sp->out.data; /* the acceptor scheme's error token */
            *out_len = sp->out.len;
        } else if (!initiator_starts && (rc != NEGOEX_ERR_SPNEGO_REJECTED || !sp_is_initiator(sp))) {
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
    return sp != NULL && sp->st.phase == SP_COMPLETE && sp->frag_count == 0;
}

int negoex_spnego_late_fallback(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.lf;
}

int negoex_spnego_retries(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.retried;
}

size_t negoex_spnego_fragments_pending(const negoex_spnego *sp)
{
    return sp != NULL && sp->frag_count > sp->frag_next ? sp->frag_count - sp->frag_next : 0;
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

int negoex_spnego_selected_mech(const negoex_spnego *sp, negoex_bytes *oid)
{
    if (sp == NULL || oid == NULL || !sp->st.selected)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *oid = sp->st.sel_oid;
    return NEGOEX_OK;
}

int negoex_spnego_selected_app(const negoex_spnego *sp)
{
    return sp != NULL && sp->st.selected && sp->st.kind == MK_APP ? (int)sp->st.app : -1;
}

void *negoex_spnego_app_state(const negoex_spnego *sp)
{
    if (sp == NULL || !sp->st.selected)
        return NULL;
    return sp_committed_app(sp, &sp->st);
}

