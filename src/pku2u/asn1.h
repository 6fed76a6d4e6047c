/* PKU2U ASN.1: typed decoders for Kerberos (RFC 4120), PKINIT (RFC 4556),
 * the outer CMS SignedData (RFC 5652), X.501 Names, the PKU2U NEGOEX
 * metadata, KRB-FINISHED and KERB-AD-RESTRICTION-ENTRY, and the GSS framing
 * of PKU2U tokens (docs: ../shared/docs/pku2u-wire.md).
 *
 * The schemas are the .asn modules next to this file; the build turns them
 * into libtasn1 node arrays (asn1Parser), loaded once per process.
 *
 * Input rules, for every decoder:
 *   - strict DER: definite minimal lengths, minimal tags, no constructed
 *     strings, minimal INTEGERs, valid BOOLEAN / NULL / BIT STRING / OID
 *     encodings (a walk over every TLV before libtasn1 sees the bytes), then
 *     libtasn1 with ASN1_DECODE_FLAG_STRICT_DER against the schema;
 *   - the input is exactly one value: a byte after it is DER_TRAILING;
 *   - ranges the schema cannot say are checked here: Int32, UInt32,
 *     Microseconds, pvno 5, msg-type, KerberosTime "YYYYMMDDHHMMSSZ",
 *     KerberosFlags of at least 32 bits, non-empty name-string / etype /
 *     padata lists.
 *
 * Output: plain view structs. Byte fields are views into the caller's buffer
 * (nothing is copied; the input must outlive the view). An optional byte
 * field that is absent is {NULL, 0}; a present empty one has data != NULL.
 * Lists have fixed capacities (NEGOEX_KRB_MAX_*); more entries than that is
 * NEGOEX_ERR_TOO_LARGE. INTEGERs that are big numbers (DH p, g, q, y; CMS
 * serial numbers) are views of their magnitude or content octets.
 *
 * Errors: a negoex_error code; err (may be NULL) gets the code, the offset of
 * the offending element relative to the decoder's input (0 when libtasn1
 * rejects the structure: it does not say where) and a static field name.
 * Codes: DER_TRUNCATED, DER_LENGTH, DER_TAG (tag not allowed by the schema,
 * or libtasn1 rejected the structure), DER_TRAILING, DER_VALUE (a value out
 * of its range or malformed), TOO_LARGE, EMPTY_TOKEN, INVALID_ARGUMENT,
 * NO_MEMORY.
 *
 * Thread safety: the schemas load once (pthread_once); decoders keep no
 * state.
 */
#ifndef NEGOEX_PKU2U_ASN1_H
#define NEGOEX_PKU2U_ASN1_H

#include <negoex/negoex.h>

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Constants                                                                 */
/* ------------------------------------------------------------------------ */

#define NEGOEX_KRB_MAX_NAME_COMPONENTS 8
#define NEGOEX_KRB_MAX_PADATA 16
#define NEGOEX_KRB_MAX_ETYPES 32
#define NEGOEX_KRB_MAX_ADDRESSES 16
#define NEGOEX_KRB_MAX_TICKETS 4
#define NEGOEX_KRB_MAX_LAST_REQ 8
#define NEGOEX_KRB_MAX_AD 16
#define NEGOEX_KRB_MAX_CERTIFIERS 16
#define NEGOEX_CMS_MAX_DIGEST_ALGS 8
#define NEGOEX_CMS_MAX_CERTS 16
#define NEGOEX_CMS_MAX_SIGNERS 4
#define NEGOEX_X509_MAX_ATTRS 24

#define NEGOEX_KRB_PVNO 5

/* msg-type (RFC 4120 section 7.5.7) */
#define NEGOEX_KRB_AS_REQ 10
#define NEGOEX_KRB_AS_REP 11
#define NEGOEX_KRB_TGS_REQ 12
#define NEGOEX_KRB_TGS_REP 13
#define NEGOEX_KRB_AP_REQ 14
#define NEGOEX_KRB_AP_REP 15
#define NEGOEX_KRB_ERROR 30

/* name-type */
#define NEGOEX_KRB_NT_PRINCIPAL 1
#define NEGOEX_KRB_NT_SRV_INST 2
#define NEGOEX_KRB_NT_SRV_HST 3
#define NEGOEX_KRB_NT_MS_PRINCIPAL (-128) /* what Windows PKU2U sends */

