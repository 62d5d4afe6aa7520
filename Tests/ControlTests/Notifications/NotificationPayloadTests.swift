import Foundation
import Testing

@testable import LookoutControl

@Suite("Notification payload: the outbox row's and the webhook's JSON")
struct NotificationPayloadTests {
    static let occurredAt = Date(timeIntervalSince1970: 1_735_787_045.678_9)  // 2025-01-02T03:04:05.678Z

    @Test("a down event encodes to exactly the documented shape, keys sorted")
    func downShape() {
        let payload = NotificationPayload(
            event: .monitorDown,
            occurredAt: Self.occurredAt,
            monitorId: 42,
            monitorName: "API",
            url: "https://example.com/health",
            status: .down,
            incidentId: 7,
            error: "connect_refused: connection refused: nothing listens on that port"
        )
        let json = String(decoding: payload.jsonBytes(), as: UTF8.self)
        #expect(
            json
                == #"{"downtimeSeconds":null,"error":"connect_refused: connection refused: nothing listens on that port","#
                + #""event":"monitor.down","incidentId":7,"monitorId":42,"monitorName":"API","#
                + #""occurredAt":"2025-01-02T03:04:05.678Z","status":"DOWN","url":"https://example.com/health"}"#
        )
    }

    @Test("absent values are explicit nulls: every key is always present")
    func nullsPresent() throws {
        let payload = NotificationPayload(event: .channelTest, occurredAt: Date(timeIntervalSince1970: 0))
        let object = try #require(JSONSerialization.jsonObject(with: Data(payload.jsonBytes())) as? [String: Any])
        #expect(
            Set(object.keys)
                == [
                    "event", "occurredAt", "monitorId", "monitorName", "url", "status", "incidentId", "error",
                    "downtimeSeconds",
                ]
        )
        for key in ["monitorId", "monitorName", "url", "status", "incidentId", "error", "downtimeSeconds"] {
            #expect(object[key] is NSNull, "\(key)")
        }
        #expect(object["occurredAt"] as? String == "1970-01-01T00:00:00.000Z")
        #expect(object["event"] as? String == "channel.test")
    }

    @Test("an up event carries the downtime; encoding is deterministic and round-trips")
    func upRoundTrip() throws {
        let payload = NotificationPayload(
            event: .monitorUp,
            occurredAt: Self.occurredAt,
            monitorId: 42,
            monitorName: "API \"main\" <eu>",
            url: "https://example.com/a?b=c&d=é",
            status: .up,
            incidentId: 7,
            downtimeSeconds: 95.5
        )
        let bytes = payload.jsonBytes()
        #expect(bytes == payload.jsonBytes())
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains(#""downtimeSeconds":95.5"#))
        #expect(text.contains(#""url":"https://example.com/a?b=c&d=é""#))
        let decoded = try NotificationPayload.decode(bytes)
        #expect(decoded == payload)
        #expect(decoded.jsonBytes() == bytes)
    }

    @Test("every event and status has its documented spelling")
    func spellings() {
        #expect(
            NotificationPayload.Event.allCases.map(\.rawValue)
                == ["monitor.down", "monitor.up", "monitor.flapping", "monitor.stable", "channel.test"]
        )
        #expect(NotificationPayload.Status.allCases.map(\.rawValue) == ["UP", "DOWN"])
    }

    @Test("timestamps: RFC 3339 UTC, milliseconds truncated, parsed back")
    func timestamps() throws {
        #expect(
            NotificationTimestamp.format(Date(timeIntervalSince1970: 1_735_787_045.999_9)) == "2025-01-02T03:04:05.999Z"
        )
        #expect(NotificationTimestamp.format(Date(timeIntervalSince1970: 951_782_400)) == "2000-02-29T00:00:00.000Z")
        #expect(NotificationTimestamp.format(Date(timeIntervalSince1970: -1.5)) == "1969-12-31T23:59:58.500Z")
        let parsed = try #require(NotificationTimestamp.parse("2025-01-02T03:04:05.678Z"))
        #expect(NotificationTimestamp.format(parsed) == "2025-01-02T03:04:05.678Z")
        #expect(
            NotificationTimestamp.parse("2025-01-02T03:04:05Z").map(NotificationTimestamp.format)
                == "2025-01-02T03:04:05.000Z"
        )
        #expect(
            NotificationTimestamp.parse("2025-01-02T03:04:05.1Z").map(NotificationTimestamp.format)
                == "2025-01-02T03:04:05.100Z"
        )
        #expect(NotificationTimestamp.parse("2025-01-02 03:04:05Z") == nil)
        #expect(NotificationTimestamp.parse("2025-01-02T03:04:05+01:00") == nil)
        #expect(NotificationTimestamp.parse("2025-13-02T03:04:05Z") == nil)
    }

    @Test("a row with a malformed time or event is refused")
    func decodingErrors() {
        let badTime = #"{"event":"monitor.down","occurredAt":"yesterday"}"#
        #expect(throws: DecodingError.self) { try NotificationPayload.decode(Array(badTime.utf8)) }
        let badEvent = #"{"event":"monitor.sideways","occurredAt":"2025-01-02T03:04:05.678Z"}"#
        #expect(throws: DecodingError.self) { try NotificationPayload.decode(Array(badEvent.utf8)) }
    }
}
