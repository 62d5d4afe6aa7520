import PostgresNIO

extension Database.Transaction {
    /// Checks that every monitor of `ids` is the owner's, and locks them (`FOR KEY SHARE`) until
    /// the transaction ends so none can be deleted before the rows referring to them are written.
    /// The first that is not the owner's — missing or a stranger's, indistinguishably — is a 400
    /// naming `field[index]`.
    func requireOwnedMonitors(_ ids: [Int64], ownerId: Int64, field: String) async throws {
        guard !ids.isEmpty else { return }
        let owned = Set(
            try await values(
                "SELECT id FROM monitors WHERE owner_id = \(ownerId) AND id = ANY(\(ids)) FOR KEY SHARE",
                as: Int64.self
            )
        )
        if let index = ids.firstIndex(where: { !owned.contains($0) }) {
            throw APIError.validation("monitor \(ids[index]) not found", field: "\(field)[\(index)]")
        }
    }
}
