/* Kerberos V5 decoders (RFC 4120, krb5.asn): views of AS/TGS-REQ and -REP,
 * AP-REQ/-REP, KRB-ERROR, Ticket, the encrypted parts once decrypted, and
 * their building blocks. */
#include "pku2u/asn1_internal.h"

#include <string.h>

/* ------------------------------------------------------------------------ */
/* Building blocks                                                           */
/* ------------------------------------------------------------------------ */

int asn1_read_principal(asn1_dec *d, const char *path, const char *field, negoex_krb_principal *out)
{
    char p[ASN1_PATH_MAX];
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    (void)field;
    REQ(d, asn1_int32(d, P(p, path, "name-type"), "name-type", &out->name_type), "name-type");
    REQ(d, asn1_count(d, P(p, path, "name-string"), 1, NEGOEX_KRB_MAX_NAME_COMPONENTS, "name-string", &out->count),
        "name-string");
    char list[ASN1_PATH_MAX];
    P(list, path, "name-string");
    for (size_t i = 0; i < out->count; i++)
        REQ(d, asn1_prim(d, asn1_pathf(p, list, "", i + 1), NX_TAG_GENERAL_STRING, "name-string", &out->components[i]),
            "name-string");
    return NEGOEX_OK;
}

int asn1_read_enc_data(asn1_dec *d, const char *path, const char *field, negoex_krb_enc_data *out)
{
    char p[ASN1_PATH_MAX];
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    (void)field;
    REQ(d, asn1_int32(d, P(p, path, "etype"), "etype", &out->etype), "etype");
    OPT(asn1_uint32(d, P(p, path, "kvno"), "kvno", &out->kvno), out->has_kvno);
    REQ(d, asn1_prim(d, P(p, path, "cipher"), NX_TAG_OCTET_STRING, "cipher", &out->cipher), "cipher");
    return NEGOEX_OK;
}

int asn1_read_key(asn1_dec *d, const char *path, const char *field, negoex_krb_keyblock *out)
{
    char p[ASN1_PATH_MAX];
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    (void)field;
    REQ(d, asn1_int32(d, P(p, path, "keytype"), "keytype", &out->keytype), "keytype");
    REQ(d, asn1_prim(d, P(p, path, "keyvalue"), NX_TAG_OCTET_STRING, "keyvalue", &out->keyvalue), "keyvalue");
    return NEGOEX_OK;
}

int asn1_read_checksum(asn1_dec *d, const char *path, const char *field, negoex_krb_cksum *out)
{
    char p[ASN1_PATH_MAX];
    size_t start, end;
    if (asn1_span(d, path, &start, &end) != NEGOEX_OK)
        return ASN1_ABSENT;
    (void)field;
    REQ(d, asn1_int32(d, P(p, path, "cksumtype"), "cksumtype", &out->cksumtype), "cksumtype");
    REQ(d, asn1_prim(d, P(p, path, "checksum"), NX_TAG_OCTET_STRING, "checksum", &out->checksum), "checksum");
    return NEGOEX_OK;
}

static int read_padata(asn1_dec *d, const char *path, negoex_krb_padata *out)
{
    char p[ASN1_PATH_MAX];
    REQ(d, asn1_int32(d, P(p, path, "padata-type"), "padata-type", &out->type), "padata-type");
    REQ(d, asn1_prim(d, P(p, path, "padata-value"), NX_TAG_OCTET_STRING, "padata-value", &out->value),
        "padata-value");
    return NEGOEX_OK;
}

