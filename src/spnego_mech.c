/*
 * SPNEGO: running the selected mechanism (NEGOEX through the context's
 * checked step, or an application mechanism on a clone) and the
 * mechListMIC rules (RFC 4178 5; MS-SPNG 3.1.5.1 for Late Fallback).
 */
#include "spnego_internal.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* The current mechanism's MIC methods (NEGOEX or an app mech)               */
/* ------------------------------------------------------------------------ */

static const negoex_spnego_mech_ops *app_ops(const negoex_spnego *sp, const struct sp_state *ns)
{
    return sp->apps[ns->app].ops;
}

/* Records a MechTypeList that went over the wire (Late Fallback MIC input,
 * MS-SPNG 3.1.5.1), in this step's state: a rejected token drops it. */
int sp_record_list(struct sp_step *s, int field, const uint8_t *tlv, size_t len)
{
    negoex_spnego *sp = s->sp;
    struct sp_state *ns = &s->ns;
    if (ns->nlists >= LF_MAX_LISTS)
        return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, field ? "supportedMechs" : "mechTypes");
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

/* Writes list as a MechTypeList and records it (Late Fallback MIC input). */
int sp_record_oids(struct sp_step *s, int field, const negoex_bytes *list, size_t n)
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
        rc = sp_record_list(s, field, tmp, need);
    negoex_mem_free(sp->alloc, tmp);
    return rc;
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
        return sp_put_token(sp, s->init);
    }

    negoex_bytes mic_in = in != NULL ? in->mech_list_mic : (negoex_bytes){NULL, 0};
    size_t mic_off = sp_offset_in(s->base, &mic_in);
    if (mic_in.data != NULL) {
        if (!ns->mech_complete || ns->peer_mic_verified)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, mic_off, "mechListMIC");
        int rc = mech_verify_mic(s, mic_in.data, mic_in.len);
        if (rc < 0) {
            s->fatal = rc == NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED;
            return sp_set_error(sp, rc, mic_off, "mechListMIC");
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
        int peer_sent_last = sp_is_initiator(sp) ? ns->peer_completed : mech_len == 0;
        if (peer_sent_last)
            return sp_set_error(sp, NEGOEX_ERR_SPNEGO_MIC_MISSING, 0, "mechListMIC");
    }

    negoex_buf mic;
    negoex_buf_init(&mic, sp->alloc);
    if (ns->mech_complete && ns->mic_required && !ns->mic_sent) {
        int rc = mech_make_mic(s, &mic);
        if (rc < 0) {
            negoex_buf_free(&mic);
            s->fatal = rc != NEGOEX_ERR_NO_MEMORY;
            return sp_set_error(sp, rc, 0, "mechListMIC");
        }
        ns->mic_sent = 1;
    }

    int done = ns->mech_complete && (!ns->mic_required || (ns->mic_sent && ns->peer_mic_verified));
    negoex_spnego_fields f;
    int rc = NEGOEX_OK;
    if (sp_is_initiator(sp)) {
        if (done && (ns->peer_completed || (ns->mic_required && mic.len != 0 && ns->peer_mic_verified))) {
            /* Complete on accept-completed, or when our MIC answers the
             * acceptor's verified one: that is the last message, and MIT's
             * acceptor sends no accept-completed after it. */
            ns->phase = SP_COMPLETE;
        } else if (ns->peer_completed) {
            /* accept-completed, yet the mechanism or the MICs are not done. */
            rc = sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        } else if (mech_len == 0 && mic.len == 0 && ns->mech_started) {
            /* accept-incomplete with nothing for us to answer. */
            rc = sp_set_error(sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "negState");
        }
        sp->out.len = 0;
        if (rc == NEGOEX_OK && (mech_len != 0 || mic.len != 0)) {
            negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
            f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
            if (mech_len != 0)
                f.response_token = (negoex_bytes){mech_out, mech_len};
            if (mic.len != 0)
                f.mech_list_mic = (negoex_bytes){mic.data, mic.len};
            rc = sp_put_token(sp, &f);
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
        rc = sp_put_token(sp, &f);
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
int sp_run_negoex(struct sp_step *s, const negoex_bytes *inner, size_t inner_off)
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
    sp_set_error(sp, rc, e.offset + inner_off, e.field);
    s->fatal = sp_is_fatal(rc);
    if (rc == NEGOEX_ERR_SCHEME_FAILED && !sp_is_initiator(sp) && nx_len != 0) {
        /* The acceptor's scheme failed with an error token: MIT sends it
         * with accept-incomplete so the initiator's scheme can report it. */
        negoex_spnego_fields f;
        negoex_spnego_fields_init(&f, NEGOEX_SPNEGO_NEG_TOKEN_RESP);
        f.neg_state = NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE;
        f.supported_mech = s->supported_mech;
        f.response_token = (negoex_bytes){nx_out, nx_len};
        if (sp_put_token(sp, &f) == NEGOEX_OK)
            s->fatal = 2; /* failed, and out holds the error token */
    }
    return rc;
}

/* The committed state of the current app mech, or NULL. */
void *sp_committed_app(const negoex_spnego *sp, const struct sp_state *ns)
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
int sp_run_app(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field)
{
    negoex_spnego *sp = s->sp;
    size_t app = s->ns.app;
    const negoex_spnego_mech_ops *o = sp->apps[app].ops;
    void *committed = sp_committed_app(sp, &s->ns);
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
        return sp_set_error(sp, rc, 0, field);
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
                   sp_is_fatal(rc);
        sp_set_error(sp, rc, inner != NULL ? inner_off : 0, field);
    } else if (rc != NEGOEX_CONTINUE && rc != NEGOEX_COMPLETE) {
        s->fatal = 1;
        rc = sp_set_error(sp, NEGOEX_ERR_SPNEGO_MECH_FAILED, inner_off, field);
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
        sp_free_app_state(sp, sp->app_state_idx, sp->app_state);
        sp->app_state = work;
        sp->app_state_idx = app;
    }
    s->ns.mech_started = 1;
    return rc;
}

