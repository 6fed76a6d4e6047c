/* libFuzzer target for the PKU2U ASN.1 decoders (src/pku2u/asn1*.c): the
 * same bytes go through every decoder, and whatever decodes is followed into
 * the values it carries (PA-PK-AS-REQ -> SignedData -> AuthPack, PA-PK-AS-REP
 * -> SignedData -> KDCDHKeyInfo, metadata -> Names -> text, authorization
 * data -> restrictions, a GSS token -> its padata). Nothing may crash; a
 * failure leaves a zeroed view and an error code in err; every view of a
 * success lies inside the input; a parsed GSS token re-frames to the same
 * bytes. */
#include "pku2u/asn1.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            abort();                                                                                                   \
    } while (0)

static const uint8_t *in_base;
static size_t in_size;

/* A view is absent or inside the fuzzer's input. */
static void inside(negoex_bytes b)
{
    if (b.data == NULL) {
        CHECK(b.len == 0);
        return;
    }
    CHECK(b.data >= in_base && b.len <= in_size && (size_t)(b.data - in_base) <= in_size - b.len);
}

static int all_zero(const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

/* Every decoder's contract on failure. */
#define RESULT(rc, err, out)                                                                                           \
    do {                                                                                                               \
        if ((rc) != NEGOEX_OK) {                                                                                       \
            CHECK((rc) < 0 && (err).code == (rc));                                                                     \
            CHECK(all_zero((out), sizeof *(out)));                                                                     \
        }                                                                                                              \
    } while (0)

static void principal(const negoex_krb_principal *p)
{
    CHECK(p->count <= NEGOEX_KRB_MAX_NAME_COMPONENTS);
    for (size_t i = 0; i < p->count; i++)
        inside(p->components[i]);
}

static void ktime(negoex_bytes t)
{
    inside(t);
    if (t.data != NULL) {
        int64_t s;
        CHECK(negoex_krb_time_to_unix(t, &s) == NEGOEX_OK);
    }
}

static void name(negoex_bytes der)
{
    negoex_x509_name n;
    negoex_error_info err;
    int rc = negoex_x509_decode_name(der.data, der.len, &n, &err);
    RESULT(rc, err, &n);
    if (rc != NEGOEX_OK)
        return;
    CHECK(n.count <= NEGOEX_X509_MAX_ATTRS);
    for (size_t i = 0; i < n.count; i++) {
        inside(n.attrs[i].type);
        inside(n.attrs[i].value);
        inside(n.attrs[i].value_tlv);
    }
    char text[512];
    size_t need = 0;
    rc = negoex_x509_name_to_string(&n, text, sizeof text, &need);
    CHECK(rc == NEGOEX_OK || rc == NEGOEX_ERR_BUFFER_TOO_SMALL || rc == NEGOEX_ERR_DER_VALUE);
    if (rc != NEGOEX_ERR_DER_VALUE)
        CHECK(strlen(text) + 1 == (need < sizeof text ? need : sizeof text));
}

static void epis(const negoex_krb_epi *e, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        inside(e[i].subject_name);
        inside(e[i].issuer_and_serial);
        inside(e[i].subject_key_id);
        if (e[i].subject_name.data != NULL)
            name(e[i].subject_name);
    }
}

static void signed_data(negoex_bytes b, int dh)
{
    negoex_cms_signed_data sd;
    negoex_error_info err;
    int rc = negoex_cms_decode_signed_data(b.data, b.len, &sd, &err);
    RESULT(rc, err, &sd);
    if (rc != NEGOEX_OK)
        return;
    inside(sd.raw);
    inside(sd.econtent_type);
    inside(sd.econtent);
    for (size_t i = 0; i < sd.certificate_count; i++)
        inside(sd.certificates[i]);
    for (size_t i = 0; i < sd.signer_count; i++) {
        inside(sd.signers[i].raw);
        inside(sd.signers[i].signature);
        inside(sd.signers[i].signed_attrs);
        inside(sd.signers[i].message_digest_attr);
        if (!sd.signers[i].sid_is_ski)
            name(sd.signers[i].issuer);
    }
    if (sd.econtent.data == NULL)
        return;
    if (dh) {
        negoex_krb_kdc_dh_key_info ki;
        rc = negoex_krb_decode_kdc_dh_key_info(sd.econtent.data, sd.econtent.len, &ki, &err);
        RESULT(rc, err, &ki);
        if (rc == NEGOEX_OK) {
            inside(ki.y);
            ktime(ki.dh_key_expiration);
        }
    } else {
        negoex_krb_auth_pack ap;
        rc = negoex_krb_decode_auth_pack(sd.econtent.data, sd.econtent.len, &ap, &err);
        RESULT(rc, err, &ap);
        if (rc == NEGOEX_OK) {
            ktime(ap.ctime);
            CHECK(ap.cusec <= 999999);
            inside(ap.client_public_value);
            inside(ap.dh.p);
            inside(ap.dh_y);
            inside(ap.client_dh_nonce);
        }
    }
}

