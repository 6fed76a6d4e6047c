/*
 * CMS SignedData sign / verify for PKINIT through OpenSSL 3 (see cms.h).
 *
 * Verification reads the bytes twice: the strict DER decoder of the ASN.1
 * layer (shape, views, the policy checks) and OpenSSL (d2i_CMS_ContentInfo,
 * CMS_verify: the signature). A bare SignedData gets a ContentInfo wrapped
 * around a copy first, since OpenSSL only reads ContentInfo.
 *
 * Signing is CMS_sign(CMS_PARTIAL) + CMS_add1_signer(CMS_PARTIAL), the
 * eContent set directly, and no CMS_final: OpenSSL's CMS_SignerInfo_sign
 * always adds a signing-time attribute, so the signed attributes
 * (contentType, messageDigest, signing-time only if wanted) are added here
 * and signed once (EVP_DigestSign over their DER SET, the bytes a verifier
 * digests). With SHA-1 the digest AlgorithmIdentifiers get Windows' NULL
 * parameters.
 */
#include "pku2u/cms.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/objects.h>

#include "alloc.h"
#include "der.h"
#include "pku2u/asn1.h"

typedef struct digest_alg {
    unsigned bit;
    const char *name; /* EVP name */
    size_t md_len;
    size_t oid_len;
    uint8_t oid[9];
} digest_alg;

static const digest_alg DIGESTS[] = {
    {NEGOEX_CMS_DIGEST_SHA1, "SHA1", 20, 5, {0x2b, 0x0e, 0x03, 0x02, 0x1a}},
    {NEGOEX_CMS_DIGEST_SHA256, "SHA256", 32, 9, {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01}},
    {NEGOEX_CMS_DIGEST_SHA384, "SHA384", 48, 9, {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02}},
    {NEGOEX_CMS_DIGEST_SHA512, "SHA512", 64, 9, {0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03}},
};
#define N_DIGESTS (sizeof DIGESTS / sizeof DIGESTS[0])

static const digest_alg *digest_by_oid(negoex_bytes oid)
{
    for (size_t i = 0; i < N_DIGESTS; i++)
        if (negoex_asn1_oid_is(oid, DIGESTS[i].oid, DIGESTS[i].oid_len))
            return &DIGESTS[i];
    return NULL;
}

static const digest_alg *digest_by_bit(unsigned bit)
{
    for (size_t i = 0; i < N_DIGESTS; i++)
        if (DIGESTS[i].bit == bit)
            return &DIGESTS[i];
    return NULL;
}

static int fail(negoex_error_info *err, int code, size_t offset, const char *field)
{
    return negoex_der_fail(err, code, offset, field);
}

static size_t off(const uint8_t *base, negoex_bytes v)
{
    return v.data != NULL ? (size_t)(v.data - base) : 0;
}

/* ------------------------------------------------------------------------ */
/* ContentInfo wrapper                                                       */
/* ------------------------------------------------------------------------ */

static int wrapped_size(size_t len, size_t *total)
{
    size_t inner = 0, seq = 0;
    int rc = negoex_der_add_tlv(&inner, NEGOEX_OID_CMS_SIGNED_DATA_LEN); /* OID */
    size_t explicit0 = 0;
    if (rc == NEGOEX_OK)
        rc = negoex_der_add_tlv(&explicit0, len); /* [0] { SignedData } */
    if (rc == NEGOEX_OK)
        rc = negoex_der_add(&inner, explicit0);
    if (rc == NEGOEX_OK)
        rc = negoex_der_add_tlv(&seq, inner);
    *total = seq;
    return rc;
}

static void wrap_into(uint8_t *p, const uint8_t *sd, size_t len)
{
    size_t e0 = 1 + negoex_der_len_size(len) + len;
    size_t inner = 2 + NEGOEX_OID_CMS_SIGNED_DATA_LEN + e0;
    p = negoex_der_put_header(p, 0x30, inner);
    p = negoex_der_put_tlv(p, 0x06, NEGOEX_OID_CMS_SIGNED_DATA, NEGOEX_OID_CMS_SIGNED_DATA_LEN);
    p = negoex_der_put_header(p, 0xa0, len);
    memcpy(p, sd, len);
}

