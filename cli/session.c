#include "session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <negoex/scheme_nxtoy.h>
#include <negoex/scheme_pku2u.h>

#include "cli.h"

const char cli_session_usage[] =
    "  --raw                  bare NEGOEX tokens (default: SPNEGO, RFC 4178)\n"
    "  --http                 tokens as `Negotiate <base64>` lines (HTTP, RFC 4559)\n"
    "  --scheme NAME          auth scheme: pku2u (certificates, as Windows), test (MIT's\n"
    "                         negoextest) or nxtoy (MIT's toy module: real keys and\n"
    "                         SPNEGO MICs). Default: the one whose options are given,\n"
    "                         else pku2u for demo and test for initiate / accept\n"
    "  --optimistic           the initiator's first token carries its AP_REQUEST\n"
    "                         (PKU2U: the 2-round-trip form; default for test / nxtoy)\n"
    "  --no-optimistic        the AP_REQUEST waits for the acceptor's first answer\n"
    "                         (PKU2U: Windows' 3-round-trip form, its default)\n"
    "  --trace                one line per NEGOEX message on stderr\n"
    "SPNEGO:\n"
    "  --always-mic           SPNEGO requires a mechListMIC either way\n"
    "  --offer OID            initiator: also list this mechanism (repeatable; e.g.\n"
    "                         1.2.840.48018.1.2.2 1.2.840.113554.1.2.2 for Windows' order)\n"
    "  --negoex-position N    initiator: NEGOEX's place among the offered mechanisms (0)\n"
    "PKU2U (--scheme pku2u):\n"
    "  --cert FILE            our certificate (PEM, DER or PKCS#12); PEM may hold the key\n"
    "  --key FILE             its private key (PEM or DER; PKCS#8 or PKCS#1)\n"
    "  --p12 FILE             certificate and key from PKCS#12, instead of --cert/--key\n"
    "  --password P           for --p12 or an encrypted key\n"
    "  --ca FILE|DIR          trust anchors for the peer's certificate: a PEM bundle or\n"
    "                         DER file, and/or a directory of them (required)\n"
    "  --target SERVICE/HOST  initiator: the target (sname {SERVICE, HOST}; HOST must be\n"
    "                         a dNSName or IP of the acceptor's certificate; SERVICE\n"
    "                         defaults to TERMSRV); acceptor: the only name it answers to\n"
    "  --host NAME            acceptor: the only host name it answers to (any service)\n"
    "  --time UNIX            our clock and the certificate validation time, in seconds\n"
    "                         since 1970 (for expired test identities; give both sides\n"
    "                         the same value)\n"
    "  --dh-group 2|14        initiator: the Diffie-Hellman group it offers (default 2,\n"
    "                         as Windows); acceptor: the only group it accepts\n"
    "test scheme (--scheme test):\n"
    "  --mech-oid OID         a test-scheme mechanism, in preference order (repeatable;\n"
    "                         default " NEGOEX_TEST_MECH1_OID " " NEGOEX_TEST_MECH2_OID ")\n"
    "  --hops N               scheme round trips the initiator asks for (default 1)\n"
    "  --key MODE             established|always|init-always|accept-always|never\n"
    "  --meta none            send no metadata (also nxtoy)\n"
    "  --fail-query OID, --fail-exchange OID, --fail-step OID\n"
    "                         make that mechanism fail at that point (MIT's knobs)\n"
    "nxtoy (--scheme nxtoy):\n"
    "  --force-mic            nxtoy asks SPNEGO for a mechListMIC\n"
    "SPNEGO application mechanisms (docs/spnego-fallback.md):\n"
    "  --app-mech ntlmtoy[:OID]  an NTLM-like test mechanism beside NEGOEX, under OID\n"
    "                         (default NTLM's, " NEGOEX_NTLMTOY_DEFAULT_OID_TEXT "); repeatable,\n"
    "                         preference order. Initiator: listed after the --offer\n"
    "                         mechanisms, or in the place of an --offer of the same OID\n"
    "  --app-secret S         the shared secret of the app mechanisms (required)\n"
    "  --app-user U           initiator: the user it proves (default alice@contoso.test);\n"
    "                         acceptor: the only user it accepts\n"
    "  --no-negoex            SPNEGO with the app mechanisms only (no NEGOEX context)\n"
    "  --app-policy own|initiator\n"
    "                         acceptor: pick by its own preference (default) or by the\n"
    "                         initiator's order\n"
    "  --app-retry            acceptor: a user other than --app-user fails retryably\n"
    "                         (SPNEGO_MECH_RETRY: a Late Fallback retry may follow)\n"
    "MS-SPNG rev 21.0 (docs/spnego-late-fallback.md):\n"
    "  --late-fallback        Negotiate Late Fallback (MIC over every list, one retry)\n"
    "  --fragment-size N      send tokens longer than N bytes in N-byte fragments\n"
    "                         (N >= 6; the peer answers each with an empty token) and\n"
    "                         reassemble the peer's (at most 64 per token); without it\n"
    "                         every input is a whole token\n";

