/* PKU2U ASN.1 encoders: libtasn1 structures written field by field from the
 * decoders' view structs, then DER-coded (see asn1_encode.h).
 *
 * The schemas are the decoders' (.asn modules compiled by asn1Parser); this
 * file keeps its own parsed copy, loaded once, so the decoder core stays as
 * it is. Every writer is sticky: after the first failure the rest are
 * no-ops and the encoder returns that failure. */
#include "pku2u/asn1_encode.h"

#include <libtasn1.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alloc.h"

extern const asn1_static_node negoex_krb5_asn1_tab[];
extern const asn1_static_node negoex_pkinit_asn1_tab[];
extern const asn1_static_node negoex_cms_asn1_tab[];
extern const asn1_static_node negoex_pku2u_asn1_tab[];

enum enc_module { MOD_KRB5, MOD_PKINIT, MOD_PKU2U, MOD_COUNT_ };

static pthread_once_t enc_once = PTHREAD_ONCE_INIT;
static asn1_node enc_schemas[MOD_COUNT_];
static int enc_schemas_rc = NEGOEX_OK;

static void enc_schemas_load(void)
{
    static const asn1_static_node *const tabs[MOD_COUNT_] = {
        [MOD_KRB5] = negoex_krb5_asn1_tab,
        [MOD_PKINIT] = negoex_pkinit_asn1_tab,
        [MOD_PKU2U] = negoex_pku2u_asn1_tab,
    };
    for (int i = 0; i < MOD_COUNT_; i++) {
        char desc[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
        if (asn1_array2tree(tabs[i], &enc_schemas[i], desc) != ASN1_SUCCESS) {
            enc_schemas_rc = NEGOEX_ERR_NO_MEMORY;
            return;
        }
    }
}

/* ------------------------------------------------------------------------ */
/* Sticky writer                                                             */
/* ------------------------------------------------------------------------ */

#define EPATH_MAX 192
#define BIGINT_MAX 1100 /* DH p up to 8192 bits, plus a sign byte */

typedef struct enc {
    asn1_node node;
    int rc;
} enc;

static int tasn1_rc(int r)
{
    switch (r) {
    case ASN1_SUCCESS:
        return NEGOEX_OK;
    case ASN1_MEM_ALLOC_ERROR:
    case ASN1_MEM_ERROR:
        return NEGOEX_ERR_NO_MEMORY;
    default:
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
}

static void e_init(enc *e, enum enc_module m, const char *type)
{
    e->node = NULL;
    e->rc = NEGOEX_OK;
    if (pthread_once(&enc_once, enc_schemas_load) != 0) {
        e->rc = NEGOEX_ERR_NO_MEMORY;
        return;
    }
    if (enc_schemas_rc != NEGOEX_OK) {
        e->rc = enc_schemas_rc;
        return;
    }
    int r = asn1_create_element(enc_schemas[m], type, &e->node);
    if (r != ASN1_SUCCESS) {
        e->node = NULL;
        e->rc = tasn1_rc(r);
    }
}

static void e_fail(enc *e, int rc)
{
    if (e->rc == NEGOEX_OK)
        e->rc = rc;
}

static const char *pj(char buf[EPATH_MAX], const char *a, const char *b)
{
    int n = (a == NULL || a[0] == '\0') ? snprintf(buf, EPATH_MAX, "%s", b) : snprintf(buf, EPATH_MAX, "%s.%s", a, b);
    if (n < 0 || n >= EPATH_MAX)
        snprintf(buf, EPATH_MAX, "!");
    return buf;
}

static void e_raw(enc *e, const char *path, const void *v, int len)
{
    if (e->rc != NEGOEX_OK)
        return;
    int r = asn1_write_value(e->node, path, v, len);
    if (r != ASN1_SUCCESS)
        e->rc = tasn1_rc(r);
}

/* Deletes an OPTIONAL element (absent). */
static void e_absent(enc *e, const char *path)
{
    e_raw(e, path, NULL, 0);
}

/* Minimal two's complement of v. */
static void e_int(enc *e, const char *path, int64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[7 - i] = (uint8_t)((uint64_t)v >> (8 * i));
    int s = 0;
    while (s < 7 && ((b[s] == 0x00 && !(b[s + 1] & 0x80)) || (b[s] == 0xff && (b[s + 1] & 0x80))))
        s++;
    e_raw(e, path, b + s, 8 - s);
}

/* A non-negative INTEGER from its unsigned big-endian magnitude. */
static void e_bigint(enc *e, const char *path, negoex_bytes mag)
{
    if (e->rc != NEGOEX_OK)
        return;
    if (mag.data == NULL && mag.len != 0) {
        e->rc = NEGOEX_ERR_INVALID_ARGUMENT;
        return;
    }
    size_t s = 0;
    while (s < mag.len && mag.data[s] == 0)
        s++;
    size_t n = mag.len - s;
    if (n + 1 > BIGINT_MAX) {
        e->rc = NEGOEX_ERR_TOO_LARGE;
        return;
    }
    uint8_t b[BIGINT_MAX];
    size_t o = 0;
    if (n == 0 || (mag.data[s] & 0x80))
        b[o++] = 0;
    if (n)
        memcpy(b + o, mag.data + s, n);
    e_raw(e, path, b, (int)(o + n));
}

/* OCTET STRING / GeneralString bytes (libtasn1 takes len 0 as strlen). */
static void e_bytes(enc *e, const char *path, const void *data, size_t len)
{
    if (e->rc != NEGOEX_OK)
        return;
    if (len > INT_MAX || (data == NULL && len != 0)) {
        e->rc = len > INT_MAX ? NEGOEX_ERR_TOO_LARGE : NEGOEX_ERR_INVALID_ARGUMENT;
        return;
    }
    e_raw(e, path, len ? data : "", (int)len);
}

static void e_view(enc *e, const char *path, negoex_bytes v)
{
    e_bytes(e, path, v.data, v.len);
}

/* A KerberosString that must not be empty (realms, name components). */
static void e_kstring(enc *e, const char *path, negoex_bytes v)
{
    if (v.data == NULL || v.len == 0) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    e_view(e, path, v);
}

static void e_ktime(enc *e, const char *path, negoex_bytes t)
{
    int64_t unused;
    if (t.data == NULL || t.len != 15 || negoex_krb_time_to_unix(t, &unused) != NEGOEX_OK) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    char s[16];
    memcpy(s, t.data, 15);
    s[15] = '\0';
    e_raw(e, path, s, 0);
}

/* Optional KerberosTime: absent when t.data is NULL. */
static void e_ktime_opt(enc *e, const char *path, negoex_bytes t)
{
    if (t.data == NULL)
        e_absent(e, path);
    else
        e_ktime(e, path, t);
}

/* KerberosFlags: exactly 32 bits, as every Kerberos peer sends them. */
static void e_flags(enc *e, const char *path, uint32_t f)
{
    uint8_t b[4] = {(uint8_t)(f >> 24), (uint8_t)(f >> 16), (uint8_t)(f >> 8), (uint8_t)f};
    e_raw(e, path, b, 32);
}

static void e_new(enc *e, const char *path)
{
    e_raw(e, path, "NEW", 1);
}

static void e_oid(enc *e, const char *path, const char *dotted)
{
    e_raw(e, path, dotted, 1);
}

/* DER of the structure, appended to out; frees the structure either way. */
static int e_finish(enc *e, negoex_buf *out)
{
    int rc = e->rc;
    if (rc == NEGOEX_OK && out == NULL)
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    if (rc == NEGOEX_OK) {
        char desc[ASN1_MAX_ERROR_DESCRIPTION_SIZE];
        int len = 0;
        int r = asn1_der_coding(e->node, "", NULL, &len, desc);
        if (r != ASN1_MEM_ERROR && r != ASN1_SUCCESS)
            rc = tasn1_rc(r);
        uint8_t *at = NULL;
        if (rc == NEGOEX_OK && len > 0)
            rc = negoex_buf_reserve(out, (size_t)len, &at);
        if (rc == NEGOEX_OK) {
            int len2 = len;
            r = asn1_der_coding(e->node, "", at, &len2, desc);
            if (r != ASN1_SUCCESS || len2 != len)
                rc = r != ASN1_SUCCESS ? tasn1_rc(r) : NEGOEX_ERR_INVALID_ARGUMENT;
            else
                out->len += (size_t)len;
        }
    }
    if (e->node != NULL)
        asn1_delete_structure2(&e->node, ASN1_DELETE_FLAG_ZEROIZE);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Kerberos building blocks                                                  */
/* ------------------------------------------------------------------------ */

static void w_principal(enc *e, const char *path, const negoex_krb_principal *p)
{
    char b[EPATH_MAX], list[EPATH_MAX];
    if (p->count == 0 || p->count > NEGOEX_KRB_MAX_NAME_COMPONENTS) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    e_int(e, pj(b, path, "name-type"), p->name_type);
    pj(list, path, "name-string");
    for (size_t i = 0; i < p->count; i++) {
        e_new(e, list);
        e_kstring(e, pj(b, list, "?LAST"), p->components[i]);
    }
}

static void w_enc_data(enc *e, const char *path, const negoex_krb_enc_data *d)
{
    char b[EPATH_MAX];
    e_int(e, pj(b, path, "etype"), d->etype);
    if (d->has_kvno)
        e_int(e, pj(b, path, "kvno"), d->kvno);
    else
        e_absent(e, pj(b, path, "kvno"));
    if (d->cipher.data == NULL)
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
    e_view(e, pj(b, path, "cipher"), d->cipher);
}

static void w_key(enc *e, const char *path, const negoex_krb_keyblock *k)
{
    char b[EPATH_MAX];
    e_int(e, pj(b, path, "keytype"), k->keytype);
    if (k->keyvalue.data == NULL)
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
    e_view(e, pj(b, path, "keyvalue"), k->keyvalue);
}

static void w_checksum(enc *e, const char *path, const negoex_krb_cksum *c)
{
    char b[EPATH_MAX];
    e_int(e, pj(b, path, "cksumtype"), c->cksumtype);
    if (c->checksum.data == NULL)
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
    e_view(e, pj(b, path, "checksum"), c->checksum);
}

static void w_addresses(enc *e, const char *path, size_t n, const negoex_krb_address *a)
{
    char b[EPATH_MAX], item[EPATH_MAX];
    if (n > NEGOEX_KRB_MAX_ADDRESSES) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        e_new(e, path);
        pj(item, path, "?LAST");
        e_int(e, pj(b, item, "addr-type"), a[i].addr_type);
        if (a[i].address.data == NULL)
            e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        e_view(e, pj(b, item, "address"), a[i].address);
    }
}

static void w_authz(enc *e, const char *path, const negoex_krb_authz_data *ad)
{
    char b[EPATH_MAX], item[EPATH_MAX];
    if (ad->count == 0 || ad->count > NEGOEX_KRB_MAX_AD) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    for (size_t i = 0; i < ad->count; i++) {
        e_new(e, path);
        pj(item, path, "?LAST");
        e_int(e, pj(b, item, "ad-type"), ad->entries[i].ad_type);
        if (ad->entries[i].ad_data.data == NULL)
            e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        e_view(e, pj(b, item, "ad-data"), ad->entries[i].ad_data);
    }
}

static void w_padata(enc *e, const char *path, size_t n, const negoex_krb_padata *pa)
{
    char b[EPATH_MAX], item[EPATH_MAX];
    if (n > NEGOEX_KRB_MAX_PADATA) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    if (n == 0) {
        e_absent(e, path);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        e_new(e, path);
        pj(item, path, "?LAST");
        e_int(e, pj(b, item, "padata-type"), pa[i].type);
        if (pa[i].value.data == NULL)
            e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        e_view(e, pj(b, item, "padata-value"), pa[i].value);
    }
}

static void w_ticket(enc *e, const char *path, const negoex_krb_ticket *t)
{
    char b[EPATH_MAX];
    e_int(e, pj(b, path, "tkt-vno"), NEGOEX_KRB_PVNO);
    e_kstring(e, pj(b, path, "realm"), t->realm);
    w_principal(e, pj(b, path, "sname"), &t->sname);
    w_enc_data(e, pj(b, path, "enc-part"), &t->enc_part);
}

static void w_req_body(enc *e, const char *path, const negoex_krb_kdc_req *r)
{
    char b[EPATH_MAX], list[EPATH_MAX];
    if (r->has_enc_authorization_data || r->additional_ticket_count != 0 || r->etype_count == 0 ||
        r->etype_count > NEGOEX_KRB_MAX_ETYPES) {
        e_fail(e, NEGOEX_ERR_INVALID_ARGUMENT);
        return;
    }
    e_flags(e, pj(b, path, "kdc-options"), r->kdc_options);
    if (r->has_cname)
        w_principal(e, pj(b, path, "cname"), &r->cname);
    else
        e_absent(e, pj(b, path, "cname"));
    e_kstring(e, pj(b, path, "realm"), r->realm);
    if (r->has_sname)
        w_principal(e, pj(b, path, "sname"), &r->sname);
    else
        e_absent(e, pj(b, path, "sname"));
    e_ktime_opt(e, pj(b, path, "from"), r->from);
    e_ktime(e, pj(b, path, "till"), r->till);
    e_ktime_opt(e, pj(b, path, "rtime"), r->rtime);
    e_int(e, pj(b, path, "nonce"), r->nonce);
    pj(list, path, "etype");
    for (size_t i = 0; i < r->etype_count; i++) {
        e_new(e, list);
        e_int(e, pj(b, list, "?LAST"), r->etypes[i]);
    }
    if (r->has_addresses)
        w_addresses(e, pj(b, path, "addresses"), r->address_count, r->addresses);
    else
        e_absent(e, pj(b, path, "addresses"));
    e_absent(e, pj(b, path, "enc-authorization-data"));
    e_absent(e, pj(b, path, "additional-tickets"));
}

/* ------------------------------------------------------------------------ */
/* Kerberos messages                                                         */
/* ------------------------------------------------------------------------ */

#define KRB5(t) "KerberosV5Spec2." t
#define PKINIT(t) "KerberosV5-PK-INIT-SPEC." t
#define PKU2U(t) "PKU2U." t

int negoex_krb_encode_kdc_req_body(const negoex_krb_kdc_req *req, negoex_buf *out)
{
    if (req == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("KDC-REQ-BODY"));
    w_req_body(&e, "", req);
    return e_finish(&e, out);
}

int negoex_krb_encode_as_req(const negoex_krb_kdc_req *req, negoex_buf *out)
{
    if (req == NULL || req->padata_count == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("AS-REQ"));
    e_int(&e, "pvno", NEGOEX_KRB_PVNO);
    e_int(&e, "msg-type", NEGOEX_KRB_AS_REQ);
    w_padata(&e, "padata", req->padata_count, req->padata);
    w_req_body(&e, "req-body", req);
    return e_finish(&e, out);
}

int negoex_krb_encode_as_rep(const negoex_krb_kdc_rep *rep, negoex_buf *out)
{
    if (rep == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("AS-REP"));
    e_int(&e, "pvno", NEGOEX_KRB_PVNO);
    e_int(&e, "msg-type", NEGOEX_KRB_AS_REP);
    w_padata(&e, "padata", rep->padata_count, rep->padata);
    e_kstring(&e, "crealm", rep->crealm);
    w_principal(&e, "cname", &rep->cname);
    w_ticket(&e, "ticket", &rep->ticket);
    w_enc_data(&e, "enc-part", &rep->enc_part);
    return e_finish(&e, out);
}

int negoex_krb_encode_ticket(const negoex_krb_ticket *ticket, negoex_buf *out)
{
    if (ticket == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("Ticket"));
    w_ticket(&e, "", ticket);
    return e_finish(&e, out);
}

int negoex_krb_encode_enc_ticket_part(const negoex_krb_enc_ticket_part *p, negoex_buf *out)
{
    if (p == NULL || p->authorization_data.data != NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("EncTicketPart"));
    e_flags(&e, "flags", p->flags);
    w_key(&e, "key", &p->key);
    e_kstring(&e, "crealm", p->crealm);
    w_principal(&e, "cname", &p->cname);
    e_int(&e, "transited.tr-type", p->tr_type);
    e_view(&e, "transited.contents", p->tr_contents);
    e_ktime(&e, "authtime", p->authtime);
    e_ktime_opt(&e, "starttime", p->starttime);
    e_ktime(&e, "endtime", p->endtime);
    e_ktime_opt(&e, "renew-till", p->renew_till);
    if (p->has_caddr)
        w_addresses(&e, "caddr", p->caddr_count, p->caddr);
    else
        e_absent(&e, "caddr");
    e_absent(&e, "authorization-data");
    return e_finish(&e, out);
}

int negoex_krb_encode_enc_kdc_rep_part(const negoex_krb_enc_kdc_rep_part *p, negoex_buf *out)
{
    if (p == NULL || (p->app_tag != 25 && p->app_tag != 26) || p->last_req_count > NEGOEX_KRB_MAX_LAST_REQ)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    char b[EPATH_MAX];
    e_init(&e, MOD_KRB5, p->app_tag == 25 ? KRB5("EncASRepPart") : KRB5("EncTGSRepPart"));
    w_key(&e, "key", &p->key);
    /* LastReq is a SEQUENCE OF that may be empty: libtasn1 writes an empty
     * SEQUENCE for a list without entries. */
    for (size_t i = 0; i < p->last_req_count; i++) {
        e_new(&e, "last-req");
        e_int(&e, pj(b, "last-req.?LAST", "lr-type"), p->last_req[i].lr_type);
        e_ktime(&e, pj(b, "last-req.?LAST", "lr-value"), p->last_req[i].lr_value);
    }
    e_int(&e, "nonce", p->nonce);
    e_ktime_opt(&e, "key-expiration", p->key_expiration);
    e_flags(&e, "flags", p->flags);
    e_ktime(&e, "authtime", p->authtime);
    e_ktime_opt(&e, "starttime", p->starttime);
    e_ktime(&e, "endtime", p->endtime);
    e_ktime_opt(&e, "renew-till", p->renew_till);
    e_kstring(&e, "srealm", p->srealm);
    w_principal(&e, "sname", &p->sname);
    if (p->has_caddr)
        w_addresses(&e, "caddr", p->caddr_count, p->caddr);
    else
        e_absent(&e, "caddr");
    return e_finish(&e, out);
}

int negoex_krb_encode_ap_req(const negoex_krb_ap_req *req, negoex_buf *out)
{
    if (req == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("AP-REQ"));
    e_int(&e, "pvno", NEGOEX_KRB_PVNO);
    e_int(&e, "msg-type", NEGOEX_KRB_AP_REQ);
    e_flags(&e, "ap-options", req->ap_options);
    w_ticket(&e, "ticket", &req->ticket);
    w_enc_data(&e, "authenticator", &req->authenticator);
    return e_finish(&e, out);
}

int negoex_krb_encode_authenticator(const negoex_krb_authenticator *a, const negoex_krb_authz_data *authz,
                                    negoex_buf *out)
{
    if (a == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("Authenticator"));
    e_int(&e, "authenticator-vno", NEGOEX_KRB_PVNO);
    e_kstring(&e, "crealm", a->crealm);
    w_principal(&e, "cname", &a->cname);
    if (a->has_cksum)
        w_checksum(&e, "cksum", &a->cksum);
    else
        e_absent(&e, "cksum");
    if (a->cusec > 999999)
        e_fail(&e, NEGOEX_ERR_INVALID_ARGUMENT);
    e_int(&e, "cusec", a->cusec);
    e_ktime(&e, "ctime", a->ctime);
    if (a->has_subkey)
        w_key(&e, "subkey", &a->subkey);
    else
        e_absent(&e, "subkey");
    if (a->has_seq_number)
        e_int(&e, "seq-number", a->seq_number);
    else
        e_absent(&e, "seq-number");
    if (authz != NULL)
        w_authz(&e, "authorization-data", authz);
    else
        e_absent(&e, "authorization-data");
    return e_finish(&e, out);
}

int negoex_krb_encode_ap_rep(const negoex_krb_ap_rep *rep, negoex_buf *out)
{
    if (rep == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("AP-REP"));
    e_int(&e, "pvno", NEGOEX_KRB_PVNO);
    e_int(&e, "msg-type", NEGOEX_KRB_AP_REP);
    w_enc_data(&e, "enc-part", &rep->enc_part);
    return e_finish(&e, out);
}

int negoex_krb_encode_enc_ap_rep_part(const negoex_krb_enc_ap_rep_part *p, negoex_buf *out)
{
    if (p == NULL || p->cusec > 999999)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("EncAPRepPart"));
    e_ktime(&e, "ctime", p->ctime);
    e_int(&e, "cusec", p->cusec);
    if (p->has_subkey)
        w_key(&e, "subkey", &p->subkey);
    else
        e_absent(&e, "subkey");
    if (p->has_seq_number)
        e_int(&e, "seq-number", p->seq_number);
    else
        e_absent(&e, "seq-number");
    return e_finish(&e, out);
}

int negoex_krb_encode_error(const negoex_krb_error *x, negoex_buf *out)
{
    if (x == NULL || x->susec > 999999 || (x->has_cusec && x->cusec > 999999))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("KRB-ERROR"));
    e_int(&e, "pvno", NEGOEX_KRB_PVNO);
    e_int(&e, "msg-type", NEGOEX_KRB_ERROR);
    e_ktime_opt(&e, "ctime", x->ctime);
    if (x->has_cusec)
        e_int(&e, "cusec", x->cusec);
    else
        e_absent(&e, "cusec");
    e_ktime(&e, "stime", x->stime);
    e_int(&e, "susec", x->susec);
    e_int(&e, "error-code", x->error_code);
    if (x->crealm.data != NULL)
        e_kstring(&e, "crealm", x->crealm);
    else
        e_absent(&e, "crealm");
    if (x->has_cname)
        w_principal(&e, "cname", &x->cname);
    else
        e_absent(&e, "cname");
    e_kstring(&e, "realm", x->realm);
    w_principal(&e, "sname", &x->sname);
    if (x->e_text.data != NULL)
        e_view(&e, "e-text", x->e_text);
    else
        e_absent(&e, "e-text");
    if (x->e_data.data != NULL)
        e_view(&e, "e-data", x->e_data);
    else
        e_absent(&e, "e-data");
    return e_finish(&e, out);
}

