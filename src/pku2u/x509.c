/*
 * X.509 for PKU2U through OpenSSL 3 (see x509.h): credential loading, trust
 * anchors, chain verification at a chosen time, EKU, SAN and host checks.
 */
#include "pku2u/x509.h"

#include "pku2u/asn1.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/asn1.h>
#include <openssl/crypto.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509v3.h>

const uint8_t NEGOEX_OID_KP_SERVER_AUTH[NEGOEX_OID_KP_SERVER_AUTH_LEN] = {0x2b, 0x06, 0x01, 0x05,
                                                                         0x05, 0x07, 0x03, 0x01};
const uint8_t NEGOEX_OID_KP_CLIENT_AUTH[NEGOEX_OID_KP_CLIENT_AUTH_LEN] = {0x2b, 0x06, 0x01, 0x05,
                                                                         0x05, 0x07, 0x03, 0x02};
const uint8_t NEGOEX_OID_KP_PKINIT_CLIENT[NEGOEX_OID_KP_PKINIT_CLIENT_LEN] = {0x2b, 0x06, 0x01, 0x05,
                                                                             0x02, 0x03, 0x04};
const uint8_t NEGOEX_OID_KP_PKINIT_KDC[NEGOEX_OID_KP_PKINIT_KDC_LEN] = {0x2b, 0x06, 0x01, 0x05, 0x02, 0x03, 0x05};
const uint8_t NEGOEX_OID_MS_UPN[NEGOEX_OID_MS_UPN_LEN] = {0x2b, 0x06, 0x01, 0x04, 0x01,
                                                         0x82, 0x37, 0x14, 0x02, 0x03};

/* anyExtendedKeyUsage 2.5.29.37.0 */
static const uint8_t OID_ANY_EKU[] = {0x55, 0x1d, 0x25, 0x00};

static int fail(negoex_error_info *err, int code, const char *what)
{
    if (err != NULL) {
        err->code = code;
        err->offset = 0;
        err->field = what;
    }
    return code;
}

static int obj_is(const ASN1_OBJECT *o, const uint8_t *oid, size_t len)
{
    return o != NULL && (size_t)OBJ_length(o) == len && len > 0 && memcmp(OBJ_get0_data(o), oid, len) == 0;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct filebuf {
    uint8_t *data;
    size_t len;
} filebuf;

static void filebuf_free(filebuf *f)
{
    if (f->data != NULL) {
        OPENSSL_cleanse(f->data, f->len);
        free(f->data);
    }
    f->data = NULL;
    f->len = 0;
}

static int read_file(const char *path, filebuf *out, negoex_error_info *err)
{
    out->data = NULL;
    out->len = 0;
    if (path == NULL || path[0] == '\0')
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "path");
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "file cannot be opened");
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(f);
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "not a regular file");
    }
    if (st.st_size < 0 || (uint64_t)st.st_size > NEGOEX_X509_MAX_FILE) {
        fclose(f);
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "file too large");
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = malloc(n ? n : 1);
    if (buf == NULL) {
        fclose(f);
        return fail(err, NEGOEX_ERR_NO_MEMORY, "file");
    }
    size_t got = n ? fread(buf, 1, n, f) : 0;
    int bad = got != n || ferror(f);
    fclose(f);
    if (bad) {
        OPENSSL_cleanse(buf, n);
        free(buf);
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "file cannot be read");
    }
    out->data = buf;
    out->len = n;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Parsing                                                                   */
/* ------------------------------------------------------------------------ */

static int looks_pem(const uint8_t *p, size_t n)
{
    static const char tag[] = "-----BEGIN ";
    const size_t t = sizeof tag - 1;
    for (size_t i = 0; i + t <= n; i++)
        if (p[i] == '-' && memcmp(p + i, tag, t) == 0)
            return 1;
    return 0;
}

int negoex_x509_cert_from_der(const uint8_t *der, size_t len, X509 **out)
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (der == NULL || len == 0 || len > (size_t)LONG_MAX)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    ERR_set_mark();
    const unsigned char *p = der;
    X509 *x = d2i_X509(NULL, &p, (long)len);
    ERR_pop_to_mark();
    if (x == NULL)
        return NEGOEX_ERR_CREDENTIAL_LOAD;
    if (p != der + len) {
        X509_free(x);
        return NEGOEX_ERR_CREDENTIAL_LOAD;
    }
    *out = x;
    return NEGOEX_OK;
}

