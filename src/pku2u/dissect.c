/*
 * PKU2U dissector (include/negoex/pku2u.h): the typed decoders of asn1.h,
 * walked into a flat event sequence for analysers.
 *
 * Two passes over the same walk: the first with no callback decodes every
 * nested structure (so a malformed input fails before any event), the second
 * reports. The views live in one heap block per call (the decoders' structs
 * are a few KB each).
 */
#include <negoex/pku2u.h>
#include <negoex/spnego.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "der.h"
#include "pku2u/asn1.h"
#include "pku2u/dh.h"

/* Deepest nesting the walk produces is 9 (AS-REP padata SignedData signer
 * signedAttrs); room to spare. */
#define DISSECT_MAX_DEPTH 16
#define DISSECT_FLAGS_TEXT 512
#define DISSECT_OID_TEXT 160
#define DISSECT_DN_TEXT 512

typedef struct level {
    int list;
    size_t next;   /* the next element's index, in a list */
    size_t offset; /* where the structure starts, when located */
} level;

typedef struct walk {
    const uint8_t *base;
    size_t len;
    negoex_dissect_fn fn; /* NULL in the checking pass */
    void *ud;
    negoex_error_info *err;
    unsigned depth;
    level stack[DISSECT_MAX_DEPTH];
    /* text produced for events */
    char flags_text[DISSECT_FLAGS_TEXT];
    char oid_text[DISSECT_OID_TEXT];
    char dn_small[DISSECT_DN_TEXT];
    char *dn_text; /* dn_small or malloc'd */
    size_t dn_cap;
    const char *etype_labels[NEGOEX_KRB_MAX_ETYPES];
    /* decoded views, one slot per nesting role */
    negoex_pku2u_message msg;
    negoex_pku2u_metadata meta;
    negoex_krb_pa_pk_as_req pk_req;
    negoex_krb_pa_pk_as_rep pk_rep;
    negoex_cms_signed_data sd;
    negoex_krb_auth_pack auth_pack;
    negoex_krb_kdc_dh_key_info dh_key_info;
    negoex_krb_ticket ticket;
    negoex_x509_name name;
} walk;

/* ------------------------------------------------------------------------ */
/* Names                                                                     */
/* ------------------------------------------------------------------------ */

typedef struct int_name {
    int32_t value;
    const char *name;
} int_name;

static const char *lookup(const int_name *t, size_t n, int64_t v)
{
    for (size_t i = 0; i < n; i++)
        if (t[i].value == v)
            return t[i].name;
    return NULL;
}

#define LOOKUP(t, v) lookup(t, sizeof(t) / sizeof((t)[0]), v)

static const int_name msg_types[] = {
    {10, "KRB_AS_REQ"}, {11, "KRB_AS_REP"}, {12, "KRB_TGS_REQ"}, {13, "KRB_TGS_REP"},
    {14, "KRB_AP_REQ"}, {15, "KRB_AP_REP"}, {30, "KRB_ERROR"},
};

/* RFC 3961/3962/8009, Camellia (RFC 6803), the Windows private values. */
static const int_name etypes[] = {
    {1, "des-cbc-crc"},
    {3, "des-cbc-md5"},
    {16, "des3-cbc-sha1"},
    {17, "aes128-cts-hmac-sha1-96"},
    {18, "aes256-cts-hmac-sha1-96"},
    {19, "aes128-cts-hmac-sha256-128"},
    {20, "aes256-cts-hmac-sha384-192"},
    {23, "rc4-hmac"},
    {24, "rc4-hmac-exp"},
    {25, "camellia128-cts-cmac"},
    {26, "camellia256-cts-cmac"},
    {-128, "rc4-md4"},
    {-133, "rc4-hmac-old"},
    {-135, "rc4-hmac-old-exp"},
};

static const int_name name_types[] = {
    {0, "NT-UNKNOWN"},
    {1, "NT-PRINCIPAL"},
    {2, "NT-SRV-INST"},
    {3, "NT-SRV-HST"},
    {4, "NT-SRV-XHST"},
    {5, "NT-UID"},
    {6, "NT-X500-PRINCIPAL"},
    {7, "NT-SMTP-NAME"},
    {10, "NT-ENTERPRISE"},
    {11, "NT-WELLKNOWN"},
    {-128, "NT-MS-PRINCIPAL"},
    {-129, "NT-MS-PRINCIPAL-AND-ID"},
    {-130, "NT-ENT-PRINCIPAL-AND-ID"},
};

static const int_name padata_types[] = {
    {1, "PA-TGS-REQ"},
    {2, "PA-ENC-TIMESTAMP"},
    {3, "PA-PW-SALT"},
    {11, "PA-ETYPE-INFO"},
    {14, "PA-PK-AS-REQ_OLD"},
    {15, "PA-PK-AS-REP_OLD"},
    {16, "PA-PK-AS-REQ"},
    {17, "PA-PK-AS-REP"},
    {19, "PA-ETYPE-INFO2"},
    {20, "PA-SVR-REFERRAL-INFO"},
    {128, "PA-PAC-REQUEST"},
    {133, "PA-FX-COOKIE"},
    {136, "PA-FX-FAST"},
    {137, "PA-FX-ERROR"},
    {138, "PA-ENCRYPTED-CHALLENGE"},
    {149, "PA-REQ-ENC-PA-REP"},
    {150, "PA-AS-FRESHNESS"},
    {165, "PA-SUPPORTED-ENCTYPES"},
    {167, "PA-PAC-OPTIONS"},
};

static const int_name addr_types[] = {
    {2, "IPv4"}, {3, "directional"}, {5, "ChaosNet"}, {6, "XNS"}, {7, "ISO"},
    {12, "DECNET"}, {16, "AppleTalk"}, {20, "NetBIOS"}, {24, "IPv6"},
};

