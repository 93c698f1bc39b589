/* Implementation of exports.h: an atomic count and its cap. */
#include "exports.h"

#include <stdatomic.h>

#include "metrics.h"

static atomic_uint running;
static unsigned max_running; /* 0: no cap */

void exports_set_max(unsigned n)
{
	max_running = n;
}

bool exports_take(void)
{
	if (atomic_fetch_add(&running, 1) >= max_running && max_running != 0) {
		atomic_fetch_sub(&running, 1);
		return false;
	}
	metrics_exports(1);
	return true;
}

void exports_give(void)
{
	atomic_fetch_sub(&running, 1);
	metrics_exports(-1);
}