/* padata-type */
#define NEGOEX_KRB_PA_PK_AS_REQ 16
#define NEGOEX_KRB_PA_PK_AS_REP 17

/* ad-type */
#define NEGOEX_KRB_AD_IF_RELEVANT 1
#define NEGOEX_KRB_AD_TOKEN_RESTRICTIONS 141 /* KERB-AD-RESTRICTION-ENTRY list */

/* addr-type */
#define NEGOEX_KRB_ADDR_NETBIOS 20

/* PKU2U GSS TOK_IDs as a big-endian number of their two wire bytes. */
#define NEGOEX_PKU2U_TOK_AP_REQ 0x0100u
#define NEGOEX_PKU2U_TOK_AP_REP 0x0200u
#define NEGOEX_PKU2U_TOK_KRB_ERROR 0x0300u
#define NEGOEX_PKU2U_TOK_AS_REQ 0x0500u
#define NEGOEX_PKU2U_TOK_AS_REP 0x0600u

/* OID content octets (no tag, no length). */
#define NEGOEX_OID_PKU2U_LEN 6 /* 1.3.6.1.5.2.7 */
extern const uint8_t NEGOEX_OID_PKU2U[NEGOEX_OID_PKU2U_LEN];
#define NEGOEX_OID_PKINIT_AUTHDATA_LEN 7 /* 1.3.6.1.5.2.3.1 */
extern const uint8_t NEGOEX_OID_PKINIT_AUTHDATA[NEGOEX_OID_PKINIT_AUTHDATA_LEN];
#define NEGOEX_OID_PKINIT_DHKEYDATA_LEN 7 /* 1.3.6.1.5.2.3.2 */
extern const uint8_t NEGOEX_OID_PKINIT_DHKEYDATA[NEGOEX_OID_PKINIT_DHKEYDATA_LEN];
#define NEGOEX_OID_DHPUBLICNUMBER_LEN 7 /* 1.2.840.10046.2.1 */
extern const uint8_t NEGOEX_OID_DHPUBLICNUMBER[NEGOEX_OID_DHPUBLICNUMBER_LEN];
#define NEGOEX_OID_CMS_SIGNED_DATA_LEN 9 /* 1.2.840.113549.1.7.2 */
extern const uint8_t NEGOEX_OID_CMS_SIGNED_DATA[NEGOEX_OID_CMS_SIGNED_DATA_LEN];

/* True when view v holds exactly the n content octets oid. */
int negoex_asn1_oid_is(negoex_bytes v, const uint8_t *oid, size_t n);

/* ------------------------------------------------------------------------ */
/* Kerberos (RFC 4120)                                                       */
/* ------------------------------------------------------------------------ */

typedef struct negoex_krb_principal {
    int32_t name_type;
    size_t count; /* >= 1 */
    negoex_bytes components[NEGOEX_KRB_MAX_NAME_COMPONENTS];
} negoex_krb_principal;

typedef struct negoex_krb_enc_data {
    int32_t etype;
    int has_kvno;
    uint32_t kvno;
    negoex_bytes cipher;
} negoex_krb_enc_data;

typedef struct negoex_krb_keyblock {
    int32_t keytype;
    negoex_bytes keyvalue;
} negoex_krb_keyblock;

typedef struct negoex_krb_cksum {
    int32_t cksumtype;
    negoex_bytes checksum;
} negoex_krb_cksum;

typedef struct negoex_krb_padata {
    int32_t type;
    negoex_bytes value;
} negoex_krb_padata;

typedef struct negoex_krb_address {
    int32_t addr_type;
    negoex_bytes address;
} negoex_krb_address;

typedef struct negoex_krb_ad_entry {
    int32_t ad_type;
    negoex_bytes ad_data;
} negoex_krb_ad_entry;

/* KerberosTime values are views of the 15 characters "YYYYMMDDHHMMSSZ". */
/* Seconds since 1970-01-01T00:00:00Z of a valid KerberosTime view. */
int negoex_krb_time_to_unix(negoex_bytes t, int64_t *out);
/* Seconds since 1970-01-01T00:00:00Z of a UTC civil date and time
 * (proleptic Gregorian; month 1-12). */
int64_t negoex_unix_of_civil(int64_t year, int month, int day, int hour, int minute, int second);

