/*
 * libnegoex: MS-NEGOEX codec, errors and GUIDs.
 *
 * The codec never allocates and never copies message payloads: parsed messages
 * are views into the caller's buffer, builders write into caller memory.
 * Wire facts follow docs/wire.md (the bytes real peers send), not any single
 * spec sentence.
 */
#ifndef NEGOEX_NEGOEX_H
#define NEGOEX_NEGOEX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define NEGOEX_API __attribute__((visibility("default")))
#define NEGOEX_WUR __attribute__((warn_unused_result))
#else
#define NEGOEX_API
#define NEGOEX_WUR
#endif

#define NEGOEX_VERSION_STRING "0.1.0"

/* ------------------------------------------------------------------------ */
/* Errors: one negative enum, in ranges per layer.                           */
/* ------------------------------------------------------------------------ */

typedef enum negoex_error {
    NEGOEX_OK = 0,

    /* general (-1 .. -19) */
    NEGOEX_ERR_INVALID_ARGUMENT = -1,
    NEGOEX_ERR_NO_MEMORY = -2,
    NEGOEX_ERR_BUFFER_TOO_SMALL = -3,
    NEGOEX_ERR_GUID_SYNTAX = -4,
    NEGOEX_ERR_INDEX_RANGE = -5,
    NEGOEX_ERR_WRONG_TYPE = -6,    /* structure accessor/builder used on another type */
    NEGOEX_ERR_TOO_LARGE = -7,     /* a value does not fit its wire field */

    /* codec: structural rules of one token (-20 .. -59) */
    NEGOEX_ERR_EMPTY_TOKEN = -20,
    NEGOEX_ERR_TRUNCATED_HEADER = -21,     /* fewer than 40 bytes left */
    NEGOEX_ERR_BAD_SIGNATURE = -22,        /* not "NEGOEXTS" */
    NEGOEX_ERR_HEADER_LENGTH = -23,        /* cbHeaderLength < 40 */
    NEGOEX_ERR_MESSAGE_LENGTH = -24,       /* cbMessageLength < cbHeaderLength */
    NEGOEX_ERR_MESSAGE_TRUNCATED = -25,    /* cbMessageLength > bytes left */
    NEGOEX_ERR_UNKNOWN_TYPE = -26,         /* MessageType not 0..7 */
    NEGOEX_ERR_FIXED_PART = -27,           /* type's fixed fields exceed cbHeaderLength */
    NEGOEX_ERR_VERSION = -28,              /* ProtocolVersion != 0 */
    NEGOEX_ERR_AUTH_SCHEME_VECTOR = -29,
    NEGOEX_ERR_EXTENSION_VECTOR = -30,
    NEGOEX_ERR_EXTENSION_VALUE = -31,
    NEGOEX_ERR_CRITICAL_EXTENSION = -32,   /* none are defined, so every critical one */
    NEGOEX_ERR_EXCHANGE_VECTOR = -33,
    NEGOEX_ERR_CHECKSUM_VECTOR = -34,
    NEGOEX_ERR_CHECKSUM_HEADER = -35,      /* CHECKSUM.cbHeaderLength != 20 */
    NEGOEX_ERR_CHECKSUM_SCHEME = -36,      /* ChecksumScheme != 1 */
    NEGOEX_ERR_ALERT_VECTOR = -37,
    NEGOEX_ERR_ALERT_VALUE = -38,
    NEGOEX_ERR_ALERT_PULSE = -39,          /* pulse shorter than 8 or bad cbHeaderLength */
    NEGOEX_ERR_VECTOR_OVERLAPS_HEADER = -40,

    /* context: conversation rules (-60 .. -99) */
    NEGOEX_ERR_SEQUENCE = -60,             /* SequenceNum != expected counter */
    NEGOEX_ERR_CONVERSATION_ID = -61,
    NEGOEX_ERR_WRONG_ROLE = -62,           /* message type the other side must send */
    NEGOEX_ERR_UNEXPECTED_MESSAGE = -63,   /* right role, wrong moment */
    NEGOEX_ERR_NO_COMMON_SCHEME = -64,
    NEGOEX_ERR_CHECKSUM_MISMATCH = -65,
    NEGOEX_ERR_UNKEYED_CHECKSUM = -66,
    NEGOEX_ERR_UNSUPPORTED_CHECKSUM = -67,
    NEGOEX_ERR_NO_KEY = -68,               /* scheme completed without a key */
    NEGOEX_ERR_COMPLETE = -69,             /* anything after completion */
    NEGOEX_ERR_TOKEN_TOO_LARGE = -70,
    NEGOEX_ERR_TRANSCRIPT_TOO_LARGE = -71,
    NEGOEX_ERR_TOO_MANY_SCHEMES = -72,
    NEGOEX_ERR_SCHEME_FAILED = -73,
    NEGOEX_ERR_RNG = -74,
    NEGOEX_ERR_CRYPTO = -75,
    NEGOEX_ERR_DUPLICATE_SCHEME = -76,
    NEGOEX_ERR_MISSING_TOKEN = -77,        /* step called without the token it needs */
    NEGOEX_ERR_FAILED = -78,               /* context already failed; create a new one */
    NEGOEX_ERR_KEY_SIZE = -79,             /* key length does not fit the enctype */

    /* Kerberos / PKINIT crypto for PKU2U (-80 .. -99). */
    NEGOEX_ERR_KRB_MALFORMED = -80,        /* RFC 4121 token, 0x8003 checksum or ciphertext malformed */
    NEGOEX_ERR_KRB_INTEGRITY = -81,        /* ciphertext fails its integrity check (wrong key/usage or tampered) */
    NEGOEX_ERR_KRB_DIRECTION = -82,        /* RFC 4121 token sent by the wrong role (reflected) */
    NEGOEX_ERR_KRB_ENCTYPE = -83,          /* Kerberos enctype not supported (only 17 and 18) */
    NEGOEX_ERR_DH_PUBLIC = -84,            /* peer DH public value out of range or outside the subgroup */
    NEGOEX_ERR_DH_GROUP = -85,             /* DH domain parameters unknown or unacceptable */
    /* PKINIT CMS SignedData and X.509 (src/pku2u/cms.h, src/pku2u/x509.h). */
    NEGOEX_ERR_CMS_MALFORMED = -86,        /* detached, not one signer, no signed attrs or signer cert */
    NEGOEX_ERR_CMS_SIGNATURE = -87,        /* signature or message-digest attribute does not verify */
    NEGOEX_ERR_CMS_CONTENT_TYPE = -88,     /* eContentType or its signed attribute unexpected */
    NEGOEX_ERR_CMS_DIGEST = -89,           /* digest algorithm outside the accepted set */
    NEGOEX_ERR_CERT_UNTRUSTED = -90,       /* no chain to a configured trust anchor */
    NEGOEX_ERR_CERT_EXPIRED = -91,         /* a chain certificate expired at the validation time */
    NEGOEX_ERR_CERT_NOT_YET_VALID = -92,   /* a chain certificate not valid yet at that time */
    NEGOEX_ERR_CERT_INVALID = -93,         /* chain rejected otherwise (signature, CA, path rules) */
    NEGOEX_ERR_CERT_EKU = -94,             /* required extended key usage missing */
    NEGOEX_ERR_CERT_NAME = -95,            /* certificate does not name the expected host */
    NEGOEX_ERR_CREDENTIAL_LOAD = -96,      /* unreadable, wrong password or key mismatch */

    /* DER / SPNEGO codec (-100 .. -109): reported with the byte offset. */
    NEGOEX_ERR_DER_TRUNCATED = -100,       /* a TLV runs past the end of what encloses it */
    NEGOEX_ERR_DER_LENGTH = -101,          /* indefinite, non-minimal or oversized length */
    NEGOEX_ERR_DER_TAG = -102,             /* unexpected tag, or a field repeated / out of order */
    NEGOEX_ERR_DER_TRAILING = -103,        /* bytes after the structure */
    NEGOEX_ERR_DER_VALUE = -104,           /* bad OID, ENUMERATED, BIT STRING or empty list */
    NEGOEX_ERR_SPNEGO_OID = -105,          /* GSS framing names another mechanism */
    /* SPNEGO fragments (MS-SPNG 3.1.5.6-3.1.5.11; docs/spnego-late-fallback.md). */
    NEGOEX_ERR_FRAGMENT_COUNT = -107,      /* token needs more fragments than the configured limit */
    NEGOEX_ERR_FRAGMENT_INCONSISTENT = -108, /* fragment size or bytes disagree with the first fragment */

    /* SPNEGO context (-110 .. -129). */
    NEGOEX_ERR_SPNEGO_UNEXPECTED = -110,   /* token kind or field not allowed at this point */
    NEGOEX_ERR_SPNEGO_NO_COMMON_MECH = -111, /* NEGOEX not offered / peer chose a mech we lack */
    NEGOEX_ERR_SPNEGO_REJECTED = -112,     /* the peer sent negState reject */
    NEGOEX_ERR_SPNEGO_MIC_MISSING = -113,  /* a required mechListMIC did not come */
    NEGOEX_ERR_SPNEGO_MIC_MISMATCH = -114, /* mechListMIC does not verify */
    NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED = -115, /* MIC required, the scheme cannot make or check one */
    /* Late Fallback and fragments in the context (docs/spnego-late-fallback.md). */
    NEGOEX_ERR_SPNEGO_MECH_RETRY = -116,   /* the mechanism failed, a Late Fallback retry may succeed */
    NEGOEX_ERR_SPNEGO_FRAGMENT_PENDING = -117, /* a peer token came while our fragments remain unsent */
    /* SPNEGO application mechanisms (negoex/spnego_mech.h; docs/spnego-fallback.md). */
    NEGOEX_ERR_SPNEGO_MECH_TOKEN = -119,   /* an application mechanism's token is malformed */
    NEGOEX_ERR_SPNEGO_MECH_AUTH = -120,    /* an application mechanism refused the peer's credentials */
    NEGOEX_ERR_SPNEGO_MECH_FAILED = -121,  /* an application mechanism failed otherwise */

    /* PKU2U protocol (-130 .. -149): the scheme's own checks. */
    NEGOEX_ERR_PKU2U_CLOCK_SKEW = -130,      /* peer's time outside the allowed clock skew */
    NEGOEX_ERR_PKU2U_PA_CHECKSUM = -131,     /* PKINIT paChecksum missing or not the request body's */
    NEGOEX_ERR_PKU2U_FINISHED = -132,        /* KRB-FINISHED missing or not over this AS exchange */
    NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS = -133, /* channel bindings differ */
    NEGOEX_ERR_PKU2U_TARGET = -134,          /* realm or service name not the acceptor's / the target's */
    NEGOEX_ERR_PKU2U_MISMATCH = -135,        /* an echoed value (nonce, name, time, ticket) differs */
    NEGOEX_ERR_PKU2U_UNEXPECTED = -136,      /* message kind or a required part not what this step needs */
    NEGOEX_ERR_PKU2U_KRB_ERROR = -137,       /* the peer answered with a KRB-ERROR */

    NEGOEX_ERR_LAST_ = -150
} negoex_error;

