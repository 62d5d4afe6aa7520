/// Migration 3: what `tls` and `dns` checks learn besides timings (issue 8, check kinds).
/// docs/DATABASE.md documents every name. The monitors table needs nothing: a monitor's
/// `type` and its kind's fields live in `monitors.settings`, and `monitors.url` holds the
/// canonical form of a non-HTTP monitor (`tcp://host:port`, `tls://host:port`,
/// `dns://[server/]name?type=T`).
enum Migration0003CheckKinds {
    static let sql = #"""
        -- tls checks: the leaf certificate's issuer (RFC 2253), the negotiated protocol and cipher
        -- suite. cert_expires_at (migration 1) holds the leaf's notAfter for tls checks too.
        ALTER TABLE checks ADD COLUMN tls_issuer text;
        ALTER TABLE checks ADD COLUMN tls_protocol text;
        ALTER TABLE checks ADD COLUMN tls_cipher text;
        -- dns checks: the answers, a JSON array of strings as `dig +short` writes them
        -- (["10 mail.example.com"]); NULL for other kinds and for failed queries.
        ALTER TABLE checks ADD COLUMN dns_answers jsonb
            CHECK (dns_answers IS NULL OR jsonb_typeof(dns_answers) = 'array');
        """#
}
