/*
 * libnegoex: SPNEGO (RFC 4178, with Microsoft's NegTokenInit2) carrying NEGOEX.
 *
 * Two parts:
 *  - a strict zero-copy DER codec for SPNEGO tokens: views into the caller's
 *    buffer, no allocation; every rejection names the rule, byte offset and
 *    field (negoex_error_info);
 *  - a SPNEGO context over a NEGOEX context (negoex_spnego_*): mechanism
 *    selection, negState, mechListMIC through the NEGOEX scheme.
 */
#ifndef NEGOEX_SPNEGO_H
#define NEGOEX_SPNEGO_H

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme.h>
#include <negoex/spnego_mech.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* OIDs                                                                       */
/* ------------------------------------------------------------------------ */

#define NEGOEX_SPNEGO_OID_TEXT "1.3.6.1.5.5.2"
#define NEGOEX_SPNEGO_OID_DER_LEN 6
NEGOEX_API extern const uint8_t NEGOEX_SPNEGO_OID_DER[NEGOEX_SPNEGO_OID_DER_LEN]; /* content octets */

/* MS-SPNG 3.1.5.3: IAKerb (plain SPNEGO mechanism, not NEGOEX). */
#define NEGOEX_SPNEGO_IAKERB_OID_TEXT "1.3.6.1.5.2.5"
#define NEGOEX_SPNEGO_IAKERB_OID_DER_LEN 6
NEGOEX_API extern const uint8_t NEGOEX_SPNEGO_IAKERB_OID_DER[NEGOEX_SPNEGO_IAKERB_OID_DER_LEN];
/* MS-SPNG 3.1.5.4: Negotiate Late Fallback (a mechType that announces the
 * capability; docs/spnego-late-fallback.md). */
#define NEGOEX_SPNEGO_LATE_FALLBACK_OID_TEXT "1.3.6.1.4.1.311.2.2.40"
#define NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN 10
NEGOEX_API extern const uint8_t NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER[NEGOEX_SPNEGO_LATE_FALLBACK_OID_DER_LEN];

/* Dotted text of an OID given as DER content octets (no tag/length).
 * NEGOEX_ERR_DER_VALUE if the octets are not a valid OID encoding,
 * NEGOEX_ERR_BUFFER_TOO_SMALL if cap is too small (*need gets the size with
 * the NUL when need is not NULL). */
NEGOEX_API NEGOEX_WUR int negoex_oid_to_text(const uint8_t *der, size_t len, char *out, size_t cap, size_t *need);
/* 1 if der/len is a valid OID content encoding (minimal subidentifiers, non-empty). */
NEGOEX_API int negoex_oid_valid(const uint8_t *der, size_t len);
/* Short name of a well-known mechanism OID ("NEGOEX", "NTLM", "Kerberos",
 * "MS-Kerberos", "PKU2U", "SPNEGO", "IAKerb", "Kerberos-U2U", ...) or NULL. */
NEGOEX_API const char *negoex_oid_name(const uint8_t *der, size_t len);

/* ------------------------------------------------------------------------ */
/* Codec                                                                      */
/* ------------------------------------------------------------------------ */

typedef enum negoex_spnego_kind {
    NEGOEX_SPNEGO_NEG_TOKEN_INIT = 0,  /* [0] NegTokenInit */
    NEGOEX_SPNEGO_NEG_TOKEN_INIT2 = 1, /* [0] NegTokenInit2 (MS-SPNG: has negHints [3]) */
    NEGOEX_SPNEGO_NEG_TOKEN_RESP = 2   /* [1] NegTokenResp */
} negoex_spnego_kind;

typedef enum negoex_neg_state {
    NEGOEX_NEG_STATE_ABSENT = -1,
    NEGOEX_NEG_STATE_ACCEPT_COMPLETED = 0,
    NEGOEX_NEG_STATE_ACCEPT_INCOMPLETE = 1,
    NEGOEX_NEG_STATE_REJECT = 2,
    NEGOEX_NEG_STATE_REQUEST_MIC = 3
} negoex_neg_state;

/* "accept-completed", "accept-incomplete", "reject", "request-mic"; NULL otherwise. */
NEGOEX_API const char *negoex_neg_state_name(int state);

