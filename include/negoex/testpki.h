/*
 * libnegoex: a test PKI shaped like Azure AD's peer-to-peer one, generated in
 * memory with OpenSSL, for PKU2U tests, the demo and `negoex certs`.
 *
 * What it makes (compare ../shared/vectors/windows/keys_certs and
 * ../shared/docs/pku2u-wire.md):
 *   - a CA, self-signed, v3, subject = issuer = CN=MS-Organization-P2P-Access
 *     [YYYY] (a BMPString, as the tenant roots have it; YYYY = the UTC year of
 *     `now`), with a subjectKeyIdentifier. By default it is also a CA by
 *     OpenSSL's rules: basicConstraints CA:TRUE (critical, no path length) and
 *     keyUsage keyCertSign + cRLSign (critical), so `openssl verify` and any
 *     strict verifier accept it. With windows_ca = 1 it carries only the
 *     subjectKeyIdentifier, exactly like the real P2P roots (OpenSSL then
 *     calls it "invalid CA"; negoex's PKU2U verifier accepts such an anchor
 *     unless told to be strict);
 *   - a user certificate: subject DC=<tenant GUID> (IA5String),
 *     CN=S-1-12-1-a-b-c-d (the Azure AD SID of the user's object id),
 *     CN=<UPN> (UTF8Strings), in that DER order, i.e. "CN=<upn>,
 *     CN=S-1-12-1-..., DC=<tenant>" as Windows prints it; keyUsage
 *     digitalSignature + keyEncipherment (critical), SAN otherName UPN
 *     (1.3.6.1.4.1.311.20.2.3, UTF8String), EKU clientAuth, Microsoft
 *     application policies (1.3.6.1.4.1.311.21.10) repeating the EKU;
 *   - a device certificate: subject DC=<tenant GUID>, CN=<device id GUID>;
 *     the same extensions with SAN dNSName = the host (an IP literal too, as
 *     Windows writes it) and EKU serverAuth;
 *   - every certificate sha256WithRSAEncryption, a random positive 16-byte
 *     serial number, an RSA key of its own (65537). The leaf certificates
 *     also carry an authorityKeyIdentifier (the CA's key id), which the
 *     Windows ones lack, so that a certificate never chains to the CA of
 *     another generated PKI with the same name (windows_ca = 1 leaves it
 *     out, as Windows does).
 * Validity, from the caller's `now` (deterministic): notBefore = now -
 * backdate (default 5 minutes, which gives the 65 minutes / 24 h 5 min the
 * Windows certificates span), notAfter = now + lifetime (user 1 hour and
 * device 1 day by default, like Windows'); the CA from now - backdate to
 * now + ca_lifetime (default 365 days), never ending before a leaf.
 *
 * Keys and certificates are plain OpenSSL objects: get0 accessors lend them
 * (valid until negoex_testpki_free; take a reference with X509_up_ref /
 * EVP_PKEY_up_ref to keep one longer), e.g. to configure a PKU2U scheme.
 *
 * Errors are negative negoex_error codes; err (may be NULL) gets the code and
 * a static text in field saying what failed (offset 0). The OpenSSL error
 * queue is left as the caller had it. This is test material: keys are
 * written unencrypted (PKCS#8 PEM, mode 0600), and nothing here is fit to
 * issue real credentials.
 */
#ifndef NEGOEX_TESTPKI_H
#define NEGOEX_TESTPKI_H

#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <negoex/negoex.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEGOEX_TESTPKI_DEFAULT_UPN "alice@contoso.test"
#define NEGOEX_TESTPKI_DEFAULT_HOST "localhost"
#define NEGOEX_TESTPKI_DEFAULT_BITS 2048
#define NEGOEX_TESTPKI_MIN_BITS 1024 /* fast tests only */
#define NEGOEX_TESTPKI_MAX_BITS 8192
#define NEGOEX_TESTPKI_USER_LIFETIME 3600           /* 1 hour, as Windows issues them */
#define NEGOEX_TESTPKI_DEVICE_LIFETIME 86400        /* 1 day */
#define NEGOEX_TESTPKI_CA_LIFETIME (365 * 86400)    /* 1 year */
#define NEGOEX_TESTPKI_BACKDATE 300                 /* 5 minutes */
/* Longest lifetime / backdate accepted (100 years, in seconds). */
#define NEGOEX_TESTPKI_MAX_SECONDS ((int64_t)100 * 366 * 86400)

