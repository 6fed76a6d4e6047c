/*
 * negoex_gss: libnegoex auth schemes as GSS-API mechanisms for MIT krb5.
 *
 * MIT's SPNEGO negotiates NEGOEX only for mechanisms loaded as modules that
 * implement its NEGOEX SPI (../../shared/docs/mit-interop.md). This module is
 * a thin adapter over the scheme vtable (include/negoex/scheme.h): a GSS
 * context holds one negoex_scheme, created for the mechanism OID the mechglue
 * names, and each GSS/SPI call is one scheme method:
 *
 *   gssspi_query_mechanism_info      the scheme's AuthScheme GUID
 *   gssspi_query_meta_data           query_meta_data
 *   gssspi_exchange_meta_data        exchange_meta_data
 *   gss_init/accept_sec_context      step
 *   gss_inquire_sec_context_by_oid   get_key (GSS_C_INQ_NEGOEX_KEY / _VERIFY_KEY),
 *                                    requires_mic (GSS_C_INQ_REQUIRE_MECHLIST_MIC)
 *   gss_get_mic / gss_verify_mic     make_mic / verify_mic
 *   gss_delete_sec_context           destroy
 *   src_name / targ_name, gss_display_name, gss_display_status
 *                                    the scheme table's peer_name and
 *                                    describe_failure (PKU2U: the peer's
 *                                    certificate name, what check failed)
 *
 * The metadata calls create the context when there is none yet (MIT's acceptor
 * can route a first token that is not RFC 2743 framed only to a mechanism
 * that already has a context), so a scheme instance sees its side's whole
 * conversation. The initiator is the side with targ_name != GSS_C_NO_NAME.
 *
 * The module links no GSS library: the mechglue calls these functions through
 * dlsym, and everything handed back to MIT is allocated with gssalloc_* so
 * that MIT's gss_release_* can free it.
 *
 * Names: gss_import_name keeps the text and its kind (host-based service,
 * Kerberos principal, ...), so the initiator's target name reaches the
 * scheme (PKU2U takes its service and host from "service@host"); the
 * mechglue imports the application's name into the module for each call that
 * takes one and releases it afterwards. Peer names (src_name / targ_name of
 * an established context) are made the same way.
 */
#include "negoex_gss.h"

#include <negoex/negoex.h>

#include <openssl/crypto.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_alloc.h>
#include <gssapi/gssapi_ext.h>

/* The entry points the mechglue looks up (the build's version script lists
 * the same names; everything else stays local). */
#define NXGSS_EXPORT __attribute__((visibility("default")))

/* OIDs libgssapi_krb5 defines as data; the module does not link it. */
static const uint8_t OID_NEGOEX_KEY[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x05, 0x10};
static const uint8_t OID_NEGOEX_VERIFY_KEY[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x05, 0x11};
/* 1.3.6.1.4.1.7165.655.1.2: SPNEGO asks the mechanism whether it wants a
 * mechListMIC; a first buffer whose first byte has bit 0 set means yes. */
static const uint8_t OID_REQUIRE_MECHLIST_MIC[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xb7, 0x7d, 0x85, 0x0f, 0x01, 0x02};
/* Name types (RFC 2743 4.1, RFC 1964 2.1.1, RFC 2744). */
static const uint8_t OID_NT_HOSTBASED_SERVICE[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x04};
static const uint8_t OID_NT_HOSTBASED_SERVICE_X[] = {0x2b, 0x06, 0x01, 0x05, 0x06, 0x02};
static const uint8_t OID_NT_KRB5_PRINCIPAL[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02, 0x01};
static const uint8_t OID_NT_USER_NAME[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x01, 0x01};

/* ------------------------------------------------------------------------ */
/* Mechanism OIDs handed back to MIT (actual_mech, mech_type) must outlive   */
/* the context, so they are interned in a small process-wide table.          */
/* ------------------------------------------------------------------------ */

#define NXGSS_OID_SLOTS 32
#define NXGSS_OID_MAX 32

static struct {
    gss_OID_desc desc;
    uint8_t bytes[NXGSS_OID_MAX];
} oid_slots[NXGSS_OID_SLOTS];
static size_t oid_used;
static pthread_mutex_t oid_lock = PTHREAD_MUTEX_INITIALIZER;

/* The interned copy, or GSS_C_NO_OID when the table is full (the mechanism
 * then goes unreported; nothing else depends on it). */
static gss_OID intern_oid(const uint8_t *der, size_t len)
{
    gss_OID found = GSS_C_NO_OID;
    if (len == 0 || len > NXGSS_OID_MAX || pthread_mutex_lock(&oid_lock) != 0)
        return GSS_C_NO_OID;
    for (size_t i = 0; i < oid_used && found == GSS_C_NO_OID; i++) {
        if (oid_slots[i].desc.length == len && memcmp(oid_slots[i].bytes, der, len) == 0)
            found = &oid_slots[i].desc;
    }
    if (found == GSS_C_NO_OID && oid_used < NXGSS_OID_SLOTS) {
        memcpy(oid_slots[oid_used].bytes, der, len);
        oid_slots[oid_used].desc.length = (OM_uint32)len;
        oid_slots[oid_used].desc.elements = oid_slots[oid_used].bytes;
        found = &oid_slots[oid_used++].desc;
    }
    pthread_mutex_unlock(&oid_lock);
    return found;
}

