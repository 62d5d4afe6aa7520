// libcurl: one typed wrapper per argument kind of the variadic setopt/getinfo calls.
#ifndef CENGINESHIMS_CURL_H
#define CENGINESHIMS_CURL_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <stdint.h>

static inline CURLcode CEngineShims_curl_easy_setopt_long(CURL *easy, CURLoption option, long value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode CEngineShims_curl_easy_setopt_offset(CURL *easy, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(easy, option, value);
}

/// Strings (copied by curl unless documented otherwise), curl_slist pointers and opaque user pointers.
static inline CURLcode CEngineShims_curl_easy_setopt_pointer(CURL *easy, CURLoption option, const void *value) {
    return curl_easy_setopt(easy, option, value);
}

static inline CURLcode CEngineShims_curl_easy_setopt_write_function(CURL *easy, CURLoption option, curl_write_callback callback) {
    // Used for CURLOPT_WRITEFUNCTION and CURLOPT_HEADERFUNCTION, which share the type.
    return curl_easy_setopt(easy, option, callback);
}

/// CURLOPT_READFUNCTION: the control plane uploads SMTP messages through it.
static inline CURLcode CEngineShims_curl_easy_setopt_read_function(CURL *easy, curl_read_callback callback) {
    return curl_easy_setopt(easy, CURLOPT_READFUNCTION, callback);
}

static inline CURLcode CEngineShims_curl_easy_setopt_opensocket_function(CURL *easy, curl_opensocket_callback callback) {
    return curl_easy_setopt(easy, CURLOPT_OPENSOCKETFUNCTION, callback);
}

/// Restricts `easy` (and any redirect curl would follow) to http and https. The bitmask form of
/// CURLOPT_PROTOCOLS_STR "http,https": the string form is parsed against every scheme curl knows
/// on each call, about 4k instructions per check (docs/BENCHMARKS.md). Out of line in shim.c,
/// where the deprecation of the bitmask options (curl 7.85) is silenced.
CURLcode CEngineShims_curl_easy_allow_http_only(CURL *easy);

static inline CURLcode CEngineShims_curl_easy_getinfo_long(CURL *easy, CURLINFO info, long *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode CEngineShims_curl_easy_getinfo_offset(CURL *easy, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLcode CEngineShims_curl_easy_getinfo_pointer(CURL *easy, CURLINFO info, void **value) {
    return curl_easy_getinfo(easy, info, value);
}

static inline CURLMcode CEngineShims_curl_multi_setopt_long(CURLM *multi, CURLMoption option, long value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode CEngineShims_curl_multi_setopt_pointer(CURLM *multi, CURLMoption option, void *value) {
    return curl_multi_setopt(multi, option, value);
}

static inline CURLMcode CEngineShims_curl_multi_setopt_socket_function(CURLM *multi, curl_socket_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_SOCKETFUNCTION, callback);
}

static inline CURLMcode CEngineShims_curl_multi_setopt_timer_function(CURLM *multi, curl_multi_timer_callback callback) {
    return curl_multi_setopt(multi, CURLMOPT_TIMERFUNCTION, callback);
}

/// CURLMsg's `data` is a union Swift reads awkwardly; DONE messages carry the transfer's result.
static inline CURLcode CEngineShims_curl_msg_result(const CURLMsg *message) { return message->data.result; }

/// Copies the IP address curl is about to connect to into `out` (network order).
/// Returns 4 or 16 (the address length), or 0 for a family the policy cannot judge.
static inline int CEngineShims_curl_sockaddr_ip(const struct curl_sockaddr *address, uint8_t out[16]) {
    if (address->family == AF_INET) {
        const struct sockaddr_in *in4 = (const struct sockaddr_in *)&address->addr;
        memcpy(out, &in4->sin_addr, 4);
        return 4;
    }
    if (address->family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&address->addr;
        memcpy(out, &in6->sin6_addr, 16);
        return 16;
    }
    return 0;
}

static inline curl_socket_t CEngineShims_curl_open_socket(const struct curl_sockaddr *address) {
    return socket(address->family, address->socktype | SOCK_CLOEXEC, address->protocol);
}

static inline curl_socket_t CEngineShims_curl_SOCKET_BAD(void) { return CURL_SOCKET_BAD; }
static inline curl_socket_t CEngineShims_curl_SOCKET_TIMEOUT(void) { return CURL_SOCKET_TIMEOUT; }

/// notAfter of the peer's leaf certificate, epoch seconds, or -1 when there is none (plain HTTP,
/// no handshake yet, not OpenSSL); `*resumed` = 1 when the connection resumed a TLS session
/// (SSL_session_reused), 0 after a full handshake, -1 without an OpenSSL connection. Reads the
/// live TLS session: call while the transfer runs (from the header callback), before curl closes
/// the connection. A resumed session carries the certificate of the full handshake that made it.
/// Defined in shim.c.
int64_t CEngineShims_curl_peer_tls_state(CURL *easy, int *resumed);

/// A curl share handle that shares TLS sessions (CURL_LOCK_DATA_SSL_SESSION) between the easy
/// handles attached to it, with no lock callbacks: every user must be on one thread.
/// NULL when curl cannot make one (out of memory).
static inline CURLSH *CEngineShims_curl_share_tls_sessions(void) {
    CURLSH *share = curl_share_init();
    if (share == NULL) return NULL;
    if (curl_share_setopt(share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK) {
        curl_share_cleanup(share);
        return NULL;
    }
    return share;
}

/// A CA store parsed once (OpenSSL X509_STORE, returned as an opaque pointer) from a PEM bundle,
/// for `CEngineShims_curl_easy_use_trust_store`. Also initialises OpenSSL's TLS library (its
/// configuration and providers), so that no check pays for that either. NULL on failure, with
/// OpenSSL's reason in `error`. Defined in shim.c.
void *CEngineShims_ssl_trust_store_load(const char *path, char *error, size_t error_size);

/// Drops the caller's reference (curl and live TLS contexts keep their own).
void CEngineShims_ssl_trust_store_free(void *store);

/// Makes every TLS connection of `easy` verify against `store` (CURLOPT_SSL_CTX_FUNCTION puts it
/// into each new SSL_CTX) instead of curl reading a CA file or path. Defined in shim.c.
CURLcode CEngineShims_curl_easy_use_trust_store(CURL *easy, void *store);

#endif
