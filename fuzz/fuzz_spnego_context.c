/* libFuzzer target for the SPNEGO context: one side is real, the fuzzer is
 * the peer. Input: a config byte (fuzz/spnego_context_harness.h), then the
 * peer's tokens as {u16 LE length, bytes}. Checks: a rejected token changes
 * nothing and yields no output (unless the error ends the conversation);
 * every token we send parses strictly. */
#include <stdlib.h>

#include "spnego_context_harness.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static int ends_conversation(int rc)
{
    return rc == NEGOEX_ERR_NO_COMMON_SCHEME || rc == NEGOEX_ERR_SCHEME_FAILED || rc == NEGOEX_ERR_NO_KEY ||
           rc == NEGOEX_ERR_FAILED || rc == NEGOEX_ERR_COMPLETE || rc == NEGOEX_ERR_SPNEGO_NO_COMMON_MECH ||
           rc == NEGOEX_ERR_SPNEGO_MIC_UNSUPPORTED || rc == NEGOEX_ERR_SPNEGO_REJECTED;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t conf = data[0];
    negoex_role role = (conf & 1) ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR;
    negoex_spnego *sp = harness_side(conf, role, 0x5a);
    CHECK(sp != NULL);
    const uint8_t *out;
    size_t out_len;
    if (role == NEGOEX_ROLE_INITIATOR && negoex_spnego_step(sp, NULL, 0, &out, &out_len) < 0) {
        negoex_spnego_free(sp);
        return 0;
    }
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        negoex_context *nx = negoex_spnego_negoex(sp);
        size_t before = negoex_context_transcript(nx).len;
        int was_complete = negoex_spnego_is_complete(sp);
        int rc = negoex_spnego_step(sp, len ? data + pos : NULL, len, &out, &out_len);
        if (rc < 0 && !ends_conversation(rc)) {
            CHECK(negoex_context_transcript(nx).len == before);
            CHECK(negoex_spnego_is_complete(sp) == was_complete);
            CHECK(out_len == 0);
        }
        if (out_len != 0) {
            negoex_spnego_token t;
            CHECK(negoex_spnego_parse(out, out_len, &t, NULL) == NEGOEX_OK);
        }
        pos += len;
    }
    negoex_spnego_free(sp);
    return 0;
}
