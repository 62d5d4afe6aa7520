import Crypto
import Foundation

/// A notification as an Internet message (RFC 5322 + MIME): `multipart/alternative` with a
/// plain-text and an HTML part, both UTF-8 and quoted-printable (every line stays short and
/// 7-bit, whatever the server supports). Headers that carry user text (Subject) are single-line
/// and RFC 2047-encoded when not ASCII, so no value can start a header of its own.
struct EmailMessage: Sendable, Equatable {
    var from: String
    var to: [String]
    var subject: String
    var date: Date
    /// Unique per notification and the same on every attempt (derived from the idempotency key).
    var messageID: String
    var idempotencyKey: String
    var event: NotificationPayload.Event
    var text: String
    var html: String

    init(payload: NotificationPayload, idempotencyKey: String, from: String, to: [String], date: Date) {
        let summary = NotificationSummary(payload)
        self.from = from
        self.to = to
        self.date = date
        self.event = payload.event
        self.idempotencyKey = idempotencyKey
        subject =
            payload.event == .channelTest
            ? "[Lookout] Test notification" : "[Lookout] \(summary.tag): \(summary.subject)"
        let digest = SHA256.hash(data: Array(idempotencyKey.utf8)).prefix(16).map { String(format: "%02x", $0) }
            .joined()
        messageID = "<lookout.\(digest)@\(Self.domain(of: from))>"
        text = Self.plainText(summary, event: payload.event)
        html = Self.htmlText(summary)
    }

    /// The message as sent (CRLF line ends).
    func bytes() -> [UInt8] {
        let boundary = "=_lookout_" + String(messageID.dropFirst(9).prefix(32))
        var lines: [String] = [
            "From: \(from)",
            "To: \(to.joined(separator: ", "))",
            "Subject: \(Self.encodedHeader(subject))",
            "Date: \(Self.rfc5322Date(date))",
            "Message-ID: \(messageID)",
            "MIME-Version: 1.0",
            "Content-Type: multipart/alternative;\r\n boundary=\"\(boundary)\"",
            "Auto-Submitted: auto-generated",
            "X-Lookout-Event: \(event.rawValue)",
            "X-Lookout-Idempotency-Key: \(HeaderValue.token(idempotencyKey))",
            "",
            "This is a MIME message: the same notification as plain text and as HTML.",
            "",
            "--\(boundary)",
            "Content-Type: text/plain; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            Self.quotedPrintable(text),
            "--\(boundary)",
            "Content-Type: text/html; charset=utf-8",
            "Content-Transfer-Encoding: quoted-printable",
            "",
            Self.quotedPrintable(html),
            "--\(boundary)--",
        ]
        lines.append("")
        return Array(lines.joined(separator: "\r\n").utf8)
    }

    // MARK: rendering

    private static func plainText(_ summary: NotificationSummary, event: NotificationPayload.Event) -> String {
        let width = (summary.facts.map(\.label.count).max() ?? 0) + 2
        var lines = [summary.headline, ""]
        for fact in summary.facts {
            lines.append((fact.label + ":").padding(toLength: width, withPad: " ", startingAt: 0) + fact.value)
        }
        if let note = summary.note { lines += ["", note] }
        lines += ["", "-- ", "Sent by Lookout (\(event.rawValue))."]
        return lines.joined(separator: "\n")
    }

    private static func htmlText(_ summary: NotificationSummary) -> String {
        var rows = ""
        for fact in summary.facts {
            let value = HTMLText.escape(fact.value)
            rows +=
                "<tr><th style=\"text-align:left;padding:2px 12px 2px 0;color:#555\">\(HTMLText.escape(fact.label))</th>"
                + "<td>\(fact.isCode ? "<code>\(value)</code>" : value)</td></tr>\n"
        }
        let note = summary.note.map { "<p>\(HTMLText.escape($0))</p>\n" } ?? ""
        return """
            <!DOCTYPE html>
            <html><head><meta charset="utf-8"><title>\(HTMLText.escape(summary.headline))</title></head>
            <body style="font-family:sans-serif">
            <h2>\(HTMLText.escape(summary.headline))</h2>
            <table>
            \(rows)</table>
            \(note)<p style="color:#888;font-size:small">Sent by Lookout.</p>
            </body></html>
            """
    }

