// OpenSSL for the `tls` check kind: a handshake-only TLS client over a socket the engine
// connected itself. The OpenSSL types stay in shim.c; Swift sees opaque pointers.
#ifndef CENGINESHIMS_TLS_H
#define CENGINESHIMS_TLS_H

#include <stddef.h>
#include <stdint.h>

/// What a finished handshake showed.
typedef struct CEngineShims_tls_info {
    /// notAfter of the leaf certificate, epoch seconds; 0 when there was none.
    int64_t not_after;
    /// OpenSSL's X509_V_* result of the chain and name verification (0 = X509_V_OK).
    long verify_result;
    char verify_error[160];
    /// The leaf's issuer, RFC 2253 (`CN=Test CA,O=Lookout`).
    char issuer[320];
    char protocol[32];
    char cipher[80];
} CEngineShims_tls_info;

/// Handshake progress: done, waiting for the socket, or failed (message in `error`).
enum {
    CEngineShims_tls_done = 1,
    CEngineShims_tls_want_read = 2,
    CEngineShims_tls_want_write = 3,
    CEngineShims_tls_failed = -1
};

/// The X509_V_ERR codes the engine names.
enum {
    CEngineShims_tls_verify_expired = 10,          // X509_V_ERR_CERT_HAS_EXPIRED
    CEngineShims_tls_verify_hostname_mismatch = 62, // X509_V_ERR_HOSTNAME_MISMATCH
    CEngineShims_tls_verify_ip_mismatch = 64        // X509_V_ERR_IP_ADDRESS_MISMATCH
};

/// A client context trusting `store` (an X509_STORE already loaded, e.g. the one curl's handles
/// share: the context takes its own reference), else the PEM bundle at `ca_file` (NULL: OpenSSL's
/// default paths).
/// Peers are never refused during the handshake: the caller reads the verification result, so a
/// bad certificate is still described (expiry, issuer) rather than only refused.
void *CEngineShims_tls_context_new(void *store, const char *ca_file, char *error, size_t error_size);
void CEngineShims_tls_context_free(void *context);

/// A session over the connected socket `fd`: SNI `server_name` (NULL for an IP literal), the
/// certificate checked against `verify_host` (a name, or an IP address when `verify_is_ip`).
void *CEngineShims_tls_new(void *context, int fd, const char *server_name, const char *verify_host, int verify_is_ip);
/// One step of the handshake (call again when the socket is ready as asked).
int CEngineShims_tls_handshake(void *session, char *error, size_t error_size);
void CEngineShims_tls_info_get(void *session, CEngineShims_tls_info *info);
/// Frees the session; the socket stays the caller's.
void CEngineShims_tls_free(void *session);

#endif