int negoex_cms_wrap(const uint8_t *signed_data, size_t len, negoex_buf *out)
{
    if (signed_data == NULL || len == 0 || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t total;
    int rc = wrapped_size(len, &total);
    if (rc != NEGOEX_OK)
        return rc;
    uint8_t *at;
    rc = negoex_buf_reserve(out, total, &at);
    if (rc != NEGOEX_OK)
        return rc;
    wrap_into(at, signed_data, len);
    out->len += total;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Verify                                                                    */
/* ------------------------------------------------------------------------ */

void negoex_cms_verified_clear(negoex_cms_verified *v)
{
    if (v == NULL)
        return;
    X509_free(v->signer);
    sk_X509_pop_free(v->certs, X509_free);
    memset(v, 0, sizeof *v);
}

/* d2i of the whole ContentInfo (the input itself, or a wrapped copy). */
static CMS_ContentInfo *parse_cms(const uint8_t *der, size_t len, const negoex_cms_signed_data *sd)
{
    uint8_t *copy = NULL;
    const uint8_t *ci = der;
    size_t ci_len = len;
    if (!sd->wrapped) {
        if (wrapped_size(sd->raw.len, &ci_len) != NEGOEX_OK)
            return NULL;
        copy = malloc(ci_len);
        if (copy == NULL)
            return NULL;
        wrap_into(copy, sd->raw.data, sd->raw.len);
        ci = copy;
    }
    CMS_ContentInfo *cms = NULL;
    if (ci_len <= (size_t)LONG_MAX) {
        const unsigned char *p = ci;
        cms = d2i_CMS_ContentInfo(NULL, &p, (long)ci_len);
        if (cms != NULL && p != ci + ci_len) {
            CMS_ContentInfo_free(cms);
            cms = NULL;
        }
    }
    free(copy);
    return cms;
}

static int do_verify(const uint8_t *der, size_t len, const uint8_t *econtent_type, size_t econtent_type_len,
                         const negoex_cms_verify_opts *opts, negoex_cms_verified *out, negoex_error_info *err)
{
    static const negoex_cms_verify_opts dflt = {NEGOEX_CMS_DIGESTS_DEFAULT, 0};
    if (opts == NULL)
        opts = &dflt;
    unsigned digests = opts->digests ? opts->digests : NEGOEX_CMS_DIGESTS_DEFAULT;

    /* 1. Strict DER and the shape. */
    negoex_cms_signed_data sd;
    int rc = negoex_cms_decode_signed_data(der, len, &sd, err);
    if (rc != NEGOEX_OK)
        return rc;

    /* 2. Content, type, one signer with its attributes. */
    if (sd.econtent.data == NULL)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, sd.econtent_type), "eContent (detached)");
    if (!negoex_asn1_oid_is(sd.econtent_type, econtent_type, econtent_type_len))
        return fail(err, NEGOEX_ERR_CMS_CONTENT_TYPE, off(der, sd.econtent_type), "eContentType");
    if (sd.signer_count != 1)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, sd.raw), "signerInfos (not exactly one)");
    const negoex_cms_signer *si = &sd.signers[0];
    if (si->signed_attrs.data == NULL)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, si->raw), "signedAttrs (absent)");
    if (si->content_type_attr.data == NULL)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, si->signed_attrs), "content-type attribute (absent)");
    if (si->message_digest_attr.data == NULL)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, si->signed_attrs), "message-digest attribute (absent)");

    /* 3. The signed content type. */
    int ct_differs = 0;
    if (!negoex_asn1_oid_is(si->content_type_attr, sd.econtent_type.data, sd.econtent_type.len)) {
        int sspirs = (opts->flags & NEGOEX_CMS_ACCEPT_SSPIRS_CT_ATTR) &&
                     negoex_asn1_oid_is(sd.econtent_type, NEGOEX_OID_PKINIT_DHKEYDATA,
                                        NEGOEX_OID_PKINIT_DHKEYDATA_LEN) &&
                     negoex_asn1_oid_is(si->content_type_attr, NEGOEX_OID_PKINIT_AUTHDATA,
                                        NEGOEX_OID_PKINIT_AUTHDATA_LEN);
        if (!sspirs)
            return fail(err, NEGOEX_ERR_CMS_CONTENT_TYPE, off(der, si->content_type_attr),
                        "content-type attribute differs from eContentType");
        ct_differs = 1;
    }

    /* 4. Digest policy. */
    const digest_alg *dg = digest_by_oid(si->digest_algorithm);
    if (dg == NULL || !(digests & dg->bit))
        return fail(err, NEGOEX_ERR_CMS_DIGEST, off(der, si->digest_algorithm), "digestAlgorithm");

    /* 5. message-digest over eContent. */
    uint8_t md[EVP_MAX_MD_SIZE];
    size_t md_len = 0;
    EVP_MD *emd = EVP_MD_fetch(NULL, dg->name, NULL);
    if (emd == NULL)
        return fail(err, NEGOEX_ERR_CMS_DIGEST, off(der, si->digest_algorithm), "digestAlgorithm (unavailable)");
    unsigned int mdl = 0;
    int ok = EVP_Digest(sd.econtent.data, sd.econtent.len, md, &mdl, emd, NULL);
    EVP_MD_free(emd);
    if (!ok)
        return fail(err, NEGOEX_ERR_CRYPTO, 0, "digest");
    md_len = mdl;
    if (si->message_digest_attr.len != md_len ||
        CRYPTO_memcmp(si->message_digest_attr.data, md, md_len) != 0)
        return fail(err, NEGOEX_ERR_CMS_SIGNATURE, off(der, si->message_digest_attr), "message-digest");

    /* 6./7. OpenSSL: the signer's certificate and the signature. */
    CMS_ContentInfo *cms = parse_cms(der, len, &sd);
    if (cms == NULL)
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, sd.raw), "SignedData (OpenSSL does not read it)");
    STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);
    CMS_SignerInfo *osi = sk_CMS_SignerInfo_num(sis) == 1 ? sk_CMS_SignerInfo_value(sis, 0) : NULL;
    X509 *signer = NULL;
    if (osi != NULL) {
        (void)CMS_set1_signers_certs(cms, NULL, 0);
        CMS_SignerInfo_get0_algs(osi, NULL, &signer, NULL, NULL);
    }
    if (signer == NULL) {
        CMS_ContentInfo_free(cms);
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, si->raw), "signer certificate (not in SignedData)");
    }
    if (CMS_verify(cms, NULL, NULL, NULL, NULL, CMS_NO_SIGNER_CERT_VERIFY | CMS_BINARY) != 1) {
        CMS_ContentInfo_free(cms);
        return fail(err, NEGOEX_ERR_CMS_SIGNATURE, off(der, si->signature), "signature");
    }
    /* Both readers saw the same content and type (defence in depth). */
    ASN1_OCTET_STRING **pos = CMS_get0_content(cms);
    const ASN1_OBJECT *otype = CMS_get0_eContentType(cms);
    if (pos == NULL || *pos == NULL || (size_t)ASN1_STRING_length(*pos) != sd.econtent.len ||
        memcmp(ASN1_STRING_get0_data(*pos), sd.econtent.data, sd.econtent.len) != 0 || otype == NULL ||
        (size_t)OBJ_length(otype) != econtent_type_len ||
        memcmp(OBJ_get0_data(otype), econtent_type, econtent_type_len) != 0) {
        CMS_ContentInfo_free(cms);
        return fail(err, NEGOEX_ERR_CMS_MALFORMED, off(der, sd.econtent), "eContent");
    }
    STACK_OF(X509) *certs = CMS_get1_certs(cms);
    if (certs == NULL || !X509_up_ref(signer)) {
        sk_X509_pop_free(certs, X509_free);
        CMS_ContentInfo_free(cms);
        return fail(err, NEGOEX_ERR_NO_MEMORY, 0, "certificates");
    }
    CMS_ContentInfo_free(cms);
    out->wrapped = sd.wrapped;
    out->digest = dg->bit;
    out->content_type_attr_differs = ct_differs;
    out->econtent = sd.econtent;
    out->signer = signer;
    out->certs = certs;
    return NEGOEX_OK;
}

