#include <negoex/negoex.h>

#include <stddef.h>

struct error_entry {
    int code;
    const char *name;
    const char *text;
};

/* One table so names and texts cannot drift apart. */
static const struct error_entry errors[] = {
    {NEGOEX_OK, "OK", "success"},
    {NEGOEX_ERR_INVALID_ARGUMENT, "INVALID_ARGUMENT", "invalid argument"},
    {NEGOEX_ERR_NO_MEMORY, "NO_MEMORY", "out of memory"},
    {NEGOEX_ERR_BUFFER_TOO_SMALL, "BUFFER_TOO_SMALL", "output buffer too small"},
    {NEGOEX_ERR_GUID_SYNTAX, "GUID_SYNTAX", "malformed GUID text"},
    {NEGOEX_ERR_INDEX_RANGE, "INDEX_RANGE", "index out of range"},
    {NEGOEX_ERR_WRONG_TYPE, "WRONG_TYPE", "message type does not have this structure"},
    {NEGOEX_ERR_TOO_LARGE, "TOO_LARGE", "value does not fit its wire field"},
    {NEGOEX_ERR_EMPTY_TOKEN, "EMPTY_TOKEN", "empty token"},
    {NEGOEX_ERR_TRUNCATED_HEADER, "TRUNCATED_HEADER", "fewer than 40 bytes left for a message header"},
    {NEGOEX_ERR_BAD_SIGNATURE, "BAD_SIGNATURE", "signature is not \"NEGOEXTS\""},
    {NEGOEX_ERR_HEADER_LENGTH, "HEADER_LENGTH", "cbHeaderLength below 40"},
    {NEGOEX_ERR_MESSAGE_LENGTH, "MESSAGE_LENGTH", "cbMessageLength below cbHeaderLength"},
    {NEGOEX_ERR_MESSAGE_TRUNCATED, "MESSAGE_TRUNCATED", "cbMessageLength beyond the end of the token"},
    {NEGOEX_ERR_UNKNOWN_TYPE, "UNKNOWN_TYPE", "unknown message type"},
    {NEGOEX_ERR_FIXED_PART, "FIXED_PART", "cbHeaderLength too small for the message type's fixed fields"},
    {NEGOEX_ERR_VERSION, "VERSION", "unsupported protocol version"},
    {NEGOEX_ERR_AUTH_SCHEME_VECTOR, "AUTH_SCHEME_VECTOR", "auth scheme vector outside the message"},
    {NEGOEX_ERR_EXTENSION_VECTOR, "EXTENSION_VECTOR", "extension vector outside the message"},
    {NEGOEX_ERR_EXTENSION_VALUE, "EXTENSION_VALUE", "extension value outside the message"},
    {NEGOEX_ERR_CRITICAL_EXTENSION, "CRITICAL_EXTENSION", "critical extension not understood"},
    {NEGOEX_ERR_EXCHANGE_VECTOR, "EXCHANGE_VECTOR", "exchange bytes outside the message"},
    {NEGOEX_ERR_CHECKSUM_VECTOR, "CHECKSUM_VECTOR", "checksum value outside the message"},
    {NEGOEX_ERR_CHECKSUM_HEADER, "CHECKSUM_HEADER", "checksum cbHeaderLength is not 20"},
    {NEGOEX_ERR_CHECKSUM_SCHEME, "CHECKSUM_SCHEME", "checksum scheme is not RFC 3961 (1)"},
    {NEGOEX_ERR_ALERT_VECTOR, "ALERT_VECTOR", "alert vector outside the message"},
    {NEGOEX_ERR_ALERT_VALUE, "ALERT_VALUE", "alert value outside the message"},
    {NEGOEX_ERR_ALERT_PULSE, "ALERT_PULSE", "alert pulse shorter than 8 bytes or bad pulse header length"},
    {NEGOEX_ERR_VECTOR_OVERLAPS_HEADER, "VECTOR_OVERLAPS_HEADER", "vector starts inside the message header"},
    {NEGOEX_ERR_SEQUENCE, "SEQUENCE", "unexpected sequence number"},
    {NEGOEX_ERR_CONVERSATION_ID, "CONVERSATION_ID", "conversation id differs from the conversation's"},
    {NEGOEX_ERR_WRONG_ROLE, "WRONG_ROLE", "message type not sent by the peer's role"},
    {NEGOEX_ERR_UNEXPECTED_MESSAGE, "UNEXPECTED_MESSAGE", "message not allowed at this point of the conversation"},
    {NEGOEX_ERR_NO_COMMON_SCHEME, "NO_COMMON_SCHEME", "no mutually supported auth scheme"},
    {NEGOEX_ERR_CHECKSUM_MISMATCH, "CHECKSUM_MISMATCH", "VERIFY checksum does not match"},
    {NEGOEX_ERR_UNKEYED_CHECKSUM, "UNKEYED_CHECKSUM", "unkeyed checksum type refused"},
    {NEGOEX_ERR_UNSUPPORTED_CHECKSUM, "UNSUPPORTED_CHECKSUM", "checksum type not supported for this key"},
    {NEGOEX_ERR_NO_KEY, "NO_KEY", "auth scheme completed without a key"},
    {NEGOEX_ERR_COMPLETE, "COMPLETE", "conversation already complete"},
    {NEGOEX_ERR_TOKEN_TOO_LARGE, "TOKEN_TOO_LARGE", "token exceeds the configured limit"},
    {NEGOEX_ERR_TRANSCRIPT_TOO_LARGE, "TRANSCRIPT_TOO_LARGE", "transcript exceeds the configured limit"},
    {NEGOEX_ERR_TOO_MANY_SCHEMES, "TOO_MANY_SCHEMES", "too many auth schemes"},
    {NEGOEX_ERR_SCHEME_FAILED, "SCHEME_FAILED", "auth scheme failed"},
    {NEGOEX_ERR_RNG, "RNG", "random number generator failed"},
    {NEGOEX_ERR_CRYPTO, "CRYPTO", "cryptographic operation failed"},
    {NEGOEX_ERR_DUPLICATE_SCHEME, "DUPLICATE_SCHEME", "auth scheme listed twice"},
    {NEGOEX_ERR_MISSING_TOKEN, "MISSING_TOKEN", "a token is required at this step"},
    {NEGOEX_ERR_FAILED, "FAILED", "context has failed"},
    {NEGOEX_ERR_KEY_SIZE, "KEY_SIZE", "key length does not match its enctype"},
    {NEGOEX_ERR_KRB_MALFORMED, "KRB_MALFORMED", "malformed Kerberos GSS token, checksum field or ciphertext"},
    {NEGOEX_ERR_KRB_INTEGRITY, "KRB_INTEGRITY", "Kerberos ciphertext fails its integrity check"},
    {NEGOEX_ERR_KRB_DIRECTION, "KRB_DIRECTION", "Kerberos GSS token sent by the wrong role"},
    {NEGOEX_ERR_KRB_ENCTYPE, "KRB_ENCTYPE", "Kerberos encryption type not supported"},
    {NEGOEX_ERR_DH_PUBLIC, "DH_PUBLIC", "invalid Diffie-Hellman public value"},
    {NEGOEX_ERR_DH_GROUP, "DH_GROUP", "Diffie-Hellman group not supported"},
    {NEGOEX_ERR_CMS_MALFORMED, "CMS_MALFORMED",
     "CMS SignedData not usable (detached content, not exactly one signer, signed attributes or signer "
     "certificate missing)"},
    {NEGOEX_ERR_CMS_SIGNATURE, "CMS_SIGNATURE", "CMS signature or message digest does not verify"},
    {NEGOEX_ERR_CMS_CONTENT_TYPE, "CMS_CONTENT_TYPE", "CMS content type is not the expected one"},
    {NEGOEX_ERR_CMS_DIGEST, "CMS_DIGEST", "CMS digest algorithm not accepted"},
    {NEGOEX_ERR_CERT_UNTRUSTED, "CERT_UNTRUSTED", "certificate does not chain to a trust anchor"},
    {NEGOEX_ERR_CERT_EXPIRED, "CERT_EXPIRED", "certificate expired"},
    {NEGOEX_ERR_CERT_NOT_YET_VALID, "CERT_NOT_YET_VALID", "certificate not yet valid"},
    {NEGOEX_ERR_CERT_INVALID, "CERT_INVALID", "certificate chain rejected"},
    {NEGOEX_ERR_CERT_EKU, "CERT_EKU", "certificate lacks the required extended key usage"},
    {NEGOEX_ERR_CERT_NAME, "CERT_NAME", "certificate does not name the expected host"},
    {NEGOEX_ERR_CREDENTIAL_LOAD, "CREDENTIAL_LOAD",
     "certificate, private key or trust anchor could not be loaded (format, password or key mismatch)"},
    {NEGOEX_ERR_DER_TRUNCATED, "DER_TRUNCATED", "DER element runs past the end of its container"},
    {NEGOEX_ERR_DER_LENGTH, "DER_LENGTH", "DER length indefinite, non-minimal or too large"},
    {NEGOEX_ERR_DER_TAG, "DER_TAG", "unexpected DER tag, or a field repeated or out of order"},
    {NEGOEX_ERR_DER_TRAILING, "DER_TRAILING", "bytes after the end of the DER structure"},
    {NEGOEX_ERR_DER_VALUE, "DER_VALUE", "malformed DER value"},
    {NEGOEX_ERR_SPNEGO_OID, "SPNEGO_OID", "GSS token framing does not name SPNEGO"},
    {NEGOEX_ERR_FRAGMENT_COUNT, "FRAGMENT_COUNT", "SPNEGO token needs more fragments than the configured limit"},
    {NEGOEX_ERR_FRAGMENT_INCONSISTENT, "FRAGMENT_INCONSISTENT",
     "SPNEGO fragment inconsistent with the token its first fragment announced"},
    {NEGOEX_ERR_SPNEGO_UNEXPECTED, "SPNEGO_UNEXPECTED", "SPNEGO token or field not allowed at this point"},
    {NEGOEX_ERR_SPNEGO_NO_COMMON_MECH, "SPNEGO_NO_COMMON_MECH", "no mutually supported SPNEGO mechanism"},
    {NEGOEX_ERR_SPNEGO_REJECTED, "SPNEGO_REJECTED", "peer rejected the negotiation"},
    {NEGOEX_ERR_SPNEGO_MIC_MISSING, "SPNEGO_MIC_MISSING", "required mechListMIC missing"},
    {NEGOEX_ERR_SPNEGO_MIC_MISMATCH, "SPNEGO_MIC_MISMATCH", "mechListMIC does not verify"},
    {NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED, "SPNEGO_MIC_UNSUPPORTED",
     "mechListMIC required but the auth scheme cannot make or verify one"},
    {NEGOEX_ERR_SPNEGO_MECH_RETRY, "SPNEGO_MECH_RETRY",
     "mechanism failed non-fatally; a Late Fallback retry with another mechanism may succeed"},
    {NEGOEX_ERR_SPNEGO_FRAGMENT_PENDING, "SPNEGO_FRAGMENT_PENDING",
     "peer token received while fragments of our token remain to be sent"},
    {NEGOEX_ERR_SPNEGO_MECH_TOKEN, "SPNEGO_MECH_TOKEN", "application mechanism token malformed or out of place"},
    {NEGOEX_ERR_SPNEGO_MECH_AUTH, "SPNEGO_MECH_AUTH",
     "application mechanism authentication failed (wrong secret or user)"},
    {NEGOEX_ERR_SPNEGO_MECH_FAILED, "SPNEGO_MECH_FAILED", "application mechanism failed"},
    {NEGOEX_ERR_PKU2U_CLOCK_SKEW, "PKU2U_CLOCK_SKEW", "peer's time is outside the allowed clock skew"},
    {NEGOEX_ERR_PKU2U_PA_CHECKSUM, "PKU2U_PA_CHECKSUM", "PKINIT paChecksum missing or not the request body's"},
    {NEGOEX_ERR_PKU2U_FINISHED, "PKU2U_FINISHED", "KRB-FINISHED missing or not over this AS exchange"},
    {NEGOEX_ERR_PKU2U_CHANNEL_BINDINGS, "PKU2U_CHANNEL_BINDINGS", "channel bindings do not match"},
    {NEGOEX_ERR_PKU2U_TARGET, "PKU2U_TARGET", "realm or service name is not the acceptor's or the target's"},
    {NEGOEX_ERR_PKU2U_MISMATCH, "PKU2U_MISMATCH",
     "an echoed value (nonce, name, time, ticket) differs from the exchange's"},
    {NEGOEX_ERR_PKU2U_UNEXPECTED, "PKU2U_UNEXPECTED", "PKU2U message or part not what this step needs"},
    {NEGOEX_ERR_PKU2U_KRB_ERROR, "PKU2U_KRB_ERROR", "the peer answered with a KRB-ERROR"},
};

static const struct error_entry *find(int code)
{
    for (size_t i = 0; i < sizeof errors / sizeof errors[0]; i++)
        if (errors[i].code == code)
            return &errors[i];
    return NULL;
}

const char *negoex_strerror(int code)
{
    const struct error_entry *e = find(code);
    return e != NULL ? e->text : "unknown error";
}

const char *negoex_error_name(int code)
{
    const struct error_entry *e = find(code);
    return e != NULL ? e->name : "UNKNOWN";
}
