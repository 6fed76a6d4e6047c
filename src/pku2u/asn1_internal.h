/* Shared by the PKU2U ASN.1 decoders (asn1_*.c): the libtasn1 schemas, the
 * strict DER walk, and typed readers of decoded elements by libtasn1 path.
 * Not part of any API. */
#ifndef NEGOEX_PKU2U_ASN1_INTERNAL_H
#define NEGOEX_PKU2U_ASN1_INTERNAL_H

#include "pku2u/asn1.h"

#include <libtasn1.h>
#include <stddef.h>
#include <stdint.h>

/* One libtasn1 definitions tree per .asn module. */
enum asn1_module {
    ASN1_MOD_KRB5,   /* krb5.asn:   KerberosV5Spec2 */
    ASN1_MOD_PKINIT, /* pkinit.asn: KerberosV5-PK-INIT-SPEC */
    ASN1_MOD_CMS,    /* cms.asn:    CryptographicMessageSyntax2004 */
    ASN1_MOD_PKU2U,  /* pku2u.asn:  PKU2U */
    ASN1_MOD_COUNT_
};

#define ASN1_TYPE_KRB5(t) "KerberosV5Spec2." t
#define ASN1_TYPE_PKINIT(t) "KerberosV5-PK-INIT-SPEC." t
#define ASN1_TYPE_CMS(t) "CryptographicMessageSyntax2004." t
#define ASN1_TYPE_PKU2U(t) "PKU2U." t

/* Universal tags the readers expect. */
#define NX_TAG_INTEGER 0x02u
#define NX_TAG_BIT_STRING 0x03u
#define NX_TAG_OCTET_STRING 0x04u
#define NX_TAG_OID 0x06u
#define NX_TAG_GENERAL_STRING 0x1bu
#define NX_TAG_GENERALIZED_TIME 0x18u
#define NX_TAG_CTX_PRIM(n) ((uint8_t)(0x80u | (n))) /* [n] IMPLICIT primitive */

/* Element lookups answer present / absent / error. */
#define ASN1_ABSENT 1

#define ASN1_PATH_MAX 192

/* One decoded value: the libtasn1 structure over buf[0..len). */
typedef struct asn1_dec {
    asn1_node node;
    const uint8_t *buf;
    size_t len;
    negoex_error_info *err;
} asn1_dec;

/* Records code/offset/field in err (may be NULL); returns code. */
int asn1_fail(negoex_error_info *err, int code, size_t offset, const char *field);

/* Strict DER over buf[0..len): exactly one TLV, every nested TLV canonical
 * (see asn1.h). Offsets in err are relative to buf. */
int asn1_der_check(const uint8_t *buf, size_t len, const char *field, negoex_error_info *err);

/* asn1_der_check, then libtasn1 (strict DER) against type of module; on
 * success d owns a structure to release with asn1_dec_free. field names the
 * whole value in errors. */
int asn1_dec_init(asn1_dec *d, enum asn1_module module, const char *type, const uint8_t *buf, size_t len,
                  const char *field, negoex_error_info *err);
void asn1_dec_free(asn1_dec *d);

/* path = prefix "." name (or name when prefix is empty) into out; never
 * overflows (the paths are ours and short; too long yields "!", which names
 * no element). */
const char *asn1_path(char out[ASN1_PATH_MAX], const char *prefix, const char *name);
const char *asn1_pathf(char out[ASN1_PATH_MAX], const char *prefix, const char *name, size_t index);

/* Span [*start, *end) of the element at path, including its explicit tags.
 * 0 or ASN1_ABSENT. */
int asn1_span(const asn1_dec *d, const char *path, size_t *start, size_t *end);
/* The TLV inside n explicit tag wrappers of the element at path. */
int asn1_tlv(asn1_dec *d, const char *path, unsigned explicit_tags, const char *field, negoex_bytes *out);
/* Content octets of the primitive element at path whose own tag is tag (the
 * explicit wrappers around it are skipped). 0 or ASN1_ABSENT or an error. */
int asn1_prim(asn1_dec *d, const char *path, uint8_t tag, const char *field, negoex_bytes *out);
/* Offset of the TLV (single-octet tag) whose content view is content. */
size_t asn1_tlv_offset(const asn1_dec *d, negoex_bytes content);
/* Number of entries of the SEQUENCE OF / SET OF at path; TOO_LARGE over max,
 * DER_VALUE under min. */