/* Certificates of a PEM buffer or one DER certificate (marks and pops the
 * error queue itself). */
static int parse_certs(const uint8_t *data, size_t len, STACK_OF(X509) **out, negoex_error_info *err)
{
    *out = NULL;
    if (data == NULL || len == 0 || len > (size_t)INT_MAX)
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "certificate: empty or too large");
    STACK_OF(X509) *sk = sk_X509_new_null();
    if (sk == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "certificate");
    if (!looks_pem(data, len)) {
        X509 *x = NULL;
        if (negoex_x509_cert_from_der(data, len, &x) != NEGOEX_OK) {
            sk_X509_free(sk);
            return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "not a PEM or DER certificate");
        }
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            sk_X509_free(sk);
            return fail(err, NEGOEX_ERR_NO_MEMORY, "certificate");
        }
        *out = sk;
        return NEGOEX_OK;
    }
    ERR_set_mark();
    BIO *bio = BIO_new_mem_buf(data, (int)len);
    if (bio == NULL) {
        ERR_pop_to_mark();
        sk_X509_free(sk);
        return fail(err, NEGOEX_ERR_NO_MEMORY, "certificate");
    }
    int rc = NEGOEX_OK;
    for (;;) {
        /* _AUX also reads TRUSTED CERTIFICATE blocks; other blocks are
         * skipped by the PEM reader. */
        X509 *x = PEM_read_bio_X509_AUX(bio, NULL, NULL, NULL);
        if (x == NULL) {
            unsigned long e = ERR_peek_last_error();
            if (ERR_GET_LIB(e) != ERR_LIB_PEM || ERR_GET_REASON(e) != PEM_R_NO_START_LINE)
                rc = fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "PEM certificate does not decode");
            break;
        }
        if (!sk_X509_push(sk, x)) {
            X509_free(x);
            rc = fail(err, NEGOEX_ERR_NO_MEMORY, "certificate");
            break;
        }
    }
    BIO_free(bio);
    ERR_pop_to_mark();
    if (rc == NEGOEX_OK && sk_X509_num(sk) == 0)
        rc = fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "no certificate in PEM data");
    if (rc != NEGOEX_OK) {
        sk_X509_pop_free(sk, X509_free);
        return rc;
    }
    *out = sk;
    return NEGOEX_OK;
}

int negoex_x509_certs_from_mem(const uint8_t *data, size_t len, STACK_OF(X509) **out, negoex_error_info *err)
{
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "out");
    return parse_certs(data, len, out, err);
}

int negoex_x509_certs_load(const char *path, STACK_OF(X509) **out, negoex_error_info *err)
{
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "out");
    *out = NULL;
    filebuf f;
    int rc = read_file(path, &f, err);
    if (rc != NEGOEX_OK)
        return rc;
    rc = parse_certs(f.data, f.len, out, err);
    filebuf_free(&f);
    return rc;
}

/* PEM password callback: the caller's password or nothing (never a prompt). */
static int pem_pass(char *buf, int size, int rwflag, void *u)
{
    (void)rwflag;
    const char *pw = u;
    if (pw == NULL || size <= 0)
        return -1;
    size_t n = strlen(pw);
    if (n > (size_t)size)
        return -1;
    memcpy(buf, pw, n);
    return (int)n;
}

/* A private key from PEM (the first private key block; others skipped) or
 * DER (PKCS#1, SEC1, PKCS#8, encrypted PKCS#8). */