static int oid_is(gss_const_OID oid, const uint8_t *der, size_t len)
{
    return oid != GSS_C_NO_OID && oid->length == len && memcmp(oid->elements, der, len) == 0;
}

/* ------------------------------------------------------------------------ */
/* Names                                                                      */
/* ------------------------------------------------------------------------ */

#define NXGSS_NAME_MAGIC 0x4e584e4du /* "NXNM" */
#define NXGSS_NAME_MAX 1024          /* longer names are refused */

static nxgss_name *name_alloc(nxgss_name_kind kind, const char *text, size_t len)
{
    nxgss_name *n = malloc(sizeof *n + len + 1);
    if (n == NULL)
        return NULL;
    n->magic = NXGSS_NAME_MAGIC;
    n->kind = kind;
    n->len = len;
    memcpy(n->text, text, len);
    n->text[len] = '\0';
    return n;
}

static void name_free(nxgss_name *n)
{
    if (n != NULL && n->magic == NXGSS_NAME_MAGIC) {
        n->magic = 0;
        free(n);
    }
}

static nxgss_name_kind name_kind_of(gss_const_OID type)
{
    if (oid_is(type, OID_NT_HOSTBASED_SERVICE, sizeof OID_NT_HOSTBASED_SERVICE) ||
        oid_is(type, OID_NT_HOSTBASED_SERVICE_X, sizeof OID_NT_HOSTBASED_SERVICE_X))
        return NXGSS_NAME_HOSTBASED;
    if (oid_is(type, OID_NT_KRB5_PRINCIPAL, sizeof OID_NT_KRB5_PRINCIPAL))
        return NXGSS_NAME_PRINCIPAL;
    if (oid_is(type, OID_NT_USER_NAME, sizeof OID_NT_USER_NAME))
        return NXGSS_NAME_USER;
    return NXGSS_NAME_OTHER;
}

/* A name handed to the module: one of ours, else NULL. */
static const nxgss_name *name_of(gss_const_name_t name)
{
    const nxgss_name *n = (const nxgss_name *)name;
    return n != NULL && n->magic == NXGSS_NAME_MAGIC ? n : NULL;
}

/* Last failure text of this thread, for gss_display_status: a minor code
 * alone cannot say which certificate check failed. */
static _Thread_local struct {
    OM_uint32 minor;
    char text[384];
} last_failure;

/* ------------------------------------------------------------------------ */
/* Contexts                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct nxgss_ctx {
    const nxgss_scheme_entry *entry; /* NULL for an app mechanism */
    negoex_scheme *scheme;
    /* A plain (non-NEGOEX) app mechanism (ntlmtoy): its ops and state. */
    const nxgss_app_entry *app;
    const negoex_spnego_mech_ops *app_ops;
    void *app_state;
    gss_OID mech; /* interned */
    nxgss_role role;
    int complete;
    OM_uint32 flags;
} nxgss_ctx;

static OM_uint32 minor_of(int rc)
{
    return rc < 0 ? (OM_uint32)-rc : 0;
}

static OM_uint32 ctx_new(OM_uint32 *minor, const uint8_t *oid, size_t len, nxgss_role role,
                         const nxgss_name *target, nxgss_ctx **out)
{
    *out = NULL;
    if (oid == NULL || len == 0) {
        *minor = NXGSS_MINOR_UNKNOWN_MECH;
        return GSS_S_BAD_MECH;
    }
    const nxgss_app_entry *app = nxgss_app_lookup(oid, len);
    const nxgss_scheme_entry *e = nxgss_scheme_lookup(oid, len);
    nxgss_ctx *c = calloc(1, sizeof *c);
    if (c == NULL) {
        *minor = minor_of(NEGOEX_ERR_NO_MEMORY);
        return GSS_S_FAILURE;
    }
    if (app != NULL) {
        /* Only as a context of its own: it has no auth scheme (NONE). */
        int rc = role == NXGSS_ROLE_NONE ? NEGOEX_ERR_INVALID_ARGUMENT
                                         : app->create(role, &c->app_ops, &c->app_state);
        if (rc != NEGOEX_OK) {
            free(c);
            *minor = rc == NEGOEX_ERR_INVALID_ARGUMENT ? NXGSS_MINOR_BAD_CONFIG : minor_of(rc);
            last_failure.minor = 0;
            return role == NXGSS_ROLE_NONE ? GSS_S_UNAVAILABLE : GSS_S_FAILURE;
        }
        c->app = app;
        c->mech = intern_oid(oid, len);
        c->role = role;
        if (c->app_ops->get_mic != NULL && c->app_ops->verify_mic != NULL)
            c->flags |= GSS_C_INTEG_FLAG;
        *out = c;
        return GSS_S_COMPLETE;
    }
    int rc = e->create(oid, len, role, target, &c->scheme);
    if (rc != NEGOEX_OK) {
        free(c);
        *minor = rc == NEGOEX_ERR_INVALID_ARGUMENT ? NXGSS_MINOR_BAD_CONFIG : minor_of(rc);
        last_failure.minor = 0;
        return GSS_S_FAILURE;
    }
    c->entry = e;
    c->mech = intern_oid(oid, len);
    c->role = role;
    c->flags = e->flags;
    if (c->scheme->cls->make_mic != NULL && c->scheme->cls->verify_mic != NULL)
        c->flags |= GSS_C_INTEG_FLAG;
    *out = c;
    return GSS_S_COMPLETE;
}

