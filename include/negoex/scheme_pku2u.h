/*
 * libnegoex: the PKU2U auth scheme (draft-zhu-pku2u-09 as Windows speaks it
 * inside NEGOEX; ../shared/docs/pku2u-wire.md), both roles.
 *
 * Flow: metadata both ways (trusted CAs; the initiator adds the target
 * realm WELLKNOWN:PKU2U and sname {2, [service, host]}), then
 *   initiator  AS-REQ  PKINIT Diffie-Hellman (RFC 4556), AuthPack signed with
 *                      its certificate (CMS SignedData, bare as Windows);
 *   acceptor   AS-REP  signed KDCDHKeyInfo, a ticket for itself under a key
 *                      only it holds, EncASRepPart under the DH reply key;
 *   initiator  AP-REQ  Authenticator with a fresh subkey and the 0x8003
 *                      checksum carrying KRB-FINISHED over the AS exchange;
 *   acceptor   AP-REP  EncAPRepPart with its own subkey.
 * Each side signs its NEGOEX VERIFY with its own subkey (usage 25 initiator,
 * 23 acceptor, applied by the context) and checks the peer's with the
 * peer's. Afterwards RFC 4121 MIC / Wrap tokens use the acceptor subkey
 * (SPNEGO's mechListMIC goes through make_mic / verify_mic).
 *
 * Both NEGOEX forms work: the Windows one (negoex_config.optimistic = 0: the
 * AS-REQ goes after the metadata round trip, 3 SPNEGO round trips) and the
 * optimistic one (the AS-REQ rides with the first token, 2 round trips).
 *
 * Failures: step answers a negative negoex_error (the context reports
 * NEGOEX_ERR_SCHEME_FAILED); the exact code and what failed are in the
 * status (negoex_pku2u_config.status, or negoex_pku2u_last_status). An
 * acceptor that rejects a request answers a KRB-ERROR (TOK_ID 03 00) whose
 * e-text names the error; an initiator that gets one fails with
 * NEGOEX_ERR_PKU2U_KRB_ERROR and the Kerberos error code in the status.
 *
 * Thread safety: a scheme belongs to one context at a time. Certificates,
 * keys and trust anchors given in the configuration are referenced (OpenSSL
 * reference counts) and never modified.
 */
#ifndef NEGOEX_SCHEME_PKU2U_H
#define NEGOEX_SCHEME_PKU2U_H

