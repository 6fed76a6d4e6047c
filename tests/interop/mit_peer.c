/*
 * mit_peer: the MIT krb5 side of an interop conversation.
 *
 *   mit_peer initiate|accept [--mech OID]... [--no-optimistic] [--target NAME]
 *   mit_peer bench N
 *
 * initiate/accept run MIT's SPNEGO (OID 1.3.6.1.5.5.2) through the system
 * libgssapi_krb5 and speak the line protocol of `negoex initiate|accept`:
 * each leg prints `TOKEN <hex>` (or `TOKEN -`) and then
 * `STATUS CONTINUE|COMPLETE|ERROR ...`; the peer's tokens are read one line
 * each (hex, `TOKEN ` prefix accepted, `STATUS` lines and `-` skipped). The
 * NEGOEX mechanisms come from MIT's mech config (GSS_MECH_CONFIG), e.g. the
 * negoex_gss module.
 *
 *   --mech OID        restrict SPNEGO to these mechanisms, in this order
 *                     (gss_set_neg_mechs on a SPNEGO credential, like the
 *                     -I/-A options of MIT's t_negoex.py driver)
 *   --no-optimistic   sets NEGOEX_NO_OPTIMISTIC_TOKEN, MIT's own knob
 *   --target NAME     initiator: the target, a host-based service name
 *                     (GSS_C_NT_HOSTBASED_SERVICE, default host@localhost;
 *                     PKU2U takes its sname from it, e.g. TERMSRV@localhost)
 *
 * Once established, stderr gets `mit_peer: established, flags F, mech OID`
 * and `mit_peer: peer NAME` (the acceptor's src_name, the initiator's
 * targ_name from gss_inquire_context; `-` when the mechanism names none).
 *
 * Exit status: 0 complete, 1 GSS failure (or the input ended first), 2 usage.
 *
 * bench N: N handshakes with both contexts in this process (SPNEGO + NEGOEX
 * through the module); mit_handshake_one() is one handshake, kept out of line
 * so callgrind can count its instructions.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>

#define EXIT_COMPLETE 0
#define EXIT_GSS 1
#define EXIT_USAGE 2
#define MAX_MECHS 16
#define OID_MAX 32
#define NOINLINE __attribute__((noinline))

static gss_OID_desc spnego_oid = {6, (void *)"\x2b\x06\x01\x05\x05\x02"};

/* LeakSanitizer builds: MIT's mechglue never frees the small handle
 * krb5int_open_plugin allocates for each module it loads (8 bytes each, once
 * per process). That one is MIT's; any other leak is still reported. */
const char *__lsan_default_suppressions(void);
__attribute__((used, visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:krb5int_open_plugin\n";
}

static void usage(FILE *f)
{
    fputs("usage: mit_peer initiate|accept [--mech OID]... [--no-optimistic] [--target NAME]\n"
          "       mit_peer bench N\n"
          "\n"
          "One side of a SPNEGO/NEGOEX conversation through MIT krb5's libgssapi_krb5,\n"
          "over the line protocol of `negoex initiate|accept`: prints `TOKEN <hex>` (or\n"
          "`TOKEN -`) and `STATUS CONTINUE|COMPLETE|ERROR <major>/<minor> <text>`, reads\n"
          "the peer's tokens one line each. NEGOEX mechanisms come from GSS_MECH_CONFIG.\n"
          "\n"
          "  --mech OID        offer/accept only these mechanisms, in this order\n"
          "  --no-optimistic   no optimistic token (sets NEGOEX_NO_OPTIMISTIC_TOKEN)\n"
          "  --target NAME     initiator: host-based service name of the target\n"
          "                    (default host@localhost)\n"
          "\n"
          "Once established, stderr gets `mit_peer: peer NAME`: the peer's name as the\n"
          "mechanism reports it (`-` when none).\n"
          "\n"
          "bench N: N in-process handshakes (both sides here), with the rate.\n",
          f);
}

/* ------------------------------------------------------------------------ */
/* OIDs, hex                                                                  */
/* ------------------------------------------------------------------------ */

/* Dotted text -> DER content octets. 0 on success. */
static int oid_encode(const char *text, uint8_t *out, size_t cap, size_t *len)
{
    unsigned long arcs[64];
    size_t n = 0;
    const char *p = text;
    while (*p != '\0') {
        char *end;
        if (*p < '0' || *p > '9' || n == sizeof arcs / sizeof arcs[0])
            return -1;
        arcs[n++] = strtoul(p, &end, 10);
        if (*end == '.' && end[1] != '\0')
            end++;
        else if (*end != '\0')
            return -1;
        p = end;
    }
    if (n < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] >= 40) || arcs[1] > 0xffffffUL)
        return -1;
    arcs[1] += 40 * arcs[0];
    *len = 0;
    for (size_t i = 1; i < n; i++) {
        uint8_t tmp[10];
        size_t k = 0;
        unsigned long v = arcs[i];
        do {
            tmp[k++] = (uint8_t)(v & 0x7f);
            v >>= 7;
        } while (v != 0);
        if (*len + k > cap)
            return -1;
        while (k > 0) {
            k--;
            out[(*len)++] = (uint8_t)(tmp[k] | (k != 0 ? 0x80 : 0));
        }
    }
    return 0;
}