typedef struct negoex_krb_ticket {
    negoex_bytes raw; /* the whole Ticket ([APPLICATION 1] TLV) */
    negoex_bytes realm;
    negoex_krb_principal sname;
    negoex_krb_enc_data enc_part;
} negoex_krb_ticket;

/* AS-REQ / TGS-REQ */
typedef struct negoex_krb_kdc_req {
    int32_t msg_type; /* NEGOEX_KRB_AS_REQ or NEGOEX_KRB_TGS_REQ */
    size_t padata_count;
    negoex_krb_padata padata[NEGOEX_KRB_MAX_PADATA];
    negoex_bytes req_body; /* the KDC-REQ-BODY SEQUENCE TLV (paChecksum input) */
    uint32_t kdc_options;  /* the first 32 bits, bit 0 = 0x80000000 */
    int has_cname;
    negoex_krb_principal cname;
    negoex_bytes realm;
    int has_sname;
    negoex_krb_principal sname;
    negoex_bytes from; /* optional */
    negoex_bytes till;
    negoex_bytes rtime; /* optional */
    uint32_t nonce;
    size_t etype_count; /* >= 1 */
    int32_t etypes[NEGOEX_KRB_MAX_ETYPES];
    int has_addresses;
    size_t address_count;
    negoex_krb_address addresses[NEGOEX_KRB_MAX_ADDRESSES];
    int has_enc_authorization_data;
    negoex_krb_enc_data enc_authorization_data;
    size_t additional_ticket_count;
    negoex_bytes additional_tickets[NEGOEX_KRB_MAX_TICKETS]; /* Ticket TLVs */
} negoex_krb_kdc_req;

/* AS-REP / TGS-REP */
typedef struct negoex_krb_kdc_rep {
    int32_t msg_type; /* NEGOEX_KRB_AS_REP or NEGOEX_KRB_TGS_REP */
    size_t padata_count;
    negoex_krb_padata padata[NEGOEX_KRB_MAX_PADATA];
    negoex_bytes crealm;
    negoex_krb_principal cname;
    negoex_krb_ticket ticket;
    negoex_krb_enc_data enc_part;
} negoex_krb_kdc_rep;

typedef struct negoex_krb_ap_req {
    uint32_t ap_options;
    negoex_krb_ticket ticket;
    negoex_krb_enc_data authenticator;
} negoex_krb_ap_req;

typedef struct negoex_krb_ap_rep {
    negoex_krb_enc_data enc_part;
} negoex_krb_ap_rep;

typedef struct negoex_krb_error {
    negoex_bytes ctime; /* optional */
    int has_cusec;
    uint32_t cusec;
    negoex_bytes stime;
    uint32_t susec;
    int32_t error_code;
    negoex_bytes crealm; /* optional */
    int has_cname;
    negoex_krb_principal cname;
    negoex_bytes realm;
    negoex_krb_principal sname;
    negoex_bytes e_text; /* optional */
    negoex_bytes e_data; /* optional */
} negoex_krb_error;

typedef struct negoex_krb_last_req {
    int32_t lr_type;
    negoex_bytes lr_value;
} negoex_krb_last_req;

/* EncASRepPart ([APPLICATION 25]) or EncTGSRepPart ([APPLICATION 26]) */
typedef struct negoex_krb_enc_kdc_rep_part {
    unsigned app_tag; /* 25 or 26: some KDCs send 26 in an AS-REP */
    negoex_krb_keyblock key;
    size_t last_req_count;
    negoex_krb_last_req last_req[NEGOEX_KRB_MAX_LAST_REQ];
    uint32_t nonce;
    negoex_bytes key_expiration; /* optional */
    uint32_t flags;
    negoex_bytes authtime;
    negoex_bytes starttime; /* optional */
    negoex_bytes endtime;
    negoex_bytes renew_till; /* optional */
    negoex_bytes srealm;
    negoex_krb_principal sname;
    int has_caddr;
    size_t caddr_count;
    negoex_krb_address caddr[NEGOEX_KRB_MAX_ADDRESSES];
} negoex_krb_enc_kdc_rep_part;

