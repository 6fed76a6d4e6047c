/* libFuzzer target for the SPNEGO context: one side is real, the fuzzer is
 * the peer. Input: a config byte (fuzz/spnego_context_harness.h; a second
 * one when it announces it: ntlmtoy, Late Fallback, fragment sizes), then
 * the peer's tokens as {u16 LE length, bytes} (length 0: the peer's empty
 * token, which asks for our next fragment). Checks: a rejected token
 * changes nothing and yields no output (unless the error ends the
 * conversation); every token we send parses strictly (with the Late
 * Fallback flag when it is on), fragments once reassembled. */
#include <stdlib.h>

#include "spnego_context_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static int ends_conversation(int rc)
{
    return rc == NEGOEX_ERR_NO_COMMON_SCHEME || rc == NEGOEX_ERR_SCHEME_FAILED || rc == NEGOEX_ERR_NO_KEY ||
           rc == NEGOEX_ERR_FAILED || rc == NEGOEX_ERR_COMPLETE || rc == NEGOEX_ERR_SPNEGO_NO_COMMON_MECH ||
           rc == NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED || rc == NEGOEX_ERR_SPNEGO_REJECTED ||
           rc == NEGOEX_ERR_SPNEGO_MECH_AUTH || rc == NEGOEX_ERR_SPNEGO_MECH_FAILED ||
           rc == NEGOEX_ERR_SPNEGO_MECH_RETRY;
}

/* Our output: whole tokens parse; fragments are joined first. */
static uint8_t sent_buf[1 << 16];
static negoex_spnego_reassembler sent;

static void check_sent(const uint8_t *out, size_t out_len, int rc, unsigned flags)
{
    if (out_len == 0)
        return;
    if (rc < 0) {
        /* a reject or error token goes out whole */
        negoex_spnego_token t;
        CHECK(negoex_spnego_parse_ex(out, out_len, flags, &t, NULL) == NEGOEX_OK);
        negoex_spnego_reassembler_reset(&sent);
        return;
    }
    negoex_bytes whole;
    int r = negoex_spnego_reassembler_feed(&sent, out, out_len, &whole, NULL);
    CHECK(r == NEGOEX_CONTINUE || r == NEGOEX_COMPLETE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t conf = data[0];
    size_t pos = 1;
    uint8_t ext = 0;
    if (harness_extended(conf)) {
        if (size < 2)
            return 0;
        ext = data[pos++];
    }
    unsigned flags = (ext & 2) ? NEGOEX_SPNEGO_PARSE_LATE_FALLBACK : 0;
    CHECK(negoex_spnego_reassembler_init(&sent, sent_buf, sizeof sent_buf) == NEGOEX_OK);
    sent.max_fragments = 1u << 16;
    sent.parse_flags = flags;
    negoex_role role = (conf & 1) ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR;
    negoex_spnego *sp = harness_side(conf, ext, role, 0x5a);
    CHECK(sp != NULL);
    const uint8_t *out;
    size_t out_len;
    int rc0 = role == NEGOEX_ROLE_INITIATOR ? negoex_spnego_step(sp, NULL, 0, &out, &out_len) : 0;
    if (rc0 < 0) {
        negoex_spnego_free(sp);
        return 0;
    }
    if (role == NEGOEX_ROLE_INITIATOR)
        check_sent(out, out_len, rc0, flags);
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        negoex_context *nx = negoex_spnego_negoex(sp);
        size_t before = negoex_context_transcript(nx).len;
        int was_complete = negoex_spnego_is_complete(sp);
        size_t pending = negoex_spnego_fragments_pending(sp);
        int rc = negoex_spnego_step(sp, len ? data + pos : NULL, len, &out, &out_len);
        if (rc < 0 && !ends_conversation(rc)) {
            CHECK(negoex_context_transcript(nx).len == before);
            CHECK(negoex_spnego_is_complete(sp) == was_complete);
            CHECK(negoex_spnego_fragments_pending(sp) == pending);
            CHECK(out_len == 0);
        }
        check_sent(out, out_len, rc, flags);
        pos += len;
    }
    negoex_spnego_free(sp);
    return 0;
}
