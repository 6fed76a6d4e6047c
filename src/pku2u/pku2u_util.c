/* PKU2U scheme helpers: status and KRB-ERROR, randomness, clock, names,
 * encryption glue. */
#include "pku2u/pku2u_internal.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"
#include "pku2u/cms.h"

/* ------------------------------------------------------------------------ */
/* Status and errors                                                         */
/* ------------------------------------------------------------------------ */

int pku2u_fail(pku2u_scheme *s, int code, const char *what)
{
    if (s == NULL || s->sh == NULL || code >= 0)
        return code;
    negoex_pku2u_status *st = &s->sh->last;
    st->error = code;
    st->what = what;
    if (code != NEGOEX_ERR_PKU2U_KRB_ERROR) {
        st->krb_error = 0;
        st->peer_text[0] = '\0';
    }
    if (s->sh->sink != NULL)
        *s->sh->sink = *st;
    return code;
}

int32_t pku2u_krb_code(int code)
{
    switch (code) {
    case NEGOEX_ERR_CMS_MALFORMED:
    case NEGOEX_ERR_CMS_SIGNATURE:
    case NEGOEX_ERR_CMS_CONTENT_TYPE:
        return KRB_KDC_ERR_INVALID_SIG;
    case NEGOEX_ERR_CMS_DIGEST:
        return KRB_KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED;
    case NEGOEX_ERR_CERT_UNTRUSTED:
        return KRB_KDC_ERR_CLIENT_NOT_TRUSTED;
    case NEGOEX_ERR_CERT_EXPIRED:
    case NEGOEX_ERR_CERT_NOT_YET_VALID:
    case NEGOEX_ERR_CERT_INVALID:
    case NEGOEX_ERR_CERT_NAME:
        return KRB_KDC_ERR_INVALID_CERTIFICATE;
    case NEGOEX_ERR_CERT_EKU:
        return KRB_KDC_ERR_INCONSISTENT_KEY_PURPOSE;
    case NEGOEX_ERR_DH_GROUP:
    case NEGOEX_ERR_DH_PUBLIC:
        return KRB_KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED;
    case NEGOEX_ERR_KRB_ENCTYPE:
        return KRB_KDC_ERR_ETYPE_NOSUPP;
    case NEGOEX_ERR_KRB_INTEGRITY:
        return KRB_AP_ERR_BAD_INTEGRITY;
    case NEGOEX_ERR_PKU2U_CLOCK_SKEW:
        return KRB_AP_ERR_SKEW;
    case NEGOEX_ERR_PKU2U_PA_CHECKSUM:
    case NEGOEX_ERR_PKU2U_FINISHED:
    case NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS:
        return KRB_AP_ERR_MODIFIED;
    case NEGOEX_ERR_PKU2U_MISMATCH:
        return KRB_AP_ERR_BADMATCH;
    case NEGOEX_ERR_PKU2U_TARGET:
        return KRB_KDC_ERR_S_PRINCIPAL_UNKNOWN;
    case NEGOEX_ERR_PKU2U_UNEXPECTED:
        return KRB_AP_ERR_MSG_TYPE;
    default:
        return KRB_ERR_GENERIC;
    }
}

int pku2u_reject(pku2u_scheme *s, negoex_buf *out, int code, const char *what)
{
    pku2u_fail(s, code, what);
    if (out == NULL)
        return code;
    const pku2u_shared *sh = s->sh;
    int64_t now;
    uint32_t usec;
    pku2u_now(sh, &now, &usec);
    char stime[16];
    if (negoex_krb_time_from_unix(now, stime) != NEGOEX_OK)
        return code;
    char text[160];
    snprintf(text, sizeof text, "%s: %s", negoex_error_name(code), what != NULL ? what : "");

    negoex_krb_error e;
    memset(&e, 0, sizeof e);
    e.stime = (negoex_bytes){(const uint8_t *)stime, 15};
    e.susec = usec;
    e.error_code = pku2u_krb_code(code);
    e.realm = pku2u_str(sh->realm);
    e.sname.name_type = NEGOEX_KRB_NT_SRV_INST;
    e.sname.count = 2;
    e.sname.components[0] = pku2u_str(sh->service[0] ? sh->service : NEGOEX_PKU2U_DEFAULT_SERVICE);
    e.sname.components[1] = pku2u_str(sh->host_name[0] ? sh->host_name : "localhost");
    e.e_text = pku2u_str(text);

    negoex_buf pdu;
    negoex_buf_init(&pdu, out->alloc);
    size_t before = out->len;
    int rc = negoex_krb_encode_error(&e, &pdu);
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_KRB_ERROR, pdu.data, pdu.len, out);
    if (rc != NEGOEX_OK)
        out->len = before; /* no error token then; the failure stands */
    else {
        s->sh->last.krb_error = e.error_code;
        if (s->sh->sink != NULL)
            s->sh->sink->krb_error = e.error_code;
    }
    negoex_buf_free(&pdu);
    return code;
}