/* SEQUENCE OF PA-DATA at path: absent gives 0 entries. */
static int read_padata_list(asn1_dec *d, const char *path, size_t min, size_t *count,
                            negoex_krb_padata out[NEGOEX_KRB_MAX_PADATA])
{
    char p[ASN1_PATH_MAX];
    int rc = asn1_count(d, path, min, NEGOEX_KRB_MAX_PADATA, "padata", count);
    if (rc == ASN1_ABSENT) {
        *count = 0;
        return NEGOEX_OK;
    }
    if (rc != NEGOEX_OK)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        rc = read_padata(d, asn1_pathf(p, path, "", i + 1), &out[i]);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

/* HostAddresses at path (may be empty); ASN1_ABSENT when not there. */
static int read_addresses(asn1_dec *d, const char *path, size_t *count, negoex_krb_address out[NEGOEX_KRB_MAX_ADDRESSES])
{
    char p[ASN1_PATH_MAX], q[ASN1_PATH_MAX];
    int rc = asn1_count(d, path, 0, NEGOEX_KRB_MAX_ADDRESSES, "addresses", count);
    if (rc != NEGOEX_OK)
        return rc;
    for (size_t i = 0; i < *count; i++) {
        asn1_pathf(p, path, "", i + 1);
        REQ(d, asn1_int32(d, P(q, p, "addr-type"), "addr-type", &out[i].addr_type), "addr-type");
        REQ(d, asn1_prim(d, P(q, p, "address"), NX_TAG_OCTET_STRING, "address", &out[i].address), "address");
    }
    return NEGOEX_OK;
}

static int read_ticket(asn1_dec *d, const char *path, unsigned explicit_tags, negoex_krb_ticket *out)
{
    char p[ASN1_PATH_MAX];
    REQ(d, asn1_tlv(d, path, explicit_tags, "ticket", &out->raw), "ticket");
    REQ(d, asn1_expect_int(d, P(p, path, "tkt-vno"), NEGOEX_KRB_PVNO, "tkt-vno"), "tkt-vno");
    REQ(d, asn1_prim(d, P(p, path, "realm"), NX_TAG_GENERAL_STRING, "realm", &out->realm), "realm");
    REQ(d, asn1_read_principal(d, P(p, path, "sname"), "sname", &out->sname), "sname");
    REQ(d, asn1_read_enc_data(d, P(p, path, "enc-part"), "enc-part", &out->enc_part), "enc-part");
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Messages                                                                  */
/* ------------------------------------------------------------------------ */

static int read_kdc_req(asn1_dec *d, void *vout, int msg_type)
{
    negoex_krb_kdc_req *out = vout;
    char p[ASN1_PATH_MAX];
    int rc;
    REQ(d, asn1_expect_int(d, "pvno", NEGOEX_KRB_PVNO, "pvno"), "pvno");
    REQ(d, asn1_expect_int(d, "msg-type", msg_type, "msg-type"), "msg-type");
    out->msg_type = msg_type;
    /* RFC 4120: padata, when present, is not empty. */
    rc = read_padata_list(d, "padata", 1, &out->padata_count, out->padata);
    if (rc != NEGOEX_OK)
        return rc;
    REQ(d, asn1_tlv(d, "req-body", 1, "req-body", &out->req_body), "req-body");
    REQ(d, asn1_kflags(d, "req-body.kdc-options", "kdc-options", &out->kdc_options), "kdc-options");
    OPT(asn1_read_principal(d, "req-body.cname", "cname", &out->cname), out->has_cname);
    REQ(d, asn1_prim(d, "req-body.realm", NX_TAG_GENERAL_STRING, "realm", &out->realm), "realm");
    OPT(asn1_read_principal(d, "req-body.sname", "sname", &out->sname), out->has_sname);
    int has;
    OPT(asn1_ktime(d, "req-body.from", "from", &out->from), has);
    REQ(d, asn1_ktime(d, "req-body.till", "till", &out->till), "till");
    OPT(asn1_ktime(d, "req-body.rtime", "rtime", &out->rtime), has);
    (void)has;
    REQ(d, asn1_uint32(d, "req-body.nonce", "nonce", &out->nonce), "nonce");
    REQ(d, asn1_count(d, "req-body.etype", 1, NEGOEX_KRB_MAX_ETYPES, "etype", &out->etype_count), "etype");
    for (size_t i = 0; i < out->etype_count; i++)
        REQ(d, asn1_int32(d, asn1_pathf(p, "req-body.etype", "", i + 1), "etype", &out->etypes[i]), "etype");
    OPT(read_addresses(d, "req-body.addresses", &out->address_count, out->addresses), out->has_addresses);
    OPT(asn1_read_enc_data(d, "req-body.enc-authorization-data", "enc-authorization-data",
                           &out->enc_authorization_data),
        out->has_enc_authorization_data);
    rc = asn1_count(d, "req-body.additional-tickets", 1, NEGOEX_KRB_MAX_TICKETS, "additional-tickets",
                    &out->additional_ticket_count);
    if (rc < 0)
        return rc;
    if (rc == ASN1_ABSENT)
        out->additional_ticket_count = 0;
    for (size_t i = 0; i < out->additional_ticket_count; i++) {
        negoex_krb_ticket t;
        memset(&t, 0, sizeof t);
        rc = read_ticket(d, asn1_pathf(p, "req-body.additional-tickets", "", i + 1), 0, &t);
        if (rc != NEGOEX_OK)
            return rc;
        out->additional_tickets[i] = t.raw;
    }
    return NEGOEX_OK;
}

int negoex_krb_decode_as_req(const uint8_t *der, size_t len, negoex_krb_kdc_req *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("AS-REQ"), "AS-REQ", der, len, out, sizeof *out, read_kdc_req,
                       NEGOEX_KRB_AS_REQ, err);
}

int negoex_krb_decode_tgs_req(const uint8_t *der, size_t len, negoex_krb_kdc_req *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("TGS-REQ"), "TGS-REQ", der, len, out, sizeof *out,
                       read_kdc_req, NEGOEX_KRB_TGS_REQ, err);
}