static int parse_key(const uint8_t *data, size_t len, const char *password, EVP_PKEY **out, negoex_error_info *err)
{
    *out = NULL;
    if (data == NULL || len == 0 || len > (size_t)INT_MAX)
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "private key: empty or too large");
    EVP_PKEY *pkey = NULL;
    ERR_set_mark();
    if (looks_pem(data, len)) {
        BIO *bio = BIO_new_mem_buf(data, (int)len);
        if (bio == NULL) {
            ERR_pop_to_mark();
            return fail(err, NEGOEX_ERR_NO_MEMORY, "private key");
        }
        pkey = PEM_read_bio_PrivateKey_ex(bio, NULL, pem_pass, (void *)password, NULL, NULL);
        BIO_free(bio);
    } else {
        OSSL_DECODER_CTX *dctx =
            OSSL_DECODER_CTX_new_for_pkey(&pkey, "DER", NULL, NULL, OSSL_KEYMGMT_SELECT_KEYPAIR, NULL, NULL);
        if (dctx == NULL) {
            ERR_pop_to_mark();
            return fail(err, NEGOEX_ERR_NO_MEMORY, "private key");
        }
        if (password != NULL)
            (void)OSSL_DECODER_CTX_set_passphrase(dctx, (const unsigned char *)password, strlen(password));
        const unsigned char *p = data;
        size_t left = len;
        if (!OSSL_DECODER_from_data(dctx, &p, &left) || left != 0) {
            EVP_PKEY_free(pkey);
            pkey = NULL;
        }
        OSSL_DECODER_CTX_free(dctx);
    }
    ERR_pop_to_mark();
    if (pkey == NULL)
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "private key does not decode (format or password)");
    *out = pkey;
    return NEGOEX_OK;
}

static int is_pkcs12(const uint8_t *data, size_t len, PKCS12 **out)
{
    *out = NULL;
    if (len == 0 || len > (size_t)LONG_MAX)
        return 0;
    ERR_set_mark();
    const unsigned char *p = data;
    PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long)len);
    ERR_pop_to_mark();
    if (p12 == NULL)
        return 0;
    if (p != data + len) {
        PKCS12_free(p12);
        return 0;
    }
    *out = p12;
    return 1;
}

void negoex_x509_identity_clear(negoex_x509_identity *id)
{
    if (id == NULL)
        return;
    X509_free(id->cert);
    EVP_PKEY_free(id->key);
    sk_X509_pop_free(id->chain, X509_free);
    id->cert = NULL;
    id->key = NULL;
    id->chain = NULL;
}

static int load_pkcs12(PKCS12 *p12, const char *password, negoex_x509_identity *out, negoex_error_info *err)
{
    ERR_set_mark();
    EVP_PKEY *key = NULL;
    X509 *cert = NULL;
    STACK_OF(X509) *ca = NULL;
    int ok = PKCS12_parse(p12, password, &key, &cert, &ca);
    unsigned long e = ok ? 0 : ERR_peek_last_error();
    ERR_pop_to_mark();
    if (!ok) {
        if (ERR_GET_LIB(e) == ERR_LIB_PKCS12 && ERR_GET_REASON(e) == PKCS12_R_MAC_VERIFY_FAILURE)
            return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "PKCS#12: wrong password (MAC check failed)");
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "PKCS#12 does not decrypt or decode");
    }
    if (cert == NULL || key == NULL) {
        X509_free(cert);
        EVP_PKEY_free(key);
        sk_X509_pop_free(ca, X509_free);
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "PKCS#12 without a certificate and its key");
    }
    if (ca != NULL && sk_X509_num(ca) == 0) {
        sk_X509_free(ca);
        ca = NULL;
    }
    out->cert = cert;
    out->key = key;
    out->chain = ca;
    return NEGOEX_OK;
}

int negoex_x509_identity_from_mem(const uint8_t *cert, size_t cert_len, const uint8_t *key, size_t key_len,
                                  const char *password, negoex_x509_identity *out, negoex_error_info *err)
{
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "out");
    memset(out, 0, sizeof *out);
    if (cert == NULL || cert_len == 0)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "certificate");
    if (key == NULL && key_len != 0)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "private key");
    int rc;
    PKCS12 *p12 = NULL;
    if (!looks_pem(cert, cert_len) && is_pkcs12(cert, cert_len, &p12)) {
        if (key != NULL) {
            PKCS12_free(p12);
            return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "a PKCS#12 brings its own key");
        }
        rc = load_pkcs12(p12, password, out, err);
        PKCS12_free(p12);
        if (rc != NEGOEX_OK)
            return rc;
    } else {
        STACK_OF(X509) *certs = NULL;
        rc = parse_certs(cert, cert_len, &certs, err);
        if (rc != NEGOEX_OK)
            return rc;
        out->cert = sk_X509_shift(certs);
        if (sk_X509_num(certs) > 0)
            out->chain = certs;
        else
            sk_X509_free(certs);
        if (key != NULL)
            rc = parse_key(key, key_len, password, &out->key, err);
        else if (looks_pem(cert, cert_len))
            rc = parse_key(cert, cert_len, password, &out->key, err);
        else
            rc = fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "no private key given for a DER certificate");
        if (rc != NEGOEX_OK) {
            negoex_x509_identity_clear(out);
            return rc;
        }
    }
    ERR_set_mark();
    int match = X509_check_private_key(out->cert, out->key);
    ERR_pop_to_mark();
    if (match != 1) {
        negoex_x509_identity_clear(out);
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "private key does not match the certificate");
    }
    return NEGOEX_OK;
}