int negoex_cms_verify(const uint8_t *der, size_t len, const uint8_t *econtent_type, size_t econtent_type_len,
                      const negoex_cms_verify_opts *opts, negoex_cms_verified *out, negoex_error_info *err)
{
    if (out == NULL)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "out");
    memset(out, 0, sizeof *out);
    if (der == NULL || econtent_type == NULL || econtent_type_len == 0)
        return fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "SignedData");
    ERR_set_mark();
    int rc = do_verify(der, len, econtent_type, econtent_type_len, opts, out, err);
    ERR_pop_to_mark();
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sign                                                                      */
/* ------------------------------------------------------------------------ */

static ASN1_OBJECT *oid_object(const uint8_t *oid, size_t len)
{
    uint8_t der[2 + 127];
    if (len == 0 || len > 127)
        return NULL;
    der[0] = 0x06;
    der[1] = (uint8_t)len;
    memcpy(der + 2, oid, len);
    const unsigned char *p = der;
    ASN1_OBJECT *o = d2i_ASN1_OBJECT(NULL, &p, (long)(len + 2));
    if (o != NULL && p != der + len + 2) {
        ASN1_OBJECT_free(o);
        o = NULL;
    }
    return o;
}

typedef struct enc_attr {
    unsigned char *der;
    int len;
} enc_attr;