static void pa_pk_as_req(negoex_bytes b)
{
    negoex_krb_pa_pk_as_req pk;
    negoex_error_info err;
    int rc = negoex_krb_decode_pa_pk_as_req(b.data, b.len, &pk, &err);
    RESULT(rc, err, &pk);
    if (rc != NEGOEX_OK)
        return;
    inside(pk.signed_auth_pack);
    epis(pk.trusted_certifiers, pk.trusted_certifier_count);
    signed_data(pk.signed_auth_pack, 0);
}

static void pa_pk_as_rep(negoex_bytes b)
{
    negoex_krb_pa_pk_as_rep rep;
    negoex_error_info err;
    int rc = negoex_krb_decode_pa_pk_as_rep(b.data, b.len, &rep, &err);
    RESULT(rc, err, &rep);
    if (rc != NEGOEX_OK)
        return;
    inside(rep.server_dh_nonce);
    if (rep.choice == NEGOEX_KRB_PK_AS_REP_DH_INFO)
        signed_data(rep.dh_signed_data, 1);
    else
        inside(rep.enc_key_pack);
}

static void padata(const negoex_krb_padata *p, size_t count)
{
    CHECK(count <= NEGOEX_KRB_MAX_PADATA);
    for (size_t i = 0; i < count; i++) {
        inside(p[i].value);
        if (p[i].type == NEGOEX_KRB_PA_PK_AS_REQ)
            pa_pk_as_req(p[i].value);
        else if (p[i].type == NEGOEX_KRB_PA_PK_AS_REP)
            pa_pk_as_rep(p[i].value);
    }
}

static void authz(negoex_bytes b, int depth)
{
    negoex_krb_authz_data ad;
    negoex_error_info err;
    int rc = negoex_krb_decode_authz_data(b.data, b.len, &ad, &err);
    RESULT(rc, err, &ad);
    if (rc != NEGOEX_OK)
        return;
    for (size_t i = 0; i < ad.count; i++) {
        inside(ad.entries[i].ad_data);
        if (ad.entries[i].ad_type == NEGOEX_KRB_AD_IF_RELEVANT && depth < 4)
            authz(ad.entries[i].ad_data, depth + 1);
        if (ad.entries[i].ad_type == NEGOEX_KRB_AD_TOKEN_RESTRICTIONS) {
            negoex_krb_ad_restrictions rs;
            rc = negoex_krb_decode_ad_restrictions(ad.entries[i].ad_data.data, ad.entries[i].ad_data.len, &rs, &err);
            RESULT(rc, err, &rs);
            for (size_t j = 0; rc == NEGOEX_OK && j < rs.count; j++) {
                negoex_krb_token_integrity ti;
                inside(rs.entries[j].restriction);
                if (negoex_krb_decode_token_integrity(rs.entries[j].restriction, &ti) == NEGOEX_OK)
                    CHECK(ti.machine_id == rs.entries[j].restriction.data + 8);
            }
        }
    }
}

static void kdc_req(const negoex_krb_kdc_req *r)
{
    padata(r->padata, r->padata_count);
    inside(r->req_body);
    principal(&r->cname);
    principal(&r->sname);
    ktime(r->from);
    ktime(r->till);
    ktime(r->rtime);
    CHECK(r->etype_count >= 1 && r->etype_count <= NEGOEX_KRB_MAX_ETYPES);
    for (size_t i = 0; i < r->address_count; i++)
        inside(r->addresses[i].address);
    for (size_t i = 0; i < r->additional_ticket_count; i++)
        inside(r->additional_tickets[i]);
}

static void ticket(const negoex_krb_ticket *t)
{
    inside(t->raw);
    inside(t->realm);
    principal(&t->sname);
    inside(t->enc_part.cipher);
}

static void token(const uint8_t *data, size_t size)
{
    negoex_pku2u_message m;
    negoex_error_info err;
    int rc = negoex_pku2u_decode_token(data, size, &m, &err);
    RESULT(rc, err, &m);
    negoex_pku2u_token t;
    int prc = negoex_pku2u_token_parse(data, size, &t, &err);
    CHECK(rc != NEGOEX_OK || prc == NEGOEX_OK);
    if (prc == NEGOEX_OK) {
        /* The framing writes back to the same bytes. */
        CHECK(t.pdu_offset + t.pdu.len == size);
        uint8_t *again = malloc(size);
        size_t w = 0;
        CHECK(again != NULL);
        CHECK(negoex_pku2u_token_write(t.tok_id, t.pdu.data, t.pdu.len, again, size, &w) == NEGOEX_OK);
        CHECK(w == size && memcmp(again, data, size) == 0);
        free(again);
    }
    if (rc != NEGOEX_OK)
        return;
    switch (m.token.tok_id) {
    case NEGOEX_PKU2U_TOK_AS_REQ:
        kdc_req(&m.u.as_req);
        break;
    case NEGOEX_PKU2U_TOK_AS_REP:
        padata(m.u.as_rep.padata, m.u.as_rep.padata_count);
        principal(&m.u.as_rep.cname);
        ticket(&m.u.as_rep.ticket);
        break;
    case NEGOEX_PKU2U_TOK_AP_REQ:
        ticket(&m.u.ap_req.ticket);
        break;
    case NEGOEX_PKU2U_TOK_AP_REP:
        inside(m.u.ap_rep.enc_part.cipher);
        break;
    default:
        ktime(m.u.krb_error.stime);
        inside(m.u.krb_error.e_data);
        break;
    }
}

