/*
 * libnegoex: PKU2U dissector, for analysers (the `negoex decode` tool).
 *
 * Walks what the PKU2U auth scheme carries inside NEGOEX
 * (../shared/docs/pku2u-wire.md):
 *   - negoex_pku2u_dissect_token: a PKU2U GSS token, the Exchange payload of
 *     an AP_REQUEST / CHALLENGE message: 60 <len> 06 06 2b 06 01 05 02 07
 *     <TOK_ID> then a KRB_AS_REQ, KRB_AS_REP, KRB_AP_REQ, KRB_AP_REP or
 *     KRB_ERROR (RFC 4120), with the PKINIT padata (RFC 4556) opened: the CMS
 *     SignedData, its AuthPack / KDCDHKeyInfo, its certificates' names;
 *   - negoex_pku2u_dissect_metadata: the Exchange payload of a PKU2U
 *     INITIATOR_META_DATA / ACCEPTOR_META_DATA message (trusted certifiers,
 *     target realm and sname).
 * Nothing is decrypted: an EncryptedData is reported as its etype, kvno and
 * ciphertext length only. Nothing is verified either (signatures, checksums,
 * certificate chains): this is a view of the bytes, not an authentication.
 *
 * Output: a flat sequence of events passed to a callback, in wire order.
 * Structures nest: BEGIN (a structure: named fields follow) or BEGIN_LIST (a
 * SEQUENCE OF: count elements follow, each one event or one BEGIN..END
 * group) opens a level, END closes the innermost one. That maps one to one
 * onto JSON (object, array) and onto an indented text tree. The first event
 * is a BEGIN at depth 0 naming what was dissected ("AS-REQ", "AS-REP",
 * "AP-REQ", "AP-REP", "KRB-ERROR"; "Pku2uInitiatorMetaData",
 * "Pku2uAcceptorMetaData"), the last is its END.
 *
 * Names: the component names of the ASN.1 modules (RFC 4120, RFC 4556,
 * RFC 5652, RFC 5280, the PKU2U metadata), e.g. "kdc-options", "cname",
 * "signedAuthPack", "paChecksum", "clientDHNonce"; the elements of a list are
 * named after their type ("PA-DATA", "HostAddress", "Certificate"). A few
 * names are derived values, not ASN.1 components: "tok-id" (the 2 TOK_ID
 * bytes), "dh-group" (2 or 14 when p, g, q are RFC 2409 group 2 / RFC 3526
 * group 14; absent otherwise), "p-bits", "q-bits". A DH "subjectPublicKey"
 * is y (the magnitude of the INTEGER inside the BIT STRING). Within one
 * BEGIN..END level names are unique.
 *
 * All or nothing: the whole input is decoded (strictly: DER, ranges, the
 * PKINIT contents) before the first event, so a callback never sees part of
 * a malformed input (only running out of memory can stop a walk that has
 * begun reporting). Certificates are the exception to strictness: the CMS
 * decoder only locates them; one whose serialNumber / issuer / validity /
 * subject cannot be read is reported as BYTES instead of failing the input.
 * Errors are negative negoex_error codes with *err (may be NULL) filled:
 * code, the offset of the offending element in the input (for an error
 * inside a nested structure, e.g. the AuthPack in the CMS SignedData in the
 * PA-PK-AS-REQ, still counted from the start of the input), and a static
 * field name (DER_TRUNCATED, DER_LENGTH, DER_TAG, DER_TRAILING, DER_VALUE,
 * TOO_LARGE, EMPTY_TOKEN, INVALID_ARGUMENT, NO_MEMORY).
 *
 * The callback returns 0 to go on; any other value stops the walk and is
 * returned by the dissector as is (err->code is 0 then). Event pointers
 * (names, labels, text, lists) are valid during the call only; byte views
 * point into the caller's input.
 *
 * Thread safety: no state; the ASN.1 schemas load once per process.
 */
#ifndef NEGOEX_PKU2U_H
#define NEGOEX_PKU2U_H