static int cmp_attr(const void *a, const void *b)
{
    const enc_attr *x = a, *y = b;
    int n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->der, y->der, (size_t)n);
    return c != 0 ? c : (x->len > y->len) - (x->len < y->len);
}

/* The signed attributes as a verifier digests them: SET OF Attribute in DER
 * order (tag 0x31, not the [0] IMPLICIT of the wire). */
static int signed_attrs_der(CMS_SignerInfo *si, uint8_t **out, size_t *out_len)
{
    int n = CMS_signed_get_attr_count(si);
    if (n <= 0)
        return NEGOEX_ERR_CRYPTO;
    enc_attr *a = calloc((size_t)n, sizeof *a);
    if (a == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    int rc = NEGOEX_OK;
    size_t content = 0;
    for (int i = 0; i < n && rc == NEGOEX_OK; i++) {
        a[i].len = i2d_X509_ATTRIBUTE(CMS_signed_get_attr(si, i), &a[i].der);
        if (a[i].len <= 0)
            rc = NEGOEX_ERR_CRYPTO;
        else
            rc = negoex_der_add(&content, (size_t)a[i].len);
    }
    size_t total = 0;
    if (rc == NEGOEX_OK)
        rc = negoex_der_add_tlv(&total, content);
    uint8_t *buf = NULL;
    if (rc == NEGOEX_OK && (buf = malloc(total)) == NULL)
        rc = NEGOEX_ERR_NO_MEMORY;
    if (rc == NEGOEX_OK) {
        qsort(a, (size_t)n, sizeof *a, cmp_attr);
        uint8_t *p = negoex_der_put_header(buf, 0x31, content);
        for (int i = 0; i < n; i++) {
            memcpy(p, a[i].der, (size_t)a[i].len);
            p += a[i].len;
        }
        *out = buf;
        *out_len = total;
    }
    for (int i = 0; i < n; i++)
        OPENSSL_free(a[i].der);
    free(a);
    return rc;
}

/* The one signature: the signed attributes (messageDigest, contentType,
 * signing-time if asked for), added here in the order CMS_final adds them,
 * then EVP_DigestSign over their DER SET. */
static int sign_attrs(CMS_SignerInfo *si, EVP_PKEY *key, const digest_alg *dg, const EVP_MD *md,
                      const uint8_t *econtent, size_t len, ASN1_OBJECT *ctype, unsigned flags)
{
    unsigned char dig[EVP_MAX_MD_SIZE];
    unsigned int dig_len = 0;
    if (EVP_Digest(econtent, len, dig, &dig_len, md, NULL) != 1 ||
        !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_messageDigest, V_ASN1_OCTET_STRING, dig, (int)dig_len) ||
        !CMS_signed_add1_attr_by_NID(si, NID_pkcs9_contentType, V_ASN1_OBJECT, ctype, -1))
        return NEGOEX_ERR_CRYPTO;
    if (flags & NEGOEX_CMS_SIGN_SIGNING_TIME) {
        ASN1_TIME *t = X509_gmtime_adj(NULL, 0);
        int ok = t != NULL && CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime, t->type, t, -1);
        ASN1_TIME_free(t);
        if (!ok)
            return NEGOEX_ERR_CRYPTO;
    }
    uint8_t *tbs = NULL;
    size_t tbs_len = 0;
    int rc = signed_attrs_der(si, &tbs, &tbs_len);
    if (rc != NEGOEX_OK)
        return rc;
    rc = NEGOEX_ERR_CRYPTO;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    EVP_MD_CTX *mctx = EVP_MD_CTX_new();
    if (mctx != NULL && EVP_DigestSignInit_ex(mctx, NULL, dg->name, NULL, NULL, key, NULL) == 1 &&
        EVP_DigestSign(mctx, NULL, &sig_len, tbs, tbs_len) == 1 && sig_len > 0 && sig_len <= INT_MAX &&
        (sig = OPENSSL_malloc(sig_len)) != NULL && EVP_DigestSign(mctx, sig, &sig_len, tbs, tbs_len) == 1) {
        ASN1_STRING_set0(CMS_SignerInfo_get0_signature(si), sig, (int)sig_len);
        sig = NULL;
        rc = NEGOEX_OK;
    }
    OPENSSL_free(sig);
    EVP_MD_CTX_free(mctx);
    free(tbs);
    return rc;
}

