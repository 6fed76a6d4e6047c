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
#include <negoex/spnego.h>

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "context_internal.h"

#define DEFAULT_MAX_TOKEN (((size_t)1 << 20) + ((size_t)64 << 10))
#define MAX_MECHS 16 /* Windows lists six */
#define MAX_APPS 15
#define LF_MAX_LISTS 4 /* init, supportedMechs, retry supportedMechs, retry init */
#define NEGOEX_BIT (1u << 15) /* excluded[]: NEGOEX (bits 0..14: app mechs) */

/* MS-SPNG 3.1.5.4: the Negotiate Late Fallback mechType 1.3.6.1.4.1.311.2.2.40. */
#define OID_LATE_FALLBACK NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER

/* What a mechanism of a list is to this side. */
enum mech_kind { MK_NONE = 0, MK_NEGOEX, MK_APP, MK_OTHER };

/* MS-SPNG 3.1.5.2: Windows' legacy Kerberos OID names the same mechanism as
 * RFC 4121's; an app mech under either one answers both. */
static const uint8_t OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_MSKRB5[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};

/* negState reject, as MIT and Windows send it. */
static const uint8_t REJECT_TOKEN[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x02};

enum sp_phase { SP_START, SP_RUNNING, SP_COMPLETE, SP_FAILED };

/* Everything a rejected token must leave as it was. */
struct sp_state {
    enum sp_phase phase;
    int mech_started;       /* the current mechanism has stepped (a state exists) */
    int mech_complete;      /* ... and is established on this side */
    int kind;               /* the current mechanism: MK_NEGOEX / MK_APP (MK_NONE: none yet) */
    size_t app;             /* its index in apps[] when MK_APP */
    int selected;           /* the mechanism is the negotiated one (not only optimistic) */
    negoex_bytes sel_oid;   /* supportedMech as on the wire (static or our storage) */
    int first_reply_seen;   /* initiator: the acceptor's first NegTokenResp arrived */
    int peer_completed;     /* initiator: the acceptor said accept-completed */
    int mic_required;
    int mic_sent;
    int peer_mic_verified;
    /* Late Fallback (MS-SPNG 1.3.2, 3.1.5.1) */
    int lf;                 /* both sides use it: supportedMechs went over the wire */
    int retried;            /* the one retry happened */
    int awaiting_retry;     /* acceptor: sent the retry reject, waits for a new NegTokenInit */
    int negoex_used;        /* the NEGOEX context has stepped: it cannot start again */
    unsigned excluded;      /* mechanisms out of the retry (app index bits, NEGOEX_BIT) */
    size_t nlists;          /* lists recorded in lf_lists / lf_store */
    size_t lists_len;
    uint8_t cur[MAX_MECHS]; /* initiator: the list in force, indices into mechs[] */
    size_t ncur;
};

struct negoex_spnego {
    negoex_context *nx;
    const negoex_allocator *alloc; /* NULL or &alloc_copy: outlives nx while freeing */
    negoex_allocator alloc_copy;
    negoex_role role;
    negoex_spnego_config cfg;

    /* initiator: the list we send, NEGOEX at negoex_index (SIZE_MAX: none) */
    negoex_bytes mechs[MAX_MECHS];
    int mech_kind[MAX_MECHS];
    size_t mech_app[MAX_MECHS];
    size_t nmechs;
    size_t negoex_index;
    /* application mechanisms, preference order (OIDs in mech_store) */
    negoex_spnego_app_mech apps[MAX_APPS];
    size_t napps;
    size_t negoex_rank;             /* acceptor: NEGOEX's place among them */
    void *app_state;                /* committed state of apps[app_state_idx], or NULL */
    size_t app_state_idx;
    negoex_buf mech_store;
    /* the initiator's MechTypeList TLV: what both MICs cover */
    negoex_buf mech_list;

    struct sp_state st;
    negoex_buf out;
    negoex_buf hints_store;
    negoex_spnego_token hints;
    int have_hints;
    negoex_error_info last_error;

    /* Late Fallback: every MechTypeList sent or received, in wire order
     * (st.nlists of them, st.lists_len bytes; later entries are scratch). */
    negoex_buf lf_store;
    struct {
        int field;
        size_t off, len;
    } lf_lists[LF_MAX_LISTS];
    negoex_buf lf_mic; /* scratch: the MIC input */

    /* Fragments (MS-SPNG 3.1.5.6-3.1.5.11). Receiving: one reassembler in
     * frag_in (reserved to the announced length, at most max_token_size). */
    negoex_buf frag_in;
    negoex_spnego_reassembler ra;
    int ra_busy;
    /* Sending: out holds the whole token, frag_next of frag_count sent. */
    size_t frag_count, frag_next;
    int frag_status;
};

/* A token being processed: the parsed view and the state it would lead to. */
struct sp_step {
    negoex_spnego *sp;
    const uint8_t *base;            /* the peer's token, for offsets */
    const negoex_spnego_token *in;  /* NULL: no MIC rules for this step */
    negoex_spnego_fields *init;     /* initiator's first token, being built */
    struct sp_state ns;
    int neg_state_out;              /* acceptor: negState of the reply */
    negoex_bytes supported_mech;    /* acceptor's first reply (data NULL: none) */
    void *app_work;                 /* the app mech state this step works on */
    int fatal;                      /* the error ends the conversation */
    const negoex_bytes *sup_mechs;  /* acceptor: supportedMechs [4] of this reply */
    size_t nsup;
};

