/*
 * The PKU2U auth scheme (include/negoex/scheme_pku2u.h): configuration,
 * the scheme methods the NEGOEX context calls, the accessors for the
 * established context and RFC 4121 per-message tokens. The two roles'
 * messages are pku2u_initiator.c and pku2u_acceptor.c.
 *
 * Copies (clone) share the configuration, identity and status block
 * (reference counted) and the initiator's DH key; everything else is
 * copied, so the context can step a copy and drop it.
 */
#include <negoex/scheme_pku2u.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>
#include <string.h>
#include <unistd.h>

#include "alloc.h"
#include "pku2u/cms.h"
#include "pku2u/pku2u_internal.h"

static const uint8_t PKU2U_GUID[16] = {0x5c, 0x33, 0x53, 0x0d, 0xea, 0xf9, 0x0d, 0x4d,
                                       0xb2, 0xec, 0x4a, 0xe3, 0x78, 0x6e, 0xc3, 0x08};

static const negoex_scheme_class pku2u_class;

/* The public constants are the internal layers' values. */
_Static_assert(NEGOEX_PKU2U_DIGEST_SHA1 == NEGOEX_CMS_DIGEST_SHA1, "digest bits");
_Static_assert(NEGOEX_PKU2U_DIGEST_SHA256 == NEGOEX_CMS_DIGEST_SHA256, "digest bits");
_Static_assert(NEGOEX_PKU2U_DH_MODP2 == NEGOEX_DH_GROUP_MODP2, "DH group ids");
_Static_assert(NEGOEX_PKU2U_DH_MODP14 == NEGOEX_DH_GROUP_MODP14, "DH group ids");

void negoex_pku2u_config_init(negoex_pku2u_config *cfg)
{
    static const int32_t windows_etypes[] = {18, 17, 23, 24, -135};
    if (cfg == NULL)
        return;
    memset(cfg, 0, sizeof *cfg);
    cfg->struct_size = sizeof *cfg;
    cfg->dh_group = NEGOEX_PKU2U_DH_MODP2;
    cfg->digest = NEGOEX_PKU2U_DIGEST_SHA1;
    cfg->clock_skew = NEGOEX_PKU2U_DEFAULT_CLOCK_SKEW;
    cfg->kdc_options = NEGOEX_PKU2U_DEFAULT_KDC_OPTIONS;
    cfg->cname_type = NEGOEX_KRB_NT_MS_PRINCIPAL;
    cfg->till = NEGOEX_PKU2U_DEFAULT_TILL;
    cfg->rtime = NEGOEX_PKU2U_DEFAULT_TILL;
    cfg->nonce = 0;
    cfg->etype_count = sizeof windows_etypes / sizeof windows_etypes[0];
    memcpy(cfg->etypes, windows_etypes, sizeof windows_etypes);
    cfg->gss_flags = NEGOEX_PKU2U_DEFAULT_GSS_FLAGS;
}

/* ------------------------------------------------------------------------ */
/* Shared block                                                               */
/* ------------------------------------------------------------------------ */

static const negoex_allocator *sh_alloc(const pku2u_shared *sh)
{
    return sh->has_alloc ? &sh->alloc : NULL;
}

static void shared_unref(pku2u_shared *sh)
{
    if (sh == NULL || --sh->refs > 0)
        return;
    negoex_x509_identity_clear(&sh->id);
    negoex_x509_trust_free(sh->trust);
    negoex_krb_key_clear(&sh->ticket_key);
    negoex_allocator a = sh->alloc;
    int has = sh->has_alloc;
    negoex_mem_free_secret(has ? &a : NULL, sh, sizeof *sh);
}

static int copy_str(char *dst, size_t cap, const char *src)
{
    if (src == NULL) {
        dst[0] = '\0';
        return NEGOEX_OK;
    }
    size_t n = strlen(src);
    if (n >= cap)
        return NEGOEX_ERR_TOO_LARGE;
    memcpy(dst, src, n + 1);
    return NEGOEX_OK;
}

/* Our NetBIOS name: the first label of the host name, upper case, at most
 * 15 characters, padded with spaces to 16 (what Windows sends). */
