/* The listening socket and the thread that accepts on it (see acceptor.h).
 *
 * One thread accepts and refuses connections beyond the total and per-address limits
 * (conns.h) before libmicrohttpd sees them -- so before any thread is made for them: in
 * thread-per-connection mode MHD_add_connection starts the connection's thread, and these
 * limits are what bound the number of threads. (It was written when libmicrohttpd ran a
 * pool of epoll threads, whose own accepting took bursts onto one thread.) */
#include "http/acceptor.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http/conns.h"
#include "log.h"

static int listen_fd = -1;
static struct MHD_Daemon *mhd;
static pthread_t thread;
static bool running;
static atomic_bool stopping;
static atomic_bool failed;

int acceptor_listen(const struct sockaddr_storage *addr, int backlog)
{
	socklen_t len =
	    addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int one = 1;
	int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
	    (addr->ss_family == AF_INET6 &&
	     setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) != 0) ||
	    bind(fd, (const struct sockaddr *)addr, len) != 0 || listen(fd, backlog) != 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static void *accept_loop(void *cls)
{
	(void)cls;
	while (!atomic_load(&stopping)) {
		struct sockaddr_storage peer;
		socklen_t len = sizeof peer;
		int fd = accept4(listen_fd, (struct sockaddr *)&peer, &len, SOCK_CLOEXEC);

		if (fd >= 0 && !conns_admit((struct sockaddr *)&peer)) {
			/* Past the total or the per-address limit: closed at once, before any
			 * TLS, so a flood from one address costs it one descriptor briefly. */
			close(fd);
			continue;
		}
		if (fd >= 0) {
			/* Owned by libmicrohttpd from here, closed by it even on failure. */
			if (MHD_add_connection(mhd, fd, (struct sockaddr *)&peer, len) != MHD_YES)
				LOG_WARN("connection refused: %s", strerror(errno));
			continue;
		}
		if (atomic_load(&stopping))
			break;
		if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL || errno == EFAULT) {
			/* The listening socket itself is gone: nothing can be served. */
			LOG_BUG("accept: %s; stopping the server", strerror(errno));
			atomic_store(&failed, true);
			kill(getpid(), SIGTERM);
			break;
		}
		if (errno != EINTR && errno != ECONNABORTED && errno != EAGAIN) {
			/* Out of descriptors or memory, or a network error of one connection
			 * (accept(2) lists them): pause a little and go on. */
			struct timespec ts = {0, 10 * 1000 * 1000};

			LOG_WARN("accept: %s", strerror(errno));
			nanosleep(&ts, NULL);
		}
	}
	return NULL;
}

bool acceptor_start(int fd, struct MHD_Daemon *d)
{
	listen_fd = fd;
	mhd = d;
	atomic_store(&stopping, false);
	running = pthread_create(&thread, NULL, accept_loop, NULL) == 0;
	return running;
}

void acceptor_stop(void)
{
	if (listen_fd < 0)
		return;
	atomic_store(&stopping, true);
	/* Takes a Linux listening socket out of LISTEN (new connections are refused at
	 * once) and wakes the blocked accept(). */
	shutdown(listen_fd, SHUT_RDWR);
	if (running)
		pthread_join(thread, NULL);
	running = false;
	close(listen_fd);
	listen_fd = -1;
}

bool acceptor_failed(void)
{
	return atomic_load(&failed);
}
