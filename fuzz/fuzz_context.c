/* libFuzzer target for the state machine: one side is real, the fuzzer is
 * the peer. Input: a config byte, then tokens as {u16 LE length, bytes}.
 * The RNG is deterministic so the fuzzer can learn the conversation id. */
#include <negoex/context.h>
#include <negoex/scheme_test.h>

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(c) do { if (!(c)) abort(); } while (0)

static int fixed_rng(void *ud, uint8_t *out, size_t len)
{
    (void)ud;
    memset(out, 0x5a, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    uint8_t conf = data[0];
    negoex_role role = (conf & 1) ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR;
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.rng = fixed_rng;
    cfg.optimistic = !(conf & 0x80);
    cfg.max_token_size = 1 << 16;
    negoex_context *ctx;
    CHECK(negoex_context_new(&ctx, role, &cfg) == NEGOEX_OK);
    static const char *const oids[] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
    for (int i = 0; i < 2; i++) {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = oids[i];
        tc.hops = 1u + ((conf >> 1) & 7u);
        tc.keys = (negoex_test_key_mode)(((conf >> 4) & 7u) % 5u);
        negoex_scheme *s;
        CHECK(negoex_test_scheme_new(&s, &tc, NULL) == NEGOEX_OK);
        CHECK(negoex_context_add_scheme(ctx, s) == NEGOEX_OK);
    }
    const uint8_t *out;
    size_t out_len;
    if (role == NEGOEX_ROLE_INITIATOR && negoex_context_step(ctx, NULL, 0, &out, &out_len) < 0) {
        negoex_context_free(ctx);
        return 0;
    }
    size_t pos = 1;
    while (pos + 2 <= size) {
        size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;
        pos += 2;
        if (len > size - pos)
            len = size - pos;
        negoex_bytes before = negoex_context_transcript(ctx);
        size_t before_len = before.len;
        int rc = negoex_context_step(ctx, len ? data + pos : NULL, len, &out, &out_len);
        negoex_bytes after = negoex_context_transcript(ctx);
        if (rc < 0 && rc != NEGOEX_ERR_SCHEME_FAILED && rc != NEGOEX_ERR_FAILED && rc != NEGOEX_ERR_COMPLETE)
            CHECK(after.len == before_len); /* a rejected token changes nothing */
        if (rc >= 0)
            CHECK(negoex_token_validate(out, out_len, NULL) > 0 || out_len == 0);
        pos += len;
    }
    negoex_context_free(ctx);
    return 0;
}
