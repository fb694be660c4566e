import Foundation

/// A CURVE certificate in ZeroMQ's text format, the one CZMQ's `zcert` (and
/// pyzmq's `zmq.auth`, JeroMQ's `ZCert`) reads and writes: ZPL (rfc.zeromq.org/spec:4),
/// a `metadata` section and a `curve` section with the Z85 keys.
///
///     #   ZeroMQ CURVE **Secret** Certificate
///     metadata
///         name = "worker-a"
///     curve
///         public-key = "rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7"
///         secret-key = "JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6"
///
/// A public certificate (NAME.key) has no secret-key; a secret one (NAME.key_secret) has both.
public struct Certificate: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String?
    /// The metadata section's entries, in file order (zcert writes a name, a time, a host).
    public let metadata: [Metadata]

    public struct Metadata: Equatable, Sendable {
        public let name: String
        public let value: String
        public init(name: String, value: String) {
            self.name = name
            self.value = value
        }
    }

    public init(keyPair: CurveKeyPair, metadata: [Metadata] = []) {
        publicKey = keyPair.publicKey
        secretKey = keyPair.secretKey
        self.metadata = metadata
    }

    init(publicKey: String, secretKey: String?, metadata: [Metadata]) {
        self.publicKey = publicKey
        self.secretKey = secretKey
        self.metadata = metadata
    }

    /// The key pair of a secret certificate; nil for a public one.
    public var keyPair: CurveKeyPair? { secretKey.flatMap(CurveKeyPair.init(secretKey:)) }

    public func metadata(_ name: String) -> String? { metadata.first { $0.name == name }?.value }

    // MARK: Text

    /// Parses a certificate's text; `path` only names it in errors.
    public init(text: String, path: String) throws {
        var values: [String: String] = [:]
        var metadata: [Metadata] = []
        var sections: [String] = []
        for rawLine in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            let line = String(rawLine)
            let body = line.drop { $0 == " " }
            if body.isEmpty || body.hasPrefix("#") { continue }
            // ZPL indents each level by four spaces.
            let level = (line.count - body.count) / 4
            guard level <= sections.count else {
                throw CertificateError.notACertificate(path: path, reason: "line \"\(line)\" is indented deeper than its section")
            }
            sections.removeLast(sections.count - level)
            let (name, value) = Certificate.nameAndValue(body)
            guard !name.isEmpty else {
                throw CertificateError.notACertificate(path: path, reason: "line \"\(line)\" has no name")
            }
            guard let value else { sections.append(name); continue }
            let path = (sections + [name]).joined(separator: "/")
            values[path] = value
            if sections == ["metadata"] { metadata.append(Metadata(name: name, value: value)) }
        }
        guard let publicKey = values["curve/public-key"] else {
            throw CertificateError.notACertificate(path: path, reason: "it has no curve/public-key")
        }
        guard CurveKeyPair.isKey(publicKey) else {
            throw CertificateError.notACertificate(path: path, reason: "its public-key is not a 40-character Z85 key")
        }
        let secretKey = values["curve/secret-key"]
        if let secretKey {
            guard let pair = CurveKeyPair(secretKey: secretKey) else {
                throw CertificateError.notACertificate(path: path, reason: "its secret-key is not a 40-character Z85 key")
            }
            guard pair.publicKey == publicKey else {
                throw CertificateError.notACertificate(path: path, reason: "its public-key is not the one of its secret-key")
            }
        }
        self.init(publicKey: publicKey, secretKey: secretKey, metadata: metadata)
    }

    /// `name = "value"`, `name = value # comment`, or a bare section `name`.
    private static func nameAndValue(_ body: Substring) -> (String, String?) {
        guard let equals = body.firstIndex(of: "=") else {
            return (String(body.prefix { $0 != " " && $0 != "#" }), nil)
        }
        let name = body[..<equals].trimmingCharacters(in: .whitespaces)
        let rest = body[body.index(after: equals)...].drop { $0 == " " }
        if let quote = rest.first, quote == "\"" || quote == "'" {
            return (name, String(rest.dropFirst().prefix { $0 != quote }))
        }
        return (name, rest.prefix { $0 != "#" }.trimmingCharacters(in: .whitespaces))
    }

    /// The public certificate's text: what NAME.key holds.
    public var publicText: String { text(secret: false) }

    /// The secret certificate's text: what NAME.key_secret holds. Only for a certificate with a secret key.
    public var secretText: String {
        precondition(secretKey != nil, "a public certificate has no secret text")
        return text(secret: true)
    }

    private func text(secret: Bool) -> String {
        let stamp = ISO8601DateFormatter().string(from: Date())
        var lines = ["#   ****  Generated on \(stamp) by dptrain  ****"]
        if secret {
            lines += ["#   ZeroMQ CURVE **Secret** Certificate",
                      "#   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions."]
        } else {
            lines += ["#   ZeroMQ CURVE Public Certificate",
                      "#   Exchange securely, or use a secure mechanism to verify the contents",
                      "#   of this file after exchange."]
        }
        lines += ["", "metadata"]
        lines += metadata.map { "    \($0.name) = \"\($0.value)\"" }
        lines += ["curve", "    public-key = \"\(publicKey)\""]
        if secret, let secretKey { lines.append("    secret-key = \"\(secretKey)\"") }
        return lines.joined(separator: "\n") + "\n"
    }
}
