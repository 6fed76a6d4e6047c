/* The SPNEGO context fuzz target and its seed generator share this setup:
 * one side built from a config byte, with fixed RNGs so recorded peer tokens
 * replay exactly. Config bits: 0 initiator, 1 nxtoy (else test scheme),
 * 2 nxtoy asks for a MIC, 3 SPNEGO always_mic, 4 Kerberos listed before
 * NEGOEX, 5-7 test-scheme hops - 1.
 * Bits 5-7 all set (hops 8) announce a second config byte (MS-SPNG rev 21.0,
 * app mechs; the test scheme then has 1 hop): bit 0 ntlmtoy app mech,
 * 1 late_fallback, 2-3 fragment size (none, 6, 100, 1000; with a size, input
 * reassembly on too), 4 ntlmtoy listed
 * before NEGOEX, 5 acceptor's ntlmtoy knows only "alice" (else retryable),
 * 6 initiator's ntlmtoy user "bob", 7 acceptor takes the initiator's order. */
#ifndef NEGOEX_FUZZ_SPNEGO_CONTEXT_HARNESS_H
#define NEGOEX_FUZZ_SPNEGO_CONTEXT_HARNESS_H

#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>
#include <negoex/spnego_mech_ntlmtoy.h>

#include <string.h>

static int harness_rng(void *ud, uint8_t *out, size_t len)
{
    memset(out, (int)(uintptr_t)ud, len);
    return 0;
}

static const uint8_t HARNESS_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t HARNESS_NTLM[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0a};
static const uint8_t HARNESS_SECRET[] = "fuzz secret";

/* Does conf announce the second config byte? */
static int harness_extended(uint8_t conf)
{
    return (conf >> 5) == 7;
}

/* One ntlmtoy configuration per role (read when a state is created). */
static negoex_ntlmtoy_config harness_toy[2];

/* NULL on failure (only allocation can fail). fill: the RNG byte. ext: the
 * second config byte (0 unless harness_extended(conf)). */
static negoex_spnego *harness_side(uint8_t conf, uint8_t ext, negoex_role role, uint8_t fill)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.rng = harness_rng;
    cfg.rng_ud = (void *)(uintptr_t)fill;
    cfg.max_token_size = 1 << 16;
    negoex_context *nx;
    if (negoex_context_new(&nx, role, &cfg) != NEGOEX_OK)
        return NULL;
    negoex_scheme *s = NULL;
    int rc;
    if (conf & 2) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        nc.force_mic = (conf & 4) != 0;
        nc.rng = harness_rng;
        nc.rng_ud = (void *)(uintptr_t)(fill ^ 0xff);
        rc = negoex_nxtoy_scheme_new(&s, &nc, NULL);
    } else {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = NEGOEX_TEST_MECH1_OID;
        tc.hops = harness_extended(conf) ? 1u : 1u + ((conf >> 5) & 7u);
        rc = negoex_test_scheme_new(&s, &tc, NULL);
    }
    if (rc == NEGOEX_OK && negoex_context_add_scheme(nx, s) != NEGOEX_OK) {
        s->cls->destroy(s);
        rc = -1;
    }
    if (rc != NEGOEX_OK) {
        negoex_context_free(nx);
        return NULL;
    }
    negoex_spnego_config sc;
    negoex_spnego_config_init(&sc);
    sc.always_mic = (conf & 8) != 0;
    negoex_bytes krb5 = {HARNESS_KRB5, sizeof HARNESS_KRB5};
    if (conf & 16) {
        sc.other_mechs = &krb5;
        sc.other_mech_count = 1;
        sc.negoex_position = 1;
    }
    sc.max_token_size = 1 << 16;
    static const size_t frag[] = {0, 6, 100, 1000};
    sc.late_fallback = (ext & 2) != 0;
    sc.max_output_token_size = frag[(ext >> 2) & 3];
    /* Reassembly is opt-in: on with the fragment sizes (the peer fragments
     * too), off (every input a whole token) without. */
    sc.max_input_fragments = sc.max_output_token_size != 0 ? 1024 : 0;
    static negoex_spnego_app_mech app[2];
    if (ext & 1) {
        negoex_ntlmtoy_config *tc = &harness_toy[role == NEGOEX_ROLE_INITIATOR];
        negoex_ntlmtoy_config_init(tc);
        tc->user = (ext & 64) ? "bob" : "alice";
        tc->secret = HARNESS_SECRET;
        tc->secret_len = sizeof HARNESS_SECRET - 1;
        tc->rng = harness_rng;
        tc->rng_ud = (void *)(uintptr_t)(fill ^ 0x0f);
        if (ext & 32) {
            tc->expected_user = "alice";
            tc->unknown_user_retry = 1;
        }
        app[role == NEGOEX_ROLE_INITIATOR] =
            (negoex_spnego_app_mech){{HARNESS_NTLM, sizeof HARNESS_NTLM}, negoex_ntlmtoy_mech(), tc};
        sc.app_mechs = &app[role == NEGOEX_ROLE_INITIATOR];
        sc.app_mech_count = 1;
        if (ext & 16)
            sc.negoex_position = 1;
        if (ext & 128)
            sc.acceptor_policy = NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER;
    }
    negoex_spnego *sp;
    if (negoex_spnego_new(&sp, nx, &sc) != NEGOEX_OK) {
        negoex_context_free(nx);
        return NULL;
    }
    return sp;
}

#endif
