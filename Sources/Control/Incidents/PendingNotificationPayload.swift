import Foundation

// Placeholder until the delivery module lands: the outbox payload's agreed shape.
/// The body of every notification (the outbox row's `payload`, the webhook body).
struct NotificationPayload: Codable, Sendable, Equatable {
    var event: String
    var occurredAt: Date
    var monitorId: Int64?
    var monitorName: String?
    var url: String?
    var status: String?
    var incidentId: Int64?
    var error: String?
    var downtimeSeconds: Double?

    func jsonText() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(RFC3339Date.string(date))
        }
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
