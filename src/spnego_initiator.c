/*
 * SPNEGO initiator: the first token, following the acceptor's choice
 * (RFC 4178 3.2, 5) and the Late Fallback retry (MS-SPNG 1.3.2).
 */
#include "spnego_internal.h"

#include <string.h>

int sp_initiator_first(struct sp_step *s, const uint8_t *in, size_t in_len)
{
    negoex_spnego *sp = s->sp;
    if (in_len != 0) {
        /* A server's NegTokenInit2 (SMB2 NEGOTIATE): hints only. */
        const negoex_spnego_token *t = s->in;
        if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
        if (t->mech_token.data != NULL && t->mech_token.len != 0) {
            negoex_bytes first;
            if (negoex_spnego_mech_type(t, 0, &first) == 0 && sp_is_negoex_oid(first.data, first.len)) {
                negoex_error_info e;
                int rc = negoex_token_validate(t->mech_token.data, t->mech_token.len, &e);
                if (rc < 0)
                    return sp_set_error(sp, rc, e.offset + sp_offset_in(in, &t->mech_token), e.field);
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
        (rc = sp_record_list(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, sp->mech_list.data, sp->mech_list.len)) < 0)
        return rc;
    if (sp->mech_kind[0] == MK_OTHER) {
        rc = sp_put_token(sp, &f); /* an optimistic token would be for a mech we cannot run */
    } else {
        /* RFC 4178 3.2: the optimistic token is for the first mechanism. */
        s->ns.kind = sp->mech_kind[0];
        s->ns.app = sp->mech_app[0];
        s->init = &f;
        s->in = NULL;
        rc = sp_run_mech(s, NULL, 0, "mechToken");
    }
    if (rc >= 0 && in_len != 0) {
        memcpy(sp->hints_store.data, in, in_len);
        sp->hints_store.len = in_len;
        sp->have_hints = negoex_spnego_parse(sp->hints_store.data, in_len, &sp->hints, NULL) == 0;
    }
    return rc;
}

/* The bit of a mechanism in sp_state.excluded. */
unsigned sp_mech_bit(int kind, size_t app)
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
        if (sp_same_oid(oid, o.data, o.len) ||
            (sp_is_krb5_alias(oid->data, oid->len) && sp_is_krb5_alias(o.data, o.len)))
            return 1;
    return 0;
}

/* Both sides of a Late Fallback retry drop the failed selection the same
 * way: nothing chosen, started or MIC'd yet, and no second retry. */
void sp_forget_selection(struct sp_state *ns)
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
    int rc = sp_record_list(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, t->supported_mechs.data, t->supported_mechs.len);
    if (rc < 0)
        return rc;
    if (ns->selected)
        ns->excluded |= sp_mech_bit(ns->kind, ns->app);
    if (ns->negoex_used)
        ns->excluded |= NEGOEX_BIT;
    negoex_bytes list[MAX_MECHS];
    size_t n = 0;
    for (size_t i = 0; i < sp->nmechs; i++) {
        int kind = sp->mech_kind[i];
        if (kind == MK_OTHER || (ns->excluded & sp_mech_bit(kind, sp->mech_app[i])) ||
            !list_has(&t->supported_mechs, &sp->mechs[i]))
            continue;
        ns->cur[n] = (uint8_t)i;
        list[n++] = sp->mechs[i];
    }
    if (n == 0) {
        s->fatal = 1;
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, sp_offset_in(in, &t->supported_mechs),
                         "supportedMechs");
    }
    ns->ncur = n;
    sp_forget_selection(ns);
    ns->first_reply_seen = 0;
    ns->peer_completed = 0;
    ns->mic_required = 1;

    if ((rc = sp_record_oids(s, NEGOEX_SPNEGO_LIST_MECH_TYPES, list, n)) < 0)
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
    return sp_run_mech(s, NULL, 0, "mechToken");
}

int sp_initiator_reply(struct sp_step *s, const uint8_t *in)
{
    negoex_spnego *sp = s->sp;
    const negoex_spnego_token *t = s->in;
    struct sp_state *ns = &s->ns;
    if (t->kind == NEGOEX_SPNEGO_NEG_TOKEN_RESP && !t->framed && t->neg_state == NEGOEX_NEG_STATE_REJECT &&
        t->supported_mechs.data != NULL && ns->lf && !ns->retried)
        return initiator_retry(s, in);
    int rc = sp_check_later_token(s);
    if (rc < 0)
        return rc;
    int fallback = 0;
    if (t->supported_mechs.data != NULL && (ns->first_reply_seen || ns->retried || ns->nlists != 1))
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->supported_mechs), "supportedMechs");
    if (!ns->first_reply_seen) {
        if (t->neg_state == NEGOEX_NEG_STATE_ABSENT)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->supported_mech.data == NULL)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "supportedMech");
        size_t found = SIZE_MAX, pos = SIZE_MAX;
        for (size_t i = 0; i < ns->ncur && found == SIZE_MAX; i++)
            if (sp_same_oid(&sp->mechs[ns->cur[i]], t->supported_mech.data, t->supported_mech.len)) {
                found = ns->cur[i];
                pos = i;
            }
        if (found == SIZE_MAX && !ns->retried && sp->cfg.late_fallback &&
            t->supported_mech.len == NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN &&
            memcmp(t->supported_mech.data, OID_LATE_FALLBACK, t->supported_mech.len) == 0) {
            /* We listed it, but it is no mechanism to run. */
            s->fatal = 1;
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, sp_offset_in(in, &t->supported_mech),
                             "supportedMech");
        }
        if (found == SIZE_MAX)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->supported_mech), "supportedMech");
        if (t->supported_mechs.data != NULL) {
            /* MS-SPNG 3.1.5.1: the acceptor has Late Fallback too. */
            rc = sp_record_list(s, NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS, t->supported_mechs.data,
                             t->supported_mechs.len);
            if (rc < 0)
                return rc;
            ns->lf = 1;
            ns->mic_required = 1;
        }
        if (sp->mech_kind[found] == MK_OTHER) {
            s->fatal = 1;
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, sp_offset_in(in, &t->supported_mech),
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
               !sp_same_oid(&ns->sel_oid, t->supported_mech.data, t->supported_mech.len)) {
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->supported_mech), "supportedMech");
    }
    if (t->neg_state == NEGOEX_NEG_STATE_REQUEST_MIC)
        ns->mic_required = 1;
    if (t->neg_state == NEGOEX_NEG_STATE_ACCEPT_COMPLETED)
        ns->peer_completed = 1;

    if (!ns->mech_started) {
        /* The chosen mechanism starts now (it was not our first, or the
         * first had no optimistic token). */
        if (ns->peer_completed)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        if (t->mech_list_mic.data != NULL)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->mech_list_mic), "mechListMIC");
        if (ns->kind == MK_NEGOEX) {
            if (t->response_token.data != NULL)
                return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->response_token),
                                 "responseToken");
            s->in = NULL;
            return sp_run_negoex(s, NULL, 0);
        }
        /* RFC 4178 4.2.2: a server-first mechanism's first token may come
         * in this reply; a client-first one starts from nothing. */
        s->in = NULL;
        if (t->response_token.data != NULL)
            return sp_run_app(s, &t->response_token, sp_offset_in(in, &t->response_token), "responseToken");
        return sp_run_app(s, NULL, 0, "responseToken");
    }
    return sp_continue_mech(s, in);
}
