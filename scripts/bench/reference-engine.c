// Yardstick for scripts/bench-vs-ab: the engine's design in plain C with nothing else —
// one libev loop, curl multi driven by CURLMOPT_SOCKETFUNCTION / TIMERFUNCTION, a fresh
// connection per request, `Connection: close`, CONCURRENCY requests in flight, no DNS, no
// scheduling, no result bookkeeping. It shows what the C libraries and the kernel cost on the
// machine at hand, so that the Swift engine's own overhead can be read off side by side.
//
//   cc -O2 -o reference-engine reference-engine.c -lev -lcurl -lssl
//   reference-engine URL SECONDS [CONCURRENCY] [CA_FILE] [OPTIONS]
//
// Prints "requests/s CPU-µs/request failed resumed requests" (resumed: requests that resumed a
// TLS session; 0 for plain HTTP). OPTIONS, for HTTPS, to measure what the TLS libraries cost:
//   --reuse          TLS session resumption the way the engine does `tlsSessionReuse`: each of
//                    the CONCURRENCY request slots is a "monitor" with a curl share of its own
//                    (CURL_LOCK_DATA_SSL_SESSION), so its first request is a full handshake and
//                    the next ones resume; curl's per-handle session cache is off either way
//   --tls-max 1.2    CURLOPT_SSLVERSION at most TLS 1.2 (whose resumption is an abbreviated
//                    handshake with no key exchange); default: what both ends allow (TLS 1.3)
//   --curves LIST    CURLOPT_SSL_EC_CURVES, e.g. X25519 or P-256: the key exchange group
//   --ciphers LIST   CURLOPT_SSL_CIPHER_LIST (TLS 1.2 suites)
//   --tls13-ciphers LIST  CURLOPT_TLS13_CIPHERS, e.g. TLS_AES_128_GCM_SHA256 (whose key schedule
//                    hashes with SHA-256 rather than the SHA-384 of the default first choice)
//   --no-verify      diagnostic only, never for a monitor: no peer verification, to read off
//                    what verifying the chain costs in a full handshake
#include <curl/curl.h>
#include <ev.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

// One request slot: a "monitor" checked again as soon as its check ends.
struct slot {
    CURLSH *sessions;  // with --reuse: this monitor's TLS sessions
    int saw_header;
};

static struct ev_loop *loop;
static CURLM *multi;
static ev_timer multi_timer;
static struct curl_slist *close_header;
static const char *target_url;
static const char *ca_file;
static double deadline;
static long finished, failed, in_flight, resumed;
static int reuse_sessions, skip_verify;
static long tls_version = CURL_SSLVERSION_DEFAULT;
static const char *curves, *ciphers, *tls13_ciphers;

static size_t discard_body(char *data, size_t size, size_t count, void *user) {
    (void)data; (void)user;
    return size * count;
}

// The connection is still open at the first header (after the transfer curl may have closed
// it, and its SSL with it): read whether the session was resumed there, as the engine does.
static size_t on_header(char *data, size_t size, size_t count, void *user) {
    (void)data;
    CURL *easy = user;
    struct slot *slot;
    curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&slot);
    if (!slot->saw_header) {
        slot->saw_header = 1;
        struct curl_tlssessioninfo *session = NULL;
        if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &session) == CURLE_OK && session &&
            session->backend == CURLSSLBACKEND_OPENSSL && session->internals &&
            SSL_session_reused(session->internals))
            resumed++;
    }
    return size * count;
}