#include <negoex/negoex.h>

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum negoex_dissect_kind {
    NEGOEX_DISSECT_BEGIN = 0,  /* a structure starts; label: what kind, when useful (e.g. "bare") */
    NEGOEX_DISSECT_BEGIN_LIST, /* a SEQUENCE OF starts; count: its elements */
    NEGOEX_DISSECT_END,        /* the innermost BEGIN / BEGIN_LIST ends */
    NEGOEX_DISSECT_INT,        /* num; label: its symbolic name (message, padata, error code, ...) or NULL */
    NEGOEX_DISSECT_FLAGS,      /* num: the first 32 bits, bit 0 = 0x80000000; label: the names of the set
                                  bits, ", " between them, unknown ones "bitN" ("" when none is set) */
    NEGOEX_DISSECT_STRING,     /* bytes: a KerberosString / Realm as sent (not NUL-terminated, not checked
                                  as UTF-8); also a certificate's notBefore / notAfter text */
    NEGOEX_DISSECT_TIME,       /* bytes: KerberosTime "YYYYMMDDHHMMSSZ"; num: seconds since 1970-01-01 UTC */
    NEGOEX_DISSECT_BYTES,      /* bytes: opaque octets (nonces, checksums, keys, serial numbers) */
    NEGOEX_DISSECT_OID,        /* bytes: content octets; text: dotted; label: its name or NULL */
    NEGOEX_DISSECT_DN,         /* bytes: the X.501 Name TLV; text: its RFC 4514 string (UTF-8) */
    NEGOEX_DISSECT_PRINCIPAL,  /* num: name-type; label: its name or NULL; strings/count: name-string */
    NEGOEX_DISSECT_INT_LIST,   /* ints/count; labels: parallel names, entries NULL when unknown */
    NEGOEX_DISSECT_ADDRESS,    /* num: addr-type; label: its name or NULL; bytes: the address */
    NEGOEX_DISSECT_ENC_DATA    /* num: etype; label: its name or NULL; has_kvno/kvno; length: ciphertext bytes */
} negoex_dissect_kind;

/* One event; which members mean something depends on kind (see above),
 * the others are zero / NULL. */
typedef struct negoex_dissect_event {
    negoex_dissect_kind kind;
    const char *name;   /* the field's name; NULL only for END */
    unsigned depth;     /* nesting: 0 for the outermost BEGIN / END, its fields 1, ... */
    size_t index;       /* position inside the enclosing BEGIN_LIST (0 elsewhere) */
    size_t offset;      /* in the input: where the element's bytes start when the
                           decoders locate it, else where the innermost located
                           enclosing structure starts; END: that of what it closes */
    int64_t num;        /* INT, FLAGS, TIME, PRINCIPAL, ADDRESS, ENC_DATA */
    const char *label;  /* symbolic name (NUL-terminated, ASCII) or NULL */
    const char *text;   /* OID, DN: the value as text (NUL-terminated) */
    negoex_bytes bytes; /* STRING, TIME, BYTES, OID, DN, ADDRESS: a view of the input */
    size_t count;       /* BEGIN_LIST, PRINCIPAL, INT_LIST */
    const int32_t *ints;        /* INT_LIST */
    const char *const *labels;  /* INT_LIST: count names, entries may be NULL */
    const negoex_bytes *strings; /* PRINCIPAL: count views of the input */
    int has_kvno;       /* ENC_DATA */
    uint32_t kvno;      /* ENC_DATA */
    size_t length;      /* ENC_DATA: ciphertext length (the bytes are not reported) */
} negoex_dissect_event;

/* 0: go on; anything else stops the walk and becomes the dissector's result. */
typedef int (*negoex_dissect_fn)(void *ud, const negoex_dissect_event *ev);

/* A PKU2U GSS token (the framing, its TOK_ID and the Kerberos message it
 * names); offsets in events and err count from tok. */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_dissect_token(const uint8_t *tok, size_t len, negoex_dissect_fn fn, void *ud,
                                                      negoex_error_info *err);

typedef enum negoex_pku2u_metadata_kind {
    NEGOEX_PKU2U_METADATA_ANY = 0,   /* either: with a target [1] it is the initiator's */
    NEGOEX_PKU2U_METADATA_INITIATOR, /* Pku2uInitiatorMetaData (INITIATOR_META_DATA) */
    NEGOEX_PKU2U_METADATA_ACCEPTOR   /* Pku2uAcceptorMetaData (ACCEPTOR_META_DATA) */
} negoex_pku2u_metadata_kind;

/* A PKU2U metadata payload (a META_DATA message's Exchange bytes). */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_dissect_metadata(const uint8_t *der, size_t len,
                                                         negoex_pku2u_metadata_kind kind, negoex_dissect_fn fn,
                                                         void *ud, negoex_error_info *err);

/* 1 when guid is the PKU2U auth scheme: the GUID Windows sends
 * (NEGOEX_SCHEME_PKU2U) or the documented one (NEGOEX_SCHEME_PKU2U_DOCUMENTED). */
NEGOEX_API int negoex_pku2u_is_scheme(const negoex_guid *guid);

#ifdef __cplusplus
}
#endif
#endif
