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

#include <stddef.h>
#include <stdint.h>

/* Which side a scheme is created for. NXGSS_ROLE_NONE: only its AuthScheme
 * GUID is needed (gssspi_query_mechanism_info), so configuration is ignored. */
typedef enum nxgss_role { NXGSS_ROLE_NONE = -1, NXGSS_ROLE_ACCEPTOR = 0, NXGSS_ROLE_INITIATOR = 1 } nxgss_role;

/* Minor status codes of this module (gss_display_status explains them).
 * 1..128: the libnegoex error -code. NXGSS_MINOR_ACCEPTOR_FAILED is the code
 * MIT's negoextest uses when its acceptor sent "fail". */
#define NXGSS_MINOR_ACCEPTOR_FAILED 12345u
#define NXGSS_MINOR_UNKNOWN_MECH 12346u     /* no scheme for this mechanism OID */
#define NXGSS_MINOR_BAD_CONFIG 12347u       /* the environment knobs are invalid */
#define NXGSS_MINOR_ROLE 12348u             /* context used for the other side */
#define NXGSS_MINOR_NO_FRAMING 12349u       /* first acceptor token without RFC 2743 framing */

/* One auth scheme the module can serve. The table (gss_schemes.c) maps
 * mechanism OIDs to entries; a new scheme (PKU2U) is one more entry. */
typedef struct nxgss_scheme_entry {
    const char *name;
    /* Mechanism OIDs (dotted) served by default, NULL-terminated. */
    const char *const *oids;
    /* Creates a scheme for the mechanism whose OID content octets are oid/len,
     * configured (from the environment) for role. Returns a libnegoex code. */
    int (*create)(const uint8_t *oid, size_t len, nxgss_role role, negoex_scheme **out);
    /* ret_flags reported besides GSS_C_INTEG_FLAG (which the module adds when
     * the scheme has MIC methods). */
    uint32_t flags;
    /* Optional: the minor status for a failed step (0 = the libnegoex code). */
    uint32_t (*step_minor)(nxgss_role role, const uint8_t *in, size_t in_len);
} nxgss_scheme_entry;

/* The entry for a mechanism OID (content octets): a listed OID's entry, else
 * the `test` scheme, which serves any OID short enough for its GUID. */
const nxgss_scheme_entry *nxgss_scheme_lookup(const uint8_t *oid, size_t len);

#endif