/* RFC 4120 7.5.9 and RFC 4556 3.1.3. */
static const int_name error_codes[] = {
    {0, "KDC_ERR_NONE"},
    {1, "KDC_ERR_NAME_EXP"},
    {2, "KDC_ERR_SERVICE_EXP"},
    {3, "KDC_ERR_BAD_PVNO"},
    {6, "KDC_ERR_C_PRINCIPAL_UNKNOWN"},
    {7, "KDC_ERR_S_PRINCIPAL_UNKNOWN"},
    {8, "KDC_ERR_PRINCIPAL_NOT_UNIQUE"},
    {12, "KDC_ERR_POLICY"},
    {13, "KDC_ERR_BADOPTION"},
    {14, "KDC_ERR_ETYPE_NOSUPP"},
    {16, "KDC_ERR_PADATA_TYPE_NOSUPP"},
    {18, "KDC_ERR_CLIENT_REVOKED"},
    {23, "KDC_ERR_KEY_EXPIRED"},
    {24, "KDC_ERR_PREAUTH_FAILED"},
    {25, "KDC_ERR_PREAUTH_REQUIRED"},
    {31, "KRB_AP_ERR_BAD_INTEGRITY"},
    {32, "KRB_AP_ERR_TKT_EXPIRED"},
    {33, "KRB_AP_ERR_TKT_NYV"},
    {34, "KRB_AP_ERR_REPEAT"},
    {35, "KRB_AP_ERR_NOT_US"},
    {36, "KRB_AP_ERR_BADMATCH"},
    {37, "KRB_AP_ERR_SKEW"},
    {38, "KRB_AP_ERR_BADADDR"},
    {39, "KRB_AP_ERR_BADVERSION"},
    {40, "KRB_AP_ERR_MSG_TYPE"},
    {41, "KRB_AP_ERR_MODIFIED"},
    {44, "KRB_AP_ERR_BADKEYVER"},
    {60, "KRB_ERR_GENERIC"},
    {61, "KRB_ERR_FIELD_TOOLONG"},
    {62, "KDC_ERR_CLIENT_NOT_TRUSTED"},
    {63, "KDC_ERR_KDC_NOT_TRUSTED"},
    {64, "KDC_ERR_INVALID_SIG"},
    {65, "KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED"},
    {68, "KDC_ERR_WRONG_REALM"},
    {70, "KDC_ERR_CANT_VERIFY_CERTIFICATE"},
    {71, "KDC_ERR_INVALID_CERTIFICATE"},
    {72, "KDC_ERR_REVOKED_CERTIFICATE"},
    {75, "KDC_ERR_CLIENT_NAME_MISMATCH"},
    {76, "KDC_ERR_KDC_NAME_MISMATCH"},
    {77, "KDC_ERR_INCONSISTENT_KEY_PURPOSE"},
    {78, "KDC_ERR_DIGEST_IN_CERT_NOT_ACCEPTED"},
    {79, "KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED"},
    {80, "KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED"},
    {81, "KDC_ERR_PUBLIC_KEY_ENCRYPTION_NOT_SUPPORTED"},
};

/* KDCOptions (RFC 4120 5.4.1, RFC 6806, MS-SFU); bit 0 is the first. */
static const char *const kdc_option_bits[32] = {
    [0] = "reserved",        [1] = "forwardable",     [2] = "forwarded",
    [3] = "proxiable",       [4] = "proxy",           [5] = "allow-postdate",
    [6] = "postdated",       [8] = "renewable",       [11] = "opt-hardware-auth",
    [14] = "cname-in-addl-tkt", [15] = "canonicalize", [16] = "request-anonymous",
    [26] = "disable-transited-check", [27] = "renewable-ok", [28] = "enc-tkt-in-skey",
    [30] = "renew",          [31] = "validate",
};

static const char *const ap_option_bits[32] = {
    [0] = "reserved",
    [1] = "use-session-key",
    [2] = "mutual-required",
};

typedef struct oid_name {
    const char *dotted;
    const char *name;
} oid_name;

static const oid_name oid_names[] = {
    {"1.3.14.3.2.26", "sha1"},
    {"2.16.840.1.101.3.4.2.1", "sha256"},
    {"2.16.840.1.101.3.4.2.2", "sha384"},
    {"2.16.840.1.101.3.4.2.3", "sha512"},
    {"1.2.840.113549.1.1.1", "rsaEncryption"},
    {"1.2.840.113549.1.1.5", "sha1WithRSAEncryption"},
    {"1.2.840.113549.1.1.11", "sha256WithRSAEncryption"},
    {"1.2.840.113549.1.1.12", "sha384WithRSAEncryption"},
    {"1.2.840.113549.1.1.13", "sha512WithRSAEncryption"},
    {"1.2.840.10045.2.1", "ecPublicKey"},
    {"1.2.840.10046.2.1", "dhpublicnumber"},
    {"1.2.840.113549.1.7.1", "id-data"},
    {"1.2.840.113549.1.7.2", "id-signedData"},
    {"1.2.840.113549.1.9.3", "id-contentType"},
    {"1.2.840.113549.1.9.4", "id-messageDigest"},
    {"1.3.6.1.5.2.3.1", "id-pkinit-authData"},
    {"1.3.6.1.5.2.3.2", "id-pkinit-DHKeyData"},
    {"1.3.6.1.5.2.3.3", "id-pkinit-rkeyData"},
};

/* ------------------------------------------------------------------------ */
/* Events                                                                    */
/* ------------------------------------------------------------------------ */

static size_t off_of(const walk *w, const uint8_t *p)
{
    if (p == NULL || p < w->base || p > w->base + w->len)
        return w->depth > 0 ? w->stack[w->depth - 1].offset : 0;
    return (size_t)(p - w->base);
}

