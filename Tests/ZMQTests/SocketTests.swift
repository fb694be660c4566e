import XCTest
import ZMQ

final class SocketTests: XCTestCase {
    let context = try! Context()

    /// A bound and a connected socket, over `endpoint` (a tcp wildcard port is resolved).
    func pair(_ bindType: SocketType, _ connectType: SocketType,
              _ endpoint: String = "tcp://127.0.0.1:*") throws -> (bound: Socket, connected: Socket) {
        let bound = try Socket(context, bindType)
        try bound.bind(endpoint)
        let connected = try Socket(context, connectType)
        try connected.connect(try bound.lastEndpoint())
        for socket in [bound, connected] { try socket.set(.receiveTimeout, 5000) }
        return (bound, connected)
    }

    func testVersionIsFour() {
        XCTAssertTrue(zmqVersion.hasPrefix("4."), zmqVersion)
    }

    func testMultipartRoundTripOverInproc() throws {
        let (bound, connected) = try pair(.pair, .pair, "inproc://round-trip")
        try connected.send(copying: [[1, 2, 3], [], [4]])
        let message = Message()
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.map { Array($0) }, [[1, 2, 3], [], [4]])
        XCTAssertFalse(message.isTruncated)
    }

    func testRouterSeesTheDealersRoutingIDAndCanAnswer() throws {
        let router = try Socket(context, .router)
        try router.set(.routerMandatory, 1)
        try router.bind("tcp://127.0.0.1:*")
        let dealer = try Socket(context, .dealer)
        try dealer.setRoutingID(Array("worker-7".utf8))
        XCTAssertEqual(try dealer.routingID(), Array("worker-7".utf8))
        try dealer.connect(try router.lastEndpoint())
        for socket in [router, dealer] { try socket.set(.receiveTimeout, 5000) }

        try dealer.send(copying: [Array("hello".utf8)])
        let message = try XCTUnwrap(try router.receive())
        XCTAssertEqual(message.map { Array($0) }, [Array("worker-7".utf8), Array("hello".utf8)])

        try router.send(copying: [Array("worker-7".utf8), Array("welcome".utf8)])
        let answer = try XCTUnwrap(try dealer.receive())
        XCTAssertEqual(answer.map { Array($0) }, [Array("welcome".utf8)])
    }

    func testRouterMandatoryReportsAnUnknownPeer() throws {
        let router = try Socket(context, .router)
        try router.set(.routerMandatory, 1)
        try router.bind("inproc://mandatory")
        XCTAssertThrowsError(try router.send(copying: [Array("nobody".utf8), [1]])) { error in
            XCTAssertTrue((error as? ZMQError)?.isHostUnreachable == true, "\(error)")
        }
    }

    func testA400KBFloatFrameArrivesByteIdenticalOverTCP() throws {
        let (bound, connected) = try pair(.router, .dealer)
        let parameters = (0..<101_770).map { Float($0) * 0.001 - 17 }
        let header: [UInt8] = Array(repeating: 0xAB, count: 32)
        try header.withUnsafeBytes { header in
            try parameters.withUnsafeBytes { floats in
                XCTAssertTrue(try connected.send([header, floats]))
            }
        }
        let message = Message(maxFrames: 3)
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.count, 3)
        XCTAssertEqual(Array(message[1]), header)
        XCTAssertEqual(message[2].count, 407_080)
        XCTAssertTrue(message[2].elementsEqual(parameters.withUnsafeBytes { Array($0) }))
    }

    func testMessageIsReusedAcrossReceives() throws {
        let (bound, connected) = try pair(.pair, .pair, "inproc://reuse")
        let message = Message()
        try connected.send(copying: [[1], [2], [3]])
        try connected.send(copying: [[9]])
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.count, 3)
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.map { Array($0) }, [[9]])
    }

    func testFramesBeyondTheCapAreDrainedAndCounted() throws {
        let (bound, connected) = try pair(.pair, .pair, "inproc://cap")
        try connected.send(copying: (0..<10).map { [UInt8($0)] })
        try connected.send(copying: [[42]])
        let message = Message(maxFrames: 3)
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.count, 3)
        XCTAssertEqual(message.droppedFrames, 7)
        XCTAssertEqual(message.receivedFrames, 10)
        XCTAssertTrue(message.isTruncated)
        // The next message starts cleanly: nothing of the long one is left behind.
        XCTAssertTrue(try bound.receive(into: message))
        XCTAssertEqual(message.map { Array($0) }, [[42]])
        XCTAssertFalse(message.isTruncated)
    }

    func testReceiveTimeoutReturnsNilWithoutHanging() throws {
        let socket = try Socket(context, .dealer)
        try socket.bind("inproc://silent")
        try socket.set(.receiveTimeout, 50)
        XCTAssertEqual(try socket.get(.receiveTimeout), 50)
        // Returns at all: with no timeout in force the receive would block this test for good.
        XCTAssertNil(try socket.receive())
        XCTAssertFalse(try socket.receive(into: Message(), .dontWait))
    }

    func testNonBlockingSendReportsAFullQueue() throws {
        let socket = try Socket(context, .dealer)
        // A DEALER with no peer has nowhere to queue: sending would block.
        XCTAssertFalse(try socket.send(copying: [[1]], .dontWait))
    }

    func testBindingAnAddressInUseNamesTheEndpoint() throws {
        let first = try Socket(context, .router)
        try first.bind("tcp://127.0.0.1:*")
        let endpoint = try first.lastEndpoint()
        let second = try Socket(context, .router)
        XCTAssertThrowsError(try second.bind(endpoint)) { error in
            let error = error as? ZMQError
            XCTAssertEqual(error?.description, "bind \(endpoint): Address already in use")
            XCTAssertEqual(error?.code, EADDRINUSE)
        }
    }

    func testABadEndpointGivesAClearError() throws {
        let socket = try Socket(context, .dealer)
        XCTAssertThrowsError(try socket.connect("tcp://no-port-here")) { error in
            XCTAssertEqual((error as? ZMQError)?.description, "connect tcp://no-port-here: Invalid argument")
        }
        XCTAssertThrowsError(try socket.bind("carrier-pigeon://coop")) { error in
            XCTAssertEqual((error as? ZMQError)?.description,
                           "bind carrier-pigeon://coop: Protocol not supported")
        }
    }

    func testOptionsRoundTripAndIntegerWidths() throws {
        let socket = try Socket(context, .router)
        XCTAssertEqual(try socket.get(.linger), Int(Socket.defaultLingerMilliseconds))
        try socket.set(.maxMessageSize, 1 << 33)
        XCTAssertEqual(try socket.get(.maxMessageSize), 1 << 33)
        try socket.set(.sendHighWaterMark, 64)
        XCTAssertEqual(try socket.get(.sendHighWaterMark), 64)
        try socket.set(.heartbeatInterval, 1000)
        try socket.set(.heartbeatTimeout, 3000)
        try socket.set(.heartbeatTTL, 3000)
        try socket.set(.reconnectInterval, 100)
        try socket.set(.reconnectIntervalMax, 5000)
        try socket.set(.tcpKeepalive, 1)
        try socket.set(.immediate, 1)
        try socket.set(SocketOption(17), 0) // ZMQ_LINGER by number
        XCTAssertEqual(try socket.get(.linger), 0)
        XCTAssertThrowsError(try socket.set(.linger, 1 << 40)) { error in
            XCTAssertEqual((error as? ZMQError)?.description, "set linger \(1 << 40): Invalid argument")
        }
    }

    func testPollReportsWhichSocketIsReadable() throws {
        let (quietBound, _) = try pair(.pair, .pair, "inproc://quiet")
        let (busyBound, busyConnected) = try pair(.pair, .pair, "inproc://busy")
        var items = [PollItem(quietBound), PollItem(busyBound)]
        XCTAssertEqual(try poll(&items, timeoutMilliseconds: 0), 0)
        XCTAssertEqual(items.map(\.ready), [[], []])

        try busyConnected.send(copying: [[1]])
        XCTAssertEqual(try poll(&items, timeoutMilliseconds: 5000), 1)
        XCTAssertEqual(items[0].ready, [])
        XCTAssertEqual(items[1].ready, .readable)

        var writable = [PollItem(busyConnected, [.readable, .writable])]
        XCTAssertEqual(try poll(&writable, timeoutMilliseconds: 0), 1)
        XCTAssertEqual(writable[0].ready, .writable)
    }

    func testContextShutdownWakesABlockedReceive() throws {
        let context = try Context()
        let socket = try Socket(context, .dealer)
        try socket.bind("inproc://blocked")
        DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { context.shutdown() }
        XCTAssertThrowsError(try socket.receive()) { error in
            XCTAssertTrue((error as? ZMQError)?.isTerminated == true, "\(error)")
        }
    }
}