void cli_session_defaults(cli_session_opts *o)
{
    memset(o, 0, sizeof *o);
    o->optimistic = -1;
    o->hops = 1;
    o->keys = NEGOEX_TEST_KEY_ESTABLISHED;
}

static const char *value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        cli_error("%s needs a value", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

static void test_only(cli_session_opts *o, const char *opt)
{
    if (o->test_option == NULL)
        o->test_option = opt;
}

static void pku2u_only(cli_session_opts *o, const char *opt)
{
    if (o->pku2u_option == NULL)
        o->pku2u_option = opt;
}

/* --ca: a directory or a file, each at most once. */
static int ca_option(cli_session_opts *o, const char *v)
{
    struct stat st;
    if (stat(v, &st) != 0) {
        cli_error("--ca %s: %s", v, strerror(errno));
        return -1;
    }
    const char **slot = S_ISDIR(st.st_mode) ? &o->ca_dir : &o->ca_file;
    if (*slot != NULL) {
        cli_error("--ca: one file and one directory at most (a PEM file may hold several CAs)");
        return -1;
    }
    *slot = v;
    return 0;
}

/* --target SERVICE/HOST (or HOST: the default service). */
static int target_option(cli_session_opts *o, const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n >= sizeof o->target_buf) {
        cli_error("--target takes SERVICE/HOST");
        return -1;
    }
    memcpy(o->target_buf, v, n + 1);
    char *slash = strchr(o->target_buf, '/');
    if (slash == NULL) {
        o->target_service = NULL;
        o->target_host = o->target_buf;
        return 0;
    }
    *slash = '\0';
    o->target_service = o->target_buf;
    o->target_host = slash + 1;
    if (o->target_service[0] == '\0' || o->target_host[0] == '\0' || strchr(o->target_host, '/') != NULL) {
        cli_error("--target takes SERVICE/HOST, e.g. TERMSRV/host.example.com");
        return -1;
    }
    return 0;
}