static int read_kdc_rep(asn1_dec *d, void *vout, int msg_type)
{
    negoex_krb_kdc_rep *out = vout;
    REQ(d, asn1_expect_int(d, "pvno", NEGOEX_KRB_PVNO, "pvno"), "pvno");
    REQ(d, asn1_expect_int(d, "msg-type", msg_type, "msg-type"), "msg-type");
    out->msg_type = msg_type;
    int rc = read_padata_list(d, "padata", 1, &out->padata_count, out->padata);
    if (rc != NEGOEX_OK)
        return rc;
    REQ(d, asn1_prim(d, "crealm", NX_TAG_GENERAL_STRING, "crealm", &out->crealm), "crealm");
    REQ(d, asn1_read_principal(d, "cname", "cname", &out->cname), "cname");
    REQ(d, read_ticket(d, "ticket", 1, &out->ticket), "ticket");
    REQ(d, asn1_read_enc_data(d, "enc-part", "enc-part", &out->enc_part), "enc-part");
    return NEGOEX_OK;
}

int negoex_krb_decode_as_rep(const uint8_t *der, size_t len, negoex_krb_kdc_rep *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("AS-REP"), "AS-REP", der, len, out, sizeof *out, read_kdc_rep,
                       NEGOEX_KRB_AS_REP, err);
}

int negoex_krb_decode_tgs_rep(const uint8_t *der, size_t len, negoex_krb_kdc_rep *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("TGS-REP"), "TGS-REP", der, len, out, sizeof *out,
                       read_kdc_rep, NEGOEX_KRB_TGS_REP, err);
}

static int read_ap_req(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_ap_req *out = vout;
    (void)unused;
    REQ(d, asn1_expect_int(d, "pvno", NEGOEX_KRB_PVNO, "pvno"), "pvno");
    REQ(d, asn1_expect_int(d, "msg-type", NEGOEX_KRB_AP_REQ, "msg-type"), "msg-type");
    REQ(d, asn1_kflags(d, "ap-options", "ap-options", &out->ap_options), "ap-options");
    REQ(d, read_ticket(d, "ticket", 1, &out->ticket), "ticket");
    REQ(d, asn1_read_enc_data(d, "authenticator", "authenticator", &out->authenticator), "authenticator");
    return NEGOEX_OK;
}

int negoex_krb_decode_ap_req(const uint8_t *der, size_t len, negoex_krb_ap_req *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("AP-REQ"), "AP-REQ", der, len, out, sizeof *out, read_ap_req, 0,
                       err);
}

