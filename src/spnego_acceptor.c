/*
 * SPNEGO acceptor: choosing among what the initiator lists (RFC 4178 3.2,
 * 4.2.2; MS-SPNG 3.1.5.2), declining an optimistic token, and the Late
 * Fallback retry (MS-SPNG 1.3.2, 3.1.5.1).
 */
#include "spnego_internal.h"

#include <string.h>

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
        if (sp_is_negoex_oid(oid.data, oid.len)) {
            if (sp->nx == NULL || have_negoex || (excluded & NEGOEX_BIT))
                continue;
            have_negoex = 1;
            k.kind = MK_NEGOEX;
            k.rank = sp->negoex_rank;
        } else {
            size_t app = sp_app_for_oid(sp, oid.data, oid.len, 1);
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
    if (sp_same_oid(&sp->apps[k->app].oid, k->oid.data, k->oid.len))
        return sp->apps[k->app].oid;
    if (k->oid.len == sizeof SP_OID_MSKRB5 && memcmp(k->oid.data, SP_OID_MSKRB5, sizeof SP_OID_MSKRB5) == 0)
        return (negoex_bytes){SP_OID_MSKRB5, sizeof SP_OID_MSKRB5};
    return (negoex_bytes){SP_OID_KRB5, sizeof SP_OID_KRB5};
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

int sp_acceptor_first(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    if (t->kind != NEGOEX_SPNEGO_NEG_TOKEN_INIT)
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
    if (!t->framed)
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "InitialContextToken");
    int retry = s->ns.awaiting_retry;
    struct candidate cand[MAX_APPS + 1];
    size_t ncand = candidates(sp, t, s->ns.excluded, cand);
    if (ncand == 0) {
        /* RFC 4178 3.2: nothing we have is listed (and we never take a
         * mechanism the application did not configure). */
        s->fatal = 1;
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, sp_offset_in(in, &t->mech_types), "mechTypes");
    }
    if (t->mech_list_mic.data != NULL)
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->mech_list_mic), "mechListMIC");

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
        if ((rc = sp_record_list(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, t->mech_types.data, t->mech_types.len)) < 0)
            return rc;
    }
    if (!retry && sp->cfg.late_fallback && offers_late_fallback(t)) {
        size_t nsup = our_mechs(sp, 0, sup);
        if ((rc = sp_record_oids(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, sup, nsup)) < 0)
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
            return sp_run_app(s, with_token ? &t->mech_token : NULL, sp_offset_in(in, &t->mech_token), "mechToken");
        }
        if (!with_token) {
            negoex_spnego_fields f;
            negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
            f.neg_state = s->neg_state_out;
            f.supported_mech = ns->sel_oid;
            f.supported_mechs = s->sup_mechs;
            f.supported_mech_count = s->nsup;
            return sp_put_token(sp, &f);
        }
        /* The optimistic NEGOEX token is the initiator's NEGO (+ metadata,
         * + AP_REQUEST): NEGOEX is taken only if it names an auth scheme we
         * share; otherwise the next mechanism is tried and the token dropped. */
        rc = sp_run_negoex(s, &t->mech_token, sp_offset_in(in, &t->mech_token));
        if (rc != NEGOEX_ERR_NO_COMMON_SCHEME || i + 1 == ncand)
            return rc;
        start.negoex_used = 1; /* its context has failed: no Late Fallback retry with it */
        memset(&sp->last_error, 0, sizeof sp->last_error);
        sp->out.len = 0;
    }
    return sp_set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, sp_offset_in(in, &t->mech_types), "mechTypes");
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
    ns->excluded |= sp_mech_bit(ns->kind, ns->app);
    if (ns->negoex_used || ns->kind == MK_NEGOEX)
        ns->excluded |= NEGOEX_BIT;
    negoex_bytes sup[MAX_APPS + 1];
    size_t nsup = our_mechs(sp, ns->excluded, sup);
    if (nsup == 0)
        return code;
    int rc = sp_record_oids(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, sup, nsup);
    if (rc < 0) {
        s->fatal = 0; /* out of memory: the token is rejected, nothing changed */
        return rc;
    }
    negoex_spnego_fields f;
    negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
    f.neg_state = NEGOEX_NEG_STATE_REJECT;
    f.supported_mechs = sup;
    f.supported_mech_count = nsup;
    if ((rc = sp_put_token(sp, &f)) < 0) {
        s->fatal = 0;
        return rc;
    }
    sp_forget_selection(ns);
    ns->awaiting_retry = 1;
    s->fatal = 0;
    sp->last_error = why; /* what caused the retry stays readable */
    return NEGOEX_OK;
}

int sp_acceptor_next(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    int rc = sp_check_later_token(s);
    if (rc < 0)
        return rc;
    if (t->supported_mech.data != NULL)
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->supported_mech), "supportedMech");
    s->neg_state_out = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
    rc = sp_continue_mech(s, in);
    if (rc < 0 && s->fatal && is_retryable(rc) && s->ns.lf && !s->ns.retried)
        return acceptor_retry_reject(s, rc);
    return rc;
}