int negoex_x509_identity_load(const char *cert_path, const char *key_path, const char *password,
                              negoex_x509_identity *out, negoex_error_info *err)
{
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "out");
    memset(out, 0, sizeof *out);
    filebuf c = {NULL, 0}, k = {NULL, 0};
    int rc = read_file(cert_path, &c, err);
    if (rc == NEGOEX_OK && key_path != NULL)
        rc = read_file(key_path, &k, err);
    if (rc == NEGOEX_OK)
        rc = negoex_x509_identity_from_mem(c.data, c.len, k.data, k.len, password, out, err);
    filebuf_free(&c);
    filebuf_free(&k);
    return rc;
}

int negoex_x509_validity(const X509 *cert, int64_t *not_before, int64_t *not_after)
{
    if (cert == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const ASN1_TIME *t[2] = {X509_get0_notBefore(cert), X509_get0_notAfter(cert)};
    int64_t *o[2] = {not_before, not_after};
    for (int i = 0; i < 2; i++) {
        struct tm tm;
        if (t[i] == NULL || !ASN1_TIME_to_tm(t[i], &tm))
            return NEGOEX_ERR_DER_VALUE;
        if (o[i] != NULL)
            *o[i] = negoex_unix_of_civil((int64_t)tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                                         tm.tm_min, tm.tm_sec);
    }
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Trust                                                                     */
/* ------------------------------------------------------------------------ */

struct negoex_x509_trust {
    X509_STORE *store;
    STACK_OF(X509) *anchors;
};

int negoex_x509_trust_new(negoex_x509_trust **out)
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    negoex_x509_trust *t = calloc(1, sizeof *t);
    if (t == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    t->store = X509_STORE_new();
    t->anchors = sk_X509_new_null();
    if (t->store == NULL || t->anchors == NULL) {
        negoex_x509_trust_free(t);
        return NEGOEX_ERR_NO_MEMORY;
    }
    *out = t;
    return NEGOEX_OK;
}

void negoex_x509_trust_free(negoex_x509_trust *t)
{
    if (t == NULL)
        return;
    X509_STORE_free(t->store);
    sk_X509_pop_free(t->anchors, X509_free);
    free(t);
}

static int is_anchor(const negoex_x509_trust *t, const X509 *x)
{
    for (int i = 0; i < sk_X509_num(t->anchors); i++)
        if (X509_cmp(sk_X509_value(t->anchors, i), x) == 0)
            return 1;
    return 0;
}

int negoex_x509_trust_add_cert(negoex_x509_trust *t, X509 *anchor)
{
    if (t == NULL || anchor == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (is_anchor(t, anchor))
        return NEGOEX_OK;
    ERR_set_mark();
    int ok = X509_STORE_add_cert(t->store, anchor);
    ERR_pop_to_mark();
    if (!ok)
        return NEGOEX_ERR_NO_MEMORY;
    if (!X509_up_ref(anchor))
        return NEGOEX_ERR_CRYPTO;
    if (!sk_X509_push(t->anchors, anchor)) {
        X509_free(anchor);
        return NEGOEX_ERR_NO_MEMORY;
    }
    return NEGOEX_OK;
}

static int add_all(negoex_x509_trust *t, STACK_OF(X509) *certs)
{
    int rc = NEGOEX_OK;
    for (int i = 0; rc == NEGOEX_OK && i < sk_X509_num(certs); i++)
        rc = negoex_x509_trust_add_cert(t, sk_X509_value(certs, i));
    return rc;
}

int negoex_x509_trust_add_file(negoex_x509_trust *t, const char *path, negoex_error_info *err)
{
    if (t == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "trust");
    STACK_OF(X509) *certs = NULL;
    int rc = negoex_x509_certs_load(path, &certs, err);
    if (rc != NEGOEX_OK)
        return rc;
    rc = add_all(t, certs);
    sk_X509_pop_free(certs, X509_free);
    return rc == NEGOEX_OK ? rc : fail(err, rc, "trust anchor");
}

int negoex_x509_trust_add_dir(negoex_x509_trust *t, const char *dir, negoex_error_info *err)
{
    if (t == NULL || dir == NULL || dir[0] == '\0')
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "directory");
    DIR *d = opendir(dir);
    if (d == NULL)
        return fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "directory cannot be opened");
    size_t found = 0;
    int rc = NEGOEX_OK;
    struct dirent *de;
    size_t dlen = strlen(dir);
    while (rc == NEGOEX_OK && (errno = 0, de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        size_t n = dlen + 1 + strlen(de->d_name) + 1;
        char *path = malloc(n);
        if (path == NULL) {
            rc = fail(err, NEGOEX_ERR_NO_MEMORY, "directory");
            break;
        }
        snprintf(path, n, "%s/%s", dir, de->d_name);
        struct stat st;
        if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            STACK_OF(X509) *certs = NULL;
            if (negoex_x509_certs_load(path, &certs, NULL) == NEGOEX_OK) {
                found += (size_t)sk_X509_num(certs);
                rc = add_all(t, certs);
                if (rc != NEGOEX_OK)
                    fail(err, rc, "trust anchor");
                sk_X509_pop_free(certs, X509_free);
            }
        }
        free(path);
    }
    if (rc == NEGOEX_OK && errno != 0)
        rc = fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "directory cannot be read");
    closedir(d);
    if (rc == NEGOEX_OK && found == 0)
        rc = fail(err, NEGOEX_ERR_CREDENTIAL_LOAD, "no certificate in directory");
    return rc;
}