static int read_ap_rep(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_ap_rep *out = vout;
    (void)unused;
    REQ(d, asn1_expect_int(d, "pvno", NEGOEX_KRB_PVNO, "pvno"), "pvno");
    REQ(d, asn1_expect_int(d, "msg-type", NEGOEX_KRB_AP_REP, "msg-type"), "msg-type");
    REQ(d, asn1_read_enc_data(d, "enc-part", "enc-part", &out->enc_part), "enc-part");
    return NEGOEX_OK;
}

int negoex_krb_decode_ap_rep(const uint8_t *der, size_t len, negoex_krb_ap_rep *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("AP-REP"), "AP-REP", der, len, out, sizeof *out, read_ap_rep, 0,
                       err);
}

static int read_error(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_error *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_expect_int(d, "pvno", NEGOEX_KRB_PVNO, "pvno"), "pvno");
    REQ(d, asn1_expect_int(d, "msg-type", NEGOEX_KRB_ERROR, "msg-type"), "msg-type");
    OPT(asn1_ktime(d, "ctime", "ctime", &out->ctime), has);
    OPT(asn1_usec(d, "cusec", "cusec", &out->cusec), out->has_cusec);
    REQ(d, asn1_ktime(d, "stime", "stime", &out->stime), "stime");
    REQ(d, asn1_usec(d, "susec", "susec", &out->susec), "susec");
    REQ(d, asn1_int32(d, "error-code", "error-code", &out->error_code), "error-code");
    OPT(asn1_prim(d, "crealm", NX_TAG_GENERAL_STRING, "crealm", &out->crealm), has);
    OPT(asn1_read_principal(d, "cname", "cname", &out->cname), out->has_cname);
    REQ(d, asn1_prim(d, "realm", NX_TAG_GENERAL_STRING, "realm", &out->realm), "realm");
    REQ(d, asn1_read_principal(d, "sname", "sname", &out->sname), "sname");
    OPT(asn1_prim(d, "e-text", NX_TAG_GENERAL_STRING, "e-text", &out->e_text), has);
    OPT(asn1_prim(d, "e-data", NX_TAG_OCTET_STRING, "e-data", &out->e_data), has);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_error(const uint8_t *der, size_t len, negoex_krb_error *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("KRB-ERROR"), "KRB-ERROR", der, len, out, sizeof *out,
                       read_error, 0, err);
}

static int read_ticket_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return read_ticket(d, "", 0, vout);
}

int negoex_krb_decode_ticket(const uint8_t *der, size_t len, negoex_krb_ticket *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("Ticket"), "Ticket", der, len, out, sizeof *out,
                       read_ticket_root, 0, err);
}

/* ------------------------------------------------------------------------ */
/* Encrypted parts (after decryption)                                        */
/* ------------------------------------------------------------------------ */

static int read_enc_kdc_rep_part(asn1_dec *d, void *vout, int app_tag)
{
    negoex_krb_enc_kdc_rep_part *out = vout;
    char p[ASN1_PATH_MAX], q[ASN1_PATH_MAX];
    int has;
    out->app_tag = (unsigned)app_tag;
    REQ(d, asn1_read_key(d, "key", "key", &out->key), "key");
    REQ(d, asn1_count(d, "last-req", 0, NEGOEX_KRB_MAX_LAST_REQ, "last-req", &out->last_req_count), "last-req");
    for (size_t i = 0; i < out->last_req_count; i++) {
        asn1_pathf(p, "last-req", "", i + 1);
        REQ(d, asn1_int32(d, P(q, p, "lr-type"), "lr-type", &out->last_req[i].lr_type), "lr-type");
        REQ(d, asn1_ktime(d, P(q, p, "lr-value"), "lr-value", &out->last_req[i].lr_value), "lr-value");
    }
    REQ(d, asn1_uint32(d, "nonce", "nonce", &out->nonce), "nonce");
    OPT(asn1_ktime(d, "key-expiration", "key-expiration", &out->key_expiration), has);
    REQ(d, asn1_kflags(d, "flags", "flags", &out->flags), "flags");
    REQ(d, asn1_ktime(d, "authtime", "authtime", &out->authtime), "authtime");
    OPT(asn1_ktime(d, "starttime", "starttime", &out->starttime), has);
    REQ(d, asn1_ktime(d, "endtime", "endtime", &out->endtime), "endtime");
    OPT(asn1_ktime(d, "renew-till", "renew-till", &out->renew_till), has);
    REQ(d, asn1_prim(d, "srealm", NX_TAG_GENERAL_STRING, "srealm", &out->srealm), "srealm");
    REQ(d, asn1_read_principal(d, "sname", "sname", &out->sname), "sname");
    OPT(read_addresses(d, "caddr", &out->caddr_count, out->caddr), out->has_caddr);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_enc_kdc_rep_part(const uint8_t *der, size_t len, negoex_krb_enc_kdc_rep_part *out,
                                       negoex_error_info *err)
{
    /* [APPLICATION 26] constructed is 7a; anything else is read as 25 (79). */
    if (der != NULL && len > 0 && der[0] == 0x7a)
        return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("EncTGSRepPart"), "EncTGSRepPart", der, len, out,
                           sizeof *out, read_enc_kdc_rep_part, 26, err);
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("EncASRepPart"), "EncASRepPart", der, len, out, sizeof *out,
                       read_enc_kdc_rep_part, 25, err);
}