/* Text for an error code ("unknown error" for codes not listed above). */
NEGOEX_API const char *negoex_strerror(int code);
/* Stable identifier without the prefix, e.g. "BAD_SIGNATURE"; "UNKNOWN" otherwise. */
NEGOEX_API const char *negoex_error_name(int code);

/* Where a parse failed: the rule (code), the byte offset in the token of the
 * field that broke it, and that field's wire name. */
typedef struct negoex_error_info {
    int code;
    size_t offset;
    const char *field;
} negoex_error_info;

/* ------------------------------------------------------------------------ */
/* GUIDs: stored as their 16 wire bytes (MS-DTYP: Data1 u32 LE, Data2 u16 LE,   */
/* Data3 u16 LE, Data4 as is).                                              */
/* ------------------------------------------------------------------------ */

typedef struct negoex_guid {
    uint8_t bytes[16];
} negoex_guid;

#define NEGOEX_GUID_STRING_LEN 36 /* without NUL */

/* Accepts "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx", optionally in braces, any case. */
NEGOEX_API NEGOEX_WUR int negoex_guid_parse(negoex_guid *out, const char *text);
/* Writes canonical lowercase text and a NUL; out must hold 37 bytes. */
NEGOEX_API void negoex_guid_format(const negoex_guid *guid, char out[NEGOEX_GUID_STRING_LEN + 1]);
NEGOEX_API int negoex_guid_equal(const negoex_guid *a, const negoex_guid *b);
/* Name for well-known auth schemes ("PKU2U", "PKU2U (documented GUID)"), or NULL. */
NEGOEX_API const char *negoex_guid_label(const negoex_guid *guid);