/* ContextFlags bits (RFC 4178 4.2.1): bit n of req_flags = ASN.1 named bit n. */
#define NEGOEX_SPNEGO_FLAG_DELEG 0x01u
#define NEGOEX_SPNEGO_FLAG_MUTUAL 0x02u
#define NEGOEX_SPNEGO_FLAG_REPLAY 0x04u
#define NEGOEX_SPNEGO_FLAG_SEQUENCE 0x08u
#define NEGOEX_SPNEGO_FLAG_ANON 0x10u
#define NEGOEX_SPNEGO_FLAG_CONF 0x20u
#define NEGOEX_SPNEGO_FLAG_INTEG 0x40u
/* "delegFlag", ... "integFlag" for bit 0..6, NULL otherwise. */
NEGOEX_API const char *negoex_spnego_flag_name(unsigned bit);

/*
 * A parsed SPNEGO token. Every negoex_bytes points into the parsed buffer;
 * data == NULL means the field is absent (a present empty OCTET STRING has
 * data != NULL and len 0).
 */
typedef struct negoex_spnego_token {
    negoex_spnego_kind kind;
    int framed;                   /* inside RFC 2743 framing (60 .. 06 06 2b0601050502) */

    /* NegTokenInit / NegTokenInit2 */
    negoex_bytes mech_types;      /* the whole MechTypeList TLV (30 ..), what the MIC covers */
    size_t mech_type_count;       /* >= 1 when mech_types is present */
    int has_req_flags;
    uint32_t req_flags;           /* NEGOEX_SPNEGO_FLAG_* (bits beyond 31 are rejected) */
    negoex_bytes mech_token;
    negoex_bytes hint_name;       /* negHints.hintName (GeneralString contents) */
    negoex_bytes hint_address;    /* negHints.hintAddress */

    /* NegTokenResp */
    int neg_state;                /* negoex_neg_state; NEGOEX_NEG_STATE_ABSENT if absent */
    negoex_bytes supported_mech;  /* OID content octets */
    negoex_bytes response_token;

    /* both */
    negoex_bytes mech_list_mic;

    /* NegTokenResp, Late Fallback only (NEGOEX_SPNEGO_PARSE_LATE_FALLBACK):
     * supportedMechs [4] MechTypeList, the whole TLV (30 ..) as on the wire. */
    negoex_bytes supported_mechs;
    size_t supported_mech_count;  /* >= 1 when supported_mechs is present */
} negoex_spnego_token;

/*
 * Parses one whole SPNEGO token: an RFC 2743 framed NegotiationToken (first
 * token) or a bare [0] NegTokenInit(2) / [1] NegTokenResp. Strict DER:
 * definite minimal lengths, fields in order and at most once, no unknown
 * fields, nothing after the token. err (optional) receives code, absolute
 * offset and field name on failure.
 */
NEGOEX_API NEGOEX_WUR int negoex_spnego_parse(const uint8_t *token, size_t len, negoex_spnego_token *out,
                                              negoex_error_info *err);

/* negoex_spnego_parse with options. NEGOEX_SPNEGO_PARSE_LATE_FALLBACK reads a
 * NegTokenResp's supportedMechs [4] (a MechTypeList after mechListMIC [3];
 * our reading of MS-SPNG 3.1.5.1, docs/spnego-late-fallback.md); without it
 * a [4] there is an unknown field (DER_TAG), as in RFC 4178. Other bits:
 * NEGOEX_ERR_INVALID_ARGUMENT. */
#define NEGOEX_SPNEGO_PARSE_LATE_FALLBACK 0x1u
NEGOEX_API NEGOEX_WUR int negoex_spnego_parse_ex(const uint8_t *token, size_t len, unsigned flags,
                                                 negoex_spnego_token *out, negoex_error_info *err);

/* The index-th mechanism OID of mech_types (DER content octets). Walks the
 * list from its start: to visit every OID use the iterator below, which is
 * linear in the list (a 1 MiB token holds some 350,000 OIDs). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_mech_type(const negoex_spnego_token *t, size_t index, negoex_bytes *oid);

/* One pass over mech_types. Plain data, no allocation; fields are private. */
typedef struct negoex_spnego_mech_iter {
    const uint8_t *buf;
    size_t pos, end;
} negoex_spnego_mech_iter;

