/*
 * The negoex tool: shared declarations for the subcommands.
 *
 * Adding a subcommand = one cli/<name>.c with an `int cli_<name>(int, char **)`
 * declared here + one row in the table in main.c. The tool only uses the
 * public API (the headers in include/negoex/).
 */
#ifndef NEGOEX_CLI_H
#define NEGOEX_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* Exit codes shared by every subcommand. */
#define CLI_EXIT_OK 0
#define CLI_EXIT_INVALID 1 /* the input was read but is not acceptable */
#define CLI_EXIT_USAGE 2   /* bad options, unreadable input, I/O failures */

#if defined(__GNUC__) || defined(__clang__)
#define CLI_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define CLI_PRINTF(f, a)
#endif

/* Subcommand handler: argv[0] is the subcommand name; returns an exit code. */
typedef int (*cli_handler)(int argc, char **argv);

int cli_decode(int argc, char **argv);
int cli_initiate(int argc, char **argv);
int cli_accept(int argc, char **argv);
int cli_demo(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_certs(int argc, char **argv);

/* "negoex: error: <message>\n" on stderr (util.c). */
void cli_error(const char *fmt, ...) CLI_PRINTF(1, 2);

/* ------------------------------------------------------------------------ */
/* Input (input.c)                                                          */
/* ------------------------------------------------------------------------ */

/* Caps what we hold in memory: a token is never near this, a runaway pipe may be. */
#define CLI_INPUT_MAX ((size_t)64 * 1024 * 1024)

typedef enum cli_input_format {
    CLI_INPUT_BINARY = 0,
    CLI_INPUT_HEX,
    CLI_INPUT_BASE64
} cli_input_format;

typedef struct cli_buffer {
    uint8_t *data; /* malloc'd; may be NULL when len == 0 */
    size_t len;
} cli_buffer;

/* "binary", "hex", "base64". */
const char *cli_input_format_name(cli_input_format fmt);
/* "hmac-sha1-96-aes128" / "hmac-sha1-96-aes256", NULL for other checksum types. */
const char *cli_checksum_type_name(uint32_t type);

/*
 * Reads all of path ("-" or NULL = stdin), at most CLI_INPUT_MAX bytes, as is.
 * Returns 0, or -1 after printing an error with cli_error().
 */
int cli_read_raw(const char *path, cli_buffer *out);

/*
 * Guesses how data is encoded: "NEGOEXTS" first => binary; else only hex
 * digits/whitespace/colons with an even digit count => hex; else only base64
 * characters/whitespace (and well-formed) => base64; else binary.
 */
cli_input_format cli_detect_format(const uint8_t *data, size_t len);

/* Decodes buf in place according to fmt. Returns 0, or -1 if it is not that encoding. */
int cli_decode_in_place(cli_buffer *buf, cli_input_format fmt);

/*
 * cli_read_raw + cli_detect_format + cli_decode_in_place: the token bytes of
 * a file or stdin. fmt (may be NULL) receives the detected encoding.
 * Returns 0, or -1 after printing an error.
 */
int cli_read_input(const char *path, cli_buffer *out, cli_input_format *fmt);

/*
 * Decodes one line of hex (whitespace and colons ignored, any case) into a
 * malloc'd buffer (*out is NULL when *out_len is 0). Returns 0, or -1 on a
 * non-hex character, an odd digit count or no memory; nothing is allocated then.
 */
int cli_hex_decode(const char *text, size_t len, uint8_t **out, size_t *out_len);

void cli_buffer_free(cli_buffer *buf);

/*
 * HTTP Negotiate (RFC 4559, 4178): whether data/len is one header line
 * "Negotiate <base64>", optionally after "Authorization:", "WWW-Authenticate:",
 * "Proxy-Authorization:" or "Proxy-Authenticate:" (names and the scheme
 * case-insensitive; whitespace and CRLF around tolerated). Returns 1 with
 * the value's place (trimmed, possibly empty) in *off / *value_len, else 0.
 */
int cli_http_negotiate_value(const uint8_t *data, size_t len, size_t *off, size_t *value_len);

/*
 * The token bytes of a file or stdin for `negoex decode`: one HTTP Negotiate
 * header line (its base64 value), else what cli_read_input gives. Returns
 * CLI_EXIT_OK, or after printing an error CLI_EXIT_USAGE (unreadable input)
 * or CLI_EXIT_INVALID (a Negotiate header whose value is not base64).
 */
int cli_read_token(const char *path, cli_buffer *out);

/* ------------------------------------------------------------------------ */
/* Output helpers (util.c)                                                  */
/* ------------------------------------------------------------------------ */

/* Lowercase hex, no separators. */
void cli_print_hex(FILE *f, const uint8_t *data, size_t len);

/* Standard base64 with padding, no line breaks. */
void cli_print_base64(FILE *f, const uint8_t *data, size_t len);

/* ------------------------------------------------------------------------ */
/* decode: the NEGOEX half (decode.c), reused by the SPNEGO half            */
/* (decode_spnego.c)                                                        */
/* ------------------------------------------------------------------------ */

struct negoex_message;
struct negoex_error_info;

/* "<indent><label>: N bytes <hex>", or the hex wrapped on lines one level deeper. */
void cli_text_bytes(FILE *f, const char *indent, const char *label, const uint8_t *data, size_t len);

/*
 * Validates and parses every NEGOEX message of data/len into *msgs
 * (malloc'd, *count entries). Returns 0, or a negative codec code with
 * *info filled (offsets relative to data).
 */
int cli_negoex_collect(const uint8_t *data, size_t len, struct negoex_message **msgs, size_t *count,
                       struct negoex_error_info *info);

/* The text decode of messages, every line after indent. Returns 0 or a negative code. */
int cli_negoex_print_text(FILE *f, const char *indent, const struct negoex_message *msgs, size_t count);

/* The JSON array of messages ("[...]", no newline after). Returns 0 or a negative code. */
int cli_negoex_print_json_array(FILE *f, const struct negoex_message *msgs, size_t count);

/* The one stderr line of a rejected token: "NAME: text in FIELD (offset N)". */
void cli_report_codec_error(int code, const struct negoex_error_info *info);

/* The stderr line for an accessor failing on validated data (a library bug). */
void cli_report_accessor_failure(int code);

/* 1 if data/len looks like a SPNEGO token: starts with 60 (GSS framing),
 * a0 (NegTokenInit/NegTokenInit2) or a1 (NegTokenResp). */
int cli_spnego_detect(const uint8_t *data, size_t len);

/*
 * Parses a SPNEGO token and its inner NEGOEX token, if any, then prints them
 * (text or JSON) to f. Nothing is printed unless everything parsed. Returns
 * an exit code (CLI_EXIT_INVALID after the one error line).
 */
int cli_decode_spnego(FILE *f, const uint8_t *data, size_t len, int json);
/* The same; late_fallback reads supportedMechs [4] strictly (else a token
 * that parses only with it is still shown); prefix (may be NULL) is printed
 * first once the token checked: text as is, JSON inside the object before
 * "spnego" (it must end with ", "). */
int cli_decode_spnego_ex(FILE *f, const uint8_t *data, size_t len, int json, int late_fallback,
                         const char *prefix);
/* `negoex decode --fragments`: frags[0..count) are the fragments of one
 * SPNEGO token (MS-SPNG 3.1.5.6-3.1.5.11), reassembled then decoded. Returns
 * an exit code (CLI_EXIT_INVALID after the one error line). */
int cli_decode_spnego_fragments(FILE *f, const cli_buffer *frags, size_t count, int json, int late_fallback);

/* A GeneralString in double quotes: printable ASCII as is, " and \ escaped,
 * other bytes \xNN (text) or \u00NN (JSON: bytes read as Latin-1). */
void cli_quoted_string(FILE *f, const uint8_t *s, size_t len, int json);

/* ------------------------------------------------------------------------ */
/* decode: the PKU2U half (decode_pku2u.c), through negoex/pku2u.h          */
/* ------------------------------------------------------------------------ */

/*
 * For an AP_REQUEST / CHALLENGE / INITIATOR_META_DATA / ACCEPTOR_META_DATA
 * message of the PKU2U auth scheme: its Exchange payload decoded, as the
 * JSON members `, "exchange_decoded": {...}` or, when the payload does not
 * decode, `, "exchange_error": {...}`; as text, the tree (or the reason) on
 * lines under the message's fields (indent = the message's prefix). Prints
 * nothing for any other message.
 */
void cli_pku2u_exchange_json(FILE *f, const struct negoex_message *m);
void cli_pku2u_exchange_text(FILE *f, const char *indent, const struct negoex_message *m);

/*
 * `negoex decode --as krb` (metadata 0: a PKU2U GSS token) and
 * `--as pku2u-metadata` (metadata 1: a metadata payload): prints it (text or
 * {"krb": {...}} / {"pku2u_metadata": {...}}) or, if it does not decode,
 * nothing and one error line. Returns an exit code.
 */
int cli_decode_pku2u(FILE *f, const uint8_t *data, size_t len, int json, int metadata);

#endif
