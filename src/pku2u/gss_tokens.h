/*
 * RFC 4121 pieces for PKU2U (internal): the 0x8003 authenticator checksum
 * with its extensions (GSS_EXTS_FINISHED), the KRB-FINISHED gss-mic, and the
 * per-message MIC and Wrap tokens of the Kerberos GSS mechanism.
 *
 * Crypto is krb_crypto.h (OpenSSL). Parsed structures are views into the
 * caller's buffer. Errors: NEGOEX_ERR_KRB_MALFORMED for bytes that are not a
 * well-formed token or checksum, NEGOEX_ERR_KRB_DIRECTION for a token whose
 * SentByAcceptor flag names the wrong sender (a reflected token),
 * NEGOEX_ERR_CHECKSUM_MISMATCH for a MIC / integrity-only Wrap whose checksum
 * does not verify, NEGOEX_ERR_KRB_INTEGRITY for a sealed Wrap that does not
 * decrypt.
 */
#ifndef NEGOEX_PKU2U_GSS_TOKENS_H
#define NEGOEX_PKU2U_GSS_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include <negoex/negoex.h>

#include "pku2u/krb_crypto.h"

/* ------------------------------------------------------------------------ */
/* Authenticator checksum, type 0x8003 (RFC 4121 4.1.1)                       */
/* ------------------------------------------------------------------------ */

#define NEGOEX_GSS_CKSUMTYPE 0x8003
#define NEGOEX_GSS_BND_LEN 16u

/* Context flags (RFC 2744 / RFC 4121 4.1.1.1 and MS-KILE). */
#define NEGOEX_GSS_C_DELEG_FLAG 0x0001u
#define NEGOEX_GSS_C_MUTUAL_FLAG 0x0002u
#define NEGOEX_GSS_C_REPLAY_FLAG 0x0004u
#define NEGOEX_GSS_C_SEQUENCE_FLAG 0x0008u
#define NEGOEX_GSS_C_CONF_FLAG 0x0010u
#define NEGOEX_GSS_C_INTEG_FLAG 0x0020u
#define NEGOEX_GSS_C_DCE_STYLE 0x1000u
#define NEGOEX_GSS_C_IDENTIFY_FLAG 0x2000u
#define NEGOEX_GSS_C_EXTENDED_ERROR_FLAG 0x4000u

/* DlgOpt value for a KRB-CRED in Deleg (RFC 4121 4.1.1). */
#define NEGOEX_GSS_DLGOPT_KRB_CRED 1u

/* Extension types (IANA "Kerberos V GSS-API" registry; RFC 6542, PKU2U, IAKERB). */
#define NEGOEX_GSS_EXTS_CHANNEL_BINDING 0x00000000u
#define NEGOEX_GSS_EXTS_FINISHED 0x00000002u
#define NEGOEX_GSS_MAX_EXTS 8u

/* KRB-FINISHED gss-mic key usage (KEY_USAGE_FINISHED, IAKERB/PKU2U). */
#define NEGOEX_KRB_KU_FINISHED 41

typedef struct negoex_gss_ext {
    uint32_t type;
    const uint8_t *data;
    size_t len;
} negoex_gss_ext;

/*
 * Lgth (always 16, LE) | Bnd (16) | Flags (LE32) |
 *   [DlgOpt (LE16) | Dlgth (LE16) | Deleg]   -- iff Flags has GSS_C_DELEG_FLAG
 *   { type (BE32) | length (BE32) | data }*  -- extensions
 */
typedef struct negoex_gss_ap_cksum {
    uint8_t bnd[NEGOEX_GSS_BND_LEN];
    uint32_t flags;
    uint16_t dlg_opt;     /* with GSS_C_DELEG_FLAG */
    const uint8_t *deleg; /* KRB-CRED DER, with GSS_C_DELEG_FLAG */
    size_t deleg_len;
    size_t n_exts;
    negoex_gss_ext exts[NEGOEX_GSS_MAX_EXTS];
} negoex_gss_ap_cksum;