static void ctx_free(nxgss_ctx *c)
{
    if (c == NULL)
        return;
    if (c->app != NULL)
        c->app_ops->free(c->app_state);
    else
        c->scheme->cls->destroy(c->scheme);
    free(c);
}

/* The context in *handle, or a new one for mech/role (*created = 1). */
static OM_uint32 ctx_attach(OM_uint32 *minor, gss_const_OID mech, nxgss_role role, gss_const_name_t target,
                            gss_ctx_id_t *handle, nxgss_ctx **out, int *created)
{
    *created = 0;
    *out = (nxgss_ctx *)*handle;
    if (*out != NULL) {
        if ((*out)->role != role) {
            *minor = NXGSS_MINOR_ROLE;
            return GSS_S_FAILURE;
        }
        return GSS_S_COMPLETE;
    }
    if (mech == GSS_C_NO_OID) {
        *minor = NXGSS_MINOR_UNKNOWN_MECH;
        return GSS_S_BAD_MECH;
    }
    OM_uint32 major = ctx_new(minor, mech->elements, mech->length, role, name_of(target), out);
    *created = major == GSS_S_COMPLETE;
    return major;
}

/* A new name for the context's authenticated peer, or NULL. */
static nxgss_name *ctx_peer_name(const nxgss_ctx *c)
{
    char buf[512];
    if (c == NULL || !c->complete || c->entry == NULL || c->entry->peer_name == NULL ||
        !c->entry->peer_name(c->scheme, c->role, buf, sizeof buf))
        return NULL;
    return name_alloc(NXGSS_NAME_PEER, buf, strlen(buf));
}

/* On failure, a context made by this call goes again (the mechglue frees
 * only its own wrapper); an older one stays for gss_delete_sec_context. */
static void ctx_settle(OM_uint32 major, nxgss_ctx *c, int created, gss_ctx_id_t *handle)
{
    if (GSS_ERROR(major) && created) {
        ctx_free(c);
        *handle = GSS_C_NO_CONTEXT;
    } else if (c != NULL) {
        *handle = (gss_ctx_id_t)c;
    }
}

/* ------------------------------------------------------------------------ */
/* Buffers handed to MIT                                                      */
/* ------------------------------------------------------------------------ */

static void buffer_clear(gss_buffer_t b)
{
    if (b != GSS_C_NO_BUFFER) {
        b->length = 0;
        b->value = NULL;
    }
}

static OM_uint32 buffer_set(OM_uint32 *minor, gss_buffer_t out, const uint8_t *data, size_t len)
{
    buffer_clear(out);
    if (len == 0)
        return GSS_S_COMPLETE;
    if (out == GSS_C_NO_BUFFER) {
        *minor = minor_of(NEGOEX_ERR_INVALID_ARGUMENT);
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    }
    out->value = gssalloc_malloc(len);
    if (out->value == NULL) {
        *minor = minor_of(NEGOEX_ERR_NO_MEMORY);
        return GSS_S_FAILURE;
    }
    memcpy(out->value, data, len);
    out->length = len;
    return GSS_S_COMPLETE;
}

static void buffer_set_free(gss_buffer_set_t set)
{
    if (set == GSS_C_NO_BUFFER_SET)
        return;
    for (size_t i = 0; i < set->count; i++) {
        OPENSSL_cleanse(set->elements[i].value, set->elements[i].length);
        gssalloc_free(set->elements[i].value);
    }
    gssalloc_free(set->elements);
    gssalloc_free(set);
}

