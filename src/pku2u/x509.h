/*
 * X.509 for PKU2U (internal): credentials, trust anchors and the checks a
 * PKINIT peer makes on the other side's certificate, through OpenSSL 3
 * (X509_STORE, X509_VERIFY_PARAM, X509_check_host, PKCS12_parse,
 * OSSL_DECODER). Nothing here parses X.509 by hand.
 *
 * What the Azure AD P2P certificates carry (../shared/vectors/windows/
 * keys_certs and the certificates inside the Windows AS-REQ / AS-REP):
 *   - the tenant root CN=MS-Organization-P2P-Access [YYYY]: self-signed, v3
 *     with only a subjectKeyIdentifier (no basicConstraints, no keyUsage),
 *     so OpenSSL calls it "invalid CA" (X509_V_ERR_INVALID_CA) unless the
 *     anchor rule below applies;
 *   - user certificates: keyUsage digitalSignature + keyEncipherment, EKU
 *     clientAuth (1.3.6.1.5.5.7.3.2) only, SAN otherName UPN
 *     (1.3.6.1.4.1.311.20.2.3, UTF8String), Microsoft application policies
 *     (1.3.6.1.4.1.311.21.10) repeating the EKU; about one hour of validity;
 *   - device certificates: same, EKU serverAuth (1.3.6.1.5.5.7.3.1) only,
 *     SAN dNSName = the host name and/or an IP literal written as a
 *     dNSName; about one day of validity;
 *   - no id-pkinit-KPClientAuth / id-pkinit-KPKdc anywhere: a PKU2U peer
 *     requires clientAuth from an initiator and serverAuth from an acceptor.
 *
 * Conventions: 0 or a negative negoex_error. Objects returned through X509 **
 * / EVP_PKEY ** / STACK_OF(X509) ** are owned by the caller (X509_free,
 * EVP_PKEY_free, sk_X509_pop_free(.., X509_free)). err (may be NULL) gets the
 * code and, in field, a static text saying what failed (offset 0). The
 * OpenSSL error queue is left as the caller had it. Private keys stay in
 * EVP_PKEYs (OpenSSL wipes them on free); file contents read here are
 * wiped before they are freed.
 */
#ifndef NEGOEX_PKU2U_X509_H
#define NEGOEX_PKU2U_X509_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <negoex/negoex.h>

/* OID content octets (no tag, no length). */
#define NEGOEX_OID_KP_SERVER_AUTH_LEN 8 /* 1.3.6.1.5.5.7.3.1 */
extern const uint8_t NEGOEX_OID_KP_SERVER_AUTH[NEGOEX_OID_KP_SERVER_AUTH_LEN];
#define NEGOEX_OID_KP_CLIENT_AUTH_LEN 8 /* 1.3.6.1.5.5.7.3.2 */
extern const uint8_t NEGOEX_OID_KP_CLIENT_AUTH[NEGOEX_OID_KP_CLIENT_AUTH_LEN];
#define NEGOEX_OID_KP_PKINIT_CLIENT_LEN 7 /* 1.3.6.1.5.2.3.4 id-pkinit-KPClientAuth (RFC 4556) */
extern const uint8_t NEGOEX_OID_KP_PKINIT_CLIENT[NEGOEX_OID_KP_PKINIT_CLIENT_LEN];
#define NEGOEX_OID_KP_PKINIT_KDC_LEN 7 /* 1.3.6.1.5.2.3.5 id-pkinit-KPKdc (RFC 4556) */
extern const uint8_t NEGOEX_OID_KP_PKINIT_KDC[NEGOEX_OID_KP_PKINIT_KDC_LEN];
#define NEGOEX_OID_MS_UPN_LEN 10 /* 1.3.6.1.4.1.311.20.2.3 SAN otherName UPN */
extern const uint8_t NEGOEX_OID_MS_UPN[NEGOEX_OID_MS_UPN_LEN];

/* Files are read whole; larger ones are refused (CREDENTIAL_LOAD). */
#define NEGOEX_X509_MAX_FILE (16u * 1024u * 1024u)

/* ------------------------------------------------------------------------ */
/* Certificates and credentials                                             */
/* ------------------------------------------------------------------------ */

