/* Unit tests for crypto.c's digests: SHA-256 in pieces equals SHA-256 of the whole (the
 * Idempotency-Key digest hashes a batch body without copying it), known answers. */
#include "check.h"
#include "crypto.h"

static void test_sha256_of_known_texts(void)
{
	char out[65];

	CHECK(sha256_hex("abc", 3, out));
	CHECK_STR(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	CHECK(sha256_hex("", 0, out));
	CHECK_STR(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void test_pieces_hash_as_their_concatenation(void)
{
	const char *whole = "atomic=true\ndry_run=\n0\n{\"loans\":[{}]}";
	const void *parts[] = {"atomic=true\ndry_run=\n0\n", "", "{\"loans\":", "[{}]}"};
	size_t lens[] = {23, 0, 9, 5};
	char a[65], b[65];

	CHECK(sha256_hex(whole, strlen(whole), a));
	CHECK(sha256_hex_parts(parts, lens, 4, b));
	CHECK_STR(a, b);
	CHECK(sha256_hex_parts(parts, lens, 0, b));
	CHECK_STR(b, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	lens[3] = 4; /* one byte fewer: another digest */
	CHECK(sha256_hex_parts(parts, lens, 4, b));
	CHECK(strcmp(a, b) != 0);
}

int main(void)
{
	RUN(test_sha256_of_known_texts);
	RUN(test_pieces_hash_as_their_concatenation);
	return CHECK_SUMMARY();
}