/* PKU2U as every Windows peer sends it: 0d53335c-f9ea-4d0d-b2ec-4ae3786ec308. */
NEGOEX_API extern const negoex_guid NEGOEX_SCHEME_PKU2U;
/* The MS-SPNG footnote value 235f69ad-73fb-4dbc-8203-0629e739339b: never sent,
 * recognised by decoders only. */
NEGOEX_API extern const negoex_guid NEGOEX_SCHEME_PKU2U_DOCUMENTED;

/* ------------------------------------------------------------------------ */
/* Wire constants                                                            */
/* ------------------------------------------------------------------------ */

typedef enum negoex_message_type {
    NEGOEX_INITIATOR_NEGO = 0,
    NEGOEX_ACCEPTOR_NEGO = 1,
    NEGOEX_INITIATOR_META_DATA = 2,
    NEGOEX_ACCEPTOR_META_DATA = 3,
    NEGOEX_CHALLENGE = 4,
    NEGOEX_AP_REQUEST = 5,
    NEGOEX_VERIFY = 6,
    NEGOEX_ALERT = 7
} negoex_message_type;

#define NEGOEX_MESSAGE_TYPE_COUNT 8

/* "INITIATOR_NEGO", ... ; NULL for an unknown type. */
NEGOEX_API const char *negoex_message_type_name(uint32_t type);

