/*
 * `negoex certs --out DIR`: a test PKI shaped like Azure AD's peer-to-peer
 * one (negoex/testpki.h), written to DIR, and what was written: each file,
 * and for each certificate its subject, issuer, SANs, EKUs and validity.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <negoex/testpki.h>

#include "cli.h"

#define MAX_DAYS 36500

static void usage(FILE *f)
{
    fprintf(f,
            "usage: negoex certs --out DIR [--upn UPN] [--host HOST] [--bits N] [--days N]\n"
            "                    [--p12-password P] [--windows-ca]\n"
            "\n"
            "Generates a test PKI shaped like Azure AD's peer-to-peer one and writes it\n"
            "to DIR (created if missing; existing files of these names are replaced):\n"
            "  ca.pem                  the CA \"CN=MS-Organization-P2P-Access [YEAR]\": the\n"
            "                          trust anchor of both sides\n"
            "  user.pem, user.key      the initiator: SAN otherName UPN, EKU clientAuth\n"
            "  device.pem, device.key  the acceptor: SAN dNSName HOST, EKU serverAuth\n"
            "  user.p12, device.p12    the same as PKCS#12 with the CA (with --p12-password)\n"
            "Keys are unencrypted PEM (mode 0600): test material only.\n"
            "\n"
            "  --upn UPN           the user's UPN (default %s)\n"
            "  --host HOST         the device's host name or IP address (default %s)\n"
            "  --bits N            RSA key size, %d..%d (default %d)\n"
            "  --days N            validity of the user and device certificates in days\n"
            "                      (default: 1 hour and 1 day, as Azure AD issues them;\n"
            "                      the CA: 1 year, longer if a certificate outlives it)\n"
            "  --p12-password P    also write the .p12 files, protected with P (may be \"\")\n"
            "  --windows-ca        a CA exactly like the real P2P roots: only a subject key\n"
            "                      identifier, no basicConstraints/keyUsage (OpenSSL and\n"
            "                      strict verifiers then call it an invalid CA)\n"
            "Every notBefore is 5 minutes before now.\n",
            NEGOEX_TESTPKI_DEFAULT_UPN, NEGOEX_TESTPKI_DEFAULT_HOST, NEGOEX_TESTPKI_MIN_BITS,
            NEGOEX_TESTPKI_MAX_BITS, NEGOEX_TESTPKI_DEFAULT_BITS);
}

/* A decimal number in [min, max], or -1. */
static long parse_number(const char *s, long min, long max)
{
    char *end;
    if (s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    return v;
}

/* ------------------------------------------------------------------------ */
/* What a certificate says                                                   */
/* ------------------------------------------------------------------------ */

/* "CN=alice@contoso.test,CN=S-1-12-1-...,DC=<tenant>": RFC 2253 order (the
 * last RDN first, as Windows shows names), UTF-8 as is. */
static void print_name(FILE *f, const X509_NAME *name)
{
    BIO *b = BIO_new_fp(f, BIO_NOCLOSE);
    if (b == NULL)
        return;
    X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    BIO_free(b);
}

static void print_time(FILE *f, const ASN1_TIME *t)
{
    struct tm tm;
    char buf[32];
    if (t == NULL || !ASN1_TIME_to_tm(t, &tm) || strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        fputs("?", f);
    else
        fputs(buf, f);
}

static void print_string(FILE *f, const ASN1_STRING *s)
{
    fwrite(ASN1_STRING_get0_data(s), 1, (size_t)ASN1_STRING_length(s), f);
}

static void print_sans(FILE *f, X509 *x)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    if (gens == NULL)
        return;
    fputs("  san:      ", f);
    for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
        const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        if (i > 0)
            fputs(", ", f);
        if (g->type == GEN_DNS) {
            fputs("DNS:", f);
            print_string(f, g->d.dNSName);
        } else if (g->type == GEN_OTHERNAME && OBJ_obj2nid(g->d.otherName->type_id) == NID_ms_upn &&
                   g->d.otherName->value->type == V_ASN1_UTF8STRING) {
            fputs("UPN:", f);
            print_string(f, g->d.otherName->value->value.utf8string);
        } else {
            fputs("(other)", f);
        }
    }
    fputc('\n', f);
    GENERAL_NAMES_free(gens);
}