static void start_request(struct slot *slot) {
    CURL *easy = curl_easy_init();
    slot->saw_header = 0;
    curl_easy_setopt(easy, CURLOPT_PRIVATE, slot);
    curl_easy_setopt(easy, CURLOPT_URL, target_url);
    curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, discard_body);
    curl_easy_setopt(easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(easy, CURLOPT_HEADERDATA, easy);
    curl_easy_setopt(easy, CURLOPT_HTTPHEADER, close_header);
    curl_easy_setopt(easy, CURLOPT_FRESH_CONNECT, 1L);
    curl_easy_setopt(easy, CURLOPT_FORBID_REUSE, 1L);
    curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, 10000L);
    // As in the engine: only a share resumes sessions. (Turning the session cache off also
    // stops curl 7.88 from storing or looking up sessions in a share, so it stays on there.)
    if (slot->sessions) {
        curl_easy_setopt(easy, CURLOPT_SHARE, slot->sessions);
    } else {
        curl_easy_setopt(easy, CURLOPT_SSL_SESSIONID_CACHE, 0L);
    }
    if (ca_file) {
        curl_easy_setopt(easy, CURLOPT_CAINFO, ca_file);
        curl_easy_setopt(easy, CURLOPT_CAPATH, NULL);
    }
    if (tls_version != CURL_SSLVERSION_DEFAULT) curl_easy_setopt(easy, CURLOPT_SSLVERSION, tls_version);
    if (curves) curl_easy_setopt(easy, CURLOPT_SSL_EC_CURVES, curves);
    if (ciphers) curl_easy_setopt(easy, CURLOPT_SSL_CIPHER_LIST, ciphers);
    if (tls13_ciphers) curl_easy_setopt(easy, CURLOPT_TLS13_CIPHERS, tls13_ciphers);
    if (skip_verify) {
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(easy, CURLOPT_SSL_VERIFYHOST, 0L);
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
        struct slot *slot;
        curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&slot);
        if (message->data.result != CURLE_OK) failed++;
        curl_multi_remove_handle(multi, easy);
        curl_easy_cleanup(easy);
        in_flight--;
        finished++;
        if (ev_now(loop) < deadline) start_request(slot);
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

static void usage(const char *program) {
    fprintf(stderr,
            "usage: %s URL SECONDS [CONCURRENCY] [CA_FILE] [--reuse] [--tls-max 1.2|1.3] "
            "[--curves LIST] [--ciphers LIST] [--tls13-ciphers LIST] [--no-verify]\n",
            program);
    exit(2);
}

int main(int argc, char **argv) {
    const char *positional[4] = {NULL, NULL, NULL, NULL};
    int positionals = 0;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        int has_value = i + 1 < argc;
        if (strcmp(arg, "--reuse") == 0) {
            reuse_sessions = 1;
        } else if (strcmp(arg, "--no-verify") == 0) {
            skip_verify = 1;
        } else if (strcmp(arg, "--tls-max") == 0 && has_value) {
            const char *version = argv[++i];
            if (strcmp(version, "1.2") == 0) {
                tls_version = CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2;
            } else if (strcmp(version, "1.3") == 0) {
                tls_version = CURL_SSLVERSION_TLSv1_3 | CURL_SSLVERSION_MAX_TLSv1_3;
            } else {
                usage(argv[0]);
            }
        } else if (strcmp(arg, "--curves") == 0 && has_value) {
            curves = argv[++i];
        } else if (strcmp(arg, "--ciphers") == 0 && has_value) {
            ciphers = argv[++i];
        } else if (strcmp(arg, "--tls13-ciphers") == 0 && has_value) {
            tls13_ciphers = argv[++i];
        } else if (strncmp(arg, "--", 2) == 0 || positionals == 4) {
            usage(argv[0]);
        } else {
            positional[positionals++] = arg;
        }
    }
    if (positionals < 2) usage(argv[0]);
    target_url = positional[0];
    double seconds = atof(positional[1]);
    long concurrency = positional[2] ? atol(positional[2]) : 200;
    ca_file = positional[3];
    if (concurrency < 1) usage(argv[0]);
    close_header = curl_slist_append(NULL, "Connection: close");
    curl_global_init(CURL_GLOBAL_DEFAULT);
    struct slot *slots = calloc((size_t)concurrency, sizeof *slots);
    for (long i = 0; reuse_sessions && i < concurrency; i++) {
        slots[i].sessions = curl_share_init();
        curl_share_setopt(slots[i].sessions, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    loop = ev_loop_new(EVBACKEND_EPOLL);
    multi = curl_multi_init();
    curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, watch_socket);
    curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, set_timer);
    ev_timer_init(&multi_timer, on_timeout, 0., 0.);
    double started = ev_time();
    deadline = started + seconds;
    for (long i = 0; i < concurrency; i++) start_request(&slots[i]);
    ev_run(loop, 0);
    double elapsed = ev_time() - started;
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    double cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    printf("%.1f %.1f %ld %ld %ld\n", finished / elapsed, finished ? cpu * 1e6 / finished : 0.0, failed,
           resumed, finished);
    return 0;
}
