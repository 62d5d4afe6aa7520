// POSIX pieces the engine needs that Glibc's Swift overlay makes awkward.
#ifndef CENGINESHIMS_POSIX_H
#define CENGINESHIMS_POSIX_H

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/// CLOCK_REALTIME in microseconds since the epoch (vDSO: no system call).
static inline int64_t CEngineShims_posix_wall_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/// CLOCK_MONOTONIC in microseconds.
static inline int64_t CEngineShims_posix_monotonic_micros(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/// Names the calling thread (PR_SET_NAME: the kernel keeps the first 15 bytes). prctl is variadic.
static inline int CEngineShims_posix_name_current_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}

/// The calling thread's name into `buffer`, which must hold 16 bytes (PR_GET_NAME).
static inline int CEngineShims_posix_current_thread_name(char *buffer) {
    return prctl(PR_GET_NAME, (unsigned long)buffer, 0, 0, 0);
}

/// CPU time of this process (user, system) in microseconds, and peak RSS in KiB.
static inline void CEngineShims_posix_self_usage(int64_t *user_micros, int64_t *system_micros, int64_t *max_rss_kib) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *user_micros = (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec;
    *system_micros = (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
    *max_rss_kib = usage.ru_maxrss;
}

/// Starts a non-blocking TCP connect to `address` (4 or 16 network-order bytes) and `port`.
/// Returns the socket (connect in progress or done: watch it for writability, then read
/// `CEngineShims_posix_socket_error`), or -1 with `*error_number` set.
static inline int CEngineShims_posix_tcp_connect(const uint8_t *address, int address_length, uint16_t port,
                                                 int *error_number) {
    int family = address_length == 16 ? AF_INET6 : AF_INET;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *error_number = errno;
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int result;
    if (family == AF_INET6) {
        struct sockaddr_in6 target;
        memset(&target, 0, sizeof(target));
        target.sin6_family = AF_INET6;
        target.sin6_port = htons(port);
        memcpy(&target.sin6_addr, address, 16);
        result = connect(fd, (struct sockaddr *)&target, sizeof(target));
    } else {
        struct sockaddr_in target;
        memset(&target, 0, sizeof(target));
        target.sin_family = AF_INET;
        target.sin_port = htons(port);
        memcpy(&target.sin_addr, address, 4);
        result = connect(fd, (struct sockaddr *)&target, sizeof(target));
    }
    if (result != 0 && errno != EINPROGRESS) {
        *error_number = errno;
        close(fd);
        return -1;
    }
    *error_number = 0;
    return fd;
}

/// The pending error of a socket (SO_ERROR): 0 once a non-blocking connect succeeded.
static inline int CEngineShims_posix_socket_error(int fd) {
    int value = 0;
    socklen_t length = sizeof(value);
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0) return errno;
    return value;
}

#endif