static void netbios_of(const char *name, uint8_t out[16])
{
    char host[256];
    if (name == NULL) {
        if (gethostname(host, sizeof host) != 0)
            host[0] = '\0';
        host[sizeof host - 1] = '\0';
        char *dot = strchr(host, '.');
        if (dot != NULL)
            *dot = '\0';
        name = host;
    }
    size_t n = strlen(name);
    if (n > 15)
        n = 15;
    memset(out, ' ', 16);
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        out[i] = (uint8_t)(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    }
}

static int load_identity(pku2u_shared *sh, const negoex_pku2u_config *cfg)
{
    if (cfg->cert != NULL || cfg->key != NULL) {
        if (cfg->cert == NULL || cfg->key == NULL)
            return NEGOEX_ERR_INVALID_ARGUMENT;
        if (X509_check_private_key(cfg->cert, cfg->key) != 1)
            return NEGOEX_ERR_CREDENTIAL_LOAD;
        if (!X509_up_ref(cfg->cert))
            return NEGOEX_ERR_NO_MEMORY;
        sh->id.cert = cfg->cert;
        if (!EVP_PKEY_up_ref(cfg->key))
            return NEGOEX_ERR_NO_MEMORY;
        sh->id.key = cfg->key;
        if (cfg->chain != NULL && sk_X509_num(cfg->chain) > 0) {
            sh->id.chain = X509_chain_up_ref(cfg->chain);
            if (sh->id.chain == NULL)
                return NEGOEX_ERR_NO_MEMORY;
        }
        return NEGOEX_OK;
    }
    if (cfg->cert_file == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    return negoex_x509_identity_load(cfg->cert_file, cfg->key_file, cfg->password, &sh->id, NULL);
}

static int load_trust(pku2u_shared *sh, const negoex_pku2u_config *cfg)
{
    int rc = negoex_x509_trust_new(&sh->trust);
    for (int i = 0; rc == NEGOEX_OK && cfg->trust_anchors != NULL && i < sk_X509_num(cfg->trust_anchors); i++)
        rc = negoex_x509_trust_add_cert(sh->trust, sk_X509_value(cfg->trust_anchors, i));
    if (rc == NEGOEX_OK && cfg->trust_file != NULL)
        rc = negoex_x509_trust_add_file(sh->trust, cfg->trust_file, NULL);
    if (rc == NEGOEX_OK && cfg->trust_dir != NULL)
        rc = negoex_x509_trust_add_dir(sh->trust, cfg->trust_dir, NULL);
    if (rc == NEGOEX_OK && negoex_x509_trust_count(sh->trust) == 0)
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    return rc;
}

static int fill_shared(pku2u_shared *sh, const negoex_pku2u_config *cfg)
{
    int rc = NEGOEX_OK;
    if (cfg->etype_count == 0 || cfg->etype_count > NEGOEX_PKU2U_MAX_ETYPES || cfg->clock_skew > 86400u * 366u ||
        (cfg->dh_group != 0 && negoex_dh_group(cfg->dh_group) == NULL) ||
        (cfg->digest != 0 && cfg->digest != NEGOEX_PKU2U_DIGEST_SHA1 && cfg->digest != NEGOEX_PKU2U_DIGEST_SHA256) ||
        (cfg->dh_groups_accepted & ~(NEGOEX_PKU2U_ACCEPT_MODP2 | NEGOEX_PKU2U_ACCEPT_MODP14)) ||
        (cfg->channel_bindings == NULL && cfg->channel_bindings_len != 0) ||
        (cfg->channel_bindings != NULL && cfg->channel_bindings_hash != NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    rc = copy_str(sh->target_service, sizeof sh->target_service,
                  cfg->target_service != NULL ? cfg->target_service : NEGOEX_PKU2U_DEFAULT_SERVICE);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->target_host, sizeof sh->target_host, cfg->target_host);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->realm, sizeof sh->realm, cfg->realm != NULL ? cfg->realm : NEGOEX_PKU2U_REALM);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->host_name, sizeof sh->host_name, cfg->host_name);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->service, sizeof sh->service, cfg->service);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->till, sizeof sh->till, cfg->till != NULL ? cfg->till : NEGOEX_PKU2U_DEFAULT_TILL);
    if (rc == NEGOEX_OK)
        rc = copy_str(sh->rtime, sizeof sh->rtime, cfg->rtime);
    if (rc != NEGOEX_OK)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int64_t t;
    if (negoex_krb_time_to_unix(pku2u_str(sh->till), &t) != NEGOEX_OK ||
        (sh->rtime[0] && negoex_krb_time_to_unix(pku2u_str(sh->rtime), &t) != NEGOEX_OK) || sh->realm[0] == '\0' ||
        sh->target_service[0] == '\0')
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (cfg->netbios_name == NULL || cfg->netbios_name[0] != '\0') {
        netbios_of(cfg->netbios_name, sh->netbios);
        sh->has_netbios = 1;
    }
    sh->dh_group = cfg->dh_group != 0 ? cfg->dh_group : NEGOEX_PKU2U_DH_MODP2;
    sh->dh_accept = cfg->dh_groups_accepted != 0 ? cfg->dh_groups_accepted
                                                 : NEGOEX_PKU2U_ACCEPT_MODP2 | NEGOEX_PKU2U_ACCEPT_MODP14;
    sh->digest = cfg->digest != 0 ? cfg->digest : NEGOEX_PKU2U_DIGEST_SHA1;
    sh->wrapped_cms = cfg->wrapped_cms != 0;
    sh->accept_digests = cfg->accept_digests;
    sh->now = cfg->now;
    sh->validation_time = cfg->validation_time;
    sh->clock_skew = cfg->clock_skew;
    if (cfg->channel_bindings != NULL) {
        negoex_gss_channel_bindings cb;
        memset(&cb, 0, sizeof cb);
        cb.application_data = cfg->channel_bindings;
        cb.application_data_len = cfg->channel_bindings_len;
        rc = negoex_gss_channel_bindings_hash(&cb, sh->bnd);
        if (rc != NEGOEX_OK)
            return rc;
        sh->has_cb = 1;
    } else if (cfg->channel_bindings_hash != NULL) {
        memcpy(sh->bnd, cfg->channel_bindings_hash, sizeof sh->bnd);
        sh->has_cb = 1;
    }
    sh->kdc_options = cfg->kdc_options;
    sh->cname_type = cfg->cname_type;
    sh->nonce = cfg->nonce;
    sh->etype_count = cfg->etype_count;
    memcpy(sh->etypes, cfg->etypes, cfg->etype_count * sizeof cfg->etypes[0]);
    sh->gss_flags = cfg->gss_flags;
    sh->ad_restrictions = !cfg->no_ad_restrictions;
    sh->rng = cfg->rng;
    sh->rng_ud = cfg->rng_ud;
    sh->sink = cfg->status;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Creation                                                                   */