static void print_oid(FILE *f, gss_const_OID oid)
{
    const uint8_t *p = oid->elements;
    unsigned long v = 0;
    int first = 1;
    for (OM_uint32 i = 0; i < oid->length; i++) {
        v = (v << 7) | (p[i] & 0x7fu);
        if (p[i] & 0x80)
            continue;
        if (first) {
            unsigned long a = v < 80 ? v / 40 : 2;
            fprintf(f, "%lu.%lu", a, v - 40 * a);
            first = 0;
        } else {
            fprintf(f, ".%lu", v);
        }
        v = 0;
    }
}

static void print_token(const gss_buffer_desc *tok)
{
    fputs("TOKEN ", stdout);
    if (tok->length == 0)
        fputc('-', stdout);
    for (size_t i = 0; i < tok->length; i++)
        printf("%02x", ((const uint8_t *)tok->value)[i]);
    fputc('\n', stdout);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads the next peer token into tok (malloc'ed). 1 = token, 0 = end of
 * input, -1 = a line that is not hex. */
static int read_token(gss_buffer_desc *tok)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    tok->value = NULL;
    tok->length = 0;
    while ((n = getline(&line, &cap, stdin)) >= 0) {
        char *p = line;
        while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' '))
            p[--n] = '\0';
        if (strncmp(p, "STATUS", 6) == 0)
            continue;
        if (strncmp(p, "TOKEN ", 6) == 0) {
            p += 6;
            n -= 6;
        }
        if (n == 0 || strcmp(p, "-") == 0)
            continue;
        if (n % 2 != 0)
            break;
        uint8_t *b = malloc((size_t)n / 2);
        if (b == NULL)
            break;
        for (ssize_t i = 0; i < n / 2; i++) {
            int hi = hexval(p[2 * i]), lo = hexval(p[2 * i + 1]);
            if (hi < 0 || lo < 0) {
                free(b);
                free(line);
                return -1;
            }
            b[i] = (uint8_t)(hi << 4 | lo);
        }
        free(line);
        tok->value = b;
        tok->length = (size_t)n / 2;
        return 1;
    }
    free(line);
    return n < 0 ? 0 : -1;
}

/* ------------------------------------------------------------------------ */
/* Status                                                                     */
/* ------------------------------------------------------------------------ */

/* Every message gss_display_status gives for one code, joined by "; ". */
static void print_display_status(FILE *f, OM_uint32 code, int type)
{
    OM_uint32 ctx = 0, min;
    int first = 1;
    do {
        gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
        if (GSS_ERROR(gss_display_status(&min, code, type, GSS_C_NO_OID, &ctx, &text)))
            break;
        fprintf(f, "%s%.*s", first ? "" : "; ", (int)text.length, (const char *)text.value);
        gss_release_buffer(&min, &text);
        first = 0;
    } while (ctx != 0);
}

