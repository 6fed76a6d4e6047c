/*
 * A test PKI shaped like Azure AD's peer-to-peer one (see
 * include/negoex/testpki.h): a CA, a user and a device certificate with
 * their RSA keys, made in memory with OpenSSL 3, and the files they go to.
 */
#include <negoex/testpki.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define ENTITY_COUNT 3

struct negoex_testpki {
    X509 *cert[ENTITY_COUNT];
    EVP_PKEY *key[ENTITY_COUNT];
    char *upn;
    char *host;
    char *tenant;
    char *user_sid;
    char *device_id;
    char *ca_name;
};

/* Longest name accepted (bytes): UPNs, SIDs, device ids, the CA name. */
#define MAX_NAME 1024
#define MAX_HOST 253

/* Microsoft application policies (szOID_APPLICATION_CERT_POLICIES). */
#define OID_MS_APP_POLICIES "1.3.6.1.4.1.311.21.10"

static int fail(negoex_error_info *err, int code, const char *what)
{
    if (err != NULL) {
        err->code = code;
        err->offset = 0;
        err->field = what;
    }
    return code;
}

void negoex_testpki_options_init(negoex_testpki_options *opts)
{
    if (opts == NULL)
        return;
    memset(opts, 0, sizeof *opts);
    opts->upn = NEGOEX_TESTPKI_DEFAULT_UPN;
    opts->host = NEGOEX_TESTPKI_DEFAULT_HOST;
    opts->key_bits = NEGOEX_TESTPKI_DEFAULT_BITS;
    opts->user_lifetime = NEGOEX_TESTPKI_USER_LIFETIME;
    opts->device_lifetime = NEGOEX_TESTPKI_DEVICE_LIFETIME;
    opts->ca_lifetime = NEGOEX_TESTPKI_CA_LIFETIME;
    opts->backdate = NEGOEX_TESTPKI_BACKDATE;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

/* Well-formed UTF-8 (shortest form, no surrogates, <= U+10FFFF), no control
 * character (C0, DEL, C1). */
static int text_ok(const char *s, size_t max)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return 0;
    for (size_t i = 0; i < n;) {
        unsigned c = p[i];
        size_t k;
        uint32_t cp;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return 0;
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (p[i + j] & 0x3f);
        }
        if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0))
            return 0;
        i += k + 1;
    }
    return 1;
}

/* A host name or IP literal as a dNSName: letters, digits, '.', '-', '_'
 * and ':' (IPv6), nothing else (no wildcard, no space). */
static int host_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > MAX_HOST)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
              c == '-' || c == '_' || c == ':'))
            return 0;
    }
    return 1;
}

static void guid_text(const uint8_t b[16], char out[37])
{
    static const char digits[] = "0123456789abcdef";
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = digits[b[i] >> 4];
        out[o++] = digits[b[i] & 15];
    }
    out[o] = '\0';
}

/* A random (version 4) GUID as lowercase text. */
static int random_guid(char out[37])
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return NEGOEX_ERR_RNG;
    b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
    b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
    guid_text(b, out);
    return NEGOEX_OK;
}

/* The SID Azure AD gives an object: S-1-12-1- and the 16 bytes of its
 * object id (GUID in wire order) as four little-endian 32-bit numbers. */