static void ev_init(walk *w, negoex_dissect_event *ev, negoex_dissect_kind kind, const char *name,
                    const uint8_t *at)
{
    memset(ev, 0, sizeof *ev);
    ev->kind = kind;
    ev->name = name;
    ev->offset = off_of(w, at);
}

/* Reports ev at the current level; BEGIN / BEGIN_LIST open a level, END closes one. */
static int emit(walk *w, negoex_dissect_event *ev)
{
    int rc = 0;

    if (ev->kind == NEGOEX_DISSECT_END) {
        if (w->depth == 0)
            return NEGOEX_ERR_INVALID_ARGUMENT; /* a walk bug */
        w->depth--;
        ev->offset = w->stack[w->depth].offset;
    } else if (w->depth > 0 && w->stack[w->depth - 1].list) {
        ev->index = w->stack[w->depth - 1].next++;
    }
    ev->depth = w->depth;
    if (w->fn != NULL)
        rc = w->fn(w->ud, ev);
    if (rc != 0)
        return rc;
    if (ev->kind == NEGOEX_DISSECT_BEGIN || ev->kind == NEGOEX_DISSECT_BEGIN_LIST) {
        if (w->depth >= DISSECT_MAX_DEPTH)
            return NEGOEX_ERR_TOO_LARGE; /* a walk bug: the walk's depth is fixed */
        w->stack[w->depth].list = ev->kind == NEGOEX_DISSECT_BEGIN_LIST;
        w->stack[w->depth].next = 0;
        w->stack[w->depth].offset = ev->offset;
        w->depth++;
    }
    return 0;
}

#define TRY(expr)                                                                                                      \
    do {                                                                                                               \
        int try_rc_ = (expr);                                                                                          \
        if (try_rc_ != 0)                                                                                              \
            return try_rc_;                                                                                            \
    } while (0)

static int e_begin(walk *w, const char *name, const char *label, const uint8_t *at)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_BEGIN, name, at);
    ev.label = label;
    return emit(w, &ev);
}

static int e_list(walk *w, const char *name, size_t count, const uint8_t *at)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_BEGIN_LIST, name, at);
    ev.count = count;
    return emit(w, &ev);
}

static int e_end(walk *w)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_END, NULL, NULL);
    return emit(w, &ev);
}

static int e_int(walk *w, const char *name, int64_t v, const char *label)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_INT, name, NULL);
    ev.num = v;
    ev.label = label;
    return emit(w, &ev);
}

static int e_bytes(walk *w, const char *name, negoex_bytes b)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_BYTES, name, b.data);
    ev.bytes = b;
    return emit(w, &ev);
}

/* Optional byte fields: nothing when absent. */
static int e_bytes_opt(walk *w, const char *name, negoex_bytes b)
{
    return b.data != NULL ? e_bytes(w, name, b) : 0;
}

static int e_string(walk *w, const char *name, negoex_bytes s)
{
    negoex_dissect_event ev;

    if (s.data == NULL)
        return 0;
    ev_init(w, &ev, NEGOEX_DISSECT_STRING, name, s.data);
    ev.bytes = s;
    return emit(w, &ev);
}

static int e_time(walk *w, const char *name, negoex_bytes t)
{
    negoex_dissect_event ev;
    int64_t secs = 0;

    if (t.data == NULL)
        return 0;
    ev_init(w, &ev, NEGOEX_DISSECT_TIME, name, t.data);
    ev.bytes = t;
    if (negoex_krb_time_to_unix(t, &secs) == NEGOEX_OK)
        ev.num = secs;
    return emit(w, &ev);
}

static int e_flags(walk *w, const char *name, uint32_t flags, const char *const bits[32])
{
    negoex_dissect_event ev;
    size_t used = 0;

    w->flags_text[0] = '\0';
    for (unsigned bit = 0; bit < 32; bit++) {
        char one[16];
        const char *n;
        int k;

        if (!(flags & (UINT32_C(0x80000000) >> bit)))
            continue;
        n = bits[bit];
        if (n == NULL) {
            snprintf(one, sizeof one, "bit%u", bit);
            n = one;
        }
        k = snprintf(w->flags_text + used, sizeof w->flags_text - used, "%s%s", used > 0 ? ", " : "", n);
        if (k < 0 || (size_t)k >= sizeof w->flags_text - used)
            break; /* cannot happen: 32 names fit */
        used += (size_t)k;
    }
    ev_init(w, &ev, NEGOEX_DISSECT_FLAGS, name, NULL);
    ev.num = flags;
    ev.label = w->flags_text;
    return emit(w, &ev);
}

static int e_oid(walk *w, const char *name, negoex_bytes oid)
{
    negoex_dissect_event ev;
    int rc;

    if (oid.data == NULL)
        return 0;
    rc = negoex_oid_to_text(oid.data, oid.len, w->oid_text, sizeof w->oid_text, NULL);
    if (rc == NEGOEX_ERR_BUFFER_TOO_SMALL) /* valid, but longer than any OID we name: said so, not shown */
        snprintf(w->oid_text, sizeof w->oid_text, "(OID of %zu bytes)", oid.len);
    else if (rc < 0)
        return negoex_der_fail(w->err, rc, off_of(w, oid.data), name);
    ev_init(w, &ev, NEGOEX_DISSECT_OID, name, oid.data);
    ev.bytes = oid;
    ev.text = w->oid_text;
    for (size_t i = 0; i < sizeof oid_names / sizeof oid_names[0]; i++)
        if (strcmp(oid_names[i].dotted, w->oid_text) == 0)
            ev.label = oid_names[i].name;
    if (ev.label == NULL)
        ev.label = negoex_oid_name(oid.data, oid.len);
    return emit(w, &ev);
}