size_t negoex_x509_trust_count(const negoex_x509_trust *t)
{
    return t != NULL ? (size_t)sk_X509_num(t->anchors) : 0;
}

X509 *negoex_x509_trust_get0(const negoex_x509_trust *t, size_t index)
{
    if (t == NULL || index >= (size_t)sk_X509_num(t->anchors))
        return NULL;
    return sk_X509_value(t->anchors, (int)index);
}

/* ------------------------------------------------------------------------ */
/* Chain verification                                                        */
/* ------------------------------------------------------------------------ */

int negoex_x509_error_code(int e)
{
    switch (e) {
    case X509_V_OK:
        return NEGOEX_OK;
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return NEGOEX_ERR_CERT_EXPIRED;
    case X509_V_ERR_CERT_NOT_YET_VALID:
        return NEGOEX_ERR_CERT_NOT_YET_VALID;
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return NEGOEX_ERR_CERT_UNTRUSTED;
    case X509_V_ERR_OUT_OF_MEM:
        return NEGOEX_ERR_NO_MEMORY;
    default:
        return NEGOEX_ERR_CERT_INVALID;
    }
}

typedef struct verify_state {
    const negoex_x509_trust *trust;
    int strict_anchor;
} verify_state;

/* Tolerates exactly one thing: X509_V_ERR_INVALID_CA on a configured anchor
 * at the top of the chain (see NEGOEX_X509_STRICT_ANCHOR). */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
    if (ok)
        return 1;
    const verify_state *vs = X509_STORE_CTX_get_app_data(ctx);
    if (vs == NULL || vs->strict_anchor || X509_STORE_CTX_get_error(ctx) != X509_V_ERR_INVALID_CA)
        return 0;
    STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(ctx);
    X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
    int depth = X509_STORE_CTX_get_error_depth(ctx);
    if (chain == NULL || cur == NULL || depth != sk_X509_num(chain) - 1 || depth < 1)
        return 0;
    if (X509_cmp(sk_X509_value(chain, depth), cur) != 0 || !is_anchor(vs->trust, cur))
        return 0;
    /* Only for an anchor that says nothing against being a CA: no
     * basicConstraints (CA:FALSE is believed), and no keyUsage or one with
     * keyCertSign. */
    uint32_t xf = X509_get_extension_flags(cur);
    if ((xf & EXFLAG_BCONS) || ((xf & EXFLAG_KUSAGE) && !(X509_get_key_usage(cur) & KU_KEY_CERT_SIGN)))
        return 0;
    return 1;
}

