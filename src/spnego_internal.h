/*
 * The SPNEGO context's state and the functions its files share
 * (spnego.c: the context, tokens and the step; spnego_mech.c: running the
 * selected mechanism and the mechListMIC; spnego_initiator.c and
 * spnego_acceptor.c: each role's choice of mechanism and Late Fallback).
 */
#ifndef NEGOEX_SPNEGO_INTERNAL_H
#define NEGOEX_SPNEGO_INTERNAL_H

#include <negoex/spnego.h>

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
extern const uint8_t SP_OID_KRB5[9];
extern const uint8_t SP_OID_MSKRB5[9];


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


/* Optional ops members exist only up to the struct_size the mech was built with. */
#define OPS_HAS(ops, member)                                                                             \
    ((ops)->struct_size >= offsetof(negoex_spnego_mech_ops, member) + sizeof((ops)->member) &&             \
     (ops)->member != NULL)

/* spnego.c: context, tokens, errors */
int sp_is_initiator(const negoex_spnego *sp);
int sp_is_negoex_oid(const uint8_t *der, size_t len);
int sp_set_error(negoex_spnego *sp, int code, size_t offset, const char *field);
int sp_same_oid(const negoex_bytes *a, const uint8_t *der, size_t len);
int sp_is_krb5_alias(const uint8_t *der, size_t len);
size_t sp_app_for_oid(const negoex_spnego *sp, const uint8_t *der, size_t len, int alias);
void sp_free_app_state(negoex_spnego *sp, size_t app, void *state);
int sp_put_token(negoex_spnego *sp, const negoex_spnego_fields *f);
size_t sp_offset_in(const uint8_t *base, const negoex_bytes *b);
int sp_is_fatal(int code);

/* spnego_mech.c: running the mechanism, mechListMIC */
int sp_record_list(struct sp_step *s, int field, const uint8_t *tlv, size_t len);
int sp_record_oids(struct sp_step *s, int field, const negoex_bytes *list, size_t n);
int sp_run_negoex(struct sp_step *s, const negoex_bytes *inner, size_t inner_off);
void *sp_committed_app(const negoex_spnego *sp, const struct sp_state *ns);
int sp_run_app(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field);
int sp_run_mech(struct sp_step *s, const negoex_bytes *inner, size_t inner_off, const char *field);
int sp_check_later_token(struct sp_step *s);
int sp_continue_mech(struct sp_step *s, const uint8_t *in);

/* spnego_initiator.c */
int sp_initiator_first(struct sp_step *s, const uint8_t *in, size_t in_len);
unsigned sp_mech_bit(int kind, size_t app);
void sp_forget_selection(struct sp_state *ns);
int sp_initiator_reply(struct sp_step *s, const uint8_t *in);

/* spnego_acceptor.c */
int sp_acceptor_first(struct sp_step *s, const uint8_t *in);
int sp_acceptor_next(struct sp_step *s, const uint8_t *in);

#endif