static void print_error(FILE *f, OM_uint32 major, OM_uint32 minor)
{
    fprintf(f, "STATUS ERROR 0x%08x/%u ", (unsigned)major, (unsigned)minor);
    print_display_status(f, major, GSS_C_GSS_CODE);
    if (minor != 0) {
        fputs(": ", f);
        print_display_status(f, minor, GSS_C_MECH_CODE);
    }
    fputc('\n', f);
}

/* ------------------------------------------------------------------------ */
/* initiate / accept                                                          */
/* ------------------------------------------------------------------------ */

typedef struct peer_opts {
    int initiator;
    const char *target; /* host-based service name */
    gss_OID_desc mechs[MAX_MECHS];
    uint8_t mech_der[MAX_MECHS][OID_MAX];
    size_t nmechs;
} peer_opts;

/* A SPNEGO credential restricted to the listed mechanisms, in order. */
static OM_uint32 restricted_cred(OM_uint32 *minor, const peer_opts *o, gss_cred_id_t *cred)
{
    gss_OID_set_desc spnego_set = {1, &spnego_oid};
    gss_OID_set_desc neg = {o->nmechs, (gss_OID)o->mechs};
    OM_uint32 major = gss_acquire_cred(minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &spnego_set,
                                       o->initiator ? GSS_C_INITIATE : GSS_C_ACCEPT, cred, NULL, NULL);
    if (GSS_ERROR(major))
        return major;
    return gss_set_neg_mechs(minor, *cred, &neg);
}

/* `mit_peer: peer NAME`: the acceptor's src_name (*peer), or the target
 * name the initiator's context reports. */
static void print_peer(gss_ctx_id_t ctx, int initiator, gss_name_t *peer)
{
    OM_uint32 minor;
    if (initiator && GSS_ERROR(gss_inquire_context(&minor, ctx, NULL, peer, NULL, NULL, NULL, NULL, NULL)))
        *peer = GSS_C_NO_NAME;
    gss_buffer_desc text = GSS_C_EMPTY_BUFFER;
    if (*peer != GSS_C_NO_NAME && !GSS_ERROR(gss_display_name(&minor, *peer, &text, NULL)) && text.length > 0)
        fprintf(stderr, "mit_peer: peer %.*s\n", (int)text.length, (const char *)text.value);
    else
        fputs("mit_peer: peer -\n", stderr);
    gss_release_buffer(&minor, &text);
}

