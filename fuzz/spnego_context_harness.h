/* The SPNEGO context fuzz target and its seed generator share this setup:
 * one side built from a config byte, with fixed RNGs so recorded peer tokens
 * replay exactly. Config bits: 0 initiator, 1 nxtoy (else test scheme),
 * 2 nxtoy asks for a MIC, 3 SPNEGO always_mic, 4 Kerberos listed before
 * NEGOEX, 5-7 test-scheme hops - 1. */
#ifndef NEGOEX_FUZZ_SPNEGO_CONTEXT_HARNESS_H
#define NEGOEX_FUZZ_SPNEGO_CONTEXT_HARNESS_H

#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include <string.h>

static int harness_rng(void *ud, uint8_t *out, size_t len)
{
    memset(out, (int)(uintptr_t)ud, len);
    return 0;
}

static const uint8_t HARNESS_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};

/* NULL on failure (only allocation can fail). fill: the RNG byte. */
static negoex_spnego *harness_side(uint8_t conf, negoex_role role, uint8_t fill)
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
        tc.hops = 1u + ((conf >> 5) & 7u);
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
    negoex_spnego *sp;
    if (negoex_spnego_new(&sp, nx, &sc) != NEGOEX_OK) {
        negoex_context_free(nx);
        return NULL;
    }
    return sp;
}

#endif