int negoex_x509_verify(const negoex_x509_trust *t, X509 *cert, STACK_OF(X509) *untrusted,
                       const negoex_x509_verify_opts *opts, negoex_x509_verify_result *res)
{
    negoex_x509_verify_result local;
    if (res == NULL)
        res = &local;
    res->x509_error = X509_V_ERR_UNSPECIFIED;
    res->depth = -1;
    res->reason = X509_verify_cert_error_string(X509_V_ERR_UNSPECIFIED);
    if (t == NULL || cert == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_x509_verify_opts dflt = {0, 0, 0, 0};
    if (opts == NULL)
        opts = &dflt;
    if (opts->max_depth < 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (sk_X509_num(t->anchors) == 0) {
        res->x509_error = X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY;
        res->depth = 0;
        res->reason = X509_verify_cert_error_string(res->x509_error);
        return NEGOEX_ERR_CERT_UNTRUSTED;
    }
    ERR_set_mark();
    int rc;
    verify_state vs = {t, (opts->flags & NEGOEX_X509_STRICT_ANCHOR) != 0};
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    if (ctx == NULL || !X509_STORE_CTX_init(ctx, t->store, cert, untrusted)) {
        rc = NEGOEX_ERR_NO_MEMORY;
        goto out;
    }
    X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
    if (opts->use_time)
        X509_VERIFY_PARAM_set_time(vp, (time_t)opts->time);
    X509_VERIFY_PARAM_set_depth(vp, opts->max_depth > 0 ? opts->max_depth : 8);
    if (opts->flags & NEGOEX_X509_PARTIAL_CHAIN)
        X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_PARTIAL_CHAIN);
    X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
    X509_STORE_CTX_set_app_data(ctx, &vs);
    int ok = X509_verify_cert(ctx);
    if (ok == 1) {
        /* A tolerated anchor error stays recorded in ctx: success is ok. */
        res->x509_error = X509_V_OK;
        res->depth = -1;
        rc = NEGOEX_OK;
    } else {
        res->x509_error = X509_STORE_CTX_get_error(ctx);
        res->depth = X509_STORE_CTX_get_error_depth(ctx);
        if (res->x509_error == X509_V_OK)
            res->x509_error = X509_V_ERR_UNSPECIFIED;
        rc = negoex_x509_error_code(res->x509_error);
    }
    res->reason = X509_verify_cert_error_string(res->x509_error);
out:
    X509_STORE_CTX_free(ctx);
    ERR_pop_to_mark();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* EKU, SAN, host                                                            */
/* ------------------------------------------------------------------------ */

int negoex_x509_check_eku(X509 *cert, const uint8_t *oid, size_t oid_len, unsigned flags)
{
    if (cert == NULL || oid == NULL || oid_len == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int crit = 0;
    ERR_set_mark();
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(cert, NID_ext_key_usage, &crit, NULL);
    ERR_pop_to_mark();
    if (eku == NULL) {
        if (crit == -1) /* absent */
            return (flags & NEGOEX_X509_EKU_ALLOW_ABSENT) ? NEGOEX_OK : NEGOEX_ERR_CERT_EKU;
        return NEGOEX_ERR_CERT_INVALID; /* repeated (-2) or does not decode */
    }
    int rc = NEGOEX_ERR_CERT_EKU;
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        const ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
        if (obj_is(o, oid, oid_len) ||
            ((flags & NEGOEX_X509_EKU_ALLOW_ANY) && obj_is(o, OID_ANY_EKU, sizeof OID_ANY_EKU))) {
            rc = NEGOEX_OK;
            break;
        }
    }
    EXTENDED_KEY_USAGE_free(eku);
    return rc;
}

/* The string of one SAN entry of the kind, or NULL for another entry. */
static const ASN1_STRING *san_string(const GENERAL_NAME *gn, int kind, int *bad)
{
    *bad = 0;
    int type = 0;
    if (kind == NEGOEX_X509_SAN_DNS) {
        const ASN1_IA5STRING *s = GENERAL_NAME_get0_value(gn, &type);
        return type == GEN_DNS ? s : NULL;
    }
    ASN1_OBJECT *oid = NULL;
    ASN1_TYPE *value = NULL;
    if (!GENERAL_NAME_get0_otherName(gn, &oid, &value) || !obj_is(oid, NEGOEX_OID_MS_UPN, NEGOEX_OID_MS_UPN_LEN))
        return NULL;
    if (value == NULL || value->type != V_ASN1_UTF8STRING) {
        *bad = 1;
        return NULL;
    }
    return value->value.utf8string;
}

/* Well-formed UTF-8: no overlong forms, surrogates or code points above
 * U+10FFFF, no NUL. */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if ((c & 0xe0) == 0xc0) {
            k = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            k = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return 0;
        }
        if (n - i - 1 < k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + j] & 0x3fu);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* IA5String characters without NUL. */
static int ia5_ok(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == 0 || s[i] >= 0x80)
            return 0;
    return 1;
}

