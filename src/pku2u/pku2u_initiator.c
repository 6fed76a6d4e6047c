/* PKU2U initiator: the AS-REQ (PKINIT Diffie-Hellman, signed AuthPack, the
 * Windows field choices), the AS-REP check and the AP-REQ with its subkey
 * and KRB-FINISHED, then the AP-REP check (docs: pku2u-wire.md). */
#include "pku2u/pku2u_internal.h"

#include <openssl/crypto.h>
#include <string.h>

#include "alloc.h"
#include "pku2u/cms.h"

/* ------------------------------------------------------------------------ */
/* AS-REQ                                                                    */
/* ------------------------------------------------------------------------ */

/* The KDC-REQ-BODY fields of our request (views into sh and bufs). */
static void request_body(const pku2u_shared *sh, negoex_krb_kdc_req *req, negoex_krb_address *addr)
{
    memset(req, 0, sizeof *req);
    req->msg_type = NEGOEX_KRB_AS_REQ;
    req->kdc_options = sh->kdc_options;
    req->has_cname = 1;
    req->cname.name_type = sh->cname_type;
    req->cname.count = 1;
    req->cname.components[0] = pku2u_str(sh->cname);
    req->realm = pku2u_str(sh->realm);
    req->has_sname = 1;
    req->sname.name_type = NEGOEX_KRB_NT_SRV_INST;
    req->sname.count = 2;
    req->sname.components[0] = pku2u_str(sh->target_service);
    req->sname.components[1] = pku2u_str(sh->target_host);
    req->till = pku2u_str(sh->till);
    if (sh->rtime[0])
        req->rtime = pku2u_str(sh->rtime);
    req->nonce = sh->nonce;
    req->etype_count = sh->etype_count;
    memcpy(req->etypes, sh->etypes, sh->etype_count * sizeof sh->etypes[0]);
    if (sh->has_netbios) {
        req->has_addresses = 1;
        req->address_count = 1;
        addr->addr_type = NEGOEX_KRB_ADDR_NETBIOS;
        addr->address.data = sh->netbios;
        addr->address.len = sizeof sh->netbios;
        req->addresses[0] = *addr;
    }
}