int cli_session_option(cli_session_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i], *v;
    if (strcmp(a, "--raw") == 0) {
        o->raw = 1;
    } else if (strcmp(a, "--http") == 0) {
        o->http = 1;
    } else if (strcmp(a, "--force-mic") == 0) {
        o->force_mic = 1;
    } else if (strcmp(a, "--always-mic") == 0) {
        o->always_mic = 1;
    } else if (strcmp(a, "--offer") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (o->noffer == CLI_MAX_MECHS) {
            cli_error("at most %d offered mechanisms", CLI_MAX_MECHS);
            return -1;
        }
        size_t n;
        if (negoex_oid_encode(v, o->offer[o->noffer], sizeof o->offer[0], &n) != NEGOEX_OK) {
            cli_error("--offer: '%s' is not a dotted OID", v);
            return -1;
        }
        o->offer_len[o->noffer++] = n;
    } else if (strcmp(a, "--negoex-position") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n > CLI_MAX_MECHS) {
            cli_error("--negoex-position takes 0..%d", CLI_MAX_MECHS);
            return -1;
        }
        o->negoex_position = (size_t)n;
    } else if (strcmp(a, "--trace") == 0) {
        o->trace = 1;
    } else if (strcmp(a, "--no-optimistic") == 0) {
        o->optimistic = 0;
    } else if (strcmp(a, "--optimistic") == 0) {
        o->optimistic = 1;
    } else if (strcmp(a, "--scheme") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "test") == 0) {
            o->scheme = CLI_SCHEME_TEST;
        } else if (strcmp(v, "nxtoy") == 0) {
            o->scheme = CLI_SCHEME_NXTOY;
        } else if (strcmp(v, "pku2u") == 0) {
            o->scheme = CLI_SCHEME_PKU2U;
        } else {
            cli_error("unknown scheme '%s' (available: pku2u, test, nxtoy)", v);
            return -1;
        }
        o->scheme_given = 1;
    } else if (strcmp(a, "--hops") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        char *end;
        unsigned long n = strtoul(v, &end, 10);
        if (*v == '\0' || *end != '\0' || n < 1 || n > 255) {
            cli_error("--hops takes 1..255");
            return -1;
        }
        o->hops = (unsigned)n;
        test_only(o, a);
    } else if (strcmp(a, "--key") == 0) {
        /* A test-scheme key mode or a PKU2U key file: cli_session_finish decides. */
        if ((o->key_arg = value(argc, argv, i)) == NULL)
            return -1;
        if (negoex_test_key_mode_parse(o->key_arg) >= 0)
            test_only(o, a);
        else
            pku2u_only(o, a);
    } else if (strcmp(a, "--meta") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "none") != 0) {
            cli_error("--meta takes `none`");
            return -1;
        }
        o->no_meta = 1;
        test_only(o, a);
    } else if (strcmp(a, "--mech-oid") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (o->nmechs == CLI_MAX_MECHS) {
            cli_error("at most %d mechanisms", CLI_MAX_MECHS);
            return -1;
        }
        o->mechs[o->nmechs++] = v;
        test_only(o, a);
    } else if (strcmp(a, "--fail-query") == 0) {
        if ((o->fail_query = value(argc, argv, i)) == NULL)
            return -1;
        test_only(o, a);
    } else if (strcmp(a, "--fail-exchange") == 0) {
        if ((o->fail_exchange = value(argc, argv, i)) == NULL)
            return -1;
        test_only(o, a);
    } else if (strcmp(a, "--fail-step") == 0) {
        if ((o->fail_step = value(argc, argv, i)) == NULL)
            return -1;
        test_only(o, a);
    } else if (strcmp(a, "--cert") == 0) {
        if ((o->cert_file = value(argc, argv, i)) == NULL)
            return -1;
        pku2u_only(o, a);
    } else if (strcmp(a, "--p12") == 0) {
        if ((o->p12_file = value(argc, argv, i)) == NULL)
            return -1;
        pku2u_only(o, a);
    } else if (strcmp(a, "--password") == 0) {
        if ((o->password = value(argc, argv, i)) == NULL)
            return -1;
        pku2u_only(o, a);
    } else if (strcmp(a, "--ca") == 0) {
        if ((v = value(argc, argv, i)) == NULL || ca_option(o, v) != 0)
            return -1;
        pku2u_only(o, a);
    } else if (strcmp(a, "--target") == 0) {
        if ((v = value(argc, argv, i)) == NULL || target_option(o, v) != 0)
            return -1;
        pku2u_only(o, a);
    } else if (strcmp(a, "--host") == 0) {
        if ((o->host_name = value(argc, argv, i)) == NULL)
            return -1;
        if (o->host_name[0] == '\0') {
            cli_error("--host needs a host name");
            return -1;
        }
        pku2u_only(o, a);
    } else if (strcmp(a, "--time") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        char *end;
        errno = 0;
        long long t = strtoll(v, &end, 10);
        if (*v < '0' || *v > '9' || *end != '\0' || errno != 0 || t <= 0) {
            cli_error("--time takes seconds since 1970-01-01 UTC, e.g. 1666561500");
            return -1;
        }
        o->time = (int64_t)t;
        pku2u_only(o, a);
    } else if (strcmp(a, "--dh-group") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "2") == 0) {
            o->dh_group = NEGOEX_PKU2U_DH_MODP2;
        } else if (strcmp(v, "14") == 0) {
            o->dh_group = NEGOEX_PKU2U_DH_MODP14;
        } else {
            cli_error("--dh-group takes 2 or 14");
            return -1;
        }
        pku2u_only(o, a);
    } else if (strcmp(a, "--app-mech") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        const char *oid = NEGOEX_NTLMTOY_DEFAULT_OID_TEXT;
        if (strncmp(v, "ntlmtoy", 7) != 0 || (v[7] != '\0' && v[7] != ':')) {
            cli_error("--app-mech takes ntlmtoy or ntlmtoy:OID");
            return -1;
        }
        if (v[7] == ':')
            oid = v + 8;
        if (o->napp == CLI_MAX_MECHS) {
            cli_error("at most %d app mechanisms", CLI_MAX_MECHS);
            return -1;
        }
        size_t n;
        if (negoex_oid_encode(oid, o->app_oid[o->napp], sizeof o->app_oid[0], &n) != NEGOEX_OK) {
            cli_error("--app-mech: '%s' is not a dotted OID", oid);
            return -1;
        }
        o->app_oid_len[o->napp++] = n;
    } else if (strcmp(a, "--app-secret") == 0) {
        if ((o->app_secret = value(argc, argv, i)) == NULL)
            return -1;
        if (o->app_secret[0] == '\0' || strlen(o->app_secret) > NEGOEX_NTLMTOY_SECRET_MAX) {
            cli_error("--app-secret takes 1..%u bytes", NEGOEX_NTLMTOY_SECRET_MAX);
            return -1;
        }
    } else if (strcmp(a, "--app-user") == 0) {
        if ((o->app_user = value(argc, argv, i)) == NULL)
            return -1;
        if (o->app_user[0] == '\0' || strlen(o->app_user) > NEGOEX_NTLMTOY_USER_MAX) {
            cli_error("--app-user takes 1..%u bytes", NEGOEX_NTLMTOY_USER_MAX);
            return -1;
        }
    } else if (strcmp(a, "--no-negoex") == 0) {
        o->no_negoex = 1;
    } else if (strcmp(a, "--late-fallback") == 0) {
        o->late_fallback = 1;
    } else if (strcmp(a, "--app-retry") == 0) {
        o->app_retry = 1;
    } else if (strcmp(a, "--fragment-size") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        char *end = NULL;
        unsigned long long n = strtoull(v, &end, 10);
        if (*v < '0' || *v > '9' || end == v || *end != '\0' || n < NEGOEX_SPNEGO_FRAGMENT_MIN_SEND ||
            n > (1u << 20)) {
            cli_error("--fragment-size takes %u..1048576", NEGOEX_SPNEGO_FRAGMENT_MIN_SEND);
            return -1;
        }
        o->fragment_size = (size_t)n;
    } else if (strcmp(a, "--app-policy") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "own") == 0) {
            o->app_policy = NEGOEX_SPNEGO_POLICY_OWN_ORDER;
        } else if (strcmp(v, "initiator") == 0) {
            o->app_policy = NEGOEX_SPNEGO_POLICY_INITIATOR_ORDER;
        } else {
            cli_error("--app-policy takes own or initiator");
            return -1;
        }
    } else {
        return 0;
    }
    return 1;
}

