/* The server's listening socket and its accepting thread, which applies the connection
 * limits before libmicrohttpd starts a thread for a connection (see acceptor.c). */
#ifndef FINREG_HTTP_ACCEPTOR_H
#define FINREG_HTTP_ACCEPTOR_H

#include <microhttpd.h>
#include <stdbool.h>
#include <sys/socket.h>

/** A listening TCP socket bound to @a addr (IPv6 sockets take IPv6 only), or -1 (errno). */
int acceptor_listen(const struct sockaddr_storage *addr, int backlog);

/** Starts accepting on @a fd for daemon @a d (started with MHD_USE_NO_LISTEN_SOCKET and
 *  MHD_USE_ITC). Takes ownership of @a fd. */
bool acceptor_start(int fd, struct MHD_Daemon *d);

/** Refuses new connections at once, stops the accepting thread and closes the socket.
 *  Connections already handed over stay with the daemon. */
void acceptor_stop(void);

/** Whether accepting stopped because the listening socket broke (the server then stops
 *  itself, to be restarted). */
bool acceptor_failed(void);

#endif
