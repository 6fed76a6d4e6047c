/*
 * CMS SignedData for PKINIT / PKU2U (internal): verify a signedAuthPack or a
 * DHRepInfo.dhSignedData, sign our own, through OpenSSL 3 CMS_*.
 *
 * Forms: Windows sends and expects a *bare* SignedData (no ContentInfo,
 * ../shared/docs/pku2u-wire.md); RFC 4556 writes a ContentInfo around it.
 * Verification takes either; signing writes the bare form unless asked.
 *
 * Verification checks, in this order (first failure wins):
 *   1. strict DER and the SignedData shape (negoex_cms_decode_signed_data):
 *      DER_* codes with the offset of the bad element;
 *   2. eContent present (not detached), eContentType the expected one
 *      (CMS_CONTENT_TYPE), exactly one SignerInfo, signed attributes present
 *      with one content-type and one message-digest (CMS_MALFORMED; RFC 5652
 *      5.3 requires them for a content type other than id-data);
 *   3. the content-type attribute equals eContentType (CMS_CONTENT_TYPE;
 *      see NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR);
 *   4. the signer's digest algorithm is in the accepted set (CMS_DIGEST);
 *   5. message-digest = digest(eContent) (CMS_SIGNATURE, field
 *      "message-digest");
 *   6. the signer's certificate is among the SignedData's certificates
 *      (CMS_MALFORMED);
 *   7. OpenSSL: CMS_verify with CMS_NO_SIGNER_CERT_VERIFY, i.e. the
 *      signature over the signed attributes with the public key of that
 *      certificate, and the message digest again (CMS_SIGNATURE).
 * The signer certificate's chain, EKU and names are NOT checked here: that
 * is negoex_x509_verify / _check_eku / _match_host on the returned signer
 * (and certs as untrusted intermediates).
 *
 * Conventions: 0 or a negative negoex_error; err (may be NULL) gets the
 * code, an offset (DER errors; 0 otherwise) and a static field name. The
 * OpenSSL error queue is left as the caller had it.
 */
#ifndef NEGOEX_PKU2U_CMS_H
#define NEGOEX_PKU2U_CMS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <negoex/negoex.h>
#include <negoex/scheme.h>

/* Digest algorithms (a set for verification, one for signing). */
#define NEGOEX_CMS_DIGEST_SHA1 0x1u   /* what Windows uses */
#define NEGOEX_CMS_DIGEST_SHA256 0x2u
#define NEGOEX_CMS_DIGEST_SHA384 0x4u
#define NEGOEX_CMS_DIGEST_SHA512 0x8u
#define NEGOEX_CMS_DIGESTS_DEFAULT (NEGOEX_CMS_DIGEST_SHA1 | NEGOEX_CMS_DIGEST_SHA256)

/* Verification flags. */
/* sspi-rs's acceptor (vectors/windows/pku2u/sspirs_debugserver_as_rep_...)
 * signs a content-type attribute of id-pkinit-authData over eContentType
 * id-pkinit-DHKeyData, and a Windows client accepted it. With this flag
 * exactly that pair is accepted (eContentType must still be the expected
 * one); everything else is still a mismatch. Off by default: the
 * attribute is what the signature covers, eContentType is not signed. */
#define NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR 0x1u

typedef struct negoex_cms_verify_opts {
    unsigned digests; /* NEGOEX_CMS_DIGEST_* set; 0 = NEGOEX_CMS_DIGESTS_DEFAULT */
    unsigned flags;   /* NEGOEX_CMS_ACCEPT_* */
} negoex_cms_verify_opts;

typedef struct negoex_cms_verified {
    int wrapped;                   /* 1: the input was a ContentInfo */
    unsigned digest;               /* the signer's NEGOEX_CMS_DIGEST_* */
    int content_type_attr_differs; /* 1: accepted under NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR */
    negoex_bytes econtent;         /* the signed content: a view into the input */
    X509 *signer;                  /* the signer's certificate: owned by the caller */
    STACK_OF(X509) *certs;         /* all certificates of the SignedData (signer included): owned */
} negoex_cms_verified;

/*
 * Verifies der (bare SignedData or ContentInfo) whose eContentType must be
 * econtent_type (OID content octets, e.g. NEGOEX_OID_PKINIT_AUTHDATA for an
 * AS-REQ, NEGOEX_OID_PKINIT_DHKEYDATA for an AS-REP). opts may be NULL. On
 * success out is filled (free with negoex_cms_verified_clear, or take
 * signer / certs and set them to NULL); on failure it is zeroed.
 */
int negoex_cms_verify(const uint8_t *der, size_t len, const uint8_t *econtent_type, size_t econtent_type_len,
                      const negoex_cms_verify_opts *opts, negoex_cms_verified *out, negoex_error_info *err);

/* Frees signer and certs and zeroes v (safe on NULL / twice). */
void negoex_cms_verified_clear(negoex_cms_verified *v);

/* Signing flags. */
#define NEGOEX_CMS_SIGN_WRAPPED 0x1u      /* a ContentInfo (default: bare SignedData, as Windows sends) */
#define NEGOEX_CMS_SIGN_SIGNING_TIME 0x2u /* add a signing-time attribute (default: none, as Windows) */

/*
 * Signs econtent as a SignedData: eContentType econtent_type (OID content
 * octets), digest one NEGOEX_CMS_DIGEST_* (SHA-1 for Windows), one
 * SignerInfo (issuerAndSerialNumber) with signed attributes content-type and
 * message-digest (plus signing-time on request), cert included, and
 * extra_certs (may be NULL) after it. The SHA-1 AlgorithmIdentifiers carry
 * NULL parameters as Windows, MIT krb5 and sspi-rs write them (RFC 3370
 * says absent; both are to be accepted); SHA-2 ones none (RFC 5754). key: RSA (PKCS#1 v1.5, what Windows
 * uses) or EC (ECDSA); it must match cert (CREDENTIAL_LOAD otherwise). The
 * DER is appended to out. INVALID_ARGUMENT for another digest, key type or
 * flag; CRYPTO when OpenSSL fails.
 */
int negoex_cms_sign(const uint8_t *econtent, size_t len, const uint8_t *econtent_type, size_t econtent_type_len,
                    X509 *cert, EVP_PKEY *key, STACK_OF(X509) *extra_certs, unsigned digest, unsigned flags,
                    negoex_buf *out);

/* Wraps a bare SignedData TLV in a ContentInfo (id-signedData, [0]
 * EXPLICIT), appended to out. No check of the SignedData itself. */
int negoex_cms_wrap(const uint8_t *signed_data, size_t len, negoex_buf *out);

#endif
