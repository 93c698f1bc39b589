/* UTF-8 well-formedness, as PostgreSQL and jansson require it. Pure: no I/O, no
 * allocation (so a check never fails for want of memory). */
#ifndef FINREG_DOMAIN_UTF8_H
#define FINREG_DOMAIN_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/** True when the @a n bytes at @a text are well-formed UTF-8 (no overlong forms,
 *  surrogates or code points above U+10FFFF). */
bool utf8_valid(const void *text, size_t n);

#endif
