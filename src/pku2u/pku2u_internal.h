/* The PKU2U auth scheme's state and the helpers its files share
 * (scheme_pku2u.c: the scheme methods and public accessors; pku2u_util.c:
 * time, randomness, names, errors; pku2u_initiator.c and pku2u_acceptor.c:
 * the two roles' messages). Not part of any API. */
#ifndef NEGOEX_PKU2U_INTERNAL_H
#define NEGOEX_PKU2U_INTERNAL_H

#include <negoex/scheme_pku2u.h>

#include "pku2u/asn1.h"
#include "pku2u/asn1_encode.h"
#include "pku2u/dh.h"
#include "pku2u/gss_tokens.h"
#include "pku2u/krb_crypto.h"
#include "pku2u/x509.h"

/* Kerberos error codes we send (RFC 4120 7.5.9, RFC 4556 3.1.3). */
#define KRB_KDC_ERR_S_PRINCIPAL_UNKNOWN 7
#define KRB_KDC_ERR_ETYPE_NOSUPP 14
#define KRB_KDC_ERR_PADATA_TYPE_NOSUPP 16
#define KRB_KDC_ERR_PREAUTH_FAILED 24
#define KRB_KDC_ERR_PREAUTH_REQUIRED 25
#define KRB_AP_ERR_BAD_INTEGRITY 31
#define KRB_AP_ERR_BADMATCH 36
#define KRB_AP_ERR_SKEW 37
#define KRB_AP_ERR_MSG_TYPE 40
#define KRB_AP_ERR_MODIFIED 41
#define KRB_AP_ERR_INAPP_CKSUM 50
#define KRB_ERR_GENERIC 60
#define KRB_KDC_ERR_CLIENT_NOT_TRUSTED 62
#define KRB_KDC_ERR_INVALID_SIG 64
#define KRB_KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED 65
#define KRB_KDC_ERR_WRONG_REALM 68
#define KRB_KDC_ERR_INVALID_CERTIFICATE 71
#define KRB_KDC_ERR_INCONSISTENT_KEY_PURPOSE 77
#define KRB_KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED 79
#define KRB_KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED 81

#define PKU2U_DH_NONCE_LEN 32u
#define PKU2U_NAME_MAX 512u   /* a Kerberos name component, a host, a cname */
#define PKU2U_SHORT_MAX 64u   /* a service name */
#define PKU2U_TICKET_LIFETIME (10 * 3600)
#define PKU2U_LSAP_LEN 40u    /* LSAP_TOKEN_INFO_INTEGRITY */

enum { PKU2U_ROLE_UNKNOWN = -1, PKU2U_ROLE_ACCEPTOR = 0, PKU2U_ROLE_INITIATOR = 1 };

enum pku2u_state {
    PK_START = 0,    /* nothing sent or received */
    PK_I_AS_SENT,    /* initiator: AS-REQ sent, waiting for the AS-REP */
    PK_I_AP_SENT,    /* initiator: AP-REQ sent, waiting for the AP-REP */
    PK_A_AS_SENT,    /* acceptor: AS-REP sent, waiting for the AP-REQ */
    PK_DONE          /* established */
};

/* What every copy of one scheme shares: the configuration, the identity
 * and the acceptor's ticket key (immutable once made), and the status. */
typedef struct pku2u_shared {
    int refs;
    negoex_allocator alloc;
    int has_alloc;

    negoex_x509_identity id;
    negoex_x509_trust *trust;

    char target_service[PKU2U_SHORT_MAX];
    char target_host[PKU2U_NAME_MAX];
    char realm[PKU2U_NAME_MAX];
    char host_name[PKU2U_NAME_MAX];   /* acceptor check, "" = none */
    char service[PKU2U_SHORT_MAX];    /* acceptor check, "" = none */
    char cname[PKU2U_NAME_MAX];       /* initiator's client name */
    char till[16];
    char rtime[16];                   /* "" = none */
    uint8_t netbios[16];
    int has_netbios;

    int dh_group;
    unsigned dh_accept;   /* NEGOEX_PKU2U_ACCEPT_* */
    unsigned digest;      /* NEGOEX_CMS_DIGEST_* */
    int wrapped_cms;
    unsigned accept_digests;
    int64_t now;
    int64_t validation_time;
    uint32_t clock_skew;
    int has_cb;
    uint8_t bnd[NEGOEX_GSS_BND_LEN];
    uint32_t kdc_options;
    int32_t cname_type;
    uint32_t nonce;
    size_t etype_count;
    int32_t etypes[NEGOEX_PKU2U_MAX_ETYPES];
    uint32_t gss_flags;
    int ad_restrictions;
    uint8_t lsap[PKU2U_LSAP_LEN];

    int (*rng)(void *ud, uint8_t *out, size_t len);
    void *rng_ud;

    negoex_krb_key ticket_key; /* acceptor: the key of the tickets it issues */

    negoex_pku2u_status last;
    negoex_pku2u_status *sink;
} pku2u_shared;