#define NEGOEX_SIGNATURE "NEGOEXTS"
#define NEGOEX_SIGNATURE_U64 UINT64_C(0x535458454f47454e) /* "NEGOEXTS" read LE */
#define NEGOEX_MESSAGE_HEADER_LEN 40u
#define NEGOEX_NEGO_HEADER_LEN 96u
#define NEGOEX_EXCHANGE_HEADER_LEN 64u
#define NEGOEX_VERIFY_HEADER_LEN 80u  /* includes 4 pad bytes after CHECKSUM */
#define NEGOEX_ALERT_HEADER_LEN 72u   /* what we send: 6 zero pad bytes after AlertCount */
#define NEGOEX_ALERT_HEADER_MIN 68u   /* what we accept */
#define NEGOEX_CHECKSUM_HEADER_LEN 20u
#define NEGOEX_EXTENSION_LEN 12u
#define NEGOEX_ALERT_LEN 12u
#define NEGOEX_AUTH_SCHEME_LEN 16u
#define NEGOEX_ALERT_PULSE_LEN 8u
#define NEGOEX_RANDOM_LEN 32u
#define NEGOEX_PROTOCOL_VERSION 0u

#define NEGOEX_CHECKSUM_SCHEME_RFC3961 1u
#define NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES128 15
#define NEGOEX_CKSUMTYPE_HMAC_SHA1_96_AES256 16
#define NEGOEX_ENCTYPE_AES128_CTS_HMAC_SHA1_96 17
#define NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96 18

#define NEGOEX_ALERT_TYPE_PULSE 1u
#define NEGOEX_ALERT_VERIFY_NO_KEY 1u
#define NEGOEX_EXTENSION_CRITICAL 0x80000000u

