import CZMQ
import Foundation

/// A ZAP handler (ZeroMQ RFC 27) for CURVE: on its own thread, it answers libzmq's
/// question "may this client key connect?" for every CURVE server socket of its
/// context, admitting exactly the keys it holds. A refused client's connection is
/// closed by libzmq during the handshake: nothing it sends is ever delivered to a
/// socket, so none of its bytes reaches the program. An admitted client's messages
/// carry its Z85 public key as the "User-Id" property.
///
/// It must be started before a CURVE server socket of the same context accepts a
/// connection: without a handler libzmq admits every key.
public final class Authenticator: @unchecked Sendable {
    /// Where libzmq sends its ZAP requests, in each context.
    public static let endpoint = "inproc://zeromq.zap.01"
    /// Distinct refusals reported before the rest are only refused.
    public static let refusalsReported = 50

    /// A connection refused: the client's key (Z85) and its IP address.
    public struct Refusal: Sendable, Equatable {
        public let publicKey: String
        public let address: String
        /// The last refusal reported before the keys are next replaced: the rest are only refused.
        public var isLastReported = false
    }

    public let context: Context
    private let state: State

    /// - Parameters:
    ///   - authorizedKeys: the Z85 public keys admitted.
    ///   - onRefusal: told of a refused key once per key and address (until the keys are
    ///     replaced), for at most `refusalsReported` of them; on the handler's thread.
    ///   - reload: asked about every 200 ms on the handler's thread, for new keys to admit
    ///     from then on (nil: keep them); e.g. when a signal handler has set a flag.
    public convenience init(context: Context, authorizedKeys: Set<String>,
                            onRefusal: @escaping @Sendable (Refusal) -> Void,
                            reload: (@Sendable () -> Set<String>?)? = nil) throws {
        try self.init(context: context, authorizedKeys: authorizedKeys, onRefusal: onRefusal, reload: reload,
                      sendReply: { try $0.send(copying: $1) })
    }

    /// `sendReply` sends one reply on the handler's socket: a test's, to make a send fail.
    init(context: Context, authorizedKeys: Set<String>,
         onRefusal: @escaping @Sendable (Refusal) -> Void,
         reload: (@Sendable () -> Set<String>?)?,
         sendReply: @escaping @Sendable (Socket, [[UInt8]]) throws -> Void) throws {
        self.context = context
        let state = State(authorizedKeys)
        self.state = state
        let socket = try Socket(context, .rep, lingerMilliseconds: 0)
        // Bound before init returns, so that no CURVE socket of the context is ever without its handler.
        try socket.bind(Authenticator.endpoint)
        let thread = Thread {
            Authenticator.serve(socket, state, onRefusal: onRefusal, reload: reload, sendReply: sendReply)
            state.finished.signal()
        }
        thread.name = "dptrain ZAP handler"
        thread.start()
    }

    deinit { stop() }

    /// The keys admitted from now on; connections already made stay.
    public func replaceAuthorizedKeys(_ keys: Set<String>) { state.replace(keys) }

    public var authorizedKeys: Set<String> { state.lock.withLock { state.authorized } }

    /// Ends the handler's thread (within 200 ms) and closes its socket.
    public func stop() {
        let wasRunning = state.lock.withLock { () -> Bool in
            defer { state.running = false }
            return state.running
        }
        if wasRunning { state.finished.wait() }
    }

    /// What the handler's thread and its owner share.
    private final class State: @unchecked Sendable {
        let lock = NSLock()
        var authorized: Set<String>
        var refusalsSeen: Set<String> = []
        var running = true
        let finished = DispatchSemaphore(value: 0)

        init(_ keys: Set<String>) { authorized = keys }

        func replace(_ keys: Set<String>) {
            lock.withLock {
                authorized = keys
                refusalsSeen = []
            }
        }
    }

    private static func serve(_ socket: Socket, _ state: State, onRefusal: @Sendable (Refusal) -> Void,
                              reload: (@Sendable () -> Set<String>?)?,
                              sendReply: (Socket, [[UInt8]]) throws -> Void) {
        let request = Message(maxFrames: 8)
        var items = [PollItem(socket)]
        while state.lock.withLock({ state.running }) {
            do {
                if try poll(&items, timeoutMilliseconds: 200) > 0, try socket.receive(into: request, .dontWait) {
                    let (reply, refusal) = answer(request, state)
                    // A REP socket must send its reply before it may receive again: a reply lost to
                    // a signal (EINTR; the coordinator reloads its keys on SIGHUP) would leave every
                    // later request unanswered and every handshake hanging. Send it again.
                    while true {
                        do {
                            try sendReply(socket, reply)
                            break
                        } catch let error as ZMQError where error.isInterrupted {
                            continue
                        }
                    }
                    if let refusal { onRefusal(refusal) }
                }
                if let keys = reload?() { state.replace(keys) }
            } catch let error as ZMQError where error.isTerminated {
                return
            } catch {
                continue   // a reply that could not be sent: libzmq drops the connection it was for
            }
        }
    }

    /// The reply to one ZAP request, and the refusal to report if it is one to report.
    private static func answer(_ request: Message, _ state: State) -> (reply: [[UInt8]], refusal: Refusal?) {
        func text(_ index: Int) -> String { index < request.count ? String(decoding: request[index], as: UTF8.self) : "" }
        let requestID = request.count > 1 ? Array(request[1]) : []
        func reply(_ status: String, _ statusText: String, userID: String = "") -> [[UInt8]] {
            [Array("1.0".utf8), requestID, Array(status.utf8), Array(statusText.utf8), Array(userID.utf8), []]
        }
        // Frames: version, request id, domain, address, routing id, mechanism, then the credentials.
        guard request.count >= 6, text(0) == "1.0" else { return (reply("500", "malformed ZAP request"), nil) }
        let address = text(3)
        guard text(5) == "CURVE", request.count == 7, request[6].count == 32 else {
            return (reply("400", "only CURVE clients are admitted"), nil)
        }
        let key = Z85.encode(Array(request[6]))
        return state.lock.withLock {
            // The user id is what the socket's messages carry as "User-Id": the client's key.
            if state.authorized.contains(key) { return (reply("200", "OK", userID: key), nil) }
            let firstTime = state.refusalsSeen.count < refusalsReported && state.refusalsSeen.insert("\(key) \(address)").inserted
            let refusal = Refusal(publicKey: key, address: address, isLastReported: state.refusalsSeen.count == refusalsReported)
            return (reply("400", "key not authorized"), firstTime ? refusal : nil)
        }
    }
}