static const char *scheme_name(cli_scheme_kind k)
{
    return k == CLI_SCHEME_PKU2U ? "pku2u" : k == CLI_SCHEME_NXTOY ? "nxtoy" : "test";
}

int cli_session_need_identity(const cli_session_opts *o, const char *cmd)
{
    if (o->scheme != CLI_SCHEME_PKU2U)
        return 0;
    if (o->cert_file == NULL && o->p12_file == NULL) {
        cli_error("%s --scheme pku2u needs an identity: --cert FILE [--key FILE] or --p12 FILE", cmd);
        return -1;
    }
    if (o->ca_file == NULL && o->ca_dir == NULL) {
        cli_error("%s --scheme pku2u needs trust anchors: --ca FILE|DIR", cmd);
        return -1;
    }
    return 0;
}

int cli_session_finish(cli_session_opts *o, cli_scheme_kind dflt)
{
    if (!o->scheme_given) {
        if (o->test_option != NULL && o->pku2u_option != NULL) {
            cli_error("%s is a test-scheme option and %s a PKU2U one: choose with --scheme", o->test_option,
                      o->pku2u_option);
            return -1;
        }
        o->scheme = o->pku2u_option != NULL ? CLI_SCHEME_PKU2U : o->test_option != NULL ? CLI_SCHEME_TEST : dflt;
    }
    if (o->scheme == CLI_SCHEME_PKU2U) {
        if (o->test_option != NULL && strcmp(o->test_option, "--key") != 0) {
            cli_error("%s is an option of the test scheme, not of pku2u", o->test_option);
            return -1;
        }
        if (o->force_mic) {
            cli_error("--force-mic is an option of nxtoy, not of pku2u");
            return -1;
        }
        if (o->key_arg != NULL)
            o->key_file = o->key_arg;
        if (o->p12_file != NULL && (o->cert_file != NULL || o->key_file != NULL)) {
            cli_error("--p12 holds the certificate and the key: not with --cert or --key");
            return -1;
        }
        const struct {
            const char *opt, *path;
        } files[] = {{"--cert", o->cert_file}, {"--key", o->key_file}, {"--p12", o->p12_file}};
        for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
            FILE *f = files[i].path != NULL ? fopen(files[i].path, "rb") : NULL;
            if (files[i].path != NULL && f == NULL) {
                cli_error("%s %s: %s", files[i].opt, files[i].path, strerror(errno));
                return -1;
            }
            if (f != NULL)
                fclose(f);
        }
        if (o->key_file != NULL && o->cert_file == NULL) {
            cli_error("--key FILE goes with --cert FILE (the test scheme's --key takes established, always, "
                      "init-always, accept-always or never)");
            return -1;
        }
    } else {
        if (o->pku2u_option != NULL && strcmp(o->pku2u_option, "--key") != 0) {
            cli_error("%s is an option of pku2u, not of the %s scheme", o->pku2u_option, scheme_name(o->scheme));
            return -1;
        }
        if (o->key_arg != NULL) {
            int m = negoex_test_key_mode_parse(o->key_arg);
            if (m < 0) {
                cli_error("unknown key mode '%s' (established, always, init-always, accept-always, never)",
                          o->key_arg);
                return -1;
            }
            o->keys = (negoex_test_key_mode)m;
        }
    }
    if (o->optimistic < 0)
        o->optimistic = o->scheme != CLI_SCHEME_PKU2U;
    if ((o->napp != 0 || o->no_negoex) && o->raw) {
        cli_error("--app-mech and --no-negoex are SPNEGO options: not with --raw");
        return -1;
    }
    if (o->no_negoex && o->napp == 0) {
        cli_error("--no-negoex needs at least one --app-mech");
        return -1;
    }
    if (o->napp != 0 && o->app_secret == NULL) {
        cli_error("--app-mech needs --app-secret S");
        return -1;
    }
    return 0;
}