/* VERIFY key usages as real peers use them; MS-NEGOEX's text has them swapped. */
#define NEGOEX_KEYUSAGE_INITIATOR_CHECKSUM 25
#define NEGOEX_KEYUSAGE_ACCEPTOR_CHECKSUM 23

/* NEGOEX inside SPNEGO: 1.3.6.1.4.1.311.2.2.30 */
#define NEGOEX_OID_TEXT "1.3.6.1.4.1.311.2.2.30"
#define NEGOEX_OID_DER_LEN 10
NEGOEX_API extern const uint8_t NEGOEX_OID_DER[NEGOEX_OID_DER_LEN]; /* content octets */

/* ------------------------------------------------------------------------ */
/* Reader: views into the caller's buffer.                                    */
/* ------------------------------------------------------------------------ */

typedef struct negoex_bytes {
    const uint8_t *data;
    size_t len;
} negoex_bytes;

typedef struct negoex_extension {
    uint32_t type;     /* without the critical bit */
    int critical;
    negoex_bytes value;
} negoex_extension;

typedef struct negoex_alert {
    uint32_t type;
    negoex_bytes value;
    int is_pulse;      /* type == ALERT_TYPE_PULSE */
    uint32_t reason;   /* pulse reason, when is_pulse */
} negoex_alert;

typedef struct negoex_message {
    uint32_t type;
    uint32_t seq;
    negoex_guid conversation_id;
    uint32_t header_length;
    uint32_t message_length;
    size_t offset;          /* of this message in the token */
    negoex_bytes raw;       /* the whole message, exactly as on the wire */
    union {
        struct {            /* INITIATOR_NEGO, ACCEPTOR_NEGO */
            const uint8_t *random;        /* 32 bytes */
            uint64_t protocol_version;
            uint16_t auth_scheme_count;
            const uint8_t *auth_schemes;  /* count * 16 wire bytes */
            uint16_t extension_count;
            const uint8_t *extensions;    /* count * 12 wire bytes */
        } nego;
        struct {            /* META_DATA, CHALLENGE, AP_REQUEST */
            negoex_guid auth_scheme;
            negoex_bytes exchange;
        } exchange;
        struct {            /* VERIFY */
            negoex_guid auth_scheme;
            uint32_t checksum_scheme;
            uint32_t checksum_type;
            negoex_bytes checksum;
        } verify;
        struct {            /* ALERT */
            negoex_guid auth_scheme;
            uint32_t error_code;
            uint16_t alert_count;
            const uint8_t *alerts;        /* count * 12 wire bytes */
        } alert;
    } u;
} negoex_message;

/* Structure family of a message type: NEGO, EXCHANGE, VERIFY, ALERT. */
typedef enum negoex_structure {
    NEGOEX_STRUCT_NONE = 0,
    NEGOEX_STRUCT_NEGO,
    NEGOEX_STRUCT_EXCHANGE,
    NEGOEX_STRUCT_VERIFY,
    NEGOEX_STRUCT_ALERT
} negoex_structure;
NEGOEX_API negoex_structure negoex_message_structure(uint32_t type);

/*
 * Parses the message that starts at token[offset]. On success fills *msg and
 * returns 0. On failure returns a negative code and, if err is not NULL,
 * fills it with the rule, the absolute offset and the field.
 * Every element (scheme, extension, alert) is checked here, so the accessors
 * below cannot fail on a parsed message except for index/type misuse.
 */
NEGOEX_API NEGOEX_WUR int negoex_parse_message(const uint8_t *token, size_t token_len, size_t offset,
                                               negoex_message *msg, negoex_error_info *err);

/* Iterates the messages of one token. */
typedef struct negoex_reader {
    const uint8_t *token;
    size_t len;
    size_t pos;
    negoex_error_info error; /* sticky: the first failure */
} negoex_reader;