/* Encoded length; NEGOEX_ERR_INVALID_ARGUMENT / NEGOEX_ERR_TOO_LARGE for a
 * structure that cannot be encoded (deleg without the flag or over 65535
 * bytes, more than NEGOEX_GSS_MAX_EXTS extensions). */
int negoex_gss_ap_cksum_length(const negoex_gss_ap_cksum *c, size_t *len);

/* Encodes; NEGOEX_ERR_BUFFER_TOO_SMALL sets *out_len to the length needed. */
int negoex_gss_ap_cksum_build(const negoex_gss_ap_cksum *c, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Decodes strictly: Lgth 16, DlgOpt 1 and Deleg inside the buffer when the
 * delegation flag is set, then whole extensions to the last byte (at most
 * NEGOEX_GSS_MAX_EXTS, no type twice). NEGOEX_ERR_KRB_MALFORMED otherwise.
 * Pointers in *c point into in.
 */
int negoex_gss_ap_cksum_parse(const uint8_t *in, size_t len, negoex_gss_ap_cksum *c);

/* The extension of that type, NULL when absent. */
const negoex_gss_ext *negoex_gss_ap_cksum_find(const negoex_gss_ap_cksum *c, uint32_t type);

/* RFC 2744 channel bindings, hashed into Bnd (RFC 4121 4.1.1.2). */
typedef struct negoex_gss_channel_bindings {
    uint32_t initiator_addrtype;
    const uint8_t *initiator_address;
    size_t initiator_address_len;
    uint32_t acceptor_addrtype;
    const uint8_t *acceptor_address;
    size_t acceptor_address_len;
    const uint8_t *application_data;
    size_t application_data_len;
} negoex_gss_channel_bindings;

/* Bnd = MD5(addrtype LE32 | len LE32 | address, for initiator then acceptor,
 * | len LE32 | application data); 16 zero bytes when cb is NULL (no bindings). */
int negoex_gss_channel_bindings_hash(const negoex_gss_channel_bindings *cb, uint8_t out[NEGOEX_GSS_BND_LEN]);

/*
 * KRB-FINISHED gss-mic: keyed checksum of the key's type (16 for aes256)
 * with usage 41 over the concatenated tokens (PKU2U: the AS-REQ GSS token
 * then the AS-REP GSS token, each with its 60.. header and TOK_ID).
 */
int negoex_gss_krb_finished_mic(const negoex_krb_key *subkey, const negoex_krb_chunk *tokens, size_t n,
                                int32_t *cksumtype, uint8_t out[NEGOEX_KRB_HMAC_LEN]);

/* Verifies a received gss-mic: NEGOEX_ERR_UNKEYED_CHECKSUM for an unkeyed
 * type, NEGOEX_ERR_UNSUPPORTED_CHECKSUM for a type that is not the key's,
 * NEGOEX_ERR_CHECKSUM_MISMATCH when it differs. */
int negoex_gss_krb_finished_verify(const negoex_krb_key *subkey, const negoex_krb_chunk *tokens, size_t n,
                                   int32_t cksumtype, const uint8_t *cksum, size_t cksum_len);

/* ------------------------------------------------------------------------ */
/* MIC and Wrap tokens (RFC 4121 4.2)                                         */
/* ------------------------------------------------------------------------ */

#define NEGOEX_GSS_TOKEN_HEADER_LEN 16u
#define NEGOEX_GSS_TOK_MIC 0x0404u
#define NEGOEX_GSS_TOK_WRAP 0x0504u

#define NEGOEX_GSS_FLAG_SENT_BY_ACCEPTOR 0x01u
#define NEGOEX_GSS_FLAG_SEALED 0x02u
#define NEGOEX_GSS_FLAG_ACCEPTOR_SUBKEY 0x04u

/* Key usages (RFC 4121 2). */
#define NEGOEX_GSS_KU_ACCEPTOR_SEAL 22
#define NEGOEX_GSS_KU_ACCEPTOR_SIGN 23
#define NEGOEX_GSS_KU_INITIATOR_SEAL 24
#define NEGOEX_GSS_KU_INITIATOR_SIGN 25

/*
 * Token parameters: what to send (make) or what came (verify / unwrap).
 * The key is always the caller's choice: the AcceptorSubkey flag is written
 * as asked and reported as received, never enforced (a Windows PKU2U
 * initiator seals with the acceptor subkey without setting it).
 */
typedef struct negoex_gss_token_params {
    int sent_by_acceptor; /* sender role: usages 22/23, else 24/25 */
    int acceptor_subkey;  /* AcceptorSubkey flag */
    int sealed;           /* Wrap: confidentiality */
    uint64_t seq;         /* SND_SEQ */
    uint16_t ec;          /* Wrap: sealed = filler bytes to add; unsealed = checksum length (set by make) */
    uint16_t rrc;         /* Wrap: right rotation count */
    uint8_t flags;        /* verify/unwrap: the raw flags byte */
} negoex_gss_token_params;

/* MIC token length: 16 + 12. 0 for an unusable key. */
size_t negoex_gss_mic_length(const negoex_krb_key *key);

/* TOK_ID 04 04 | flags | ff ff ff ff ff | SND_SEQ (BE64) | checksum over
 * msg || first 16 bytes, usage 23 (acceptor) / 25 (initiator). */
int negoex_gss_mic_make(const negoex_krb_key *key, const negoex_gss_token_params *tp, const uint8_t *msg,
                        size_t msg_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Verifies a MIC token sent by the peer (from_acceptor: the role the sender
 * must have). info (may be NULL) receives flags and SND_SEQ; the caller
 * checks sequence numbers. */
int negoex_gss_mic_verify(const negoex_krb_key *key, int from_acceptor, const uint8_t *msg, size_t msg_len,
                          const uint8_t *tok, size_t tok_len, negoex_gss_token_params *info);

/* Wrap token length for msg_len bytes under tp (sealed, ec); 0 if the key
 * is unusable or it would overflow. */
size_t negoex_gss_wrap_length(const negoex_krb_key *key, const negoex_gss_token_params *tp, size_t msg_len);

/*
 * Wrap token, usage 22 (acceptor) / 24 (initiator):
 *   sealed:   header(EC = tp->ec, RRC) | rotate_right(E(msg | ec filler bytes |
 *             header with RRC 0), RRC)
 *   unsealed: header(EC = 12, RRC) | rotate_right(msg | checksum(msg | header
 *             with EC 0 and RRC 0), RRC)
 */
int negoex_gss_wrap(const negoex_krb_key *key, const negoex_gss_token_params *tp, const uint8_t *msg,
                    size_t msg_len, uint8_t *out, size_t out_cap, size_t *out_len);

/* Plaintext length of a Wrap token from its header (before any crypto). */
int negoex_gss_unwrap_length(const negoex_krb_key *key, const uint8_t *tok, size_t tok_len, size_t *msg_len);

/*
 * Unwraps a token sent by the peer: undoes any RRC, decrypts (sealed: the
 * encrypted header copy must equal the outer header with RRC 0) or verifies
 * the checksum (unsealed: EC must be the checksum length), and returns the
 * message. info (may be NULL) receives flags, SND_SEQ, EC and RRC.
 * NEGOEX_ERR_BUFFER_TOO_SMALL sets *out_len to the length needed; nothing is
 * written to out unless the token verifies.
 */
int negoex_gss_unwrap(const negoex_krb_key *key, int from_acceptor, const uint8_t *tok, size_t tok_len,
                      uint8_t *out, size_t out_cap, size_t *out_len, negoex_gss_token_params *info);

#endif
