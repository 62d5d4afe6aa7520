import Foundation

/// The SMTP server of `--smtp-url` (`smtp://[user:password@]host[:port][/EHLO-name]` or
/// `smtps://...`), split so that the password never appears in a URL that could be logged.
struct SMTPServer: Sendable, Equatable, CustomStringConvertible {
    /// The URL without credentials.
    var url: String
    /// Percent-decoded login, if the URL has one.
    var username: String?
    var password: String?
    /// `smtps` (TLS from the first byte) or `smtp` (STARTTLS when the server offers it).
    var isImplicitTLS: Bool

    init(url text: String) throws(SMTPServerError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let lowered = trimmed.lowercased()
        let scheme: String
        if lowered.hasPrefix("smtp://") {
            scheme = "smtp"
        } else if lowered.hasPrefix("smtps://") {
            scheme = "smtps"
        } else {
            throw SMTPServerError(reason: "must start with smtp:// or smtps://")
        }
        let rest = trimmed.dropFirst(scheme.count + 3)
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let path = rest[authorityEnd...]
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            authority = authority[authority.index(after: at)...]
            let user: Substring
            if let colon = userInfo.firstIndex(of: ":") {
                user = userInfo[..<colon]
                password = String(userInfo[userInfo.index(after: colon)...]).removingPercentEncoding
                guard password != nil else {
                    throw SMTPServerError(reason: "the password is not valid percent-encoding")
                }
            } else {
                user = userInfo
            }
            username = String(user).removingPercentEncoding
            guard username != nil else { throw SMTPServerError(reason: "the user name is not valid percent-encoding") }
        }
        guard !authority.isEmpty, !authority.hasPrefix(":") else { throw SMTPServerError(reason: "has no host") }
        guard authority.utf8.allSatisfy({ (0x21...0x7E).contains($0) }),
            path.utf8.allSatisfy({ (0x21...0x7E).contains($0) })
        else { throw SMTPServerError(reason: "must be plain ASCII without spaces (punycode for international names)") }
        url = "\(scheme)://\(authority)\(path)"
        isImplicitTLS = scheme == "smtps"
    }

    /// The URL without the password, for logs and messages.
    var description: String { url }
}

/// A `--smtp-url` that cannot be used.
struct SMTPServerError: Error, Sendable, Equatable, CustomStringConvertible {
    var reason: String
    var description: String { "--smtp-url \(reason)" }
}