/* ------------------------------------------------------------------------ */

int negoex_pku2u_scheme_new(negoex_scheme **out, const negoex_pku2u_config *cfg, const negoex_allocator *alloc)
{
    if (out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *out = NULL;
    if (cfg == NULL || cfg->struct_size < sizeof *cfg)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (alloc != NULL && (alloc->alloc == NULL || alloc->realloc == NULL || alloc->free == NULL))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    pku2u_shared *sh = negoex_mem_alloc(alloc, sizeof *sh);
    if (sh == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memset(sh, 0, sizeof *sh);
    sh->refs = 1;
    if (alloc != NULL) {
        sh->alloc = *alloc;
        sh->has_alloc = 1;
    }
    int rc = fill_shared(sh, cfg);
    if (rc == NEGOEX_OK)
        rc = load_identity(sh, cfg);
    if (rc == NEGOEX_OK)
        rc = load_trust(sh, cfg);
    if (rc == NEGOEX_OK) {
        if (cfg->cname != NULL)
            rc = copy_str(sh->cname, sizeof sh->cname, cfg->cname);
        else
            rc = pku2u_cname_from_cert(sh->id.cert, sh->cname, sizeof sh->cname);
        if (rc == NEGOEX_OK && sh->cname[0] == '\0')
            rc = NEGOEX_ERR_INVALID_ARGUMENT;
    }
    if (rc == NEGOEX_OK)
        rc = negoex_krb_key_random(&sh->ticket_key, NEGOEX_ENCTYPE_AES256_CTS_HMAC_SHA1_96);
    if (rc == NEGOEX_OK) {
        /* LSAP_TOKEN_INFO_INTEGRITY: Flags 1, TokenIL 0x2000 (medium), a
         * MachineID drawn once per scheme. */
        memset(sh->lsap, 0, sizeof sh->lsap);
        sh->lsap[0] = 1;
        sh->lsap[5] = 0x20;
        rc = pku2u_random(sh, sh->lsap + 8, 32);
    }
    pku2u_scheme *s = NULL;
    if (rc == NEGOEX_OK) {
        s = negoex_mem_alloc(alloc, sizeof *s);
        if (s == NULL)
            rc = NEGOEX_ERR_NO_MEMORY;
    }
    if (rc != NEGOEX_OK) {
        shared_unref(sh);
        return rc;
    }
    memset(s, 0, sizeof *s);
    s->base.cls = &pku2u_class;
    memcpy(s->base.auth_scheme.bytes, PKU2U_GUID, sizeof PKU2U_GUID);
    s->sh = sh;
    s->role = PKU2U_ROLE_UNKNOWN;
    negoex_buf_init(&s->as_req_tok, sh_alloc(sh));
    negoex_buf_init(&s->as_rep_tok, sh_alloc(sh));
    *out = &s->base;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Per-attempt state                                                          */
/* ------------------------------------------------------------------------ */

static void dh_unref(const pku2u_shared *sh, pku2u_dh_ref *d)
{
    if (d == NULL || --d->refs > 0)
        return;
    negoex_dh_free(d->key);
    negoex_mem_free(sh_alloc(sh), d);
}

static void clear_attempt(pku2u_scheme *s)
{
    dh_unref(s->sh, s->dh);
    s->dh = NULL;
    negoex_buf_free(&s->as_req_tok);
    negoex_buf_free(&s->as_rep_tok);
    X509_free(s->peer_cert);
    s->peer_cert = NULL;
    OPENSSL_cleanse(s->client_nonce, sizeof s->client_nonce);
    negoex_krb_key_clear(&s->session);
    negoex_krb_key_clear(&s->own_subkey);
    negoex_krb_key_clear(&s->peer_subkey);
    s->has_session = s->has_own_subkey = s->has_peer_subkey = 0;
    s->own_seq = s->peer_seq = 0;
    s->send_seq = s->recv_seq = 0;
    s->pk_nonce = 0;
    s->cusec = 0;
    memset(s->ctime, 0, sizeof s->ctime);
    memset(s->krb_name, 0, sizeof s->krb_name);
    s->krb_name_type = 0;
    s->state = PK_START;
}

static int note_role(pku2u_scheme *s, int initiator)
{
    int role = initiator ? PKU2U_ROLE_INITIATOR : PKU2U_ROLE_ACCEPTOR;
    if (s->role == PKU2U_ROLE_UNKNOWN)
        s->role = role;
    return s->role == role ? NEGOEX_OK : pku2u_fail(s, NEGOEX_ERR_INVALID_ARGUMENT, "scheme used for both roles");
}

/* ------------------------------------------------------------------------ */
/* Metadata                                                                   */
/* ------------------------------------------------------------------------ */

static int pk_query_meta_data(negoex_scheme *base, int initiator, negoex_buf *out)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (s == NULL || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(s, initiator);
    if (rc != NEGOEX_OK)
        return rc;
    const pku2u_shared *sh = s->sh;
    if (initiator && sh->target_host[0] == '\0')
        return pku2u_fail(s, NEGOEX_ERR_INVALID_ARGUMENT, "no target host configured");

    /* One ExternalPrincipalIdentifier {subjectName} per trust anchor. */
    size_t n = negoex_x509_trust_count(sh->trust);
    if (n > NEGOEX_KRB_MAX_CERTIFIERS)
        n = NEGOEX_KRB_MAX_CERTIFIERS;
    negoex_pku2u_metadata *m = negoex_mem_alloc(sh_alloc(sh), sizeof *m);
    unsigned char *names[NEGOEX_KRB_MAX_CERTIFIERS] = {0};
    if (m == NULL)
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "metadata");
    memset(m, 0, sizeof *m);
    m->initiator = initiator;
    for (size_t i = 0; i < n && rc == NEGOEX_OK; i++) {
        int len = i2d_X509_NAME(X509_get_subject_name(negoex_x509_trust_get0(sh->trust, i)), &names[i]);
        if (len <= 0) {
            rc = NEGOEX_ERR_CRYPTO;
            break;
        }
        m->trusted_certifiers[i].subject_name = (negoex_bytes){names[i], (size_t)len};
        m->trusted_certifier_count++;
    }
    if (initiator) {
        m->target_realm = pku2u_str(sh->realm);
        m->target_sname.name_type = NEGOEX_KRB_NT_SRV_INST;
        m->target_sname.count = 2;
        m->target_sname.components[0] = pku2u_str(sh->target_service);
        m->target_sname.components[1] = pku2u_str(sh->target_host);
    }
    if (rc == NEGOEX_OK)
        rc = negoex_pku2u_encode_metadata(m, out);
    for (size_t i = 0; i < n; i++)
        OPENSSL_free(names[i]);
    negoex_mem_free(sh_alloc(sh), m);
    return rc == NEGOEX_OK ? rc : pku2u_fail(s, rc, "metadata");
}

static int pk_exchange_meta_data(negoex_scheme *base, int initiator, const uint8_t *data, size_t len)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (s == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(s, initiator);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_pku2u_metadata *m = negoex_mem_alloc(sh_alloc(s->sh), sizeof *m);
    if (m == NULL)
        return pku2u_fail(s, NEGOEX_ERR_NO_MEMORY, "peer metadata");
    negoex_error_info err;
    memset(&err, 0, sizeof err);
    /* The initiator reads the acceptor's form, the acceptor the initiator's. */
    rc = initiator ? negoex_pku2u_decode_acceptor_metadata(data, len, m, &err)
                   : negoex_pku2u_decode_initiator_metadata(data, len, m, &err);
    const char *what = "peer metadata";
    if (rc == NEGOEX_OK && !initiator && !pku2u_view_is(m->target_realm, s->sh->realm)) {
        rc = NEGOEX_ERR_PKU2U_TARGET;
        what = "initiator metadata names another realm";
    }
    negoex_mem_free(sh_alloc(s->sh), m);
    return rc == NEGOEX_OK ? rc : pku2u_fail(s, rc, what);
}

/* ------------------------------------------------------------------------ */
/* Steps                                                                      */
/* ------------------------------------------------------------------------ */

static int pk_step(negoex_scheme *base, int initiator, const uint8_t *in, size_t in_len, negoex_buf *out,
                   int *complete)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (complete != NULL)
        *complete = 0;
    if (s == NULL || out == NULL || complete == NULL || (in == NULL && in_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = note_role(s, initiator);
    if (rc != NEGOEX_OK)
        return rc;
    if (initiator) {
        switch (s->state) {
        case PK_START:
            if (in_len != 0)
                return pku2u_fail(s, NEGOEX_ERR_PKU2U_UNEXPECTED, "a token before the AS-REQ");
            rc = pku2u_initiator_start(s, out);
            break;
        case PK_I_AS_SENT:
            if (in_len == 0)
                return pku2u_fail(s, NEGOEX_ERR_MISSING_TOKEN, "AS-REP missing");
            rc = pku2u_initiator_as_rep(s, in, in_len, out);
            if (rc == NEGOEX_OK) {
                dh_unref(s->sh, s->dh);
                s->dh = NULL;
            }
            break;
        case PK_I_AP_SENT:
            if (in_len == 0)
                return pku2u_fail(s, NEGOEX_ERR_MISSING_TOKEN, "AP-REP missing");
            rc = pku2u_initiator_ap_rep(s, in, in_len);
            break;
        default:
            return pku2u_fail(s, NEGOEX_ERR_PKU2U_UNEXPECTED, "token after the exchange completed");
        }
    } else {
        if (in_len == 0)
            return pku2u_fail(s, NEGOEX_ERR_MISSING_TOKEN, "initiator token missing");
        switch (s->state) {
        case PK_START:
            rc = pku2u_acceptor_as_req(s, in, in_len, out);
            break;
        case PK_A_AS_SENT:
            rc = pku2u_acceptor_ap_req(s, in, in_len, out);
            break;
        default:
            return pku2u_fail(s, NEGOEX_ERR_PKU2U_UNEXPECTED, "token after the exchange completed");
        }
    }
    if (rc == NEGOEX_OK)
        *complete = s->state == PK_DONE;
    return rc;
}

static int pk_get_key(negoex_scheme *base, negoex_key_use use, negoex_key *key)
{
    const pku2u_scheme *s = (const pku2u_scheme *)base;
    if (s == NULL || key == NULL || (use != NEGOEX_KEY_SIGN && use != NEGOEX_KEY_VERIFY))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (use == NEGOEX_KEY_SIGN) {
        if (!s->has_own_subkey)
            return NEGOEX_SCHEME_NOT_YET;
        pku2u_key_out(&s->own_subkey, key);
    } else {
        if (!s->has_peer_subkey)
            return NEGOEX_SCHEME_NOT_YET;
        pku2u_key_out(&s->peer_subkey, key);
    }
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* RFC 4121 tokens                                                            */
/* ------------------------------------------------------------------------ */

static int established(const pku2u_scheme *s)
{
    return s != NULL && s->base.cls == &pku2u_class && s->state == PK_DONE;
}

/* Both directions use the acceptor subkey (RFC 4121 4.2.2: the acceptor
 * asserted one). */
static const negoex_krb_key *token_key(const pku2u_scheme *s)
{
    return s->role == PKU2U_ROLE_INITIATOR ? &s->peer_subkey : &s->own_subkey;
}

static void token_params(const pku2u_scheme *s, negoex_gss_token_params *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->sent_by_acceptor = s->role == PKU2U_ROLE_ACCEPTOR;
    tp->acceptor_subkey = s->role == PKU2U_ROLE_ACCEPTOR; /* Windows initiators leave it clear */
    tp->seq = s->send_seq;
}

int negoex_pku2u_get_mic(negoex_scheme *base, const uint8_t *msg, size_t len, negoex_buf *out)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (out == NULL || (msg == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!established(s))
        return NEGOEX_ERR_NO_KEY;
    negoex_gss_token_params tp;
    token_params(s, &tp);
    size_t need = negoex_gss_mic_length(token_key(s));
    uint8_t *at = NULL;
    int rc = need ? negoex_buf_reserve(out, need, &at) : NEGOEX_ERR_KRB_ENCTYPE;
    if (rc == NEGOEX_OK)
        rc = negoex_gss_mic_make(token_key(s), &tp, msg, len, at, need, &need);
    if (rc == NEGOEX_OK) {
        out->len += need;
        s->send_seq++;
    }
    return rc;
}

static int check_seq(pku2u_scheme *s, const negoex_gss_token_params *info)
{
    if (info->seq != s->recv_seq)
        return NEGOEX_ERR_KRB_MALFORMED; /* replayed, reordered or lost */
    s->recv_seq++;
    return NEGOEX_OK;
}

int negoex_pku2u_verify_mic(negoex_scheme *base, const uint8_t *msg, size_t len, const uint8_t *tok, size_t tok_len)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if ((msg == NULL && len != 0) || (tok == NULL && tok_len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!established(s))
        return NEGOEX_ERR_NO_KEY;
    negoex_gss_token_params info;
    int rc = negoex_gss_mic_verify(token_key(s), s->role == PKU2U_ROLE_INITIATOR, msg, len, tok, tok_len, &info);
    return rc == NEGOEX_OK ? check_seq(s, &info) : rc;
}

int negoex_pku2u_wrap(negoex_scheme *base, int conf, const uint8_t *msg, size_t len, negoex_buf *out)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (out == NULL || (msg == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!established(s))
        return NEGOEX_ERR_NO_KEY;
    negoex_gss_token_params tp;
    token_params(s, &tp);
    tp.sealed = conf != 0;
    size_t need = negoex_gss_wrap_length(token_key(s), &tp, len);
    uint8_t *at = NULL;
    int rc = need ? negoex_buf_reserve(out, need, &at) : NEGOEX_ERR_TOO_LARGE;
    if (rc == NEGOEX_OK)
        rc = negoex_gss_wrap(token_key(s), &tp, msg, len, at, need, &need);
    if (rc == NEGOEX_OK) {
        out->len += need;
        s->send_seq++;
    }
    return rc;
}

int negoex_pku2u_unwrap(negoex_scheme *base, const uint8_t *tok, size_t len, negoex_buf *out, int *conf_state)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (conf_state != NULL)
        *conf_state = 0;
    if (out == NULL || (tok == NULL && len != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    if (!established(s))
        return NEGOEX_ERR_NO_KEY;
    size_t need = 0;
    int rc = negoex_gss_unwrap_length(token_key(s), tok, len, &need);
    uint8_t *at = NULL;
    if (rc == NEGOEX_OK)
        rc = negoex_buf_reserve(out, need ? need : 1, &at);
    negoex_gss_token_params info;
    if (rc == NEGOEX_OK)
        rc = negoex_gss_unwrap(token_key(s), s->role == PKU2U_ROLE_INITIATOR, tok, len, at, need ? need : 1, &need,
                               &info);
    if (rc == NEGOEX_OK)
        rc = check_seq(s, &info);
    if (rc == NEGOEX_OK) {
        out->len += need;
        if (conf_state != NULL)
            *conf_state = (info.flags & NEGOEX_GSS_FLAG_SEALED) != 0;
    } else if (at != NULL) {
        OPENSSL_cleanse(at, need ? need : 1);
    }
    return rc;
}

/* The context's mechListMIC hooks. */
static int pk_make_mic(negoex_scheme *base, const uint8_t *data, size_t len, negoex_buf *mic)
{
    return negoex_pku2u_get_mic(base, data, len, mic);
}

static int pk_verify_mic(negoex_scheme *base, const uint8_t *data, size_t len, const uint8_t *mic, size_t mic_len)
{
    return negoex_pku2u_verify_mic(base, data, len, mic, mic_len);
}

/* ------------------------------------------------------------------------ */
/* Reset, clone, destroy                                                      */
/* ------------------------------------------------------------------------ */

static void pk_reset(negoex_scheme *base)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (s != NULL)
        clear_attempt(s);
}

static int copy_buf(negoex_buf *dst, const negoex_buf *src, const negoex_allocator *al)
{
    negoex_buf_init(dst, al);
    return src->len ? negoex_buf_append(dst, src->data, src->len) : NEGOEX_OK;
}

static int pk_clone(const negoex_scheme *base, negoex_scheme **copy)
{
    const pku2u_scheme *s = (const pku2u_scheme *)base;
    if (s == NULL || copy == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    *copy = NULL;
    const negoex_allocator *al = sh_alloc(s->sh);
    pku2u_scheme *c = negoex_mem_alloc(al, sizeof *c);
    if (c == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memcpy(c, s, sizeof *c);
    /* Neither buffer may still point at the original's when a failed copy
     * frees them (that freed the original's AS-REP token: a double free). */
    negoex_buf_init(&c->as_rep_tok, al);
    int rc = copy_buf(&c->as_req_tok, &s->as_req_tok, al);
    if (rc == NEGOEX_OK)
        rc = copy_buf(&c->as_rep_tok, &s->as_rep_tok, al);
    if (rc != NEGOEX_OK) {
        negoex_buf_free(&c->as_req_tok);
        negoex_buf_free(&c->as_rep_tok);
        negoex_mem_free_secret(al, c, sizeof *c);
        return rc;
    }
    c->sh->refs++;
    if (c->dh != NULL)
        c->dh->refs++;
    if (c->peer_cert != NULL)
        X509_up_ref(c->peer_cert);
    *copy = &c->base;
    return NEGOEX_OK;
}

static void pk_destroy(negoex_scheme *base)
{
    pku2u_scheme *s = (pku2u_scheme *)base;
    if (s == NULL)
        return;
    clear_attempt(s);
    pku2u_shared *sh = s->sh;
    negoex_allocator a = sh->alloc;
    int has = sh->has_alloc;
    negoex_mem_free_secret(has ? &a : NULL, s, sizeof *s);
    shared_unref(sh);
}

static const negoex_scheme_class pku2u_class = {
    .api_version = NEGOEX_SCHEME_API_VERSION,
    .name = "pku2u",
    .query_meta_data = pk_query_meta_data,
    .exchange_meta_data = pk_exchange_meta_data,
    .step = pk_step,
    .get_key = pk_get_key,
    .make_mic = pk_make_mic,
    .verify_mic = pk_verify_mic,
    .reset = pk_reset,
    .clone = pk_clone,
    .destroy = pk_destroy,
    .requires_mic = NULL,
};

/* ------------------------------------------------------------------------ */
/* Accessors                                                                  */
/* ------------------------------------------------------------------------ */

int negoex_scheme_is_pku2u(const negoex_scheme *s)
{
    return s != NULL && s->cls == &pku2u_class;
}

int negoex_pku2u_is_established(const negoex_scheme *s)
{
    return established((const pku2u_scheme *)s);
}

void negoex_pku2u_last_status(const negoex_scheme *base, negoex_pku2u_status *out)
{
    if (out == NULL)
        return;
    memset(out, 0, sizeof *out);
    if (negoex_scheme_is_pku2u(base))
        *out = ((const pku2u_scheme *)base)->sh->last;
}

X509 *negoex_pku2u_peer_cert(const negoex_scheme *base)
{
    return negoex_scheme_is_pku2u(base) ? ((const pku2u_scheme *)base)->peer_cert : NULL;
}

static int put_name(const char *name, char *out, size_t cap, size_t *need)
{
    size_t n = strlen(name) + 1;
    if (need != NULL)
        *need = n;
    if (cap < n) {
        if (cap > 0 && out != NULL) {
            memcpy(out, name, cap - 1);
            out[cap - 1] = '\0';
        }
        return NEGOEX_ERR_BUFFER_TOO_SMALL;
    }
    memcpy(out, name, n);
    return NEGOEX_OK;
}

int negoex_pku2u_peer_name(const negoex_scheme *base, negoex_pku2u_name_kind kind, char *out, size_t cap,
                           size_t *need)
{
    if (need != NULL)
        *need = 0;
    if (!negoex_scheme_is_pku2u(base) || (out == NULL && cap != 0))
        return NEGOEX_ERR_INVALID_ARGUMENT;
    const pku2u_scheme *s = (const pku2u_scheme *)base;
    if (s->peer_cert == NULL)
        return NEGOEX_SCHEME_NOT_YET;
    switch (kind) {
    case NEGOEX_PKU2U_PEER_UPN:
    case NEGOEX_PKU2U_PEER_DNS:
        return negoex_x509_san_get(s->peer_cert, kind == NEGOEX_PKU2U_PEER_UPN ? NEGOEX_X509_SAN_UPN : NEGOEX_X509_SAN_DNS,
                                   0, out, cap, need);
    case NEGOEX_PKU2U_PEER_SUBJECT: {
        char buf[1024];
        BIO *b = BIO_new(BIO_s_mem());
        if (b == NULL)
            return NEGOEX_ERR_NO_MEMORY;
        int rc = NEGOEX_ERR_CRYPTO;
        if (X509_NAME_print_ex(b, X509_get_subject_name(s->peer_cert), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >=
            0) {
            int n = BIO_read(b, buf, (int)sizeof buf - 1);
            if (n >= 0) {
                buf[n] = '\0';
                rc = put_name(buf, out, cap, need);
            }
        }
        BIO_free(b);
        return rc;
    }
    case NEGOEX_PKU2U_PEER_KRB_NAME:
        if (s->krb_name[0] == '\0')
            return NEGOEX_SCHEME_NOT_YET;
        return put_name(s->krb_name, out, cap, need);
    default:
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
}

int negoex_pku2u_session_keys(const negoex_scheme *base, negoex_pku2u_keys *out)
{
    if (!negoex_scheme_is_pku2u(base) || out == NULL)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    memset(out, 0, sizeof *out);
    const pku2u_scheme *s = (const pku2u_scheme *)base;
    if (s->state != PK_DONE)
        return NEGOEX_SCHEME_NOT_YET;
    int ini = s->role == PKU2U_ROLE_INITIATOR;
    pku2u_key_out(&s->session, &out->session);
    pku2u_key_out(ini ? &s->own_subkey : &s->peer_subkey, &out->initiator_subkey);
    pku2u_key_out(ini ? &s->peer_subkey : &s->own_subkey, &out->acceptor_subkey);
    out->initiator_seq = ini ? s->own_seq : s->peer_seq;
    out->acceptor_seq = ini ? s->peer_seq : s->own_seq;
    return NEGOEX_OK;
}
