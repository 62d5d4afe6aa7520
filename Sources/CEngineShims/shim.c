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

// MARK: the `tls` check kind

void *CEngineShims_tls_context_new(void *store, const char *ca_file, char *error, size_t error_size) {
    if (error_size > 0) error[0] = 0;
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL) {
        snprintf(error, error_size, "OpenSSL could not create a client context");
        return NULL;
    }
    SSL_CTX_set_min_proto_version(context, TLS1_VERSION);
    SSL_CTX_set_verify(context, SSL_VERIFY_NONE, NULL);
    // One certificate per check and no session reuse: every check re-reads the certificate.
    SSL_CTX_set_session_cache_mode(context, SSL_SESS_CACHE_OFF);
    if (store != NULL) {
        // set1: the context takes a reference; the store's flags were set when it was loaded.
        SSL_CTX_set1_cert_store(context, (X509_STORE *)store);
        return context;
    }
    ERR_clear_error();
    int loaded = ca_file != NULL ? SSL_CTX_load_verify_locations(context, ca_file, NULL)
                                 : SSL_CTX_set_default_verify_paths(context);
    if (loaded != 1) {
        unsigned long code = ERR_get_error();
        if (code != 0) {
            ERR_error_string_n(code, error, error_size);
        } else {
            snprintf(error, error_size, "no CA certificate could be read");
        }
        SSL_CTX_free(context);
        return NULL;
    }
    X509_STORE_set_flags(SSL_CTX_get_cert_store(context), X509_V_FLAG_TRUSTED_FIRST | X509_V_FLAG_PARTIAL_CHAIN);
    return context;
}

void CEngineShims_tls_context_free(void *context) {
    if (context != NULL) SSL_CTX_free((SSL_CTX *)context);
}

void *CEngineShims_tls_new(void *context, int fd, const char *server_name, const char *verify_host, int verify_is_ip) {
    SSL *ssl = SSL_new((SSL_CTX *)context);
    if (ssl == NULL) return NULL;
    if (SSL_set_fd(ssl, fd) != 1) {
        SSL_free(ssl);
        return NULL;
    }
    if (server_name != NULL) SSL_set_tlsext_host_name(ssl, server_name);
    if (verify_host != NULL) {
        if (verify_is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), verify_host);
        } else {
            SSL_set1_host(ssl, verify_host);
        }
    }
    SSL_set_connect_state(ssl);
    return ssl;
}

int CEngineShims_tls_handshake(void *session, char *error, size_t error_size) {
    SSL *ssl = (SSL *)session;
    if (error_size > 0) error[0] = 0;
    ERR_clear_error();
    errno = 0;
    int result = SSL_do_handshake(ssl);
    if (result == 1) return CEngineShims_tls_done;
    int reason = SSL_get_error(ssl, result);
    switch (reason) {
    case SSL_ERROR_WANT_READ:
        return CEngineShims_tls_want_read;
    case SSL_ERROR_WANT_WRITE:
        return CEngineShims_tls_want_write;
    case SSL_ERROR_SYSCALL:
        if (errno != 0) {
            snprintf(error, error_size, "%s", strerror(errno));
        } else {
            snprintf(error, error_size, "the server closed the connection during the handshake");
        }
        return CEngineShims_tls_failed;
    case SSL_ERROR_ZERO_RETURN:
        snprintf(error, error_size, "the server closed the connection during the handshake");
        return CEngineShims_tls_failed;
    default: {
        unsigned long code = ERR_get_error();
        if (code != 0) {
            ERR_error_string_n(code, error, error_size);
        } else {
            snprintf(error, error_size, "TLS handshake failed (SSL_get_error %d)", reason);
        }
        return CEngineShims_tls_failed;
    }
    }
}

void CEngineShims_tls_info_get(void *session, CEngineShims_tls_info *info) {
    SSL *ssl = (SSL *)session;
    memset(info, 0, sizeof(*info));
    info->verify_result = SSL_get_verify_result(ssl);
    snprintf(info->verify_error, sizeof(info->verify_error), "%s",
             X509_verify_cert_error_string(info->verify_result));
    snprintf(info->protocol, sizeof(info->protocol), "%s", SSL_get_version(ssl));
    const SSL_CIPHER *cipher = SSL_get_current_cipher(ssl);
    if (cipher != NULL) snprintf(info->cipher, sizeof(info->cipher), "%s", SSL_CIPHER_get_name(cipher));
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == NULL) {
        if (info->verify_result == X509_V_OK) {
            info->verify_result = X509_V_ERR_UNSPECIFIED;
            snprintf(info->verify_error, sizeof(info->verify_error), "the server sent no certificate");
        }
        return;
    }
    const ASN1_TIME *not_after = X509_get0_notAfter(leaf);
    struct tm expiry;
    if (not_after != NULL && ASN1_TIME_to_tm(not_after, &expiry) == 1) info->not_after = (int64_t)timegm(&expiry);
    BIO *out = BIO_new(BIO_s_mem());
    if (out != NULL) {
        X509_NAME_print_ex(out, X509_get_issuer_name(leaf), 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
        int length = BIO_read(out, info->issuer, (int)sizeof(info->issuer) - 1);
        info->issuer[length > 0 ? length : 0] = 0;
        BIO_free(out);
    }
}

void CEngineShims_tls_free(void *session) {
    if (session != NULL) SSL_free((SSL *)session);
}