/* Appends a copy of data to *set (created when GSS_C_NO_BUFFER_SET). */
static int buffer_set_add(gss_buffer_set_t *set, const void *data, size_t len)
{
    if (*set == GSS_C_NO_BUFFER_SET) {
        *set = gssalloc_calloc(1, sizeof **set);
        if (*set == NULL)
            return NEGOEX_ERR_NO_MEMORY;
    }
    gss_buffer_desc *el = gssalloc_realloc((*set)->elements, ((*set)->count + 1) * sizeof *el);
    if (el == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    (*set)->elements = el;
    void *copy = gssalloc_malloc(len != 0 ? len : 1);
    if (copy == NULL)
        return NEGOEX_ERR_NO_MEMORY;
    memcpy(copy, data, len);
    el[(*set)->count].value = copy;
    el[(*set)->count].length = len;
    (*set)->count++;
    return NEGOEX_OK;
}

/* ------------------------------------------------------------------------ */
/* Context establishment                                                      */
/* ------------------------------------------------------------------------ */

/* One step of the scheme: the token it produced (also its error token on
 * failure) goes to out. */
static OM_uint32 ctx_step(OM_uint32 *minor, nxgss_ctx *c, gss_buffer_t in, gss_buffer_t out)
{
    const uint8_t *ip = NULL;
    size_t il = 0;
    if (in != GSS_C_NO_BUFFER && in->length > 0) {
        ip = in->value;
        il = in->length;
    }
    if (c->app != NULL) {
        /* A plain mechanism: its own step, its own tokens. */
        const uint8_t *op = NULL;
        size_t ol = 0;
        int r = c->app_ops->step(c->app_state, ip, il, &op, &ol);
        OM_uint32 mj = buffer_set(minor, out, op, r >= 0 ? ol : 0);
        if (mj != GSS_S_COMPLETE)
            return mj;
        if (r < 0) {
            *minor = minor_of(r);
            last_failure.minor = 0;
            nxgss_trace("%s %s: %s", c->app->name, c->role == NXGSS_ROLE_INITIATOR ? "initiator" : "acceptor",
                        negoex_strerror(r));
            return r == NEGOEX_ERR_SPNEGO_MECH_TOKEN ? GSS_S_DEFECTIVE_TOKEN : GSS_S_FAILURE;
        }
        c->complete = r == NEGOEX_COMPLETE;
        return c->complete ? GSS_S_COMPLETE : GSS_S_CONTINUE_NEEDED;
    }
    negoex_buf b;
    negoex_buf_init(&b, NULL);
    int complete = 0;
    int rc = c->scheme->cls->step(c->scheme, c->role == NXGSS_ROLE_INITIATOR, ip, il, &b, &complete);
    OM_uint32 major = buffer_set(minor, out, b.data, b.len);
    negoex_buf_free(&b);
    if (major != GSS_S_COMPLETE)
        return major;
    if (rc < 0) {
        uint32_t m = c->entry->step_minor != NULL ? c->entry->step_minor(c->role, ip, il) : 0;
        *minor = m != 0 ? m : minor_of(rc);
        last_failure.minor = 0;
        if (c->entry->describe_failure != NULL &&
            c->entry->describe_failure(c->scheme, last_failure.text, sizeof last_failure.text)) {
            last_failure.minor = *minor;
            nxgss_trace("%s %s: %s", c->entry->name, c->role == NXGSS_ROLE_INITIATOR ? "initiator" : "acceptor",
                        last_failure.text);
        }
        return rc == NEGOEX_ERR_MISSING_TOKEN ? GSS_S_DEFECTIVE_TOKEN : GSS_S_FAILURE;
    }
    c->complete = complete;
    return complete ? GSS_S_COMPLETE : GSS_S_CONTINUE_NEEDED;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_init_sec_context(
    OM_uint32 *minor_status, gss_cred_id_t claimant_cred_handle, gss_ctx_id_t *context_handle,
    gss_name_t target_name, gss_OID mech_type, OM_uint32 req_flags, OM_uint32 time_req,
    gss_channel_bindings_t input_chan_bindings, gss_buffer_t input_token, gss_OID *actual_mech_type,
    gss_buffer_t output_token, OM_uint32 *ret_flags, OM_uint32 *time_rec)
{
    (void)claimant_cred_handle;
    (void)req_flags;
    (void)time_req;
    (void)input_chan_bindings; /* negoextest ignores them too: they never reach NEGOEX */
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    buffer_clear(output_token);
    if (context_handle == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;

    nxgss_ctx *c;
    int created;
    OM_uint32 major =
        ctx_attach(minor_status, mech_type, NXGSS_ROLE_INITIATOR, target_name, context_handle, &c, &created);
    if (major == GSS_S_COMPLETE)
        major = ctx_step(minor_status, c, input_token, output_token);
    if (c != NULL) {
        if (actual_mech_type != NULL)
            *actual_mech_type = c->mech;
        if (ret_flags != NULL)
            *ret_flags = c->flags;
    }
    if (time_rec != NULL)
        *time_rec = GSS_C_INDEFINITE;
    ctx_settle(major, c, created, context_handle);
    return major;
}

/* The mechanism OID of an RFC 2743 InitialContextToken: 60 len 06 len oid. */
static int framed_oid(gss_buffer_t tok, const uint8_t **oid, size_t *len)
{
    if (tok == GSS_C_NO_BUFFER || tok->length < 4)
        return 0;
    const uint8_t *p = tok->value;
    size_t n = tok->length, i = 1, body;
    if (p[0] != 0x60)
        return 0;
    if (p[i] < 0x80) {
        body = p[i++];
    } else {
        size_t k = p[i++] & 0x7fu;
        if (k == 0 || k > 4 || i + k > n)
            return 0;
        for (body = 0; k > 0; k--)
            body = (body << 8) | p[i++];
    }
    if (body > n - i || body < 2 || p[i] != 0x06 || p[i + 1] >= 0x80 || p[i + 1] > body - 2)
        return 0;
    *len = p[i + 1];
    *oid = p + i + 2;
    return *len > 0;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_accept_sec_context(
    OM_uint32 *minor_status, gss_ctx_id_t *context_handle, gss_cred_id_t verifier_cred_handle,
    gss_buffer_t input_token, gss_channel_bindings_t input_chan_bindings, gss_name_t *src_name,
    gss_OID *mech_type, gss_buffer_t output_token, OM_uint32 *ret_flags, OM_uint32 *time_rec,
    gss_cred_id_t *delegated_cred_handle)
{
    (void)verifier_cred_handle;
    (void)input_chan_bindings;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    buffer_clear(output_token);
    if (src_name != NULL)
        *src_name = GSS_C_NO_NAME;
    if (delegated_cred_handle != NULL)
        *delegated_cred_handle = GSS_C_NO_CREDENTIAL;
    if (context_handle == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    if (input_token == GSS_C_NO_BUFFER || input_token->length == 0)
        return GSS_S_DEFECTIVE_TOKEN;

    nxgss_ctx *c = (nxgss_ctx *)*context_handle;
    int created = 0;
    OM_uint32 major = GSS_S_COMPLETE;
    if (c == NULL) {
        /* No metadata call came first: the token's framing names the mech. */
        const uint8_t *oid;
        size_t len;
        if (!framed_oid(input_token, &oid, &len)) {
            *minor_status = NXGSS_MINOR_NO_FRAMING;
            return GSS_S_DEFECTIVE_TOKEN;
        }
        major = ctx_new(minor_status, oid, len, NXGSS_ROLE_ACCEPTOR, NULL, &c);
        created = major == GSS_S_COMPLETE;
    } else if (c->role != NXGSS_ROLE_ACCEPTOR) {
        *minor_status = NXGSS_MINOR_ROLE;
        return GSS_S_FAILURE;
    }
    if (major == GSS_S_COMPLETE)
        major = ctx_step(minor_status, c, input_token, output_token);
    if (major == GSS_S_COMPLETE && src_name != NULL)
        *src_name = (gss_name_t)ctx_peer_name(c);
    if (c != NULL) {
        if (mech_type != NULL)
            *mech_type = c->mech;
        if (ret_flags != NULL)
            *ret_flags = c->flags;
    }
    if (time_rec != NULL)
        *time_rec = GSS_C_INDEFINITE;
    ctx_settle(major, c, created, context_handle);
    return major;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_delete_sec_context(OM_uint32 *minor_status, gss_ctx_id_t *context_handle,
                                                            gss_buffer_t output_token)
{
    if (minor_status != NULL)
        *minor_status = 0;
    buffer_clear(output_token);
    if (context_handle == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    ctx_free((nxgss_ctx *)*context_handle);
    *context_handle = GSS_C_NO_CONTEXT;
    return GSS_S_COMPLETE;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_inquire_context(OM_uint32 *minor_status, gss_ctx_id_t context_handle,
                                                         gss_name_t *src_name, gss_name_t *targ_name,
                                                         OM_uint32 *lifetime_rec, gss_OID *mech_type,
                                                         OM_uint32 *ctx_flags, int *locally_initiated, int *opened)
{
    const nxgss_ctx *c = (const nxgss_ctx *)context_handle;
    if (minor_status != NULL)
        *minor_status = 0;
    if (src_name != NULL)
        *src_name = GSS_C_NO_NAME;
    if (targ_name != NULL)
        *targ_name = GSS_C_NO_NAME;
    if (c == NULL)
        return GSS_S_NO_CONTEXT;
    /* The peer: the source of an acceptor's context, the target of an
     * initiator's. Our own name stays GSS_C_NO_NAME. */
    gss_name_t *peer = c->role == NXGSS_ROLE_ACCEPTOR ? src_name : targ_name;
    if (peer != NULL)
        *peer = (gss_name_t)ctx_peer_name(c);
    if (lifetime_rec != NULL)
        *lifetime_rec = GSS_C_INDEFINITE;
    if (mech_type != NULL)
        *mech_type = c->mech;
    if (ctx_flags != NULL)
        *ctx_flags = c->flags;
    if (locally_initiated != NULL)
        *locally_initiated = c->role == NXGSS_ROLE_INITIATOR;
    if (opened != NULL)
        *opened = c->complete;
    return GSS_S_COMPLETE;
}

/* ------------------------------------------------------------------------ */
/* NEGOEX SPI                                                                 */
/* ------------------------------------------------------------------------ */

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gssspi_query_mechanism_info(OM_uint32 *minor_status, gss_const_OID mech_oid,
                                                                 unsigned char auth_scheme[16])
{
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (auth_scheme == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    if (mech_oid == GSS_C_NO_OID) {
        *minor_status = NXGSS_MINOR_UNKNOWN_MECH;
        return GSS_S_BAD_MECH;
    }
    if (nxgss_app_lookup(mech_oid->elements, mech_oid->length) != NULL) {
        /* A plain mechanism: MIT's SPNEGO then lists it itself, not
         * under NEGOEX, and negotiates it like Kerberos or NTLM. */
        *minor_status = NXGSS_MINOR_UNKNOWN_MECH;
        return GSS_S_UNAVAILABLE;
    }
    const nxgss_scheme_entry *e = nxgss_scheme_lookup(mech_oid->elements, mech_oid->length);
    if (e->guid != NULL) {
        memcpy(auth_scheme, e->guid->bytes, 16);
        return GSS_S_COMPLETE;
    }
    nxgss_ctx *c;
    OM_uint32 major = ctx_new(minor_status, mech_oid->elements, mech_oid->length, NXGSS_ROLE_NONE, NULL, &c);
    if (major != GSS_S_COMPLETE)
        return major;
    memcpy(auth_scheme, c->scheme->auth_scheme.bytes, 16);
    ctx_free(c);
    return GSS_S_COMPLETE;
}

static nxgss_role role_of(gss_name_t targ_name)
{
    return targ_name != GSS_C_NO_NAME ? NXGSS_ROLE_INITIATOR : NXGSS_ROLE_ACCEPTOR;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gssspi_query_meta_data(OM_uint32 *minor_status, gss_const_OID mech_oid,
                                                            gss_cred_id_t cred_handle, gss_ctx_id_t *context_handle,
                                                            const gss_name_t targ_name, OM_uint32 req_flags,
                                                            gss_buffer_t meta_data)
{
    (void)cred_handle;
    (void)req_flags;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    buffer_clear(meta_data);
    if (context_handle == NULL || meta_data == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_WRITE;

    nxgss_role role = role_of(targ_name);
    nxgss_ctx *c;
    int created;
    OM_uint32 major = ctx_attach(minor_status, mech_oid, role, targ_name, context_handle, &c, &created);
    if (major == GSS_S_COMPLETE && c->app != NULL) {
        *minor_status = NXGSS_MINOR_UNKNOWN_MECH;
        major = GSS_S_UNAVAILABLE; /* not a NEGOEX mechanism */
    } else if (major == GSS_S_COMPLETE) {
        negoex_buf b;
        negoex_buf_init(&b, NULL);
        int rc = c->scheme->cls->query_meta_data(c->scheme, role == NXGSS_ROLE_INITIATOR, &b);
        if (rc < 0) {
            *minor_status = minor_of(rc);
            major = GSS_S_FAILURE;
        } else if (rc != NEGOEX_SCHEME_NONE) {
            major = buffer_set(minor_status, meta_data, b.data, b.len);
        }
        negoex_buf_free(&b);
    }
    ctx_settle(major, c, created, context_handle);
    return major;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gssspi_exchange_meta_data(OM_uint32 *minor_status, gss_const_OID mech_oid,
                                                               gss_cred_id_t cred_handle,
                                                               gss_ctx_id_t *context_handle, const gss_name_t targ_name,
                                                               OM_uint32 req_flags, gss_const_buffer_t meta_data)
{
    (void)cred_handle;
    (void)req_flags;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (context_handle == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;

    nxgss_role role = role_of(targ_name);
    nxgss_ctx *c;
    int created;
    OM_uint32 major = ctx_attach(minor_status, mech_oid, role, targ_name, context_handle, &c, &created);
    if (major == GSS_S_COMPLETE && c->app != NULL) {
        *minor_status = NXGSS_MINOR_UNKNOWN_MECH;
        major = GSS_S_UNAVAILABLE; /* not a NEGOEX mechanism */
    } else if (major == GSS_S_COMPLETE) {
        const uint8_t *data = meta_data != NULL ? meta_data->value : NULL;
        size_t len = meta_data != NULL && data != NULL ? meta_data->length : 0;
        int rc = c->scheme->cls->exchange_meta_data(c->scheme, role == NXGSS_ROLE_INITIATOR, data, len);
        if (rc < 0) {
            *minor_status = minor_of(rc);
            major = GSS_S_FAILURE;
        }
    }
    ctx_settle(major, c, created, context_handle);
    return major;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_inquire_sec_context_by_oid(OM_uint32 *minor_status,
                                                                    const gss_ctx_id_t context_handle,
                                                                    const gss_OID desired_object,
                                                                    gss_buffer_set_t *data_set)
{
    nxgss_ctx *c = (nxgss_ctx *)context_handle;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (data_set == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    if (c == NULL)
        return GSS_S_NO_CONTEXT;

    gss_buffer_set_t set = GSS_C_NO_BUFFER_SET;
    int rc;
    if (c->app != NULL) {
        /* A plain mechanism: no NEGOEX keys; a mechListMIC if it asks. */
        if (!oid_is(desired_object, OID_REQUIRE_MECHLIST_MIC, sizeof OID_REQUIRE_MECHLIST_MIC) ||
            c->app_ops->requires_mic == NULL || !c->app_ops->requires_mic(c->app_state))
            return GSS_S_UNAVAILABLE;
        static const uint8_t yes = 1;
        rc = buffer_set_add(&set, &yes, 1);
    } else if (oid_is(desired_object, OID_NEGOEX_KEY, sizeof OID_NEGOEX_KEY) ||
        oid_is(desired_object, OID_NEGOEX_VERIFY_KEY, sizeof OID_NEGOEX_VERIFY_KEY)) {
        negoex_key key;
        negoex_key_use use =
            oid_is(desired_object, OID_NEGOEX_KEY, sizeof OID_NEGOEX_KEY) ? NEGOEX_KEY_SIGN : NEGOEX_KEY_VERIFY;
        rc = c->scheme->cls->get_key(c->scheme, use, &key);
        if (rc == NEGOEX_SCHEME_NOT_YET)
            return GSS_S_UNAVAILABLE;
        if (rc == NEGOEX_OK) {
            /* Two members: the key bytes, then the enctype as u32 little-endian. */
            uint32_t e = (uint32_t)key.enctype;
            const uint8_t enctype[4] = {(uint8_t)e, (uint8_t)(e >> 8), (uint8_t)(e >> 16), (uint8_t)(e >> 24)};
            rc = buffer_set_add(&set, key.bytes, key.len);
            if (rc == NEGOEX_OK)
                rc = buffer_set_add(&set, enctype, sizeof enctype);
        }
        OPENSSL_cleanse(&key, sizeof key);
    } else if (oid_is(desired_object, OID_REQUIRE_MECHLIST_MIC, sizeof OID_REQUIRE_MECHLIST_MIC)) {
        if (c->scheme->cls->requires_mic == NULL || !c->scheme->cls->requires_mic(c->scheme))
            return GSS_S_UNAVAILABLE;
        static const uint8_t yes = 1;
        rc = buffer_set_add(&set, &yes, 1);
    } else {
        return GSS_S_UNAVAILABLE;
    }
    if (rc != NEGOEX_OK) {
        buffer_set_free(set);
        *minor_status = minor_of(rc);
        return GSS_S_FAILURE;
    }
    if (*data_set == GSS_C_NO_BUFFER_SET) {
        *data_set = set;
    } else {
        /* Append to the caller's set (MIT passes an empty one). */
        rc = NEGOEX_OK;
        for (size_t i = 0; i < set->count && rc == NEGOEX_OK; i++)
            rc = buffer_set_add(data_set, set->elements[i].value, set->elements[i].length);
        buffer_set_free(set);
        if (rc != NEGOEX_OK) {
            *minor_status = minor_of(rc);
            return GSS_S_FAILURE;
        }
    }
    return GSS_S_COMPLETE;
}

/* ------------------------------------------------------------------------ */
/* Per-message integrity (SPNEGO's mechListMIC)                               */
/* ------------------------------------------------------------------------ */

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_get_mic(OM_uint32 *minor_status, gss_ctx_id_t context_handle,
                                                 gss_qop_t qop_req, gss_buffer_t message_buffer,
                                                 gss_buffer_t message_token)
{
    nxgss_ctx *c = (nxgss_ctx *)context_handle;
    (void)qop_req;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    buffer_clear(message_token);
    if (message_token == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    if (message_buffer == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_READ;
    if (c == NULL)
        return GSS_S_NO_CONTEXT;
    int (*make)(void *, const uint8_t *, size_t, negoex_buf *) =
        c->app != NULL ? c->app_ops->get_mic : NULL;
    if (c->app != NULL ? make == NULL : c->scheme->cls->make_mic == NULL)
        return GSS_S_UNAVAILABLE;
    negoex_buf b;
    negoex_buf_init(&b, NULL);
    int rc = c->app != NULL
                 ? make(c->app_state, message_buffer->value, message_buffer->length, &b)
                 : c->scheme->cls->make_mic(c->scheme, message_buffer->value, message_buffer->length, &b);
    OM_uint32 major = GSS_S_FAILURE;
    if (rc == NEGOEX_OK)
        major = buffer_set(minor_status, message_token, b.data, b.len);
    else
        *minor_status = minor_of(rc);
    negoex_buf_free(&b);
    return major;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_verify_mic(OM_uint32 *minor_status, gss_ctx_id_t context_handle,
                                                    gss_buffer_t message_buffer, gss_buffer_t message_token,
                                                    gss_qop_t *qop_state)
{
    nxgss_ctx *c = (nxgss_ctx *)context_handle;
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (qop_state != NULL)
        *qop_state = GSS_C_QOP_DEFAULT;
    if (message_buffer == GSS_C_NO_BUFFER || message_token == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_READ;
    if (c == NULL)
        return GSS_S_NO_CONTEXT;
    int rc;
    if (c->app != NULL) {
        if (c->app_ops->verify_mic == NULL)
            return GSS_S_UNAVAILABLE;
        rc = c->app_ops->verify_mic(c->app_state, message_buffer->value, message_buffer->length,
                                    message_token->value, message_token->length);
    } else {
        if (c->scheme->cls->verify_mic == NULL)
            return GSS_S_UNAVAILABLE;
        rc = c->scheme->cls->verify_mic(c->scheme, message_buffer->value, message_buffer->length,
                                        message_token->value, message_token->length);
    }
    if (rc == NEGOEX_OK)
        return GSS_S_COMPLETE;
    *minor_status = minor_of(rc);
    return rc == NEGOEX_ERR_CHECKSUM_MISMATCH || rc == NEGOEX_ERR_SPNEGO_MIC_MISMATCH ? GSS_S_BAD_SIG
                                                                                     : GSS_S_FAILURE;
}

/* ------------------------------------------------------------------------ */
/* Credentials: a placeholder. The schemes read their identity when a context */
/* is made, but MIT needs a non-NULL handle: a NULL credential makes SPNEGO   */
/* and gss_set_neg_mechs drop the mechanism.                                 */
/* ------------------------------------------------------------------------ */

static int placeholder_cred;

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_acquire_cred(OM_uint32 *minor_status, gss_name_t desired_name,
                                                      OM_uint32 time_req, gss_OID_set desired_mechs,
                                                      gss_cred_usage_t cred_usage, gss_cred_id_t *output_cred_handle,
                                                      gss_OID_set *actual_mechs, OM_uint32 *time_rec)
{
    (void)desired_name;
    (void)time_req;
    (void)desired_mechs;
    (void)cred_usage;
    if (minor_status != NULL)
        *minor_status = 0;
    if (actual_mechs != NULL)
        *actual_mechs = GSS_C_NO_OID_SET;
    if (time_rec != NULL)
        *time_rec = GSS_C_INDEFINITE;
    if (output_cred_handle == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    *output_cred_handle = (gss_cred_id_t)&placeholder_cred;
    return GSS_S_COMPLETE;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_release_cred(OM_uint32 *minor_status, gss_cred_id_t *cred_handle)
{
    if (minor_status != NULL)
        *minor_status = 0;
    if (cred_handle != NULL)
        *cred_handle = GSS_C_NO_CREDENTIAL;
    return GSS_S_COMPLETE;
}

/* ------------------------------------------------------------------------ */
/* Names. The name must be non-NULL even without text: a NULL target name   */
/* would turn the initiator's metadata calls into acceptor ones.             */
/* ------------------------------------------------------------------------ */

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_import_name(OM_uint32 *minor_status, gss_buffer_t input_name_buffer,
                                                     gss_OID input_name_type, gss_name_t *output_name)
{
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (output_name == NULL)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    *output_name = GSS_C_NO_NAME;
    const char *text = "";
    size_t len = 0;
    if (input_name_buffer != GSS_C_NO_BUFFER && input_name_buffer->value != NULL) {
        text = input_name_buffer->value;
        len = input_name_buffer->length;
    }
    if (len > NXGSS_NAME_MAX || memchr(text, '\0', len) != NULL)
        return GSS_S_BAD_NAME;
    nxgss_name *n = name_alloc(name_kind_of(input_name_type), text, len);
    if (n == NULL) {
        *minor_status = minor_of(NEGOEX_ERR_NO_MEMORY);
        return GSS_S_FAILURE;
    }
    *output_name = (gss_name_t)n;
    return GSS_S_COMPLETE;
}

/* The name's text. The type is always GSS_C_NO_OID: the mechglue frees a
 * name type it stores with a union name unless it is one of its own static
 * OIDs, which a module cannot hand out without linking libgssapi. */
NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_display_name(OM_uint32 *minor_status, gss_name_t input_name,
                                                      gss_buffer_t output_name_buffer, gss_OID *output_name_type)
{
    OM_uint32 scratch;
    if (minor_status == NULL)
        minor_status = &scratch;
    *minor_status = 0;
    if (output_name_type != NULL)
        *output_name_type = GSS_C_NO_OID;
    buffer_clear(output_name_buffer);
    if (output_name_buffer == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    const nxgss_name *n = name_of(input_name);
    if (n == NULL)
        return GSS_S_BAD_NAME;
    /* RFC 2744: the buffer need not be NUL-terminated; MIT's are, so the
     * copy carries one beyond length. */
    output_name_buffer->value = gssalloc_malloc(n->len + 1);
    if (output_name_buffer->value == NULL) {
        *minor_status = minor_of(NEGOEX_ERR_NO_MEMORY);
        return GSS_S_FAILURE;
    }
    memcpy(output_name_buffer->value, n->text, n->len + 1);
    output_name_buffer->length = n->len;
    return GSS_S_COMPLETE;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_release_name(OM_uint32 *minor_status, gss_name_t *input_name)
{
    if (minor_status != NULL)
        *minor_status = 0;
    if (input_name != NULL) {
        name_free((nxgss_name *)*input_name);
        *input_name = GSS_C_NO_NAME;
    }
    return GSS_S_COMPLETE;
}

/* ------------------------------------------------------------------------ */
/* Status text                                                                */
/* ------------------------------------------------------------------------ */

static const char *minor_text(OM_uint32 v)
{
    if (v != 0 && v == last_failure.minor && last_failure.text[0] != '\0')
        return last_failure.text;
    switch (v) {
    case NXGSS_MINOR_ACCEPTOR_FAILED:
        return "failure from acceptor";
    case NXGSS_MINOR_UNKNOWN_MECH:
        return "negoex_gss: no auth scheme for this mechanism";
    case NXGSS_MINOR_BAD_CONFIG:
        return "negoex_gss: invalid configuration (environment knobs) or mechanism OID";
    case NXGSS_MINOR_ROLE:
        return "negoex_gss: context used for the other side";
    case NXGSS_MINOR_NO_FRAMING:
        return "negoex_gss: first token does not name its mechanism (no RFC 2743 framing)";
    default:
        break;
    }
    if (v >= 1 && v <= (OM_uint32)-NEGOEX_ERR_LAST_ && strcmp(negoex_error_name(-(int)v), "UNKNOWN") != 0)
        return negoex_strerror(-(int)v);
    return NULL;
}

NXGSS_EXPORT OM_uint32 KRB5_CALLCONV gss_display_status(OM_uint32 *minor_status, OM_uint32 status_value,
                                                        int status_type, gss_OID mech_type,
                                                        OM_uint32 *message_context, gss_buffer_t status_string)
{
    (void)mech_type;
    if (minor_status != NULL)
        *minor_status = 0;
    buffer_clear(status_string);
    if (status_string == GSS_C_NO_BUFFER)
        return GSS_S_CALL_INACCESSIBLE_WRITE;
    /* Major codes are the mechglue's to explain. */
    const char *text = status_type == GSS_C_MECH_CODE ? minor_text(status_value) : NULL;
    if (text == NULL)
        return GSS_S_BAD_STATUS;
    status_string->value = gssalloc_strdup(text);
    if (status_string->value == NULL)
        return GSS_S_FAILURE;
    status_string->length = strlen(text);
    if (message_context != NULL)
        *message_context = 0;
    return GSS_S_COMPLETE;
}