int pku2u_initiator_start(pku2u_scheme *s, negoex_buf *out)
{
    const pku2u_shared *sh = s->sh;
    if (sh->target_host[0] == '\0')
        return pku2u_fail(s, NEGOEX_ERR_INVALID_ARGUMENT, "no target host configured");
    const negoex_dh_params *grp = negoex_dh_group(sh->dh_group);
    if (grp == NULL)
        return pku2u_fail(s, NEGOEX_ERR_DH_GROUP, "configured DH group");

    negoex_buf body, authpack, sd, pa, pdu, tok;
    const negoex_allocator *al = sh->has_alloc ? &sh->alloc : NULL;
    negoex_buf_init(&body, al);
    negoex_buf_init(&authpack, al);
    negoex_buf_init(&sd, al);
    negoex_buf_init(&pa, al);
    negoex_buf_init(&pdu, al);
    negoex_buf_init(&tok, al);
    pku2u_dh_ref *dh = negoex_mem_alloc(sh->has_alloc ? &sh->alloc : NULL, sizeof *dh);
    uint8_t y[NEGOEX_DH_MAX_P_LEN];
    size_t y_len = 0;
    uint8_t nonce[PKU2U_DH_NONCE_LEN];
    int rc = dh != NULL ? NEGOEX_OK : NEGOEX_ERR_NO_MEMORY;
    const char *what = "AS-REQ";
    if (dh != NULL) {
        dh->refs = 1;
        dh->key = NULL;
    }
    if (rc == NEGOEX_OK) {
        what = "DH key generation";
        rc = negoex_dh_generate(grp, &dh->key);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_dh_public(dh->key, y, sizeof y, &y_len);
    if (rc == NEGOEX_OK) {
        what = "random client DH nonce";
        rc = pku2u_random(sh, nonce, sizeof nonce);
    }

    negoex_krb_kdc_req req;
    negoex_krb_address addr;
    request_body(sh, &req, &addr);
    uint8_t cksum[20];
    if (rc == NEGOEX_OK) {
        what = "AS-REQ body";
        rc = negoex_krb_encode_kdc_req_body(&req, &body);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_sha1(body.data, body.len, cksum);

    int64_t now;
    uint32_t usec;
    char ctime[16];
    pku2u_now(sh, &now, &usec);
    if (rc == NEGOEX_OK)
        rc = negoex_krb_time_from_unix(now, ctime);
    if (rc == NEGOEX_OK) {
        negoex_krb_auth_pack_in ap;
        memset(&ap, 0, sizeof ap);
        ap.cusec = usec;
        ap.ctime = (negoex_bytes){(const uint8_t *)ctime, 15};
        ap.nonce = sh->nonce;
        ap.pa_checksum = (negoex_bytes){cksum, sizeof cksum};
        ap.p = (negoex_bytes){grp->p, grp->p_len};
        ap.g = (negoex_bytes){grp->g, grp->g_len};
        ap.q = (negoex_bytes){grp->q, grp->q_len};
        ap.y = (negoex_bytes){y, y_len};
        ap.client_dh_nonce = (negoex_bytes){nonce, sizeof nonce};
        what = "AuthPack";
        rc = negoex_krb_encode_auth_pack(&ap, &authpack);
    }
    if (rc == NEGOEX_OK) {
        what = "AuthPack signature";
        rc = negoex_cms_sign(authpack.data, authpack.len, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN,
                             sh->id.cert, sh->id.key, sh->id.chain, sh->digest,
                             sh->wrapped_cms ? NEGOEX_CMS_SIGN_WRAPPED : 0, &sd);
    }
    if (rc == NEGOEX_OK) {
        what = "PA-PK-AS-REQ";
        rc = negoex_krb_encode_pa_pk_as_req(sd.data, sd.len, &pa);
    }
    if (rc == NEGOEX_OK) {
        req.padata_count = 1;
        req.padata[0].type = NEGOEX_KRB_PA_PK_AS_REQ;
        req.padata[0].value = (negoex_bytes){pa.data, pa.len};
        what = "AS-REQ";
        rc = negoex_krb_encode_as_req(&req, &pdu);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_AS_REQ, pdu.data, pdu.len, &tok);
    if (rc == NEGOEX_OK)
        rc = negoex_buf_append(out, tok.data, tok.len);
    if (rc == NEGOEX_OK) {
        /* Commit: the token is kept for KRB-FINISHED. */
        negoex_buf_free(&s->as_req_tok);
        s->as_req_tok = tok;
        negoex_buf_init(&tok, al);
        s->dh = dh;
        dh = NULL;
        memcpy(s->client_nonce, nonce, sizeof nonce);
        s->pk_nonce = sh->nonce;
        s->state = PK_I_AS_SENT;
    }
    if (dh != NULL) {
        negoex_dh_free(dh->key);
        negoex_mem_free(sh->has_alloc ? &sh->alloc : NULL, dh);
    }
    OPENSSL_cleanse(nonce, sizeof nonce);
    negoex_buf_free(&body);
    negoex_buf_free(&authpack);
    negoex_buf_free(&sd);
    negoex_buf_free(&pa);
    negoex_buf_free(&pdu);
    negoex_buf_free(&tok);
    return rc == NEGOEX_OK ? rc : pku2u_fail(s, rc, what);
}

/* ------------------------------------------------------------------------ */
/* AS-REP -> AP-REQ                                                          */
/* ------------------------------------------------------------------------ */

/* A PKU2U token from the acceptor: its TOK_ID must be want, or a KRB-ERROR. */
static int read_reply(pku2u_scheme *s, const uint8_t *in, size_t in_len, unsigned want, negoex_pku2u_message *m)
{
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    int rc = negoex_pku2u_decode_token(in, in_len, m, &err);
    if (rc != NEGOEX_OK)
        return pku2u_fail(s, rc, err.field != NULL ? err.field : "PKU2U token");
    if (m->token.tok_id == NEGOEX_PKU2U_TOK_KRB_ERROR)
        return pku2u_take_krb_error(s, &m->u.krb_error);
    if (m->token.tok_id != want)
        return pku2u_fail(s, NEGOEX_ERR_PKU2U_UNEXPECTED,
                          want == NEGOEX_PKU2U_TOK_AS_REP ? "expected an AS-REP" : "expected an AP-REP");
    return NEGOEX_OK;
}

static int has_etype(const pku2u_shared *sh, int32_t etype)
{
    for (size_t i = 0; i < sh->etype_count; i++)
        if (sh->etypes[i] == etype)
            return 1;
    return 0;
}

/* The acceptor's signed DH reply: signature, certificate, nonce; the reply
 * key into *reply. On success *peer holds the acceptor's certificate. */
static int check_dh_reply(pku2u_scheme *s, const negoex_krb_kdc_rep *rep, int32_t etype, negoex_krb_key *reply,
                          X509 **peer, const char **what)
{
    const pku2u_shared *sh = s->sh;
    const negoex_krb_padata *pa = NULL;
    for (size_t i = 0; i < rep->padata_count; i++)
        if (rep->padata[i].type == NEGOEX_KRB_PA_PK_AS_REP)
            pa = &rep->padata[i];
    *what = "AS-REP without PA-PK-AS-REP";
    if (pa == NULL)
        return NEGOEX_ERR_PKU2U_UNEXPECTED;
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    negoex_krb_pa_pk_as_rep pr;
    *what = "PA-PK-AS-REP";
    int rc = negoex_krb_decode_pa_pk_as_rep(pa->value.data, pa->value.len, &pr, &err);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "PA-PK-AS-REP is not Diffie-Hellman";
    if (pr.choice != NEGOEX_KRB_PK_AS_REP_DH_INFO)
        return NEGOEX_ERR_PKU2U_UNEXPECTED;

    negoex_cms_verify_opts vo = {sh->accept_digests, 0};
    negoex_cms_verified v;
    *what = "AS-REP signature (dhSignedData)";
    rc = negoex_cms_verify(pr.dh_signed_data.data, pr.dh_signed_data.len, NEGOEX_OID_PKINIT_DHKEYDATA,
                           NEGOEX_OID_PKINIT_DHKEYDATA_LEN, &vo, &v, &err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_x509_verify_opts xo = pku2u_verify_opts(sh);
    negoex_x509_verify_result res;
    *what = "acceptor certificate chain";
    rc = negoex_x509_verify(sh->trust, v.signer, v.certs, &xo, &res);
    if (rc == NEGOEX_OK) {
        *what = "acceptor certificate EKU (serverAuth)";
        rc = negoex_x509_check_eku(v.signer, NEGOEX_OID_KP_SERVER_AUTH, NEGOEX_OID_KP_SERVER_AUTH_LEN, 0);
        if (rc == NEGOEX_ERR_CERT_EKU &&
            negoex_x509_check_eku(v.signer, NEGOEX_OID_KP_PKINIT_KDC, NEGOEX_OID_KP_PKINIT_KDC_LEN, 0) == NEGOEX_OK)
            rc = NEGOEX_OK;
    }
    if (rc == NEGOEX_OK) {
        *what = "acceptor certificate does not name the target host";
        rc = negoex_x509_match_host(v.signer, sh->target_host);
    }
    negoex_krb_kdc_dh_key_info ki;
    if (rc == NEGOEX_OK) {
        *what = "KDCDHKeyInfo";
        rc = negoex_krb_decode_kdc_dh_key_info(v.econtent.data, v.econtent.len, &ki, &err);
    }
    if (rc == NEGOEX_OK && ki.nonce != s->pk_nonce) {
        *what = "KDCDHKeyInfo nonce differs from the PKAuthenticator's";
        rc = NEGOEX_ERR_PKU2U_MISMATCH;
    }
    uint8_t zz[NEGOEX_DH_MAX_P_LEN];
    size_t zz_len = 0;
    if (rc == NEGOEX_OK) {
        *what = "acceptor DH public value";
        rc = negoex_dh_derive(s->dh->key, ki.y.data, ki.y.len, zz, sizeof zz, &zz_len);
    }
    if (rc == NEGOEX_OK) {
        *what = "reply key";
        rc = negoex_krb_octetstring2key(etype, zz, zz_len, s->client_nonce, sizeof s->client_nonce,
                                        pr.server_dh_nonce.data, pr.server_dh_nonce.len, reply);
    }
    OPENSSL_cleanse(zz, sizeof zz);
    if (rc == NEGOEX_OK) {
        *peer = v.signer;
        v.signer = NULL;
    }
    negoex_cms_verified_clear(&v);
    return rc;
}

/* AD-IF-RELEVANT { KERB-AD-RESTRICTION-ENTRY { 0, LSAP_TOKEN_INFO_INTEGRITY } }
 * as Windows sends it; the authorization-data view points into store. */
static int ad_restrictions(const pku2u_shared *sh, negoex_buf *store, negoex_buf *inner, negoex_krb_authz_data *ad)
{
    negoex_krb_ad_restrictions r;
    memset(&r, 0, sizeof r);
    r.count = 1;
    r.entries[0].restriction_type = 0;
    r.entries[0].restriction = (negoex_bytes){sh->lsap, sizeof sh->lsap};
    int rc = negoex_krb_encode_ad_restrictions(&r, store);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_krb_authz_data in;
    memset(&in, 0, sizeof in);
    in.count = 1;
    in.entries[0].ad_type = NEGOEX_KRB_AD_TOKEN_RESTRICTIONS;
    in.entries[0].ad_data = (negoex_bytes){store->data, store->len};
    rc = negoex_krb_encode_authz_data(&in, inner);
    if (rc != NEGOEX_OK)
        return rc;
    memset(ad, 0, sizeof *ad);
    ad->count = 1;
    ad->entries[0].ad_type = NEGOEX_KRB_AD_IF_RELEVANT;
    ad->entries[0].ad_data = (negoex_bytes){inner->data, inner->len};
    return NEGOEX_OK;
}

int pku2u_initiator_as_rep(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    const pku2u_shared *sh = s->sh;
    negoex_pku2u_message *m = negoex_mem_alloc(sh->has_alloc ? &sh->alloc : NULL, sizeof *m);
    if (m == NULL)
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "AS-REP");
    int rc = read_reply(s, in, in_len, NEGOEX_PKU2U_TOK_AS_REP, m);
    if (rc != NEGOEX_OK) {
        negoex_mem_free(sh->has_alloc ? &sh->alloc : NULL, m);
        return rc;
    }
    const negoex_krb_kdc_rep *rep = &m->u.as_rep;
    const negoex_allocator *al = sh->has_alloc ? &sh->alloc : NULL;
    negoex_buf plain, fin, cks, store, inner, auth_plain, auth_cipher, pdu;
    negoex_buf_init(&plain, al);
    negoex_buf_init(&fin, al);
    negoex_buf_init(&cks, al);
    negoex_buf_init(&store, al);
    negoex_buf_init(&inner, al);
    negoex_buf_init(&auth_plain, al);
    negoex_buf_init(&auth_cipher, al);
    negoex_buf_init(&pdu, al);
    negoex_krb_key reply, session, subkey;
    memset(&reply, 0, sizeof reply);
    memset(&session, 0, sizeof session);
    memset(&subkey, 0, sizeof subkey);
    X509 *peer = NULL;
    const char *what = "AS-REP";
    int32_t etype = rep->enc_part.etype;

    if (negoex_krb_key_length(etype) == 0 || !has_etype(sh, etype)) {
        what = "AS-REP enc-part etype";
        rc = NEGOEX_ERR_KRB_ENCTYPE;
    }
    if (rc == NEGOEX_OK && !pku2u_view_is(rep->crealm, sh->realm)) {
        what = "AS-REP crealm";
        rc = NEGOEX_ERR_PKU2U_TARGET;
    }
    if (rc == NEGOEX_OK)
        rc = check_dh_reply(s, rep, etype, &reply, &peer, &what);

    negoex_krb_enc_kdc_rep_part part;
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    if (rc == NEGOEX_OK) {
        what = "AS-REP enc-part (reply key)";
        rc = pku2u_decrypt(&reply, 3, &rep->enc_part, &plain);
    }
    if (rc == NEGOEX_OK) {
        what = "EncASRepPart";
        rc = negoex_krb_decode_enc_kdc_rep_part(plain.data, plain.len, &part, &err);
    }
    if (rc == NEGOEX_OK && part.nonce != sh->nonce) {
        what = "EncASRepPart nonce differs from the request's";
        rc = NEGOEX_ERR_PKU2U_MISMATCH;
    }
    if (rc == NEGOEX_OK && (!pku2u_view_is(part.srealm, sh->realm) || part.sname.count != 2 ||
                            !pku2u_view_is(part.sname.components[0], sh->target_service) ||
                            !pku2u_view_is(part.sname.components[1], sh->target_host))) {
        what = "EncASRepPart names another service than the target";
        rc = NEGOEX_ERR_PKU2U_TARGET;
    }
    if (rc == NEGOEX_OK) {
        what = "EncASRepPart session key";
        rc = negoex_krb_key_init(&session, part.key.keytype, part.key.keyvalue.data, part.key.keyvalue.len);
    }
    char cname[PKU2U_NAME_MAX];
    if (rc == NEGOEX_OK) {
        what = "AS-REP cname";
        rc = rep->cname.count == 1 ? pku2u_copy_view(rep->cname.components[0], cname, sizeof cname)
                                   : NEGOEX_ERR_PKU2U_UNEXPECTED;
    }

    /* The AP-REQ: fresh subkey, KRB-FINISHED over AS-REQ || AS-REP. */
    uint32_t seq = 0;
    if (rc == NEGOEX_OK) {
        what = "random subkey";
        rc = pku2u_random_key(sh, session.enctype, &subkey);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_random_seq(sh, &seq);
    uint8_t mic[NEGOEX_KRB_HMAC_LEN];
    int32_t mic_type = 0;
    if (rc == NEGOEX_OK) {
        negoex_krb_chunk chunks[2] = {{s->as_req_tok.data, s->as_req_tok.len}, {in, in_len}};
        what = "KRB-FINISHED";
        rc = negoex_gss_krb_finished_mic(&subkey, chunks, 2, &mic_type, mic);
    }
    if (rc == NEGOEX_OK) {
        negoex_krb_cksum c = {mic_type, {mic, sizeof mic}};
        rc = negoex_krb_encode_finished(&c, &fin);
    }
    if (rc == NEGOEX_OK) {
        negoex_gss_ap_cksum gc;
        memset(&gc, 0, sizeof gc);
        if (sh->has_cb)
            memcpy(gc.bnd, sh->bnd, sizeof gc.bnd);
        gc.flags = sh->gss_flags & ~(uint32_t)NEGOEX_GSS_C_DELEG_FLAG;
        gc.n_exts = 1;
        gc.exts[0].type = NEGOEX_GSS_EXTS_FINISHED;
        gc.exts[0].data = fin.data;
        gc.exts[0].len = fin.len;
        size_t need = 0;
        uint8_t *at = NULL;
        what = "0x8003 checksum";
        rc = negoex_gss_ap_cksum_length(&gc, &need);
        if (rc == NEGOEX_OK)
            rc = negoex_buf_reserve(&cks, need, &at);
        if (rc == NEGOEX_OK)
            rc = negoex_gss_ap_cksum_build(&gc, at, need, &need);
        if (rc == NEGOEX_OK)
            cks.len += need;
    }
    negoex_krb_authz_data ad;
    if (rc == NEGOEX_OK && sh->ad_restrictions) {
        what = "authorization data";
        rc = ad_restrictions(sh, &store, &inner, &ad);
    }
    int64_t now;
    uint32_t usec;
    char ctime[16];
    pku2u_now(sh, &now, &usec);
    if (rc == NEGOEX_OK)
        rc = negoex_krb_time_from_unix(now, ctime);
    if (rc == NEGOEX_OK) {
        negoex_krb_authenticator a;
        memset(&a, 0, sizeof a);
        a.crealm = rep->crealm;
        a.cname = rep->cname;
        a.has_cksum = 1;
        a.cksum.cksumtype = NEGOEX_GSS_CKSUMTYPE;
        a.cksum.checksum = (negoex_bytes){cks.data, cks.len};
        a.cusec = usec;
        a.ctime = (negoex_bytes){(const uint8_t *)ctime, 15};
        a.has_subkey = 1;
        a.subkey.keytype = subkey.enctype;
        a.subkey.keyvalue = (negoex_bytes){subkey.bytes, subkey.len};
        a.has_seq_number = 1;
        a.seq_number = seq;
        what = "Authenticator";
        rc = negoex_krb_encode_authenticator(&a, sh->ad_restrictions ? &ad : NULL, &auth_plain);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_encrypt(&session, 11, auth_plain.data, auth_plain.len, &auth_cipher);
    if (rc == NEGOEX_OK) {
        negoex_krb_ap_req ap;
        memset(&ap, 0, sizeof ap);
        ap.ap_options = NEGOEX_KRB_AP_MUTUAL_REQUIRED;
        ap.ticket = rep->ticket;
        ap.authenticator.etype = session.enctype;
        ap.authenticator.cipher = (negoex_bytes){auth_cipher.data, auth_cipher.len};
        what = "AP-REQ";
        rc = negoex_krb_encode_ap_req(&ap, &pdu);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_AP_REQ, pdu.data, pdu.len, out);
    if (rc == NEGOEX_OK) {
        s->session = session;
        s->has_session = 1;
        s->own_subkey = subkey;
        s->has_own_subkey = 1;
        s->own_seq = seq;
        memcpy(s->ctime, ctime, sizeof ctime);
        s->cusec = usec;
        memcpy(s->krb_name, cname, sizeof cname);
        s->krb_name_type = rep->cname.name_type;
        X509_free(s->peer_cert);
        s->peer_cert = peer;
        peer = NULL;
        negoex_buf_free(&s->as_req_tok);
        s->state = PK_I_AP_SENT;
    }
    X509_free(peer);
    negoex_krb_key_clear(&reply);
    negoex_krb_key_clear(&session);
    negoex_krb_key_clear(&subkey);
    OPENSSL_cleanse(mic, sizeof mic);
    negoex_buf_free(&plain);
    negoex_buf_free(&fin);
    negoex_buf_free(&cks);
    negoex_buf_free(&store);
    negoex_buf_free(&inner);
    negoex_buf_free(&auth_plain);
    negoex_buf_free(&auth_cipher);
    negoex_buf_free(&pdu);
    negoex_mem_free_secret(sh->has_alloc ? &sh->alloc : NULL, m, sizeof *m);
    return rc == NEGOEX_OK ? rc : pku2u_fail(s, rc, what);
}

/* ------------------------------------------------------------------------ */
/* AP-REP                                                                    */
/* ------------------------------------------------------------------------ */

int pku2u_initiator_ap_rep(pku2u_scheme *s, const uint8_t *in, size_t in_len)
{
    const pku2u_shared *sh = s->sh;
    negoex_pku2u_message *m = negoex_mem_alloc(sh->has_alloc ? &sh->alloc : NULL, sizeof *m);
    if (m == NULL)
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "AP-REP");
    int rc = read_reply(s, in, in_len, NEGOEX_PKU2U_TOK_AP_REP, m);
    if (rc != NEGOEX_OK) {
        negoex_mem_free(sh->has_alloc ? &sh->alloc : NULL, m);
        return rc;
    }
    negoex_buf plain;
    negoex_buf_init(&plain, sh->has_alloc ? &sh->alloc : NULL);
    const char *what = "AP-REP enc-part (session key)";
    rc = pku2u_decrypt(&s->session, 12, &m->u.ap_rep.enc_part, &plain);
    negoex_krb_enc_ap_rep_part part;
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    if (rc == NEGOEX_OK) {
        what = "EncAPRepPart";
        rc = negoex_krb_decode_enc_ap_rep_part(plain.data, plain.len, &part, &err);
    }
    if (rc == NEGOEX_OK && (!pku2u_view_is(part.ctime, s->ctime) || part.cusec != s->cusec)) {
        what = "EncAPRepPart ctime/cusec differ from the Authenticator's";
        rc = NEGOEX_ERR_PKU2U_MISMATCH;
    }
    if (rc == NEGOEX_OK && !part.has_subkey) {
        what = "EncAPRepPart without a subkey";
        rc = NEGOEX_ERR_PKU2U_UNEXPECTED;
    }
    negoex_krb_key sub;
    memset(&sub, 0, sizeof sub);
    if (rc == NEGOEX_OK) {
        what = "EncAPRepPart subkey";
        rc = negoex_krb_key_init(&sub, part.subkey.keytype, part.subkey.keyvalue.data, part.subkey.keyvalue.len);
    }
    if (rc == NEGOEX_OK) {
        s->peer_subkey = sub;
        s->has_peer_subkey = 1;
        s->peer_seq = part.has_seq_number ? part.seq_number : 0;
        s->send_seq = s->own_seq;
        s->recv_seq = s->peer_seq;
        s->state = PK_DONE;
    }
    negoex_krb_key_clear(&sub);
    negoex_buf_free(&plain);
    negoex_mem_free_secret(sh->has_alloc ? &sh->alloc : NULL, m, sizeof *m);
    return rc == NEGOEX_OK ? rc : pku2u_fail(s, rc, what);
}
