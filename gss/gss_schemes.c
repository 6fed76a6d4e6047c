/*
 * negoex_gss: the scheme table. Each entry names a libnegoex scheme, the
 * mechanism OIDs it serves by default and how it reads its configuration.
 *
 * MIT 1.20 does not hand a dynamically loaded module the `[options]` of its
 * /etc/gss/mech line (the mechglue keeps them in optionStr, readable only
 * through the unexported gssint_get_modOptions), so configuration comes from
 * the environment, with the knobs MIT's own test modules read.
 */
#include "negoex_gss.h"

#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Environment                                                               */
/* ------------------------------------------------------------------------ */

/* atoi() without its undefined behaviour on overflow: leading decimal digits
 * after optional blanks and sign, 0 if none. */
static long env_number(const char *text)
{
    char *end;
    long v = strtol(text, &end, 10);
    return end == text ? 0 : v;
}

/* negoextest's knob test: the variable holds the last octet of the
 * mechanism's OID encoding (102 for 2.25.1414534758, 44 for 2.25.1175737388). */
static int knob_selects(const char *name, const uint8_t *oid, size_t len)
{
    const char *v = getenv(name);
    return v != NULL && len > 0 && env_number(v) == (long)oid[len - 1];
}

/* A yes/no knob: set, non-empty and not "0". */
static int env_flag(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' && strcmp(v, "0") != 0;
}

/* ------------------------------------------------------------------------ */
/* test: MIT's negoextest                                                     */
/* ------------------------------------------------------------------------ */

static int test_create(const uint8_t *oid, size_t len, nxgss_role role, negoex_scheme **out)
{
    char dotted[96]; /* 16 one-octet arcs: at most 4 characters each */
    negoex_test_scheme_config cfg;

    *out = NULL;
    /* The GUID is the OID content zero-padded: longer OIDs cannot be served. */
    if (len == 0 || len > NEGOEX_AUTH_SCHEME_LEN)
        return NEGOEX_ERR_INVALID_ARGUMENT;
    int rc = negoex_oid_to_text(oid, len, dotted, sizeof dotted, NULL);
    if (rc != NEGOEX_OK)
        return rc;
    negoex_test_scheme_config_init(&cfg);
    cfg.mech_oid = dotted;
    if (role != NXGSS_ROLE_NONE) {
        int init = role == NXGSS_ROLE_INITIATOR;
        const char *v;
        /* negoextest reads HOPS on the initiator only (the acceptor follows
         * the count in the tokens). */
        if (init && (v = getenv("HOPS")) != NULL) {
            long hops = env_number(v);
            if (hops < 1 || hops > 255)
                return NEGOEX_ERR_INVALID_ARGUMENT;
            cfg.hops = (unsigned)hops;
        }
        /* Unset: keys once established. negoextest treats every value other
         * than never/init-always/accept-always as "always"; "established"
         * (libnegoex's name for the default) is accepted too. */
        if ((v = getenv("KEY")) != NULL) {
            int mode = negoex_test_key_mode_parse(v);
            cfg.keys = mode < 0 ? NEGOEX_TEST_KEY_ALWAYS : (negoex_test_key_mode)mode;
        }
        cfg.no_meta_data = knob_selects(init ? "INIT_QUERY_NONE" : "ACCEPT_QUERY_NONE", oid, len);
        cfg.fail_query = knob_selects(init ? "INIT_QUERY_FAIL" : "ACCEPT_QUERY_FAIL", oid, len);
        cfg.fail_exchange = knob_selects(init ? "INIT_EXCHANGE_FAIL" : "ACCEPT_EXCHANGE_FAIL", oid, len);
        cfg.fail_step = knob_selects(init ? "INIT_FAIL" : "ACCEPT_FAIL", oid, len);
    }
    return negoex_test_scheme_new(out, &cfg, NULL);
}

/* negoextest's initiator reports the acceptor's "fail" token as minor 12345,
 * "failure from acceptor". */
static uint32_t test_step_minor(nxgss_role role, const uint8_t *in, size_t in_len)
{
    if (role == NXGSS_ROLE_INITIATOR && in_len == 4 && memcmp(in, "fail", 4) == 0)
        return NXGSS_MINOR_ACCEPTOR_FAILED;
    return 0;
}

static const char *const test_oids[] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID, NULL};

/* ------------------------------------------------------------------------ */
/* nxtoy: the toy module of scenarios 30-34                                   */
/* ------------------------------------------------------------------------ */

static int nxtoy_create(const uint8_t *oid, size_t len, nxgss_role role, negoex_scheme **out)
{
    negoex_nxtoy_config cfg;
    (void)oid;
    (void)len;
    negoex_nxtoy_config_init(&cfg);
    if (role != NXGSS_ROLE_NONE) {
        cfg.no_meta_data = env_flag("NXTOY_NO_META");
        cfg.no_integ = env_flag("NXTOY_NO_INTEG");
        cfg.force_mic = env_flag("NXTOY_FORCE_MIC");
    }
    return negoex_nxtoy_scheme_new(out, &cfg, NULL);
}

static const char *const nxtoy_oids[] = {"2.25.305419896", NULL};

/* ------------------------------------------------------------------------ */
/* The table                                                                  */
/* ------------------------------------------------------------------------ */

#define GSS_MUTUAL_FLAG 2u /* GSS_C_MUTUAL_FLAG; this file needs no GSS header */

static const nxgss_scheme_entry entries[] = {
    /* First: the fallback for unlisted OIDs. */
    {"test", test_oids, test_create, 0, test_step_minor},
    {"nxtoy", nxtoy_oids, nxtoy_create, GSS_MUTUAL_FLAG, NULL},
};

const nxgss_scheme_entry *nxgss_scheme_lookup(const uint8_t *oid, size_t len)
{
    uint8_t der[64];
    size_t der_len;
    for (size_t i = 0; i < sizeof entries / sizeof entries[0]; i++) {
        for (const char *const *o = entries[i].oids; *o != NULL; o++) {
            if (negoex_oid_encode(*o, der, sizeof der, &der_len) == NEGOEX_OK && der_len == len &&
                memcmp(der, oid, len) == 0)
                return &entries[i];
        }
    }
    return &entries[0];
}