int pku2u_take_krb_error(pku2u_scheme *s, const negoex_krb_error *e)
{
    negoex_pku2u_status *st = &s->sh->last;
    st->krb_error = e->error_code;
    size_t n = e->e_text.len < sizeof st->peer_text - 1 ? e->e_text.len : sizeof st->peer_text - 1;
    if (n)
        memcpy(st->peer_text, e->e_text.data, n);
    st->peer_text[n] = '\0';
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)st->peer_text[i] < 0x20)
            st->peer_text[i] = '?';
    return pku2u_fail(s, NEGOEX_ERR_PKU2U_KRB_ERROR, "the acceptor answered with a KRB-ERROR");
}

/* ------------------------------------------------------------------------ */
/* Randomness and time                                                       */
/* ------------------------------------------------------------------------ */

int pku2u_random(const pku2u_shared *sh, uint8_t *out, size_t len)
{
    if (len == 0)
        return NEGOEX_OK;
    if (sh->rng != NULL)
        return sh->rng(sh->rng_ud, out, len) == 0 ? NEGOEX_OK : NEGOEX_ERR_RNG;
    if (len > INT32_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    return RAND_bytes(out, (int)len) == 1 ? NEGOEX_OK : NEGOEX_ERR_RNG;
}

int pku2u_random_key(const pku2u_shared *sh, int32_t enctype, negoex_krb_key *out)
{
    if (sh->rng == NULL)
        return negoex_krb_key_random(out, enctype);
    uint8_t b[NEGOEX_KRB_MAX_KEY_LEN];
    size_t n = negoex_krb_key_length(enctype);
    if (n == 0)
        return NEGOEX_ERR_KRB_ENCTYPE;
    int rc = pku2u_random(sh, b, n);
    if (rc == NEGOEX_OK)
        rc = negoex_krb_key_init(out, enctype, b, n);
    OPENSSL_cleanse(b, sizeof b);
    return rc;
}

int pku2u_random_seq(const pku2u_shared *sh, uint32_t *out)
{
    uint8_t b[4];
    int rc = pku2u_random(sh, b, sizeof b);
    if (rc == NEGOEX_OK)
        *out = ((uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]) & 0x7fffffffu;
    return rc;
}

void pku2u_now(const pku2u_shared *sh, int64_t *sec, uint32_t *usec)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) != 0) {
        ts.tv_sec = time(NULL);
        ts.tv_nsec = 0;
    }
    /* A configured clock is fixed entirely (reproducible tokens). */
    *sec = sh->now != 0 ? sh->now : (int64_t)ts.tv_sec;
    *usec = sh->now != 0 ? 0 : (uint32_t)(ts.tv_nsec / 1000) % 1000000u;
}