int negoex_krb_encode_authz_data(const negoex_krb_authz_data *ad, negoex_buf *out)
{
    if (ad == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_KRB5, KRB5("AuthorizationData"));
    w_authz(&e, "", ad);
    return e_finish(&e, out);
}

/* ------------------------------------------------------------------------ */
/* PKINIT                                                                    */
/* ------------------------------------------------------------------------ */

int negoex_krb_encode_pa_pk_as_req(const uint8_t *sap, size_t len, negoex_buf *out)
{
    if (sap == NULL || len == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_PKINIT, PKINIT("PA-PK-AS-REQ"));
    e_bytes(&e, "signedAuthPack", sap, len);
    e_absent(&e, "trustedCertifiers");
    e_absent(&e, "kdcPkId");
    return e_finish(&e, out);
}

/* DER INTEGER y (DHPublicKey), appended to out. */
static int encode_dh_public_key(negoex_bytes y, negoex_buf *out)
{
    enc e;
    e_init(&e, MOD_PKINIT, PKINIT("DHPublicKey"));
    e_bigint(&e, "", y);
    return e_finish(&e, out);
}

int negoex_krb_encode_auth_pack(const negoex_krb_auth_pack_in *a, negoex_buf *out)
{
    if (a == NULL || a->cusec > 999999 || a->p.data == NULL || a->g.data == NULL || a->y.data == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_buf params, pub;
    negoex_buf_init(&params, out != NULL ? out->alloc : NULL);
    negoex_buf_init(&pub, out != NULL ? out->alloc : NULL);

    enc e;
    e_init(&e, MOD_PKINIT, PKINIT("DomainParameters"));
    e_bigint(&e, "p", a->p);
    e_bigint(&e, "g", a->g);
    if (a->q.data != NULL)
        e_bigint(&e, "q", a->q);
    else
        e_fail(&e, NEGOEX_ERR_INVALID_ARGUMENT); /* q is mandatory in RFC 3279 */
    e_absent(&e, "j");
    e_absent(&e, "validationParms");
    int rc = e_finish(&e, &params);
    if (rc == NEGOEX_OK)
        rc = encode_dh_public_key(a->y, &pub);
    if (rc == NEGOEX_OK && pub.len > INT_MAX / 8)
        rc = NEGOEX_ERR_TOO_LARGE;
    if (rc != NEGOEX_OK) {
        negoex_buf_free(&params);
        negoex_buf_free(&pub);
        return rc;
    }

    e_init(&e, MOD_PKINIT, PKINIT("AuthPack"));
    e_int(&e, "pkAuthenticator.cusec", a->cusec);
    e_ktime(&e, "pkAuthenticator.ctime", a->ctime);
    e_int(&e, "pkAuthenticator.nonce", a->nonce);
    if (a->pa_checksum.data != NULL)
        e_view(&e, "pkAuthenticator.paChecksum", a->pa_checksum);
    else
        e_absent(&e, "pkAuthenticator.paChecksum");
    e_oid(&e, "clientPublicValue.algorithm.algorithm", "1.2.840.10046.2.1");
    e_raw(&e, "clientPublicValue.algorithm.parameters", params.data, (int)params.len);
    e_raw(&e, "clientPublicValue.subjectPublicKey", pub.data, (int)(pub.len * 8));
    e_absent(&e, "supportedCMSTypes");
    if (a->client_dh_nonce.data != NULL)
        e_view(&e, "clientDHNonce", a->client_dh_nonce);
    else
        e_absent(&e, "clientDHNonce");
    rc = e_finish(&e, out);
    negoex_buf_free(&params);
    negoex_buf_free(&pub);
    return rc;
}

int negoex_krb_encode_kdc_dh_key_info(const uint8_t *y, size_t y_len, uint32_t nonce, negoex_buf *out)
{
    if (y == NULL || y_len == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    negoex_buf pub;
    negoex_buf_init(&pub, out != NULL ? out->alloc : NULL);
    negoex_bytes yv = {y, y_len};
    int rc = encode_dh_public_key(yv, &pub);
    if (rc == NEGOEX_OK && pub.len > INT_MAX / 8)
        rc = NEGOEX_ERR_TOO_LARGE;
    if (rc != NEGOEX_OK) {
        negoex_buf_free(&pub);
        return rc;
    }
    enc e;
    e_init(&e, MOD_PKINIT, PKINIT("KDCDHKeyInfo"));
    e_raw(&e, "subjectPublicKey", pub.data, (int)(pub.len * 8));
    e_int(&e, "nonce", nonce);
    e_absent(&e, "dhKeyExpiration");
    rc = e_finish(&e, out);
    negoex_buf_free(&pub);
    return rc;
}

int negoex_krb_encode_pa_pk_as_rep_dh(const uint8_t *sd, size_t len, const uint8_t *server_nonce,
                                      size_t server_nonce_len, negoex_buf *out)
{
    if (sd == NULL || len == 0)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_PKINIT, PKINIT("PA-PK-AS-REP"));
    e_raw(&e, "", "dhInfo", 1);
    e_bytes(&e, "dhInfo.dhSignedData", sd, len);
    if (server_nonce != NULL)
        e_bytes(&e, "dhInfo.serverDHNonce", server_nonce, server_nonce_len);
    else
        e_absent(&e, "dhInfo.serverDHNonce");
    return e_finish(&e, out);
}

/* ------------------------------------------------------------------------ */
/* PKU2U                                                                     */
/* ------------------------------------------------------------------------ */

int negoex_pku2u_encode_metadata(const negoex_pku2u_metadata *m, negoex_buf *out)
{
    if (m == NULL || m->trusted_certifier_count > NEGOEX_KRB_MAX_CERTIFIERS)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    char b[EPATH_MAX];
    e_init(&e, MOD_PKU2U, m->initiator ? PKU2U("Pku2uInitiatorMetaData") : PKU2U("Pku2uAcceptorMetaData"));
    /* A SEQUENCE OF without entries encodes as an empty SEQUENCE. */
    for (size_t i = 0; i < m->trusted_certifier_count; i++) {
        const negoex_krb_epi *c = &m->trusted_certifiers[i];
        e_new(&e, "trustedCertifiers");
        if (c->subject_name.data != NULL)
            e_view(&e, pj(b, "trustedCertifiers.?LAST", "subjectName"), c->subject_name);
        else
            e_absent(&e, pj(b, "trustedCertifiers.?LAST", "subjectName"));
        if (c->issuer_and_serial.data != NULL)
            e_view(&e, pj(b, "trustedCertifiers.?LAST", "issuerAndSerialNumber"), c->issuer_and_serial);
        else
            e_absent(&e, pj(b, "trustedCertifiers.?LAST", "issuerAndSerialNumber"));
        if (c->subject_key_id.data != NULL)
            e_view(&e, pj(b, "trustedCertifiers.?LAST", "subjectKeyIdentifier"), c->subject_key_id);
        else
            e_absent(&e, pj(b, "trustedCertifiers.?LAST", "subjectKeyIdentifier"));
    }
    if (m->initiator) {
        e_kstring(&e, "target.realm", m->target_realm);
        w_principal(&e, "target.sname", &m->target_sname);
    }
    return e_finish(&e, out);
}

int negoex_krb_encode_finished(const negoex_krb_cksum *gss_mic, negoex_buf *out)
{
    if (gss_mic == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    e_init(&e, MOD_PKU2U, PKU2U("KRB-FINISHED"));
    w_checksum(&e, "gss-mic", gss_mic);
    return e_finish(&e, out);
}

int negoex_krb_encode_ad_restrictions(const negoex_krb_ad_restrictions *r, negoex_buf *out)
{
    if (r == NULL || r->count == 0 || r->count > NEGOEX_KRB_MAX_AD)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    enc e;
    char b[EPATH_MAX];
    e_init(&e, MOD_PKU2U, PKU2U("KERB-AD-RESTRICTIONS"));
    for (size_t i = 0; i < r->count; i++) {
        e_new(&e, "");
        e_int(&e, pj(b, "?LAST", "restriction-type"), r->entries[i].restriction_type);
        if (r->entries[i].restriction.data == NULL)
            e_fail(&e, NEGOEX_ERR_INVALID_ARGUMENT);
        e_view(&e, pj(b, "?LAST", "restriction"), r->entries[i].restriction);
    }
    return e_finish(&e, out);
}

int negoex_pku2u_encode_token(unsigned tok_id, const uint8_t *pdu, size_t pdu_len, negoex_buf *out)
{
    size_t need = 0;
    if (out == NULL || (pdu == NULL && pdu_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = negoex_pku2u_token_size(pdu_len, &need);
    if (rc != NEGOEX_OK)
        return rc;
    uint8_t *at = NULL;
    rc = negoex_buf_reserve(out, need, &at);
    if (rc != NEGOEX_OK)
        return rc;
    size_t written = 0;
    rc = negoex_pku2u_token_write(tok_id, pdu, pdu_len, at, need, &written);
    if (rc == NEGOEX_OK)
        out->len += written;
    return rc;
}

int negoex_krb_time_from_unix(int64_t t, char out[16])
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    /* Civil date from days since 1970-01-01 (proleptic Gregorian). */
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y++;
    if (y < 1 || y > 9999)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    snprintf(out, 16, "%04d%02d%02d%02d%02d%02dZ", (int)y, (int)m, (int)d, (int)(rem / 3600), (int)(rem / 60 % 60),
             (int)(rem % 60));
    return NEGOEX_OK;
}
