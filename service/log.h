/* Diagnostic logging to stderr (one line each, with time and level) and the JSON access
 * log to stdout. "Our bug" goes through LOG_BUG with file and line; client mistakes are
 * not logged here at all, only in the access log. */
#ifndef FINREG_LOG_H
#define FINREG_LOG_H

#include <stddef.h>
#include <stdint.h>

void log_msg(const char *level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define LOG_INFO(...) log_msg("info", NULL, 0, __VA_ARGS__)
#define LOG_WARN(...) log_msg("warn", NULL, 0, __VA_ARGS__)
#define LOG_BUG(...)  log_msg("bug", __FILE__, __LINE__, __VA_ARGS__)

/** Formats the current time as RFC 3339 UTC with milliseconds into @a out (>= 32 bytes). */
void log_now_rfc3339(char *out, unsigned len);

/** Microseconds on the monotonic clock. */
uint64_t log_monotonic_us(void);

/** Writes one access-log line (JSON) to stdout. Strings may be NULL. */
void log_access(const char *request_id, const char *principal, const char *method, const char *path,
		unsigned status, uint64_t micros);

#endif