static void print_oid(FILE *f, const ASN1_OBJECT *o)
{
    char dotted[80];
    int nid = OBJ_obj2nid(o);
    OBJ_obj2txt(dotted, sizeof dotted, o, 1);
    if (nid != NID_undef)
        fprintf(f, "%s (%s)", OBJ_nid2sn(nid), dotted);
    else
        fputs(dotted, f);
}

static void print_ekus(FILE *f, X509 *x)
{
    EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
    if (eku == NULL)
        return;
    fputs("  eku:      ", f);
    for (int i = 0; i < sk_ASN1_OBJECT_num(eku); i++) {
        if (i > 0)
            fputs(", ", f);
        print_oid(f, sk_ASN1_OBJECT_value(eku, i));
    }
    fputc('\n', f);
    sk_ASN1_OBJECT_pop_free(eku, ASN1_OBJECT_free);
}

static void print_cert(FILE *f, const char *dir, const char *file, X509 *x, EVP_PKEY *key, int is_ca)
{
    fprintf(f, "%s/%s\n", dir, file);
    fputs("  subject:  ", f);
    print_name(f, X509_get_subject_name(x));
    fputs("\n  issuer:   ", f);
    print_name(f, X509_get_issuer_name(x));
    fputs("\n  serial:   ", f);
    const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
    cli_print_hex(f, ASN1_STRING_get0_data(serial), (size_t)ASN1_STRING_length(serial));
    fputs("\n  validity: ", f);
    print_time(f, X509_get0_notBefore(x));
    fputs(" .. ", f);
    print_time(f, X509_get0_notAfter(x));
    fputc('\n', f);
    fprintf(f, "  key:      RSA %d%s\n", EVP_PKEY_get_bits(key), is_ca ? " (kept in memory, not written)" : "");
    if (is_ca && (X509_get_extension_flags(x) & EXFLAG_BCONS))
        fputs("  ca:       basicConstraints CA:TRUE, keyUsage keyCertSign cRLSign\n", f);
    else if (is_ca)
        fputs("  ca:       subjectKeyIdentifier only, like the real P2P roots\n", f);
    print_sans(f, x);
    print_ekus(f, x);
}

/* ------------------------------------------------------------------------ */

static const char *option_of(const char *field)
{
    static const struct {
        const char *field;
        const char *option;
    } map[] = {{"upn", "--upn"}, {"host", "--host"}, {"key_bits", "--bits"},
               {"user_lifetime", "--days"}, {"device_lifetime", "--days"}};
    for (size_t i = 0; field != NULL && i < sizeof map / sizeof map[0]; i++)
        if (strcmp(field, map[i].field) == 0)
            return map[i].option;
    return NULL;
}