/* NEGOEX_ERR_WRONG_TYPE for a NegTokenResp, NEGOEX_ERR_INDEX_RANGE without
 * mech_types, NEGOEX_ERR_INVALID_ARGUMENT if the view is not a MechTypeList. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_mech_iter_init(negoex_spnego_mech_iter *it, const negoex_spnego_token *t);
/* 1 and the next OID's content octets, 0 at the end, NEGOEX_ERR_INVALID_ARGUMENT
 * if an element is not a valid OID (a view not made by negoex_spnego_parse). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_mech_iter_next(negoex_spnego_mech_iter *it, negoex_bytes *oid);
/* The same over any MechTypeList TLV (30 ..), e.g. t->supported_mechs.
 * NEGOEX_ERR_INVALID_ARGUMENT if list is absent or not a SEQUENCE. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_mech_list_iter_init(negoex_spnego_mech_iter *it, const negoex_bytes *list);

/* What to write. OIDs are DER content octets. */
typedef struct negoex_spnego_fields {
    negoex_spnego_kind kind;
    int framed;                   /* wrap in RFC 2743 framing (initiator's first token, Init2) */
    const negoex_bytes *mech_types;
    size_t mech_type_count;
    int has_req_flags;
    uint32_t req_flags;
    negoex_bytes mech_token;
    negoex_bytes hint_name;
    negoex_bytes hint_address;
    int neg_state;                /* NEGOEX_NEG_STATE_ABSENT to omit */
    negoex_bytes supported_mech;
    negoex_bytes response_token;
    negoex_bytes mech_list_mic;
    /* NegTokenResp only: supportedMechs [4] (Late Fallback); NULL/0 = absent. */
    const negoex_bytes *supported_mechs;
    size_t supported_mech_count;
} negoex_spnego_fields;

/* Zeroes f and sets neg_state to NEGOEX_NEG_STATE_ABSENT. */
NEGOEX_API void negoex_spnego_fields_init(negoex_spnego_fields *f, negoex_spnego_kind kind);

/* Writes the token in DER. *out_len receives the size; if cap is too small
 * nothing is written and NEGOEX_ERR_BUFFER_TOO_SMALL is returned (out may be
 * NULL with cap 0 to ask for the size). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_write(uint8_t *out, size_t cap, size_t *out_len,
                                              const negoex_spnego_fields *f);

/* Writes the MechTypeList SEQUENCE alone (the bytes a mechListMIC covers). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_write_mech_list(uint8_t *out, size_t cap, size_t *out_len,
                                                        const negoex_bytes *oids, size_t count);

/* ---- Late Fallback mechListMIC input (MS-SPNG 3.1.5.1) ------------------- */

/* One MechTypeList that went over the wire, and the field it went in. */
#define NEGOEX_SPNEGO_LIST_MECH_TYPES 0      /* mechTypes [0] of a NegTokenInit(2) */
#define NEGOEX_SPNEGO_LIST_SUPPORTED_MECHS 4 /* supportedMechs [4] of a NegTokenResp */
typedef struct negoex_spnego_sent_list {
    int field;         /* NEGOEX_SPNEGO_LIST_MECH_TYPES or _SUPPORTED_MECHS */
    negoex_bytes list; /* the whole MechTypeList TLV (30 ..), as sent */
} negoex_spnego_sent_list;

/*
 * The bytes a mechListMIC covers when both sides use Late Fallback: every
 * exchanged mechTypes and supportedMechs, in the order they went over the
 * wire, each delimited by its field's tag and length. Our encoding (the spec
 * names no byte format; docs/spnego-late-fallback.md):
 *   SEQUENCE { [field] EXPLICIT MechTypeList, ... }   (DER, one per list)
 * i.e. 30 L, then per list a0 L' <list> or a4 L' <list>. Each list must be a
 * DER MechTypeList of at least one valid OID with nothing after it.
 * NEGOEX_ERR_INVALID_ARGUMENT (bad list or field, count 0), TOO_LARGE, or
 * BUFFER_TOO_SMALL with *out_len set (out NULL with cap 0 asks the size).
 */
