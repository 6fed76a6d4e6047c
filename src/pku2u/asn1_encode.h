/* PKU2U ASN.1 encoders (internal): the DER of what a PKU2U peer sends, built
 * with libtasn1 (asn1_create_element / asn1_write_value / asn1_der_coding)
 * against the same .asn modules the decoders of asn1.h use.
 *
 * Inputs are the decoders' view structs (asn1.h), filled by the caller: a
 * value decoded from DER re-encodes to the same bytes, and what an encoder
 * writes decodes back to the same view. Byte fields are {data, len}; an
 * optional one is absent when data is NULL. Fields the encoders do not
 * support (e.g. a KDC-REQ-BODY's additional-tickets, an EncTicketPart's
 * authorization-data) must be absent: INVALID_ARGUMENT otherwise.
 *
 * Output: the DER is appended to out (nothing is appended on failure).
 * Errors: INVALID_ARGUMENT (a value the schema or these rules refuse: an
 * empty name, a KerberosTime not "YYYYMMDDHHMMSSZ", too many entries, ...),
 * NO_MEMORY, TOO_LARGE.
 *
 * Thread safety: the schemas load once (pthread_once); encoders keep no
 * state.
 */
#ifndef NEGOEX_PKU2U_ASN1_ENCODE_H
#define NEGOEX_PKU2U_ASN1_ENCODE_H

#include <negoex/scheme.h>

#include "pku2u/asn1.h"

/* Kerberos flag bits (RFC 4120 5.2.8 numbering: bit 0 = 0x80000000). */
#define NEGOEX_KRB_FLAG(bit) (0x80000000u >> (bit))
#define NEGOEX_KRB_TKT_FORWARDABLE NEGOEX_KRB_FLAG(1)
#define NEGOEX_KRB_TKT_RENEWABLE NEGOEX_KRB_FLAG(8)
#define NEGOEX_KRB_TKT_INITIAL NEGOEX_KRB_FLAG(9)
#define NEGOEX_KRB_TKT_PRE_AUTHENT NEGOEX_KRB_FLAG(10)
#define NEGOEX_KRB_AP_MUTUAL_REQUIRED NEGOEX_KRB_FLAG(2)

/* KDC-REQ-BODY of req (only the req-body fields are read). Its DER is what
 * PKAuthenticator.paChecksum hashes; negoex_krb_encode_as_req writes the
 * same bytes inside the AS-REQ. */
int negoex_krb_encode_kdc_req_body(const negoex_krb_kdc_req *req, negoex_buf *out);
/* AS-REQ: pvno 5, msg-type 10, req->padata (at least one), the body. */
int negoex_krb_encode_as_req(const negoex_krb_kdc_req *req, negoex_buf *out);
/* AS-REP: pvno 5, msg-type 11, padata, crealm, cname, ticket (re-encoded
 * from its fields), enc-part. */
int negoex_krb_encode_as_rep(const negoex_krb_kdc_rep *rep, negoex_buf *out);
int negoex_krb_encode_ticket(const negoex_krb_ticket *ticket, negoex_buf *out);
/* EncTicketPart (authorization-data must be absent). */
int negoex_krb_encode_enc_ticket_part(const negoex_krb_enc_ticket_part *part, negoex_buf *out);
/* EncASRepPart ([APPLICATION 25]; app_tag 26 gives EncTGSRepPart). */
int negoex_krb_encode_enc_kdc_rep_part(const negoex_krb_enc_kdc_rep_part *part, negoex_buf *out);
int negoex_krb_encode_ap_req(const negoex_krb_ap_req *req, negoex_buf *out);
/* Authenticator; authz (may be NULL) is its authorization-data
 * (a->authorization_data is ignored). */
int negoex_krb_encode_authenticator(const negoex_krb_authenticator *a, const negoex_krb_authz_data *authz,
                                    negoex_buf *out);
int negoex_krb_encode_ap_rep(const negoex_krb_ap_rep *rep, negoex_buf *out);
int negoex_krb_encode_enc_ap_rep_part(const negoex_krb_enc_ap_rep_part *part, negoex_buf *out);
int negoex_krb_encode_error(const negoex_krb_error *e, negoex_buf *out);
/* AuthorizationData (also AD-IF-RELEVANT's ad-data). */
int negoex_krb_encode_authz_data(const negoex_krb_authz_data *ad, negoex_buf *out);

/* PA-PK-AS-REQ { signedAuthPack } (trustedCertifiers / kdcPkId absent). */
int negoex_krb_encode_pa_pk_as_req(const uint8_t *signed_auth_pack, size_t len, negoex_buf *out);

/* AuthPack with a Diffie-Hellman clientPublicValue (dhpublicnumber,
 * DomainParameters p, g, q; y as a DER INTEGER in the BIT STRING). Magnitudes
 * are unsigned big-endian (leading zeros allowed). */
typedef struct negoex_krb_auth_pack_in {
    uint32_t cusec;
    negoex_bytes ctime;       /* KerberosTime */
    uint32_t nonce;
    negoex_bytes pa_checksum; /* optional */
    negoex_bytes p, g, q;     /* q optional (RFC 3279 requires it: Windows sends it) */
    negoex_bytes y;
    negoex_bytes client_dh_nonce; /* optional */
} negoex_krb_auth_pack_in;

int negoex_krb_encode_auth_pack(const negoex_krb_auth_pack_in *a, negoex_buf *out);

/* KDCDHKeyInfo { subjectPublicKey = DER INTEGER y in the bits, nonce }
 * (dhKeyExpiration absent). */
int negoex_krb_encode_kdc_dh_key_info(const uint8_t *y, size_t y_len, uint32_t nonce, negoex_buf *out);
/* PA-PK-AS-REP dhInfo { dhSignedData, serverDHNonce (optional: NULL) }. */
int negoex_krb_encode_pa_pk_as_rep_dh(const uint8_t *dh_signed_data, size_t len, const uint8_t *server_nonce,
                                      size_t server_nonce_len, negoex_buf *out);

/* Pku2uInitiatorMetaData (m->initiator: with target realm / sname) or
 * Pku2uAcceptorMetaData; each certifier's present fields are written. */
int negoex_pku2u_encode_metadata(const negoex_pku2u_metadata *m, negoex_buf *out);
/* KRB-FINISHED { gss-mic }. */
int negoex_krb_encode_finished(const negoex_krb_cksum *gss_mic, negoex_buf *out);
/* SEQUENCE OF KERB-AD-RESTRICTION-ENTRY (ad-data of ad-type 141). */
int negoex_krb_encode_ad_restrictions(const negoex_krb_ad_restrictions *r, negoex_buf *out);

/* PKU2U GSS framing of a PDU, appended to out. */
int negoex_pku2u_encode_token(unsigned tok_id, const uint8_t *pdu, size_t pdu_len, negoex_buf *out);

/* KerberosTime text of a time (seconds since the epoch, UTC): 15 characters
 * and a NUL. INVALID_ARGUMENT outside years 1..9999. */
int negoex_krb_time_from_unix(int64_t t, char out[16]);

#endif
