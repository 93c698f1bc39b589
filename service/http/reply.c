/* Implementation of reply.h on libmicrohttpd responses. */
#include "http/reply.h"

#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

#define RETRY_AFTER_SECONDS "2"
#define SHORT_OF_MEMORY     "the server is short of memory; retry later"
#define STREAM_BLOCK        (64 * 1024) /* what libmicrohttpd asks a fill for at a time */

/* The 503 body when even the error object cannot be built: no allocation but libmicrohttpd's. */
static const char short_of_memory_body[] =
    "{\"error\":{\"code\":\"unavailable\",\"message\":\"" SHORT_OF_MEMORY "\"}}";

/* Set on a thread when a jansson allocation fails there; read and cleared by the next reply
 * made on that thread, which is the reply of the request whose handler ran into it. */
static _Thread_local bool jansson_failed;

static void *watched_malloc(size_t n)
{
	void *p = malloc(n);

	if (p == NULL)
		jansson_failed = true;
	return p;
}

void reply_watch_allocations(void)
{
	json_set_alloc_funcs(watched_malloc, free);
}

/* Installs @a resp as the reply. A NULL @a resp (libmicrohttpd out of memory) leaves the
 * request without one: the server then closes just this connection. */
static void set_response(struct request *req, unsigned status, struct MHD_Response *resp,
			 const char *content_type)
{
	if (jansson_failed) { /* a JSON value the handler built or read may be missing */
		jansson_failed = false;
		req->out_of_memory = true;
	}
	if (resp == NULL) {
		LOG_WARN("request %s: out of memory creating a response", req->id);
		req->out_of_memory = true;
		return;
	}
	if (req->out_of_memory && status < 500 && req->response == NULL) {
		/* the handler acted on a value lost to an allocation failure: answer 503 instead */
		MHD_destroy_response(resp);
		reply_out_of_memory(req);
		return;
	}
	if (req->response != NULL) {
		LOG_BUG("second reply to %s %s (status %u ignored)", req->method, req->path,
			status);
		MHD_destroy_response(resp);
		return;
	}
	MHD_add_response_header(resp, "X-Request-Id", req->id);
	if (content_type != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	req->response = resp;
	req->status = status;
}

void reply_text(struct request *req, unsigned status, const char *content_type, char *text,
		size_t len)
{
	struct MHD_Response *resp;

	if (text == NULL) {
		reply_out_of_memory(req);
		return;
	}
	resp = MHD_create_response_from_buffer_with_free_callback(len, text, &free);
	if (resp == NULL)
		free(text);
	set_response(req, status, resp, content_type);
}

void reply_out_of_memory(struct request *req)
{
	req->out_of_memory = true;
	reply_error(req, ERR_UNAVAILABLE, NULL, NULL, SHORT_OF_MEMORY);
}

void reply_static(struct request *req, unsigned status, const char *content_type, const char *text,
		  size_t len)
{
	set_response(req, status,
		     MHD_create_response_from_buffer(len, (void *)text, MHD_RESPMEM_PERSISTENT),
		     content_type);
}

void reply_json(struct request *req, unsigned status, json_t *body)
{
	char *text;

	if (body == NULL) {
		reply_out_of_memory(req);
		return;
	}
	text = json_dumps(body, JSON_COMPACT | JSON_REAL_PRECISION(15));
	json_decref(body);
	if (text == NULL) {
		reply_out_of_memory(req);
		return;
	}
	reply_text(req, status, "application/json", text, strlen(text));
}

void reply_error(struct request *req, enum api_error e, const char *rule, const char *field,
		 const char *fmt, ...)
{
	char message[512];
	json_t *err, *body;
	char *text;

	if (fmt != NULL) {
		va_list ap;

		va_start(ap, fmt);
		vsnprintf(message, sizeof message, fmt, ap);
		va_end(ap);
	} else {
		snprintf(message, sizeof message, "%s", api_error_message(e));
	}
	if (rule != NULL)
		metrics_rejected(rule);
	if (e == ERR_INTERNAL)
		LOG_BUG("request %s %s %s answered 500: %s", req->id, req->method, req->path,
			message);
	err = json_pack("{s:s, s:s*, s:s*, s:s, s:s}", "code", api_error_code(e), "rule", rule,
			"field", field, "message", e == ERR_INTERNAL ? "internal error" : message,
			"request_id", req->id);
	if (err == NULL) /* a message or field quoting bytes that are not UTF-8: say less */
		err = json_pack("{s:s, s:s*, s:s, s:s}", "code", api_error_code(e), "rule", rule,
				"message", api_error_message(e), "request_id", req->id);
	body = err != NULL ? json_pack("{s:o}", "error", err) : NULL;
	text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text != NULL) {
		reply_text(req, api_error_status(e), "application/json", text, strlen(text));
	} else { /* out of memory: a fixed 503 (reply_json here could loop back) */
		req->out_of_memory = true;
		e = ERR_UNAVAILABLE;
		reply_static(req, api_error_status(e), "application/json", short_of_memory_body,
			     sizeof short_of_memory_body - 1);
	}
	if (e == ERR_UNAVAILABLE)
		reply_header(req, "Retry-After", RETRY_AFTER_SECONDS);
}