/* Decoders whose views only need the containment check. */
#define SIMPLE(fn, type, ...)                                                                                          \
    do {                                                                                                               \
        type v_;                                                                                                       \
        negoex_error_info e_;                                                                                          \
        int rc_ = fn(data, size, &v_, &e_);                                                                            \
        RESULT(rc_, e_, &v_);                                                                                          \
        if (rc_ == NEGOEX_OK) {                                                                                        \
            __VA_ARGS__;                                                                                               \
        }                                                                                                              \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in_base = data;
    in_size = size;
    negoex_bytes all = {data, size};

    token(data, size);
    pa_pk_as_req(all);
    pa_pk_as_rep(all);
    signed_data(all, 0);
    signed_data(all, 1);
    authz(all, 0);
    name(all);

    SIMPLE(negoex_krb_decode_as_req, negoex_krb_kdc_req, kdc_req(&v_));
    SIMPLE(negoex_krb_decode_tgs_req, negoex_krb_kdc_req, kdc_req(&v_));
    SIMPLE(negoex_krb_decode_as_rep, negoex_krb_kdc_rep, ticket(&v_.ticket); padata(v_.padata, v_.padata_count));
    SIMPLE(negoex_krb_decode_tgs_rep, negoex_krb_kdc_rep, ticket(&v_.ticket));
    SIMPLE(negoex_krb_decode_ap_req, negoex_krb_ap_req, ticket(&v_.ticket));
    SIMPLE(negoex_krb_decode_ap_rep, negoex_krb_ap_rep, inside(v_.enc_part.cipher));
    SIMPLE(negoex_krb_decode_error, negoex_krb_error, ktime(v_.stime); ktime(v_.ctime); inside(v_.e_text));
    SIMPLE(negoex_krb_decode_ticket, negoex_krb_ticket, ticket(&v_));
    SIMPLE(negoex_krb_decode_enc_kdc_rep_part, negoex_krb_enc_kdc_rep_part, CHECK(v_.app_tag == 25 || v_.app_tag == 26);
           ktime(v_.authtime); ktime(v_.renew_till); principal(&v_.sname));
    SIMPLE(negoex_krb_decode_enc_ticket_part, negoex_krb_enc_ticket_part, ktime(v_.endtime);
           authz(v_.authorization_data, 0));
    SIMPLE(negoex_krb_decode_authenticator, negoex_krb_authenticator, ktime(v_.ctime); inside(v_.cksum.checksum);
           authz(v_.authorization_data, 0));
    SIMPLE(negoex_krb_decode_enc_ap_rep_part, negoex_krb_enc_ap_rep_part, ktime(v_.ctime); inside(v_.subkey.keyvalue));
    SIMPLE(negoex_krb_decode_method_data, negoex_krb_method_data, padata(v_.padata, v_.count));
    SIMPLE(negoex_krb_decode_pa_data, negoex_krb_padata, inside(v_.value));
    SIMPLE(negoex_krb_decode_enc_data, negoex_krb_enc_data, inside(v_.cipher));
    SIMPLE(negoex_krb_decode_checksum, negoex_krb_cksum, inside(v_.checksum));
    SIMPLE(negoex_krb_decode_principal, negoex_krb_principal, principal(&v_));
    SIMPLE(negoex_krb_decode_auth_pack, negoex_krb_auth_pack, inside(v_.dh.q));
    SIMPLE(negoex_krb_decode_kdc_dh_key_info, negoex_krb_kdc_dh_key_info, inside(v_.y));
    SIMPLE(negoex_krb_decode_epi, negoex_krb_epi, epis(&v_, 1));
    SIMPLE(negoex_krb_decode_dh_params, negoex_krb_dh_params, inside(v_.p); inside(v_.g));
    SIMPLE(negoex_pku2u_decode_metadata, negoex_pku2u_metadata,
           epis(v_.trusted_certifiers, v_.trusted_certifier_count);
           principal(&v_.target_sname));
    SIMPLE(negoex_krb_decode_finished, negoex_krb_finished, inside(v_.gss_mic.checksum));
    SIMPLE(negoex_krb_decode_ad_restriction_entry, negoex_krb_ad_restriction, inside(v_.restriction));
    return 0;
}
