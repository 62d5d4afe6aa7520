// c-ares: channel set-up with the socket-state callback (so the engine's libev loop watches
// c-ares sockets) and helpers for the results.
#ifndef CENGINESHIMS_ARES_H
#define CENGINESHIMS_ARES_H

#include <ares.h>
#include <string.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/time.h>

/// Creates a channel that never reads /etc/hosts ("b": DNS only), never appends search
/// domains, and reports its sockets through `sock_state_cb`.
static inline int CEngineShims_ares_init_channel(ares_channel *channel, ares_sock_state_cb sock_state_cb,
                                                 void *data, int timeout_ms, int tries) {
    struct ares_options options;
    memset(&options, 0, sizeof(options));
    int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_FLAGS | ARES_OPT_LOOKUPS |
               ARES_OPT_NDOTS;
    options.sock_state_cb = sock_state_cb;
    options.sock_state_cb_data = data;
    options.timeout = timeout_ms;
    options.tries = tries;
    options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES;
    options.lookups = (char *)"b";
    options.ndots = 1;
    return ares_init_options(channel, &options, mask);
}

static inline ares_socket_t CEngineShims_ares_SOCKET_BAD(void) { return ARES_SOCKET_BAD; }

/// Reads one address of a getaddrinfo result node into `out` (network order): returns 4, 16 or 0.
static inline int CEngineShims_ares_node_ip(const struct ares_addrinfo_node *node, uint8_t out[16]) {
    if (node->ai_family == AF_INET && node->ai_addr) {
        memcpy(out, &((const struct sockaddr_in *)node->ai_addr)->sin_addr, 4);
        return 4;
    }
    if (node->ai_family == AF_INET6 && node->ai_addr) {
        memcpy(out, &((const struct sockaddr_in6 *)node->ai_addr)->sin6_addr, 16);
        return 16;
    }
    return 0;
}

/// Milliseconds until c-ares wants ares_process_fd(BAD, BAD) for its own timeouts, or -1 for none.
static inline long CEngineShims_ares_timeout_ms(ares_channel channel) {
    struct timeval tv;
    struct timeval *next = ares_timeout(channel, NULL, &tv);
    if (next == NULL) return -1;
    return (long)next->tv_sec * 1000 + (long)(next->tv_usec / 1000);
}

#endif