typedef struct negoex_krb_enc_ticket_part {
    uint32_t flags;
    negoex_krb_keyblock key;
    negoex_bytes crealm;
    negoex_krb_principal cname;
    int32_t tr_type;
    negoex_bytes tr_contents;
    negoex_bytes authtime;
    negoex_bytes starttime; /* optional */
    negoex_bytes endtime;
    negoex_bytes renew_till; /* optional */
    int has_caddr;
    size_t caddr_count;
    negoex_krb_address caddr[NEGOEX_KRB_MAX_ADDRESSES];
    negoex_bytes authorization_data; /* optional: AuthorizationData TLV */
} negoex_krb_enc_ticket_part;

typedef struct negoex_krb_authenticator {
    negoex_bytes crealm;
    negoex_krb_principal cname;
    int has_cksum;
    negoex_krb_cksum cksum;
    uint32_t cusec;
    negoex_bytes ctime;
    int has_subkey;
    negoex_krb_keyblock subkey;
    int has_seq_number;
    uint32_t seq_number;
    negoex_bytes authorization_data; /* optional: AuthorizationData TLV */
} negoex_krb_authenticator;

typedef struct negoex_krb_enc_ap_rep_part {
    negoex_bytes ctime;
    uint32_t cusec;
    int has_subkey;
    negoex_krb_keyblock subkey;
    int has_seq_number;
    uint32_t seq_number;
} negoex_krb_enc_ap_rep_part;

/* AuthorizationData, AD-IF-RELEVANT (same syntax). */
typedef struct negoex_krb_authz_data {
    size_t count;
    negoex_krb_ad_entry entries[NEGOEX_KRB_MAX_AD];
} negoex_krb_authz_data;

/* METHOD-DATA (SEQUENCE OF PA-DATA, possibly empty). */
typedef struct negoex_krb_method_data {
    size_t count;
    negoex_krb_padata padata[NEGOEX_KRB_MAX_PADATA];
} negoex_krb_method_data;

int negoex_krb_decode_as_req(const uint8_t *der, size_t len, negoex_krb_kdc_req *out, negoex_error_info *err);
int negoex_krb_decode_tgs_req(const uint8_t *der, size_t len, negoex_krb_kdc_req *out, negoex_error_info *err);
int negoex_krb_decode_as_rep(const uint8_t *der, size_t len, negoex_krb_kdc_rep *out, negoex_error_info *err);
int negoex_krb_decode_tgs_rep(const uint8_t *der, size_t len, negoex_krb_kdc_rep *out, negoex_error_info *err);
int negoex_krb_decode_ap_req(const uint8_t *der, size_t len, negoex_krb_ap_req *out, negoex_error_info *err);
int negoex_krb_decode_ap_rep(const uint8_t *der, size_t len, negoex_krb_ap_rep *out, negoex_error_info *err);
int negoex_krb_decode_error(const uint8_t *der, size_t len, negoex_krb_error *out, negoex_error_info *err);
int negoex_krb_decode_ticket(const uint8_t *der, size_t len, negoex_krb_ticket *out, negoex_error_info *err);
/* Accepts [APPLICATION 25] and [APPLICATION 26]. */
int negoex_krb_decode_enc_kdc_rep_part(const uint8_t *der, size_t len, negoex_krb_enc_kdc_rep_part *out,
                                       negoex_error_info *err);
int negoex_krb_decode_enc_ticket_part(const uint8_t *der, size_t len, negoex_krb_enc_ticket_part *out,
                                      negoex_error_info *err);
int negoex_krb_decode_authenticator(const uint8_t *der, size_t len, negoex_krb_authenticator *out,
                                    negoex_error_info *err);
int negoex_krb_decode_enc_ap_rep_part(const uint8_t *der, size_t len, negoex_krb_enc_ap_rep_part *out,
                                      negoex_error_info *err);
int negoex_krb_decode_authz_data(const uint8_t *der, size_t len, negoex_krb_authz_data *out, negoex_error_info *err);
int negoex_krb_decode_method_data(const uint8_t *der, size_t len, negoex_krb_method_data *out, negoex_error_info *err);
int negoex_krb_decode_pa_data(const uint8_t *der, size_t len, negoex_krb_padata *out, negoex_error_info *err);
int negoex_krb_decode_enc_data(const uint8_t *der, size_t len, negoex_krb_enc_data *out, negoex_error_info *err);
int negoex_krb_decode_checksum(const uint8_t *der, size_t len, negoex_krb_cksum *out, negoex_error_info *err);
int negoex_krb_decode_principal(const uint8_t *der, size_t len, negoex_krb_principal *out, negoex_error_info *err);