negoex_x509_verify_opts pku2u_verify_opts(const pku2u_shared *sh)
{
    negoex_x509_verify_opts o;
    memset(&o, 0, sizeof o);
    if (sh->validation_time != 0) {
        o.use_time = 1;
        o.time = sh->validation_time;
    } else if (sh->now != 0) {
        o.use_time = 1;
        o.time = sh->now;
    }
    return o;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

negoex_bytes pku2u_str(const char *s)
{
    negoex_bytes b = {(const uint8_t *)s, s != NULL ? strlen(s) : 0};
    return b;
}

int pku2u_view_is(negoex_bytes v, const char *s)
{
    size_t n = strlen(s);
    return v.len == n && (n == 0 || (v.data != NULL && memcmp(v.data, s, n) == 0));
}

int pku2u_principal_eq(const negoex_krb_principal *a, const negoex_krb_principal *b)
{
    if (a->name_type != b->name_type || a->count != b->count)
        return 0;
    for (size_t i = 0; i < a->count; i++)
        if (a->components[i].len != b->components[i].len ||
            (a->components[i].len && memcmp(a->components[i].data, b->components[i].data, a->components[i].len)))
            return 0;
    return 1;
}

int pku2u_copy_view(negoex_bytes v, char *out, size_t cap)
{
    if (v.len >= cap)
        return NEGOEX_ERR_TOO_LARGE;
    if (v.len && memchr(v.data, 0, v.len) != NULL)
        return NEGOEX_ERR_DER_VALUE;
    if (v.len)
        memcpy(out, v.data, v.len);
    out[v.len] = '\0';
    return NEGOEX_OK;
}

/* The first CN of name (wire order) as UTF-8 into out. */
static int first_cn(const X509_NAME *name, char *out, size_t cap)
{
    int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
    if (idx < 0)
        return NEGOEX_ERR_CERT_NAME;
    const ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, idx));
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, v);
    if (n < 0)
        return NEGOEX_ERR_DER_VALUE;
    int rc = NEGOEX_OK;
    if ((size_t)n >= cap)
        rc = NEGOEX_ERR_TOO_LARGE;
    else if (memchr(utf8, 0, (size_t)n) != NULL)
        rc = NEGOEX_ERR_DER_VALUE;
    else {
        memcpy(out, utf8, (size_t)n);
        out[n] = '\0';
    }
    OPENSSL_free(utf8);
    return rc;
}

int pku2u_cname_from_cert(X509 *cert, char *out, size_t cap)
{
    char issuer[PKU2U_NAME_MAX], subject[PKU2U_NAME_MAX];
    int rc = first_cn(X509_get_issuer_name(cert), issuer, sizeof issuer);
    if (rc == NEGOEX_OK)
        rc = first_cn(X509_get_subject_name(cert), subject, sizeof subject);
    if (rc != NEGOEX_OK)
        return rc;
    int n = snprintf(out, cap, "AzureAD\\%s\\%s", issuer, subject);
    return n < 0 || (size_t)n >= cap ? NEGOEX_ERR_TOO_LARGE : NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Crypto glue                                                               */
/* ------------------------------------------------------------------------ */

int pku2u_encrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *plain, size_t len, negoex_buf *cipher)
{
    size_t need = negoex_krb_encrypt_length(key->enctype, len);
    if (need == 0)
        return NEGOEX_ERR_KRB_ENCTYPE;
    uint8_t *at = NULL;
    int rc = negoex_buf_reserve(cipher, need, &at);
    if (rc != NEGOEX_OK)
        return rc;
    size_t n = 0;
    rc = negoex_krb_encrypt(key, usage, plain, len, at, need, &n);
    if (rc == NEGOEX_OK)
        cipher->len += n;
    return rc;
}

int pku2u_decrypt(const negoex_krb_key *key, int32_t usage, const negoex_krb_enc_data *in, negoex_buf *out)
{
    if (in->etype != key->enctype)
        return NEGOEX_ERR_KRB_ENCTYPE;
    size_t need = 0;
    int rc = negoex_krb_decrypt_length(key->enctype, in->cipher.len, &need);
    if (rc != NEGOEX_OK)
        return rc;
    uint8_t *at = NULL;
    rc = negoex_buf_reserve(out, need ? need : 1, &at);
    if (rc != NEGOEX_OK)
        return rc;
    size_t n = 0;
    rc = negoex_krb_decrypt(key, usage, in->cipher.data, in->cipher.len, at, need ? need : 1, &n);
    if (rc == NEGOEX_OK)
        out->len += n;
    return rc;
}

int pku2u_sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, EVP_sha1(), NULL) == 1 && n == 20 ? NEGOEX_OK : NEGOEX_ERR_CRYPTO;
}

void pku2u_key_out(const negoex_krb_key *k, negoex_key *out)
{
    memset(out, 0, sizeof *out);
    out->enctype = k->enctype;
    out->len = k->len;
    memcpy(out->bytes, k->bytes, k->len);
}
