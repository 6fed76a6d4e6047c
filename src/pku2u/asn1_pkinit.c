/* PKINIT decoders (RFC 4556, pkinit.asn), the outer CMS SignedData and the
 * X.501 Name (cms.asn): where the AuthPack / KDCDHKeyInfo, the certificates
 * and the signature are, and the Diffie-Hellman numbers. */
#include "pku2u/asn1_internal.h"

#include <negoex/spnego.h>

#include <string.h>

/* ------------------------------------------------------------------------ */
/* ExternalPrincipalIdentifier                                               */
/* ------------------------------------------------------------------------ */

static int read_epi(asn1_dec *d, const char *path, negoex_krb_epi *out)
{
    char p[ASN1_PATH_MAX];
    int has;
    OPT(asn1_prim(d, P(p, path, "subjectName"), NX_TAG_CTX_PRIM(0), "subjectName", &out->subject_name), has);
    OPT(asn1_prim(d, P(p, path, "issuerAndSerialNumber"), NX_TAG_CTX_PRIM(1), "issuerAndSerialNumber",
                  &out->issuer_and_serial),
        has);
    OPT(asn1_prim(d, P(p, path, "subjectKeyIdentifier"), NX_TAG_CTX_PRIM(2), "subjectKeyIdentifier",
                  &out->subject_key_id),
        has);
    (void)has;
    return NEGOEX_OK;
}

