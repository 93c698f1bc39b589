/* Implementation of crypto.h on OpenSSL 3 libcrypto. */
#include "crypto.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>

#include "log.h"

static void to_hex(const unsigned char *raw, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[raw[i] >> 4];
		out[2 * i + 1] = digits[raw[i] & 15];
	}
	out[2 * n] = '\0';
}

bool sha256_hex(const void *data, size_t len, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		LOG_WARN("EVP_Digest failed (out of memory?)");
		return false;
	}
	to_hex(md, 32, out);
	return true;
}

bool sha256_hex_parts(const void *const *parts, const size_t *lens, unsigned n, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1;

	for (unsigned i = 0; ok && i < n; i++)
		ok = EVP_DigestUpdate(ctx, parts[i], lens[i]) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32;
	EVP_MD_CTX_free(ctx);
	if (!ok) {
		LOG_WARN("SHA-256 failed (out of memory?)");
		return false;
	}
	to_hex(md, 32, out);
	return true;
}

void random_hex(size_t nbytes, char *out)
{
	unsigned char raw[64];

	if (nbytes > sizeof raw || RAND_bytes(raw, (int)nbytes) != 1) {
		LOG_BUG("RAND_bytes failed");
		abort();
	}
	to_hex(raw, nbytes, out);
}

bool cert_file_fingerprint(const char *path, char sha256[65], char *subject, size_t subject_len)
{
	FILE *f = fopen(path, "r");
	X509 *x = NULL;
	unsigned char *der = NULL;
	int len;
	bool ok = false;

	if (f == NULL) {
		perror(path);
		return false;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		fprintf(stderr, "%s: not a PEM certificate\n", path);
		goto out;
	}
	len = i2d_X509(x, &der);
	if (len <= 0) {
		fprintf(stderr, "%s: cannot encode certificate\n", path);
		goto out;
	}
	if (!sha256_hex(der, (size_t)len, sha256)) {
		fprintf(stderr, "%s: cannot hash certificate\n", path);
		goto out;
	}
	X509_NAME_oneline(X509_get_subject_name(x), subject, (int)subject_len);
	ok = true;
out:
	OPENSSL_free(der);
	X509_free(x);
	fclose(f);
	return ok;
}
