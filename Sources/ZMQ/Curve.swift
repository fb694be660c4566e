import CZMQ

/// ZeroMQ's Z85 text encoding (RFC 32/Z85), done by libzmq: 4 bytes become 5 printable characters.
public enum Z85 {
    /// The Z85 text of `bytes`, whose count must be a multiple of 4.
    public static func encode(_ bytes: [UInt8]) -> String {
        precondition(bytes.count % 4 == 0, "Z85 encodes whole groups of 4 bytes (got \(bytes.count))")
        var text = [CChar](repeating: 0, count: bytes.count * 5 / 4 + 1)
        _ = zmq_z85_encode(&text, bytes, bytes.count)
        return String(cString: text)
    }

    /// The bytes of Z85 `text`; nil when it is not Z85 (a length not a multiple of 5, a character outside the alphabet).
    public static func decode(_ text: String) -> [UInt8]? {
        let characters = Array(text.utf8)
        guard characters.count % 5 == 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: characters.count * 4 / 5)
        let decoded = text.withCString { zmq_z85_decode(&bytes, $0) }
        return decoded == nil ? nil : bytes
    }
}

/// A CURVE key pair (Curve25519), both keys as the 40-character Z85 text ZeroMQ tools exchange.
public struct CurveKeyPair: Equatable, Sendable {
    public let publicKey: String
    public let secretKey: String

    /// Whether this libzmq was built with CURVE (libsodium); Debian's is.
    public static var isAvailable: Bool { zmq_has("curve") == 1 }

    /// A fresh key pair from libzmq's random source.
    public static func generate() throws -> CurveKeyPair {
        var publicText = [CChar](repeating: 0, count: 41)
        var secretText = [CChar](repeating: 0, count: 41)
        try check(zmq_curve_keypair(&publicText, &secretText), "generate a CURVE key pair")
        return CurveKeyPair(publicKey: String(cString: publicText), secretKey: String(cString: secretText))
    }

    /// The pair whose secret is `secretKey`, its public key derived; nil when the text is not a Z85 key.
    public init?(secretKey: String) {
        guard CurveKeyPair.isKey(secretKey) else { return nil }
        var publicText = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicText, secretKey) == 0 else { return nil }
        self.init(publicKey: String(cString: publicText), secretKey: secretKey)
    }

    init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// True for the Z85 text of a 32-byte key.
    public static func isKey(_ text: String) -> Bool {
        text.utf8.count == 40 && Z85.decode(text)?.count == 32
    }
}
