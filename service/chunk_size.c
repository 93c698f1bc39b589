/* Implementation of chunk_size.h: halve on a timeout, double back when there is room. */
#include "chunk_size.h"

static long long clamp(long long n)
{
	if (n < CHUNK_SIZE_MIN)
		return CHUNK_SIZE_MIN;
	if (n > CHUNK_SIZE_MAX)
		return CHUNK_SIZE_MAX;
	return n;
}

long long chunk_size_next(long long chunk, bool ok, bool timed_out, uint64_t took_us,
			  uint64_t timeout_us)
{
	chunk = clamp(chunk);
	if (!ok)
		return timed_out ? clamp(chunk / 2) : chunk;
	if (timeout_us == 0 || took_us <= timeout_us / 4)
		return clamp(chunk * 2);
	return chunk;
}
