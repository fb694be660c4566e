import ZMQ

/// A worker whose secure handshake with its coordinator failed: what happened, in a line that says what to do.
public struct HandshakeError: Error, Equatable, CustomStringConvertible {
    public let endpoint: String
    /// The worker's CURVE public key (Z85); nil for a worker without keys.
    public let publicKey: String?
    public let failure: HandshakeMonitor.Failure

    public var description: String {
        switch (failure, publicKey) {
        case (.refused, let key?):
            return "worker: the coordinator at \(endpoint) refused this worker's key \(key): add it to the coordinator's --authorized-keys (copy this worker's NAME.key into that folder, then send the coordinator SIGHUP)"
        case (.mechanismMismatch, nil):
            return "worker: the coordinator at \(endpoint) requires CURVE keys: start this worker with --key FILE and --coordinator-key FILE (or DPTRAIN_KEY and DPTRAIN_COORDINATOR_KEY)"
        case (.mechanismMismatch, _?):
            return "worker: the coordinator at \(endpoint) runs without keys, and this worker, given --key, talks only to one that has them: start the coordinator with --key and --authorized-keys"
        case (.closedDuringHandshake, let key?):
            return "worker: the coordinator at \(endpoint) closed every secure handshake: its key is not the one --coordinator-key names (check that file is the coordinator's NAME.key), or it does not admit this worker's key \(key)"
        case (.protocolError(let code), _):
            return "worker: the secure handshake with the coordinator at \(endpoint) failed (ZMTP protocol error 0x\(String(code, radix: 16))): check --key and --coordinator-key"
        case (_, nil):
            return "worker: the coordinator at \(endpoint) broke off every handshake: it requires CURVE keys, so start this worker with --key FILE and --coordinator-key FILE (or DPTRAIN_KEY and DPTRAIN_COORDINATOR_KEY)"
        }
    }
}
