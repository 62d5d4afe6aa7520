// Yardstick for scripts/bench-vs-ab: the engine's design in plain C with nothing else —
// one libev loop, curl multi driven by CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION, a fresh
// connection per request, `Connection: close`, CONCURRENCY requests in flight, no DNS, no
// scheduling, no result bookkeeping. It shows what the C libraries and the kernel cost on the
// machine at hand, so that the Swift engine's own overhead can be read off side by side.
//
//   cc -O2 -o reference-engine reference-engine.c -lev -lcurl
//   reference-engine URL SECONDS [CONCURRENCY] [CA_FILE]
#include <curl/curl.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static struct ev_loop *loop;
static CURLM *multi;
static ev_timer multi_timer;
static struct curl_slist *close_header;
static const char *target_url;
static const char *ca_file;
static double deadline;
static long finished, failed, in_flight;

static size_t discard_body(char *data, size_t size, size_t count, void *user) {
    (void)data; (void)user;
    return size * count;
}

static void start_request(void) {
    CURL *easy = curl_easy_init();
    curl_easy_setopt(easy, CURLOPT_URL, target_url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, close_header);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    if (ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    curl_multi_add_handle(multi, easy);
    in_flight++;
}

static void drain(void) {
    CURLMsg *message;
    int pending;
    while ((message = curl_multi_info_read(multi, &pending))) {
        if (message->msg != CURLMSG_DONE) continue;
        CURL *easy = message->easy_handle;
        if (message->data.result != CURLE_OK) failed++;
        curl_multi_remove_handle(multi, easy);
        curl_easy_cleanup(easy);
        in_flight--;
        finished++;
        if (ev_now(loop) < deadline) start_request();
    }
    if (in_flight == 0) ev_break(loop, EVBREAK_ALL);
}

static void on_socket_ready(struct ev_loop *l, ev_io *watcher, int revents) {
    (void)l;
    int flags = (revents & EV_READ ? CURL_CSELECT_IN : 0) | (revents & EV_WRITE ? CURL_CSELECT_OUT : 0);
    int running;
    curl_multi_socket_action(multi, watcher->fd, flags, &running);
    drain();
}

static void on_timeout(struct ev_loop *l, ev_timer *watcher, int revents) {
    (void)l; (void)watcher; (void)revents;
    int running;
    curl_multi_socket_action(multi, CURL_SOCKET_TIMEOUT, 0, &running);
    drain();
}

static int set_timer(CURLM *m, long timeout_ms, void *user) {
    (void)m; (void)user;
    ev_timer_stop(loop, &multi_timer);
    if (timeout_ms >= 0) {  // 0 too: curl must not be called back from inside this callback
        ev_timer_set(&multi_timer, (double)timeout_ms / 1000.0, 0.);
        ev_timer_start(loop, &multi_timer);
    }
    return 0;
}

static int watch_socket(CURL *easy, curl_socket_t fd, int what, void *user, void *socket_data) {
    (void)easy; (void)user;
    ev_io *watcher = socket_data;
    if (what == CURL_POLL_REMOVE) {
        if (watcher) {
            ev_io_stop(loop, watcher);
            free(watcher);
        }
        return 0;
    }
    int events = (what & CURL_POLL_IN ? EV_READ : 0) | (what & CURL_POLL_OUT ? EV_WRITE : 0);
    if (!watcher) {
        watcher = malloc(sizeof *watcher);
        ev_io_init(watcher, on_socket_ready, fd, events);
        curl_multi_assign(multi, fd, watcher);
    } else {
        ev_io_stop(loop, watcher);
        ev_io_set(watcher, fd, events);
    }
    ev_io_start(loop, watcher);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s URL SECONDS [CONCURRENCY] [CA_FILE]\n", argv[0]);
        return 2;
    }
    target_url = argv[1];
    double seconds = atof(argv[2]);
    long concurrency = argc > 3 ? atol(argv[3]) : 200;
    ca_file = argc > 4 ? argv[4] : NULL;
    close_header = curl_slist_append(NULL, "Connection: close");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    loop = ev_loop_new(EVBACKEND_EPOLL);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, set_timer);
    ev_timer_init(&multi_timer, on_timeout, 0., 0.);
    double started = ev_time();
    deadline = started + seconds;
    for (long i = 0; i < concurrency; i++) start_request();
    ev_run(loop, 0);
    double elapsed = ev_time() - started;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("%.1f %.1f %ld\n", finished / elapsed, finished ? cpu * 1e6 / finished : 0.0, failed);
    return 0;
}