    // MARK: encodings

    /// Quoted-printable (RFC 2045 §6.7) of UTF-8 text; `\n` becomes CRLF, lines stay ≤ 76 characters.
    static func quotedPrintable(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        let lines = text.replacingOccurrences(of: "\r\n", with: "\n").split(
            separator: "\n",
            omittingEmptySubsequences: false
        )
        for (index, line) in lines.enumerated() {
            if index > 0 { output += [13, 10] }
            var lineLength = 0
            let bytes = Array(line.utf8)
            for (position, byte) in bytes.enumerated() {
                let isLast = position == bytes.count - 1
                var encoded: [UInt8]
                if (byte == 32 || byte == 9) && !isLast {
                    encoded = [byte]
                } else if (33...126).contains(byte) && byte != 61 {
                    // A leading "." is encoded too, so no line of the body can look like SMTP's end marker.
                    encoded = byte == 46 && lineLength == 0 ? [61, hex[Int(byte >> 4)], hex[Int(byte & 15)]] : [byte]
                } else {
                    encoded = [61, hex[Int(byte >> 4)], hex[Int(byte & 15)]]
                }
                if lineLength + encoded.count > 75 {
                    output += [61, 13, 10]  // soft line break
                    lineLength = 0
                    if encoded == [46] { encoded = [61, 50, 69] }
                }
                output += encoded
                lineLength += encoded.count
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// A header value: as is when printable ASCII, else RFC 2047 base64 encoded-words (folded).
    static func encodedHeader(_ value: String) -> String {
        let line = NotificationSummary.singleLine(value, limit: 400)
        if line.utf8.allSatisfy({ (0x20...0x7E).contains($0) }) { return line }
        // Encoded words of at most 75 characters: 45 bytes of UTF-8 (60 of base64), whole characters.
        var words: [[UInt8]] = []
        var chunk: [UInt8] = []
        for character in line {
            let bytes = Array(String(character).utf8)
            if chunk.count + bytes.count > 45 {
                words.append(chunk)
                chunk = []
            }
            chunk += bytes
        }
        if !chunk.isEmpty { words.append(chunk) }
        return words.map { "=?UTF-8?B?\(Data($0).base64EncodedString())?=" }.joined(separator: "\r\n ")
    }

    /// `Thu, 02 Jan 2025 03:04:05 +0000`.
    static func rfc5322Date(_ date: Date) -> String {
        HTTPDate.format(date).replacingOccurrences(of: " GMT", with: " +0000")
    }

    /// The domain of the sender address (for Message-ID), `localhost` when there is none.
    static func domain(of from: String) -> String {
        let address = mailbox(of: from)
        guard let at = address.lastIndex(of: "@") else { return "localhost" }
        let domain = address[address.index(after: at)...]
        return domain.isEmpty ? "localhost" : String(domain)
    }

    /// The bare address of `Name <address>` or `address`.
    static func mailbox(of from: String) -> String {
        if let open = from.lastIndex(of: "<"), let close = from.lastIndex(of: ">"), open < close {
            return String(from[from.index(after: open)..<close]).trimmingCharacters(in: .whitespaces)
        }
        return from.trimmingCharacters(in: .whitespaces)
    }
}

/// Header values built from outside input.
enum HeaderValue {
    /// `text` as a header-safe token: printable ASCII other than `%` and space as is, every other
    /// byte percent-encoded. The same input always gives the same output (idempotency keys).
    static func token(_ text: String) -> String {
        let hex = Array("0123456789ABCDEF".utf8)
        var output: [UInt8] = []
        for byte in text.utf8 {
            if (0x21...0x7E).contains(byte) && byte != UInt8(ascii: "%") {
                output.append(byte)
            } else {
                output += [UInt8(ascii: "%"), hex[Int(byte >> 4)], hex[Int(byte & 15)]]
            }
        }
        return String(decoding: output, as: UTF8.self)
    }
}
