#include "session.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

const char cli_session_usage[] =
    "  --scheme test          auth scheme (only `test`, MIT's negoextest, for now)\n"
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
    } else if (strcmp(a, "--trace") == 0) {
        o->trace = 1;
    } else if (strcmp(a, "--no-optimistic") == 0) {
        o->optimistic = 0;
    } else if (strcmp(a, "--scheme") == 0) {
        if ((v = value(argc, argv, i)) == NULL)
            return -1;
        if (strcmp(v, "test") != 0) {
            cli_error("unknown scheme '%s' (available: test)", v);
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