NEGOEX_API NEGOEX_WUR int negoex_spnego_late_fallback_mic_input(uint8_t *out, size_t cap, size_t *out_len,
                                                                const negoex_spnego_sent_list *lists,
                                                                size_t count);

/* ---- Fragments (MS-SPNG 3.1.5.6-3.1.5.11) -------------------------------- */

/*
 * MS-SPNG fragments have no header of their own: the sender cuts the token
 * into MaxOutputTokenSize-byte pieces (the last shorter), the first piece
 * starts with the token's ASN.1 header, which tells the receiver the whole
 * length. Fragments carry no numbers; the checks a receiver can make are on
 * that header, the sizes and the reassembled token.
 */
#define NEGOEX_SPNEGO_FRAGMENT_MIN_SEND 6u  /* 3.1.5.6/3.1.5.7: "MUST be greater than 5" */
#define NEGOEX_SPNEGO_FRAGMENT_MIN_RECV 5u  /* 3.1.1/3.1.5.8: "at least 5 bytes" */

typedef struct negoex_spnego_fragment_header {
    uint8_t tag;       /* 0x60 (GSS framing), 0xa0 or 0xa1 */
    size_t header_len; /* tag and length octets */
    size_t token_len;  /* header_len + content: the whole token */
} negoex_spnego_fragment_header;

/* Reads the ASN.1 header at the start of a first fragment (3.1.5.9). Errors,
 * offsets from the fragment's start: EMPTY_TOKEN; DER_TAG at 0 (not 60, a0,
 * a1); DER_TRUNCATED at 0 (header cut); DER_LENGTH at 1 (indefinite, more
 * than 4 length octets, not minimal); TOO_LARGE if the length does not fit
 * size_t. No allocation. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_fragment_parse(const uint8_t *frag, size_t len,
                                                       negoex_spnego_fragment_header *out,
                                                       negoex_error_info *err);

/* Splitter (3.1.5.6 InitFragmentToken, 3.1.5.7 FragmentToken): how many
 * fragments of at most max_fragment bytes token needs (1 if it fits).
 * INVALID_ARGUMENT unless token is one whole SPNEGO element (its header's
 * length is len) and max_fragment >= NEGOEX_SPNEGO_FRAGMENT_MIN_SEND. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_fragment_split(const uint8_t *token, size_t len, size_t max_fragment,
                                                       size_t *count);
/* The index-th fragment, a view into token (INDEX_RANGE past the last). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_fragment_get(const uint8_t *token, size_t len, size_t max_fragment,
                                                     size_t index, negoex_bytes *frag);

#define NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS 64u
#define NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN ((size_t)(1024 + 64) * 1024)

/*
 * Reassembler (3.1.5.9 InitAssembleToken, 3.1.5.10 AssembleToken) into a
 * buffer the caller owns: plain data, no allocation. Fields above "private"
 * may be changed after _init, before the first fragment.
 */
typedef struct negoex_spnego_reassembler {
    size_t max_fragments; /* default NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS */
    size_t max_token;     /* default min(cap, NEGOEX_SPNEGO_REASSEMBLY_MAX_TOKEN) */
    unsigned parse_flags; /* the whole token is checked with negoex_spnego_parse_ex(flags) */
    /* private */
    uint8_t *buf;
    size_t cap;
    size_t have;          /* bytes of the current token so far; 0 = waiting for a first fragment */
    size_t need;          /* its length, from the first fragment's header */
    size_t first_len;     /* the first fragment's size: the sender's MaxOutputTokenSize */
    size_t fragments;     /* fragments of the current token so far */
    int done;             /* the last feed completed a token */
} negoex_spnego_reassembler;

/* INVALID_ARGUMENT if r is NULL, or buf NULL with cap > 0. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_reassembler_init(negoex_spnego_reassembler *r, uint8_t *buf, size_t cap);
/* Drops a partial token (3.1.5.11: a context that ends mid-token discards it). */
NEGOEX_API void negoex_spnego_reassembler_reset(negoex_spnego_reassembler *r);