NEGOEX_API void negoex_reader_init(negoex_reader *r, const uint8_t *token, size_t len);
/* 1 = *msg holds the next message; 0 = end of token; < 0 = error (sticky,
 * details in r->error). */
NEGOEX_API NEGOEX_WUR int negoex_reader_next(negoex_reader *r, negoex_message *msg);

/* Checks a whole token; returns the number of messages (> 0) or an error.
 * An empty token is NEGOEX_ERR_EMPTY_TOKEN. */
NEGOEX_API NEGOEX_WUR int negoex_token_validate(const uint8_t *token, size_t len, negoex_error_info *err);

NEGOEX_API NEGOEX_WUR int negoex_nego_auth_scheme(const negoex_message *msg, size_t index, negoex_guid *out);
NEGOEX_API NEGOEX_WUR int negoex_nego_extension(const negoex_message *msg, size_t index, negoex_extension *out);
NEGOEX_API NEGOEX_WUR int negoex_alert_get(const negoex_message *msg, size_t index, negoex_alert *out);
/* The scheme a non-NEGO message is about; NEGOEX_ERR_WRONG_TYPE for NEGO. */
NEGOEX_API NEGOEX_WUR int negoex_message_auth_scheme(const negoex_message *msg, negoex_guid *out);

/* ------------------------------------------------------------------------ */
/* Writer: Windows layout, into caller memory.                                */
/* Every builder: out == NULL asks for the size (in *out_len); otherwise the  */
/* message is written if cap is enough, else NEGOEX_ERR_BUFFER_TOO_SMALL with */
/* the size needed in *out_len. Nothing is written on error.                  */
/* ------------------------------------------------------------------------ */

typedef struct negoex_header_fields {
    uint32_t seq;
    negoex_guid conversation_id;
} negoex_header_fields;

/* INITIATOR_NEGO / ACCEPTOR_NEGO. Extensions with a zero-length value are fine;
 * no extensions give ExtensionArrayOffset 0 as Windows writes. */
NEGOEX_API NEGOEX_WUR int negoex_write_nego(uint8_t *out, size_t cap, size_t *out_len, uint32_t type,
                                            const negoex_header_fields *hdr, const uint8_t random[NEGOEX_RANDOM_LEN],
                                            const negoex_guid *schemes, size_t scheme_count,
                                            const negoex_extension *extensions, size_t extension_count);

/* INITIATOR_META_DATA, ACCEPTOR_META_DATA, CHALLENGE, AP_REQUEST. */
NEGOEX_API NEGOEX_WUR int negoex_write_exchange(uint8_t *out, size_t cap, size_t *out_len, uint32_t type,
                                                const negoex_header_fields *hdr, const negoex_guid *scheme,
                                                const uint8_t *exchange, size_t exchange_len);

/* VERIFY: header 80 with 4 zero pad bytes, RFC 3961 checksum scheme. */
NEGOEX_API NEGOEX_WUR int negoex_write_verify(uint8_t *out, size_t cap, size_t *out_len,
                                              const negoex_header_fields *hdr, const negoex_guid *scheme,
                                              uint32_t checksum_type, const uint8_t *checksum,
                                              size_t checksum_len);

/* ALERT: header 72. alerts[i].type and .value are used (is_pulse/reason ignored). */
NEGOEX_API NEGOEX_WUR int negoex_write_alert(uint8_t *out, size_t cap, size_t *out_len,
                                             const negoex_header_fields *hdr, const negoex_guid *scheme,
                                             uint32_t error_code, const negoex_alert *alerts, size_t alert_count);

/* The 8-byte ALERT_PULSE value {cbHeaderLength = 8, Reason}. */
NEGOEX_API void negoex_encode_pulse(uint8_t out[NEGOEX_ALERT_PULSE_LEN], uint32_t reason);

/* Rebuilds a parsed message with the builders (for canonical re-encoding). */
NEGOEX_API NEGOEX_WUR int negoex_write_message(uint8_t *out, size_t cap, size_t *out_len, const negoex_message *msg);

#ifdef __cplusplus
}
#endif
#endif
