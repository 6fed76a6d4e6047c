/*
 * libnegoex: application mechanisms inside the SPNEGO context.
 *
 * An application plugs its own GSS-style mechanisms (Kerberos, NTLM, IAKerb,
 * whatever it has) into a negoex_spnego context beside NEGOEX. Each one is an
 * OID and a small vtable; the SPNEGO context negotiates among them and NEGOEX
 * (RFC 4178 with MS-SPNG's rules; docs/spnego-fallback.md), carries their
 * tokens and makes / checks the mechListMIC through them.
 *
 * The context owns one mechanism state per conversation (the selected
 * mechanism's, or the initiator's optimistic one); a token rejected after the
 * mechanism saw it is undone through clone when the mechanism has one.
 */
#ifndef NEGOEX_SPNEGO_MECH_H
#define NEGOEX_SPNEGO_MECH_H

#include <negoex/context.h>
#include <negoex/negoex.h>
#include <negoex/scheme.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct negoex_spnego_mech_ops {
    uint32_t struct_size; /* sizeof(negoex_spnego_mech_ops) the mechanism was built with */
    const char *name;     /* for traces and errors */

    /* A state for one conversation in role; user_data is the app mech's
     * (negoex_spnego_app_mech.user_data). 0 or a negative error. */
    int (*create)(void *user_data, negoex_role role, void **state);
    /* Frees the state (and wipes its secrets). */
    void (*free)(void *state);

    /*
     * One leg. in/in_len: the peer's mechanism token, NULL/0 for the first
     * call of the side that starts (the initiator's first token; on the
     * acceptor, the call made when the initiator's optimistic token was for
     * another mechanism: a server-first mechanism may answer with its first
     * token, a client-first one returns NEGOEX_CONTINUE with no output).
     * *out and *out_len: the token to send (none: NULL/0), owned by the state
     * until the next call or free. Returns NEGOEX_CONTINUE, NEGOEX_COMPLETE
     * (this side is established) or a negative error; on an error *out may
     * hold an error token for the peer. A malformed token should fail with
     * NEGOEX_ERR_SPNEGO_MECH_TOKEN (the SPNEGO context then rejects that token
     * and, with clone, goes on); other errors end the conversation.
     */
    int (*step)(void *state, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len);

    /* Per-message integrity for the mechListMIC (RFC 4178 5), once
     * established; optional (NULL: NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED when a
     * MIC is required). get_mic appends the MIC to mic. Neither may change
     * what a later step depends on (a MIC check can be rolled back). */
    int (*get_mic)(void *state, const uint8_t *data, size_t len, negoex_buf *mic);
    int (*verify_mic)(void *state, const uint8_t *data, size_t len, const uint8_t *mic, size_t mic_len);

    /* Optional (NULL = no): 1 if the mechanism wants the mechListMIC even
     * when it was the initiator's first choice. */
    int (*requires_mic)(void *state);

    /* Optional (NULL): a deep copy of the state, so a token can be processed
     * on a copy and dropped if rejected. Without it, a token rejected after
     * the mechanism has stepped on it ends the conversation. */
    int (*clone)(const void *state, void **copy);
} negoex_spnego_mech_ops;

/* One application mechanism of a SPNEGO configuration. */
typedef struct negoex_spnego_app_mech {
    negoex_bytes oid;                  /* DER content octets (copied by negoex_spnego_new) */
    const negoex_spnego_mech_ops *ops; /* must outlive the SPNEGO context */
    void *user_data;                   /* handed to ops->create; must outlive the context */
} negoex_spnego_app_mech;

/* Acceptor policy (negoex_spnego_config.acceptor_policy). */
#define NEGOEX_SPNEGO_POLICY_OWN_ORDER 0       /* the acceptor's preference order (default) */
#define NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER 1 /* the first mechanism of the initiator's list we have */

/* Well-known mechanism OIDs (content octets) an acceptor meets in Windows'
 * lists. MS-KRB5 is Windows' legacy Kerberos OID (MS-SPNG 3.1.5.2). */
#define NEGOEX_SPNEGO_MSKRB5_OID_TEXT "1.2.840.48018.1.2.2"
#define NEGOEX_SPNEGO_KRB5_OID_TEXT "1.2.840.113554.1.2.2"
#define NEGOEX_SPNEGO_NTLM_OID_TEXT "1.3.6.1.4.1.311.2.2.10"

#ifdef __cplusplus
}
#endif
#endif
