/*
 * net.h -- the network layer: the listening socket, the I/O threads (one
 * epoll loop each; the first also accepts and runs the timer), and client
 * connections (non-blocking sockets with TCP_NODELAY, read buffer, output
 * buffer, pipelining, client output limit, maxclients), modelled on Redis
 * 7.0's networking.c (readQueryFromClient, writeToClient, the hard client
 * output buffer limit, maxclients rejection) over epoll(7).
 */
#ifndef KV_NET_H
#define KV_NET_H

#include <stddef.h>

#include "event.h"

/* Binds and listens on ADDR:PORT (SO_REUSEADDR).  Returns the socket, or
 * -1 with a message in ERR. */
int kv_net_listen(const char *addr, int port, char *err, size_t errlen);

/* Runs NTHREADS event loops (the calling thread runs the first, which
 * accepts connections, hands them out round-robin and calls CRON every
 * 1000/hz ms) until kv_server_request_shutdown(); then stops the other
 * threads and frees every client.  Returns 0, or -1 if setup failed. */
int kv_net_run(int nthreads, kv_timer_fn *cron);

/* Changes the timer period of the first loop (call from the timer). */
void kv_net_set_timer_period(int period_ms);

#endif