int asn1_read_epis(asn1_dec *d, const char *path, const char *field, size_t *count,
                   negoex_krb_epi out[NEGOEX_KRB_MAX_CERTIFIERS])
{
    char p[ASN1_PATH_MAX];
    int rc = asn1_count(d, path, 0, NEGOEX_KRB_MAX_CERTIFIERS, field, count);
    if (rc != NEGOEX_OK)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        rc = read_epi(d, asn1_pathf(p, path, "", i + 1), &out[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

static int read_epi_root(asn1_dec *d, void *out, int unused)
{
    (void)unused;
    return read_epi(d, "", out);
}

int negoex_krb_decode_epi(const uint8_t *der, size_t len, negoex_krb_epi *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("ExternalPrincipalIdentifier"),
                            "ExternalPrincipalIdentifier", der, len, out, sizeof *out, read_epi_root, 0, err);
}

/* ------------------------------------------------------------------------ */
/* PA-PK-AS-REQ, AuthPack                                                    */
/* ------------------------------------------------------------------------ */

static int read_pa_pk_as_req(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_pa_pk_as_req *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_prim(d, "signedAuthPack", NX_TAG_CTX_PRIM(0), "signedAuthPack", &out->signed_auth_pack),
        "signedAuthPack");
    OPT(asn1_read_epis(d, "trustedCertifiers", "trustedCertifiers", &out->trusted_certifier_count,
                       out->trusted_certifiers),
        out->has_trusted_certifiers);
    OPT(asn1_prim(d, "kdcPkId", NX_TAG_CTX_PRIM(2), "kdcPkId", &out->kdc_pk_id), has);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_pa_pk_as_req(const uint8_t *der, size_t len, negoex_krb_pa_pk_as_req *out,
                                   negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("PA-PK-AS-REQ"), "PA-PK-AS-REQ", der, len, out,
                            sizeof *out, read_pa_pk_as_req, 0, err);
}

static int read_dh_params(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_dh_params *out = vout;
    static const char *const names[3] = {"p", "g", "q"};
    negoex_bytes *const dst[3] = {&out->p, &out->g, &out->q};
    negoex_bytes c;
    (void)unused;
    for (int i = 0; i < 3; i++) {
        REQ(d, asn1_prim(d, names[i], NX_TAG_INTEGER, names[i], &c), names[i]);
        int rc = asn1_unsigned_magnitude(c, asn1_tlv_offset(d, c), names[i], d->err, dst[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    int rc = asn1_prim(d, "j", NX_TAG_INTEGER, "j", &c);
    if (rc < 0)
        return rc;
    if (rc == NEGOEX_OK) {
        rc = asn1_unsigned_magnitude(c, asn1_tlv_offset(d, c), "j", d->err, &out->j);
        if (rc != NEGOEX_OK)
            return rc;
    }
    size_t s, e;
    out->has_validation_parms = asn1_span(d, "validationParms", &s, &e) == NEGOEX_OK;
    return NEGOEX_OK;
}

int negoex_krb_decode_dh_params(const uint8_t *der, size_t len, negoex_krb_dh_params *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("DomainParameters"), "DomainParameters", der, len, out,
                            sizeof *out, read_dh_params, 0, err);
}

/* DHPublicKey ::= INTEGER, carried in the octets of a BIT STRING. A
 * negative one (sspi-rs drops the leading 00) is read as unsigned. */
typedef struct dh_y {
    negoex_bytes y;
    int negative;
} dh_y;

static int read_dh_public_key(asn1_dec *d, void *vout, int unused)
{
    dh_y *out = vout;
    negoex_bytes c;
    (void)unused;
    REQ(d, asn1_prim(d, "", NX_TAG_INTEGER, "DHPublicKey", &c), "DHPublicKey");
    if (c.data[0] & 0x80) {
        out->y = c;
        out->negative = 1;
        return NEGOEX_OK;
    }
    return asn1_unsigned_magnitude(c, 0, "DHPublicKey", d->err, &out->y);
}

static int decode_dh_public_key(asn1_dec *parent, negoex_bytes bits, negoex_bytes *y, int *negative)
{
    negoex_error_info inner = {0, 0, NULL};
    dh_y out;
    int rc = asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("DHPublicKey"), "DHPublicKey", bits.data, bits.len,
                              &out, sizeof out, read_dh_public_key, 0, &inner);
    if (rc == NEGOEX_OK) {
        *y = out.y;
        *negative = out.negative;
    }
    return asn1_nested(parent, bits, rc, &inner);
}

static int read_auth_pack(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_auth_pack *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_usec(d, "pkAuthenticator.cusec", "cusec", &out->cusec), "cusec");
    REQ(d, asn1_ktime(d, "pkAuthenticator.ctime", "ctime", &out->ctime), "ctime");
    REQ(d, asn1_uint32(d, "pkAuthenticator.nonce", "nonce", &out->nonce), "nonce");
    OPT(asn1_prim(d, "pkAuthenticator.paChecksum", NX_TAG_OCTET_STRING, "paChecksum", &out->pa_checksum), has);

    OPT(asn1_tlv(d, "clientPublicValue", 1, "clientPublicValue", &out->client_public_value), has);
    if (has) {
        REQ(d, asn1_prim(d, "clientPublicValue.algorithm.algorithm", NX_TAG_OID, "algorithm", &out->cpv_algorithm),
            "algorithm");
        OPT(asn1_tlv(d, "clientPublicValue.algorithm.parameters", 0, "parameters", &out->cpv_parameters), has);
        REQ(d, asn1_bits(d, "clientPublicValue.subjectPublicKey", "subjectPublicKey", &out->cpv_public_key),
            "subjectPublicKey");
        if (negoex_asn1_oid_is(out->cpv_algorithm, NEGOEX_OID_DHPUBLICNUMBER, NEGOEX_OID_DHPUBLICNUMBER_LEN)) {
            /* RFC 3279: dhpublicnumber keys carry DomainParameters. */
            if (!has)
                return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE,
                                 (size_t)(out->client_public_value.data - d->buf), "parameters");
            negoex_error_info inner = {0, 0, NULL};
            int rc = negoex_krb_decode_dh_params(out->cpv_parameters.data, out->cpv_parameters.len, &out->dh, &inner);
            rc = asn1_nested(d, out->cpv_parameters, rc, &inner);
            if (rc != NEGOEX_OK)
                return rc;
            rc = decode_dh_public_key(d, out->cpv_public_key, &out->dh_y, &out->dh_y_was_negative);
            if (rc != NEGOEX_OK)
                return rc;
            out->is_dh = 1;
        }
    }
    OPT(asn1_tlv(d, "supportedCMSTypes", 1, "supportedCMSTypes", &out->supported_cms_types), has);
    OPT(asn1_prim(d, "clientDHNonce", NX_TAG_OCTET_STRING, "clientDHNonce", &out->client_dh_nonce), has);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_auth_pack(const uint8_t *der, size_t len, negoex_krb_auth_pack *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("AuthPack"), "AuthPack", der, len, out, sizeof *out,
                            read_auth_pack, 0, err);
}

/* ------------------------------------------------------------------------ */
/* PA-PK-AS-REP, KDCDHKeyInfo                                                */
/* ------------------------------------------------------------------------ */