/* ------------------------------------------------------------------------ */
/* PKINIT (RFC 4556) and its CMS / X.509 pieces                              */
/* ------------------------------------------------------------------------ */

/* ExternalPrincipalIdentifier: each field optional (DER inside). */
typedef struct negoex_krb_epi {
    negoex_bytes subject_name;      /* DER Name */
    negoex_bytes issuer_and_serial; /* DER IssuerAndSerialNumber */
    negoex_bytes subject_key_id;
} negoex_krb_epi;

typedef struct negoex_krb_pa_pk_as_req {
    negoex_bytes signed_auth_pack; /* CMS SignedData (Windows: bare) */
    int has_trusted_certifiers;
    size_t trusted_certifier_count;
    negoex_krb_epi trusted_certifiers[NEGOEX_KRB_MAX_CERTIFIERS];
    negoex_bytes kdc_pk_id; /* optional */
} negoex_krb_pa_pk_as_req;

/* RFC 3279 DomainParameters: magnitudes of the (non-negative) INTEGERs. */
typedef struct negoex_krb_dh_params {
    negoex_bytes p, g, q;
    negoex_bytes j; /* optional */
    int has_validation_parms;
} negoex_krb_dh_params;

typedef struct negoex_krb_auth_pack {
    uint32_t cusec;
    negoex_bytes ctime;
    uint32_t nonce;
    negoex_bytes pa_checksum; /* optional: SHA-1 of the DER KDC-REQ-BODY */
    negoex_bytes client_public_value; /* optional: SubjectPublicKeyInfo TLV */
    negoex_bytes cpv_algorithm;       /* its algorithm OID (content octets) */
    negoex_bytes cpv_parameters;      /* its parameters TLV (optional) */
    negoex_bytes cpv_public_key;      /* its BIT STRING bytes (whole octets) */
    int is_dh;                        /* algorithm is dhpublicnumber: */
    negoex_krb_dh_params dh;          /*   the DomainParameters */
    negoex_bytes dh_y;                /*   magnitude of y (DER INTEGER in the bits) */
    int dh_y_was_negative;            /*   as in negoex_krb_kdc_dh_key_info */
    negoex_bytes supported_cms_types; /* optional: SEQUENCE OF AlgorithmIdentifier TLV */
    negoex_bytes client_dh_nonce;     /* optional */
} negoex_krb_auth_pack;

#define NEGOEX_KRB_PK_AS_REP_DH_INFO 0
#define NEGOEX_KRB_PK_AS_REP_ENC_KEY_PACK 1

typedef struct negoex_krb_pa_pk_as_rep {
    int choice;                  /* NEGOEX_KRB_PK_AS_REP_* */
    negoex_bytes dh_signed_data; /* dhInfo: CMS SignedData (Windows: bare) */
    negoex_bytes server_dh_nonce; /* dhInfo, optional */
    negoex_bytes enc_key_pack;   /* encKeyPack: CMS ContentInfo */
} negoex_krb_pa_pk_as_rep;

/* y is read as an unsigned big-endian number. sspi-rs writes its INTEGER
 * without the 00 a high first bit needs (a negative number in DER) and
 * Windows clients accept that: y_was_negative says so, y keeps all octets. */
typedef struct negoex_krb_kdc_dh_key_info {
    negoex_bytes subject_public_key; /* the BIT STRING bytes */
    negoex_bytes y;                  /* magnitude of the DER INTEGER in them */
    int y_was_negative;              /* see below */
    uint32_t nonce;
    negoex_bytes dh_key_expiration; /* optional */
} negoex_krb_kdc_dh_key_info;

typedef struct negoex_cms_signer {
    negoex_bytes raw; /* the SignerInfo TLV */
    int32_t version;
    int sid_is_ski;             /* sid: 0 issuerAndSerialNumber, 1 subjectKeyIdentifier */
    negoex_bytes issuer;        /* Name TLV */
    negoex_bytes serial;        /* INTEGER content octets */
    negoex_bytes ski;
    negoex_bytes digest_algorithm;    /* OID content */
    negoex_bytes signed_attrs;        /* optional: the [0] IMPLICIT TLV as sent (A0 ..) */
    negoex_bytes content_type_attr;   /* OID content of the content-type attribute */
    negoex_bytes message_digest_attr; /* OCTET STRING content of message-digest */
    negoex_bytes signature_algorithm; /* OID content */
    negoex_bytes signature;
    int has_unsigned_attrs;
} negoex_cms_signer;

