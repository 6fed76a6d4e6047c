/*
 * Kerberos crypto for PKU2U (internal): RFC 3961 simplified profile with the
 * RFC 3962 AES enctypes (17 aes128-cts-hmac-sha1-96, 18 aes256-cts-hmac-sha1-96),
 * and the RFC 4556 PKINIT octetstring2key.
 *
 * Every primitive is OpenSSL 3 libcrypto: AES (ECB for the RFC 3961 DK
 * blocks, CBC-CTS in mode CS3), HMAC-SHA1, PBKDF2, SHA-1, RAND. The only code
 * of our own is the profile glue, n-fold and the DK iteration over AES blocks
 * (what OpenSSL's KRB5KDF computes; its context cannot be duplicated in
 * OpenSSL 3.0, so it would fetch its cipher by name on every derivation).
 * Algorithms are fetched once per process, on first use (thread-safe).
 *
 * Conventions: 0 or a negative negoex_error; secrets on the stack are wiped
 * with OPENSSL_cleanse before return; integrity checks compare with
 * CRYPTO_memcmp; on failure no partial output is left behind (outputs are
 * zeroed and lengths set to 0).
 */
#ifndef NEGOEX_PKU2U_KRB_CRYPTO_H
#define NEGOEX_PKU2U_KRB_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include <negoex/negoex.h>

#define NEGOEX_KRB_MAX_KEY_LEN 32u   /* aes256 */
#define NEGOEX_KRB_BLOCK_LEN 16u     /* AES block, also the confounder length */
#define NEGOEX_KRB_CONFOUNDER_LEN 16u
#define NEGOEX_KRB_HMAC_LEN 12u      /* HMAC-SHA1-96 */
#define NEGOEX_KRB_ENC_OVERHEAD 28u  /* confounder + HMAC */

/* RFC 3961 5.3 derivation constant suffixes: usage (BE32) || one of these. */
#define NEGOEX_KRB_DK_CHECKSUM 0x99u  /* Kc */
#define NEGOEX_KRB_DK_ENCRYPT 0xAAu   /* Ke */
#define NEGOEX_KRB_DK_INTEGRITY 0x55u /* Ki */

/* RFC 3962 4: default string-to-key iteration count (s2kparams 00 00 10 00). */
#define NEGOEX_KRB_S2K_DEFAULT_ITERATIONS 4096u

/* A protocol key with its enctype. Wipe with negoex_krb_key_clear. */
typedef struct negoex_krb_key {
    int32_t enctype;
    size_t len;
    uint8_t bytes[NEGOEX_KRB_MAX_KEY_LEN];
} negoex_krb_key;

/* One piece of a message that is checksummed as the concatenation of all. */
typedef struct negoex_krb_chunk {
    const uint8_t *data;
    size_t len;
} negoex_krb_chunk;

/* Key length of an enctype (17: 16, 18: 32), 0 if unsupported. */
size_t negoex_krb_key_length(int32_t enctype);

/* Sets *key from raw bytes; NEGOEX_ERR_KRB_ENCTYPE for an enctype other than
 * 17/18, NEGOEX_ERR_KEY_SIZE for a wrong length. */
int negoex_krb_key_init(negoex_krb_key *key, int32_t enctype, const uint8_t *bytes, size_t len);

/* Wipes the key (safe on NULL). */
void negoex_krb_key_clear(negoex_krb_key *key);

/* Fresh random key of the enctype (RAND_priv_bytes; random-to-key is the
 * identity for AES). NEGOEX_ERR_RNG when the generator fails. */
int negoex_krb_key_random(negoex_krb_key *key, int32_t enctype);

/*
 * RFC 3961 5.1 n-fold: folds in_len bytes into out_len bytes (n = 8*out_len).
 * in_len and out_len must be 1..256. Not a cryptographic primitive: DK folds
 * its constant with it (checked against the RFC 3961 A.1 vectors).
 */
int negoex_krb_nfold(const uint8_t *in, size_t in_len, uint8_t *out, size_t out_len);

/*
 * RFC 3961 DK(base, constant) for AES: n-fold the constant to the block size,
 * encrypt it with the base key and re-encrypt until there are key-length
 * bytes (one AES block each from the zero IV), random-to-key = identity. The
 * result is OpenSSL's KRB5KDF's for constants up to 16 bytes (KRB5KDF refuses
 * longer ones; RFC 3961 does not). *out gets the base key's enctype and
 * length. constant: 1..256 bytes. out may alias base.
 */
int negoex_krb_dk(const negoex_krb_key *base, const uint8_t *constant, size_t constant_len,
                  negoex_krb_key *out);

/* DK(base, usage BE32 || which), which = NEGOEX_KRB_DK_{CHECKSUM,ENCRYPT,INTEGRITY}. */
int negoex_krb_usage_key(const negoex_krb_key *base, int32_t usage, uint8_t which, negoex_krb_key *out);

/* RFC 3961 random-to-key for AES: the identity on key-length bytes. */
int negoex_krb_random_to_key(int32_t enctype, const uint8_t *random, size_t random_len, negoex_krb_key *out);

/*
 * RFC 3962 string-to-key: DK(random-to-key(PBKDF2-HMAC-SHA1(password, salt,
 * iterations, key length)), "kerberos"). iterations must be >= 1 (RFC 3962
 * gives 0 the meaning 2^32, which we refuse: NEGOEX_ERR_INVALID_ARGUMENT).
 */
int negoex_krb_string_to_key(int32_t enctype, const uint8_t *password, size_t password_len, const uint8_t *salt,
                             size_t salt_len, uint32_t iterations, negoex_krb_key *out);

