/* PKU2U acceptor: the AS-REQ check (signature, certificate chain, EKU,
 * paChecksum, clock, DH parameters), the AS-REP with a ticket for itself,
 * then the AP-REQ check (ticket, authenticator, 0x8003 checksum, channel
 * bindings, KRB-FINISHED) and the AP-REP with its subkey. Rejections carry
 * a KRB-ERROR for the initiator (docs: pku2u-wire.md). */
#include "pku2u/pku2u_internal.h"

#include <openssl/crypto.h>
#include <string.h>
#include <strings.h>

#include "alloc.h"
#include "pku2u/cms.h"

static const negoex_allocator *al_of(const pku2u_shared *sh)
{
    return sh->has_alloc ? &sh->alloc : NULL;
}

static int64_t absdiff(int64_t a, int64_t b)
{
    return a > b ? a - b : b - a;
}

/* ------------------------------------------------------------------------ */
/* AS-REQ -> AS-REP                                                          */
/* ------------------------------------------------------------------------ */

/* The acceptor's picks and results while it answers an AS-REQ. */
typedef struct as_work {
    negoex_cms_verified v;
    negoex_krb_auth_pack ap;
    int group;
    int32_t etype;
    char cname[PKU2U_NAME_MAX];
} as_work;

/* The request's target must be us (when we know our names). */
static int check_target(const pku2u_shared *sh, const negoex_krb_kdc_req *req, const char **what)
{
    *what = "AS-REQ realm is not ours";
    if (!pku2u_view_is(req->realm, sh->realm))
        return NEGOEX_ERR_PKU2U_TARGET;
    *what = "AS-REQ sname is not a service/host name";
    if (!req->has_sname || req->sname.count != 2)
        return NEGOEX_ERR_PKU2U_TARGET;
    char buf[PKU2U_NAME_MAX];
    if (sh->service[0]) {
        *what = "AS-REQ names another service";
        if (pku2u_copy_view(req->sname.components[0], buf, sizeof buf) != NEGOEX_OK || strcmp(buf, sh->service) != 0)
            return NEGOEX_ERR_PKU2U_TARGET;
    }
    if (sh->host_name[0]) {
        *what = "AS-REQ names another host";
        if (pku2u_copy_view(req->sname.components[1], buf, sizeof buf) != NEGOEX_OK ||
            strcasecmp(buf, sh->host_name) != 0)
            return NEGOEX_ERR_PKU2U_TARGET;
    }
    return NEGOEX_OK;
}

