/* Building a NEGOEX context from command-line options (initiate, accept, demo, bench). */
#ifndef NEGOEX_CLI_SESSION_H
#define NEGOEX_CLI_SESSION_H

#include <negoex/context.h>
#include <negoex/scheme_test.h>

#define CLI_MAX_MECHS 8

typedef struct cli_session_opts {
    int raw;
    int trace;
    int optimistic;
    int no_meta;
    unsigned hops;
    negoex_test_key_mode keys;
    const char *mechs[CLI_MAX_MECHS];
    size_t nmechs;
    const char *fail_query, *fail_exchange, *fail_step; /* a mech OID, or NULL */
} cli_session_opts;

void cli_session_defaults(cli_session_opts *o);

/* Consumes one option at argv[*i] (and its value). Returns 1 if it was a
 * session option, 0 if not, -1 on a bad value (error printed). */
int cli_session_option(cli_session_opts *o, int argc, char **argv, int *i);

/* Usage lines for the session options. */
extern const char cli_session_usage[];

/* A context for role with the options' schemes; trace lines go to stderr
 * prefixed with the role when o->trace. Returns 0 or prints an error. */
int cli_session_context(const cli_session_opts *o, negoex_role role, negoex_context **out);
#endif