static int random_sid(char out[64])
{
    uint8_t b[16];
    uint32_t w[4];
    if (RAND_bytes(b, sizeof b) != 1)
        return NEGOEX_ERR_RNG;
    for (size_t i = 0; i < 4; i++)
        w[i] = (uint32_t)b[4 * i] | (uint32_t)b[4 * i + 1] << 8 | (uint32_t)b[4 * i + 2] << 16 |
               (uint32_t)b[4 * i + 3] << 24;
    snprintf(out, 64, "S-1-12-1-%lu-%lu-%lu-%lu", (unsigned long)w[0], (unsigned long)w[1], (unsigned long)w[2],
             (unsigned long)w[3]);
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Certificates                                                              */
/* ------------------------------------------------------------------------ */

/* One RDN of one attribute, the value stored as the given string type
 * (V_ASN1_UTF8STRING / V_ASN1_IA5STRING / V_ASN1_BMPSTRING). */
static int name_add(X509_NAME *name, int nid, int type, const char *utf8)
{
    if (type != V_ASN1_BMPSTRING)
        return X509_NAME_add_entry_by_NID(name, nid, type, (const unsigned char *)utf8, -1, -1, 0) == 1;
    ASN1_STRING *bmp = NULL;
    if (ASN1_mbstring_copy(&bmp, (const unsigned char *)utf8, -1, MBSTRING_UTF8, B_ASN1_BMPSTRING) < 0)
        return 0;
    int ok = X509_NAME_add_entry_by_NID(name, nid, V_ASN1_BMPSTRING, ASN1_STRING_get0_data(bmp),
                                        ASN1_STRING_length(bmp), -1, 0) == 1;
    ASN1_STRING_free(bmp);
    return ok;
}

/* A random positive serial of 16 octets, like Azure AD's. */
static int set_serial(X509 *x)
{
    uint8_t b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return NEGOEX_ERR_RNG;
    b[0] = (uint8_t)((b[0] & 0x7f) | 0x40);
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    int ok = bn != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? NEGOEX_OK : NEGOEX_ERR_NO_MEMORY;
}

/* now + seconds (either sign) into t. */
static int set_time(ASN1_TIME *t, time_t now, int64_t seconds)
{
    int days = (int)(seconds / 86400);
    long secs = (long)(seconds % 86400);
    return X509_time_adj_ex(t, days, secs, &now) != NULL;
}

static int add_ext(X509 *x, int nid, void *value, int critical)
{
    return X509_add1_ext_i2d(x, nid, value, critical, X509V3_ADD_DEFAULT) == 1;
}

static int add_key_usage(X509 *x, const int *bits, size_t count)
{
    ASN1_BIT_STRING *ku = ASN1_BIT_STRING_new();
    int ok = ku != NULL;
    for (size_t i = 0; ok && i < count; i++)
        ok = ASN1_BIT_STRING_set_bit(ku, bits[i], 1);
    ok = ok && add_ext(x, NID_key_usage, ku, 1);
    ASN1_BIT_STRING_free(ku);
    return ok;
}

static int add_ski(X509 *x)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    ASN1_OCTET_STRING *ski = ASN1_OCTET_STRING_new();
    int ok = ski != NULL && X509_pubkey_digest(x, EVP_sha1(), md, &len) == 1 &&
             ASN1_OCTET_STRING_set(ski, md, (int)len) == 1 && add_ext(x, NID_subject_key_identifier, ski, 0);
    ASN1_OCTET_STRING_free(ski);
    return ok;
}

static int add_aki(X509 *x, X509 *issuer)
{
    const ASN1_OCTET_STRING *ski = X509_get0_subject_key_id(issuer);
    if (ski == NULL)
        return 0;
    AUTHORITY_KEYID *aki = AUTHORITY_KEYID_new();
    int ok = aki != NULL && (aki->keyid = ASN1_OCTET_STRING_dup(ski)) != NULL &&
             add_ext(x, NID_authority_key_identifier, aki, 0);
    AUTHORITY_KEYID_free(aki);
    return ok;
}

