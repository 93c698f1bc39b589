/* Small OpenSSL libcrypto helpers: SHA-256 fingerprints, random bytes, and reading a
 * PEM certificate's fingerprint for `finregd principal add`. */
#ifndef FINREG_CRYPTO_H
#define FINREG_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>

/** Lower-case hex SHA-256 of @a len bytes at @a data into @a out (65 bytes). False (logged)
 *  when OpenSSL fails, which it does only when memory runs out. */
bool sha256_hex(const void *data, size_t len, char out[65]) __attribute__((warn_unused_result));

/** SHA-256 of the concatenation of @a n pieces (@a parts[i], @a lens[i] bytes), as lower-case
 *  hex into @a out, without copying them together; false when OpenSSL fails. */
bool sha256_hex_parts(const void *const *parts, const size_t *lens, unsigned n, char out[65])
    __attribute__((warn_unused_result));

/** Writes @a nbytes random bytes as lower-case hex (2 * nbytes + 1 bytes) into @a out. */
void random_hex(size_t nbytes, char *out);

/** Reads the first certificate of PEM file @a path: SHA-256 of its DER into @a sha256 and
 *  its subject (one line) into @a subject. False with a message on stderr otherwise. */
bool cert_file_fingerprint(const char *path, char sha256[65], char *subject, size_t subject_len);

#endif
