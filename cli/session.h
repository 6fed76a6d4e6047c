/* Building a NEGOEX context from command-line options (initiate, accept, demo, bench). */
#ifndef NEGOEX_CLI_SESSION_H
#define NEGOEX_CLI_SESSION_H

#include <negoex/context.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>

#define CLI_MAX_MECHS 8

typedef enum cli_scheme_kind { CLI_SCHEME_TEST = 0, CLI_SCHEME_NXTOY } cli_scheme_kind;

typedef struct cli_session_opts {
    int raw;                 /* bare NEGOEX tokens instead of SPNEGO */
    int http;                /* tokens as `Negotiate <base64>` lines */
    cli_scheme_kind scheme;
    int force_mic;           /* nxtoy asks SPNEGO for a mechListMIC */
    int always_mic;          /* SPNEGO requires a mechListMIC */
    uint8_t offer[CLI_MAX_MECHS][64]; /* other mechanisms the initiator lists (DER) */
    size_t offer_len[CLI_MAX_MECHS];
    size_t noffer;
    size_t negoex_position;
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

/* One side of a conversation: SPNEGO over NEGOEX, or bare NEGOEX (--raw). */
typedef struct cli_session {
    negoex_context *nx;
    negoex_spnego *sp; /* NULL with --raw */
} cli_session;

int cli_session_open(const cli_session_opts *o, negoex_role role, cli_session *s);
int cli_session_step(cli_session *s, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len);
void cli_session_last_error(const cli_session *s, negoex_error_info *e);
void cli_session_close(cli_session *s);
#endif
