import Foundation
import NIOSSL
import PostgresNIO

/// The `--database` URI, read into PostgresNIO's configuration. The same URI also works with
/// libpq (the start-up migration), so operators write it once:
/// `postgres[ql]://user[:password]@host[:port]/database[?sslmode=disable|prefer|require][&options=...][&host=/socket/dir]`.
struct DatabaseAddress: Sendable, Equatable {
    var host: String
    var port: Int
    var unixSocketDirectory: String?
    var username: String
    var password: String?
    var database: String
    /// `sslmode`: `disable` (default on loopback), `prefer` (default elsewhere) or `require`.
    var sslMode: String
    /// `options` (e.g. `-csearch_path=myschema`), sent as a start-up parameter.
    var options: String?

    init(url: String) throws(ControlConfigurationError) {
        func fail(_ reason: String) -> ControlConfigurationError {
            ControlConfigurationError(setting: "--database", reason: reason)
        }
        guard let components = URLComponents(string: url),
            components.scheme == "postgres" || components.scheme == "postgresql"
        else { throw fail("must be a URI like postgres://user:password@127.0.0.1:5432/lookout") }
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        let hostInURL = components.percentEncodedHost.flatMap { $0.removingPercentEncoding } ?? ""
        host = hostInURL.isEmpty ? "127.0.0.1" : hostInURL.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        port = components.port ?? 5432
        unixSocketDirectory = query["host"].flatMap { $0.hasPrefix("/") ? $0 : nil }
        guard let user = components.user?.removingPercentEncoding ?? query["user"], !user.isEmpty else {
            throw fail("names no user (postgres://USER@host/database)")
        }
        username = user
        password = components.password?.removingPercentEncoding ?? query["password"]
        let path = components.path.hasPrefix("/") ? String(components.path.dropFirst()) : components.path
        database = path.isEmpty ? user : (path.removingPercentEncoding ?? path)
        let isLoopback = host == "127.0.0.1" || host == "::1" || host == "localhost" || unixSocketDirectory != nil
        sslMode = query["sslmode"] ?? (isLoopback ? "disable" : "prefer")
        guard ["disable", "prefer", "require"].contains(sslMode) else {
            throw fail("sslmode '\(sslMode)' is not supported: use disable, prefer or require")
        }
        options = query["options"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// PostgresNIO's pool configuration for this address.
    func clientConfiguration(applicationName: String, maximumConnections: Int) -> PostgresClient.Configuration {
        var configuration: PostgresClient.Configuration
        if let unixSocketDirectory {
            configuration = .init(
                unixSocketPath: unixSocketDirectory + "/.s.PGSQL.\(port)",
                username: username,
                password: password,
                database: database
            )
        } else {
            let tls: PostgresClient.Configuration.TLS
            switch sslMode {
            case "require": tls = .require(.makeClientConfiguration())
            case "prefer": tls = .prefer(.makeClientConfiguration())
            default: tls = .disable
            }
            configuration = .init(
                host: host, port: port, username: username, password: password, database: database, tls: tls)
        }
        var parameters = [("application_name", applicationName)]
        if let options { parameters.append(("options", options)) }
        configuration.options.additionalStartupParameters = parameters
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}
