// Per-check call counts for the engine and the C reference, without a debugger or tracepoints:
// an LD_PRELOAD library that counts the calls an event loop makes into libcurl, libev, epoll and
// malloc, and writes the running totals (with the process's user + system CPU) once a second.
// Divide the difference of two lines by the difference of `remove_handle` (one per finished
// transfer in both programs) to get calls per check over that window, start-up excluded.
//
//   cc -O2 -shared -fPIC -o call-counter.so scripts/bench/call-counter.c -ldl -lpthread
//   env LD_PRELOAD=$PWD/call-counter.so CALL_COUNTS=counts.txt PROGRAM ARGS...
//
// curl's socket and timer callbacks are counted by wrapping the functions given to
// curl_multi_setopt. Counting costs an atomic increment per call (a few per cent of CPU with
// malloc counted): measure CPU per check in a run without it.
#define _GNU_SOURCE
#include <curl/curl.h>
#include <dlfcn.h>
#include <ev.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum {
    SOCKET_ACTION, SOCKET_ACTION_TIMEOUT, TIMER_CALLBACK, SOCKET_CALLBACK, ADD_HANDLE, REMOVE_HANDLE,
    EPOLL_WAIT, EPOLL_EVENTS, EPOLL_CTL, IO_START, IO_STOP, TIMER_START, TIMER_STOP, TIMER_AGAIN,
    ASYNC_SEND, MALLOC, CALLOC, REALLOC, FREE, COUNTERS
};
static const char *const counter_names[COUNTERS] = {
    "socket_action", "socket_action_timeout", "timer_callback", "socket_callback", "add_handle",
    "remove_handle", "epoll_wait", "epoll_events", "epoll_ctl", "ev_io_start", "ev_io_stop",
    "ev_timer_start", "ev_timer_stop", "ev_timer_again", "ev_async_send", "malloc", "calloc",
    "realloc", "free"};
static _Atomic long counters[COUNTERS];

static void count(int which, long amount) {
    atomic_fetch_add_explicit(&counters[which], amount, memory_order_relaxed);
}

// The next definition of `name` (the real one), looked up once.
#define REAL(name)                                                                   \
    static __typeof__(&name) real_##name;                                            \
    if (!real_##name) real_##name = (__typeof__(&name))dlsym(RTLD_NEXT, #name)

static curl_multi_timer_callback program_timer_callback;
static curl_socket_callback program_socket_callback;

static int counted_timer_callback(CURLM *multi, long timeout_ms, void *user) {
    count(TIMER_CALLBACK, 1);
    return program_timer_callback(multi, timeout_ms, user);
}

static int counted_socket_callback(CURL *easy, curl_socket_t fd, int what, void *user, void *socket_data) {
    count(SOCKET_CALLBACK, 1);
    return program_socket_callback(easy, fd, what, user, socket_data);
}

CURLMcode curl_multi_setopt(CURLM *multi, CURLMoption option, ...) {
    REAL(curl_multi_setopt);
    // Every multi option is one pointer-sized argument (long, pointer or function pointer).
    va_list arguments;
    va_start(arguments, option);
    void *argument = va_arg(arguments, void *);
    va_end(arguments);
    if (option == CURLMOPT_TIMERFUNCTION && argument) {
        program_timer_callback = (curl_multi_timer_callback)argument;
        argument = (void *)counted_timer_callback;
    } else if (option == CURLMOPT_SOCKETFUNCTION && argument) {
        program_socket_callback = (curl_socket_callback)argument;
        argument = (void *)counted_socket_callback;
    }
    return real_curl_multi_setopt(multi, option, argument);
}

CURLMcode curl_multi_socket_action(CURLM *multi, curl_socket_t fd, int events, int *running) {
    REAL(curl_multi_socket_action);
    count(SOCKET_ACTION, 1);
    if (fd == CURL_SOCKET_TIMEOUT) count(SOCKET_ACTION_TIMEOUT, 1);
    return real_curl_multi_socket_action(multi, fd, events, running);
}

CURLMcode curl_multi_add_handle(CURLM *multi, CURL *easy) {
    REAL(curl_multi_add_handle);
    count(ADD_HANDLE, 1);
    return real_curl_multi_add_handle(multi, easy);
}

CURLMcode curl_multi_remove_handle(CURLM *multi, CURL *easy) {
    REAL(curl_multi_remove_handle);
    count(REMOVE_HANDLE, 1);
    return real_curl_multi_remove_handle(multi, easy);
}

int epoll_wait(int epoll, struct epoll_event *events, int capacity, int timeout_ms) {
    REAL(epoll_wait);
    count(EPOLL_WAIT, 1);
    int ready = real_epoll_wait(epoll, events, capacity, timeout_ms);
    if (ready > 0) count(EPOLL_EVENTS, ready);
    return ready;
}

int epoll_ctl(int epoll, int operation, int fd, struct epoll_event *event) {
    REAL(epoll_ctl);
    count(EPOLL_CTL, 1);
    return real_epoll_ctl(epoll, operation, fd, event);
}

#define COUNT_WATCHER_CALL(function, type, counter)        \
    void function(struct ev_loop *loop, type *watcher) {   \
        REAL(function);                                    \
        count(counter, 1);                                 \
        real_##function(loop, watcher);                    \
    }
COUNT_WATCHER_CALL(ev_io_start, ev_io, IO_START)
COUNT_WATCHER_CALL(ev_io_stop, ev_io, IO_STOP)
COUNT_WATCHER_CALL(ev_timer_start, ev_timer, TIMER_START)
COUNT_WATCHER_CALL(ev_timer_stop, ev_timer, TIMER_STOP)
COUNT_WATCHER_CALL(ev_timer_again, ev_timer, TIMER_AGAIN)
COUNT_WATCHER_CALL(ev_async_send, ev_async, ASYNC_SEND)

// glibc's own entry points: dlsym itself may allocate, so malloc cannot be looked up with it.
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *pointer, size_t size);
extern void __libc_free(void *pointer);

void *malloc(size_t size) {
    count(MALLOC, 1);
    return __libc_malloc(size);
}

void *calloc(size_t count_, size_t size) {
    count(CALLOC, 1);
    return __libc_calloc(count_, size);
}

void *realloc(void *pointer, size_t size) {
    count(REALLOC, 1);
    return __libc_realloc(pointer, size);
}

void free(void *pointer) {
    if (pointer) count(FREE, 1);
    __libc_free(pointer);
}

static void *write_counts(void *file) {
    FILE *out = file;
    for (;;) {
        sleep(1);
        struct rusage usage;
        getrusage(RUSAGE_SELF, &usage);
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        fprintf(out, "t=%.3f cpu=%.6f", now.tv_sec + now.tv_nsec / 1e9,
                usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec +
                    usage.ru_stime.tv_usec / 1e6);
        for (int which = 0; which < COUNTERS; which++)
            fprintf(out, " %s=%ld", counter_names[which], atomic_load(&counters[which]));
        fputc('\n', out);
        fflush(out);
    }
    return NULL;
}

__attribute__((constructor)) static void start_writing(void) {
    const char *path = getenv("CALL_COUNTS");
    if (!path) return;
    FILE *out = fopen(path, "w");
    if (!out) return;
    pthread_t thread;
    if (pthread_create(&thread, NULL, write_counts, out) == 0) pthread_detach(thread);
}