typedef struct negoex_cms_signed_data {
    int wrapped;      /* 1: the input was a ContentInfo, 0: a bare SignedData */
    negoex_bytes raw; /* the SignedData SEQUENCE TLV */
    int32_t version;
    size_t digest_algorithm_count;
    negoex_bytes digest_algorithms[NEGOEX_CMS_MAX_DIGEST_ALGS]; /* OID contents */
    negoex_bytes econtent_type; /* OID content */
    negoex_bytes econtent;      /* optional (absent: detached) */
    size_t certificate_count;
    negoex_bytes certificates[NEGOEX_CMS_MAX_CERTS]; /* each certificate's TLV */
    int has_crls;
    size_t signer_count;
    negoex_cms_signer signers[NEGOEX_CMS_MAX_SIGNERS];
} negoex_cms_signed_data;

typedef struct negoex_x509_attr {
    size_t rdn;         /* index of its RelativeDistinguishedName */
    negoex_bytes type;  /* OID content */
    uint8_t value_tag;  /* the value's tag (0x1e BMPString, 0x0c UTF8String, ...) */
    negoex_bytes value; /* the value's content octets */
    negoex_bytes value_tlv;
} negoex_x509_attr;

typedef struct negoex_x509_name {
    negoex_bytes raw;
    size_t rdn_count;
    size_t count; /* attributes, in wire order */
    negoex_x509_attr attrs[NEGOEX_X509_MAX_ATTRS];
} negoex_x509_name;

int negoex_krb_decode_pa_pk_as_req(const uint8_t *der, size_t len, negoex_krb_pa_pk_as_req *out,
                                   negoex_error_info *err);
int negoex_krb_decode_auth_pack(const uint8_t *der, size_t len, negoex_krb_auth_pack *out, negoex_error_info *err);
int negoex_krb_decode_pa_pk_as_rep(const uint8_t *der, size_t len, negoex_krb_pa_pk_as_rep *out,
                                   negoex_error_info *err);
int negoex_krb_decode_kdc_dh_key_info(const uint8_t *der, size_t len, negoex_krb_kdc_dh_key_info *out,
                                      negoex_error_info *err);
int negoex_krb_decode_epi(const uint8_t *der, size_t len, negoex_krb_epi *out, negoex_error_info *err);
/* DomainParameters (the parameters of a dhpublicnumber key). */
int negoex_krb_decode_dh_params(const uint8_t *der, size_t len, negoex_krb_dh_params *out, negoex_error_info *err);
/* A SignedData, bare (Windows) or inside a ContentInfo (RFC 4556 text):
 * out->wrapped tells which. Certificates and attribute values are located,
 * not checked; verification is OpenSSL's job. */
int negoex_cms_decode_signed_data(const uint8_t *der, size_t len, negoex_cms_signed_data *out,
                                  negoex_error_info *err);
int negoex_x509_decode_name(const uint8_t *der, size_t len, negoex_x509_name *out, negoex_error_info *err);
/* RFC 4514 text of a decoded Name (last RDN first, "," between RDNs, "+"
 * inside one): CN, L, ST, O, OU, C, STREET, DC, UID by name, other types as
 * dotted OIDs; string values as UTF-8 (BMPString / UniversalString
 * converted, TeletexString read as Latin-1) with RFC 4514 escapes, other
 * values as #hex of their DER. Writes a NUL; *need (may be NULL) gets the
 * size including it. BUFFER_TOO_SMALL when cap is below that (out then holds
 * a truncated, NUL-terminated prefix when cap > 0); DER_VALUE for a string
 * that does not convert (bad UTF-16 length, code point out of range). */
int negoex_x509_name_to_string(const negoex_x509_name *name, char *out, size_t cap, size_t *need);

/* ------------------------------------------------------------------------ */
/* PKU2U: metadata, KRB-FINISHED, AD restrictions, GSS tokens               */
/* ------------------------------------------------------------------------ */

