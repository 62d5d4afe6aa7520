// Out-of-line shims: code that needs headers Swift should not import (OpenSSL).
#include "CEngineShims.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/asn1.h>
#include <openssl/err.h>
#include <stdio.h>
#include <time.h>
#include <hiredis/adapters/libev.h>

CURLcode CEngineShims_curl_easy_allow_http_only(CURL *easy) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    // Same effect as CURLOPT_PROTOCOLS_STR / CURLOPT_REDIR_PROTOCOLS_STR "http,https", without
    // parsing a string per call. Deprecated, not removed: curl keeps both forms.
    CURLcode result = curl_easy_setopt(easy, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    if (result == CURLE_OK)
        result = curl_easy_setopt(easy, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#pragma GCC diagnostic pop
    return result;
}

int64_t CEngineShims_curl_peer_tls_state(CURL *easy, int *resumed) {
    *resumed = -1;
    struct curl_tlssessioninfo *session = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &session) != CURLE_OK || session == NULL) return -1;
    if (session->backend != CURLSSLBACKEND_OPENSSL || session->internals == NULL) return -1;
    SSL *ssl = (SSL *)session->internals;
    *resumed = SSL_session_reused(ssl) ? 1 : 0;
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == NULL) return -1;
    const ASN1_TIME *not_after = X509_get0_notAfter(leaf);
    struct tm expiry;
    if (not_after == NULL || ASN1_TIME_to_tm(not_after, &expiry) != 1) return -1;
    return (int64_t)timegm(&expiry);
}

void *CEngineShims_ssl_trust_store_load(const char *path, char *error, size_t error_size) {
    if (error_size > 0) error[0] = 0;
    // One throwaway context loads OpenSSL's configuration and providers now, not in a check.
    SSL_CTX *warm = SSL_CTX_new(TLS_client_method());
    if (warm != NULL) SSL_CTX_free(warm);
    X509_STORE *store = X509_STORE_new();
    if (store == NULL) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    ERR_clear_error();
    if (X509_STORE_load_file(store, path) != 1) {
        unsigned long code = ERR_get_error();
        if (code != 0) {
            ERR_error_string_n(code, error, error_size);
        } else {
            snprintf(error, error_size, "no certificate could be read");
        }
        X509_STORE_free(store);
        return NULL;
    }
    // The flags curl sets on a store it loads itself (lib/vtls/openssl.c, populate_x509_store).
    X509_STORE_set_flags(store, X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
    return store;
}

void CEngineShims_ssl_trust_store_free(void *store) {
    if (store != NULL) X509_STORE_free((X509_STORE *)store);
}

static CURLcode CEngineShims_curl_ssl_ctx_trust_store(CURL *easy, void *ssl_ctx, void *store) {
    (void)easy;
    // set1: the context takes its own reference and drops the empty store it was made with.
    if (store != NULL) SSL_CTX_set1_cert_store((SSL_CTX *)ssl_ctx, (X509_STORE *)store);
    return CURLE_OK;
}

CURLcode CEngineShims_curl_easy_use_trust_store(CURL *easy, void *store) {
    CURLcode result = curl_easy_setopt(easy, CURLOPT_SSL_CTX_FUNCTION, CEngineShims_curl_ssl_ctx_trust_store);
    if (result != CURLE_OK) return result;
    result = curl_easy_setopt(easy, CURLOPT_SSL_CTX_DATA, store);
    if (result != CURLE_OK) return result;
    // No file and no path: curl adds nothing to the store and caches this one in the multi handle.
    result = curl_easy_setopt(easy, CURLOPT_CAINFO, (const char *)NULL);
    if (result != CURLE_OK) return result;
    return curl_easy_setopt(easy, CURLOPT_CAPATH, (const char *)NULL);
}

int CEngineShims_redis_libev_attach(struct ev_loop *loop, redisAsyncContext *context) {
    return redisLibevAttach(loop, context);
}
