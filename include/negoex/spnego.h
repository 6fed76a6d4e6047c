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

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* OIDs                                                                       */
/* ------------------------------------------------------------------------ */

#define NEGOEX_SPNEGO_OID_TEXT "1.3.6.1.5.5.2"
#define NEGOEX_SPNEGO_OID_DER_LEN 6
NEGOEX_API extern const uint8_t NEGOEX_SPNEGO_OID_DER[NEGOEX_SPNEGO_OID_DER_LEN]; /* content octets */

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
} negoex_spnego_config;

NEGOEX_API void negoex_spnego_config_init(negoex_spnego_config *cfg);

typedef struct negoex_spnego negoex_spnego;

/* Wraps nx (its role is the SPNEGO role). On success the SPNEGO context owns
 * nx and frees it; on failure the caller still does. cfg NULL = defaults. */
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

#ifdef __cplusplus
}
#endif
#endif
