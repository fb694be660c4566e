import Foundation
import XCTest
@testable import ZMQ

/// CURVE over real tcp sockets: keys, the ZAP handler, and what a refused or mistaken client sees.
final class CurveTests: XCTestCase {
    let context = try! Context()

    override func setUpWithError() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
    }

    func testZ85MatchesTheSpecificationsExample() {
        // RFC 32/Z85's test vector.
        let bytes: [UInt8] = [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B]
        XCTAssertEqual(Z85.encode(bytes), "HelloWorld")
        XCTAssertEqual(Z85.decode("HelloWorld"), bytes)
        XCTAssertNil(Z85.decode("Hello"  + "Worl"))   // 9 characters
        XCTAssertNil(Z85.decode("Hello World"))
    }

    func testAPublicKeyIsDerivedFromItsSecret() throws {
        let pair = try CurveKeyPair.generate()
        XCTAssertEqual(CurveKeyPair(secretKey: pair.secretKey), pair)
        XCTAssertNotEqual(try CurveKeyPair.generate(), pair)
        XCTAssertNil(CurveKeyPair(secretKey: "not a key"))
    }

    /// A server, its authenticator admitting `admitted`, and a refusal log.
    func server(admitting admitted: [CurveKeyPair]) throws -> (Socket, CurveKeyPair, Authenticator, RefusalLog) {
        let log = RefusalLog()
        let authenticator = try Authenticator(context: context, authorizedKeys: Set(admitted.map(\.publicKey)),
                                              onRefusal: { log.append($0) })
        let keys = try CurveKeyPair.generate()
        let router = try Socket(context, .router)
        try router.apply(.curveServer(keys, authenticator))
        try router.bind("tcp://127.0.0.1:*")
        try router.set(.receiveTimeout, 5000)
        return (router, keys, authenticator, log)
    }

    func client(_ keys: CurveKeyPair, serverKey: String, to server: Socket) throws -> (Socket, HandshakeMonitor) {
        let dealer = try Socket(context, .dealer)
        try dealer.apply(.curveClient(keys, serverKey: serverKey))
        let monitor = try HandshakeMonitor(dealer)
        try dealer.connect(try server.lastEndpoint())
        return (dealer, monitor)
    }

    func failure(of monitor: HandshakeMonitor, within seconds: Double = 5) throws -> HandshakeMonitor.Failure? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let failure = try monitor.failure() { return failure }
            Thread.sleep(forTimeInterval: 0.02)
        }
        return nil
    }

    func testAnAdmittedClientsMessagesCarryItsKey() throws {
        let workerKeys = try CurveKeyPair.generate()
        let (router, serverKeys, authenticator, log) = try server(admitting: [workerKeys])
        let (dealer, monitor) = try client(workerKeys, serverKey: serverKeys.publicKey, to: router)
        try dealer.send(copying: [Array("hello".utf8)])
        let message = try XCTUnwrap(try router.receive())
        XCTAssertEqual(Array(message[1]), Array("hello".utf8))
        XCTAssertEqual(message.property("User-Id", frame: 1), workerKeys.publicKey)
        XCTAssertNil(try monitor.failure())
        XCTAssertTrue(log.refusals.isEmpty)
        authenticator.stop()
    }

    /// A refused client learns it from the monitor; the server receives none of its messages
    /// (libzmq never delivers them), and the refusal is reported once however often it retries.
    /// A reply the handler could not send because a signal interrupted it (SIGHUP reloads the
    /// keys) is sent again: the handshake it answers, and every later one, still completes.
    func testAReplyInterruptedBySignalIsSentAgain() throws {
        let workerKeys = try CurveKeyPair.generate()
        let interruptions = Counter()
        let authenticator = try Authenticator(context: context, authorizedKeys: [workerKeys.publicKey], onRefusal: { _ in }, reload: nil,
                                              sendReply: { socket, reply in
                                                  // The first two attempts at each of the first replies fail as an interrupted send would.
                                                  if interruptions.next() % 3 != 2 { throw ZMQError(code: EINTR, operation: "send frame 1 of 6") }
                                                  try socket.send(copying: reply)
                                              })
        defer { authenticator.stop() }
        let serverKeys = try CurveKeyPair.generate()
        let router = try Socket(context, .router)
        try router.apply(.curveServer(serverKeys, authenticator))
        try router.bind("tcp://127.0.0.1:*")
        try router.set(.receiveTimeout, 5000)
        for index in 0..<2 {
            let (dealer, _) = try client(workerKeys, serverKey: serverKeys.publicKey, to: router)
            try dealer.send(copying: [Array("hello \(index)".utf8)])
            let message = try XCTUnwrap(try router.receive(), "handshake \(index) never completed")
            XCTAssertEqual(Array(message[1]), Array("hello \(index)".utf8))
        }
        XCTAssertGreaterThanOrEqual(interruptions.value, 6)
    }

    func testAnUnknownKeyIsRefusedAndNeverDelivered() throws {
        let (router, serverKeys, _, log) = try server(admitting: [try CurveKeyPair.generate()])
        let intruder = try CurveKeyPair.generate()
        let (dealer, monitor) = try client(intruder, serverKey: serverKeys.publicKey, to: router)
        try dealer.set(.reconnectInterval, 50)
        try dealer.send(copying: [Array("poison".utf8)], .dontWait)
        XCTAssertEqual(try failure(of: monitor), .refused(status: 400))
        Thread.sleep(forTimeInterval: 0.5)   // about ten more tries to connect
        XCTAssertNil(try router.receive(.dontWait), "a refused client's message was delivered")
        XCTAssertEqual(log.refusals.map(\.publicKey), [intruder.publicKey])
        XCTAssertEqual(log.refusals.first?.address, "127.0.0.1")
    }

    /// However many keys try, the refusals reported stop at `refusalsReported`, the last one marked.
    func testRefusalsReportedAreCapped() throws {
        let (router, serverKeys, _, log) = try server(admitting: [])
        var clients: [(Socket, HandshakeMonitor)] = []
        for _ in 0..<(Authenticator.refusalsReported + 5) {
            clients.append(try client(try CurveKeyPair.generate(), serverKey: serverKeys.publicKey, to: router))
        }
        for (_, monitor) in clients { XCTAssertEqual(try failure(of: monitor), .refused(status: 400)) }
        XCTAssertEqual(log.refusals.count, Authenticator.refusalsReported)
        XCTAssertEqual(log.refusals.filter(\.isLastReported).count, 1)
        XCTAssertTrue(log.refusals.last?.isLastReported ?? false)
    }

    func testReplacedKeysAdmitAClientRefusedBefore() throws {
        let (router, serverKeys, authenticator, _) = try server(admitting: [])
        let late = try CurveKeyPair.generate()
        let (first, monitor) = try client(late, serverKey: serverKeys.publicKey, to: router)
        XCTAssertEqual(try failure(of: monitor), .refused(status: 400))
        _ = first
        authenticator.replaceAuthorizedKeys([late.publicKey])
        let (second, _) = try client(late, serverKey: serverKeys.publicKey, to: router)
        try second.send(copying: [Array("again".utf8)])
        XCTAssertEqual(try router.receive()?.property("User-Id", frame: 1), late.publicKey)
    }

    /// A client given the wrong server key cannot complete the handshake: it is told, and sends nothing.
    func testAClientGivenAnotherServerKeyFails() throws {
        let workerKeys = try CurveKeyPair.generate()
        let (router, _, _, _) = try server(admitting: [workerKeys])
        let (dealer, monitor) = try client(workerKeys, serverKey: try CurveKeyPair.generate().publicKey, to: router)
        try dealer.send(copying: [Array("hello".utf8)], .dontWait)
        XCTAssertEqual(try failure(of: monitor), .closedDuringHandshake)
        XCTAssertNil(try router.receive(.dontWait))
    }

    func testAPlaintextClientOfACurveServerFails() throws {
        let (router, _, _, _) = try server(admitting: [])
        let dealer = try Socket(context, .dealer)
        let monitor = try HandshakeMonitor(dealer)
        try dealer.connect(try router.lastEndpoint())
        try dealer.send(copying: [Array("hello".utf8)], .dontWait)
        XCTAssertEqual(try failure(of: monitor), .mechanismMismatch)
    }
}

final class RefusalLog: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [Authenticator.Refusal] = []
    func append(_ refusal: Authenticator.Refusal) { lock.withLock { list.append(refusal) } }
    var refusals: [Authenticator.Refusal] { lock.withLock { list } }
}

/// A count shared with the handler's thread.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    /// The count before this call.
    func next() -> Int { lock.withLock { defer { count += 1 }; return count } }
}