static int e_principal(walk *w, const char *name, const negoex_krb_principal *p)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_PRINCIPAL, name, p->count > 0 ? p->components[0].data : NULL);
    ev.num = p->name_type;
    ev.label = LOOKUP(name_types, p->name_type);
    ev.strings = p->components;
    ev.count = p->count;
    return emit(w, &ev);
}

static int e_enc_data(walk *w, const char *name, const negoex_krb_enc_data *e)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_ENC_DATA, name, e->cipher.data);
    ev.num = e->etype;
    ev.label = LOOKUP(etypes, e->etype);
    ev.has_kvno = e->has_kvno;
    ev.kvno = e->kvno;
    ev.length = e->cipher.len;
    return emit(w, &ev);
}

static int e_address(walk *w, const negoex_krb_address *a)
{
    negoex_dissect_event ev;

    ev_init(w, &ev, NEGOEX_DISSECT_ADDRESS, "HostAddress", a->address.data);
    ev.num = a->addr_type;
    ev.label = LOOKUP(addr_types, a->addr_type);
    ev.bytes = a->address;
    return emit(w, &ev);
}

static int e_etypes(walk *w, const char *name, const int32_t *list, size_t n)
{
    negoex_dissect_event ev;

    if (n > NEGOEX_KRB_MAX_ETYPES)
        n = NEGOEX_KRB_MAX_ETYPES; /* the decoder's capacity: cannot be more */
    for (size_t i = 0; i < n; i++)
        w->etype_labels[i] = LOOKUP(etypes, list[i]);
    ev_init(w, &ev, NEGOEX_DISSECT_INT_LIST, name, NULL);
    ev.ints = list;
    ev.labels = w->etype_labels;
    ev.count = n;
    return emit(w, &ev);
}

/* Fails with a nested decoder's error, its offset made absolute. */
static int nested_fail(walk *w, int rc, const negoex_error_info *inner, const uint8_t *at)
{
    return negoex_der_fail(w->err, rc, off_of(w, at) + inner->offset, inner->field);
}

/* The RFC 4514 text of a Name TLV (into w->dn_text). */
static int dn_string(walk *w, negoex_bytes der, negoex_error_info *inner)
{
    size_t need = 0;
    int rc = negoex_x509_decode_name(der.data, der.len, &w->name, inner);

    if (rc != NEGOEX_OK)
        return rc;
    rc = negoex_x509_name_to_string(&w->name, w->dn_text, w->dn_cap, &need);
    if (rc == NEGOEX_ERR_BUFFER_TOO_SMALL) {
        char *bigger = malloc(need);

        if (bigger == NULL)
            return negoex_der_fail(inner, NEGOEX_ERR_NO_MEMORY, 0, "Name");
        if (w->dn_text != w->dn_small)
            free(w->dn_text);
        w->dn_text = bigger;
        w->dn_cap = need;
        rc = negoex_x509_name_to_string(&w->name, w->dn_text, w->dn_cap, &need);
    }
    if (rc != NEGOEX_OK)
        return negoex_der_fail(inner, rc, 0, "Name");
    return NEGOEX_OK;
}

static int e_dn(walk *w, const char *name, negoex_bytes der)
{
    negoex_dissect_event ev;
    negoex_error_info inner = {0, 0, NULL};
    int rc;

    if (der.data == NULL)
        return 0;
    rc = dn_string(w, der, &inner);
    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, der.data);
    ev_init(w, &ev, NEGOEX_DISSECT_DN, name, der.data);
    ev.bytes = der;
    ev.text = w->dn_text;
    return emit(w, &ev);
}

/* ------------------------------------------------------------------------ */
/* PKINIT                                                                    */
/* ------------------------------------------------------------------------ */

/* Bits of an unsigned big-endian magnitude. */
static size_t bit_length(negoex_bytes m)
{
    size_t i = 0;

    while (i < m.len && m.data[i] == 0)
        i++;
    if (i == m.len)
        return 0;
    size_t bits = (m.len - i - 1) * 8;
    for (uint8_t top = m.data[i]; top != 0; top >>= 1)
        bits++;
    return bits;
}

/* Small INTEGER magnitudes (g) as numbers, bigger ones as bytes. */
static int e_bignum(walk *w, const char *name, negoex_bytes m)
{
    size_t i = 0;
    int64_t v = 0;

    while (i < m.len && m.data[i] == 0)
        i++;
    if (m.len - i > 7)
        return e_bytes(w, name, m);
    for (; i < m.len; i++)
        v = (v << 8) | m.data[i];
    return e_int(w, name, v, NULL);
}

static int walk_dh_params(walk *w, const negoex_krb_dh_params *dh, const uint8_t *at)
{
    negoex_dh_params p = {dh->p.data, dh->p.len, dh->g.data, dh->g.len, dh->q.data, dh->q.len};
    int group = negoex_dh_group_identify(&p);

    TRY(e_begin(w, "parameters", "DomainParameters", at));
    TRY(e_int(w, "p-bits", (int64_t)bit_length(dh->p), NULL));
    if (group == NEGOEX_DH_GROUP_MODP2)
        TRY(e_int(w, "dh-group", group, "RFC 2409 Oakley group 2, MODP 1024"));
    else if (group == NEGOEX_DH_GROUP_MODP14)
        TRY(e_int(w, "dh-group", group, "RFC 3526 group 14, MODP 2048"));
    TRY(e_bignum(w, "g", dh->g));
    if (dh->q.data != NULL)
        TRY(e_int(w, "q-bits", (int64_t)bit_length(dh->q), NULL));
    TRY(e_bytes_opt(w, "j", dh->j));
    return e_end(w);
}