static int converse(const peer_opts *o)
{
    OM_uint32 major, minor, tmp;
    gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
    gss_name_t target = GSS_C_NO_NAME;
    gss_ctx_id_t ctx = GSS_C_NO_CONTEXT;
    gss_name_t peer = GSS_C_NO_NAME;
    int status = EXIT_GSS;

    if (o->initiator) {
        gss_buffer_desc name = {strlen(o->target), (void *)o->target};
        major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &target);
        if (GSS_ERROR(major)) {
            print_error(stdout, major, minor);
            goto done;
        }
    }
    if (o->nmechs > 0) {
        major = restricted_cred(&minor, o, &cred);
        if (GSS_ERROR(major)) {
            print_error(stdout, major, minor);
            goto done;
        }
    }

    for (int first = o->initiator;; first = 0) {
        gss_buffer_desc in = GSS_C_EMPTY_BUFFER, out = GSS_C_EMPTY_BUFFER;
        gss_OID mech = GSS_C_NO_OID;
        OM_uint32 flags = 0;
        if (!first) {
            int r = read_token(&in);
            if (r <= 0) {
                printf("STATUS ERROR %s\n",
                       r == 0 ? "end of input before the conversation completed" : "input is not a hex token");
                status = r == 0 ? EXIT_GSS : EXIT_USAGE;
                break;
            }
        }
        if (o->initiator)
            major = gss_init_sec_context(&minor, cred, &ctx, target, &spnego_oid, 0, GSS_C_INDEFINITE,
                                         GSS_C_NO_CHANNEL_BINDINGS, &in, &mech, &out, &flags, NULL);
        else
            major = gss_accept_sec_context(&minor, &ctx, cred, &in, GSS_C_NO_CHANNEL_BINDINGS, &peer, &mech, &out,
                                           &flags, NULL, NULL);
        free(in.value);
        if (GSS_ERROR(major)) {
            if (out.length != 0)
                print_token(&out); /* the reject / error token for the peer */
            print_error(stdout, major, minor);
            gss_release_buffer(&tmp, &out);
            break;
        }
        print_token(&out);
        gss_release_buffer(&tmp, &out);
        if (major & GSS_S_CONTINUE_NEEDED) {
            puts("STATUS CONTINUE");
            fflush(stdout);
            continue;
        }
        puts("STATUS COMPLETE");
        fprintf(stderr, "mit_peer: established, flags 0x%x, mech ", (unsigned)flags);
        if (mech != GSS_C_NO_OID)
            print_oid(stderr, mech);
        else
            fputs("-", stderr);
        fputc('\n', stderr);
        print_peer(ctx, o->initiator, &peer);
        status = EXIT_COMPLETE;
        break;
    }

done:
    fflush(stdout);
    gss_delete_sec_context(&tmp, &ctx, GSS_C_NO_BUFFER);
    gss_release_cred(&tmp, &cred);
    gss_release_name(&tmp, &target);
    gss_release_name(&tmp, &peer);
    return status;
}