typedef struct negoex_pku2u_metadata {
    int initiator; /* 1: Pku2uInitiatorMetaData (target present) */
    size_t trusted_certifier_count;
    negoex_krb_epi trusted_certifiers[NEGOEX_KRB_MAX_CERTIFIERS];
    negoex_bytes target_realm;          /* initiator only */
    negoex_krb_principal target_sname;  /* initiator only */
} negoex_pku2u_metadata;

int negoex_pku2u_decode_initiator_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out,
                                           negoex_error_info *err);
int negoex_pku2u_decode_acceptor_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out,
                                          negoex_error_info *err);
/* Either form: with a target [1] it is the initiator's. */
int negoex_pku2u_decode_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out, negoex_error_info *err);

typedef struct negoex_krb_finished {
    negoex_krb_cksum gss_mic;
} negoex_krb_finished;

int negoex_krb_decode_finished(const uint8_t *der, size_t len, negoex_krb_finished *out, negoex_error_info *err);

typedef struct negoex_krb_ad_restriction {
    int32_t restriction_type;
    negoex_bytes restriction;
} negoex_krb_ad_restriction;

/* ad-data of ad-type 141 as Windows sends it: SEQUENCE OF
 * KERB-AD-RESTRICTION-ENTRY. */
typedef struct negoex_krb_ad_restrictions {
    size_t count;
    negoex_krb_ad_restriction entries[NEGOEX_KRB_MAX_AD];
} negoex_krb_ad_restrictions;

int negoex_krb_decode_ad_restrictions(const uint8_t *der, size_t len, negoex_krb_ad_restrictions *out,
                                      negoex_error_info *err);
int negoex_krb_decode_ad_restriction_entry(const uint8_t *der, size_t len, negoex_krb_ad_restriction *out,
                                           negoex_error_info *err);

/* LSAP_TOKEN_INFO_INTEGRITY ([MS-KILE] 2.2.5): the restriction of type 0. */
typedef struct negoex_krb_token_integrity {
    uint32_t flags;
    uint32_t token_il;
    const uint8_t *machine_id; /* 32 bytes */
} negoex_krb_token_integrity;

int negoex_krb_decode_token_integrity(negoex_bytes restriction, negoex_krb_token_integrity *out);

/* GSS framing (RFC 2743 section 3.1 with a 2-byte TOK_ID, RFC 4121 style):
 * 60 <len> 06 06 2b 06 01 05 02 07 <TOK_ID> <Kerberos PDU>. */
typedef struct negoex_pku2u_token {
    unsigned tok_id;      /* NEGOEX_PKU2U_TOK_* */
    negoex_bytes pdu;     /* the Kerberos message */
    size_t pdu_offset;    /* its offset in the token */
} negoex_pku2u_token;

/* Checks the framing (minimal length covering exactly the token, the PKU2U
 * OID, a known TOK_ID) and that the PDU's first byte is the application tag
 * its TOK_ID names (6a, 6b, 6e, 6f, 7e); the PDU itself is not decoded. */
int negoex_pku2u_token_parse(const uint8_t *tok, size_t len, negoex_pku2u_token *out, negoex_error_info *err);
/* Size of the framed token for a PDU of pdu_len bytes (TOO_LARGE beyond 4 GiB). */
int negoex_pku2u_token_size(size_t pdu_len, size_t *out);
/* Frames pdu with tok_id into out (cap bytes); *written gets the size.
 * INVALID_ARGUMENT for an unknown TOK_ID, BUFFER_TOO_SMALL when cap is short. */
int negoex_pku2u_token_write(unsigned tok_id, const uint8_t *pdu, size_t pdu_len, uint8_t *out, size_t cap,
                             size_t *written);

/* A whole PKU2U token: framing plus the PDU its TOK_ID names. Offsets in err
 * are absolute in the token. */
typedef struct negoex_pku2u_message {
    negoex_pku2u_token token;
    union {
        negoex_krb_kdc_req as_req;
        negoex_krb_kdc_rep as_rep;
        negoex_krb_ap_req ap_req;
        negoex_krb_ap_rep ap_rep;
        negoex_krb_error krb_error;
    } u;
} negoex_pku2u_message;

int negoex_pku2u_decode_token(const uint8_t *tok, size_t len, negoex_pku2u_message *out, negoex_error_info *err);

/* Name of a TOK_ID ("AS-REQ", ...) or NULL. */
const char *negoex_pku2u_tok_id_name(unsigned tok_id);

#endif