/* Signature, certificate, AuthPack checks. Fills w. */
static int check_as_req(pku2u_scheme *s, const negoex_krb_kdc_req *req, as_work *w, const char **what)
{
    const pku2u_shared *sh = s->sh;
    const negoex_krb_padata *pa = NULL;
    for (size_t i = 0; i < req->padata_count; i++)
        if (req->padata[i].type == NEGOEX_KRB_PA_PK_AS_REQ)
            pa = &req->padata[i];
    *what = "AS-REQ without PA-PK-AS-REQ";
    if (pa == NULL)
        return NEGOEX_ERR_PKU2U_UNEXPECTED;
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    negoex_krb_pa_pk_as_req pk;
    *what = "PA-PK-AS-REQ";
    int rc = negoex_krb_decode_pa_pk_as_req(pa->value.data, pa->value.len, &pk, &err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_cms_verify_opts vo = {sh->accept_digests, 0};
    *what = "AS-REQ signature (signedAuthPack)";
    rc = negoex_cms_verify(pk.signed_auth_pack.data, pk.signed_auth_pack.len, NEGOEX_OID_PKINIT_AUTHDATA,
                           NEGOEX_OID_PKINIT_AUTHDATA_LEN, &vo, &w->v, &err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_x509_verify_opts xo = pku2u_verify_opts(sh);
    negoex_x509_verify_result res;
    *what = "initiator certificate chain";
    rc = negoex_x509_verify(sh->trust, w->v.signer, w->v.certs, &xo, &res);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "initiator certificate EKU (clientAuth)";
    rc = negoex_x509_check_eku(w->v.signer, NEGOEX_OID_KP_CLIENT_AUTH, NEGOEX_OID_KP_CLIENT_AUTH_LEN, 0);
    if (rc == NEGOEX_ERR_CERT_EKU &&
        negoex_x509_check_eku(w->v.signer, NEGOEX_OID_KP_PKINIT_CLIENT, NEGOEX_OID_KP_PKINIT_CLIENT_LEN, 0) ==
            NEGOEX_OK)
        rc = NEGOEX_OK;
    if (rc != NEGOEX_OK)
        return rc;
    *what = "AuthPack";
    rc = negoex_krb_decode_auth_pack(w->v.econtent.data, w->v.econtent.len, &w->ap, &err);
    if (rc != NEGOEX_OK)
        return rc;
    uint8_t digest[20];
    *what = "PKAuthenticator paChecksum missing";
    if (w->ap.pa_checksum.data == NULL)
        return NEGOEX_ERR_PKU2U_PA_CHECKSUM;
    rc = pku2u_sha1(req->req_body.data, req->req_body.len, digest);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "PKAuthenticator paChecksum is not the request body's SHA-1";
    if (w->ap.pa_checksum.len != sizeof digest || CRYPTO_memcmp(w->ap.pa_checksum.data, digest, sizeof digest) != 0)
        return NEGOEX_ERR_PKU2U_PA_CHECKSUM;
    int64_t now, ctime;
    uint32_t usec;
    pku2u_now(sh, &now, &usec);
    *what = "PKAuthenticator ctime";
    rc = negoex_krb_time_to_unix(w->ap.ctime, &ctime);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "PKAuthenticator ctime outside the clock skew";
    if (absdiff(ctime, now) > (int64_t)sh->clock_skew)
        return NEGOEX_ERR_PKU2U_CLOCK_SKEW;
    *what = "AuthPack has no Diffie-Hellman public value";
    if (!w->ap.is_dh)
        return NEGOEX_ERR_DH_GROUP;
    negoex_dh_params prm = {w->ap.dh.p.data, w->ap.dh.p.len, w->ap.dh.g.data, w->ap.dh.g.len, w->ap.dh.q.data,
                            w->ap.dh.q.len};
    *what = "DH group not accepted";
    w->group = negoex_dh_group_identify(&prm);
    if (w->group < 0)
        return w->group;
    unsigned bit = w->group == NEGOEX_DH_GROUP_MODP2 ? NEGOEX_PKU2U_ACCEPT_MODP2 : NEGOEX_PKU2U_ACCEPT_MODP14;
    if (!(sh->dh_accept & bit))
        return NEGOEX_ERR_DH_GROUP;
    *what = "no common encryption type (17, 18)";
    w->etype = 0;
    for (size_t i = 0; i < req->etype_count && w->etype == 0; i++)
        if (negoex_krb_key_length(req->etypes[i]) != 0)
            w->etype = req->etypes[i];
    if (w->etype == 0)
        return NEGOEX_ERR_KRB_ENCTYPE;

    /* The client's name in the reply: AzureAD\<UPN> as Windows, else what
     * it asked for. */
    *what = "initiator name";
    char upn[PKU2U_NAME_MAX];
    if (negoex_x509_san_get(w->v.signer, NEGOEX_X509_SAN_UPN, 0, upn, sizeof upn, NULL) == NEGOEX_OK) {
        int n = snprintf(w->cname, sizeof w->cname, "AzureAD\\%s", upn);
        if (n < 0 || (size_t)n >= sizeof w->cname)
            return NEGOEX_ERR_TOO_LARGE;
    } else if (req->has_cname && req->cname.count == 1) {
        rc = pku2u_copy_view(req->cname.components[0], w->cname, sizeof w->cname);
        if (rc != NEGOEX_OK)
            return rc;
    } else {
        rc = pku2u_cname_from_cert(w->v.signer, w->cname, sizeof w->cname);
        if (rc != NEGOEX_OK)
            return rc;
    }
    return NEGOEX_OK;
}

int pku2u_acceptor_as_req(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    const pku2u_shared *sh = s->sh;
    const negoex_allocator *al = sh->has_alloc ? &sh->alloc : NULL;
    negoex_pku2u_message *m = negoex_mem_alloc(al_of(sh), sizeof *m);
    as_work *w = negoex_mem_alloc(al_of(sh), sizeof *w);
    if (m == NULL || w == NULL) {
        negoex_mem_free(al_of(sh), m);
        negoex_mem_free(al_of(sh), w);
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "AS-REQ");
    }
    memset(w, 0, sizeof *w);
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    const char *what = "AS-REQ token";
    int rc = negoex_pku2u_decode_token(in, in_len, m, &err);
    if (rc == NEGOEX_OK && m->token.tok_id != NEGOEX_PKU2U_TOK_AS_REQ) {
        what = "expected an AS-REQ";
        rc = NEGOEX_ERR_PKU2U_UNEXPECTED;
    } else if (rc != NEGOEX_OK && err.field != NULL) {
        what = err.field;
    }
    const negoex_krb_kdc_req *req = &m->u.as_req;
    if (rc == NEGOEX_OK)
        rc = check_target(sh, req, &what);
    if (rc == NEGOEX_OK)
        rc = check_as_req(s, req, w, &what);

    negoex_buf kdh, sd, pa, etp, tkt_cipher, erp, rep_cipher, pdu, tok;
    negoex_buf_init(&kdh, al);
    negoex_buf_init(&sd, al);
    negoex_buf_init(&pa, al);
    negoex_buf_init(&etp, al);
    negoex_buf_init(&tkt_cipher, al);
    negoex_buf_init(&erp, al);
    negoex_buf_init(&rep_cipher, al);
    negoex_buf_init(&pdu, al);
    negoex_buf_init(&tok, al);
    negoex_dh_key *dh = NULL;
    uint8_t y[NEGOEX_DH_MAX_P_LEN], zz[NEGOEX_DH_MAX_P_LEN], server_nonce[PKU2U_DH_NONCE_LEN];
    size_t y_len = 0, zz_len = 0;
    int with_nonce = w->ap.client_dh_nonce.data != NULL;
    negoex_krb_key reply, session;
    memset(&reply, 0, sizeof reply);
    memset(&session, 0, sizeof session);

    if (rc == NEGOEX_OK) {
        what = "DH key generation";
        rc = negoex_dh_generate(negoex_dh_group(w->group), &dh);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_dh_public(dh, y, sizeof y, &y_len);
    if (rc == NEGOEX_OK) {
        what = "initiator DH public value";
        rc = negoex_dh_derive(dh, w->ap.dh_y.data, w->ap.dh_y.len, zz, sizeof zz, &zz_len);
    }
    if (rc == NEGOEX_OK && with_nonce) {
        what = "random server DH nonce";
        rc = pku2u_random(sh, server_nonce, sizeof server_nonce);
    }
    if (rc == NEGOEX_OK) {
        what = "reply key";
        rc = negoex_krb_octetstring2key(w->etype, zz, zz_len, w->ap.client_dh_nonce.data, w->ap.client_dh_nonce.len,
                                        with_nonce ? server_nonce : NULL, with_nonce ? sizeof server_nonce : 0,
                                        &reply);
    }
    if (rc == NEGOEX_OK) {
        what = "KDCDHKeyInfo";
        rc = negoex_krb_encode_kdc_dh_key_info(y, y_len, w->ap.nonce, &kdh);
    }
    if (rc == NEGOEX_OK) {
        what = "KDCDHKeyInfo signature";
        rc = negoex_cms_sign(kdh.data, kdh.len, NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN,
                             sh->id.cert, sh->id.key, sh->id.chain, sh->digest,
                             sh->wrapped_cms ? NEGOEX_CMS_SIGN_WRAPPED : 0, &sd);
    }
    if (rc == NEGOEX_OK) {
        what = "PA-PK-AS-REP";
        rc = negoex_krb_encode_pa_pk_as_rep_dh(sd.data, sd.len, with_nonce ? server_nonce : NULL,
                                               with_nonce ? sizeof server_nonce : 0, &pa);
    }
    if (rc == NEGOEX_OK) {
        what = "random session key";
        rc = pku2u_random_key(sh, w->etype, &session);
    }

    int64_t now, till = 0;
    uint32_t usec;
    pku2u_now(sh, &now, &usec);
    char authtime[16], endtime[16];
    if (rc == NEGOEX_OK && negoex_krb_time_to_unix(req->till, &till) != NEGOEX_OK)
        till = now + PKU2U_TICKET_LIFETIME;
    if (rc == NEGOEX_OK)
        rc = negoex_krb_time_from_unix(now, authtime);
    if (rc == NEGOEX_OK)
        rc = negoex_krb_time_from_unix(till < now + PKU2U_TICKET_LIFETIME ? till : now + PKU2U_TICKET_LIFETIME,
                                       endtime);
    negoex_krb_principal cname;
    memset(&cname, 0, sizeof cname);
    cname.name_type = NEGOEX_KRB_NT_MS_PRINCIPAL;
    cname.count = 1;
    cname.components[0] = pku2u_str(w->cname);
    const uint32_t flags = NEGOEX_KRB_TKT_INITIAL | NEGOEX_KRB_TKT_PRE_AUTHENT;
    if (rc == NEGOEX_OK) {
        negoex_krb_enc_ticket_part t;
        memset(&t, 0, sizeof t);
        t.flags = flags;
        t.key.keytype = session.enctype;
        t.key.keyvalue = (negoex_bytes){session.bytes, session.len};
        t.crealm = pku2u_str(sh->realm);
        t.cname = cname;
        t.tr_type = 0;
        t.tr_contents = pku2u_str("");
        t.authtime = (negoex_bytes){(const uint8_t *)authtime, 15};
        t.endtime = (negoex_bytes){(const uint8_t *)endtime, 15};
        what = "EncTicketPart";
        rc = negoex_krb_encode_enc_ticket_part(&t, &etp);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_encrypt(&sh->ticket_key, 2, etp.data, etp.len, &tkt_cipher);
    if (rc == NEGOEX_OK) {
        negoex_krb_enc_kdc_rep_part p;
        memset(&p, 0, sizeof p);
        p.app_tag = 25;
        p.key.keytype = session.enctype;
        p.key.keyvalue = (negoex_bytes){session.bytes, session.len};
        p.last_req_count = 1;
        p.last_req[0].lr_type = 0;
        p.last_req[0].lr_value = (negoex_bytes){(const uint8_t *)authtime, 15};
        p.nonce = req->nonce;
        p.flags = flags;
        p.authtime = (negoex_bytes){(const uint8_t *)authtime, 15};
        p.endtime = (negoex_bytes){(const uint8_t *)endtime, 15};
        p.srealm = pku2u_str(sh->realm);
        p.sname = req->sname;
        what = "EncASRepPart";
        rc = negoex_krb_encode_enc_kdc_rep_part(&p, &erp);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_encrypt(&reply, 3, erp.data, erp.len, &rep_cipher);
    if (rc == NEGOEX_OK) {
        negoex_krb_kdc_rep rep;
        memset(&rep, 0, sizeof rep);
        rep.msg_type = NEGOEX_KRB_AS_REP;
        rep.padata_count = 1;
        rep.padata[0].type = NEGOEX_KRB_PA_PK_AS_REP;
        rep.padata[0].value = (negoex_bytes){pa.data, pa.len};
        rep.crealm = pku2u_str(sh->realm);
        rep.cname = cname;
        rep.ticket.realm = pku2u_str(sh->realm);
        rep.ticket.sname = req->sname;
        rep.ticket.enc_part.etype = sh->ticket_key.enctype;
        rep.ticket.enc_part.cipher = (negoex_bytes){tkt_cipher.data, tkt_cipher.len};
        rep.enc_part.etype = reply.enctype;
        rep.enc_part.cipher = (negoex_bytes){rep_cipher.data, rep_cipher.len};
        what = "AS-REP";
        rc = negoex_krb_encode_as_rep(&rep, &pdu);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_AS_REP, pdu.data, pdu.len, &tok);
    size_t before = out->len;
    if (rc == NEGOEX_OK)
        rc = negoex_buf_append(out, tok.data, tok.len);
    if (rc == NEGOEX_OK) {
        negoex_buf_free(&s->as_req_tok);
        negoex_buf_free(&s->as_rep_tok);
        rc = negoex_buf_append(&s->as_req_tok, in, in_len);
        if (rc == NEGOEX_OK) {
            s->as_rep_tok = tok;
            negoex_buf_init(&tok, al);
        } else {
            out->len = before;
        }
    }
    if (rc == NEGOEX_OK) {
        s->session = session;
        s->has_session = 1;
        memcpy(s->krb_name, w->cname, sizeof w->cname);
        s->krb_name_type = NEGOEX_KRB_NT_MS_PRINCIPAL;
        X509_free(s->peer_cert);
        s->peer_cert = w->v.signer;
        w->v.signer = NULL;
        s->state = PK_A_AS_SENT;
    }
    negoex_dh_free(dh);
    OPENSSL_cleanse(zz, sizeof zz);
    negoex_krb_key_clear(&reply);
    negoex_krb_key_clear(&session);
    negoex_buf_free(&kdh);
    negoex_buf_free(&sd);
    negoex_buf_free(&pa);
    negoex_buf_free(&etp);
    negoex_buf_free(&tkt_cipher);
    negoex_buf_free(&erp);
    negoex_buf_free(&rep_cipher);
    negoex_buf_free(&pdu);
    negoex_buf_free(&tok);
    negoex_cms_verified_clear(&w->v);
    negoex_mem_free_secret(al_of(sh), w, sizeof *w);
    negoex_mem_free(al_of(sh), m);
    return rc == NEGOEX_OK ? rc : pku2u_reject(s, out, rc, what);
}

/* ------------------------------------------------------------------------ */
/* AP-REQ -> AP-REP                                                          */
/* ------------------------------------------------------------------------ */

/* Authenticator checks past decryption; *sub gets the initiator's subkey. */
static int check_authenticator(pku2u_scheme *s, const negoex_krb_authenticator *a,
                               const negoex_krb_enc_ticket_part *t, negoex_krb_key *sub, const char **what)
{
    const pku2u_shared *sh = s->sh;
    *what = "Authenticator client differs from the ticket's";
    if (a->crealm.len != t->crealm.len || memcmp(a->crealm.data, t->crealm.data, a->crealm.len) != 0 ||
        !pku2u_principal_eq(&a->cname, &t->cname))
        return NEGOEX_ERR_PKU2U_MISMATCH;
    int64_t now, ctime;
    uint32_t usec;
    pku2u_now(sh, &now, &usec);
    *what = "Authenticator ctime";
    int rc = negoex_krb_time_to_unix(a->ctime, &ctime);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "Authenticator ctime outside the clock skew";
    if (absdiff(ctime, now) > (int64_t)sh->clock_skew)
        return NEGOEX_ERR_PKU2U_CLOCK_SKEW;
    *what = "Authenticator without a subkey";
    if (!a->has_subkey)
        return NEGOEX_ERR_PKU2U_UNEXPECTED;
    *what = "Authenticator subkey";
    rc = negoex_krb_key_init(sub, a->subkey.keytype, a->subkey.keyvalue.data, a->subkey.keyvalue.len);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "Authenticator checksum is not the GSS 0x8003 one";
    if (!a->has_cksum || a->cksum.cksumtype != NEGOEX_GSS_CKSUMTYPE)
        return NEGOEX_ERR_PKU2U_UNEXPECTED;
    negoex_gss_ap_cksum gc;
    *what = "0x8003 checksum";
    rc = negoex_gss_ap_cksum_parse(a->cksum.checksum.data, a->cksum.checksum.len, &gc);
    if (rc != NEGOEX_OK)
        return rc;
    *what = "channel bindings differ";
    if (sh->has_cb && CRYPTO_memcmp(gc.bnd, sh->bnd, sizeof gc.bnd) != 0)
        return NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS;
    const negoex_gss_ext *x = negoex_gss_ap_cksum_find(&gc, NEGOEX_GSS_EXTS_FINISHED);
    *what = "KRB-FINISHED missing";
    if (x == NULL)
        return NEGOEX_ERR_PKU2U_FINISHED;
    negoex_krb_finished fin;
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    *what = "KRB-FINISHED";
    rc = negoex_krb_decode_finished(x->data, x->len, &fin, &err);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_krb_chunk chunks[2] = {{s->as_req_tok.data, s->as_req_tok.len}, {s->as_rep_tok.data, s->as_rep_tok.len}};
    *what = "KRB-FINISHED does not match the AS exchange";
    rc = negoex_gss_krb_finished_verify(sub, chunks, 2, fin.gss_mic.cksumtype, fin.gss_mic.checksum.data,
                                        fin.gss_mic.checksum.len);
    if (rc != NEGOEX_OK)
        return NEGOEX_ERR_PKU2U_FINISHED;
    return NEGOEX_OK;
}

int pku2u_acceptor_ap_req(pku2u_scheme *s, const uint8_t *in, size_t in_len, negoex_buf *out)
{
    const pku2u_shared *sh = s->sh;
    const negoex_allocator *al = sh->has_alloc ? &sh->alloc : NULL;
    negoex_pku2u_message *m = negoex_mem_alloc(al_of(sh), sizeof *m);
    if (m == NULL)
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "AP-REQ");
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    const char *what = "AP-REQ token";
    int rc = negoex_pku2u_decode_token(in, in_len, m, &err);
    if (rc == NEGOEX_OK && m->token.tok_id != NEGOEX_PKU2U_TOK_AP_REQ) {
        what = "expected an AP-REQ";
        rc = NEGOEX_ERR_PKU2U_UNEXPECTED;
    } else if (rc != NEGOEX_OK && err.field != NULL) {
        what = err.field;
    }
    const negoex_krb_ap_req *req = &m->u.ap_req;
    negoex_buf tplain, aplain, rplain, rcipher, pdu;
    negoex_buf_init(&tplain, al);
    negoex_buf_init(&aplain, al);
    negoex_buf_init(&rplain, al);
    negoex_buf_init(&rcipher, al);
    negoex_buf_init(&pdu, al);
    negoex_krb_enc_ticket_part t;
    negoex_krb_authenticator a;
    negoex_krb_key sub, own;
    memset(&sub, 0, sizeof sub);
    memset(&own, 0, sizeof own);
    if (rc == NEGOEX_OK) {
        what = "ticket (not one of ours)";
        rc = pku2u_decrypt(&sh->ticket_key, 2, &req->ticket.enc_part, &tplain);
    }
    if (rc == NEGOEX_OK) {
        what = "EncTicketPart";
        rc = negoex_krb_decode_enc_ticket_part(tplain.data, tplain.len, &t, &err);
    }
    if (rc == NEGOEX_OK && (t.key.keytype != s->session.enctype || t.key.keyvalue.len != s->session.len ||
                            CRYPTO_memcmp(t.key.keyvalue.data, s->session.bytes, s->session.len) != 0)) {
        what = "ticket is not the one of this exchange";
        rc = NEGOEX_ERR_PKU2U_MISMATCH;
    }
    if (rc == NEGOEX_OK) {
        what = "Authenticator (session key)";
        rc = pku2u_decrypt(&s->session, 11, &req->authenticator, &aplain);
    }
    if (rc == NEGOEX_OK) {
        what = "Authenticator";
        rc = negoex_krb_decode_authenticator(aplain.data, aplain.len, &a, &err);
    }
    if (rc == NEGOEX_OK)
        rc = check_authenticator(s, &a, &t, &sub, &what);

    uint32_t seq = 0;
    if (rc == NEGOEX_OK) {
        what = "random subkey";
        rc = pku2u_random_key(sh, sub.enctype, &own);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_random_seq(sh, &seq);
    if (rc == NEGOEX_OK) {
        negoex_krb_enc_ap_rep_part p;
        memset(&p, 0, sizeof p);
        p.ctime = a.ctime;
        p.cusec = a.cusec;
        p.has_subkey = 1;
        p.subkey.keytype = own.enctype;
        p.subkey.keyvalue = (negoex_bytes){own.bytes, own.len};
        p.has_seq_number = 1;
        p.seq_number = seq;
        what = "EncAPRepPart";
        rc = negoex_krb_encode_enc_ap_rep_part(&p, &rplain);
    }
    if (rc == NEGOEX_OK)
        rc = pku2u_encrypt(&s->session, 12, rplain.data, rplain.len, &rcipher);
    if (rc == NEGOEX_OK) {
        negoex_krb_ap_rep rep;
        memset(&rep, 0, sizeof rep);
        rep.enc_part.etype = s->session.enctype;
        rep.enc_part.cipher = (negoex_bytes){rcipher.data, rcipher.len};
        what = "AP-REP";
        rc = negoex_krb_encode_ap_rep(&rep, &pdu);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_token(NEGOEX_PKU2U_TOK_AP_REP, pdu.data, pdu.len, out);
    if (rc == NEGOEX_OK) {
        s->peer_subkey = sub;
        s->has_peer_subkey = 1;
        s->peer_seq = a.has_seq_number ? a.seq_number : 0;
        s->own_subkey = own;
        s->has_own_subkey = 1;
        s->own_seq = seq;
        s->send_seq = s->own_seq;
        s->recv_seq = s->peer_seq;
        negoex_buf_free(&s->as_req_tok);
        negoex_buf_free(&s->as_rep_tok);
        s->state = PK_DONE;
    }
    negoex_krb_key_clear(&sub);
    negoex_krb_key_clear(&own);
    negoex_buf_free(&tplain);
    negoex_buf_free(&aplain);
    negoex_buf_free(&rplain);
    negoex_buf_free(&rcipher);
    negoex_buf_free(&pdu);
    negoex_mem_free(al_of(sh), m);
    return rc == NEGOEX_OK ? rc : pku2u_reject(s, out, rc, what);
}