static int read_pa_pk_as_rep(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_pa_pk_as_rep *out = vout;
    char alt[32];
    int has;
    (void)unused;
    int rc = asn1_choice(d, "", alt, sizeof alt, "PA-PK-AS-REP");
    if (rc != NEGOEX_OK)
        return rc;
    if (strcmp(alt, "dhInfo") == 0) {
        out->choice = NEGOEX_KRB_PK_AS_REP_DH_INFO;
        REQ(d, asn1_prim(d, "dhInfo.dhSignedData", NX_TAG_CTX_PRIM(0), "dhSignedData", &out->dh_signed_data),
            "dhSignedData");
        OPT(asn1_prim(d, "dhInfo.serverDHNonce", NX_TAG_OCTET_STRING, "serverDHNonce", &out->server_dh_nonce),
            has);
        (void)has;
        return NEGOEX_OK;
    }
    out->choice = NEGOEX_KRB_PK_AS_REP_ENC_KEY_PACK;
    REQ(d, asn1_prim(d, "encKeyPack", NX_TAG_CTX_PRIM(1), "encKeyPack", &out->enc_key_pack), "encKeyPack");
    return NEGOEX_OK;
}

int negoex_krb_decode_pa_pk_as_rep(const uint8_t *der, size_t len, negoex_krb_pa_pk_as_rep *out,
                                   negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("PA-PK-AS-REP"), "PA-PK-AS-REP", der, len, out,
                            sizeof *out, read_pa_pk_as_rep, 0, err);
}

static int read_kdc_dh_key_info(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_kdc_dh_key_info *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_bits(d, "subjectPublicKey", "subjectPublicKey", &out->subject_public_key), "subjectPublicKey");
    REQ(d, asn1_uint32(d, "nonce", "nonce", &out->nonce), "nonce");
    OPT(asn1_ktime(d, "dhKeyExpiration", "dhKeyExpiration", &out->dh_key_expiration), has);
    (void)has;
    return decode_dh_public_key(d, out->subject_public_key, &out->y, &out->y_was_negative);
}

int negoex_krb_decode_kdc_dh_key_info(const uint8_t *der, size_t len, negoex_krb_kdc_dh_key_info *out,
                                      negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKINIT, ASN1_TYPE_PKINIT("KDCDHKeyInfo"), "KDCDHKeyInfo", der, len, out,
                            sizeof *out, read_kdc_dh_key_info, 0, err);
}

/* ------------------------------------------------------------------------ */
/* CMS SignedData                                                            */
/* ------------------------------------------------------------------------ */

static const uint8_t OID_CONTENT_TYPE[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x03};
static const uint8_t OID_MESSAGE_DIGEST[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x04};