/* SAN with one otherName UPN (UTF8String) or one dNSName. */
static int add_san(X509 *x, int upn, const char *value)
{
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    GENERAL_NAME *gen = GENERAL_NAME_new();
    ASN1_STRING *s = upn ? ASN1_UTF8STRING_new() : ASN1_IA5STRING_new();
    ASN1_TYPE *any = upn ? ASN1_TYPE_new() : NULL;
    int ok = gens != NULL && gen != NULL && s != NULL && (!upn || any != NULL) &&
             ASN1_STRING_set(s, value, -1) == 1;
    if (ok && upn) {
        ASN1_TYPE_set(any, V_ASN1_UTF8STRING, s);
        s = NULL;
        ok = GENERAL_NAME_set0_othername(gen, OBJ_nid2obj(NID_ms_upn), any) == 1;
        if (ok)
            any = NULL;
    } else if (ok) {
        GENERAL_NAME_set0_value(gen, GEN_DNS, s);
        s = NULL;
    }
    if (ok) {
        ok = sk_GENERAL_NAME_push(gens, gen) > 0;
        if (ok)
            gen = NULL;
    }
    ok = ok && add_ext(x, NID_subject_alt_name, gens, 0);
    ASN1_TYPE_free(any);
    ASN1_STRING_free(s);
    GENERAL_NAME_free(gen);
    GENERAL_NAMES_free(gens);
    return ok;
}

/* EKU with one purpose, then Microsoft's application policies repeating it
 * (SEQUENCE { SEQUENCE { policyIdentifier } }), as Azure AD writes them. */
static int add_eku(X509 *x, int nid)
{
    ASN1_OBJECT *purpose = OBJ_nid2obj(nid);
    EXTENDED_KEY_USAGE *eku = sk_ASN1_OBJECT_new_null();
    int ok = purpose != NULL && eku != NULL && sk_ASN1_OBJECT_push(eku, purpose) > 0 &&
             add_ext(x, NID_ext_key_usage, eku, 0);
    sk_ASN1_OBJECT_free(eku); /* OBJ_nid2obj's objects are static */
    if (!ok)
        return 0;

    int oid_len = OBJ_length(purpose);
    const unsigned char *oid = OBJ_get0_data(purpose);
    unsigned char der[2 + 2 + 2 + 32];
    if (oid == NULL || oid_len <= 0 || oid_len > 32)
        return 0;
    der[0] = 0x30;
    der[1] = (unsigned char)(oid_len + 4);
    der[2] = 0x30;
    der[3] = (unsigned char)(oid_len + 2);
    der[4] = 0x06;
    der[5] = (unsigned char)oid_len;
    memcpy(der + 6, oid, (size_t)oid_len);
    ASN1_OBJECT *policies = OBJ_txt2obj(OID_MS_APP_POLICIES, 1);
    ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
    X509_EXTENSION *ext = NULL;
    ok = policies != NULL && value != NULL && ASN1_OCTET_STRING_set(value, der, oid_len + 6) == 1 &&
         (ext = X509_EXTENSION_create_by_OBJ(NULL, policies, 0, value)) != NULL && X509_add_ext(x, ext, -1) == 1;
    X509_EXTENSION_free(ext);
    ASN1_OCTET_STRING_free(value);
    ASN1_OBJECT_free(policies);
    return ok;
}

/* Re-reads the signed certificate from its DER: the object handed out is
 * exactly what the files hold, with OpenSSL's extension cache fresh. */
static int finish(X509 **x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(*x, &der);
    if (len <= 0)
        return 0;
    const unsigned char *p = der;
    X509 *y = d2i_X509(NULL, &p, len);
    OPENSSL_free(der);
    if (y == NULL)
        return 0;
    X509_free(*x);
    *x = y;
    return 1;
}

typedef struct cert_spec {
    negoex_testpki_entity which;
    int64_t lifetime;
} cert_spec;

