/* One growable byte buffer for every text the service builds piece by piece (bodies,
 * CSV and JSON exports, metrics pages). It never aborts: an allocation failure or an
 * append past the optional cap returns false and leaves the buffer failed, so a caller
 * can append freely and check once (buf_take or b->failed) before it replies. */
#ifndef FINREG_BUF_H
#define FINREG_BUF_H

#include <stdbool.h>
#include <stddef.h>

/** A growable byte buffer. Zero-initialised it is empty and has no cap. @a data is
 *  NUL-terminated whenever it is not NULL (the NUL is not counted in @a len). */
struct buf {
	char *data;
	size_t len, cap; /* cap counts the NUL's byte too */
	size_t max;      /* most bytes @a len may reach; 0 means no cap */
	bool failed;     /* an append or reserve failed; sticky until buf_reset/buf_free */
};

/** Starts an empty buffer holding at most @a max bytes (0: no cap). Allocates nothing. */
void buf_init(struct buf *b, size_t max);

/* Every function below that returns bool fails at once on a buffer that has failed. */

/** Makes room for @a n more bytes (and the NUL) with one allocation of exactly that size
 *  when the buffer must grow. False, with the contents unchanged and b->failed set, when
 *  memory runs out or the cap would be passed. */
bool buf_reserve(struct buf *b, size_t n);

/** Appends @a n bytes at @a p (growing geometrically). False as buf_reserve. */
bool buf_append(struct buf *b, const void *p, size_t n);

/** Appends the string @a s. False as buf_reserve. */
bool buf_append_str(struct buf *b, const char *s);

/** Appends printf-style text. False as buf_reserve (or on a bad format). */
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Empties the buffer and clears b->failed, keeping its memory and b->max. */
void buf_reset(struct buf *b);

/** Hands the NUL-terminated contents to the caller (who frees them), their length in
 *  *len when @a len is not NULL; "" when nothing was appended. NULL when the buffer has
 *  failed or memory runs out. The buffer is empty and unfailed afterwards (b->max kept). */
char *buf_take(struct buf *b, size_t *len);

/** Frees the contents; the buffer is empty and unfailed afterwards (b->max kept). */
void buf_free(struct buf *b);

/** For unit tests only: the next @a n allocations of any buffer succeed and the one
 *  after fails; a negative @a n (the default) turns the failure off. Not thread-safe. */
void buf_test_fail_after(long n);

#endif