static GENERAL_NAMES *get_san(X509 *cert)
{
    ERR_set_mark();
    GENERAL_NAMES *gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    ERR_pop_to_mark();
    return gens;
}

size_t negoex_x509_san_count(X509 *cert, int kind)
{
    if (cert == NULL || (kind != NEGOEX_X509_SAN_UPN && kind != NEGOEX_X509_SAN_DNS))
        return 0;
    GENERAL_NAMES *gens = get_san(cert);
    size_t n = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        int bad;
        if (san_string(sk_GENERAL_NAME_value(gens, i), kind, &bad) != NULL || bad)
            n++;
    }
    GENERAL_NAMES_free(gens);
    return n;
}

int negoex_x509_san_get(X509 *cert, int kind, size_t index, char *out, size_t cap, size_t *need)
{
    if (need != NULL)
        *need = 0;
    if (cert == NULL || (kind != NEGOEX_X509_SAN_UPN && kind != NEGOEX_X509_SAN_DNS) || (out == NULL && cap))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (cap > 0)
        out[0] = '\0';
    GENERAL_NAMES *gens = get_san(cert);
    int rc = NEGOEX_ERR_INDEX_RANGE;
    size_t seen = 0;
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        int bad;
        const ASN1_STRING *s = san_string(sk_GENERAL_NAME_value(gens, i), kind, &bad);
        if (s == NULL && !bad)
            continue;
        if (seen++ != index)
            continue;
        if (bad) {
            rc = NEGOEX_ERR_DER_VALUE;
            break;
        }
        const unsigned char *d = ASN1_STRING_get0_data(s);
        size_t n = (size_t)ASN1_STRING_length(s);
        if (kind == NEGOEX_X509_SAN_UPN ? !utf8_ok(d, n) : !ia5_ok(d, n)) {
            rc = NEGOEX_ERR_DER_VALUE;
            break;
        }
        if (need != NULL)
            *need = n + 1;
        if (cap > 0) {
            size_t c = n < cap - 1 ? n : cap - 1;
            if (c)
                memcpy(out, d, c);
            out[c] = '\0';
        }
        rc = cap > n ? NEGOEX_OK : NEGOEX_ERR_BUFFER_TOO_SMALL;
        break;
    }
    GENERAL_NAMES_free(gens);
    return rc;
}

int negoex_x509_match_host(X509 *cert, const char *host)
{
    if (cert == NULL || host == NULL || host[0] == '\0' || strchr(host, '*') != NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    ERR_set_mark();
    unsigned int how = X509_CHECK_FLAG_NO_WILDCARDS | X509_CHECK_FLAG_NEVER_CHECK_SUBJECT;
    int r = X509_check_host(cert, host, strlen(host), how, NULL);
    if (r != 1 && r != -2) {
        /* An IP literal may also sit in an iPAddress entry (-2: not an IP). */
        int ip = X509_check_ip_asc(cert, host, 0);
        if (ip == 1)
            r = 1;
    }
    ERR_pop_to_mark();
    if (r == 1)
        return NEGOEX_OK;
    if (r == -2)
        return NEGOEX_ERR_INVALID_ARGUMENT; /* malformed host (e.g. an embedded NUL) */
    return r == 0 ? NEGOEX_ERR_CERT_NAME : NEGOEX_ERR_CRYPTO;
}