void negoex_spnego_config_init(negoex_spnego_config *cfg)
{
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->max_token_size = DEFAULT_MAX_TOKEN;
    cfg->role = -1;
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

static int same_oid(const negoex_bytes *a, const uint8_t *der, size_t len)
{
    return a->len == len && der != NULL && memcmp(a->data, der, len) == 0;
}

static int is_krb5_alias(const uint8_t *der, size_t len)
{
    return (len == sizeof OID_KRB5 && memcmp(der, OID_KRB5, len) == 0) ||
           (len == sizeof OID_MSKRB5 && memcmp(der, OID_MSKRB5, len) == 0);
}

/* The app mech a listed OID names (exactly, or Kerberos under its other
 * OID: MS-SPNG 3.1.5.2), or SIZE_MAX. */
static size_t app_for_oid(const negoex_spnego *sp, const uint8_t *der, size_t len, int alias)
{
    for (size_t i = 0; i < sp->napps; i++)
        if (same_oid(&sp->apps[i].oid, der, len))
            return i;
    if (alias && is_krb5_alias(der, len))
        for (size_t i = 0; i < sp->napps; i++)
            if (is_krb5_alias(sp->apps[i].oid.data, sp->apps[i].oid.len))
                return i;
    return SIZE_MAX;
}

/* Optional ops members exist only up to the struct_size the mech was built with. */
#define OPS_HAS(ops, member)                                                                             \
    ((ops)->struct_size >= offsetof(negoex_spnego_mech_ops, member) + sizeof((ops)->member) &&             \
     (ops)->member != NULL)

static int check_apps(const negoex_spnego_config *cfg)
{
    if (cfg->app_mech_count > MAX_APPS || (cfg->app_mech_count != 0 && cfg->app_mechs == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    for (size_t i = 0; i < cfg->app_mech_count; i++) {
        const negoex_spnego_app_mech *m = &cfg->app_mechs[i];
        const negoex_spnego_mech_ops *o = m->ops;
        if (o == NULL || o->struct_size < offsetof(negoex_spnego_mech_ops, requires_mic) || o->create == NULL ||
            o->free == NULL || o->step == NULL || !negoex_oid_valid(m->oid.data, m->oid.len) ||
            is_negoex_oid(m->oid.data, m->oid.len))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (same_oid(&cfg->app_mechs[j].oid, m->oid.data, m->oid.len))
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
    int initiator = is_initiator(sp);
    size_t nother = initiator ? cfg->other_mech_count : 0;
    if (nother != 0 && cfg->other_mechs == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t total = 0;
    for (size_t i = 0; i < nother; i++) {
        const negoex_bytes *m = &cfg->other_mechs[i];
        if (!negoex_oid_valid(m->data, m->len) || is_negoex_oid(m->data, m->len))
            return NEGOEX_ERR_INVALID_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (same_oid(&cfg->other_mechs[j], m->data, m->len))
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
            listed |= same_oid(&cfg->other_mechs[j], sp->apps[i].oid.data, sp->apps[i].oid.len);
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
            size_t app = app_for_oid(sp, m->data, m->len, 0);
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
                listed |= same_oid(&cfg->other_mechs[j], sp->apps[app].oid.data, sp->apps[app].oid.len);
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
    if (is_initiator(sp))
        sp->st.mic_required = (sp->napps == 0 && sp->negoex_index != 0) || c.always_mic;
    else
        sp->st.mic_required = c.always_mic != 0;
    sp->nx = nx;
    *out = sp;
    return NEGOEX_OK;
}

static void free_app_state(negoex_spnego *sp, size_t app, void *state)
{
    if (state != NULL)
        sp->apps[app].ops->free(state);
}

void negoex_spnego_free(negoex_spnego *sp)
{
    if (sp == NULL)
        return;
    negoex_context_free(sp->nx);
    free_app_state(sp, sp->app_state_idx, sp->app_state);
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
        if (negoex_spnego_parse_ex(sp->out.data, sp->out.len, NEGOEX_SPNEGO_PARSE_LATE_FALLBACK, &t, NULL) == 0)
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
    case NEGOEX_ERR_SPNEGO_MECH_AUTH:
    case NEGOEX_ERR_SPNEGO_MECH_FAILED:
    case NEGOEX_ERR_SPNEGO_MECH_RETRY:
        return 1;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------------ */
/* The current mechanism's MIC methods (NEGOEX or an app mech)               */
/* ------------------------------------------------------------------------ */

static const negoex_spnego_mech_ops *app_ops(const negoex_spnego *sp, const struct sp_state *ns)
{
    return sp->apps[ns->app].ops;
}

/* Records a MechTypeList that went over the wire (Late Fallback MIC input,
 * MS-SPNG 3.1.5.1), in this step's state: a rejected token drops it. */
static int record_list(struct sp_step *s, int field, const uint8_t *tlv, size_t len)
{
    negoex_spnego *sp = s->sp;
    struct sp_state *ns = &s->ns;
    if (ns->nlists >= LF_MAX_LISTS)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, field ? "supportedMechs" : "mechTypes");
    uint8_t *at;
    sp->lf_store.len = ns->lists_len;
    int rc = negoex_buf_reserve(&sp->lf_store, len, &at);
    if (rc < 0)
        return rc;
    memcpy(at, tlv, len);
    sp->lf_lists[ns->nlists].field = field;
    sp->lf_lists[ns->nlists].off = ns->lists_len;
    sp->lf_lists[ns->nlists].len = len;
    ns->nlists++;
    ns->lists_len += len;
    return NEGOEX_OK;
}

/* What the mechListMIC covers: RFC 4178 5's MechTypeList of the initiator,
 * or, when both sides use Late Fallback, every list exchanged in wire order
 * (MS-SPNG 3.1.5.1; encoding: negoex_spnego_late_fallback_mic_input). */
static int mic_input(struct sp_step *s, const uint8_t **data, size_t *len)
{
    negoex_spnego *sp = s->sp;
    if (!s->ns.lf) {
        *data = sp->mech_list.data;
        *len = sp->mech_list.len;
        return NEGOEX_OK;
    }
    negoex_spnego_sent_list l[LF_MAX_LISTS];
    for (size_t i = 0; i < s->ns.nlists; i++) {
        l[i].field = sp->lf_lists[i].field;
        l[i].list = (negoex_bytes){sp->lf_store.data + sp->lf_lists[i].off, sp->lf_lists[i].len};
    }
    size_t need = 0;
    int rc = negoex_spnego_late_fallback_mic_input(NULL, 0, &need, l, s->ns.nlists);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    uint8_t *at;
    sp->lf_mic.len = 0;
    if ((rc = negoex_buf_reserve(&sp->lf_mic, need, &at)) < 0)
        return rc;
    if ((rc = negoex_spnego_late_fallback_mic_input(at, need, &need, l, s->ns.nlists)) < 0)
        return rc;
    sp->lf_mic.len = need;
    *data = sp->lf_mic.data;
    *len = need;
    return NEGOEX_OK;
}

static int mech_verify_mic(struct sp_step *s, const uint8_t *mic, size_t mic_len)
{
    negoex_spnego *sp = s->sp;
    const uint8_t *mi;
    size_t mi_len;
    int rc = mic_input(s, &mi, &mi_len);
    if (rc < 0)
        return rc;
    if (s->ns.kind == MK_NEGOEX)
        return negoex_context_verify_mic(sp->nx, mi, mi_len, mic, mic_len);
    const negoex_spnego_mech_ops *o = app_ops(sp, &s->ns);
    if (o->verify_mic == NULL || s->app_work == NULL)
        return NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
    rc = o->verify_mic(s->app_work, mi, mi_len, mic, mic_len);
    if (rc < 0 && rc != NEGOEX_ERR_NO_MEMORY)
        rc = NEGOEX_ERR_SPNEGO_MIC_MISMATCH; /* whatever the mech calls it */
    return rc < 0 ? rc : NEGOEX_OK;
}

static int mech_make_mic(struct sp_step *s, negoex_buf *mic)
{
    negoex_spnego *sp = s->sp;
    const uint8_t *mi;
    size_t mi_len;
    int rc = mic_input(s, &mi, &mi_len);
    if (rc < 0)
        return rc;
    if (s->ns.kind == MK_NEGOEX)
        return negoex_context_make_mic(sp->nx, mi, mi_len, mic);
    const negoex_spnego_mech_ops *o = app_ops(sp, &s->ns);
    if (o->get_mic == NULL || s->app_work == NULL)
        return NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
    rc = o->get_mic(s->app_work, mi, mi_len, mic);
    if (rc < 0 && rc != NEGOEX_ERR_NO_MEMORY && rc != NEGOEX_ERR_CRYPTO)
        rc = NEGOEX_ERR_SPNEGO_MECH_FAILED;
    return rc < 0 ? rc : NEGOEX_OK;
}

static int mech_requires_mic(struct sp_step *s)
{
    if (s->ns.kind == MK_NEGOEX)
        return negoex_context_requires_mic(s->sp->nx);
    if (s->ns.kind != MK_APP || s->app_work == NULL)
        return 0;
    const negoex_spnego_mech_ops *o = app_ops(s->sp, &s->ns);
    return OPS_HAS(o, requires_mic) && o->requires_mic(s->app_work) > 0;
}

/* ------------------------------------------------------------------------ */
/* mechListMIC and the reply, inside the mechanism's step                    */
/* ------------------------------------------------------------------------ */

/* Checks the peer's MIC, makes ours and writes the reply. mech_out is the
 * mechanism token of this step (if any). */
static int finish_step(struct sp_step *s, int mech_result, const uint8_t *mech_out, size_t mech_len)
{
    negoex_spnego *sp = s->sp;
    struct sp_state *ns = &s->ns;
    const negoex_spnego_token *in = s->in;
    if (mech_result == NEGOEX_COMPLETE)
        ns->mech_complete = 1;

    if (s->init != NULL) {
        if (mech_len != 0)
            s->init->mech_token = (negoex_bytes){mech_out, mech_len};
        return put_token(sp, s->init);
    }

    negoex_bytes mic_in = in != NULL ? in->mech_list_mic : (negoex_bytes){NULL, 0};
    size_t mic_off = offset_in(s->base, &mic_in);
    if (mic_in.data != NULL) {
        if (!ns->mech_complete || ns->peer_mic_verified)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, mic_off, "mechListMIC");
        int rc = mech_verify_mic(s, mic_in.data, mic_in.len);
        if (rc < 0) {
            s->fatal = rc == NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
            return set_error(sp, rc, mic_off, "mechListMIC");
        }
        ns->peer_mic_verified = 1;
        ns->mic_required = 1;
    }
    /* Asked as soon as a mechanism is selected, so an acceptor whose
     * mechanism wants MICs can say request-mic in its first reply (MIT's
     * acceptor never asks, and then completes without the MICs its scheme
     * wanted). */
    if (mech_requires_mic(s))
        ns->mic_required = 1;

    /* MIT's rule: the side that sends the last mechanism token sends its
     * MIC with it. The acceptor has the last word when it still has a
     * token to send; the initiator when the acceptor says completed. */
    if (ns->mech_complete && ns->mic_required && !ns->peer_mic_verified && in != NULL) {
        int peer_sent_last = is_initiator(sp) ? ns->peer_completed : mech_len == 0;
        if (peer_sent_last)
            return set_error(sp, NEGOEX_ERR_SPNEGO_MIC_MISSING, 0, "mechListMIC");
    }

    negoex_buf mic;
    negoex_buf_init(&mic, sp->alloc);
    if (ns->mech_complete && ns->mic_required && !ns->mic_sent) {
        int rc = mech_make_mic(s, &mic);
        if (rc < 0) {
            negoex_buf_free(&mic);
            s->fatal = rc != NEGOEX_ERR_NO_MEMORY;
            return set_error(sp, rc, 0, "mechListMIC");
        }
        ns->mic_sent = 1;
    }

    int done = ns->mech_complete && (!ns->mic_required || (ns->mic_sent && ns->peer_mic_verified));
    negoex_spnego_fields f;
    int rc = NEGOEX_OK;
    if (is_initiator(sp)) {
        if (done && (ns->peer_completed || (ns->mic_required && mic.len != 0 && ns->peer_mic_verified))) {
            /* Complete on accept-completed, or when our MIC answers the
             * acceptor's verified one: that is the last message, and MIT's
             * acceptor sends no accept-completed after it. */
            ns->phase = SP_COMPLETE;
        } else if (ns->peer_completed) {
            /* accept-completed, yet the mechanism or the MICs are not done. */
            rc = set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        } else if (mech_len == 0 && mic.len == 0 && ns->mech_started) {
            /* accept-incomplete with nothing for us to answer. */
            rc = set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        }
        sp->out.len = 0;
        if (rc == NEGOEX_OK && (mech_len != 0 || mic.len != 0)) {
            negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
            f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
            if (mech_len != 0)
                f.response_token = (negoex_bytes){mech_out, mech_len};
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
        else if (s->supported_mech.data != NULL && ns->mic_required)
            f.neg_state = NEGOEX_NEG_STATE_REQUEST_MIC;
        else
            f.neg_state = s->neg_state_out;
        f.supported_mech = s->supported_mech;
        f.supported_mechs = s->sup_mechs;
        f.supported_mech_count = s->nsup;
        if (mech_len != 0)
            f.response_token = (negoex_bytes){mech_out, mech_len};
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
        s->ns.mech_started = 1;
        s->ns.negoex_used = 1;
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
        f.supported_mech = s->supported_mech;
        f.response_token = (negoex_bytes){nx_out, nx_len};
        if (put_token(sp, &f) == NEGOEX_OK)
            s->fatal = 2; /* failed, and out holds the error token */
    }
    return rc;
}

/* The committed state of the current app mech, or NULL. */
static void *committed_app(const negoex_spnego *sp, const struct sp_state *ns)
{
    return ns->kind == MK_APP && ns->mech_started && sp->app_state != NULL && sp->app_state_idx == ns->app
               ? sp->app_state
               : NULL;
}

/*
 * Runs the current app mech on the peer's token (NULL: its first step):
 * on a copy of its state (clone) or a new state, then finish_step; the copy
 * replaces the committed state only if everything passed, so a rejected
 * token changes nothing. A mechanism without clone steps in place, and a
 * token rejected after that ends the conversation.
 */
static int run_app(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field)
{
    negoex_spnego *sp = s->sp;
    size_t app = s->ns.app;
    const negoex_spnego_mech_ops *o = sp->apps[app].ops;
    void *committed = committed_app(sp, &s->ns);
    void *work = NULL;
    int disposable = 1, rc;
    if (committed == NULL) {
        rc = o->create(sp->apps[app].user_data, sp->role, &work);
        if (rc >= 0 && work == NULL)
            rc = NEGOEX_ERR_SPNEGO_MECH_FAILED;
    } else if (OPS_HAS(o, clone)) {
        rc = o->clone(committed, &work);
        if (rc >= 0 && work == NULL)
            rc = NEGOEX_ERR_NO_MEMORY;
    } else {
        work = committed;
        disposable = 0;
        rc = NEGOEX_OK;
    }
    if (rc < 0) {
        if (rc < NEGOEX_ERR_LAST_ || strcmp(negoex_error_name(rc), "UNKNOWN") == 0)
            rc = NEGOEX_ERR_SPNEGO_MECH_FAILED;
        s->fatal = rc != NEGOEX_ERR_NO_MEMORY;
        return set_error(sp, rc, 0, field);
    }
    s->app_work = work;
    const uint8_t *out = NULL;
    size_t out_len = 0;
    const uint8_t *data = inner != NULL ? inner->data : NULL;
    size_t len = inner != NULL ? inner->len : 0;
    rc = o->step(work, data, len, &out, &out_len);
    if (rc < 0) {
        if (rc < NEGOEX_ERR_LAST_ || strcmp(negoex_error_name(rc), "UNKNOWN") == 0)
            rc = NEGOEX_ERR_SPNEGO_MECH_FAILED;
        /* A malformed token is rejected like any other when the state can be
         * restored; the mechanism's other failures end the conversation. */
        s->fatal = !disposable || (rc != NEGOEX_ERR_SPNEGO_MECH_TOKEN && rc != NEGOEX_ERR_NO_MEMORY) ||
                   is_fatal(rc);
        set_error(sp, rc, inner != NULL ? inner_off : 0, field);
    } else if (rc != NEGOEX_CONTINUE && rc != NEGOEX_COMPLETE) {
        s->fatal = 1;
        rc = set_error(sp, NEGOEX_ERR_SPNEGO_MECH_FAILED, inner_off, field);
    } else {
        int result = rc;
        rc = finish_step(s, result, out, out_len);
        if (rc < 0 && !disposable)
            s->fatal = 1; /* the mechanism saw the token and cannot be restored */
    }
    if (rc < 0) {
        if (disposable)
            o->free(work);
        s->app_work = committed;
        return rc;
    }
    if (work != sp->app_state) {
        free_app_state(sp, sp->app_state_idx, sp->app_state);
        sp->app_state = work;
        sp->app_state_idx = app;
    }
    s->ns.mech_started = 1;
    return rc;
}

/* Runs the current mechanism: NEGOEX or an app mech. */
static int run_mech(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field)
{
    if (s->ns.kind == MK_NEGOEX)
        return run_negoex(s, inner, inner_off);
    return run_app(s, inner, inner_off, field);
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

/* The peer's responseToken goes to the mechanism; without one, only the
 * MIC rules run, and only once the mechanism is complete. */
static int continue_mech(struct sp_step *s, const uint8_t *in)
{
    const negoex_spnego_token *t = s->in;
    if (t->response_token.data != NULL) {
        if (s->ns.mech_complete)
            return set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->response_token),
                             "responseToken");
        return run_mech(s, &t->response_token, offset_in(in, &t->response_token), "responseToken");
    }
    if (!s->ns.mech_complete)
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
    if (sp->cfg.late_fallback &&
        (rc = record_list(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, sp->mech_list.data, sp->mech_list.len)) < 0)
        return rc;
    if (sp->mech_kind[0] == MK_OTHER) {
        rc = put_token(sp, &f); /* an optimistic token would be for a mech we cannot run */
    } else {
        /* RFC 4178 3.2: the optimistic token is for the first mechanism. */
        s->ns.kind = sp->mech_kind[0];
        s->ns.app = sp->mech_app[0];
        s->init = &f;
        s->in = NULL;
        rc = run_mech(s, NULL, 0, "mechToken");
    }
    if (rc >= 0 && in_len != 0) {
        memcpy(sp->hints_store.data, in, in_len);
        sp->hints_store.len = in_len;
        sp->have_hints = negoex_spnego_parse(sp->hints_store.data, in_len, &sp->hints, NULL) == 0;
    }
    return rc;
}

/* The bit of a mechanism in sp_state.excluded. */
static unsigned mech_bit(int kind, size_t app)
{
    return kind == MK_NEGOEX ? NEGOEX_BIT : kind == MK_APP ? 1u << app : 0;
}

/* Is oid in the MechTypeList TLV list? (Kerberos under either OID counts.) */
static int list_has(const negoex_bytes *list, const negoex_bytes *oid)
{
    negoex_spnego_mech_iter w;
    negoex_bytes o = {NULL, 0};
    if (negoex_spnego_mech_list_iter_init(&w, list) != NEGOEX_OK)
        return 0;
    while (negoex_spnego_mech_iter_next(&w, &o) == 1)
        if (same_oid(oid, o.data, o.len) ||
            (is_krb5_alias(oid->data, oid->len) && is_krb5_alias(o.data, o.len)))
            return 1;
    return 0;
}

/* Both sides of a Late Fallback retry drop the failed selection the same
 * way: nothing chosen, started or MIC'd yet, and no second retry. */
static void forget_selection(struct sp_state *ns)
{
    ns->retried = 1;
    ns->selected = 0;
    ns->sel_oid = (negoex_bytes){NULL, 0};
    ns->mech_started = 0;
    ns->mech_complete = 0;
    ns->mic_sent = 0;
    ns->peer_mic_verified = 0;
}

/*
 * Late Fallback retry, initiator side (MS-SPNG 1.3.2; our reading,
 * docs/spnego-late-fallback.md 4): the acceptor's negState reject carrying
 * supportedMechs [4] says its mechanism failed non-fatally. We answer with a
 * new framed NegTokenInit listing, in our order, the mechanisms we can still
 * run (not the failed one, not a NEGOEX context that has stepped) that the
 * acceptor named; the optimistic token is for the first. Both lists join the
 * MIC input. One retry per conversation.
 */
static int initiator_retry(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    struct sp_state *ns = &s->ns;
    int rc = record_list(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, t->supported_mechs.data, t->supported_mechs.len);
    if (rc < 0)
        return rc;
    if (ns->selected)
        ns->excluded |= mech_bit(ns->kind, ns->app);
    if (ns->negoex_used)
        ns->excluded |= NEGOEX_BIT;
    negoex_bytes list[MAX_MECHS];
    size_t n = 0;
    for (size_t i = 0; i < sp->nmechs; i++) {
        int kind = sp->mech_kind[i];
        if (kind == MK_OTHER || (ns->excluded & mech_bit(kind, sp->mech_app[i])) ||
            !list_has(&t->supported_mechs, &sp->mechs[i]))
            continue;
        ns->cur[n] = (uint8_t)i;
        list[n++] = sp->mechs[i];
    }
    if (n == 0) {
        s->fatal = 1;
        return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->supported_mechs),
                         "supportedMechs");
    }
    ns->ncur = n;
    forget_selection(ns);
    ns->first_reply_seen = 0;
    ns->peer_completed = 0;
    ns->mic_required = 1;

    size_t need = 0;
    rc = negoex_spnego_write_mech_list(NULL, 0, &need, list, n);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    uint8_t *tmp = negoex_mem_alloc(sp->alloc, need);
    if (tmp == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    rc = negoex_spnego_write_mech_list(tmp, need, &need, list, n);
    if (rc >= 0)
        rc = record_list(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, tmp, need);
    negoex_mem_free(sp->alloc, tmp);
    if (rc < 0)
        return rc;

    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_INIT);
    f.framed = 1;
    f.mech_types = list;
    f.mech_type_count = n;
    ns->kind = sp->mech_kind[ns->cur[0]];
    ns->app = sp->mech_app[ns->cur[0]];
    s->init = &f;
    s->in = NULL;
    return run_mech(s, NULL, 0, "mechToken");
}

static int initiator_reply(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    struct sp_state *ns = &s->ns;
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP && !t->framed && t->neg_state == NEGOEX_NEG_STATE_REJECT &&
        t->supported_mechs.data != NULL && ns->lf && !ns->retried)
        return initiator_retry(s, in);
    int rc = check_later_token(s);
    if (rc < 0)
        return rc;
    int fallback = 0;
    if (t->supported_mechs.data != NULL && (ns->first_reply_seen || ns->retried || ns->nlists != 1))
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mechs), "supportedMechs");
    if (!ns->first_reply_seen) {
        if (t->neg_state == NEGOEX_NEG_STATE_ABSENT)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->supported_mech.data == NULL)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "supportedMech");
        size_t found = SIZE_MAX, pos = SIZE_MAX;
        for (size_t i = 0; i < ns->ncur && found == SIZE_MAX; i++)
            if (same_oid(&sp->mechs[ns->cur[i]], t->supported_mech.data, t->supported_mech.len)) {
                found = ns->cur[i];
                pos = i;
            }
        if (found == SIZE_MAX && !ns->retried && sp->cfg.late_fallback &&
            t->supported_mech.len == NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN &&
            memcmp(t->supported_mech.data, OID_LATE_FALLBACK, t->supported_mech.len) == 0) {
            /* We listed it, but it is no mechanism to run. */
            s->fatal = 1;
            return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->supported_mech),
                             "supportedMech");
        }
        if (found == SIZE_MAX)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mech), "supportedMech");
        if (t->supported_mechs.data != NULL) {
            /* MS-SPNG 3.1.5.1: the acceptor has Late Fallback too. */
            rc = record_list(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, t->supported_mechs.data,
                             t->supported_mechs.len);
            if (rc < 0)
                return rc;
            ns->lf = 1;
            ns->mic_required = 1;
        }
        if (sp->mech_kind[found] == MK_OTHER) {
            s->fatal = 1;
            return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->supported_mech),
                             "supportedMech");
        }
        ns->first_reply_seen = 1;
        ns->selected = 1;
        ns->sel_oid = sp->mechs[found];
        if (pos != 0) {
            /* RFC 4178 3 / 5: the acceptor chose another than our first
             * mechanism; our optimistic token (if any) was discarded, we
             * start the chosen one, and both MICs become mandatory. */
            fallback = ns->kind != sp->mech_kind[found] || ns->app != sp->mech_app[found] || !ns->mech_started;
            ns->mic_required = 1;
            ns->kind = sp->mech_kind[found];
            ns->app = sp->mech_app[found];
            if (fallback) {
                ns->mech_started = 0;
                ns->mech_complete = 0;
            }
        }
    } else if (t->supported_mech.data != NULL &&
               !same_oid(&ns->sel_oid, t->supported_mech.data, t->supported_mech.len)) {
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->supported_mech), "supportedMech");
    }
    if (t->neg_state == NEGOEX_NEG_STATE_REQUEST_MIC)
        ns->mic_required = 1;
    if (t->neg_state == NEGOEX_NEG_STATE_ACCEPT_COMPLETED)
        ns->peer_completed = 1;

    if (!ns->mech_started) {
        /* The chosen mechanism starts now (it was not our first, or the
         * first had no optimistic token). */
        if (ns->peer_completed)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->mech_list_mic.data != NULL)
            return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->mech_list_mic), "mechListMIC");
        if (ns->kind == MK_NEGOEX) {
            if (t->response_token.data != NULL)
                return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->response_token),
                                 "responseToken");
            s->in = NULL;
            return run_negoex(s, NULL, 0);
        }
        /* RFC 4178 4.2.2: a server-first mechanism's first token may come
         * in this reply; a client-first one starts from nothing. */
        s->in = NULL;
        if (t->response_token.data != NULL)
            return run_app(s, &t->response_token, offset_in(in, &t->response_token), "responseToken");
        return run_app(s, NULL, 0, "responseToken");
    }
    return continue_mech(s, in);
}

