/* GET /dashboard/ and /dashboard/{file}: the regulator's dashboard, static files read from
 * FINREG_WEB_DIR (the build's build/web by default). No credential is needed for the page;
 * the data calls it makes go to /v1 with a bearer token. A file name is one path segment of
 * [A-Za-z0-9._-] that starts with a letter or digit, so nothing outside the directory can be
 * named; symbolic links are not followed; only the media types below are served. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "handlers/handlers.h"
#include "http/reply.h"
#include "log.h"

#define MAX_NAME   64
#define MAX_FILE   (8u * 1024 * 1024)
#define SAFE_CHARS "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-"

/* Scripts and styles from the page's own origin only; ECharts writes inline style
 * attributes into its tooltips, hence 'unsafe-inline' for styles (never for scripts). */
#define CSP                                                                                        \
	"default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "                \
	"img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; base-uri 'none'; "       \
	"form-action 'none'; frame-ancestors 'none'"

static const char *web_dir = "build/web";

void dashboard_set_dir(const char *dir)
{
	if (dir != NULL && dir[0] != '\0')
		web_dir = dir;
}

static const struct {
	const char *ext;
	const char *type;
} media_types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".json", "application/json"},
};

/* The media type of a safe file name, or NULL when the name is not one the page may use. */
static const char *media_type_of(const char *name)
{
	size_t n = strlen(name);
	const char *dot;

	if (n == 0 || n > MAX_NAME ||
	    !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= 'A' && name[0] <= 'Z') ||
	      (name[0] >= '0' && name[0] <= '9')))
		return NULL;
	if (strspn(name, SAFE_CHARS) != n || strstr(name, "..") != NULL)
		return NULL;
	dot = strrchr(name, '.');
	if (dot == NULL)
		return NULL;
	for (size_t i = 0; i < sizeof media_types / sizeof media_types[0]; i++)
		if (strcmp(dot, media_types[i].ext) == 0)
			return media_types[i].type;
	return NULL;
}

/* Reads a regular file of at most MAX_FILE bytes and names its version in @a etag (from
 * its size and modification time); NULL (errno set) otherwise. When the version equals
 * @a if_none_match, *len is set to SIZE_MAX and nothing is read (an empty buffer). */
static char *read_regular(const char *path, const char *if_none_match, char etag[64], size_t *len)
{
	struct stat st;
	char *buf = NULL;
	size_t got = 0;
	/* O_NONBLOCK: opening a FIFO must not wait for a writer; fstat() then refuses it. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > MAX_FILE) {
		errno = ENOENT;
		goto out;
	}
	snprintf(etag, 64, "\"%llx-%llx.%lx\"", (unsigned long long)st.st_size,
		 (unsigned long long)st.st_mtim.tv_sec, (unsigned long)st.st_mtim.tv_nsec);
	if (if_none_match != NULL && strcmp(if_none_match, etag) == 0) {
		*len = SIZE_MAX;
		buf = malloc(1);
		if (buf == NULL)
			errno = ENOMEM;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL) {
		errno = ENOMEM;
		goto out;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(buf);
			buf = NULL;
			errno = EIO;
			goto out;
		}
		got += (size_t)r;
	}
	*len = got;
out:
	close(fd);
	return buf;
}

static void serve_file(struct request *req, const char *name)
{
	const char *type = media_type_of(name);
	char path[4096], etag[64];
	size_t len = 0;
	char *body;

	if (type == NULL) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such dashboard file");
		return;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/%s", web_dir, name) >= sizeof path) {
		reply_error(req, ERR_NOT_FOUND, NULL, NULL, "no such dashboard file");
		return;
	}
	body = read_regular(path, req_header(req, "If-None-Match"), etag, &len);
	if (body == NULL && errno == ENOMEM) {
		reply_out_of_memory(req);
		return;
	}
	if (body == NULL) {
		if (errno != ENOENT && errno != ELOOP)
			LOG_WARN("dashboard: %s: %s", path, strerror(errno));
		reply_error(req, ERR_NOT_FOUND, NULL, NULL,
			    strcmp(name, "index.html") == 0
				? "the dashboard is not installed (FINREG_WEB_DIR)"
				: "no such dashboard file");
		return;
	}
	if (len == SIZE_MAX) /* the browser has this version: 304, no body */
		reply_text(req, 304, NULL, body, 0);
	else
		reply_text(req, 200, type, body, len);
	reply_header(req, "ETag", etag);
	reply_header(req, "Content-Security-Policy", CSP);
	reply_header(req, "X-Content-Type-Options", "nosniff");
	reply_header(req, "Referrer-Policy", "no-referrer");
	reply_header(req, "X-Frame-Options", "DENY");
	reply_header(req, "Cache-Control", "no-cache");
}

void dashboard_redirect(struct request *req)
{
	reply_static(req, 301, "text/plain; charset=utf-8", "/dashboard/\n", 12);
	reply_header(req, "Location", "/dashboard/");
}

void dashboard_index(struct request *req)
{
	serve_file(req, "index.html");
}

void dashboard_file(struct request *req)
{
	serve_file(req, req_param(req, 0));
}