static int walk_auth_pack(walk *w, negoex_bytes content)
{
    negoex_krb_auth_pack *ap = &w->auth_pack;
    negoex_error_info inner = {0, 0, NULL};
    int rc = negoex_krb_decode_auth_pack(content.data, content.len, ap, &inner);

    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, content.data);
    TRY(e_begin(w, "eContent", "AuthPack", content.data));
    TRY(e_begin(w, "pkAuthenticator", NULL, NULL));
    TRY(e_int(w, "cusec", ap->cusec, NULL));
    TRY(e_time(w, "ctime", ap->ctime));
    TRY(e_int(w, "nonce", ap->nonce, NULL));
    TRY(e_bytes_opt(w, "paChecksum", ap->pa_checksum));
    TRY(e_end(w));
    if (ap->client_public_value.data != NULL) {
        TRY(e_begin(w, "clientPublicValue", "SubjectPublicKeyInfo", ap->client_public_value.data));
        TRY(e_oid(w, "algorithm", ap->cpv_algorithm));
        if (ap->is_dh) {
            TRY(walk_dh_params(w, &ap->dh, ap->cpv_parameters.data));
            TRY(e_bytes(w, "subjectPublicKey", ap->dh_y));
        } else {
            TRY(e_bytes_opt(w, "parameters", ap->cpv_parameters));
            TRY(e_bytes(w, "subjectPublicKey", ap->cpv_public_key));
        }
        TRY(e_end(w));
    }
    TRY(e_bytes_opt(w, "supportedCMSTypes", ap->supported_cms_types));
    TRY(e_bytes_opt(w, "clientDHNonce", ap->client_dh_nonce));
    return e_end(w);
}

static int walk_dh_key_info(walk *w, negoex_bytes content)
{
    negoex_krb_kdc_dh_key_info *ki = &w->dh_key_info;
    negoex_error_info inner = {0, 0, NULL};
    int rc = negoex_krb_decode_kdc_dh_key_info(content.data, content.len, ki, &inner);

    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, content.data);
    TRY(e_begin(w, "eContent", "KDCDHKeyInfo", content.data));
    TRY(e_bytes(w, "subjectPublicKey", ki->y));
    TRY(e_int(w, "nonce", ki->nonce, NULL));
    TRY(e_time(w, "dhKeyExpiration", ki->dh_key_expiration));
    return e_end(w);
}

/* An X.509 certificate, shallowly: serialNumber, issuer, validity, subject
 * (the CMS decoder locates certificates without checking them). 0 with the
 * views set, or -1 when the bytes do not have that shape. */
typedef struct cert_view {
    negoex_bytes serial, issuer, not_before, not_after, subject;
} cert_view;

static negoex_bytes tlv_view(const der_reader *r, const der_tlv *t)
{
    negoex_bytes b = {r->buf + t->at, t->start + t->len - t->at};
    return b;
}

static negoex_bytes content_view(const der_reader *r, const der_tlv *t)
{
    negoex_bytes b = {r->buf + t->start, t->len};
    return b;
}

static int cert_shape(negoex_bytes cert, cert_view *out)
{
    der_reader top, c, tbs, val;
    der_tlv t;

    memset(out, 0, sizeof *out);
    negoex_der_reader_init(&top, cert.data, 0, cert.len);
    if (negoex_der_read(&top, 0x30, "Certificate", &t, NULL) != 0)
        return -1;
    negoex_der_enter(&c, &top, &t);
    if (negoex_der_read(&c, 0x30, "tbsCertificate", &t, NULL) != 0)
        return -1;
    negoex_der_enter(&tbs, &c, &t);
    if (negoex_der_peek(&tbs) == 0xa0 && negoex_der_read(&tbs, 0xa0, "version", &t, NULL) != 0)
        return -1;
    if (negoex_der_read(&tbs, 0x02, "serialNumber", &t, NULL) != 0)
        return -1;
    out->serial = content_view(&tbs, &t);
    if (negoex_der_read(&tbs, 0x30, "signature", &t, NULL) != 0)
        return -1;
    if (negoex_der_read(&tbs, 0x30, "issuer", &t, NULL) != 0)
        return -1;
    out->issuer = tlv_view(&tbs, &t);
    if (negoex_der_read(&tbs, 0x30, "validity", &t, NULL) != 0)
        return -1;
    negoex_der_enter(&val, &tbs, &t);
    for (int i = 0; i < 2; i++) {
        int tag = negoex_der_peek(&val);

        if ((tag != 0x17 && tag != 0x18) || negoex_der_read(&val, (uint8_t)tag, "Time", &t, NULL) != 0)
            return -1;
        if (i == 0)
            out->not_before = content_view(&val, &t);
        else
            out->not_after = content_view(&val, &t);
    }
    if (negoex_der_read(&tbs, 0x30, "subject", &t, NULL) != 0)
        return -1;
    out->subject = tlv_view(&tbs, &t);
    return 0;
}

static int walk_certificate(walk *w, negoex_bytes cert)
{
    cert_view v;
    negoex_error_info ignored = {0, 0, NULL};

    /* Not a certificate we can read, or names that do not decode: the bytes. */
    if (cert_shape(cert, &v) != 0 || dn_string(w, v.issuer, &ignored) != NEGOEX_OK ||
        dn_string(w, v.subject, &ignored) != NEGOEX_OK)
        return e_bytes(w, "Certificate", cert);
    TRY(e_begin(w, "Certificate", NULL, cert.data));
    TRY(e_bytes(w, "serialNumber", v.serial));
    TRY(e_dn(w, "issuer", v.issuer));
    TRY(e_string(w, "notBefore", v.not_before));
    TRY(e_string(w, "notAfter", v.not_after));
    TRY(e_dn(w, "subject", v.subject));
    return e_end(w);
}