static void trace_line(void *ud, const char *line)
{
    fprintf(stderr, "%s %s\n", (const char *)ud, line);
}

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

/* rc: what creating s answered. On failure s (if made) is destroyed. */
static int add_scheme(negoex_context *ctx, negoex_scheme *s, int rc)
{
    if (rc == NEGOEX_OK) {
        rc = negoex_context_add_scheme(ctx, s);
        if (rc != NEGOEX_OK)
            s->cls->destroy(s);
    }
    return rc;
}

static int pku2u_scheme(const cli_session_opts *o, negoex_role role, negoex_pku2u_status *status,
                        negoex_context *ctx)
{
    negoex_pku2u_config pc;
    negoex_pku2u_config_init(&pc);
    pc.cert = o->cert;
    pc.key = o->pkey;
    pc.trust_anchors = o->anchors;
    pc.cert_file = o->p12_file != NULL ? o->p12_file : o->cert_file;
    pc.key_file = o->key_file;
    pc.password = o->password;
    pc.trust_file = o->ca_file;
    pc.trust_dir = o->ca_dir;
    pc.now = o->time;
    if (role == NEGOEX_ROLE_INITIATOR) {
        if (o->target_service != NULL)
            pc.target_service = o->target_service;
        pc.target_host = o->target_host;
        if (o->dh_group != 0)
            pc.dh_group = o->dh_group;
    } else {
        pc.host_name = o->host_name != NULL ? o->host_name : o->target_host;
        pc.service = o->target_service;
        if (o->dh_group != 0)
            pc.dh_groups_accepted =
                o->dh_group == NEGOEX_PKU2U_DH_MODP2 ? NEGOEX_PKU2U_ACCEPT_MODP2 : NEGOEX_PKU2U_ACCEPT_MODP14;
    }
    memset(status, 0, sizeof *status);
    pc.status = status;
    negoex_scheme *s = NULL;
    int rc = negoex_pku2u_scheme_new(&s, &pc, NULL);
    rc = add_scheme(ctx, s, rc);
    if (rc != NEGOEX_OK) {
        int code = status->error != 0 ? status->error : rc;
        if (status->what != NULL)
            cli_error("pku2u: %s: %s (%s)", negoex_error_name(code), negoex_strerror(code), status->what);
        else
            cli_error("pku2u: %s: %s", negoex_error_name(code), negoex_strerror(code));
        return -1;
    }
    return 0;
}