/* Exactly one DER certificate (no trailing byte): CREDENTIAL_LOAD otherwise. */
int negoex_x509_cert_from_der(const uint8_t *der, size_t len, X509 **out);

/* Every certificate of a PEM bundle (CERTIFICATE / TRUSTED CERTIFICATE
 * blocks; other blocks skipped) or of one DER certificate; at least one. */
int negoex_x509_certs_from_mem(const uint8_t *data, size_t len, STACK_OF(X509) **out, negoex_error_info *err);
int negoex_x509_certs_load(const char *path, STACK_OF(X509) **out, negoex_error_info *err);

/* A certificate with its private key, and the further certificates that
 * came with it (chain: a PKCS#12's CA list, the certificates after the first
 * in a PEM file; NULL when none). */
typedef struct negoex_x509_identity {
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
} negoex_x509_identity;

/*
 * Loads an identity.
 *   cert (file or memory), by content:
 *     - PEM: the first certificate is ours, later ones are the chain; when
 *       no separate key is given the PEM's private key block is used;
 *     - one DER certificate: a key must be given separately;
 *     - PKCS#12 (DER): certificate, key and CA list, decrypted with password
 *       (NULL tries no password and ""); a separate key is then refused
 *       (INVALID_ARGUMENT).
 *   key (optional): PEM or DER; PKCS#1, SEC1, PKCS#8 or encrypted PKCS#8
 *     (password).
 * The key must match the certificate (X509_check_private_key). Nothing ever
 * prompts for a password. Errors: CREDENTIAL_LOAD (field: which part and
 * why: unreadable file, not a certificate, wrong password, key mismatch,
 * ...), INVALID_ARGUMENT, NO_MEMORY. On failure *out is all NULL.
 */
int negoex_x509_identity_load(const char *cert_path, const char *key_path, const char *password,
                              negoex_x509_identity *out, negoex_error_info *err);
int negoex_x509_identity_from_mem(const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
                                  const char *password, negoex_x509_identity *out, negoex_error_info *err);
/* Frees what the identity holds and zeroes it (safe on NULL / twice). */
void negoex_x509_identity_clear(negoex_x509_identity *id);

/* notBefore / notAfter as seconds since 1970-01-01T00:00:00Z. */
int negoex_x509_validity(const X509 *cert, int64_t *not_before, int64_t *not_after);

/* ------------------------------------------------------------------------ */
/* Trust anchors and chain verification                                     */
/* ------------------------------------------------------------------------ */

typedef struct negoex_x509_trust negoex_x509_trust;

int negoex_x509_trust_new(negoex_x509_trust **out);
void negoex_x509_trust_free(negoex_x509_trust *t);
/* Adds one anchor (the trust takes its own reference). A certificate
 * already present is not added twice. */
int negoex_x509_trust_add_cert(negoex_x509_trust *t, X509 *anchor);
/* Every certificate of a PEM bundle or a DER file. */
int negoex_x509_trust_add_file(negoex_x509_trust *t, const char *path, negoex_error_info *err);
/* Every regular file of a directory (symbolic links followed, names
 * starting with '.' skipped) that holds certificates; files that do not are
 * skipped. CREDENTIAL_LOAD when the directory cannot be read or gave no
 * certificate. */
int negoex_x509_trust_add_dir(negoex_x509_trust *t, const char *dir, negoex_error_info *err);
/* The anchors, in the order added (e.g. for PKU2U trustedCertifiers). */
size_t negoex_x509_trust_count(const negoex_x509_trust *t);
X509 *negoex_x509_trust_get0(const negoex_x509_trust *t, size_t index);

/* Verification flags. */
/* Hold configured anchors to OpenSSL's CA rules too. By default an anchor
 * that OpenSSL finds "invalid CA" (X509_V_ERR_INVALID_CA) only because it
 * has no basicConstraints and no keyUsage (like every
 * MS-Organization-P2P-Access root) is accepted, for that anchor only, at the
 * top of the chain: the caller configured it as a trust anchor, which
 * RFC 5280 6.1 takes as given. An anchor saying CA:FALSE, or a keyUsage
 * without keyCertSign, is refused either way; intermediate certificates
 * always have to be CAs. */
#define NEGOEX_X509_STRICT_ANCHOR 0x1u
/* Let an anchor that is not self-signed end the chain
 * (X509_V_FLAG_PARTIAL_CHAIN). */