static int make_cert(negoex_testpki *pki, const negoex_testpki_options *o, time_t now, const cert_spec *spec,
                     negoex_error_info *err)
{
    negoex_testpki_entity w = spec->which;
    EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)o->key_bits);
    if (key == NULL)
        return fail(err, NEGOEX_ERR_CRYPTO, "RSA key generation");
    pki->key[w] = key;

    int rc = NEGOEX_ERR_NO_MEMORY, ok;
    const char *what = "certificate";
    X509 *issuer = pki->cert[NEGOEX_TESTPKI_CA]; /* NULL while making the CA: x itself */
    EVP_PKEY *issuer_key = pki->key[NEGOEX_TESTPKI_CA];
    X509 *x = X509_new();
    X509_NAME *subject = X509_NAME_new();
    if (x == NULL || subject == NULL)
        goto out;
    if (!X509_set_version(x, X509_VERSION_3))
        goto out;
    if ((rc = set_serial(x)) != NEGOEX_OK) {
        what = "serial number";
        goto out;
    }
    rc = NEGOEX_ERR_INVALID_ARGUMENT;
    what = "now: validity not representable";
    if (!set_time(X509_getm_notBefore(x), now, -o->backdate) || !set_time(X509_getm_notAfter(x), now, spec->lifetime))
        goto out;

    rc = NEGOEX_ERR_NO_MEMORY;
    what = "certificate name";
    if (w == NEGOEX_TESTPKI_CA) {
        ok = name_add(subject, NID_commonName, V_ASN1_BMPSTRING, pki->ca_name);
    } else {
        ok = name_add(subject, NID_domainComponent, V_ASN1_IA5STRING, pki->tenant);
        if (w == NEGOEX_TESTPKI_USER)
            ok = ok && name_add(subject, NID_commonName, V_ASN1_UTF8STRING, pki->user_sid) &&
                 name_add(subject, NID_commonName, V_ASN1_UTF8STRING, pki->upn);
        else
            ok = ok && name_add(subject, NID_commonName, V_ASN1_UTF8STRING, pki->device_id);
    }
    if (!ok || !X509_set_subject_name(x, subject) ||
        !X509_set_issuer_name(x, issuer == NULL ? subject : X509_get_subject_name(issuer)) ||
        !X509_set_pubkey(x, key))
        goto out;

    rc = NEGOEX_ERR_CRYPTO;
    what = "certificate extensions";
    if (w == NEGOEX_TESTPKI_CA) {
        static const int ca_ku[] = {5, 6}; /* keyCertSign, cRLSign */
        ok = add_ski(x);
        if (ok && !o->windows_ca) {
            BASIC_CONSTRAINTS *bc = BASIC_CONSTRAINTS_new();
            if (bc != NULL)
                bc->ca = 0xff;
            ok = bc != NULL && add_ext(x, NID_basic_constraints, bc, 1) && add_key_usage(x, ca_ku, 2);
            BASIC_CONSTRAINTS_free(bc);
        }
    } else {
        static const int leaf_ku[] = {0, 2}; /* digitalSignature, keyEncipherment */
        int user = w == NEGOEX_TESTPKI_USER;
        ok = add_key_usage(x, leaf_ku, 2) && add_san(x, user, user ? pki->upn : pki->host) &&
             add_eku(x, user ? NID_client_auth : NID_server_auth) && (o->windows_ca || add_aki(x, issuer));
    }
    if (!ok)
        goto out;
    what = "certificate signature";
    if (X509_sign(x, issuer_key, EVP_sha256()) <= 0 || !finish(&x))
        goto out;
    pki->cert[w] = x;
    x = NULL;
    rc = NEGOEX_OK;
out:
    X509_NAME_free(subject);
    X509_free(x);
    return rc == NEGOEX_OK ? rc : fail(err, rc, what);
}

/* ------------------------------------------------------------------------ */
/* The PKI                                                                   */
/* ------------------------------------------------------------------------ */

static int seconds_ok(int64_t s, int zero_ok)
{
    return (zero_ok ? s >= 0 : s > 0) && s <= NEGOEX_TESTPKI_MAX_SECONDS;
}