/*
 * RFC 4556 3.2.3.1: octetstring2key(x) with x = DHSharedSecret || n_c || n_k
 * (client and server DH nonces, either may be empty/NULL when 0 bytes):
 *   random-to-key(K-truncate(SHA1(0x00 || x) || SHA1(0x01 || x) || ...))
 * with a one-octet counter and K the enctype's key length.
 */
int negoex_krb_octetstring2key(int32_t enctype, const uint8_t *shared_secret, size_t shared_secret_len,
                               const uint8_t *client_nonce, size_t client_nonce_len, const uint8_t *server_nonce,
                               size_t server_nonce_len, negoex_krb_key *out);

/*
 * AES-CBC with ciphertext stealing as RFC 3962 5 defines it (last two blocks
 * always swapped: OpenSSL cts_mode "CS3"). key_len 16 or 32, iv 16 bytes or
 * NULL for zero, len >= 16 (one block is plain CBC). in and out may be the
 * same buffer (not partially overlapping). next_iv (NULL to ignore) receives
 * the cipher state for a following message: the next-to-last output block
 * when encrypting, the next-to-last input block when decrypting (the last
 * block when len == 16).
 */
int negoex_krb_aes_cts(int encrypt, const uint8_t *key, size_t key_len, const uint8_t *iv, const uint8_t *in,
                       size_t len, uint8_t *out, uint8_t *next_iv);

/* Ciphertext length for plain_len bytes: plain_len + 28; 0 for an
 * unsupported enctype or when it would overflow. */
size_t negoex_krb_encrypt_length(int32_t enctype, size_t plain_len);

/* Plaintext length of a ciphertext of cipher_len bytes (cipher_len - 28);
 * NEGOEX_ERR_KRB_MALFORMED when shorter than 28 bytes. */
int negoex_krb_decrypt_length(int32_t enctype, size_t cipher_len, size_t *plain_len);

/*
 * RFC 3961 simplified-profile encryption:
 *   out = AES-CTS(Ke, zero IV, confounder || plain) || HMAC-SHA1-96(Ki, confounder || plain)
 * Ke = DK(key, usage||0xAA), Ki = DK(key, usage||0x55), confounder 16 random
 * bytes (RAND_bytes). out_cap must be >= negoex_krb_encrypt_length; plain may
 * overlap out. NEGOEX_ERR_BUFFER_TOO_SMALL sets *out_len to the length needed.
 */
int negoex_krb_encrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *plain, size_t plain_len,
                       uint8_t *out, size_t out_cap, size_t *out_len);

/* Same with a caller-chosen confounder (known-answer tests; never reuse one
 * on the wire). */
int negoex_krb_encrypt_with_confounder(const negoex_krb_key *key, int32_t usage,
                                       const uint8_t confounder[NEGOEX_KRB_CONFOUNDER_LEN], const uint8_t *plain,
                                       size_t plain_len, uint8_t *out, size_t out_cap, size_t *out_len);

/*
 * Decrypts and verifies (HMAC compared in constant time). *out_len = cipher_len
 * - 28. Errors: NEGOEX_ERR_KRB_MALFORMED (shorter than 28 bytes),
 * NEGOEX_ERR_KRB_INTEGRITY (HMAC mismatch: wrong key or usage, or tampered),
 * NEGOEX_ERR_BUFFER_TOO_SMALL (*out_len = length needed), NEGOEX_ERR_NO_MEMORY.
 * Nothing is written to out unless the HMAC verifies; in is read completely
 * before that, so out may be in itself (decryption in place).
 */
int negoex_krb_decrypt(const negoex_krb_key *key, int32_t usage, const uint8_t *in, size_t in_len, uint8_t *out,
                       size_t out_cap, size_t *out_len);

/* As negoex_krb_decrypt, also returning the confounder (known-answer tests). */
int negoex_krb_decrypt_with_confounder(const negoex_krb_key *key, int32_t usage, const uint8_t *in, size_t in_len,
                                       uint8_t *out, size_t out_cap, size_t *out_len,
                                       uint8_t confounder[NEGOEX_KRB_CONFOUNDER_LEN]);

/* Checksum type of an enctype (17 -> 15, 18 -> 16), NEGOEX_ERR_KRB_ENCTYPE
 * for another. */
int32_t negoex_krb_enctype_cksumtype(int32_t enctype);

/* Checksum type of the key's enctype, or the key's error (negative). */
int32_t negoex_krb_cksumtype(const negoex_krb_key *key);

/*
 * RFC 3961 keyed checksum (hmac-sha1-96-aes128/256, types 15/16) over the
 * concatenation of n chunks: HMAC-SHA1(DK(key, usage||0x99), data)[0..11].
 * out receives NEGOEX_KRB_HMAC_LEN bytes. This is the one implementation the
 * NEGOEX VERIFY code (src/checksum.c) also uses.
 */
int negoex_krb_checksum(const negoex_krb_key *key, int32_t usage, const negoex_krb_chunk *chunks, size_t n,
                        uint8_t out[NEGOEX_KRB_HMAC_LEN]);

/* Verifies a checksum of the key's type over the chunks: 0, or
 * NEGOEX_ERR_CHECKSUM_MISMATCH (wrong length or value; constant time). */
int negoex_krb_checksum_verify(const negoex_krb_key *key, int32_t usage, const negoex_krb_chunk *chunks, size_t n,
                               const uint8_t *cksum, size_t cksum_len);

#endif
