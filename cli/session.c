#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <negoex/scheme_nxtoy.h>

#include "cli.h"

const char cli_session_usage[] =
    "  --raw                  bare NEGOEX tokens (default: SPNEGO, RFC 4178)\n"
    "  --http                 tokens as `Negotiate <base64>` lines (HTTP, RFC 4559)\n"
    "  --scheme NAME          auth scheme: test (MIT's negoextest; default) or nxtoy\n"
    "                         (MIT's toy module: real keys and SPNEGO MICs)\n"
    "  --force-mic            nxtoy asks SPNEGO for a mechListMIC\n"
    "  --always-mic           SPNEGO requires a mechListMIC either way\n"
    "  --offer OID            initiator: also list this mechanism (repeatable; e.g.\n"
    "                         1.2.840.48018.1.2.2 1.2.840.113554.1.2.2 for Windows' order)\n"
    "  --negoex-position N    initiator: NEGOEX's place among the offered mechanisms (0)\n"
    "  --mech-oid OID         a test-scheme mechanism, in preference order (repeatable;\n"
    "                         default " NEGOEX_TEST_MECH1_OID " " NEGOEX_TEST_MECH2_OID ")\n"
    "  --hops N               scheme round trips the initiator asks for (default 1)\n"
    "  --key MODE             established|always|init-always|accept-always|never\n"
    "  --meta none            send no metadata\n"
    "  --no-optimistic        no optimistic AP_REQUEST in the first token\n"
    "  --fail-query OID, --fail-exchange OID, --fail-step OID\n"
    "                         make that mechanism fail at that point (MIT's knobs)\n"
    "  --trace                one line per NEGOEX message on stderr\n";

void cli_session_defaults(cli_session_opts *o)
{
    memset(o, 0, sizeof *o);
    o->optimistic = 1;
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
    } else if (strcmp(a, "--scheme") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "test") == 0) {
            o->scheme = CLI_SCHEME_TEST;
        } else if (strcmp(v, "nxtoy") == 0) {
            o->scheme = CLI_SCHEME_NXTOY;
        } else {
            cli_error("unknown scheme '%s' (available: test, nxtoy)", v);
            return -1;
        }
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
    } else if (strcmp(a, "--key") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        int m = negoex_test_key_mode_parse(v);
        if (m < 0) {
            cli_error("unknown key mode '%s'", v);
            return -1;
        }
        o->keys = (negoex_test_key_mode)m;
    } else if (strcmp(a, "--meta") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "none") != 0) {
            cli_error("--meta takes `none`");
            return -1;
        }
        o->no_meta = 1;
    } else if (strcmp(a, "--mech-oid") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (o->nmechs == CLI_MAX_MECHS) {
            cli_error("at most %d mechanisms", CLI_MAX_MECHS);
            return -1;
        }
        o->mechs[o->nmechs++] = v;
    } else if (strcmp(a, "--fail-query") == 0) {
        if ((o->fail_query = value(argc, argv, i)) == NULL)
            return -1;
    } else if (strcmp(a, "--fail-exchange") == 0) {
        if ((o->fail_exchange = value(argc, argv, i)) == NULL)
            return -1;
    } else if (strcmp(a, "--fail-step") == 0) {
        if ((o->fail_step = value(argc, argv, i)) == NULL)
            return -1;
    } else {
        return 0;
    }
    return 1;
}

static void trace_line(void *ud, const char *line)
{
    fprintf(stderr, "%s %s\n", (const char *)ud, line);
}

static int same(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

int cli_session_context(const cli_session_opts *o, negoex_role role, negoex_context **out)
{
    negoex_config cfg;
    negoex_config_init(&cfg);
    cfg.optimistic = o->optimistic;
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
    if (o->scheme == CLI_SCHEME_NXTOY) {
        negoex_nxtoy_config nc;
        negoex_nxtoy_config_init(&nc);
        nc.no_meta_data = o->no_meta;
        nc.force_mic = o->force_mic;
        negoex_scheme *s;
        rc = negoex_nxtoy_scheme_new(&s, &nc, NULL);
        if (rc == NEGOEX_OK) {
            rc = negoex_context_add_scheme(ctx, s);
            if (rc != NEGOEX_OK)
                s->cls->destroy(s);
        }
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
        negoex_scheme *s;
        rc = negoex_test_scheme_new(&s, &tc, NULL);
        if (rc == NEGOEX_OK) {
            rc = negoex_context_add_scheme(ctx, s);
            if (rc != NEGOEX_OK)
                s->cls->destroy(s);
        }
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
    if (cli_session_context(o, role, &s->nx) != 0)
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