/* ------------------------------------------------------------------------ */
/* Acceptor                                                                   */
/* ------------------------------------------------------------------------ */

/* A mechanism of the initiator's list that this side has. */
struct candidate {
    size_t index; /* in the initiator's list */
    size_t rank;  /* by the acceptor's policy: lower wins */
    int kind;     /* MK_NEGOEX or MK_APP */
    size_t app;
    negoex_bytes oid; /* as the initiator listed it (a view into its token) */
};

/* Our mechanisms in the initiator's list, each at its first place, ordered by
 * the policy: our own preference (NEGOEX at negoex_position among the app
 * mechs) or the initiator's order. Returns how many. */
static size_t candidates(const negoex_spnego *sp, const negoex_spnego_token *t, unsigned excluded,
                         struct candidate *c)
{
    size_t n = 0;
    int have_negoex = 0;
    int have_app[MAX_APPS] = {0};
    negoex_spnego_mech_iter w;
    negoex_bytes oid = {NULL, 0};
    if (negoex_spnego_mech_iter_init(&w, t) != NEGOEX_OK)
        return 0;
    for (size_t idx = 0; n < sp->napps + 1 && negoex_spnego_mech_iter_next(&w, &oid) == 1; idx++) {
        struct candidate k = {idx, 0, MK_NONE, 0, oid};
        if (is_negoex_oid(oid.data, oid.len)) {
            if (sp->nx == NULL || have_negoex || (excluded & NEGOEX_BIT))
                continue;
            have_negoex = 1;
            k.kind = MK_NEGOEX;
            k.rank = sp->negoex_rank;
        } else {
            size_t app = app_for_oid(sp, oid.data, oid.len, 1);
            if (app == SIZE_MAX || have_app[app] || (excluded & (1u << app)))
                continue;
            have_app[app] = 1;
            k.kind = MK_APP;
            k.app = app;
            k.rank = app < sp->negoex_rank || sp->nx == NULL ? app : app + 1;
        }
        if (sp->cfg.acceptor_policy == NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER)
            k.rank = idx;
        size_t at = n++;
        while (at > 0 && c[at - 1].rank > k.rank) {
            c[at] = c[at - 1];
            at--;
        }
        c[at] = k;
    }
    return n;
}

