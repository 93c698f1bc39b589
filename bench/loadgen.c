/* A mutual-TLS load generator for finregd's loan ingest (wrk and h2load cannot send a client
 * certificate): N threads, each with one keep-alive TLS connection, post unique valid loans
 * one at a time (POST /v1/loans) or in batches (POST /v1/loans/batch) for a number of
 * requests, and the tool prints loans per second. Loopback only; bounded by --requests.
 *
 * loadgen --port P --ca CA --cert CERT --key KEY [--host 127.0.0.1] [--threads 16]
 *         [--requests 1000] [--batch 0|N] [--prefix RUN] [--csv FILE]
 * --requests is per thread; --batch 0 posts single loans; --csv FILE writes the same loans
 * as CSV for COPY into the loans table (and FILE.firms for the firms table) instead: the
 * columns finregd fills, without the content (since migration 021 finregd stores none). */
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "domain/uscc.h"

struct options {
	const char *host, *port, *ca, *cert, *key, *prefix, *csv;
	int threads, requests, batch;
};

static struct options opt = {"127.0.0.1", NULL, NULL, NULL, NULL, "B", NULL, 16, 1000, 0};
static SSL_CTX *ctx;

struct worker {
	int id;
	long loans_ok, requests_ok, failures;
	pthread_t thread;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A valid USCC derived from the run prefix and a number: 91 + 350402, then four characters
 * of a hash of the prefix and five of the number (base 31), then the check character, so
 * runs with different prefixes post different borrowers (923,521 prefix codes, 28 million
 * loans each). */
static void make_uscc(long n, char out[19])
{
	static const char alphabet[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
	unsigned long h = 5381;
	int i;

	for (const char *p = opt.prefix; *p; p++)
		h = h * 33 + (unsigned char)*p;
	memcpy(out, "91350402", 8);
	h %= 31UL * 31 * 31 * 31;
	for (i = 11; i >= 8; i--, h /= 31)
		out[i] = alphabet[h % 31];
	for (i = 16; i >= 12; i--, n /= 31)
		out[i] = alphabet[n % 31];
	out[17] = uscc_check_char(out);
	out[18] = '\0';
}

/* Appends loan number @a n of thread @a t as JSON to @a buf. */
static int loan_json(char *buf, size_t len, int t, long n)
{
	char uscc[19];

	make_uscc((long)t * 10000000L + n, uscc);
	return snprintf(buf, len,
			"{\"loan_ref\":\"%s-%d-%ld\",\"borrower\":{\"uscc\":\"%s\",\"name\":"
			"\"三明测试机械有限公司\",\"county_code\":\"350402\",\"industry_code\":\"3412\","
			"\"size\":\"small\"},\"amount\":\"%ld.00\",\"issue_date\":\"2020-05-12\","
			"\"maturity_date\":\"2023-05-11\",\"rate\":\"4.3500\",\"guarantee_mode\":"
			"\"credit\",\"guarantor_code\":null,\"first_loan\":true,\"renewal\":false,"
			"\"renews_loan_ref\":null,\"scf_program_id\":null,\"relief_fund\":false,"
			"\"credit_line\":null}",
			opt.prefix, t, n, uscc, 100000 + n % 900000);
}

static int tcp_connect(void)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	int fd;

	if (getaddrinfo(opt.host, opt.port, &hints, &res) != 0)
		return -1;
	fd = socket(res->ai_family, res->ai_socktype, 0);
	if (fd >= 0 && connect(fd, res->ai_addr, res->ai_addrlen) != 0) {
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	return fd;
}

static SSL *tls_connect(void)
{
	int fd = tcp_connect();
	SSL *ssl;

	if (fd < 0)
		return NULL;
	ssl = SSL_new(ctx);
	SSL_set_fd(ssl, fd);
	SSL_set_tlsext_host_name(ssl, "localhost");
	if (SSL_connect(ssl) != 1) {
		ERR_print_errors_fp(stderr);
		SSL_free(ssl);
		close(fd);
		return NULL;
	}
	return ssl;
}

static void tls_close(SSL *ssl)
{
	int fd = SSL_get_fd(ssl);

	SSL_shutdown(ssl);
	SSL_free(ssl);
	close(fd);
}

static int write_all(SSL *ssl, const char *p, size_t n)
{
	while (n > 0) {
		int w = SSL_write(ssl, p, (int)n);

		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one response; returns its status (0 on a broken connection). */
static int read_response(SSL *ssl, char *buf, size_t cap, int *close_after)
{
	size_t have = 0;
	char *end = NULL;
	long clen = 0;
	int status;

	while (end == NULL) {
		int r = SSL_read(ssl, buf + have, (int)(cap - have - 1));

		if (r <= 0)
			return 0;
		have += (size_t)r;
		buf[have] = '\0';
		end = strstr(buf, "\r\n\r\n");
	}
	if (sscanf(buf, "HTTP/1.1 %d", &status) != 1)
		return 0;
	for (char *h = strstr(buf, "\r\n"); h != NULL && h < end; h = strstr(h + 2, "\r\n")) {
		if (strncasecmp(h + 2, "Content-Length:", 15) == 0)
			clen = strtol(h + 17, NULL, 10);
		if (strncasecmp(h + 2, "Connection: close", 17) == 0)
			*close_after = 1;
	}
	for (size_t want = (size_t)(end + 4 - buf) + (size_t)clen; have < want;) {
		int r;

		if (want >= cap)
			return 0;
		r = SSL_read(ssl, buf + have, (int)(want - have));
		if (r <= 0)
			return 0;
		have += (size_t)r;
	}
	buf[have] = '\0';
	return status;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	size_t cap = (size_t)(opt.batch > 0 ? opt.batch : 1) * 1024 + 4096;
	char *body = malloc(cap), *req = malloc(cap + 512), *resp = malloc(1 << 20);
	SSL *ssl = tls_connect();
	long n = 0;

	for (int i = 0; i < opt.requests && ssl != NULL; i++) {
		size_t len = 0;
		int count = opt.batch > 0 ? opt.batch : 1, status, close_after = 0, hl;

		if (opt.batch > 0)
			len += (size_t)snprintf(body, cap, "{\"loans\":[");
		for (int k = 0; k < count; k++) {
			if (k > 0)
				body[len++] = ',';
			len += (size_t)loan_json(body + len, cap - len, w->id, n++);
		}
		if (opt.batch > 0)
			len += (size_t)snprintf(body + len, cap - len, "]}");
		hl = snprintf(req, 512,
			      "POST %s HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
			      "Content-Length: %zu\r\n\r\n",
			      opt.batch > 0 ? "/v1/loans/batch" : "/v1/loans", len);
		memcpy(req + hl, body, len);
		if (write_all(ssl, req, (size_t)hl + len) != 0 ||
		    (status = read_response(ssl, resp, 1 << 20, &close_after)) == 0) {
			w->failures++;
			tls_close(ssl);
			ssl = tls_connect();
			continue;
		}
		if (status == 201 || (opt.batch > 0 && status == 200 &&
				      strstr(resp, "\"rejected\":0") != NULL)) {
			w->requests_ok++;
			w->loans_ok += count;
		} else {
			if (w->failures++ < 3)
				fprintf(stderr, "status %d: %.300s\n", status, resp);
		}
		if (close_after) {
			tls_close(ssl);
			ssl = tls_connect();
		}
	}
	if (ssl != NULL)
		tls_close(ssl);
	free(body);
	free(req);
	free(resp);
	return NULL;
}

/* Writes the loans the same run would post as CSV rows of the loans table's columns that
 * finregd fills (no content: migration 021 builds it from these). */
static int write_csv(void)
{
	FILE *f = fopen(opt.csv, "w"), *firms;
	char uscc[19], path[512];

	snprintf(path, sizeof path, "%s.firms", opt.csv);
	firms = fopen(path, "w");
	if (f == NULL || firms == NULL)
		return 1;
	for (int t = 0; t < opt.threads; t++) {
		long total = (long)opt.requests * (opt.batch > 0 ? opt.batch : 1);

		for (long n = 0; n < total; n++) {
			make_uscc((long)t * 10000000L + n, uscc);
			fprintf(f, "%s,%s-%d-%ld,%s,三明测试机械有限公司,350402,3412,small,%ld,"
				   "2020-05-12,2023-05-11,43500,credit,t,f,f,%ld,36,t,t,t,1Y,38500,50\n",
				opt.prefix, opt.prefix, t, n, uscc, (100000 + n % 900000) * 100L,
				(100000 + n % 900000) * 100L);
			fprintf(firms, "%s,三明测试机械有限公司,350402,3412,small,%s\n", uscc, opt.prefix);
		}
	}
	return fclose(f) == 0 && fclose(firms) == 0 ? 0 : 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: loadgen --port P --ca CA --cert CERT --key KEY [--host H] "
			"[--threads N] [--requests N] [--batch N] [--prefix S] [--csv FILE]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct worker *workers;
	long loans = 0, requests = 0, failures = 0;
	double t0, elapsed;

	for (int i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--host")) opt.host = v;
		else if (!strcmp(k, "--port")) opt.port = v;
		else if (!strcmp(k, "--ca")) opt.ca = v;
		else if (!strcmp(k, "--cert")) opt.cert = v;
		else if (!strcmp(k, "--key")) opt.key = v;
		else if (!strcmp(k, "--prefix")) opt.prefix = v;
		else if (!strcmp(k, "--csv")) opt.csv = v;
		else if (!strcmp(k, "--threads")) opt.threads = atoi(v);
		else if (!strcmp(k, "--requests")) opt.requests = atoi(v);
		else if (!strcmp(k, "--batch")) opt.batch = atoi(v);
		else return usage();
	}
	if (opt.csv != NULL)
		return write_csv();
	if (opt.port == NULL || opt.ca == NULL || opt.cert == NULL || opt.key == NULL ||
	    opt.threads < 1 || opt.requests < 1)
		return usage();
	ctx = SSL_CTX_new(TLS_client_method());
	if (SSL_CTX_load_verify_locations(ctx, opt.ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, opt.key, SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	workers = calloc((size_t)opt.threads, sizeof *workers);
	t0 = now_s();
	for (int i = 0; i < opt.threads; i++) {
		workers[i].id = i;
		pthread_create(&workers[i].thread, NULL, work, &workers[i]);
	}
	for (int i = 0; i < opt.threads; i++) {
		pthread_join(workers[i].thread, NULL);
		loans += workers[i].loans_ok;
		requests += workers[i].requests_ok;
		failures += workers[i].failures;
	}
	elapsed = now_s() - t0;
	printf("loans=%ld requests=%ld failures=%ld seconds=%.3f loans_per_second=%.0f\n", loans,
	       requests, failures, elapsed, (double)loans / elapsed);
	free(workers);
	SSL_CTX_free(ctx);
	return failures == 0 ? 0 : 1;
}
