/* Implementation of log.h: stderr diagnostics and stdout JSON access lines. Each line is
 * written with a single write(2) so lines from worker threads do not interleave. */
#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void log_now_rfc3339(char *out, unsigned len)
{
	struct timespec ts;
	struct tm tm;
	char base[24];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out, len, "%s.%03ldZ", base, ts.tv_nsec / 1000000);
}

uint64_t log_monotonic_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void log_msg(const char *level, const char *file, int line, const char *fmt, ...)
{
	char when[32], text[1024], out[1280];
	va_list ap;
	int n;

	log_now_rfc3339(when, sizeof when);
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	if (file != NULL)
		n = snprintf(out, sizeof out, "%s %s %s:%d: %s\n", when, level, file, line, text);
	else
		n = snprintf(out, sizeof out, "%s %s %s\n", when, level, text);
	if (n > 0)
		write_all(2, out, (size_t)n < sizeof out ? (size_t)n : sizeof out - 1);
}

/* A copy of @a s (may be NULL) with every byte outside printable ASCII written as \xNN,
 * so a request line carrying raw bytes that are not UTF-8 still gets its access line.
 * The caller frees. NULL when memory runs out. */
static char *printable_copy(const char *s)
{
	char *out, *o;

	if (s == NULL)
		return NULL;
	out = malloc(4 * strlen(s) + 1);
	if (out == NULL) /* the access line then leaves the field out */
		return NULL;
	for (o = out; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;

		if (c < 0x20 || c >= 0x7f)
			o += sprintf(o, "\\x%02x", c);
		else
			*o++ = (char)c;
	}
	*o = '\0';
	return out;
}

void log_access(const char *request_id, const char *principal, const char *method, const char *path,
		unsigned status, uint64_t micros)
{
	char when[32];
	char *m = printable_copy(method), *p = printable_copy(path);
	json_t *o;
	char *line;

	log_now_rfc3339(when, sizeof when);
	o = json_pack("{s:s, s:s?, s:s?, s:s?, s:s?, s:i, s:I}", "time", when, "request_id",
		      request_id, "principal", principal, "method", m, "path", p, "status",
		      (int)status, "us", (json_int_t)micros);
	free(m);
	free(p);
	if (o == NULL) {
		LOG_BUG("access line of request %s not written", request_id);
		return;
	}
	line = json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII);
	json_decref(o);
	if (line == NULL)
		return;
	size_t n = strlen(line);
	char *grown = realloc(line, n + 2);

	if (grown == NULL) {
		free(line);
		return;
	}
	line = grown;
	line[n] = '\n';
	write_all(1, line, n + 1);
	free(line);
}
