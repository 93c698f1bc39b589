/* Building replies: JSON bodies, the contract's error object, plain text, and extra
 * headers. Each request gets exactly one reply; the server queues it. */
#ifndef FINREG_REPLY_H
#define FINREG_REPLY_H

#include <jansson.h>

#include "db/db.h"
#include "errors.h"
#include "http/request.h"
#include "json/fields.h"

/** Makes every jansson allocation that fails count against the request being served on
 *  that thread: its reply, unless already an error of 500 or more, becomes 503 as
 *  reply_out_of_memory (a JSON answer is never sent short of a value that could not be
 *  allocated). Call once at start-up, before other threads use jansson. */
void reply_watch_allocations(void);

/** Replies @a status with @a body as JSON. Takes ownership of @a body (may be NULL, as
 *  jansson answers when memory runs out: then it answers 503 as reply_out_of_memory). */
void reply_json(struct request *req, unsigned status, json_t *body);

/**
 * Replies with the error object of the contract: {"error": {"code", "rule", "field",
 * "message", "request_id"}}. @a rule and @a field may be NULL (left out); @a fmt NULL
 * uses the error's default message. 503 also carries Retry-After.
 */
void reply_error(struct request *req, enum api_error e, const char *rule, const char *field,
		 const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/**
 * Replies 503 "unavailable" with Retry-After: the request could not get the memory it
 * needed. Never aborts; when not even that reply can be built the request is left
 * without one and the server closes only its connection.
 */
void reply_out_of_memory(struct request *req);

/** Replies with the field error @a err (422 or 400). */
void reply_field_error(struct request *req, const struct field_error *err);

/** Maps a database outcome that is not DB_OK to its reply (503, 409, 404, 500). */
void reply_db_error(struct request *req, enum db_rc rc);

/** Replies @a status with @a len bytes of @a text (malloc'd; ownership taken). A NULL
 *  @a text (an allocation that failed) answers 503 as reply_out_of_memory. */
void reply_text(struct request *req, unsigned status, const char *content_type, char *text,
		size_t len);

/** Replies @a status with static bytes (not copied, not freed). */
void reply_static(struct request *req, unsigned status, const char *content_type, const char *text,
		  size_t len);

/** Fills @a buf with up to @a max bytes of a streamed body: the count (> 0), 0 at the
 *  end, or -1 on an error (the connection is then closed mid-body). */
typedef long (*stream_fill_fn)(void *cls, char *buf, size_t max);

/**
 * Replies @a status with a body produced piece by piece by @a fill (chunked transfer
 * encoding). Each call of @a fill runs on the connection's own thread as the client
 * takes the bytes, so @a fill may wait on the database (stalling this connection only). @a
 * free_cls(cls) is called when the response is done or abandoned. Takes ownership of @a cls.
 */
void reply_stream(struct request *req, unsigned status, const char *content_type,
		  stream_fill_fn fill, void *cls, void (*free_cls)(void *cls));

/** Replies @a status with the @a size bytes of open file @a fd from offset 0, read in
 *  pieces as the client takes them (bounded memory). Takes ownership of @a fd (closed
 *  when the response is done or abandoned); then calls @a done (may be NULL), also when
 *  no reply could be made. */
void reply_fd(struct request *req, unsigned status, const char *content_type, int fd,
	      long long size, void (*done)(void));

/** Adds a header to the reply already made. */
void reply_header(struct request *req, const char *name, const char *value);

#endif
