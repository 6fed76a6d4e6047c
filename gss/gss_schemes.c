/*
 * negoex_gss: the scheme table. Each entry names a libnegoex scheme, the
 * mechanism OIDs it serves by default and how it reads its configuration.
 *
 * MIT 1.20 does not hand a dynamically loaded module the `[options]` of its
 * /etc/gss/mech line (the mechglue keeps them in optionStr, readable only
 * through the unexported gssint_get_modOptions), so configuration comes from
 * the environment: the knobs MIT's own test modules read, and NEGOEX_PKU2U_*
 * for PKU2U's credentials. The environment is read each time a context is
 * made, so a process can change it between contexts.
 */
#include "negoex_gss.h"

#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>
#include <negoex/spnego_mech_ntlmtoy.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* A string knob: NULL when unset or empty. */
static const char *env_text(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : NULL;
}

void nxgss_trace(const char *fmt, ...)
{
    if (!env_flag("NEGOEX_GSS_TRACE"))
        return;
    char line[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    fprintf(stderr, "negoex_gss: %s\n", line);
}

/* ------------------------------------------------------------------------ */
/* test: MIT's negoextest                                                     */
/* ------------------------------------------------------------------------ */

static int test_create(const uint8_t *oid, size_t len, nxgss_role role, const nxgss_name *target,
                       negoex_scheme **out)
{
    char dotted[96]; /* 16 one-octet arcs: at most 4 characters each */
    negoex_test_scheme_config cfg;

    (void)target;
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

static int nxtoy_create(const uint8_t *oid, size_t len, nxgss_role role, const nxgss_name *target,
                        negoex_scheme **out)
{
    negoex_nxtoy_config cfg;
    (void)target;
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
/* pku2u: PKU2U with certificates from the environment                       */
/* ------------------------------------------------------------------------ */

/* A service and host name ("SERVICE/HOST", "SERVICE@HOST" or "HOST"). */
typedef struct pku2u_sname {
    char service[128];
    char host[256];
} pku2u_sname;

/* Splits text at its first sep: service before it, host after it; without
 * sep the text is the host and the service dflt (NULL: none). 0 if a part is
 * empty or too long. */
static int split_sname(const char *text, size_t len, char sep, const char *dflt, pku2u_sname *out)
{
    const char *at = memchr(text, sep, len);
    const char *svc = dflt, *host = text;
    size_t svc_len = dflt != NULL ? strlen(dflt) : 0, host_len = len;
    if (at != NULL) {
        svc = text;
        svc_len = (size_t)(at - text);
        host = at + 1;
        host_len = len - svc_len - 1;
    }
    if ((svc != NULL && (svc_len == 0 || svc_len >= sizeof out->service)) || host_len == 0 ||
        host_len >= sizeof out->host)
        return 0;
    if (svc != NULL)
        memcpy(out->service, svc, svc_len);
    out->service[svc != NULL ? svc_len : 0] = '\0';
    memcpy(out->host, host, host_len);
    out->host[host_len] = '\0';
    return 1;
}

/* A knob's "SERVICE/HOST", "SERVICE@HOST" or "HOST" (service dflt). */
static int parse_sname_knob(const char *v, const char *dflt, pku2u_sname *out)
{
    size_t n = strlen(v);
    return split_sname(v, n, memchr(v, '/', n) != NULL ? '/' : '@', dflt, out);
}

/* The target from the GSS name the application gave gss_init_sec_context:
 * a host-based service "service@host" (RFC 2743 4.1), a Kerberos principal
 * "service/host[@REALM]", or for other name types the knob syntax. */
static int sname_of_gss_name(const nxgss_name *n, pku2u_sname *out)
{
    size_t len = n->len;
    switch (n->kind) {
    case NXGSS_NAME_HOSTBASED:
        /* "service" alone means this host: not a PKU2U target. */
        return memchr(n->text, '@', len) != NULL && split_sname(n->text, len, '@', NULL, out);
    case NXGSS_NAME_PRINCIPAL: {
        const char *realm = memchr(n->text, '@', len);
        if (realm != NULL)
            len = (size_t)(realm - n->text);
        return memchr(n->text, '/', len) != NULL && split_sname(n->text, len, '/', NULL, out);
    }
    case NXGSS_NAME_OTHER:
        return parse_sname_knob(n->text, NEGOEX_PKU2U_DEFAULT_SERVICE, out);
    default:
        return 0;
    }
}

/* Seconds since 1970 of a UTC civil date (proleptic Gregorian). */
static int64_t unix_of_civil(int64_t y, int64_t m, int64_t d, int64_t hh, int64_t mm, int64_t ss)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + hh * 3600 + mm * 60 + ss;
}

/* NEGOEX_PKU2U_TIME: seconds since 1970, or a KerberosTime YYYYMMDDHHMMSSZ. */
static int parse_time_knob(const char *v, int64_t *out)
{
    size_t n = strlen(v);
    if (n == 15 && v[14] == 'Z') {
        static const int width[6] = {4, 2, 2, 2, 2, 2};
        int f[6];
        const char *p = v;
        for (int i = 0; i < 6; i++) {
            f[i] = 0;
            for (int k = 0; k < width[i]; k++, p++) {
                if (*p < '0' || *p > '9')
                    return 0;
                f[i] = f[i] * 10 + (*p - '0');
            }
        }
        if (f[0] < 1970 || f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 59)
            return 0;
        *out = unix_of_civil(f[0], f[1], f[2], f[3], f[4], f[5]);
        return *out > 0;
    }
    if (n == 0 || n > 18)
        return 0;
    int64_t t = 0;
    for (size_t i = 0; i < n; i++) {
        if (v[i] < '0' || v[i] > '9')
            return 0;
        t = t * 10 + (v[i] - '0');
    }
    *out = t;
    return t > 0;
}

/* A knob's value is bad: traced, and INVALID_ARGUMENT (minor
 * NXGSS_MINOR_BAD_CONFIG). */
static int bad_knob(const char *name, const char *why)
{
    const char *v = getenv(name);
    nxgss_trace("pku2u: %s%s%s%s: %s", name, v != NULL ? "='" : "", v != NULL ? v : "", v != NULL ? "'" : "", why);
    return NEGOEX_ERR_INVALID_ARGUMENT;
}

static int pku2u_create(const uint8_t *oid, size_t len, nxgss_role role, const nxgss_name *target,
                        negoex_scheme **out)
{
    negoex_pku2u_config cfg;
    pku2u_sname sname;
    const char *v;
    (void)oid;
    (void)len;
    *out = NULL;
    if (role == NXGSS_ROLE_NONE)
        return NEGOEX_ERR_INVALID_ARGUMENT; /* the entry's GUID serves */
    negoex_pku2u_config_init(&cfg);

    /* Identity: NEGOEX_PKU2U_CERT (PEM, DER or PKCS#12), NEGOEX_PKU2U_KEY
     * (unset: the key is in the certificate file), NEGOEX_PKU2U_PASSWORD. */
    cfg.cert_file = env_text("NEGOEX_PKU2U_CERT");
    cfg.key_file = env_text("NEGOEX_PKU2U_KEY");
    cfg.password = getenv("NEGOEX_PKU2U_PASSWORD");
    if (cfg.cert_file == NULL)
        return bad_knob("NEGOEX_PKU2U_CERT", "not set: no PKU2U identity");

    /* Trust anchors: a PEM bundle / DER file or a directory. */
    if ((v = env_text("NEGOEX_PKU2U_CA")) == NULL)
        return bad_knob("NEGOEX_PKU2U_CA", "not set: no trust anchors");
    struct stat st;
    if (stat(v, &st) != 0)
        return bad_knob("NEGOEX_PKU2U_CA", "no such file or directory");
    if (S_ISDIR(st.st_mode))
        cfg.trust_dir = v;
    else
        cfg.trust_file = v;

    if (role == NXGSS_ROLE_INITIATOR) {
        /* The target: the knob, else the GSS target name. */
        if ((v = env_text("NEGOEX_PKU2U_TARGET")) != NULL) {
            if (!parse_sname_knob(v, NEGOEX_PKU2U_DEFAULT_SERVICE, &sname))
                return bad_knob("NEGOEX_PKU2U_TARGET", "not SERVICE/HOST, SERVICE@HOST or HOST");
        } else if (target == NULL || !sname_of_gss_name(target, &sname)) {
            nxgss_trace("pku2u: no target: set NEGOEX_PKU2U_TARGET or give a host-based target name "
                        "(service@host)%s%s",
                        target != NULL ? "; got " : "", target != NULL ? target->text : "");
            return NEGOEX_ERR_INVALID_ARGUMENT;
        }
        cfg.target_service = sname.service;
        cfg.target_host = sname.host;
    } else if ((v = env_text("NEGOEX_PKU2U_HOST")) != NULL) {
        /* Acceptor: the only host (and service, when given) it answers to. */
        if (!parse_sname_knob(v, NULL, &sname))
            return bad_knob("NEGOEX_PKU2U_HOST", "not HOST, SERVICE/HOST or SERVICE@HOST");
        cfg.host_name = sname.host;
        cfg.service = sname.service[0] != '\0' ? sname.service : NULL;
    }

    if ((v = env_text("NEGOEX_PKU2U_TIME")) != NULL) {
        if (!parse_time_knob(v, &cfg.now))
            return bad_knob("NEGOEX_PKU2U_TIME", "not seconds since 1970 or YYYYMMDDHHMMSSZ");
        cfg.validation_time = cfg.now;
    }
    if ((v = env_text("NEGOEX_PKU2U_DH_GROUP")) != NULL) {
        int g = strcmp(v, "2") == 0 ? NEGOEX_PKU2U_DH_MODP2 : strcmp(v, "14") == 0 ? NEGOEX_PKU2U_DH_MODP14 : 0;
        if (g == 0)
            return bad_knob("NEGOEX_PKU2U_DH_GROUP", "not 2 or 14");
        cfg.dh_group = g;
        cfg.dh_groups_accepted = g == NEGOEX_PKU2U_DH_MODP2 ? NEGOEX_PKU2U_ACCEPT_MODP2 : NEGOEX_PKU2U_ACCEPT_MODP14;
    }

    int rc = negoex_pku2u_scheme_new(out, &cfg, NULL);
    if (rc == NEGOEX_ERR_CREDENTIAL_LOAD || rc == NEGOEX_ERR_INVALID_ARGUMENT) {
        nxgss_trace("pku2u: %s: cannot load the identity (NEGOEX_PKU2U_CERT='%s'%s%s%s) or the trust anchors "
                    "(NEGOEX_PKU2U_CA='%s')",
                    negoex_error_name(rc), cfg.cert_file, cfg.key_file != NULL ? ", NEGOEX_PKU2U_KEY='" : "",
                    cfg.key_file != NULL ? cfg.key_file : "", cfg.key_file != NULL ? "'" : "",
                    cfg.trust_file != NULL ? cfg.trust_file : cfg.trust_dir);
        rc = NEGOEX_ERR_INVALID_ARGUMENT;
    } else if (rc != NEGOEX_OK) {
        nxgss_trace("pku2u: %s", negoex_strerror(rc));
    }
    return rc;
}

/* As `negoex initiate|accept` says it: "NAME: text (what failed)", then
 * "; sent KRB-ERROR N" (acceptor) or "; KRB-ERROR N from the acceptor:
 * "e-text"" (initiator). */
static int pku2u_describe_failure(const negoex_scheme *s, char *buf, size_t cap)
{
    negoex_pku2u_status st;
    negoex_pku2u_last_status(s, &st);
    if (st.error == 0)
        return 0;
    int n = snprintf(buf, cap, "%s: %s", negoex_error_name(st.error), negoex_strerror(st.error));
    if (n >= 0 && (size_t)n < cap && st.what != NULL)
        n += snprintf(buf + n, cap - (size_t)n, " (%s)", st.what);
    if (n >= 0 && (size_t)n < cap && st.krb_error != 0) {
        if (st.error == NEGOEX_ERR_PKU2U_KRB_ERROR)
            snprintf(buf + n, cap - (size_t)n, "; KRB-ERROR %ld from the acceptor%s%s%s", (long)st.krb_error,
                     st.peer_text[0] ? ": \"" : "", st.peer_text, st.peer_text[0] ? "\"" : "");
        else
            snprintf(buf + n, cap - (size_t)n, "; sent KRB-ERROR %ld", (long)st.krb_error);
    }
    return 1;
}

/* The acceptor reports the initiator's UPN (else its Kerberos name, else
 * its subject); the initiator the acceptor's dNSName (else its subject). */
static int pku2u_peer_name(const negoex_scheme *s, nxgss_role role, char *buf, size_t cap)
{
    static const negoex_pku2u_name_kind from_user[] = {NEGOEX_PKU2U_PEER_UPN, NEGOEX_PKU2U_PEER_KRB_NAME,
                                                       NEGOEX_PKU2U_PEER_SUBJECT};
    static const negoex_pku2u_name_kind from_device[] = {NEGOEX_PKU2U_PEER_DNS, NEGOEX_PKU2U_PEER_SUBJECT};
    const negoex_pku2u_name_kind *kinds = role == NXGSS_ROLE_ACCEPTOR ? from_user : from_device;
    size_t n = role == NXGSS_ROLE_ACCEPTOR ? sizeof from_user / sizeof from_user[0]
                                           : sizeof from_device / sizeof from_device[0];
    if (!negoex_pku2u_is_established(s))
        return 0;
    for (size_t i = 0; i < n; i++) {
        if (negoex_pku2u_peer_name(s, kinds[i], buf, cap, NULL) == NEGOEX_OK && buf[0] != '\0')
            return 1;
    }
    return 0;
}

static const char *const pku2u_oids[] = {"1.3.6.1.5.2.7", NULL};

/* ------------------------------------------------------------------------ */
/* The table                                                                  */
/* ------------------------------------------------------------------------ */

#define GSS_MUTUAL_FLAG 2u /* GSS_C_MUTUAL_FLAG; this file needs no GSS header */

static const nxgss_scheme_entry entries[] = {
    /* First: the fallback for unlisted OIDs. */
    {"test", test_oids, test_create, NULL, 0, test_step_minor, NULL, NULL},
    {"nxtoy", nxtoy_oids, nxtoy_create, NULL, GSS_MUTUAL_FLAG, NULL, NULL, NULL},
    {"pku2u", pku2u_oids, pku2u_create, &NEGOEX_SCHEME_PKU2U, GSS_MUTUAL_FLAG, NULL, pku2u_describe_failure,
     pku2u_peer_name},
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

/* ------------------------------------------------------------------------ */
/* ntlmtoy: a plain GSS mechanism (not NEGOEX), for SPNEGO fallback tests     */
/* ------------------------------------------------------------------------ */

/* NEGOEX_NTLMTOY_SECRET (required), NEGOEX_NTLMTOY_USER (initiator: the user
 * it proves, default alice@contoso.test; acceptor: the only one it accepts),
 * NEGOEX_NTLMTOY_OID (its mechanism OIDs, default NTLM's). */
static int ntlmtoy_create(nxgss_role role, const negoex_spnego_mech_ops **ops, void **state)
{
    negoex_ntlmtoy_config cfg;
    negoex_ntlmtoy_config_init(&cfg);
    const char *secret = env_text("NEGOEX_NTLMTOY_SECRET");
    if (secret == NULL) {
        nxgss_trace("ntlmtoy: NEGOEX_NTLMTOY_SECRET not set");
        return NEGOEX_ERR_INVALID_ARGUMENT;
    }
    cfg.secret = (const uint8_t *)secret;
    cfg.secret_len = strlen(secret);
    const char *user = env_text("NEGOEX_NTLMTOY_USER");
    if (role == NXGSS_ROLE_INITIATOR)
        cfg.user = user != NULL ? user : "alice@contoso.test";
    else
        cfg.expected_user = user;
    *ops = negoex_ntlmtoy_mech();
    int rc = (*ops)->create(&cfg, role == NXGSS_ROLE_INITIATOR ? NEGOEX_ROLE_INITIATOR : NEGOEX_ROLE_ACCEPTOR,
                            state);
    if (rc != NEGOEX_OK)
        nxgss_trace("ntlmtoy: %s", negoex_strerror(rc));
    return rc;
}

static const nxgss_app_entry app_entries[] = {
    {"ntlmtoy", ntlmtoy_create},
};

const nxgss_app_entry *nxgss_app_lookup(const uint8_t *oid, size_t len)
{
    /* NEGOEX_NTLMTOY_OID: one OID or several (blank or comma separated), so
     * one process can offer ntlmtoy under more than one mechanism. */
    const char *list = env_text("NEGOEX_NTLMTOY_OID");
    if (list == NULL)
        list = NEGOEX_NTLMTOY_DEFAULT_OID_TEXT;
    while (*list != '\0') {
        size_t n = strcspn(list, " ,");
        char text[96];
        uint8_t der[64];
        size_t der_len;
        if (n != 0 && n < sizeof text) {
            memcpy(text, list, n);
            text[n] = '\0';
            if (negoex_oid_encode(text, der, sizeof der, &der_len) == NEGOEX_OK && der_len == len &&
                memcmp(der, oid, len) == 0)
                return &app_entries[0];
        }
        list += n;
        list += strspn(list, " ,");
    }
    return NULL;
}
