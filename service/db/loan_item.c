/* Implementation of db/loan_item.h. Array literals: every element of a text or date
 * column is double-quoted with '"' and '\\' escaped, so that no value ("NULL", one with a
 * comma or a brace) is read as anything but itself; integers and booleans go bare. */
#include "db/loan_item.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json/json_out.h"

enum kind { K_NUMBER, K_BOOL, K_QUOTED };

/* How each SQL type is written: bare (numbers, booleans) or quoted. */
#define K_int     K_NUMBER
#define K_bigint  K_NUMBER
#define K_boolean K_BOOL
#define K_text    K_QUOTED
#define K_date    K_QUOTED

static const enum kind kinds[LI__COUNT] = {
#define X(id, key, type) [id] = K_##type,
#include "db/loan_item.def"
#undef X
};

static const char *const keys[LI__COUNT] = {
#define X(id, key, type) [id] = key,
#include "db/loan_item.def"
#undef X
};

void loan_item_init(struct loan_item *it)
{
	buf_init(&it->text, 0);
	for (int i = 0; i < LI__COUNT; i++)
		it->at[i] = -1;
}

bool loan_item_set(struct loan_item *it, enum loan_item_field f, const char *value)
{
	size_t at = it->text.len;

	if (value == NULL) {
		it->at[f] = -1;
		return !it->text.failed;
	}
	if (!buf_append(&it->text, value, strlen(value) + 1))
		return false;
	it->at[f] = (int)at;
	return true;
}

bool loan_item_set_int(struct loan_item *it, enum loan_item_field f, long long value)
{
	char v[24];

	snprintf(v, sizeof v, "%lld", value);
	return loan_item_set(it, f, v);
}

const char *loan_item_get(const struct loan_item *it, enum loan_item_field f)
{
	return it->at[f] < 0 || it->text.data == NULL ? NULL : it->text.data + it->at[f];
}

bool loan_item_copy(struct loan_item *dst, const struct loan_item *src)
{
	loan_item_init(dst);
	if (src->text.failed || !buf_append(&dst->text, src->text.data, src->text.len)) {
		buf_free(&dst->text);
		return false;
	}
	memcpy(dst->at, src->at, sizeof dst->at);
	return true;
}

void loan_item_free(struct loan_item *it)
{
	buf_free(&it->text);
	loan_item_init(it);
}

char *loan_item_json(const struct loan_item *it, int idx)
{
	struct buf b;

	buf_init(&b, 0);
	buf_printf(&b, "{\"idx\":%d", idx);
	for (int i = 0; i < LI__COUNT; i++) {
		const char *v = loan_item_get(it, (enum loan_item_field)i);

		if (i == LI_IDX)
			continue;
		buf_printf(&b, ",\"%s\":", keys[i]);
		if (v == NULL)
			buf_append_str(&b, "null");
		else if (kinds[i] == K_BOOL)
			buf_append_str(&b, v[0] == 't' ? "true" : "false");
		else if (kinds[i] == K_QUOTED)
			json_out_string(&b, v);
		else
			buf_append_str(&b, v);
	}
	buf_append_str(&b, "}");
	return it->text.failed ? (buf_free(&b), NULL) : buf_take(&b, NULL);
}

/* Appends @a v as one element of an array literal of kind @a k. */
static bool element(struct buf *b, enum kind k, const char *v)
{
	const char *p = v;

	if (v == NULL)
		return buf_append_str(b, "NULL");
	if (k == K_NUMBER || k == K_BOOL)
		return buf_append_str(b, v);
	buf_append(b, "\"", 1);
	while (*p != '\0') {
		size_t run = strcspn(p, "\"\\");

		buf_append(b, p, run);
		p += run;
		if (*p == '\0')
			break;
		buf_append(b, "\\", 1);
		buf_append(b, p++, 1);
	}
	return buf_append(b, "\"", 1);
}

bool loan_columns_add(struct loan_columns *c, const struct loan_item *it, int idx)
{
	char n[16];
	bool ok = !it->text.failed;

	snprintf(n, sizeof n, "%d", idx);
	for (int i = 0; i < LI__COUNT && ok; i++) {
		const char *v = i == LI_IDX ? n : loan_item_get(it, (enum loan_item_field)i);

		ok = buf_append(&c->col[i], c->n == 0 ? "{" : ",", 1) &&
		     element(&c->col[i], kinds[i], v);
	}
	c->n++;
	return ok;
}

bool loan_columns_finish(struct loan_columns *c, const char *params[LI__COUNT])
{
	bool ok = true;

	for (int i = 0; i < LI__COUNT; i++) {
		ok = buf_append_str(&c->col[i], c->n == 0 ? "{}" : "}") && ok;
		params[i] = c->col[i].data;
	}
	return ok;
}

void loan_columns_free(struct loan_columns *c)
{
	for (int i = 0; i < LI__COUNT; i++)
		buf_free(&c->col[i]);
	c->n = 0;
}