static int walk_signer(walk *w, const negoex_cms_signer *s)
{
    TRY(e_begin(w, "SignerInfo", NULL, s->raw.data));
    TRY(e_int(w, "version", s->version, NULL));
    if (s->sid_is_ski) {
        TRY(e_bytes(w, "subjectKeyIdentifier", s->ski));
    } else {
        TRY(e_dn(w, "issuer", s->issuer));
        TRY(e_bytes(w, "serialNumber", s->serial));
    }
    TRY(e_oid(w, "digestAlgorithm", s->digest_algorithm));
    if (s->signed_attrs.data != NULL) {
        TRY(e_begin(w, "signedAttrs", NULL, s->signed_attrs.data));
        TRY(e_oid(w, "contentType", s->content_type_attr));
        TRY(e_bytes_opt(w, "messageDigest", s->message_digest_attr));
        TRY(e_end(w));
    }
    TRY(e_oid(w, "signatureAlgorithm", s->signature_algorithm));
    TRY(e_bytes(w, "signature", s->signature));
    return e_end(w);
}

/* A CMS SignedData (bare or in a ContentInfo) whose eContent is AuthPack or
 * KDCDHKeyInfo. name: "signedAuthPack" / "dhSignedData". */
static int walk_signed_data(walk *w, const char *name, negoex_bytes der)
{
    negoex_cms_signed_data *sd = &w->sd;
    negoex_error_info inner = {0, 0, NULL};
    int rc = negoex_cms_decode_signed_data(der.data, der.len, sd, &inner);

    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, der.data);
    TRY(e_begin(w, name, sd->wrapped ? "ContentInfo, SignedData" : "SignedData, bare", der.data));
    TRY(e_int(w, "version", sd->version, NULL));
    TRY(e_list(w, "digestAlgorithms", sd->digest_algorithm_count, NULL));
    for (size_t i = 0; i < sd->digest_algorithm_count; i++)
        TRY(e_oid(w, "DigestAlgorithmIdentifier", sd->digest_algorithms[i]));
    TRY(e_end(w));
    TRY(e_oid(w, "eContentType", sd->econtent_type));
    if (sd->econtent.data != NULL) {
        /* The nested walks reuse their slots; sd stays untouched by them. */
        if (negoex_asn1_oid_is(sd->econtent_type, NEGOEX_OID_PKINIT_AUTHDATA, NEGOEX_OID_PKINIT_AUTHDATA_LEN))
            TRY(walk_auth_pack(w, sd->econtent));
        else if (negoex_asn1_oid_is(sd->econtent_type, NEGOEX_OID_PKINIT_DHKEYDATA, NEGOEX_OID_PKINIT_DHKEYDATA_LEN))
            TRY(walk_dh_key_info(w, sd->econtent));
        else
            TRY(e_bytes(w, "eContent", sd->econtent));
    }
    TRY(e_list(w, "certificates", sd->certificate_count, NULL));
    for (size_t i = 0; i < sd->certificate_count; i++)
        TRY(walk_certificate(w, sd->certificates[i]));
    TRY(e_end(w));
    TRY(e_list(w, "signerInfos", sd->signer_count, NULL));
    for (size_t i = 0; i < sd->signer_count; i++)
        TRY(walk_signer(w, &sd->signers[i]));
    TRY(e_end(w));
    return e_end(w);
}

static int walk_epi(walk *w, const negoex_krb_epi *epi)
{
    TRY(e_begin(w, "ExternalPrincipalIdentifier", NULL, NULL));
    TRY(e_dn(w, "subjectName", epi->subject_name));
    TRY(e_bytes_opt(w, "issuerAndSerialNumber", epi->issuer_and_serial));
    TRY(e_bytes_opt(w, "subjectKeyIdentifier", epi->subject_key_id));
    return e_end(w);
}

static int walk_epis(walk *w, const char *name, const negoex_krb_epi *list, size_t n)
{
    TRY(e_list(w, name, n, NULL));
    for (size_t i = 0; i < n; i++)
        TRY(walk_epi(w, &list[i]));
    return e_end(w);
}

static int walk_pa_pk_as_req(walk *w, negoex_bytes value)
{
    negoex_krb_pa_pk_as_req *pk = &w->pk_req;
    negoex_error_info inner = {0, 0, NULL};
    int rc = negoex_krb_decode_pa_pk_as_req(value.data, value.len, pk, &inner);

    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, value.data);
    TRY(e_begin(w, "padata-value", "PA-PK-AS-REQ", value.data));
    TRY(walk_signed_data(w, "signedAuthPack", pk->signed_auth_pack));
    if (pk->has_trusted_certifiers)
        TRY(walk_epis(w, "trustedCertifiers", pk->trusted_certifiers, pk->trusted_certifier_count));
    TRY(e_bytes_opt(w, "kdcPkId", pk->kdc_pk_id));
    return e_end(w);
}

static int walk_pa_pk_as_rep(walk *w, negoex_bytes value)
{
    negoex_krb_pa_pk_as_rep *pk = &w->pk_rep;
    negoex_error_info inner = {0, 0, NULL};
    int rc = negoex_krb_decode_pa_pk_as_rep(value.data, value.len, pk, &inner);

    if (rc != NEGOEX_OK)
        return nested_fail(w, rc, &inner, value.data);
    TRY(e_begin(w, "padata-value", "PA-PK-AS-REP", value.data));
    if (pk->choice == NEGOEX_KRB_PK_AS_REP_DH_INFO) {
        TRY(e_begin(w, "dhInfo", "DHRepInfo", NULL));
        TRY(walk_signed_data(w, "dhSignedData", pk->dh_signed_data));
        TRY(e_bytes_opt(w, "serverDHNonce", pk->server_dh_nonce));
        TRY(e_end(w));
    } else {
        TRY(e_bytes(w, "encKeyPack", pk->enc_key_pack));
    }
    return e_end(w);
}

