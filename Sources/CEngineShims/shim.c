// Out-of-line shims: code that needs headers Swift should not import (OpenSSL).
#include "CEngineShims.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/asn1.h>
#include <time.h>
#include <hiredis/adapters/libev.h>

int64_t CEngineShims_curl_peer_certificate_not_after(CURL *easy) {
    struct curl_tlssessioninfo *session = NULL;
    if (curl_easy_getinfo(easy, CURLINFO_TLS_SSL_PTR, &session) != CURLE_OK || session == NULL) return -1;
    if (session->backend != CURLSSLBACKEND_OPENSSL || session->internals == NULL) return -1;
    SSL *ssl = (SSL *)session->internals;
    X509 *leaf = SSL_get0_peer_certificate(ssl);
    if (leaf == NULL) return -1;
    const ASN1_TIME *not_after = X509_get0_notAfter(leaf);
    struct tm expiry;
    if (not_after == NULL || ASN1_TIME_to_tm(not_after, &expiry) != 1) return -1;
    return (int64_t)timegm(&expiry);
}

int CEngineShims_redis_libev_attach(struct ev_loop *loop, redisAsyncContext *context) {
    return redisLibevAttach(loop, context);
}