static int check_options(const negoex_testpki_options *o, negoex_error_info *err)
{
    if (o->upn == NULL || !text_ok(o->upn, MAX_NAME))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "upn");
    if (o->host == NULL || !host_ok(o->host))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "host");
    negoex_guid g;
    if (o->tenant != NULL && negoex_guid_parse(&g, o->tenant) != NEGOEX_OK)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "tenant");
    if (o->user_sid != NULL && !text_ok(o->user_sid, MAX_NAME))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "user_sid");
    if (o->device_id != NULL && !text_ok(o->device_id, MAX_NAME))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "device_id");
    if (o->ca_name != NULL && !text_ok(o->ca_name, MAX_NAME))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "ca_name");
    if (o->key_bits < NEGOEX_TESTPKI_MIN_BITS || o->key_bits > NEGOEX_TESTPKI_MAX_BITS)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "key_bits");
    if (!seconds_ok(o->user_lifetime, 0))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "user_lifetime");
    if (!seconds_ok(o->device_lifetime, 0))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "device_lifetime");
    if (!seconds_ok(o->ca_lifetime, 0))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "ca_lifetime");
    if (!seconds_ok(o->backdate, 1))
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "backdate");
    return NEGOEX_OK;
}

/* Fills the names: given ones copied (the tenant normalised to lowercase),
 * the others made up. */
static int set_names(negoex_testpki *pki, const negoex_testpki_options *o, time_t now, negoex_error_info *err)
{
    char buf[64];
    int rc;
    if ((pki->upn = OPENSSL_strdup(o->upn)) == NULL || (pki->host = OPENSSL_strdup(o->host)) == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "names");
    if (o->tenant != NULL) {
        negoex_guid g;
        if (negoex_guid_parse(&g, o->tenant) != NEGOEX_OK)
            return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "tenant");
        negoex_guid_format(&g, buf);
    } else if ((rc = random_guid(buf)) != NEGOEX_OK) {
        return fail(err, rc, "tenant");
    }
    if ((pki->tenant = OPENSSL_strdup(buf)) == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "names");
    if (o->user_sid == NULL && (rc = random_sid(buf)) != NEGOEX_OK)
        return fail(err, rc, "user_sid");
    if ((pki->user_sid = OPENSSL_strdup(o->user_sid != NULL ? o->user_sid : buf)) == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "names");
    if (o->device_id == NULL && (rc = random_guid(buf)) != NEGOEX_OK)
        return fail(err, rc, "device_id");
    if ((pki->device_id = OPENSSL_strdup(o->device_id != NULL ? o->device_id : buf)) == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "names");
    if (o->ca_name == NULL) {
        struct tm tm;
        if (gmtime_r(&now, &tm) == NULL)
            return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "now: validity not representable");
        snprintf(buf, sizeof buf, "MS-Organization-P2P-Access [%ld]", (long)tm.tm_year + 1900);
    }
    if ((pki->ca_name = OPENSSL_strdup(o->ca_name != NULL ? o->ca_name : buf)) == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "names");
    /* A BMPString holds the Basic Multilingual Plane only. */
    ASN1_STRING *bmp = NULL;
    if (ASN1_mbstring_copy(&bmp, (const unsigned char *)pki->ca_name, -1, MBSTRING_UTF8, B_ASN1_BMPSTRING) < 0)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "ca_name");
    ASN1_STRING_free(bmp);
    return NEGOEX_OK;
}

int negoex_testpki_new(const negoex_testpki_options *opts, time_t now, negoex_testpki **out,
                       negoex_error_info *err)
{
    negoex_testpki_options dflt;
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "out");
    *out = NULL;
    if (opts == NULL) {
        negoex_testpki_options_init(&dflt);
        opts = &dflt;
    }
    int rc = check_options(opts, err);
    if (rc != NEGOEX_OK)
        return rc;

    negoex_testpki *pki = OPENSSL_zalloc(sizeof *pki);
    if (pki == NULL)
        return fail(err, NEGOEX_ERR_NO_MEMORY, "testpki");
    ERR_set_mark();
    rc = set_names(pki, opts, now, err);
    if (rc == NEGOEX_OK) {
        int64_t ca_life = opts->ca_lifetime;
        if (ca_life < opts->user_lifetime)
            ca_life = opts->user_lifetime;
        if (ca_life < opts->device_lifetime)
            ca_life = opts->device_lifetime;
        const cert_spec specs[ENTITY_COUNT] = {
            {NEGOEX_TESTPKI_CA, ca_life},
            {NEGOEX_TESTPKI_USER, opts->user_lifetime},
            {NEGOEX_TESTPKI_DEVICE, opts->device_lifetime},
        };
        for (size_t i = 0; rc == NEGOEX_OK && i < ENTITY_COUNT; i++)
            rc = make_cert(pki, opts, now, &specs[i], err);
    }
    ERR_pop_to_mark();
    if (rc != NEGOEX_OK) {
        negoex_testpki_free(pki);
        return rc;
    }
    *out = pki;
    return NEGOEX_OK;
}