/* What supportedMech says for a candidate: the OID the initiator listed,
 * kept where it outlives its token (MS-SPNG 3.1.5.2, 3.2.5: Windows' MS-KRB5
 * OID is echoed when the app mech is registered as KRB5, and the other way
 * round). */
static negoex_bytes chosen_oid(const negoex_spnego *sp, const struct candidate *k)
{
    if (k->kind == MK_NEGOEX)
        return (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
    if (same_oid(&sp->apps[k->app].oid, k->oid.data, k->oid.len))
        return sp->apps[k->app].oid;
    if (k->oid.len == sizeof OID_MSKRB5 && memcmp(k->oid.data, OID_MSKRB5, sizeof OID_MSKRB5) == 0)
        return (negoex_bytes){OID_MSKRB5, sizeof OID_MSKRB5};
    return (negoex_bytes){OID_KRB5, sizeof OID_KRB5};
}

/* The mechanisms this acceptor can (still) run, in its preference order:
 * supportedMechs [4] (MS-SPNG 3.1.5.1). Returns how many. */
static size_t our_mechs(const negoex_spnego *sp, unsigned excluded, negoex_bytes *out)
{
    size_t n = 0;
    for (size_t r = 0; r <= sp->napps; r++) {
        if (sp->nx != NULL && r == sp->negoex_rank && !(excluded & NEGOEX_BIT))
            out[n++] = (negoex_bytes){NEGOEX_OID_DER, NEGOEX_OID_DER_LEN};
        if (r < sp->napps && !(excluded & (1u << r)))
            out[n++] = sp->apps[r].oid;
    }
    return n;
}

static int offers_late_fallback(const negoex_spnego_token *t)
{
    negoex_spnego_mech_iter w;
    negoex_bytes oid = {NULL, 0};
    if (negoex_spnego_mech_iter_init(&w, t) != NEGOEX_OK)
        return 0;
    while (negoex_spnego_mech_iter_next(&w, &oid) == 1)
        if (oid.len == NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN &&
            memcmp(oid.data, OID_LATE_FALLBACK, oid.len) == 0)
            return 1;
    return 0;
}

/* Writes list as a MechTypeList and records it (Late Fallback MIC input). */
static int record_oids(struct sp_step *s, int field, const negoex_bytes *list, size_t n)
{
    negoex_spnego *sp = s->sp;
    size_t need = 0;
    int rc = negoex_spnego_write_mech_list(NULL, 0, &need, list, n);
    if (rc < 0 && rc != NEGOEX_ERR_BUFFER_TOO_SMALL)
        return rc;
    uint8_t *tmp = negoex_mem_alloc(sp->alloc, need);
    if (tmp == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    rc = negoex_spnego_write_mech_list(tmp, need, &need, list, n);
    if (rc >= 0)
        rc = record_list(s, field, tmp, need);
    negoex_mem_free(sp->alloc, tmp);
    return rc;
}

static int acceptor_first(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    if (t->kind != NEGOEX_SPNEGO_NEG_TOKEN_INIT)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
    if (!t->framed)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "InitialContextToken");
    int retry = s->ns.awaiting_retry;
    struct candidate cand[MAX_APPS + 1];
    size_t ncand = candidates(sp, t, s->ns.excluded, cand);
    if (ncand == 0) {
        /* RFC 4178 3.2: nothing we have is listed (and we never take a
         * mechanism the application did not configure). */
        s->fatal = 1;
        return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->mech_types), "mechTypes");
    }
    if (t->mech_list_mic.data != NULL)
        return set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, offset_in(in, &t->mech_list_mic), "mechListMIC");

    /* Both MICs cover the initiator's list as it sent it (RFC 4178 5). */
    uint8_t *at;
    sp->mech_list.len = 0;
    int rc = negoex_buf_reserve(&sp->mech_list, t->mech_types.len, &at);
    if (rc < 0)
        return rc;
    memcpy(at, t->mech_types.data, t->mech_types.len);
    sp->mech_list.len = t->mech_types.len;

    /* Late Fallback (MS-SPNG 3.1.5.1, 3.1.5.4): every list in wire order;
     * our first answer to an offer carries supportedMechs [4]. */
    negoex_bytes sup[MAX_APPS + 1];
    if (retry || (sp->cfg.late_fallback && offers_late_fallback(t))) {
        if ((rc = record_list(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, t->mech_types.data, t->mech_types.len)) < 0)
            return rc;
    }
    if (!retry && sp->cfg.late_fallback && offers_late_fallback(t)) {
        size_t nsup = our_mechs(sp, 0, sup);
        if ((rc = record_oids(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, sup, nsup)) < 0)
            return rc;
        s->sup_mechs = sup;
        s->nsup = nsup;
        s->ns.lf = 1;
        s->ns.mic_required = 1;
    }
    s->ns.awaiting_retry = 0;

    struct sp_state start = s->ns;
    for (size_t i = 0; i < ncand; i++) {
        const struct candidate *k = &cand[i];
        struct sp_state *ns = &s->ns;
        *ns = start;
        ns->phase = SP_RUNNING;
        ns->kind = k->kind;
        ns->app = k->app;
        ns->selected = 1;
        ns->sel_oid = chosen_oid(sp, k);
        s->supported_mech = ns->sel_oid;
        s->fatal = 0;
        /* RFC 4178 5: the chosen mechanism is not the initiator's first, so
         * its optimistic token (for another) is dropped and both MICs become
         * mandatory; request-mic tells the initiator (also when our own
         * configuration wants MICs, which it cannot know otherwise). */
        if (k->index != 0)
            ns->mic_required = 1;
        s->neg_state_out = ns->mic_required ? NEGOEX_NEG_STATE_REQUEST_MIC : NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
        int with_token = k->index == 0 && t->mech_token.data != NULL;
        s->in = NULL; /* the MIC rules start with the next token */
        if (k->kind == MK_APP) {
            /* RFC 4178 4.2.2: without a token for it, the mechanism starts
             * from nothing (a server-first one may answer already). */
            return run_app(s, with_token ? &t->mech_token : NULL, offset_in(in, &t->mech_token), "mechToken");
        }
        if (!with_token) {
            negoex_spnego_fields f;
            negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
            f.neg_state = s->neg_state_out;
            f.supported_mech = ns->sel_oid;
            f.supported_mechs = s->sup_mechs;
            f.supported_mech_count = s->nsup;
            return put_token(sp, &f);
        }
        /* The optimistic NEGOEX token is the initiator's NEGO (+ metadata,
         * + AP_REQUEST): NEGOEX is taken only if it names an auth scheme we
         * share; otherwise the next mechanism is tried and the token dropped. */
        rc = run_negoex(s, &t->mech_token, offset_in(in, &t->mech_token));
        if (rc != NEGOEX_ERR_NO_COMMON_SCHEME || i + 1 == ncand)
            return rc;
        start.negoex_used = 1; /* its context has failed: no Late Fallback retry with it */
        memset(&sp->last_error, 0, sizeof sp->last_error);
        sp->out.len = 0;
    }
    return set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, offset_in(in, &t->mech_types), "mechTypes");
}