int cli_session_context(const cli_session_opts *o, negoex_role role, negoex_pku2u_status *status,
                        negoex_context **out)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.optimistic = o->optimistic < 0 ? o->scheme != CLI_SCHEME_PKU2U : o->optimistic;
    if (o->trace) {
        cfg.trace = trace_line;
        cfg.trace_ud = role == NEGOEX_ROLE_INITIATOR ? "initiator:" : "acceptor:";
    }
    negoex_context *ctx;
    int rc = negoex_context_new(&ctx, role, &cfg);
    if (rc != NEGOEX_OK) {
        cli_error("context: %s", negoex_strerror(rc));
        return -1;
    }
    if (o->scheme == CLI_SCHEME_PKU2U) {
        if (pku2u_scheme(o, role, status, ctx) != 0) {
            negoex_context_free(ctx);
            return -1;
        }
        *out = ctx;
        return 0;
    }
    if (o->scheme == CLI_SCHEME_NXTOY) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        nc.no_meta_data = o->no_meta;
        nc.force_mic = o->force_mic;
        negoex_scheme *s = NULL;
        rc = negoex_nxtoy_scheme_new(&s, &nc, NULL);
        rc = add_scheme(ctx, s, rc);
        if (rc != NEGOEX_OK) {
            cli_error("nxtoy: %s", negoex_strerror(rc));
            negoex_context_free(ctx);
            return -1;
        }
        *out = ctx;
        return 0;
    }
    static const char *const defaults[] = {NEGOEX_TEST_MECH1_OID, NEGOEX_TEST_MECH2_OID};
    const char *const *mechs = o->nmechs ? o->mechs : defaults;
    size_t n = o->nmechs ? o->nmechs : 2;
    for (size_t i = 0; i < n; i++) {
        negoex_test_scheme_config tc;
        negoex_test_scheme_config_init(&tc);
        tc.mech_oid = mechs[i];
        tc.hops = o->hops;
        tc.keys = o->keys;
        tc.no_meta_data = o->no_meta;
        tc.fail_query = same(mechs[i], o->fail_query);
        tc.fail_exchange = same(mechs[i], o->fail_exchange);
        tc.fail_step = same(mechs[i], o->fail_step);
        negoex_scheme *s = NULL;
        rc = negoex_test_scheme_new(&s, &tc, NULL);
        rc = add_scheme(ctx, s, rc);
        if (rc != NEGOEX_OK) {
            cli_error("mechanism %s: %s", mechs[i], negoex_strerror(rc));
            negoex_context_free(ctx);
            return -1;
        }
    }
    *out = ctx;
    return 0;
}