void negoex_testpki_free(negoex_testpki *pki)
{
    if (pki == NULL)
        return;
    for (size_t i = 0; i < ENTITY_COUNT; i++) {
        X509_free(pki->cert[i]);
        EVP_PKEY_free(pki->key[i]);
    }
    OPENSSL_free(pki->upn);
    OPENSSL_free(pki->host);
    OPENSSL_free(pki->tenant);
    OPENSSL_free(pki->user_sid);
    OPENSSL_free(pki->device_id);
    OPENSSL_free(pki->ca_name);
    OPENSSL_free(pki);
}

static int entity_ok(const negoex_testpki *pki, negoex_testpki_entity which)
{
    return pki != NULL && (int)which >= 0 && (int)which < ENTITY_COUNT;
}

X509 *negoex_testpki_get0_cert(const negoex_testpki *pki, negoex_testpki_entity which)
{
    return entity_ok(pki, which) ? pki->cert[which] : NULL;
}

EVP_PKEY *negoex_testpki_get0_key(const negoex_testpki *pki, negoex_testpki_entity which)
{
    return entity_ok(pki, which) ? pki->key[which] : NULL;
}

const char *negoex_testpki_upn(const negoex_testpki *pki)
{
    return pki != NULL ? pki->upn : NULL;
}

const char *negoex_testpki_host(const negoex_testpki *pki)
{
    return pki != NULL ? pki->host : NULL;
}

const char *negoex_testpki_tenant(const negoex_testpki *pki)
{
    return pki != NULL ? pki->tenant : NULL;
}

const char *negoex_testpki_user_sid(const negoex_testpki *pki)
{
    return pki != NULL ? pki->user_sid : NULL;
}

const char *negoex_testpki_device_id(const negoex_testpki *pki)
{
    return pki != NULL ? pki->device_id : NULL;
}

const char *negoex_testpki_ca_name(const negoex_testpki *pki)
{
    return pki != NULL ? pki->ca_name : NULL;
}

/* ------------------------------------------------------------------------ */
/* Files                                                                     */
/* ------------------------------------------------------------------------ */

typedef enum file_kind { F_CERT, F_KEY, F_P12 } file_kind;

typedef struct file_spec {
    const char *name;
    const char *fail_text; /* static: err->field */
    negoex_testpki_entity which;
    file_kind kind;
} file_spec;

static const file_spec FILES[] = {
    {NEGOEX_TESTPKI_CA_PEM, NEGOEX_TESTPKI_CA_PEM ": cannot write", NEGOEX_TESTPKI_CA, F_CERT},
    {NEGOEX_TESTPKI_USER_PEM, NEGOEX_TESTPKI_USER_PEM ": cannot write", NEGOEX_TESTPKI_USER, F_CERT},
    {NEGOEX_TESTPKI_USER_KEY, NEGOEX_TESTPKI_USER_KEY ": cannot write", NEGOEX_TESTPKI_USER, F_KEY},
    {NEGOEX_TESTPKI_DEVICE_PEM, NEGOEX_TESTPKI_DEVICE_PEM ": cannot write", NEGOEX_TESTPKI_DEVICE, F_CERT},
    {NEGOEX_TESTPKI_DEVICE_KEY, NEGOEX_TESTPKI_DEVICE_KEY ": cannot write", NEGOEX_TESTPKI_DEVICE, F_KEY},
    {NEGOEX_TESTPKI_USER_P12, NEGOEX_TESTPKI_USER_P12 ": cannot write", NEGOEX_TESTPKI_USER, F_P12},
    {NEGOEX_TESTPKI_DEVICE_P12, NEGOEX_TESTPKI_DEVICE_P12 ": cannot write", NEGOEX_TESTPKI_DEVICE, F_P12},
};
#define FILE_COUNT (sizeof FILES / sizeof FILES[0])