typedef struct negoex_testpki_options {
    const char *upn;          /* user's UPN (SAN otherName and last CN), UTF-8 */
    const char *host;         /* device's dNSName: a host name or IP literal (ASCII, no '*') */
    const char *tenant;       /* tenant GUID for DC=; NULL: random (version 4) */
    const char *user_sid;     /* the user CN; NULL: S-1-12-1-... of a random object id */
    const char *device_id;    /* device CN (a GUID in Azure AD); NULL: random GUID */
    const char *ca_name;      /* CA CN; NULL: "MS-Organization-P2P-Access [YYYY]" */
    int key_bits;             /* RSA modulus size of every key */
    int64_t user_lifetime;    /* seconds after now */
    int64_t device_lifetime;  /* seconds after now */
    int64_t ca_lifetime;      /* seconds after now */
    int64_t backdate;         /* seconds notBefore precedes now (0 allowed) */
    int windows_ca;           /* 1: CA with only a subjectKeyIdentifier, leaves without AKI */
} negoex_testpki_options;

/* The defaults above (UPN, host, 2048 bits, 1 hour / 1 day / 365 days, 5
 * minutes back), NULL for the random or derived values. */
NEGOEX_API void negoex_testpki_options_init(negoex_testpki_options *opts);

typedef struct negoex_testpki negoex_testpki;

/*
 * Generates a PKI valid around now (seconds since the epoch, UTC). opts NULL
 * = the defaults. INVALID_ARGUMENT (field names the option) for an empty or
 * malformed UPN / host / tenant / name, a key size outside
 * [NEGOEX_TESTPKI_MIN_BITS, NEGOEX_TESTPKI_MAX_BITS], a lifetime <= 0 or a
 * backdate < 0, or beyond NEGOEX_TESTPKI_MAX_SECONDS; RNG, CRYPTO,
 * NO_MEMORY. On failure *out is NULL.
 */
NEGOEX_API NEGOEX_WUR int negoex_testpki_new(const negoex_testpki_options *opts, time_t now,
                                             negoex_testpki **out, negoex_error_info *err);
NEGOEX_API void negoex_testpki_free(negoex_testpki *pki);

typedef enum negoex_testpki_entity {
    NEGOEX_TESTPKI_CA = 0,
    NEGOEX_TESTPKI_USER,   /* the initiator's identity: UPN, clientAuth */
    NEGOEX_TESTPKI_DEVICE  /* the acceptor's identity: dNSName, serverAuth */
} negoex_testpki_entity;

/* Borrowed (NULL for a NULL pki or an unknown entity). */
NEGOEX_API X509 *negoex_testpki_get0_cert(const negoex_testpki *pki, negoex_testpki_entity which);
NEGOEX_API EVP_PKEY *negoex_testpki_get0_key(const negoex_testpki *pki, negoex_testpki_entity which);

/* The names it was made with (NUL-terminated, owned by pki). */
NEGOEX_API const char *negoex_testpki_upn(const negoex_testpki *pki);
NEGOEX_API const char *negoex_testpki_host(const negoex_testpki *pki);
NEGOEX_API const char *negoex_testpki_tenant(const negoex_testpki *pki);
NEGOEX_API const char *negoex_testpki_user_sid(const negoex_testpki *pki);
NEGOEX_API const char *negoex_testpki_device_id(const negoex_testpki *pki);
NEGOEX_API const char *negoex_testpki_ca_name(const negoex_testpki *pki);

/* File names negoex_testpki_write creates in its directory. */
#define NEGOEX_TESTPKI_CA_PEM "ca.pem"
#define NEGOEX_TESTPKI_USER_PEM "user.pem"
#define NEGOEX_TESTPKI_USER_KEY "user.key"
#define NEGOEX_TESTPKI_DEVICE_PEM "device.pem"
#define NEGOEX_TESTPKI_DEVICE_KEY "device.key"
#define NEGOEX_TESTPKI_USER_P12 "user.p12"
#define NEGOEX_TESTPKI_DEVICE_P12 "device.p12"

/*
 * Writes the PKI into dir (created, mode 0755, when it does not exist; its
 * parent must): ca.pem (the CA certificate: the trust anchor), user.pem /
 * device.pem (the certificate alone), user.key / device.key (the private key,
 * unencrypted PKCS#8 PEM, mode 0600). With p12_password (not NULL; "" is an
 * empty password) also user.p12 / device.p12: PKCS#12 with the key, the
 * certificate and the CA certificate (OpenSSL 3's defaults: AES-256-CBC,
 * PBKDF2, HMAC-SHA-256 MAC; mode 0600). Existing files of those names are
 * replaced (a symbolic link in their place is refused). INVALID_ARGUMENT
 * when dir cannot be created or a file cannot be written (field names the
 * file; errno is left as the failing call set it), CRYPTO, NO_MEMORY.
 */
NEGOEX_API NEGOEX_WUR int negoex_testpki_write(const negoex_testpki *pki, const char *dir, const char *p12_password,
                                               negoex_error_info *err);

#ifdef __cplusplus
}
#endif
#endif