/*
 * Feeds one input token. NEGOEX_CONTINUE: more fragments are needed (MS-SPNG
 * answers GSS_S_CONTINUE_NEEDED with an empty output token). NEGOEX_COMPLETE:
 * *token views the whole token in the caller's buffer, valid until the next
 * feed or reset; the next feed starts a new token. A token that fits in one
 * input completes at once. A rejected fragment leaves r as it was. Errors
 * (offsets count from the start of the token being assembled; docs/spnego-
 * errors.md): the header errors of negoex_spnego_fragment_parse;
 * TOKEN_TOO_LARGE (announced length over max_token); FRAGMENT_COUNT (more
 * than max_fragments); FRAGMENT_INCONSISTENT (bytes past the announced
 * length, a later fragment longer than the first, a short fragment that does
 * not end the token, an incomplete first fragment under
 * NEGOEX_SPNEGO_FRAGMENT_MIN_RECV); EMPTY_TOKEN (an empty input); and the
 * codec errors of the whole token (checked once complete).
 */
NEGOEX_API NEGOEX_WUR int negoex_spnego_reassembler_feed(negoex_spnego_reassembler *r, const uint8_t *frag,
                                                         size_t len, negoex_bytes *token, negoex_error_info *err);

/* ------------------------------------------------------------------------ */
/* Context                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct negoex_spnego_config {
    uint32_t struct_size;          /* set by negoex_spnego_config_init */
    /* Initiator: mechanisms listed beside NEGOEX that this side cannot run
     * (OID content octets, copied; at most 15), and NEGOEX's place in the
     * list. An acceptor choosing one of them ends the conversation. */
    const negoex_bytes *other_mechs;
    size_t other_mech_count;
    size_t negoex_position;        /* 0 = NEGOEX first (default); clamped to the list */
    int always_mic;                /* require mechListMIC in every conversation */
    size_t max_token_size;         /* default: 1 MiB + 64 KiB of SPNEGO framing */
    negoex_trace_fn trace;         /* one line per SPNEGO token sent or received */
    void *trace_ud;

    /* Application mechanisms (negoex/spnego_mech.h), in preference order
     * (array copied, OIDs copied; ops and user data must outlive the
     * context; at most 15). NEGOEX takes its place among them by
     * negoex_position. Initiator: an app mech whose OID is also in
     * other_mechs takes that place in the list, the others follow
     * other_mechs; an acceptor choosing one of them is followed
     * (RFC 4178 3). Acceptor: picks among what the initiator lists by
     * acceptor_policy; docs/spnego-fallback.md has the rules. */
    const negoex_spnego_app_mech *app_mechs;
    size_t app_mech_count;
    int acceptor_policy;           /* NEGOEX_SPNEGO_POLICY_OWN_ORDER (default) or _INITIATOR_ORDER */
    /* Without a NEGOEX context (negoex_spnego_new with nx NULL, app mechs
     * only): the role (-1 = take it from nx, the default) and the allocator
     * (NULL = malloc). With nx, nx's role and allocator are used. */
    int role;
    const negoex_allocator *allocator;

    /* MS-SPNG rev 21.0 (docs/spnego-late-fallback.md section 4). */
    /* Negotiate Late Fallback (1.3.2, 3.1.5.1, 3.1.5.4), off by default.
     * Initiator: lists the Late Fallback OID after its mechanisms and reads
     * supportedMechs [4]. Acceptor: answers an offer with supportedMechs.
     * When both have it: mechListMIC required both ways, over every
     * exchanged list (negoex_spnego_late_fallback_mic_input), and one retry
     * after a non-fatal failure (NEGOEX_ERR_NO_COMMON_SCHEME or
     * NEGOEX_ERR_SPNEGO_MECH_RETRY from the selected mechanism). */
    int late_fallback;
    /* FragmentToFit (3.1.5.6-3.1.5.8): 0 = never fragment (default); else
     * >= NEGOEX_SPNEGO_FRAGMENT_MIN_SEND and every token longer than this
     * goes out in pieces: step returns the first with NEGOEX_CONTINUE, and
     * each further step(NULL, 0) (the peer's empty token) the next one; the
     * token's own status comes with the last. */
    size_t max_output_token_size;
    /* Receiving fragments (3.1.5.9-3.1.5.11), off by default like the rest
     * of rev 21.0: 0 or 1 = every input is a whole token (a truncated one is
     * a DER error, as RFC 4178 has it); N >= 2 = a token whose header
     * announces more than the input holds is reassembled from at most N
     * pieces (NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS is a sensible N); while
     * incomplete, step returns NEGOEX_CONTINUE with an empty output token,
     * which the caller sends as this side's "empty token". MS-SPNG 3.2.5 /
     * 3.3.5 make reassembly a MUST for a Windows-compatible peer that
     * fragments; it is opt-in here because it turns every truncated token
     * into a pending one. */
    size_t max_input_fragments;
} negoex_spnego_config;