#define NEGOEX_X509_PARTIAL_CHAIN 0x2u

typedef struct negoex_x509_verify_opts {
    int use_time;  /* 1: validate at time; 0: at the current time */
    int64_t time;  /* seconds since the epoch */
    unsigned flags; /* NEGOEX_X509_* above */
    int max_depth; /* intermediates allowed; 0: 8 */
} negoex_x509_verify_opts;

typedef struct negoex_x509_verify_result {
    int x509_error;     /* X509_V_OK or OpenSSL's X509_V_ERR_* */
    int depth;          /* chain depth of the failing certificate (0 = the one checked), -1 if none */
    const char *reason; /* OpenSSL's text for x509_error (static) */
} negoex_x509_verify_result;

/*
 * Builds and checks the chain of cert up to a configured anchor, using
 * untrusted (may be NULL; e.g. the SignedData's certificates) for
 * intermediates; signatures, validity at the chosen time, CA and path rules.
 * No purpose / EKU check here (negoex_x509_check_eku) and no revocation.
 * opts and res may be NULL.
 *   CERT_UNTRUSTED      no chain to an anchor (issuer missing, self-signed
 *                       certificate not configured, ...);
 *   CERT_EXPIRED        a certificate of the chain expired at that time;
 *   CERT_NOT_YET_VALID  a certificate of the chain is not valid yet;
 *   CERT_INVALID        any other rule (bad certificate signature, invalid
 *                       CA, path length, malformed validity, ...);
 * with res->x509_error / depth / reason saying which.
 */
int negoex_x509_verify(const negoex_x509_trust *t, X509 *cert, STACK_OF(X509) *untrusted,
                       const negoex_x509_verify_opts *opts, negoex_x509_verify_result *res);

/* ------------------------------------------------------------------------ */
/* Extended key usage, subject alternative names                            */
/* ------------------------------------------------------------------------ */

/* EKU flags. */
#define NEGOEX_X509_EKU_ALLOW_ANY 0x1u    /* anyExtendedKeyUsage (2.5.29.37.0) satisfies */
#define NEGOEX_X509_EKU_ALLOW_ABSENT 0x2u /* no EKU extension satisfies (RFC 5280: unrestricted) */

/* 0 when cert's extendedKeyUsage lists oid (content octets, e.g.
 * NEGOEX_OID_KP_CLIENT_AUTH); CERT_EKU when it does not or (by default) has
 * no EKU extension; CERT_INVALID when the extension does not decode or is
 * repeated. */
int negoex_x509_check_eku(X509 *cert, const uint8_t *oid, size_t oid_len, unsigned flags);

/* Subject alternative name kinds. */
#define NEGOEX_X509_SAN_UPN 1 /* otherName 1.3.6.1.4.1.311.20.2.3, UTF8String */
#define NEGOEX_X509_SAN_DNS 2 /* dNSName (IA5String) */

/* Number of names of that kind (0 without a SAN extension). */
size_t negoex_x509_san_count(X509 *cert, int kind);
/* The index-th name of that kind as a NUL-terminated string (UTF-8 for a
 * UPN, ASCII for a dNSName); *need (may be NULL) gets its size with the NUL.
 * INDEX_RANGE past the last one, BUFFER_TOO_SMALL (out holds a truncated
 * prefix when cap > 0), DER_VALUE for a UPN that is not a well-formed
 * UTF8String, a dNSName with a byte above 0x7f, or a NUL inside either. */
int negoex_x509_san_get(X509 *cert, int kind, size_t index, char *out, size_t cap, size_t *need);

/*
 * 0 when cert names host: a dNSName equal to it ignoring ASCII case, or, for
 * an IP literal, an iPAddress entry with that address (a dNSName holding the
 * literal, as the Windows device certificates have it, also matches).
 * Wildcards are never expanded and the subject CN is never used
 * (X509_check_host with NO_WILDCARDS | NEVER_CHECK_SUBJECT). CERT_NAME when
 * no name matches; INVALID_ARGUMENT for an empty host or one with '*'.
 */
int negoex_x509_match_host(X509 *cert, const char *host);

/* Error code for an OpenSSL X509_V_ERR_* value (the mapping above). */
int negoex_x509_error_code(int x509_error);

#endif