int cli_session_open(const cli_session_opts *o, negoex_role role, cli_session *s)
{
    memset(s, 0, sizeof *s);
    s->scheme = o->scheme;
    s->role = role;
    if (!o->no_negoex && cli_session_context(o, role, &s->status, &s->nx) != 0)
        return -1;
    if (o->raw)
        return 0;
    negoex_spnego_config sc;
    negoex_spnego_config_init(&sc);
    negoex_bytes offer[CLI_MAX_MECHS];
    for (size_t i = 0; i < o->noffer; i++)
        offer[i] = (negoex_bytes){o->offer[i], o->offer_len[i]};
    sc.other_mechs = offer;
    sc.other_mech_count = o->noffer;
    sc.negoex_position = o->negoex_position;
    sc.always_mic = o->always_mic;
    negoex_spnego_app_mech apps[CLI_MAX_MECHS];
    negoex_ntlmtoy_config_init(&s->toy);
    if (o->app_secret != NULL) {
        s->toy.secret = (const uint8_t *)o->app_secret;
        s->toy.secret_len = strlen(o->app_secret);
    }
    if (role == NEGOEX_ROLE_INITIATOR)
        s->toy.user = o->app_user != NULL ? o->app_user : "alice@contoso.test";
    else
        s->toy.expected_user = o->app_user;
    for (size_t i = 0; i < o->napp; i++)
        apps[i] = (negoex_spnego_app_mech){{o->app_oid[i], o->app_oid_len[i]}, negoex_ntlmtoy_mech(), &s->toy};
    sc.app_mechs = apps;
    sc.app_mech_count = o->napp;
    sc.acceptor_policy = o->app_policy;
    sc.late_fallback = o->late_fallback;
    sc.max_output_token_size = o->fragment_size;
    /* A side that fragments reassembles too (MS-SPNG 3.1.5.9); off otherwise. */
    sc.max_input_fragments = o->fragment_size != 0 ? NEGOEX_SPNEGO_REASSEMBLY_MAX_FRAGMENTS : 0;
    s->toy.unknown_user_retry = o->app_retry;
    sc.role = (int)role;
    if (o->trace) {
        sc.trace = trace_line;
        sc.trace_ud = role == NEGOEX_ROLE_INITIATOR ? "initiator:" : "acceptor:";
    }
    int rc = negoex_spnego_new(&s->sp, s->nx, &sc);
    if (rc != NEGOEX_OK) {
        cli_error("SPNEGO: %s", negoex_strerror(rc));
        negoex_context_free(s->nx);
        s->nx = NULL;
        return -1;
    }
    return 0;
}

int cli_session_step(cli_session *s, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len)
{
    if (s->sp != NULL)
        return negoex_spnego_step(s->sp, in, in_len, out, out_len);
    return negoex_context_step(s->nx, in, in_len, out, out_len);
}

void cli_session_last_error(const cli_session *s, negoex_error_info *e)
{
    if (s->sp != NULL)
        negoex_spnego_last_error(s->sp, e);
    else
        negoex_context_last_error(s->nx, e);
}

void cli_session_close(cli_session *s)
{
    if (s->sp != NULL)
        negoex_spnego_free(s->sp); /* frees nx too */
    else
        negoex_context_free(s->nx);
    memset(s, 0, sizeof *s);
}

negoex_scheme *cli_session_scheme(const cli_session *s)
{
    return s->nx != NULL ? negoex_context_selected_scheme(s->nx) : NULL;
}

/* Appends text that came from the peer: printable ASCII as is, the rest \xNN. */
static size_t append_untrusted(char *buf, size_t cap, size_t n, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p != '\0' && n + 5 < cap; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\')
            buf[n++] = (char)*p;
        else
            n += (size_t)snprintf(buf + n, cap - n, "\\x%02x", *p);
    }
    buf[n < cap ? n : cap - 1] = '\0';
    return n;
}