void reply_field_error(struct request *req, const struct field_error *err)
{
	reply_error(req, err->code, err->rule, err->code == ERR_UNAVAILABLE ? NULL : err->field,
		    "%s", err->message);
}

void reply_db_error(struct request *req, enum db_rc rc)
{
	switch (rc) {
	case DB_NOT_FOUND:
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, NULL);
		return;
	case DB_CONFLICT:
		reply_error(req, ERR_CONFLICT, NULL, NULL, NULL);
		return;
	case DB_UNAVAILABLE:
		if (db_pool_stopping())
			reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
				    "the server is stopping; retry later");
		else
			reply_error(req, ERR_UNAVAILABLE, NULL, NULL, NULL);
		return;
	case DB_BUSY:
		reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
			    "as many of these as the server runs at once are running; retry later");
		return;
	case DB_PENDING_MIGRATIONS:
		reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
			    "the database schema is older than this server; run finregd migrate");
		return;
	case DB_NO_MEMORY:
		reply_out_of_memory(req);
		return;
	case DB_READ_ONLY:
		reply_error(req, ERR_UNAVAILABLE, NULL, NULL,
			    "this instance's database is a read-only standby; send writes to an "
			    "instance on the primary");
		return;
	case DB_OK:
	case DB_ABORT:
	case DB_SERIALIZATION:
	case DB_ERROR:
		break;
	}
	reply_error(req, ERR_INTERNAL, NULL, NULL, "database outcome %d", (int)rc);
}

/* A streamed body. The content reader runs on the connection's own thread, so it calls
 * the fill at once (which may wait on the database: it stalls this connection only) and
 * the bytes go straight into libmicrohttpd's buffer, STREAM_BLOCK at a time. */
struct stream {
	stream_fill_fn fill;
	void *cls;
	void (*free_cls)(void *cls);
};

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *s = cls;
	long n;

	(void)pos;
	db_pool_join(); /* a fill that asks the pooled connections borrows one */
	n = s->fill(s->cls, buf, max);
	if (n > 0)
		return (ssize_t)n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void stream_free(void *cls)
{
	struct stream *s = cls;

	if (s->free_cls != NULL)
		s->free_cls(s->cls);
	free(s);
}

void reply_stream(struct request *req, unsigned status, const char *content_type,
		  stream_fill_fn fill, void *cls, void (*free_cls)(void *cls))
{
	struct stream *s = malloc(sizeof *s);
	struct MHD_Response *resp;

	if (s == NULL) {
		if (free_cls != NULL)
			free_cls(cls);
		reply_out_of_memory(req);
		return;
	}
	s->fill = fill;
	s->cls = cls;
	s->free_cls = free_cls;
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s,
						 stream_free);
	if (resp == NULL) {
		stream_free(s);
		reply_out_of_memory(req);
		return;
	}
	set_response(req, status, resp, content_type);
}

/* A file body read as the client takes it; @a done runs when the response is freed. */
struct fd_body {
	int fd;
	void (*done)(void);
};

static ssize_t fd_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct fd_body *b = cls;
	ssize_t n = pread(b->fd, buf, max, (off_t)pos);

	if (n > 0)
		return n;
	return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void fd_free(void *cls)
{
	struct fd_body *b = cls;

	close(b->fd);
	if (b->done != NULL)
		b->done();
	free(b);
}

void reply_fd(struct request *req, unsigned status, const char *content_type, int fd,
	      long long size, void (*done)(void))
{
	struct fd_body *b = malloc(sizeof *b);
	struct MHD_Response *resp;

	if (b == NULL) {
		close(fd);
		if (done != NULL)
			done();
		reply_out_of_memory(req);
		return;
	}
	b->fd = fd;
	b->done = done;
	resp = MHD_create_response_from_callback((uint64_t)size, STREAM_BLOCK, fd_read, b, fd_free);
	if (resp == NULL) {
		fd_free(b);
		reply_out_of_memory(req);
		return;
	}
	set_response(req, status, resp, content_type);
}

void reply_header(struct request *req, const char *name, const char *value)
{
	if (req->response == NULL) {
		if (!req->out_of_memory)
			LOG_BUG("reply_header(%s) before a reply", name);
		return;
	}
	MHD_add_response_header(req->response, name, value);
}
