// libev: typed wrappers for the watcher macros.
#ifndef CENGINESHIMS_EV_H
#define CENGINESHIMS_EV_H

// The libev 3 compatibility layer defines a function named ev_loop, which clashes with the
// struct of the same name in Swift's view of the header.
#define EV_COMPAT3 0
#include <ev.h>

typedef void (*CEngineShims_ev_io_callback)(struct ev_loop *loop, ev_io *watcher, int revents);
typedef void (*CEngineShims_ev_timer_callback)(struct ev_loop *loop, ev_timer *watcher, int revents);
typedef void (*CEngineShims_ev_async_callback)(struct ev_loop *loop, ev_async *watcher, int revents);

static inline struct ev_loop *CEngineShims_ev_loop_new(void) {
    // EVFLAG_NOSIGMASK: the engine handles signals on its own thread; loops never touch the mask.
    return ev_loop_new(EVBACKEND_EPOLL | EVFLAG_NOSIGMASK | EVFLAG_NOENV);
}

static inline void CEngineShims_ev_io_init(ev_io *w, CEngineShims_ev_io_callback cb, int fd, int events) {
    ev_io_init(w, cb, fd, events);
}

static inline void CEngineShims_ev_io_set(ev_io *w, int fd, int events) {
    ev_io_set(w, fd, events);
}

static inline int CEngineShims_ev_io_fd(const ev_io *w) { return w->fd; }
static inline int CEngineShims_ev_io_events(const ev_io *w) { return w->events & (EV_READ | EV_WRITE); }

static inline void CEngineShims_ev_timer_init(ev_timer *w, CEngineShims_ev_timer_callback cb, double after, double repeat) {
    ev_timer_init(w, cb, after, repeat);
}

static inline void CEngineShims_ev_timer_set(ev_timer *w, double after, double repeat) {
    ev_timer_set(w, after, repeat);
}

static inline void CEngineShims_ev_async_init(ev_async *w, CEngineShims_ev_async_callback cb) {
    ev_async_init(w, cb);
}

static inline int CEngineShims_ev_is_active(const void *w) { return ev_is_active(w); }

static inline void CEngineShims_ev_set_data(void *w, void *data) { ((ev_watcher *)w)->data = data; }
static inline void *CEngineShims_ev_data(const void *w) { return ((const ev_watcher *)w)->data; }

static inline int CEngineShims_ev_READ(void) { return EV_READ; }
static inline int CEngineShims_ev_WRITE(void) { return EV_WRITE; }

#endif