/* Windows, MIT krb5 and sspi-rs write SHA-1 as { sha1, NULL }; OpenSSL
 * follows RFC 3370 (parameters absent), which receivers must also accept.
 * Ours is the Windows form: the SignedData again with its digestAlgorithms
 * SET replaced (the SignerInfo's copy is set through OpenSSL; neither is
 * covered by the signature). */
static const uint8_t SHA1_NULL_SET[] = {0x31, 0x0b, 0x30, 0x09, 0x06, 0x05, 0x2b,
                                        0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00};

static int sha1_null_params(const uint8_t *sd, size_t len, negoex_buf *out)
{
    der_reader r, c;
    der_tlv seq, ver, set;
    negoex_der_reader_init(&r, sd, 0, len);
    if (negoex_der_read(&r, 0x30, "SignedData", &seq, NULL) != NEGOEX_OK ||
        negoex_der_expect_end(&r, "SignedData", NULL) != NEGOEX_OK)
        return NEGOEX_ERR_CRYPTO;
    negoex_der_enter(&c, &r, &seq);
    if (negoex_der_read(&c, 0x02, "version", &ver, NULL) != NEGOEX_OK ||
        negoex_der_read(&c, 0x31, "digestAlgorithms", &set, NULL) != NEGOEX_OK)
        return NEGOEX_ERR_CRYPTO;
    size_t head = set.at - seq.start; /* the version TLV */
    size_t rest = c.end - c.pos;      /* encapContentInfo .. signerInfos */
    size_t content = head + sizeof SHA1_NULL_SET + rest, total = 0;
    int rc = negoex_der_add_tlv(&total, content);
    uint8_t *p;
    if (rc == NEGOEX_OK)
        rc = negoex_buf_reserve(out, total, &p);
    if (rc != NEGOEX_OK)
        return rc;
    p = negoex_der_put_header(p, 0x30, content);
    memcpy(p, sd + seq.start, head);
    memcpy(p + head, SHA1_NULL_SET, sizeof SHA1_NULL_SET);
    memcpy(p + head + sizeof SHA1_NULL_SET, sd + c.pos, rest);
    out->len += total;
    return NEGOEX_OK;
}