static int read_enc_ticket_part(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_enc_ticket_part *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_kflags(d, "flags", "flags", &out->flags), "flags");
    REQ(d, asn1_read_key(d, "key", "key", &out->key), "key");
    REQ(d, asn1_prim(d, "crealm", NX_TAG_GENERAL_STRING, "crealm", &out->crealm), "crealm");
    REQ(d, asn1_read_principal(d, "cname", "cname", &out->cname), "cname");
    REQ(d, asn1_int32(d, "transited.tr-type", "tr-type", &out->tr_type), "tr-type");
    REQ(d, asn1_prim(d, "transited.contents", NX_TAG_OCTET_STRING, "contents", &out->tr_contents), "contents");
    REQ(d, asn1_ktime(d, "authtime", "authtime", &out->authtime), "authtime");
    OPT(asn1_ktime(d, "starttime", "starttime", &out->starttime), has);
    REQ(d, asn1_ktime(d, "endtime", "endtime", &out->endtime), "endtime");
    OPT(asn1_ktime(d, "renew-till", "renew-till", &out->renew_till), has);
    OPT(read_addresses(d, "caddr", &out->caddr_count, out->caddr), out->has_caddr);
    OPT(asn1_tlv(d, "authorization-data", 1, "authorization-data", &out->authorization_data), has);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_enc_ticket_part(const uint8_t *der, size_t len, negoex_krb_enc_ticket_part *out,
                                      negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("EncTicketPart"), "EncTicketPart", der, len, out, sizeof *out,
                       read_enc_ticket_part, 0, err);
}

static int read_authenticator(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_authenticator *out = vout;
    int has;
    (void)unused;
    REQ(d, asn1_expect_int(d, "authenticator-vno", NEGOEX_KRB_PVNO, "authenticator-vno"), "authenticator-vno");
    REQ(d, asn1_prim(d, "crealm", NX_TAG_GENERAL_STRING, "crealm", &out->crealm), "crealm");
    REQ(d, asn1_read_principal(d, "cname", "cname", &out->cname), "cname");
    OPT(asn1_read_checksum(d, "cksum", "cksum", &out->cksum), out->has_cksum);
    REQ(d, asn1_usec(d, "cusec", "cusec", &out->cusec), "cusec");
    REQ(d, asn1_ktime(d, "ctime", "ctime", &out->ctime), "ctime");
    OPT(asn1_read_key(d, "subkey", "subkey", &out->subkey), out->has_subkey);
    OPT(asn1_uint32(d, "seq-number", "seq-number", &out->seq_number), out->has_seq_number);
    OPT(asn1_tlv(d, "authorization-data", 1, "authorization-data", &out->authorization_data), has);
    (void)has;
    return NEGOEX_OK;
}

int negoex_krb_decode_authenticator(const uint8_t *der, size_t len, negoex_krb_authenticator *out,
                                    negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("Authenticator"), "Authenticator", der, len, out, sizeof *out,
                       read_authenticator, 0, err);
}

