/* PKU2U-only pieces (pku2u.asn): the NEGOEX metadata of the PKU2U auth
 * scheme, KRB-FINISHED, KERB-AD-RESTRICTION-ENTRY; and the GSS framing of
 * PKU2U tokens (RFC 2743 3.1 header, mech 1.3.6.1.5.2.7, 2-byte TOK_ID). */
#include "pku2u/asn1_internal.h"

#include "bytes.h"
#include "der.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Metadata                                                                  */
/* ------------------------------------------------------------------------ */

static int read_metadata(asn1_dec *d, void *vout, int initiator)
{
    negoex_pku2u_metadata *out = vout;
    out->initiator = initiator;
    REQ(d, asn1_read_epis(d, "trustedCertifiers", "trustedCertifiers", &out->trusted_certifier_count,
                          out->trusted_certifiers),
        "trustedCertifiers");
    if (!initiator)
        return NEGOEX_OK;
    REQ(d, asn1_prim(d, "target.realm", NX_TAG_GENERAL_STRING, "realm", &out->target_realm), "realm");
    REQ(d, asn1_read_principal(d, "target.sname", "sname", &out->target_sname), "sname");
    return NEGOEX_OK;
}

int negoex_pku2u_decode_initiator_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out,
                                           negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKU2U, ASN1_TYPE_PKU2U("Pku2uInitiatorMetaData"), "Pku2uInitiatorMetaData", der,
                            len, out, sizeof *out, read_metadata, 1, err);
}

int negoex_pku2u_decode_acceptor_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out,
                                          negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKU2U, ASN1_TYPE_PKU2U("Pku2uAcceptorMetaData"), "Pku2uAcceptorMetaData", der,
                            len, out, sizeof *out, read_metadata, 0, err);
}

int negoex_pku2u_decode_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata *out, negoex_error_info *err)
{
    if (out == NULL)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "Pku2uMetaData");
    memset(out, 0, sizeof *out);
    /* The initiator's has a target [1] after the certifiers [0]. */
    uint8_t tags[2];
    size_t n = 0;
    int rc = asn1_child_tags(der, len, tags, 2, &n, "Pku2uMetaData", err);
    if (rc != NEGOEX_OK)
        return rc;
    if (n >= 2 && tags[1] == 0xa1)
        return negoex_pku2u_decode_initiator_metadata(der, len, out, err);
    return negoex_pku2u_decode_acceptor_metadata(der, len, out, err);
}

/* ------------------------------------------------------------------------ */
/* KRB-FINISHED, KERB-AD-RESTRICTION-ENTRY                                   */
/* ------------------------------------------------------------------------ */

static int read_finished(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_finished *out = vout;
    (void)unused;
    REQ(d, asn1_read_checksum(d, "gss-mic", "gss-mic", &out->gss_mic), "gss-mic");
    return NEGOEX_OK;
}

int negoex_krb_decode_finished(const uint8_t *der, size_t len, negoex_krb_finished *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKU2U, ASN1_TYPE_PKU2U("KRB-FINISHED"), "KRB-FINISHED", der, len, out,
                            sizeof *out, read_finished, 0, err);
}

static int read_restriction(asn1_dec *d, const char *path, negoex_krb_ad_restriction *out)
{
    char p[ASN1_PATH_MAX];
    REQ(d, asn1_int32(d, P(p, path, "restriction-type"), "restriction-type", &out->restriction_type),
        "restriction-type");
    REQ(d, asn1_prim(d, P(p, path, "restriction"), NX_TAG_OCTET_STRING, "restriction", &out->restriction),
        "restriction");
    return NEGOEX_OK;
}

