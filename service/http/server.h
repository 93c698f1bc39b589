/* The HTTPS server: libmicrohttpd with GnuTLS, a pool of epoll threads (each with its own
 * database connection), request accounting, and graceful shutdown. */
#ifndef FINREG_SERVER_H
#define FINREG_SERVER_H

#include "config.h"

/** Serves until SIGTERM or SIGINT, then stops accepting, lets requests in flight finish
 *  (up to the configured grace) and returns 0; non-zero when it could not start. */
int server_run(const struct config *cfg);

#endif