static int do_sign(const uint8_t *econtent, size_t len, ASN1_OBJECT *ctype, X509 *cert, EVP_PKEY *key,
                       STACK_OF(X509) *extra_certs, const digest_alg *dg, unsigned flags, negoex_buf *out)
{
    int rc = NEGOEX_ERR_CRYPTO;
    EVP_MD *md = EVP_MD_fetch(NULL, dg->name, NULL);
    CMS_ContentInfo *cms = NULL;
    CMS_SignerInfo *si = NULL;
    ASN1_OCTET_STRING **pos = NULL;
    unsigned char *der = NULL;
    int der_len = 0;
    negoex_buf bare;
    negoex_buf_init(&bare, NULL);
    if (md == NULL)
        goto out;
    cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
    if (cms == NULL || !CMS_set1_eContentType(cms, ctype) || !CMS_set_detached(cms, 0))
        goto out;
    /* CMS_PARTIAL: no CMS_final, whose CMS_SignerInfo_sign would sign
     * (with a signing-time always added); the content goes in as is. */
    si = CMS_add1_signer(cms, cert, key, md, CMS_BINARY | CMS_NOSMIMECAP | CMS_PARTIAL);
    if (si == NULL)
        goto out;
    for (int i = 0; i < sk_X509_num(extra_certs); i++) {
        X509 *x = sk_X509_value(extra_certs, i);
        int dup = X509_cmp(x, cert) == 0;
        for (int j = 0; j < i && !dup; j++)
            dup = X509_cmp(x, sk_X509_value(extra_certs, j)) == 0;
        if (!dup && CMS_add1_cert(cms, x) <= 0)
            goto out;
    }
    pos = CMS_get0_content(cms);
    if (pos == NULL)
        goto out;
    ASN1_OCTET_STRING_free(*pos); /* CMS_set_detached's, flagged to be streamed */
    if ((*pos = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(*pos, econtent, (int)len))
        goto out;
    /* CMS_dataInit sets the SignedData version (3: eContentType not
     * id-data), as CMS_final would; its digest BIO chain goes unused. */
    BIO *chain = CMS_dataInit(cms, NULL);
    if (chain == NULL)
        goto out;
    BIO_free_all(chain);
    rc = sign_attrs(si, key, dg, md, econtent, len, ctype, flags);
    if (rc != NEGOEX_OK)
        goto out;
    rc = NEGOEX_ERR_CRYPTO;
    if (dg->bit == NEGOEX_CMS_DIGEST_SHA1) {
        X509_ALGOR *pdig = NULL;
        CMS_SignerInfo_get0_algs(si, NULL, NULL, &pdig, NULL);
        if (pdig == NULL || !X509_ALGOR_set0(pdig, OBJ_nid2obj(NID_sha1), V_ASN1_NULL, NULL))
            goto out;
    }
    der_len = i2d_CMS_ContentInfo(cms, &der);
    if (der_len <= 0)
        goto out;
    /* The SignedData TLV inside OpenSSL's ContentInfo. */
    negoex_cms_signed_data sd;
    if (negoex_cms_decode_signed_data(der, (size_t)der_len, &sd, NULL) != NEGOEX_OK)
        goto out;
    if (dg->bit == NEGOEX_CMS_DIGEST_SHA1)
        rc = sha1_null_params(sd.raw.data, sd.raw.len, &bare);
    else
        rc = negoex_buf_append(&bare, sd.raw.data, sd.raw.len);
    if (rc != NEGOEX_OK)
        goto out;
    if (flags & NEGOEX_CMS_SIGN_WRAPPED)
        rc = negoex_cms_wrap(bare.data, bare.len, out);
    else
        rc = negoex_buf_append(out, bare.data, bare.len);
out:
    negoex_buf_free(&bare);
    OPENSSL_free(der);
    CMS_ContentInfo_free(cms);
    EVP_MD_free(md);
    return rc;
}

int negoex_cms_sign(const uint8_t *econtent, size_t len, const uint8_t *econtent_type, size_t econtent_type_len,
                    X509 *cert, EVP_PKEY *key, STACK_OF(X509) *extra_certs, unsigned digest, unsigned flags,
                    negoex_buf *out)
{
    if ((econtent == NULL && len) || len > (size_t)INT_MAX || cert == NULL || key == NULL || out == NULL ||
        (flags & ~(NEGOEX_CMS_SIGN_WRAPPED | NEGOEX_CMS_SIGN_SIGNING_TIME)))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const digest_alg *dg = digest_by_bit(digest);
    if (dg == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!EVP_PKEY_is_a(key, "RSA") && !EVP_PKEY_is_a(key, "EC"))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    static const uint8_t empty[1] = {0};
    if (econtent == NULL)
        econtent = empty;
    ERR_set_mark();
    int rc;
    ASN1_OBJECT *ctype = econtent_type != NULL ? oid_object(econtent_type, econtent_type_len) : NULL;
    if (ctype == NULL)
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    else if (X509_check_private_key(cert, key) != 1)
        rc = NEGOEX_ERR_CREDENTIAL_LOAD;
    else
        rc = do_sign(econtent, len, ctype, cert, key, extra_certs, dg, flags, out);
    ASN1_OBJECT_free(ctype);
    ERR_pop_to_mark();
    return rc;
}
