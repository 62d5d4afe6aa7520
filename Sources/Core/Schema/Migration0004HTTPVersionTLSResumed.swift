/// Migration 4: how each check's answer travelled, which the engine measured from the start
/// and the results file always carried (`httpVersion`, `tlsResumed`). docs/DATABASE.md documents
/// both columns. Nullable with no default, so adding them rewrites no partition: existing rows
/// read as NULL ("not recorded").
enum Migration0004HTTPVersionTLSResumed {
    static let sql = #"""
        -- The HTTP version of the final answer as the results file spells it: '1.0', '1.1', '2', '3'.
        -- NULL for tcp, dns and tls checks and when no answer arrived. Text rather than a number so
        -- that operators' SQL reads as the API and the results file do (WHERE http_version = '2').
        ALTER TABLE checks ADD COLUMN http_version text;
        -- HTTPS: true when the final hop resumed a TLS session (the monitor's tlsSessionReuse),
        -- false after a full handshake. NULL for plain HTTP, the other kinds and when no handshake
        -- completed.
        ALTER TABLE checks ADD COLUMN tls_resumed boolean;
        """#
}