static int read_enc_ap_rep_part(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_enc_ap_rep_part *out = vout;
    (void)unused;
    REQ(d, asn1_ktime(d, "ctime", "ctime", &out->ctime), "ctime");
    REQ(d, asn1_usec(d, "cusec", "cusec", &out->cusec), "cusec");
    OPT(asn1_read_key(d, "subkey", "subkey", &out->subkey), out->has_subkey);
    OPT(asn1_uint32(d, "seq-number", "seq-number", &out->seq_number), out->has_seq_number);
    return NEGOEX_OK;
}

int negoex_krb_decode_enc_ap_rep_part(const uint8_t *der, size_t len, negoex_krb_enc_ap_rep_part *out,
                                      negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("EncAPRepPart"), "EncAPRepPart", der, len, out, sizeof *out,
                       read_enc_ap_rep_part, 0, err);
}

/* ------------------------------------------------------------------------ */
/* Lists and small types                                                     */
/* ------------------------------------------------------------------------ */

static int read_authz_data(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_authz_data *out = vout;
    char p[ASN1_PATH_MAX], q[ASN1_PATH_MAX];
    (void)unused;
    REQ(d, asn1_count(d, "", 0, NEGOEX_KRB_MAX_AD, "AuthorizationData", &out->count), "AuthorizationData");
    for (size_t i = 0; i < out->count; i++) {
        asn1_pathf(p, "", "", i + 1);
        REQ(d, asn1_int32(d, P(q, p, "ad-type"), "ad-type", &out->entries[i].ad_type), "ad-type");
        REQ(d, asn1_prim(d, P(q, p, "ad-data"), NX_TAG_OCTET_STRING, "ad-data", &out->entries[i].ad_data),
            "ad-data");
    }
    return NEGOEX_OK;
}

int negoex_krb_decode_authz_data(const uint8_t *der, size_t len, negoex_krb_authz_data *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("AuthorizationData"), "AuthorizationData", der, len, out,
                       sizeof *out, read_authz_data, 0, err);
}

static int read_method_data(asn1_dec *d, void *vout, int unused)
{
    negoex_krb_method_data *out = vout;
    (void)unused;
    return read_padata_list(d, "", 0, &out->count, out->padata);
}

int negoex_krb_decode_method_data(const uint8_t *der, size_t len, negoex_krb_method_data *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("METHOD-DATA"), "METHOD-DATA", der, len, out, sizeof *out,
                       read_method_data, 0, err);
}

static int read_pa_data_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return read_padata(d, "", vout);
}

int negoex_krb_decode_pa_data(const uint8_t *der, size_t len, negoex_krb_padata *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("PA-DATA"), "PA-DATA", der, len, out, sizeof *out,
                       read_pa_data_root, 0, err);
}

static int read_enc_data_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return asn1_required(d, asn1_read_enc_data(d, "", "EncryptedData", vout), "EncryptedData");
}

int negoex_krb_decode_enc_data(const uint8_t *der, size_t len, negoex_krb_enc_data *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("EncryptedData"), "EncryptedData", der, len, out, sizeof *out,
                       read_enc_data_root, 0, err);
}

static int read_checksum_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return asn1_required(d, asn1_read_checksum(d, "", "Checksum", vout), "Checksum");
}

int negoex_krb_decode_checksum(const uint8_t *der, size_t len, negoex_krb_cksum *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("Checksum"), "Checksum", der, len, out, sizeof *out,
                       read_checksum_root, 0, err);
}

static int read_principal_root(asn1_dec *d, void *vout, int unused)
{
    (void)unused;
    return asn1_required(d, asn1_read_principal(d, "", "PrincipalName", vout), "PrincipalName");
}

int negoex_krb_decode_principal(const uint8_t *der, size_t len, negoex_krb_principal *out, negoex_error_info *err)
{
    return asn1_decode_with(ASN1_MOD_KRB5, ASN1_TYPE_KRB5("PrincipalName"), "PrincipalName", der, len, out, sizeof *out,
                       read_principal_root, 0, err);
}