int asn1_count(asn1_dec *d, const char *path, size_t min, size_t max, const char *field, size_t *out);

/* rc, with ASN1_ABSENT (a mandatory element missing) turned into DER_TAG. */
int asn1_required(asn1_dec *d, int rc, const char *field);

/* INTEGER readers with range checks (DER_VALUE outside). */
int asn1_int64(asn1_dec *d, const char *path, int64_t min, int64_t max, const char *field, int64_t *out);
int asn1_int32(asn1_dec *d, const char *path, const char *field, int32_t *out);
int asn1_uint32(asn1_dec *d, const char *path, const char *field, uint32_t *out);
int asn1_usec(asn1_dec *d, const char *path, const char *field, uint32_t *out);
/* The pvno / msg-type style "INTEGER (n)". */
int asn1_expect_int(asn1_dec *d, const char *path, int64_t want, const char *field);
/* KerberosTime: GeneralizedTime "YYYYMMDDHHMMSSZ". */
int asn1_ktime(asn1_dec *d, const char *path, const char *field, negoex_bytes *out);
/* KerberosFlags: BIT STRING of at least 32 bits; the first 32 as a number. */
int asn1_kflags(asn1_dec *d, const char *path, const char *field, uint32_t *out);
/* BIT STRING of whole octets (unused bits 0): the octets. */
int asn1_bits(asn1_dec *d, const char *path, const char *field, negoex_bytes *out);
/* Magnitude of a non-negative INTEGER content (one leading 00 dropped). */
int asn1_unsigned_magnitude(negoex_bytes content, size_t offset, const char *field, negoex_error_info *err,
                            negoex_bytes *out);
/* Name of the chosen alternative of the CHOICE at path into out. */
int asn1_choice(asn1_dec *d, const char *path, char *out, size_t cap, const char *field);

/* Kerberos building blocks, at path (asn1_krb.c). */
int asn1_read_principal(asn1_dec *d, const char *path, const char *field, negoex_krb_principal *out);
int asn1_read_enc_data(asn1_dec *d, const char *path, const char *field, negoex_krb_enc_data *out);
int asn1_read_key(asn1_dec *d, const char *path, const char *field, negoex_krb_keyblock *out);
int asn1_read_checksum(asn1_dec *d, const char *path, const char *field, negoex_krb_cksum *out);
/* ExternalPrincipalIdentifier list (pkinit.asn and pku2u.asn share it). */
int asn1_read_epis(asn1_dec *d, const char *path, const char *field, size_t *count,
                   negoex_krb_epi out[NEGOEX_KRB_MAX_CERTIFIERS]);

/* Decodes der as type of module and runs read(d, out, arg) over it. *out
 * (out_size bytes) is cleared first, and again on failure, so no
 * half-filled view survives. */
typedef int (*asn1_reader_fn)(asn1_dec *d, void *out, int arg);
int asn1_decode_with(enum asn1_module module, const char *type, const char *field, const uint8_t *der, size_t len,
                     void *out, size_t out_size, asn1_reader_fn read, int arg, negoex_error_info *err);

/* An error of a decoder run on a view inside d's value: re-based to d. */
int asn1_nested(asn1_dec *d, negoex_bytes view, int rc, const negoex_error_info *inner);

/* Tags of the elements directly inside the one TLV of buf (after the strict
 * DER walk): up to max first tag octets into tags, their number into *n. */
int asn1_child_tags(const uint8_t *buf, size_t len, uint8_t *tags, size_t max, size_t *n, const char *field,
                    negoex_error_info *err);

#define P(buf, prefix, name) asn1_path(buf, prefix, name)

/* rc of an optional reader: < 0 returns it, else has = present. */
#define OPT(expr, has)                                                                                                 \
    do {                                                                                                               \
        int opt_rc_ = (expr);                                                                                          \
        if (opt_rc_ < 0)                                                                                               \
            return opt_rc_;                                                                                            \
        has = opt_rc_ == NEGOEX_OK;                                                                                    \
    } while (0)

/* A mandatory element: any failure (absence included) returns. */
#define REQ(d, expr, field)                                                                                            \
    do {                                                                                                               \
        int req_rc_ = asn1_required((d), (expr), (field));                                                             \
        if (req_rc_ != NEGOEX_OK)                                                                                      \
            return req_rc_;                                                                                            \
    } while (0)

#endif
