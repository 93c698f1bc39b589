/* Implementation of buf.h: a realloc'd byte array with a NUL after its contents, an
 * optional cap, and a sticky failure flag instead of abort(). */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUF_FIRST_CAP 256

static long fail_after = -1; /* buf_test_fail_after(); -1: allocations never fail on purpose */

void buf_test_fail_after(long n)
{
	fail_after = n < 0 ? -1 : n;
}

/* Grows the allocation to exactly @a cap bytes (cap > b->cap). */
static bool grow_to(struct buf *b, size_t cap)
{
	char *grown;

	if (fail_after == 0) {
		b->failed = true;
		return false;
	}
	if (fail_after > 0)
		fail_after--;
	grown = realloc(b->data, cap);
	if (grown == NULL) {
		b->failed = true;
		return false;
	}
	if (b->data == NULL)
		grown[0] = '\0';
	b->data = grown;
	b->cap = cap;
	return true;
}

/* Makes room for @a n more bytes and the NUL: exactly that much when @a exact, else by
 * doubling (within the cap). False, with b->failed set, when it cannot; always false on a
 * buffer that has failed already, so its contents stay a prefix of what was appended. */
static bool ensure(struct buf *b, size_t n, bool exact)
{
	size_t need, cap;

	if (b->failed)
		return false;
	if (n > SIZE_MAX - 1 - b->len || (b->max != 0 && b->len + n > b->max)) {
		b->failed = true;
		return false;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : BUF_FIRST_CAP;
	while (!exact && cap < need && cap <= SIZE_MAX / 2)
		cap *= 2;
	if (exact || cap < need)
		cap = need;
	if (b->max != 0 && cap > b->max + 1)
		cap = b->max + 1;
	return grow_to(b, cap);
}

void buf_init(struct buf *b, size_t max)
{
	memset(b, 0, sizeof *b);
	b->max = max;
}

bool buf_reserve(struct buf *b, size_t n)
{
	return ensure(b, n, true);
}

bool buf_append(struct buf *b, const void *p, size_t n)
{
	if (!ensure(b, n, false))
		return false;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return true;
}

bool buf_append_str(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

bool buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return false;
	}
	if (!ensure(b, (size_t)n, false))
		return false;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return true;
}

void buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->data != NULL)
		b->data[0] = '\0';
}

char *buf_take(struct buf *b, size_t *len)
{
	char *text = NULL;

	if (!b->failed && buf_append(b, "", 0)) {
		text = b->data;
		if (len != NULL)
			*len = b->len;
		b->data = NULL;
	}
	buf_free(b);
	return text;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}
