import CZMQ

/// How a socket's connections are secured; applied before it binds or connects.
public enum SocketSecurity {
    /// Plaintext and unauthenticated (ZeroMQ's NULL mechanism): for ipc, loopback and trusted networks.
    case none
    /// A CURVE server with this key pair: every connection encrypted, and only the client
    /// keys `authenticator` admits get through the handshake. The authenticator must run in
    /// the socket's context.
    case curveServer(CurveKeyPair, Authenticator)
    /// A CURVE client with this key pair, talking only to the server whose public key is `serverKey`.
    case curveClient(CurveKeyPair, serverKey: String)

    public var isCurve: Bool {
        if case .none = self { return false }
        return true
    }

    /// This side's public key (Z85), nil without CURVE.
    public var publicKey: String? {
        switch self {
        case .none: return nil
        case .curveServer(let pair, _), .curveClient(let pair, _): return pair.publicKey
        }
    }
}

extension Socket {
    /// Sets the CURVE options `security` asks for; before bind or connect.
    public func apply(_ security: SocketSecurity) throws {
        switch security {
        case .none:
            return
        case let .curveServer(pair, authenticator):
            precondition(authenticator.context === context, "a CURVE server's authenticator must run in the socket's context")
            self.authenticator = authenticator
            try setText(ZMQ_CURVE_SERVER, nil, asInt: 1, "set curve_server")
            try setText(ZMQ_CURVE_SECRETKEY, pair.secretKey, "set curve_secretkey")
            // The ZAP domain only names this run's requests; any non-empty one works.
            try setText(ZMQ_ZAP_DOMAIN, "dptrain", "set zap_domain")
        case let .curveClient(pair, serverKey):
            try setText(ZMQ_CURVE_SERVERKEY, serverKey, "set curve_serverkey")
            try setText(ZMQ_CURVE_PUBLICKEY, pair.publicKey, "set curve_publickey")
            try setText(ZMQ_CURVE_SECRETKEY, pair.secretKey, "set curve_secretkey")
        }
    }

    /// A string option (a Z85 key is given as its 40 characters), or an int one when `asInt` is given.
    private func setText(_ option: Int32, _ text: String?, asInt: Int32? = nil, _ operation: String) throws {
        if var value = asInt {
            try check(zmq_setsockopt(handle, option, &value, MemoryLayout<Int32>.size), operation)
            return
        }
        let bytes = Array((text ?? "").utf8)
        try check(zmq_setsockopt(handle, option, bytes, bytes.count), operation)
    }
}