/* ------------------------------------------------------------------------ */
/* Kerberos                                                                  */
/* ------------------------------------------------------------------------ */

static int walk_padata(walk *w, const negoex_krb_padata *list, size_t n, int request)
{
    TRY(e_list(w, "padata", n, NULL));
    for (size_t i = 0; i < n; i++) {
        const negoex_krb_padata *pa = &list[i];

        TRY(e_begin(w, "PA-DATA", NULL, NULL));
        TRY(e_int(w, "padata-type", pa->type, LOOKUP(padata_types, pa->type)));
        if (request && pa->type == NEGOEX_KRB_PA_PK_AS_REQ)
            TRY(walk_pa_pk_as_req(w, pa->value));
        else if (!request && pa->type == NEGOEX_KRB_PA_PK_AS_REP)
            TRY(walk_pa_pk_as_rep(w, pa->value));
        else
            TRY(e_bytes(w, "padata-value", pa->value));
        TRY(e_end(w));
    }
    return e_end(w);
}

static int walk_ticket_view(walk *w, const char *name, const negoex_krb_ticket *t)
{
    TRY(e_begin(w, name, NULL, t->raw.data));
    TRY(e_int(w, "tkt-vno", NEGOEX_KRB_PVNO, NULL));
    TRY(e_string(w, "realm", t->realm));
    TRY(e_principal(w, "sname", &t->sname));
    TRY(e_enc_data(w, "enc-part", &t->enc_part));
    return e_end(w);
}

static int walk_header(walk *w, int32_t msg_type)
{
    TRY(e_int(w, "pvno", NEGOEX_KRB_PVNO, NULL));
    return e_int(w, "msg-type", msg_type, LOOKUP(msg_types, msg_type));
}

static int walk_kdc_req(walk *w, const negoex_krb_kdc_req *r)
{
    TRY(walk_header(w, r->msg_type));
    if (r->padata_count > 0)
        TRY(walk_padata(w, r->padata, r->padata_count, 1));
    TRY(e_begin(w, "req-body", NULL, r->req_body.data));
    TRY(e_flags(w, "kdc-options", r->kdc_options, kdc_option_bits));
    if (r->has_cname)
        TRY(e_principal(w, "cname", &r->cname));
    TRY(e_string(w, "realm", r->realm));
    if (r->has_sname)
        TRY(e_principal(w, "sname", &r->sname));
    TRY(e_time(w, "from", r->from));
    TRY(e_time(w, "till", r->till));
    TRY(e_time(w, "rtime", r->rtime));
    TRY(e_int(w, "nonce", r->nonce, NULL));
    TRY(e_etypes(w, "etype", r->etypes, r->etype_count));
    if (r->has_addresses) {
        TRY(e_list(w, "addresses", r->address_count, NULL));
        for (size_t i = 0; i < r->address_count; i++)
            TRY(e_address(w, &r->addresses[i]));
        TRY(e_end(w));
    }
    if (r->has_enc_authorization_data)
        TRY(e_enc_data(w, "enc-authorization-data", &r->enc_authorization_data));
    if (r->additional_ticket_count > 0) {
        TRY(e_list(w, "additional-tickets", r->additional_ticket_count, NULL));
        for (size_t i = 0; i < r->additional_ticket_count; i++) {
            negoex_bytes raw = r->additional_tickets[i];
            negoex_error_info inner = {0, 0, NULL};
            int rc = negoex_krb_decode_ticket(raw.data, raw.len, &w->ticket, &inner);

            if (rc != NEGOEX_OK)
                return nested_fail(w, rc, &inner, raw.data);
            TRY(walk_ticket_view(w, "Ticket", &w->ticket));
        }
        TRY(e_end(w));
    }
    return e_end(w);
}

static int walk_kdc_rep(walk *w, const negoex_krb_kdc_rep *r)
{
    TRY(walk_header(w, r->msg_type));
    if (r->padata_count > 0)
        TRY(walk_padata(w, r->padata, r->padata_count, 0));
    TRY(e_string(w, "crealm", r->crealm));
    TRY(e_principal(w, "cname", &r->cname));
    TRY(walk_ticket_view(w, "ticket", &r->ticket));
    return e_enc_data(w, "enc-part", &r->enc_part);
}

static int walk_ap_req(walk *w, const negoex_krb_ap_req *r)
{
    TRY(walk_header(w, NEGOEX_KRB_AP_REQ));
    TRY(e_flags(w, "ap-options", r->ap_options, ap_option_bits));
    TRY(walk_ticket_view(w, "ticket", &r->ticket));
    return e_enc_data(w, "authenticator", &r->authenticator);
}

static int walk_krb_error(walk *w, const negoex_krb_error *e)
{
    TRY(walk_header(w, NEGOEX_KRB_ERROR));
    TRY(e_time(w, "ctime", e->ctime));
    if (e->has_cusec)
        TRY(e_int(w, "cusec", e->cusec, NULL));
    TRY(e_time(w, "stime", e->stime));
    TRY(e_int(w, "susec", e->susec, NULL));
    TRY(e_int(w, "error-code", e->error_code, LOOKUP(error_codes, e->error_code)));
    TRY(e_string(w, "crealm", e->crealm));
    if (e->has_cname)
        TRY(e_principal(w, "cname", &e->cname));
    TRY(e_string(w, "realm", e->realm));
    TRY(e_principal(w, "sname", &e->sname));
    TRY(e_string(w, "e-text", e->e_text));
    return e_bytes_opt(w, "e-data", e->e_data);
}