NEGOEX_API void negoex_spnego_config_init(negoex_spnego_config *cfg);

typedef struct negoex_spnego negoex_spnego;

/* Wraps nx (its role is the SPNEGO role). On success the SPNEGO context owns
 * nx and frees it; on failure the caller still does. cfg NULL = defaults.
 * nx may be NULL when cfg has app mechs and a role: SPNEGO without NEGOEX. */
NEGOEX_API NEGOEX_WUR int negoex_spnego_new(negoex_spnego **out, negoex_context *nx, const negoex_spnego_config *cfg);
NEGOEX_API void negoex_spnego_free(negoex_spnego *sp);

/*
 * One step. in/in_len: the peer's SPNEGO token (NULL/0 for the initiator's
 * first call). The initiator's first call may also get a server's
 * NegTokenInit2 (SMB2 NEGOTIATE), taken as hints. *out and *out_len: the token
 * to send, owned by the context, valid until the next call.
 * Returns NEGOEX_CONTINUE, NEGOEX_COMPLETE or a negative error. A token
 * rejected for its content leaves the context as it was. On other errors
 * the context has failed and *out may hold a negState reject (or, on the
 * acceptor, the scheme's error token) to send.
 */
NEGOEX_API NEGOEX_WUR int negoex_spnego_step(negoex_spnego *sp, const uint8_t *in, size_t in_len,
                                             const uint8_t **out, size_t *out_len);

NEGOEX_API negoex_context *negoex_spnego_negoex(const negoex_spnego *sp);
NEGOEX_API void negoex_spnego_last_error(const negoex_spnego *sp, negoex_error_info *err);
NEGOEX_API int negoex_spnego_is_complete(const negoex_spnego *sp);
/* 1 once this conversation needs a mechListMIC each way. */
NEGOEX_API int negoex_spnego_mic_required(const negoex_spnego *sp);
/* 1 once both MICs were exchanged (ours sent, the peer's verified). */
NEGOEX_API int negoex_spnego_mic_exchanged(const negoex_spnego *sp);
/* Initiator: the hints of a server's NegTokenInit2, if one came (views into
 * a copy the context owns; NULL otherwise). */
NEGOEX_API const negoex_spnego_token *negoex_spnego_hints(const negoex_spnego *sp);

/* The negotiated mechanism: 0 and its OID as it went on the wire in
 * supportedMech (e.g. MS-KRB5 for an app mech configured as KRB5; views into
 * the context or static data), NEGOEX_ERR_INVALID_ARGUMENT while none is
 * (initiator: before the acceptor's first answer). */
NEGOEX_API NEGOEX_WUR int negoex_spnego_selected_mech(const negoex_spnego *sp, negoex_bytes *oid);
/* The selected application mechanism: its index in cfg->app_mechs and its
 * state (for the caller's own accessors), or -1 / NULL (none, or NEGOEX). */
NEGOEX_API int negoex_spnego_selected_app(const negoex_spnego *sp);

/* 1 once both sides use Late Fallback (we offered / were offered it and
 * supportedMechs went over the wire). */
NEGOEX_API int negoex_spnego_late_fallback(const negoex_spnego *sp);
/* How many Late Fallback retries this conversation had (0 or 1). */
NEGOEX_API int negoex_spnego_retries(const negoex_spnego *sp);
/* Fragments of our last token still to be sent (each on a step(NULL, 0)). */
NEGOEX_API size_t negoex_spnego_fragments_pending(const negoex_spnego *sp);
NEGOEX_API void *negoex_spnego_app_state(const negoex_spnego *sp);

#ifdef __cplusplus
}
#endif
#endif
