// POSIX pieces the engine needs that Glibc's Swift overlay makes awkward.
#ifndef CENGINESHIMS_POSIX_H
#define CENGINESHIMS_POSIX_H

#include <sys/resource.h>
#include <stdint.h>
#include <time.h>

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

/// CPU time of this process (user, system) in microseconds, and peak RSS in KiB.
static inline void CEngineShims_posix_self_usage(int64_t *user_micros, int64_t *system_micros, int64_t *max_rss_kib) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *user_micros = (int64_t)usage.ru_utime.tv_sec * 1000000 + usage.ru_utime.tv_usec;
    *system_micros = (int64_t)usage.ru_stime.tv_sec * 1000000 + usage.ru_stime.tv_usec;
    *max_rss_kib = usage.ru_maxrss;
}

#endif
