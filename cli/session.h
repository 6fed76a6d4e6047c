/* Building a NEGOEX context from command-line options (initiate, accept, demo, bench). */
#ifndef NEGOEX_CLI_SESSION_H
#define NEGOEX_CLI_SESSION_H

#include <stdint.h>
#include <stdio.h>

#include <negoex/context.h>
#include <negoex/scheme_pku2u.h>
#include <negoex/scheme_test.h>
#include <negoex/spnego.h>
#include <negoex/spnego_mech_ntlmtoy.h>

#define CLI_MAX_MECHS 8

typedef enum cli_scheme_kind { CLI_SCHEME_TEST = 0, CLI_SCHEME_NXTOY, CLI_SCHEME_PKU2U } cli_scheme_kind;

typedef struct cli_session_opts {
    int raw;                 /* bare NEGOEX tokens instead of SPNEGO */
    int http;                /* tokens as `Negotiate <base64>` lines */
    cli_scheme_kind scheme;  /* resolved by cli_session_finish */
    int scheme_given;        /* --scheme was given */
    const char *test_option; /* the first option only the test scheme takes, or NULL */
    const char *pku2u_option; /* the first option only PKU2U takes, or NULL */
    int force_mic;           /* nxtoy asks SPNEGO for a mechListMIC */
    int always_mic;          /* SPNEGO requires a mechListMIC */
    uint8_t offer[CLI_MAX_MECHS][64]; /* other mechanisms the initiator lists (DER) */
    size_t offer_len[CLI_MAX_MECHS];
    size_t noffer;
    size_t negoex_position;
    int trace;
    int optimistic;          /* -1 until resolved: 1 for test / nxtoy, 0 (Windows' form) for PKU2U */
    int no_meta;
    unsigned hops;
    const char *key_arg;     /* --key: a test-scheme key mode or a PKU2U key file */
    negoex_test_key_mode keys;
    const char *mechs[CLI_MAX_MECHS];
    size_t nmechs;
    const char *fail_query, *fail_exchange, *fail_step; /* a mech OID, or NULL */

    /* PKU2U (negoex/scheme_pku2u.h). Files: */
    const char *cert_file;   /* --cert */
    const char *key_file;    /* --key (resolved) */
    const char *p12_file;    /* --p12 */
    const char *password;    /* --password */
    const char *ca_file;     /* --ca FILE */
    const char *ca_dir;      /* --ca DIR */
    /* Or objects (the demo's in-memory PKI), borrowed: */
    X509 *cert;
    EVP_PKEY *pkey;
    STACK_OF(X509) *anchors;
    const char *target_service; /* --target SERVICE/HOST; initiator: the target, acceptor: its own name */
    const char *target_host;
    char target_buf[256];
    const char *host_name;   /* acceptor --host */
    int64_t time;            /* --time: clock and certificate validation time; 0 = now */
    int dh_group;            /* --dh-group: initiator offers, acceptor accepts only it; 0 = default */

    /* SPNEGO application mechanisms (negoex/spnego_mech.h): --app-mech
     * ntlmtoy[:OID] (repeatable, preference order), their secret and user. */
    uint8_t app_oid[CLI_MAX_MECHS][64];
    size_t app_oid_len[CLI_MAX_MECHS];
    size_t napp;
    const char *app_secret;  /* --app-secret */
    const char *app_user;    /* --app-user (initiator; default alice@contoso.test); acceptor: the only one */
    int no_negoex;           /* --no-negoex: SPNEGO with the app mechs only */
    int app_policy;          /* --app-policy own|initiator (NEGOEX_SPNEGO_POLICY_*) */
    /* MS-SPNG rev 21.0 (docs/spnego-late-fallback.md). */
    int late_fallback;       /* --late-fallback */
    size_t fragment_size;    /* --fragment-size N: max_output_token_size (0 = whole tokens) */
    int app_retry;           /* --app-retry: acceptor's ntlmtoy fails an unknown user retryably */
} cli_session_opts;

void cli_session_defaults(cli_session_opts *o);

/* Consumes one option at argv[*i] (and its value). Returns 1 if it was a
 * session option, 0 if not, -1 on a bad value (error printed). */
int cli_session_option(cli_session_opts *o, int argc, char **argv, int *i);

/*
 * After the options: picks the scheme (--scheme, else the one whose options
 * were given, else dflt), resolves --key and the optimistic default, and
 * checks the options fit the scheme. Returns 0, or -1 after printing an error.
 */
int cli_session_finish(cli_session_opts *o, cli_scheme_kind dflt);
/* PKU2U needs our certificate and trust anchors given (the demo makes its
 * own); -1 with a message naming cmd otherwise. */
int cli_session_need_identity(const cli_session_opts *o, const char *cmd);

/* Usage lines for the session options. */
extern const char cli_session_usage[];

/* One side of a conversation: SPNEGO over NEGOEX, or bare NEGOEX (--raw). */
typedef struct cli_session {
    negoex_context *nx;
    negoex_spnego *sp; /* NULL with --raw */
    cli_scheme_kind scheme;
    negoex_role role;
    negoex_pku2u_status status; /* PKU2U: the last failure (the scheme writes it) */
    negoex_ntlmtoy_config toy;  /* the app mechs' configuration (outlives sp) */
} cli_session;

/* A context for role with the options' schemes; trace lines go to stderr
 * prefixed with the role when o->trace. status: where a PKU2U scheme reports
 * failures (must outlive the context). Returns 0 or prints an error. */
int cli_session_context(const cli_session_opts *o, negoex_role role, negoex_pku2u_status *status,
                        negoex_context **out);

int cli_session_open(const cli_session_opts *o, negoex_role role, cli_session *s);
int cli_session_step(cli_session *s, const uint8_t *in, size_t in_len, const uint8_t **out, size_t *out_len);
void cli_session_last_error(const cli_session *s, negoex_error_info *e);
void cli_session_close(cli_session *s);

/* The negotiated scheme once there is one, else NULL. */
negoex_scheme *cli_session_scheme(const cli_session *s);

/*
 * The most precise error for a failed step rc: a PKU2U failure
 * (SCHEME_FAILED) is reported as what the scheme says (CERT_UNTRUSTED,
 * PKU2U_KRB_ERROR, ...). Writes "NAME: text" plus any detail (what failed,
 * the Kerberos error, the peer's e-text, the field and offset of a rejected
 * token) into buf and returns that error code.
 */
int cli_session_describe_error(const cli_session *s, int rc, char *buf, size_t cap);

/* PKU2U: the peer's name of that kind, malloc'd, or NULL when there is none. */
char *cli_session_peer_name(const cli_session *s, negoex_pku2u_name_kind kind);
/* "UPN", "DNS", "SUBJECT", "KRB-NAME". */
const char *cli_peer_kind_name(negoex_pku2u_name_kind kind);
#endif