static int walk_token(walk *w)
{
    negoex_pku2u_message *m = &w->msg;
    const negoex_pku2u_token *t = &m->token;
    int rc = negoex_pku2u_decode_token(w->base, w->len, m, w->err);
    negoex_bytes oid, tok_id;
    const char *kind;

    if (rc != NEGOEX_OK)
        return rc;
    kind = negoex_pku2u_tok_id_name(t->tok_id);
    /* The framing ends in 06 06 <OID> <TOK_ID> right before the PDU. */
    oid.data = w->base + t->pdu_offset - 2 - NEGOEX_OID_PKU2U_LEN;
    oid.len = NEGOEX_OID_PKU2U_LEN;
    tok_id.data = w->base + t->pdu_offset - 2;
    tok_id.len = 2;
    TRY(e_begin(w, kind != NULL ? kind : "PKU2U", NULL, w->base));
    TRY(e_oid(w, "thisMech", oid));
    TRY(e_bytes(w, "tok-id", tok_id));
    switch (t->tok_id) {
    case NEGOEX_PKU2U_TOK_AS_REQ:
        TRY(walk_kdc_req(w, &m->u.as_req));
        break;
    case NEGOEX_PKU2U_TOK_AS_REP:
        TRY(walk_kdc_rep(w, &m->u.as_rep));
        break;
    case NEGOEX_PKU2U_TOK_AP_REQ:
        TRY(walk_ap_req(w, &m->u.ap_req));
        break;
    case NEGOEX_PKU2U_TOK_AP_REP:
        TRY(walk_header(w, NEGOEX_KRB_AP_REP));
        TRY(e_enc_data(w, "enc-part", &m->u.ap_rep.enc_part));
        break;
    default: /* the parse admits only the five TOK_IDs */
        TRY(walk_krb_error(w, &m->u.krb_error));
        break;
    }
    return e_end(w);
}

static int walk_metadata(walk *w, negoex_pku2u_metadata_kind kind)
{
    negoex_pku2u_metadata *md = &w->meta;
    int rc;

    switch (kind) {
    case NEGOEX_PKU2U_METADATA_INITIATOR:
        rc = negoex_pku2u_decode_initiator_metadata(w->base, w->len, md, w->err);
        break;
    case NEGOEX_PKU2U_METADATA_ACCEPTOR:
        rc = negoex_pku2u_decode_acceptor_metadata(w->base, w->len, md, w->err);
        break;
    default:
        rc = negoex_pku2u_decode_metadata(w->base, w->len, md, w->err);
        break;
    }
    if (rc != NEGOEX_OK)
        return rc;
    TRY(e_begin(w, md->initiator ? "Pku2uInitiatorMetaData" : "Pku2uAcceptorMetaData", NULL, w->base));
    TRY(walk_epis(w, "trustedCertifiers", md->trusted_certifiers, md->trusted_certifier_count));
    if (md->initiator) {
        TRY(e_begin(w, "target", NULL, NULL));
        TRY(e_string(w, "realm", md->target_realm));
        TRY(e_principal(w, "sname", &md->target_sname));
        TRY(e_end(w));
    }
    return e_end(w);
}

/* ------------------------------------------------------------------------ */

typedef int (*walk_fn)(walk *w, int arg);

static int walk_token_fn(walk *w, int arg)
{
    (void)arg;
    return walk_token(w);
}

static int walk_metadata_fn(walk *w, int arg)
{
    return walk_metadata(w, (negoex_pku2u_metadata_kind)arg);
}

static int dissect(const uint8_t *in, size_t len, walk_fn body, int arg, negoex_dissect_fn fn, void *ud,
                   negoex_error_info *err)
{
    walk *w;
    int rc;

    if (err != NULL)
        memset(err, 0, sizeof *err);
    if (fn == NULL || (in == NULL && len > 0))
        return negoex_der_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "input");
    w = calloc(1, sizeof *w);
    if (w == NULL)
        return negoex_der_fail(err, NEGOEX_ERR_NO_MEMORY, 0, "input");
    w->base = in;
    w->len = len;
    w->err = err;
    w->dn_text = w->dn_small;
    w->dn_cap = sizeof w->dn_small;
    /* Pass 1: decode everything, report nothing. */
    rc = body(w, arg);
    if (rc == NEGOEX_OK) {
        /* Pass 2: the same walk, reporting. */
        w->depth = 0;
        w->fn = fn;
        w->ud = ud;
        rc = body(w, arg);
    }
    if (w->dn_text != w->dn_small)
        free(w->dn_text);
    free(w);
    return rc;
}

int negoex_pku2u_dissect_token(const uint8_t *tok, size_t len, negoex_dissect_fn fn, void *ud,
                               negoex_error_info *err)
{
    return dissect(tok, len, walk_token_fn, 0, fn, ud, err);
}

int negoex_pku2u_dissect_metadata(const uint8_t *der, size_t len, negoex_pku2u_metadata_kind kind,
                                  negoex_dissect_fn fn, void *ud, negoex_error_info *err)
{
    if (kind != NEGOEX_PKU2U_METADATA_ANY && kind != NEGOEX_PKU2U_METADATA_INITIATOR &&
        kind != NEGOEX_PKU2U_METADATA_ACCEPTOR) {
        if (err != NULL)
            memset(err, 0, sizeof *err);
        return negoex_der_fail(err, NEGOEX_ERR_INVALID_ARGUMENT, 0, "kind");
    }
    return dissect(der, len, walk_metadata_fn, (int)kind, fn, ud, err);
}

int negoex_pku2u_is_scheme(const negoex_guid *guid)
{
    return guid != NULL &&
           (negoex_guid_equal(guid, &NEGOEX_SCHEME_PKU2U) || negoex_guid_equal(guid, &NEGOEX_SCHEME_PKU2U_DOCUMENTED));
}