#include <negoex/scheme.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#ifdef __cplusplus
extern "C" {
#endif

#define NEGOEX_PKU2U_REALM "WELLKNOWN:PKU2U"
#define NEGOEX_PKU2U_DEFAULT_SERVICE "TERMSRV"
#define NEGOEX_PKU2U_DEFAULT_KDC_OPTIONS 0x40810010u /* forwardable renewable canonicalize renewable-ok */
#define NEGOEX_PKU2U_DEFAULT_TILL "20370914024805Z"
#define NEGOEX_PKU2U_DEFAULT_GSS_FLAGS 0x403eu       /* MUTUAL REPLAY SEQUENCE CONF INTEG EXTENDED_ERROR */
#define NEGOEX_PKU2U_DEFAULT_CLOCK_SKEW 300u
#define NEGOEX_PKU2U_MAX_ETYPES 16

/* Diffie-Hellman groups (bits of negoex_pku2u_config.dh_groups_accepted). */
#define NEGOEX_PKU2U_DH_MODP2 2   /* RFC 2409 group 2, 1024 bits: what Windows sends */
#define NEGOEX_PKU2U_DH_MODP14 14 /* RFC 3526 group 14, 2048 bits */
#define NEGOEX_PKU2U_ACCEPT_MODP2 0x1u
#define NEGOEX_PKU2U_ACCEPT_MODP14 0x2u

/* CMS digests (as NEGOEX_CMS_DIGEST_* of the CMS layer). */
#define NEGOEX_PKU2U_DIGEST_SHA1 0x1u
#define NEGOEX_PKU2U_DIGEST_SHA256 0x2u

/* What the last failure was. Written by the scheme (and its copies: the
 * context steps copies of a scheme), so a caller-owned one passed in the
 * configuration sees failures of attempts the context throws away. */
typedef struct negoex_pku2u_status {
    int error;            /* 0, or the negative negoex_error of the last failure */
    const char *what;     /* static text naming the check that failed, or NULL */
    int32_t krb_error;    /* Kerberos error code we sent (acceptor) or received (initiator), 0 none */
    char peer_text[128];  /* e-text of a received KRB-ERROR (NUL-terminated, may be truncated) */
} negoex_pku2u_status;

typedef struct negoex_pku2u_config {
    uint32_t struct_size; /* sizeof(negoex_pku2u_config); set by negoex_pku2u_config_init */

    /* Our identity: a certificate with its private key (RSA, what Windows
     * uses, or EC), plus optional intermediates sent along. Either objects
     * (referenced, not copied) or files (PEM, DER or PKCS#12: see
     * cert_file / key_file / password); objects win when both are set. */
    X509 *cert;
    EVP_PKEY *key;
    STACK_OF(X509) *chain;
    const char *cert_file;
    const char *key_file;  /* NULL: the key is in cert_file (PEM or PKCS#12) */
    const char *password;  /* PKCS#12 / encrypted PKCS#8; NULL for none */

    /* Trust anchors for the peer's certificate (and the trustedCertifiers
     * of our metadata, in this order): objects, a file (PEM bundle or DER)
     * and/or a directory. At least one anchor is needed. */
    STACK_OF(X509) *trust_anchors;
    const char *trust_file;
    const char *trust_dir;

    /* Initiator: the target. sname {2, [service, host]}; the acceptor's
     * certificate must name host in a dNSName (or iPAddress). */
    const char *target_service; /* default "TERMSRV" */
    const char *target_host;    /* required for the initiator */
    const char *realm;          /* default "WELLKNOWN:PKU2U" */

    /* Acceptor: when set, the requested sname's host must be this (ASCII
     * case ignored) and, when service is set, its service that. */
    const char *host_name;
    const char *service;

    /* Diffie-Hellman. Initiator: the group it offers (default 2, as
     * Windows); acceptor: the groups it accepts (0 = both). */
    int dh_group;
    unsigned dh_groups_accepted;

    /* CMS: our signatures (digest NEGOEX_PKU2U_DIGEST_SHA1 as Windows, or
     * SHA256; wrapped 1 = a ContentInfo around the SignedData, 0 = bare as
     * Windows); the digests accepted from the peer (0 = SHA-1 and SHA-256).
     * Bare and wrapped input are both accepted. */
    unsigned digest;
    int wrapped_cms;
    unsigned accept_digests;

    /* Time. now: our clock (seconds since the epoch; 0 = the system clock)
     * for ctime, authtime and the skew checks. validation_time: when
     * certificate validity is judged (0 = now); for expired published
     * test identities. clock_skew: seconds allowed between the peers
     * (default 300). */
    int64_t now;
    int64_t validation_time;
    uint32_t clock_skew;

    /* RFC 2744 channel bindings application data (e.g. a TLS channel
     * binding), hashed into the 0x8003 checksum as RFC 4121 4.1.1.2 with
     * no addresses. Initiator: sent; acceptor: when set, required to
     * match. NULL: none (16 zero bytes). */
    const uint8_t *channel_bindings;
    size_t channel_bindings_len;
    /* Or the 16-byte RFC 4121 Bnd value itself (e.g. from a GSS-API
     * channel-bindings structure with addresses); not with the above. */
    const uint8_t *channel_bindings_hash;

    /* Initiator field choices, Windows' by default (config_init). */
    uint32_t kdc_options;      /* 0x40810010 */
    int32_t cname_type;        /* -128 (KRB_NT_MS_PRINCIPAL) */
    const char *cname;         /* NULL: AzureAD\<issuer CN>\<subject CN> of our certificate */
    const char *till;          /* "20370914024805Z" */
    const char *rtime;         /* "20370914024805Z"; NULL: none */
    uint32_t nonce;            /* 0, in the req-body and in the PKAuthenticator */
    size_t etype_count;        /* 5: 18, 17, 23, 24, -135 (only 17 and 18 are usable) */
    int32_t etypes[NEGOEX_PKU2U_MAX_ETYPES];
    const char *netbios_name;  /* our NetBIOS address (padded to 16 with spaces); NULL: from the
                                  host name; "": no addresses */
    uint32_t gss_flags;        /* 0x8003 checksum flags: 0x403e */
    int no_ad_restrictions;    /* 1: no AD-IF-RELEVANT {KERB-AD-RESTRICTION-ENTRY} in the Authenticator */

    /* Randomness for nonces, keys and sequence numbers (tests); NULL:
     * OpenSSL. 0 on success. Confounders always come from OpenSSL. */
    int (*rng)(void *ud, uint8_t *out, size_t len);
    void *rng_ud;

    /* Optional: where failures are reported too (must outlive the scheme). */
    negoex_pku2u_status *status;
} negoex_pku2u_config;

/* Windows' choices (see the fields above), everything else 0 / NULL. */
NEGOEX_API void negoex_pku2u_config_init(negoex_pku2u_config *cfg);

/*
 * Creates a PKU2U scheme for either role (it serves the role of the first
 * context that calls it). Loads the identity and the trust anchors now:
 * CREDENTIAL_LOAD, INVALID_ARGUMENT (no identity, no anchor, a bad value) or
 * NO_MEMORY. The initiator's target is checked when the conversation starts.
 * alloc NULL = malloc/free (for the scheme's own memory; OpenSSL allocates
 * its objects itself).
 */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_scheme_new(negoex_scheme **out, const negoex_pku2u_config *cfg,
                                                  const negoex_allocator *alloc);

/* 1 if s is a PKU2U scheme made by negoex_pku2u_scheme_new. */
NEGOEX_API int negoex_scheme_is_pku2u(const negoex_scheme *s);
/* 1 once this side has finished the exchange (AP-REP sent / checked). */
NEGOEX_API int negoex_pku2u_is_established(const negoex_scheme *s);
/* The last failure of this scheme object (a zeroed status when none). */
NEGOEX_API void negoex_pku2u_last_status(const negoex_scheme *s, negoex_pku2u_status *out);

/* The peer's identity, once its certificate was verified. */
typedef enum negoex_pku2u_name_kind {
    NEGOEX_PKU2U_PEER_UPN = 1,     /* the first SAN UPN of its certificate (user) */
    NEGOEX_PKU2U_PEER_DNS = 2,     /* the first SAN dNSName (device) */
    NEGOEX_PKU2U_PEER_SUBJECT = 3, /* its subject, RFC 4514 text */
    NEGOEX_PKU2U_PEER_KRB_NAME = 4 /* Kerberos client name: the initiator's (e.g. AzureAD\user@example.com) */
} negoex_pku2u_name_kind;

/* Writes the name and a NUL; *need (may be NULL) gets its size with the
 * NUL. NEGOEX_SCHEME_NOT_YET before the peer is known, INDEX_RANGE when
 * its certificate has no such name, BUFFER_TOO_SMALL (out then holds a
 * truncated prefix when cap > 0). */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_peer_name(const negoex_scheme *s, negoex_pku2u_name_kind kind, char *out,
                                                 size_t cap, size_t *need);
/* The peer's verified certificate (owned by the scheme), or NULL. */
NEGOEX_API X509 *negoex_pku2u_peer_cert(const negoex_scheme *s);

typedef struct negoex_pku2u_keys {
    negoex_key session;           /* the ticket session key (AS-REP) */
    negoex_key initiator_subkey;  /* the Authenticator subkey */
    negoex_key acceptor_subkey;   /* the EncAPRepPart subkey: RFC 4121 MIC / Wrap */
    uint32_t initiator_seq;       /* initial sequence numbers */
    uint32_t acceptor_seq;
} negoex_pku2u_keys;

/* The keys once established (NEGOEX_SCHEME_NOT_YET before). Wipe them
 * after use. */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_session_keys(const negoex_scheme *s, negoex_pku2u_keys *out);

/*
 * RFC 4121 per-message tokens once established, with the acceptor subkey
 * (initiator: usages 25 / 24, AcceptorSubkey flag not set, as Windows;
 * acceptor: 23 / 22 with the flag). Sequence numbers start at the ones of
 * the AP exchange and must arrive in order (KRB_MALFORMED for a
 * replayed or missing one). Outputs are appended to out.
 */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_get_mic(negoex_scheme *s, const uint8_t *msg, size_t len, negoex_buf *out);
NEGOEX_API NEGOEX_WUR int negoex_pku2u_verify_mic(negoex_scheme *s, const uint8_t *msg, size_t len,
                                                  const uint8_t *tok, size_t tok_len);
NEGOEX_API NEGOEX_WUR int negoex_pku2u_wrap(negoex_scheme *s, int conf, const uint8_t *msg, size_t len,
                                            negoex_buf *out);
/* conf_state (may be NULL): 1 if the token was sealed. */
NEGOEX_API NEGOEX_WUR int negoex_pku2u_unwrap(negoex_scheme *s, const uint8_t *tok, size_t len, negoex_buf *out,
                                              int *conf_state);

#ifdef __cplusplus
}
#endif
#endif