/* Runs the current mechanism: NEGOEX or an app mech. */
int sp_run_mech(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field)
{
    if (s->ns.kind == MK_NEGOEX)
        return sp_run_negoex(s, inner, inner_off);
    return sp_run_app(s, inner, inner_off, field);
}

/* ------------------------------------------------------------------------ */
/* Initiator                                                                  */
/* ------------------------------------------------------------------------ */

/* Every token after the first: a bare NegTokenResp; a reject ends it. */
int sp_check_later_token(struct sp_step *s)
{
    const negoex_spnego_token *t = s->in;
    if (t->kind != NEGOEX_SPNEGO_NEG_TOKEN_RESP || t->framed)
        return sp_set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "NegotiationToken");
    if (t->neg_state == NEGOEX_NEG_STATE_REJECT) {
        s->fatal = 1;
        return sp_set_error(s->sp, NEGOEX_ERR_SPNEGO_REJECTED, 0, "negState");
    }
    return NEGOEX_OK;
}

/* The peer's responseToken goes to the mechanism; without one, only the
 * MIC rules run, and only once the mechanism is complete. */
int sp_continue_mech(struct sp_step *s, const uint8_t *in)
{
    const negoex_spnego_token *t = s->in;
    if (t->response_token.data != NULL) {
        if (s->ns.mech_complete)
            return sp_set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, sp_offset_in(in, &t->response_token),
                             "responseToken");
        return sp_run_mech(s, &t->response_token, sp_offset_in(in, &t->response_token), "responseToken");
    }
    if (!s->ns.mech_complete)
        return sp_set_error(s->sp, NEGOEX_ERR_SPNEGO_UNEXPECTED, 0, "responseToken");
    return finish_step(s, NEGOEX_COMPLETE, NULL, 0);
}