/* Failures of the selected mechanism that Late Fallback may retry past
 * (MS-SPNG 1.3.2 "non-fatal"; our list: docs/spnego-late-fallback.md 4). */
static int is_retryable(int code)
{
    return code == NEGOEX_ERR_NO_COMMON_SCHEME || code == NEGOEX_ERR_SPNEGO_MECH_RETRY;
}

/*
 * Late Fallback retry, acceptor side: the selected mechanism failed
 * non-fatally. Instead of a plain reject we send negState reject with
 * supportedMechs [4] = what we can still run (not the failed mechanism, not
 * a NEGOEX context that has stepped), and wait for the initiator's new
 * NegTokenInit. Without anything left, the failure stands.
 */
static int acceptor_retry_reject(struct sp_step *s, int code)
{
    negoex_spnego *sp = s->sp;
    struct sp_state *ns = &s->ns;
    negoex_error_info why = sp->last_error;
    ns->excluded |= mech_bit(ns->kind, ns->app);
    if (ns->negoex_used || ns->kind == MK_NEGOEX)
        ns->excluded |= NEGOEX_BIT;
    negoex_bytes sup[MAX_APPS + 1];
    size_t nsup = our_mechs(sp, ns->excluded, sup);
    if (nsup == 0)
        return code;
    int rc = record_oids(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, sup, nsup);
    if (rc < 0) {
        s->fatal = 0; /* out of memory: the token is rejected, nothing changed */
        return rc;
    }
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
    f.neg_state = NEGOEX_NEG_STATE_REJECT;
    f.supported_mechs = sup;
    f.supported_mech_count = nsup;
    if ((rc = put_token(sp, &f)) < 0) {
        s->fatal = 0;
        return rc;
    }
    forget_selection(ns);
    ns->awaiting_retry = 1;
    s->fatal = 0;
    sp->last_error = why; /* what caused the retry stays readable */
    return NEGOEX_OK;
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
    rc = continue_mech(s, in);
    if (rc < 0 && s->fatal && is_retryable(rc) && s->ns.lf && !s->ns.retried)
        return acceptor_retry_reject(s, rc);
    return rc;
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
    return is_initiator(sp) && sp->cfg.late_fallback ? NEGOEX_SPNEGO_PARSE_LATE_FALLBACK : 0;
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
                return set_error(sp, rc, 0, "fragment");
        }
        negoex_spnego_reassembler saved = sp->ra;
        if (negoex_spnego_reassembler_init(&sp->ra, at, cap) < 0) {
            sp->ra = saved;
            return set_error(sp, NEGOEX_ERR_INVALID_ARGUMENT, 0, "fragment");
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
        return set_error(sp, NEGOEX_ERR_FAILED, 0, "fragment"); /* cannot happen */
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
            return set_error(sp, NEGOEX_ERR_SPNEGO_FRAGMENT_PENDING, 0, "token");
        memset(&sp->last_error, 0, sizeof sp->last_error);
        return next_fragment(sp, out, out_len);
    }
    memset(&sp->last_error, 0, sizeof sp->last_error);
    if (sp->st.phase == SP_FAILED) {
        sp->out.len = 0;
        return set_error(sp, NEGOEX_ERR_FAILED, 0, "token");
    }
    if (in_len > sp->cfg.max_token_size && !sp->ra_busy) {
        sp->out.len = 0;
        return set_error(sp, NEGOEX_ERR_TOKEN_TOO_LARGE, 0, "token");
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
        return set_error(sp, NEGOEX_ERR_COMPLETE, 0, "token");
    int initiator_starts = is_initiator(sp) && sp->st.phase == SP_START;
    if (in_len == 0 && !initiator_starts)
        return set_error(sp, NEGOEX_ERR_MISSING_TOKEN, 0, "token");

    negoex_spnego_token t;
    struct sp_step s;
    memset(&s, 0, sizeof s);
    s.sp = sp;
    s.base = in;
    s.ns = sp->st;
    s.app_work = committed_app(sp, &sp->st);
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
        rc = set_error(sp, NEGOEX_ERR_SPNEGO_REJECTED, 0, "negState");
    } else if (initiator_starts)
        rc = initiator_first(&s, in, in_len);
    else if (is_initiator(sp))
        rc = initiator_reply(&s, in);
    else if (sp->st.phase == SP_START || sp->st.awaiting_retry)
        rc = acceptor_first(&s, in);
    else
        rc = acceptor_next(&s, in);

    if (rc < 0) {
        if (sp->last_error.code == NEGOEX_OK)
            set_error(sp, rc, 0, NULL);
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
    return committed_app(sp, &sp->st);
}