/* The file's contents into a memory BIO (secure memory, wiped on free, for
 * keys). */
static int encode(const negoex_testpki *pki, const file_spec *f, const char *password, BIO *bio)
{
    X509 *cert = pki->cert[f->which];
    EVP_PKEY *key = pki->key[f->which];
    if (f->kind == F_CERT)
        return PEM_write_bio_X509(bio, cert) == 1;
    if (f->kind == F_KEY)
        return PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) == 1;
    STACK_OF(X509) *ca = sk_X509_new_null();
    int ok = ca != NULL && sk_X509_push(ca, pki->cert[NEGOEX_TESTPKI_CA]) > 0;
    const char *friendly = f->which == NEGOEX_TESTPKI_USER ? pki->upn : pki->host;
    PKCS12 *p12 = ok ? PKCS12_create(password, friendly, key, cert, ca, 0, 0, 0, 0, 0) : NULL;
    ok = p12 != NULL && i2d_PKCS12_bio(bio, p12) == 1;
    PKCS12_free(p12);
    sk_X509_free(ca); /* borrowed */
    return ok;
}

static int write_all(int fd, const unsigned char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        p += w;
        n -= (size_t)w;
    }
    return 1;
}

static int write_one(int dfd, const file_spec *f, const unsigned char *data, size_t len)
{
    mode_t mode = f->kind == F_CERT ? 0644 : 0600;
    int fd = openat(dfd, f->name, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, mode);
    if (fd < 0)
        return 0;
    /* An existing file keeps its mode through O_TRUNC: secrets get 0600. */
    int ok = (f->kind == F_CERT || fchmod(fd, 0600) == 0) && write_all(fd, data, len);
    int saved = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        saved = errno;
    }
    errno = saved;
    return ok;
}

static int open_dir(const char *dir)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT) {
        if (mkdir(dir, 0755) != 0 && errno != EEXIST)
            return -1;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    }
    return dfd;
}

int negoex_testpki_write(const negoex_testpki *pki, const char *dir, const char *p12_password, negoex_error_info *err)
{
    if (pki == NULL || dir == NULL || dir[0] == '\0')
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "dir");
    int dfd = open_dir(dir);
    if (dfd < 0)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, "dir: cannot create or open the directory");

    int rc = NEGOEX_OK;
    ERR_set_mark();
    for (size_t i = 0; rc == NEGOEX_OK && i < FILE_COUNT; i++) {
        const file_spec *f = &FILES[i];
        if (f->kind == F_P12 && p12_password == NULL)
            continue;
        BIO *bio = BIO_new(f->kind == F_CERT ? BIO_s_mem() : BIO_s_secmem());
        if (bio == NULL) {
            rc = fail(err, NEGOEX_ERR_NO_MEMORY, f->fail_text);
            break;
        }
        if (!encode(pki, f, p12_password, bio)) {
            rc = fail(err, NEGOEX_ERR_CRYPTO, f->fail_text);
        } else {
            char *data = NULL;
            long len = BIO_get_mem_data(bio, &data);
            if (len <= 0 || !write_one(dfd, f, (const unsigned char *)data, (size_t)len))
                rc = fail(err, NEGOEX_ERR_INVALID_ARGUMENT, f->fail_text);
        }
        int saved = errno;
        BIO_free(bio);
        errno = saved;
    }
    ERR_pop_to_mark();
    int saved = errno;
    close(dfd);
    errno = saved;
    return rc;
}