static int read_signer(asn1_dec *d, const char *path, negoex_cms_signer *out)
{
    char p[ASN1_PATH_MAX], q[ASN1_PATH_MAX], alt[32];
    int has, rc;
    REQ(d, asn1_tlv(d, path, 0, "SignerInfo", &out->raw), "SignerInfo");
    REQ(d, asn1_int32(d, P(p, path, "version"), "version", &out->version), "version");
    rc = asn1_choice(d, P(p, path, "sid"), alt, sizeof alt, "sid");
    if (rc != NEGOEX_OK)
        return rc;
    if (strcmp(alt, "issuerAndSerialNumber") == 0) {
        REQ(d, asn1_tlv(d, P(p, path, "sid.issuerAndSerialNumber.issuer"), 0, "issuer", &out->issuer), "issuer");
        REQ(d, asn1_prim(d, P(p, path, "sid.issuerAndSerialNumber.serialNumber"), NX_TAG_INTEGER, "serialNumber",
                         &out->serial),
            "serialNumber");
    } else {
        out->sid_is_ski = 1;
        REQ(d, asn1_prim(d, P(p, path, "sid.subjectKeyIdentifier"), NX_TAG_CTX_PRIM(0), "subjectKeyIdentifier",
                         &out->ski),
            "subjectKeyIdentifier");
    }
    REQ(d, asn1_prim(d, P(p, path, "digestAlgorithm.algorithm"), NX_TAG_OID, "digestAlgorithm",
                     &out->digest_algorithm),
        "digestAlgorithm");
    OPT(asn1_tlv(d, P(p, path, "signedAttrs"), 0, "signedAttrs", &out->signed_attrs), has);
    if (has) {
        char attrs[ASN1_PATH_MAX];
        size_t n;
        P(attrs, path, "signedAttrs");
        /* A SET OF attributes: no fixed capacity, each is only looked at. */
        REQ(d, asn1_count(d, attrs, 1, (size_t)INT32_MAX, "signedAttrs", &n), "signedAttrs");
        for (size_t i = 0; i < n; i++) {
            negoex_bytes type;
            size_t one;
            asn1_pathf(p, attrs, "", i + 1);
            REQ(d, asn1_prim(d, P(q, p, "attrType"), NX_TAG_OID, "attrType", &type), "attrType");
            int ct = negoex_asn1_oid_is(type, OID_CONTENT_TYPE, sizeof OID_CONTENT_TYPE);
            int md = negoex_asn1_oid_is(type, OID_MESSAGE_DIGEST, sizeof OID_MESSAGE_DIGEST);
            if (!ct && !md)
                continue;
            /* RFC 5652 11.1 / 11.2: exactly one value, once. */
            negoex_bytes *dst = ct ? &out->content_type_attr : &out->message_digest_attr;
            const char *name = ct ? "content-type" : "message-digest";
            char values[ASN1_PATH_MAX];
            P(values, p, "attrValues");
            REQ(d, asn1_count(d, values, 1, 1, name, &one), name);
            if (dst->data != NULL) {
                size_t s = 0, e;
                (void)asn1_span(d, p, &s, &e);
                return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, s, name);
            }
            REQ(d, asn1_prim(d, asn1_pathf(q, values, "", 1), ct ? NX_TAG_OID : NX_TAG_OCTET_STRING, name, dst),
                name);
        }
    }
    REQ(d, asn1_prim(d, P(p, path, "signatureAlgorithm.algorithm"), NX_TAG_OID, "signatureAlgorithm",
                     &out->signature_algorithm),
        "signatureAlgorithm");
    REQ(d, asn1_prim(d, P(p, path, "signature"), NX_TAG_OCTET_STRING, "signature", &out->signature), "signature");
    size_t s, e;
    out->has_unsigned_attrs = asn1_span(d, P(p, path, "unsignedAttrs"), &s, &e) == NEGOEX_OK;
    return NEGOEX_OK;
}