static int peer_main(int argc, char **argv, int initiator)
{
    peer_opts o;
    memset(&o, 0, sizeof o);
    o.initiator = initiator;
    o.target = "host@localhost";
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--mech") == 0 && i + 1 < argc) {
            size_t len;
            if (o.nmechs == MAX_MECHS || oid_encode(argv[++i], o.mech_der[o.nmechs], OID_MAX, &len) != 0) {
                fprintf(stderr, "mit_peer: bad or too many --mech OIDs: %s\n", argv[i]);
                return EXIT_USAGE;
            }
            o.mechs[o.nmechs].length = (OM_uint32)len;
            o.mechs[o.nmechs].elements = o.mech_der[o.nmechs];
            o.nmechs++;
        } else if (strcmp(argv[i], "--target") == 0 && i + 1 < argc) {
            o.target = argv[++i];
        } else if (strcmp(argv[i], "--no-optimistic") == 0) {
            /* MIT's knob (negoex_ctx.c): any value disables the optimistic token. */
            if (setenv("NEGOEX_NO_OPTIMISTIC_TOKEN", "1", 1) != 0)
                return EXIT_USAGE;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_COMPLETE;
        } else {
            fprintf(stderr, "mit_peer: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    return converse(&o);
}

/* ------------------------------------------------------------------------ */
/* bench                                                                      */
/* ------------------------------------------------------------------------ */

#define BENCH_MAX_LEGS 64

static gss_name_t bench_target = GSS_C_NO_NAME;
static size_t bench_wire, bench_legs;
static OM_uint32 bench_major, bench_minor;

int mit_handshake_one(void);

/* One handshake: initiator and acceptor contexts in this process, tokens
 * passed directly until both sides are complete. 1 = established. */
NOINLINE int mit_handshake_one(void)
{
    OM_uint32 major = GSS_S_CONTINUE_NEEDED, minor = 0, tmp;
    gss_ctx_id_t ictx = GSS_C_NO_CONTEXT, actx = GSS_C_NO_CONTEXT;
    gss_buffer_desc tok = GSS_C_EMPTY_BUFFER;
    int init_done = 0, accept_done = 0, ok = 0;
    size_t wire = 0, legs = 0;

    while (legs < BENCH_MAX_LEGS) {
        gss_buffer_desc out = GSS_C_EMPTY_BUFFER;
        /* Initiator's turn: its first call, or a token for it. */
        major = gss_init_sec_context(&minor, GSS_C_NO_CREDENTIAL, &ictx, bench_target, &spnego_oid, 0,
                                     GSS_C_INDEFINITE, GSS_C_NO_CHANNEL_BINDINGS, &tok, NULL, &out, NULL, NULL);
        gss_release_buffer(&tmp, &tok);
        legs++;
        if (GSS_ERROR(major))
            goto fail;
        init_done = major == GSS_S_COMPLETE;
        wire += out.length;
        tok = out;
        if (tok.length == 0)
            break;
        if (accept_done)
            goto fail_major; /* a token after the acceptor finished */
        out = (gss_buffer_desc)GSS_C_EMPTY_BUFFER;
        major = gss_accept_sec_context(&minor, &actx, GSS_C_NO_CREDENTIAL, &tok, GSS_C_NO_CHANNEL_BINDINGS, NULL,
                                       NULL, &out, NULL, NULL, NULL);
        gss_release_buffer(&tmp, &tok);
        legs++;
        if (GSS_ERROR(major))
            goto fail;
        accept_done = major == GSS_S_COMPLETE;
        wire += out.length;
        tok = out;
        if (tok.length == 0)
            break;
        if (init_done)
            goto fail_major;
    }
    ok = init_done && accept_done;
    if (!ok)
        goto fail_major;
    bench_wire = wire;
    bench_legs = legs;
    goto done;
fail_major:
    major = GSS_S_FAILURE;
    minor = 0;
fail:
    bench_major = major;
    bench_minor = minor;
done:
    gss_release_buffer(&tmp, &tok);
    gss_delete_sec_context(&tmp, &ictx, GSS_C_NO_BUFFER);
    gss_delete_sec_context(&tmp, &actx, GSS_C_NO_BUFFER);
    return ok;
}

static int bench_main(int argc, char **argv)
{
    char *end;
    if (argc != 3)
        goto bad;
    unsigned long long n = strtoull(argv[2], &end, 10);
    if (*argv[2] == '\0' || *end != '\0' || n == 0)
        goto bad;
    OM_uint32 major, minor;
    gss_buffer_desc name = {strlen("host@localhost"), (void *)"host@localhost"};
    major = gss_import_name(&minor, &name, GSS_C_NT_HOSTBASED_SERVICE, &bench_target);
    if (GSS_ERROR(major)) {
        print_error(stderr, major, minor);
        return EXIT_GSS;
    }
    /* One untimed handshake loads the modules and the configuration. */
    int rc = EXIT_GSS;
    if (!mit_handshake_one())
        goto failed;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned long long k = 0; k < n; k++) {
        if (!mit_handshake_one())
            goto failed;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("iterations %llu\n", n);
    printf("handshakes_per_sec %.0f\n", secs > 0 ? (double)n / secs : 0.0);
    printf("legs_per_handshake %zu\n", bench_legs);
    printf("token_bytes %zu\n", bench_wire);
    rc = EXIT_COMPLETE;
    goto out;
failed:
    fputs("mit_peer bench: handshake failed: ", stderr);
    print_error(stderr, bench_major, bench_minor);
out:
    gss_release_name(&minor, &bench_target);
    return rc;
bad:
    usage(stderr);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    /* A peer that completed and exited before our last STATUS line (a shell
     * pipeline) is not a failure of ours. */
    signal(SIGPIPE, SIG_IGN);
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "initiate") == 0)
        return peer_main(argc, argv, 1);
    if (strcmp(argv[1], "accept") == 0)
        return peer_main(argc, argv, 0);
    if (strcmp(argv[1], "bench") == 0)
        return bench_main(argc, argv);
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return EXIT_COMPLETE;
    }
    usage(stderr);
    return EXIT_USAGE;
}
