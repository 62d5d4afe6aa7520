import Logging
import PostgresNIO

/// The control plane's PostgreSQL access: PostgresNIO's pool with the few shapes every
/// repository uses. Queries are `PostgresQuery` string interpolations, so every value travels as
/// a bound parameter; nothing user-supplied is ever concatenated into SQL.
struct Database: Sendable {
    let client: PostgresClient
    let logger: Logger

    /// Every row of `query`, decoded as `Row`.
    func rows<each Column: PostgresDecodable & Sendable>(
        _ query: PostgresQuery,
        as _: (repeat each Column).Type
    ) async throws -> [(repeat each Column)] {
        let sequence = try await client.query(query, logger: logger)
        var result: [(repeat each Column)] = []
        for try await row in sequence.decode((repeat each Column).self) { result.append(row) }
        return result
    }

    /// The first row of `query`, if any.
    func first<each Column: PostgresDecodable & Sendable>(
        _ query: PostgresQuery,
        as type: (repeat each Column).Type
    ) async throws -> (repeat each Column)? {
        try await rows(query, as: type).first
    }

    /// The first column of every row.
    func values<Value: PostgresDecodable & Sendable>(_ query: PostgresQuery, as _: Value.Type) async throws -> [Value] {
        let sequence = try await client.query(query, logger: logger)
        var result: [Value] = []
        for try await value in sequence.decode(Value.self) { result.append(value) }
        return result
    }

    /// Runs a statement, discarding rows.
    func execute(_ query: PostgresQuery) async throws {
        let sequence = try await client.query(query, logger: logger)
        for try await _ in sequence {}
    }

    /// Runs `body` in one transaction (committed when it returns, rolled back when it throws).
    /// An error thrown by `body` reaches the caller as itself after the rollback, not wrapped in
    /// PostgresNIO's `PostgresTransactionError`, so an `APIError` raised inside a transaction (a
    /// taken slug, a stranger's id) stays the 4xx it is.
    func transaction<Result: Sendable>(_ body: (Transaction) async throws -> Result) async throws -> Result {
        do {
            return try await client.withTransaction(logger: logger) { connection in
                try await body(Transaction(connection: connection, logger: logger))
            }
        } catch let error as PostgresTransactionError {
            if let bodyError = error.closureError, error.rollbackError == nil { throw bodyError }
            throw error
        }
    }

    /// The same shapes inside a transaction.
    struct Transaction {
        let connection: PostgresConnection
        let logger: Logger

        func rows<each Column: PostgresDecodable & Sendable>(
            _ query: PostgresQuery,
            as _: (repeat each Column).Type
        ) async throws -> [(repeat each Column)] {
            let sequence = try await connection.query(query, logger: logger)
            var result: [(repeat each Column)] = []
            for try await row in sequence.decode((repeat each Column).self) { result.append(row) }
            return result
        }

        func first<each Column: PostgresDecodable & Sendable>(
            _ query: PostgresQuery,
            as type: (repeat each Column).Type
        ) async throws -> (repeat each Column)? {
            try await rows(query, as: type).first
        }

        func values<Value: PostgresDecodable & Sendable>(
            _ query: PostgresQuery, as _: Value.Type
        ) async throws
            -> [Value]
        {
            let sequence = try await connection.query(query, logger: logger)
            var result: [Value] = []
            for try await value in sequence.decode(Value.self) { result.append(value) }
            return result
        }

        func execute(_ query: PostgresQuery) async throws {
            let sequence = try await connection.query(query, logger: logger)
            for try await _ in sequence {}
        }
    }
}

extension Error {
    /// The SQLSTATE of a PostgreSQL error (`23505` unique violation ...), nil for other errors.
    var sqlState: String? { (self as? PSQLError)?.serverInfo?[.sqlState] }

    /// The constraint a PostgreSQL error names, if any.
    var constraintName: String? { (self as? PSQLError)?.serverInfo?[.constraintName] }
}