static int read_signed_data(asn1_dec *d, void *vout, int unused)
{
    negoex_cms_signed_data *out = vout;
    char p[ASN1_PATH_MAX];
    int has, rc;
    (void)unused;
    out->raw.data = d->buf;
    out->raw.len = d->len;
    REQ(d, asn1_int32(d, "version", "version", &out->version), "version");
    REQ(d, asn1_count(d, "digestAlgorithms", 0, NEGOEX_CMS_MAX_DIGEST_ALGS, "digestAlgorithms",
                      &out->digest_algorithm_count),
        "digestAlgorithms");
    for (size_t i = 0; i < out->digest_algorithm_count; i++) {
        char q[ASN1_PATH_MAX];
        asn1_pathf(p, "digestAlgorithms", "", i + 1);
        REQ(d, asn1_prim(d, P(q, p, "algorithm"), NX_TAG_OID, "digestAlgorithms", &out->digest_algorithms[i]),
            "digestAlgorithms");
    }
    REQ(d, asn1_prim(d, "encapContentInfo.eContentType", NX_TAG_OID, "eContentType", &out->econtent_type),
        "eContentType");
    OPT(asn1_prim(d, "encapContentInfo.eContent", NX_TAG_OCTET_STRING, "eContent", &out->econtent), has);
    rc = asn1_count(d, "certificates", 0, NEGOEX_CMS_MAX_CERTS, "certificates", &out->certificate_count);
    if (rc < 0)
        return rc;
    if (rc == ASN1_ABSENT)
        out->certificate_count = 0;
    for (size_t i = 0; i < out->certificate_count; i++)
        REQ(d, asn1_tlv(d, asn1_pathf(p, "certificates", "", i + 1), 0, "certificates", &out->certificates[i]),
            "certificates");
    size_t s, e;
    out->has_crls = asn1_span(d, "crls", &s, &e) == NEGOEX_OK;
    REQ(d, asn1_count(d, "signerInfos", 0, NEGOEX_CMS_MAX_SIGNERS, "signerInfos", &out->signer_count),
        "signerInfos");
    for (size_t i = 0; i < out->signer_count; i++) {
        rc = read_signer(d, asn1_pathf(p, "signerInfos", "", i + 1), &out->signers[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    (void)has;
    return NEGOEX_OK;
}

/* ContentInfo { id-signedData, [0] EXPLICIT SignedData }: the inner TLV. */
static int read_content_info(asn1_dec *d, void *vout, int unused)
{
    negoex_bytes *content = vout;
    negoex_bytes type;
    (void)unused;
    REQ(d, asn1_prim(d, "contentType", NX_TAG_OID, "contentType", &type), "contentType");
    if (!negoex_asn1_oid_is(type, NEGOEX_OID_CMS_SIGNED_DATA, NEGOEX_OID_CMS_SIGNED_DATA_LEN))
        return asn1_fail(d->err, NEGOEX_ERR_DER_VALUE, asn1_tlv_offset(d, type), "contentType");
    REQ(d, asn1_tlv(d, "content", 1, "content", content), "content");
    return NEGOEX_OK;
}

int negoex_cms_decode_signed_data(const uint8_t *der, size_t len, negoex_cms_signed_data *out,
                                  negoex_error_info *err)
{
    if (out == NULL)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "SignedData");
    memset(out, 0, sizeof *out);
    /* A SignedData starts with its version (INTEGER), a ContentInfo with
     * its contentType (OID). */
    uint8_t first = 0;
    size_t n = 0;
    int rc = asn1_child_tags(der, len, &first, 1, &n, "SignedData", err);
    if (rc != NEGOEX_OK)
        return rc;
    if (n == 0 || first != NX_TAG_OID)
        return asn1_decode_with(ASN1_MOD_CMS, ASN1_TYPE_CMS("SignedData"), "SignedData", der, len, out, sizeof *out,
                                read_signed_data, 0, err);
    negoex_bytes inner;
    rc = asn1_decode_with(ASN1_MOD_CMS, ASN1_TYPE_CMS("ContentInfo"), "ContentInfo", der, len, &inner, sizeof inner,
                          read_content_info, 0, err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_error_info e = {0, 0, NULL};
    rc = asn1_decode_with(ASN1_MOD_CMS, ASN1_TYPE_CMS("SignedData"), "SignedData", inner.data, inner.len, out,
                          sizeof *out, read_signed_data, 0, &e);
    if (rc != NEGOEX_OK)
        return asn1_fail(err, rc, (size_t)(inner.data - der) + e.offset, e.field);
    out->wrapped = 1;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* X.501 Name                                                                */
/* ------------------------------------------------------------------------ */

static int read_name(asn1_dec *d, void *vout, int unused)
{
    negoex_x509_name *out = vout;
    char rdn[ASN1_PATH_MAX], atv[ASN1_PATH_MAX], p[ASN1_PATH_MAX];
    (void)unused;
    out->raw.data = d->buf;
    out->raw.len = d->len;
    REQ(d, asn1_count(d, "rdnSequence", 0, NEGOEX_X509_MAX_ATTRS, "rdnSequence", &out->rdn_count), "rdnSequence");
    for (size_t i = 0; i < out->rdn_count; i++) {
        size_t n;
        asn1_pathf(rdn, "rdnSequence", "", i + 1);
        REQ(d, asn1_count(d, rdn, 1, NEGOEX_X509_MAX_ATTRS, "RelativeDistinguishedName", &n),
            "RelativeDistinguishedName");
        for (size_t j = 0; j < n; j++) {
            if (out->count == NEGOEX_X509_MAX_ATTRS) {
                size_t s = 0, e;
                (void)asn1_span(d, rdn, &s, &e);
                return asn1_fail(d->err, NEGOEX_ERR_TOO_LARGE, s, "RelativeDistinguishedName");
            }
            negoex_x509_attr *a = &out->attrs[out->count];
            asn1_pathf(atv, rdn, "", j + 1);
            a->rdn = i;
            REQ(d, asn1_prim(d, P(p, atv, "type"), NX_TAG_OID, "type", &a->type), "type");
            REQ(d, asn1_tlv(d, P(p, atv, "value"), 0, "value", &a->value_tlv), "value");
            /* The walk proved it one canonical TLV with a low tag number
             * or a high one; content follows its header. */
            a->value_tag = a->value_tlv.data[0];
            size_t hdr = 1;
            if ((a->value_tag & 0x1f) == 0x1f)
                while (a->value_tlv.data[hdr++] & 0x80)
                    ;
            uint8_t l0 = a->value_tlv.data[hdr++];
            if (l0 & 0x80)
                hdr += l0 & 0x7fu;
            a->value.data = a->value_tlv.data + hdr;
            a->value.len = a->value_tlv.len - hdr;
            out->count++;
        }
    }
    return NEGOEX_OK;
}

int negoex_x509_decode_name(const uint8_t *der, size_t len, negoex_x509_name *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_CMS, ASN1_TYPE_CMS("Name"), "Name", der, len, out, sizeof *out, read_name, 0,
                            err);
}

/* RFC 4514 text ------------------------------------------------------------ */

typedef struct text_out {
    char *buf;
    size_t cap;
    size_t n; /* bytes the full text needs, without the NUL */
} text_out;

static void put_bytes(text_out *t, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++, t->n++)
        if (t->cap > 0 && t->n < t->cap - 1)
            t->buf[t->n] = s[i];
}

static void put_str(text_out *t, const char *s)
{
    put_bytes(t, s, strlen(s));
}

static void put_hex_byte(text_out *t, uint8_t b, int escaped)
{
    static const char hex[] = "0123456789ABCDEF";
    char s[3] = {'\\', hex[b >> 4], hex[b & 15]};
    put_bytes(t, escaped ? s : s + 1, escaped ? 3 : 2);
}

static size_t utf8_encode(uint32_t cp, char out[4])
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | cp >> 6);
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | cp >> 12);
        out[1] = (char)(0x80 | (cp >> 6 & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | cp >> 18);
    out[1] = (char)(0x80 | (cp >> 12 & 0x3f));
    out[2] = (char)(0x80 | (cp >> 6 & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Length of the valid UTF-8 sequence at s (n left) and its code point, or 0. */
static size_t utf8_decode(const uint8_t *s, size_t n, uint32_t *cp)
{
    if (s[0] < 0x80) {
        *cp = s[0];
        return 1;
    }
    size_t len;
    uint32_t min;
    if ((s[0] & 0xe0) == 0xc0) {
        len = 2, min = 0x80, *cp = s[0] & 0x1fu;
    } else if ((s[0] & 0xf0) == 0xe0) {
        len = 3, min = 0x800, *cp = s[0] & 0x0fu;
    } else if ((s[0] & 0xf8) == 0xf0) {
        len = 4, min = 0x10000, *cp = s[0] & 0x07u;
    } else {
        return 0;
    }
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        *cp = *cp << 6 | (s[i] & 0x3fu);
    }
    if (*cp < min || *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
        return 0;
    return len;
}

/* One code point of a value at position first/last, RFC 4514 2.4 escapes. */
static void put_char(text_out *t, uint32_t cp, int first, int last)
{
    if (cp < 0x20 || cp == 0x7f) {
        put_hex_byte(t, (uint8_t)cp, 1);
        return;
    }
    if (cp == ',' || cp == '+' || cp == '"' || cp == '\\' || cp == '<' || cp == '>' || cp == ';' ||
        ((cp == ' ' || cp == '#') && first) || (cp == ' ' && last))
        put_bytes(t, "\\", 1);
    char u[4];
    put_bytes(t, u, utf8_encode(cp, u));
}

/* String types RFC 4514 text can show. */
static int is_string_tag(uint8_t tag)
{
    switch (tag) {
    case 0x0c: /* UTF8String */
    case 0x12: /* NumericString */
    case 0x13: /* PrintableString */
    case 0x14: /* TeletexString, read as Latin-1 */
    case 0x16: /* IA5String */
    case 0x1a: /* VisibleString */
    case 0x1c: /* UniversalString: UCS-4BE */
    case 0x1e: /* BMPString: UTF-16BE as Windows writes it */
        return 1;
    default:
        return 0;
    }
}

#define RAW_OCTET 0x80000000u /* an octet that is no character: escaped as \XX */

/* The next code point of a string value at *pos: 1, or -1 when the content
 * does not convert. */
static int next_code_point(uint8_t tag, negoex_bytes v, size_t *pos, uint32_t *cp)
{
    const uint8_t *s = v.data + *pos;
    size_t left = v.len - *pos;
    switch (tag) {
    case 0x1e: {
        if (left < 2)
            return -1;
        uint32_t u = (uint32_t)s[0] << 8 | s[1];
        *pos += 2;
        if (u >= 0xdc00 && u <= 0xdfff)
            return -1;
        if (u >= 0xd800 && u <= 0xdbff) {
            if (left < 4)
                return -1;
            uint32_t l = (uint32_t)s[2] << 8 | s[3];
            if (l < 0xdc00 || l > 0xdfff)
                return -1;
            u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
            *pos += 2;
        }
        *cp = u;
        return 1;
    }
    case 0x1c: {
        if (left < 4)
            return -1;
        uint32_t u = (uint32_t)s[0] << 24 | (uint32_t)s[1] << 16 | (uint32_t)s[2] << 8 | s[3];
        *pos += 4;
        if (u > 0x10ffff || (u >= 0xd800 && u <= 0xdfff))
            return -1;
        *cp = u;
        return 1;
    }
    case 0x0c: {
        /* Invalid UTF-8 goes out octet by octet, escaped. */
        size_t k = utf8_decode(s, left, cp);
        if (k == 0) {
            *cp = RAW_OCTET | s[0];
            k = 1;
        }
        *pos += k;
        return 1;
    }
    default:
        *cp = s[0];
        if (*cp >= 0x80 && tag != 0x14)
            *cp |= RAW_OCTET;
        *pos += 1;
        return 1;
    }
}

static const struct {
    uint8_t len;
    uint8_t oid[10];
    const char *name;
} attr_names[] = {
    {3, {0x55, 0x04, 0x03}, "CN"},
    {3, {0x55, 0x04, 0x07}, "L"},
    {3, {0x55, 0x04, 0x08}, "ST"},
    {3, {0x55, 0x04, 0x0a}, "O"},
    {3, {0x55, 0x04, 0x0b}, "OU"},
    {3, {0x55, 0x04, 0x06}, "C"},
    {3, {0x55, 0x04, 0x09}, "STREET"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19}, "DC"},
    {10, {0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01}, "UID"},
};

static int put_attr(text_out *t, const negoex_x509_attr *a)
{
    const char *name = NULL;
    for (size_t i = 0; i < sizeof attr_names / sizeof attr_names[0]; i++)
        if (negoex_asn1_oid_is(a->type, attr_names[i].oid, attr_names[i].len))
            name = attr_names[i].name;
    if (name != NULL) {
        put_str(t, name);
    } else {
        char dotted[160];
        if (negoex_oid_to_text(a->type.data, a->type.len, dotted, sizeof dotted, NULL) != NEGOEX_OK)
            return NEGOEX_ERR_DER_VALUE;
        put_str(t, dotted);
    }
    put_bytes(t, "=", 1);
    if (!is_string_tag(a->value_tag)) {
        /* Not a string: # and the hex of its DER (RFC 4514 2.4). */
        put_bytes(t, "#", 1);
        for (size_t i = 0; i < a->value_tlv.len; i++)
            put_hex_byte(t, a->value_tlv.data[i], 0);
        return NEGOEX_OK;
    }
    for (size_t pos = 0; pos < a->value.len;) {
        uint32_t cp;
        int first = pos == 0;
        if (next_code_point(a->value_tag, a->value, &pos, &cp) < 0)
            return NEGOEX_ERR_DER_VALUE;
        if (cp & RAW_OCTET)
            put_hex_byte(t, (uint8_t)cp, 1);
        else
            put_char(t, cp, first, pos == a->value.len);
    }
    return NEGOEX_OK;
}

int negoex_x509_name_to_string(const negoex_x509_name *name, char *out, size_t cap, size_t *need)
{
    if (name == NULL || (out == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    text_out t = {out, cap, 0};
    /* RFC 4514: the last RDN first. */
    int any = 0;
    for (size_t r = name->rdn_count; r-- > 0;) {
        int first_in_rdn = 1;
        for (size_t i = 0; i < name->count; i++) {
            if (name->attrs[i].rdn != r)
                continue;
            if (!first_in_rdn)
                put_bytes(&t, "+", 1);
            else if (any)
                put_bytes(&t, ",", 1);
            first_in_rdn = 0;
            any = 1;
            int rc = put_attr(&t, &name->attrs[i]);
            if (rc != NEGOEX_OK) {
                if (cap > 0)
                    out[0] = '\0';
                return rc;
            }
        }
    }
    if (need != NULL)
        *need = t.n + 1;
    if (cap > 0)
        out[t.n < cap - 1 ? t.n : cap - 1] = '\0';
    return t.n + 1 > cap ? NEGOEX_ERR_BUFFER_TOO_SMALL : NEGOEX_OK;
}