/* RFC 4120 / RFC 4556 names of the Kerberos errors PKU2U sends. */
static const char *krb_error_name(int32_t code)
{
    static const struct {
        int32_t code;
        const char *name;
    } names[] = {
        {7, "KDC_ERR_S_PRINCIPAL_UNKNOWN"},
        {14, "KDC_ERR_ETYPE_NOSUPP"},
        {16, "KDC_ERR_PADATA_TYPE_NOSUPP"},
        {24, "KDC_ERR_PREAUTH_FAILED"},
        {25, "KDC_ERR_PREAUTH_REQUIRED"},
        {31, "KRB_AP_ERR_BAD_INTEGRITY"},
        {36, "KRB_AP_ERR_BADMATCH"},
        {37, "KRB_AP_ERR_SKEW"},
        {40, "KRB_AP_ERR_MSG_TYPE"},
        {41, "KRB_AP_ERR_MODIFIED"},
        {50, "KRB_AP_ERR_INAPP_CKSUM"},
        {60, "KRB_ERR_GENERIC"},
        {62, "KDC_ERR_CLIENT_NOT_TRUSTED"},
        {64, "KDC_ERR_INVALID_SIG"},
        {65, "KDC_ERR_DH_KEY_PARAMETERS_NOT_ACCEPTED"},
        {68, "KDC_ERR_WRONG_REALM"},
        {71, "KDC_ERR_INVALID_CERTIFICATE"},
        {77, "KDC_ERR_INCONSISTENT_KEY_PURPOSE"},
        {79, "KDC_ERR_PA_CHECKSUM_MUST_BE_INCLUDED"},
        {81, "KDC_ERR_DIGEST_IN_SIGNED_DATA_NOT_ACCEPTED"},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (names[i].code == code)
            return names[i].name;
    return "?";
}

int cli_session_describe_error(const cli_session *s, int rc, char *buf, size_t cap)
{
    int code = rc;
    const negoex_pku2u_status *st = &s->status;
    if (s->scheme == CLI_SCHEME_PKU2U && rc == NEGOEX_ERR_SCHEME_FAILED && st->error < 0)
        code = st->error;
    size_t n = (size_t)snprintf(buf, cap, "%s: %s", negoex_error_name(code), negoex_strerror(code));
    if (n >= cap)
        return code;
    if (code == NEGOEX_ERR_PKU2U_KRB_ERROR) {
        /* What the acceptor said: its error code and e-text (untrusted text, escaped). */
        n += (size_t)snprintf(buf + n, cap - n, ": %d %s", (int)st->krb_error, krb_error_name(st->krb_error));
        if (n + 10 < cap && st->peer_text[0] != '\0') {
            n += (size_t)snprintf(buf + n, cap - n, ", e-text \"");
            n = append_untrusted(buf, cap, n, st->peer_text);
            if (n + 1 < cap)
                snprintf(buf + n, cap - n, "\"");
        }
        return code;
    }
    if (code != rc) {
        if (st->what != NULL)
            n += (size_t)snprintf(buf + n, cap - n, " (%s)", st->what);
        if (n < cap && st->krb_error != 0)
            snprintf(buf + n, cap - n, "; sent KRB-ERROR %d %s", (int)st->krb_error, krb_error_name(st->krb_error));
        return code;
    }
    negoex_error_info e;
    cli_session_last_error(s, &e);
    if (e.field != NULL)
        snprintf(buf + n, cap - n, " (%s, offset %zu)", e.field, e.offset);
    return code;
}

const char *cli_peer_kind_name(negoex_pku2u_name_kind kind)
{
    switch (kind) {
    case NEGOEX_PKU2U_PEER_UPN:
        return "UPN";
    case NEGOEX_PKU2U_PEER_DNS:
        return "DNS";
    case NEGOEX_PKU2U_PEER_SUBJECT:
        return "SUBJECT";
    case NEGOEX_PKU2U_PEER_KRB_NAME:
        return "KRB-NAME";
    default:
        return "?";
    }
}

char *cli_session_peer_name(const cli_session *s, negoex_pku2u_name_kind kind)
{
    negoex_scheme *sc = cli_session_scheme(s);
    size_t need = 0;
    if (sc == NULL || !negoex_scheme_is_pku2u(sc))
        return NULL;
    int rc = negoex_pku2u_peer_name(sc, kind, NULL, 0, &need);
    if ((rc != NEGOEX_OK && rc != NEGOEX_ERR_BUFFER_TOO_SMALL) || need == 0)
        return NULL;
    char *out = malloc(need);
    if (out == NULL || negoex_pku2u_peer_name(sc, kind, out, need, NULL) != NEGOEX_OK) {
        free(out);
        return NULL;
    }
    /* One line each: no control characters from a certificate. */
    for (char *p = out; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return out;
}