int cli_certs(int argc, char **argv)
{
    negoex_testpki_options o;
    const char *out = NULL, *password = NULL;
    negoex_testpki_options_init(&o);

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        if (strcmp(a, "--windows-ca") == 0) {
            o.windows_ca = 1;
            continue;
        }
        if (strcmp(a, "--out") != 0 && strcmp(a, "--upn") != 0 && strcmp(a, "--host") != 0 &&
            strcmp(a, "--bits") != 0 && strcmp(a, "--days") != 0 && strcmp(a, "--p12-password") != 0) {
            cli_error("unknown option '%s'", a);
            usage(stderr);
            return CLI_EXIT_USAGE;
        }
        if (i + 1 >= argc) {
            cli_error("%s needs a value", a);
            return CLI_EXIT_USAGE;
        }
        const char *v = argv[++i];
        if (strcmp(a, "--out") == 0) {
            out = v;
        } else if (strcmp(a, "--upn") == 0) {
            o.upn = v;
        } else if (strcmp(a, "--host") == 0) {
            o.host = v;
        } else if (strcmp(a, "--p12-password") == 0) {
            password = v;
        } else if (strcmp(a, "--bits") == 0) {
            long n = parse_number(v, NEGOEX_TESTPKI_MIN_BITS, NEGOEX_TESTPKI_MAX_BITS);
            if (n < 0) {
                cli_error("--bits takes a key size from %d to %d", NEGOEX_TESTPKI_MIN_BITS, NEGOEX_TESTPKI_MAX_BITS);
                return CLI_EXIT_USAGE;
            }
            o.key_bits = (int)n;
        } else {
            long n = parse_number(v, 1, MAX_DAYS);
            if (n < 0) {
                cli_error("--days takes a number of days from 1 to %d", MAX_DAYS);
                return CLI_EXIT_USAGE;
            }
            o.user_lifetime = o.device_lifetime = (int64_t)n * 86400;
        }
    }
    if (out == NULL || out[0] == '\0') {
        cli_error("--out DIR is required");
        usage(stderr);
        return CLI_EXIT_USAGE;
    }

    negoex_testpki *pki = NULL;
    negoex_error_info err = {0, 0, NULL};
    int rc = negoex_testpki_new(&o, time(NULL), &pki, &err);
    if (rc != NEGOEX_OK) {
        const char *opt = option_of(err.field);
        if (rc == NEGOEX_ERR_INVALID_ARGUMENT && opt != NULL) {
            cli_error("invalid %s value", opt);
            return CLI_EXIT_USAGE;
        }
        cli_error("cannot generate the PKI: %s (%s)", negoex_strerror(rc), err.field != NULL ? err.field : "?");
        return CLI_EXIT_INVALID;
    }
    rc = negoex_testpki_write(pki, out, password, &err);
    if (rc != NEGOEX_OK) {
        int e = errno;
        if (rc == NEGOEX_ERR_INVALID_ARGUMENT)
            cli_error("%s: %s: %s", out, err.field != NULL ? err.field : "cannot write", strerror(e));
        else
            cli_error("%s: %s (%s)", out, negoex_strerror(rc), err.field != NULL ? err.field : "?");
        negoex_testpki_free(pki);
        return CLI_EXIT_USAGE;
    }

    static const struct {
        negoex_testpki_entity which;
        const char *cert;
        const char *key;
        const char *p12;
    } rows[] = {
        {NEGOEX_TESTPKI_CA, NEGOEX_TESTPKI_CA_PEM, NULL, NULL},
        {NEGOEX_TESTPKI_USER, NEGOEX_TESTPKI_USER_PEM, NEGOEX_TESTPKI_USER_KEY, NEGOEX_TESTPKI_USER_P12},
        {NEGOEX_TESTPKI_DEVICE, NEGOEX_TESTPKI_DEVICE_PEM, NEGOEX_TESTPKI_DEVICE_KEY, NEGOEX_TESTPKI_DEVICE_P12},
    };
    printf("wrote a test PKI to %s\n", out);
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        X509 *x = negoex_testpki_get0_cert(pki, rows[i].which);
        EVP_PKEY *k = negoex_testpki_get0_key(pki, rows[i].which);
        print_cert(stdout, out, rows[i].cert, x, k, rows[i].which == NEGOEX_TESTPKI_CA);
        if (rows[i].key != NULL)
            printf("%s/%s\n  private key of %s (PKCS#8 PEM, unencrypted)\n", out, rows[i].key, rows[i].cert);
        if (rows[i].p12 != NULL && password != NULL)
            printf("%s/%s\n  PKCS#12: %s + %s + %s (password-protected)\n", out, rows[i].p12, rows[i].cert,
                   rows[i].key, NEGOEX_TESTPKI_CA_PEM);
    }
    negoex_testpki_free(pki);
    return CLI_EXIT_OK;
}