/* The initiator's DH key, shared by copies (immutable once generated). */
typedef struct pku2u_dh_ref {
    int refs;
    negoex_dh_key *key;
} pku2u_dh_ref;

typedef struct pku2u_scheme {
    negoex_scheme base; /* first */
    pku2u_shared *sh;
    int role;

    /* Per attempt (reset clears it). */
    enum pku2u_state state;
    pku2u_dh_ref *dh;                     /* initiator, between AS-REQ and AS-REP */
    uint8_t client_nonce[PKU2U_DH_NONCE_LEN];
    negoex_buf as_req_tok;                /* for KRB-FINISHED */
    negoex_buf as_rep_tok;                /* acceptor, for KRB-FINISHED */
    uint32_t pk_nonce;                    /* initiator: PKAuthenticator nonce */
    negoex_krb_key session;
    negoex_krb_key own_subkey, peer_subkey;
    int has_session, has_own_subkey, has_peer_subkey;
    uint32_t own_seq, peer_seq;
    uint64_t send_seq, recv_seq;          /* RFC 4121 tokens */
    char ctime[16];                       /* initiator: the Authenticator's */
    uint32_t cusec;
    char krb_name[PKU2U_NAME_MAX];        /* the client's Kerberos name */
    int32_t krb_name_type;
    X509 *peer_cert;
} pku2u_scheme;

/* ---- pku2u_util.c ---- */

/* Records a failure in the status (and the caller's); returns code. */
int pku2u_fail(pku2u_scheme *s, int code, const char *what);
/* pku2u_fail and a KRB-ERROR token in out (acceptor), e-text "NAME: what". */
int pku2u_reject(pku2u_scheme *s, negoex_buf *out, int code, const char *what);
/* The Kerberos error code an acceptor sends for a negoex error. */
int32_t pku2u_krb_code(int code);

int pku2u_random(const pku2u_shared *sh, uint8_t *out, size_t len);
int pku2u_random_key(const pku2u_shared *sh, int32_t enctype, negoex_krb_key *out);
/* A random 31-bit sequence number. */
int pku2u_random_seq(const pku2u_shared *sh, uint32_t *out);
/* Our clock: seconds and microseconds. */
void pku2u_now(const pku2u_shared *sh, int64_t *sec, uint32_t *usec);
/* Options for negoex_x509_verify at the validation time. */
negoex_x509_verify_opts pku2u_verify_opts(const pku2u_shared *sh);

/* negoex_bytes of a C string. */
negoex_bytes pku2u_str(const char *s);
/* 1 when the view equals the string. */
int pku2u_view_is(negoex_bytes v, const char *s);
/* 1 when two principals are equal (type and components). */
int pku2u_principal_eq(const negoex_krb_principal *a, const negoex_krb_principal *b);
/* A copy of a view into a NUL-terminated buffer (TOO_LARGE if it does not
 * fit, DER_VALUE for an embedded NUL). */
int pku2u_copy_view(negoex_bytes v, char *out, size_t cap);

/* "AzureAD\<issuer CN>\<subject CN>" of a certificate (first CN of each
 * name in wire order). */
int pku2u_cname_from_cert(X509 *cert, char *out, size_t cap);

/* Encrypts plain with key and usage; the ciphertext is appended to cipher. */
int pku2u_encrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *plain, size_t len, negoex_buf *cipher);
/* Decrypts an EncryptedData that must be of key's enctype (KRB_ENCTYPE
 * otherwise); the plaintext is appended to out. */
int pku2u_decrypt(const negoex_krb_key *key, int32_t usage, const negoex_krb_enc_data *in, negoex_buf *out);

/* SHA-1 of data (paChecksum). */
int pku2u_sha1(const uint8_t *data, size_t len, uint8_t out[20]);

/* Keys: the negoex_key form of a Kerberos key. */
void pku2u_key_out(const negoex_krb_key *k, negoex_key *out);

/* Initiator, on a KRB-ERROR token from the acceptor: records it and
 * returns NEGOEX_ERR_PKU2U_KRB_ERROR. */
int pku2u_take_krb_error(pku2u_scheme *s, const negoex_krb_error *e);

/* ---- pku2u_initiator.c ---- */
int pku2u_initiator_start(pku2u_scheme *s, negoex_buf *out);
int pku2u_initiator_as_rep(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out);
int pku2u_initiator_ap_rep(pku2u_scheme *s, const uint8_t *in, size_t in_len);

/* ---- pku2u_acceptor.c ---- */
int pku2u_acceptor_as_req(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out);
int pku2u_acceptor_ap_req(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out);

#endif