static int read_restrictions(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_ad_restrictions *out = vout;
    char p[ASN1_PATH_MAX];
    (void)unused;
    REQ(d, asn1_count(d, "", 0, NEGOEX_KRB_MAX_AD, "KERB-AD-RESTRICTIONS", &out->count), "KERB-AD-RESTRICTIONS");
    for (size_t i = 0; i < out->count; i++) {
        int rc = read_restriction(d, asn1_pathf(p, "", "", i + 1), &out->entries[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

int negoex_krb_decode_ad_restrictions(const uint8_t *der, size_t len, negoex_krb_ad_restrictions *out,
                                      negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKU2U, ASN1_TYPE_PKU2U("KERB-AD-RESTRICTIONS"), "KERB-AD-RESTRICTIONS", der, len,
                            out, sizeof *out, read_restrictions, 0, err);
}

static int read_restriction_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return read_restriction(d, "", vout);
}

int negoex_krb_decode_ad_restriction_entry(const uint8_t *der, size_t len, negoex_krb_ad_restriction *out,
                                           negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_PKU2U, ASN1_TYPE_PKU2U("KERB-AD-RESTRICTION-ENTRY"), "KERB-AD-RESTRICTION-ENTRY",
                            der, len, out, sizeof *out, read_restriction_root, 0, err);
}

int negoex_krb_decode_token_integrity(negoex_bytes restriction, negoex_krb_token_integrity *out)
{
    if (out == NULL || restriction.data == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* Flags (u32 LE), TokenIL (u32 LE), MachineID (32 bytes). */
    if (restriction.len != 40)
        return NEGOEX_ERR_DER_VALUE;
    out->flags = negoex_le32(restriction.data);
    out->token_il = negoex_le32(restriction.data + 4);
    out->machine_id = restriction.data + 8;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* GSS framing                                                               */
/* ------------------------------------------------------------------------ */

static const struct {
    unsigned tok_id;
    uint8_t app_tag; /* first byte of the Kerberos message */
    const char *name;
} tok_ids[] = {
    {NEGOEX_PKU2U_TOK_AS_REQ, 0x6a, "AS-REQ"},       /* [APPLICATION 10] */
    {NEGOEX_PKU2U_TOK_AS_REP, 0x6b, "AS-REP"},       /* [APPLICATION 11] */
    {NEGOEX_PKU2U_TOK_AP_REQ, 0x6e, "AP-REQ"},       /* [APPLICATION 14] */
    {NEGOEX_PKU2U_TOK_AP_REP, 0x6f, "AP-REP"},       /* [APPLICATION 15] */
    {NEGOEX_PKU2U_TOK_KRB_ERROR, 0x7e, "KRB-ERROR"}, /* [APPLICATION 30] */
};

static int tok_index(unsigned tok_id)
{
    for (size_t i = 0; i < sizeof tok_ids / sizeof tok_ids[0]; i++)
        if (tok_ids[i].tok_id == tok_id)
            return (int)i;
    return -1;
}

const char *negoex_pku2u_tok_id_name(unsigned tok_id)
{
    int i = tok_index(tok_id);
    return i < 0 ? NULL : tok_ids[i].name;
}

/* OID TLV of the mechanism: 06 06 2b 06 01 05 02 07. */
#define MECH_TLV_LEN (2u + NEGOEX_OID_PKU2U_LEN)

int negoex_pku2u_token_parse(const uint8_t *tok, size_t len, negoex_pku2u_token *out, negoex_error_info *err)
{
    if (out == NULL || (tok == NULL && len != 0))
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "token");
    memset(out, 0, sizeof *out);
    if (len == 0)
        return asn1_fail(err, NEGOEX_ERR_EMPTY_TOKEN, 0, "token");
    der_reader r, c;
    der_tlv outer, mech;
    negoex_der_reader_init(&r, tok, 0, len);
    int rc = negoex_der_read(&r, DER_TAG_APPLICATION_0, "InitialContextToken", &outer, err);
    if (rc == NEGOEX_OK)
        rc = negoex_der_expect_end(&r, "InitialContextToken", err);
    if (rc == NEGOEX_OK) {
        negoex_der_enter(&c, &r, &outer);
        rc = negoex_der_read(&c, DER_TAG_OID, "thisMech", &mech, err);
    }
    if (rc != NEGOEX_OK)
        return rc;
    if (mech.len != NEGOEX_OID_PKU2U_LEN || memcmp(tok + mech.start, NEGOEX_OID_PKU2U, NEGOEX_OID_PKU2U_LEN) != 0)
        return asn1_fail(err, NEGOEX_ERR_DER_VALUE, mech.at, "thisMech");
    if (c.end - c.pos < 2)
        return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, c.pos, "TOK_ID");
    unsigned tok_id = (unsigned)tok[c.pos] << 8 | tok[c.pos + 1];
    int i = tok_index(tok_id);
    if (i < 0)
        return asn1_fail(err, NEGOEX_ERR_DER_VALUE, c.pos, "TOK_ID");
    size_t pdu = c.pos + 2;
    if (pdu == c.end)
        return asn1_fail(err, NEGOEX_ERR_DER_TRUNCATED, pdu, "innerContextToken");
    if (tok[pdu] != tok_ids[i].app_tag)
        return asn1_fail(err, NEGOEX_ERR_DER_TAG, pdu, "innerContextToken");
    out->tok_id = tok_id;
    out->pdu.data = tok + pdu;
    out->pdu.len = c.end - pdu;
    out->pdu_offset = pdu;
    return NEGOEX_OK;
}

int negoex_pku2u_token_size(size_t pdu_len, size_t *out)
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t content = MECH_TLV_LEN + 2;
    size_t total = 0;
    int rc = negoex_der_add(&content, pdu_len);
    if (rc == NEGOEX_OK)
        rc = negoex_der_add_tlv(&total, content);
    if (rc != NEGOEX_OK)
        return rc;
    *out = total;
    return NEGOEX_OK;
}

