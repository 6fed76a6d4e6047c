/*
 * negoex_gss: a GSS-API mechanism module for MIT krb5 that exposes libnegoex
 * auth schemes as GSS mechanisms with MIT's NEGOEX SPI (gssspi_*).
 *
 * Internal header shared by the entry points (negoex_gss.c) and the scheme
 * table (gss_schemes.c). Nothing here is exported from the module.
 */
#ifndef NEGOEX_GSS_H
#define NEGOEX_GSS_H

#include <negoex/scheme.h>
#include <negoex/spnego_mech.h>

#include <stddef.h>
#include <stdint.h>

/* Which side a scheme is created for. NXGSS_ROLE_NONE: only its AuthScheme
 * GUID is needed (gssspi_query_mechanism_info), so configuration is ignored. */
typedef enum nxgss_role { NXGSS_ROLE_NONE = -1, NXGSS_ROLE_ACCEPTOR = 0, NXGSS_ROLE_INITIATOR = 1 } nxgss_role;

/* Minor status codes of this module (gss_display_status explains them).
 * 1..-NEGOEX_ERR_LAST_: the libnegoex error -code. NXGSS_MINOR_ACCEPTOR_FAILED is the code
 * MIT's negoextest uses when its acceptor sent "fail". */
#define NXGSS_MINOR_ACCEPTOR_FAILED 12345u
#define NXGSS_MINOR_UNKNOWN_MECH 12346u     /* no scheme for this mechanism OID */
#define NXGSS_MINOR_BAD_CONFIG 12347u       /* the environment knobs are invalid */
#define NXGSS_MINOR_ROLE 12348u             /* context used for the other side */
#define NXGSS_MINOR_NO_FRAMING 12349u       /* first acceptor token without RFC 2743 framing */

/* What a GSS name imported into the module (gss_import_name) was, by its
 * name type. */
typedef enum nxgss_name_kind {
    NXGSS_NAME_OTHER = 0,     /* no or another name type: the text as given */
    NXGSS_NAME_HOSTBASED = 1, /* GSS_C_NT_HOSTBASED_SERVICE: "service[@host]" */
    NXGSS_NAME_PRINCIPAL = 2, /* GSS_KRB5_NT_PRINCIPAL_NAME: "service/host[@REALM]" */
    NXGSS_NAME_USER = 3,      /* GSS_C_NT_USER_NAME */
    NXGSS_NAME_PEER = 4       /* an authenticated peer (from a context) */
} nxgss_name_kind;

/* A mechanism name of this module: what gss_import_name makes and the peer
 * names the contexts report. text is NUL-terminated (names with a NUL byte
 * are refused). */
typedef struct nxgss_name {
    uint32_t magic;
    nxgss_name_kind kind;
    size_t len;
    char text[];
} nxgss_name;

/* One auth scheme the module can serve. The table (gss_schemes.c) maps
 * mechanism OIDs to entries. */
typedef struct nxgss_scheme_entry {
    const char *name;
    /* Mechanism OIDs (dotted) served by default, NULL-terminated. */
    const char *const *oids;
    /* Creates a scheme for the mechanism whose OID content octets are oid/len,
     * configured (from the environment) for role; target is the initiator's
     * GSS target name when the mechglue passed one (else NULL). Returns a
     * libnegoex code; NEGOEX_ERR_INVALID_ARGUMENT = bad configuration. */
    int (*create)(const uint8_t *oid, size_t len, nxgss_role role, const nxgss_name *target, negoex_scheme **out);
    /* Optional: the AuthScheme GUID, for schemes that cannot be created
     * without their configuration (gssspi_query_mechanism_info then creates
     * none). NULL: create(NXGSS_ROLE_NONE) gives it. */
    const negoex_guid *guid;
    /* ret_flags reported besides GSS_C_INTEG_FLAG (which the module adds when
     * the scheme has MIC methods). */
    uint32_t flags;
    /* Optional: the minor status for a failed step (0 = the libnegoex code). */
    uint32_t (*step_minor)(nxgss_role role, const uint8_t *in, size_t in_len);
    /* Optional: what the last failure of s was, as text for gss_display_status
     * (written to buf, NUL-terminated; 0 if there is nothing to say). */
    int (*describe_failure)(const negoex_scheme *s, char *buf, size_t cap);
    /* Optional: the authenticated peer's name once known, for a context of
     * role (written to buf, NUL-terminated); 0 if there is none (yet). */
    int (*peer_name)(const negoex_scheme *s, nxgss_role role, char *buf, size_t cap);
} nxgss_scheme_entry;

/* The entry for a mechanism OID (content octets): a listed OID's entry, else
 * the `test` scheme, which serves any OID short enough for its GUID. */
const nxgss_scheme_entry *nxgss_scheme_lookup(const uint8_t *oid, size_t len);

/* A plain (non-NEGOEX) GSS mechanism of the module: a libnegoex SPNEGO app
 * mechanism (negoex/spnego_mech.h) such as ntlmtoy. MIT's SPNEGO lists it
 * itself (gssspi_query_mechanism_info fails for it) and makes the
 * mechListMIC with its gss_get_mic / gss_verify_mic. */
typedef struct nxgss_app_entry {
    const char *name;
    /* A state for role, configured from the environment; *ops gets the
     * mechanism's ops. NEGOEX_ERR_INVALID_ARGUMENT = bad configuration. */
    int (*create)(nxgss_role role, const negoex_spnego_mech_ops **ops, void **state);
} nxgss_app_entry;

/* The app mechanism serving a mechanism OID (content octets), or NULL. */
const nxgss_app_entry *nxgss_app_lookup(const uint8_t *oid, size_t len);

/* NEGOEX_GSS_TRACE set (and not "0"): one line on stderr per configuration
 * or scheme failure, prefixed "negoex_gss: ". */
void nxgss_trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