int negoex_pku2u_token_write(unsigned tok_id, const uint8_t *pdu, size_t pdu_len, uint8_t *out, size_t cap,
                             size_t *written)
{
    if (tok_index(tok_id) < 0 || (pdu == NULL && pdu_len != 0) || written == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    size_t total;
    int rc = negoex_pku2u_token_size(pdu_len, &total);
    if (rc != NEGOEX_OK)
        return rc;
    *written = total;
    if (out == NULL || cap < total)
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    uint8_t *p = negoex_der_put_header(out, DER_TAG_APPLICATION_0, MECH_TLV_LEN + 2 + pdu_len);
    p = negoex_der_put_tlv(p, DER_TAG_OID, NEGOEX_OID_PKU2U, NEGOEX_OID_PKU2U_LEN);
    *p++ = (uint8_t)(tok_id >> 8);
    *p++ = (uint8_t)tok_id;
    if (pdu_len != 0)
        memcpy(p, pdu, pdu_len);
    return NEGOEX_OK;
}

int negoex_pku2u_decode_token(const uint8_t *tok, size_t len, negoex_pku2u_message *out, negoex_error_info *err)
{
    if (out == NULL)
        return asn1_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "token");
    memset(out, 0, sizeof *out);
    int rc = negoex_pku2u_token_parse(tok, len, &out->token, err);
    if (rc != NEGOEX_OK)
        return rc;
    const uint8_t *p = out->token.pdu.data;
    size_t n = out->token.pdu.len;
    negoex_error_info inner = {0, 0, NULL};
    switch (out->token.tok_id) {
    case NEGOEX_PKU2U_TOK_AS_REQ:
        rc = negoex_krb_decode_as_req(p, n, &out->u.as_req, &inner);
        break;
    case NEGOEX_PKU2U_TOK_AS_REP:
        rc = negoex_krb_decode_as_rep(p, n, &out->u.as_rep, &inner);
        break;
    case NEGOEX_PKU2U_TOK_AP_REQ:
        rc = negoex_krb_decode_ap_req(p, n, &out->u.ap_req, &inner);
        break;
    case NEGOEX_PKU2U_TOK_AP_REP:
        rc = negoex_krb_decode_ap_rep(p, n, &out->u.ap_rep, &inner);
        break;
    default: /* the parse admits only the five TOK_IDs */
        rc = negoex_krb_decode_error(p, n, &out->u.krb_error, &inner);
        break;
    }
    if (rc != NEGOEX_OK) {
        size_t base = out->token.pdu_offset;
        memset(out, 0, sizeof *out);
        return asn1_fail(err, rc, base + inner.offset, inner.field);
    }
    return NEGOEX_OK;
}
