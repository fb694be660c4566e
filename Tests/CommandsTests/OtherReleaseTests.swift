import Foundation
import Plan
import Roles
import Wire
import XCTest
import ZMQ

/// Two releases of dptrain that speak other protocol versions, over real sockets: each side
/// says both versions, and the worker exits at once (76) instead of waiting 300 s for a welcome.
final class OtherReleaseTests: ProcessTestCase {
    /// The header of a message of `version` (hand-made: no encoder of this build writes another version).
    func header(version: UInt16, type: MessageType, runID: UInt64 = 0, payloadLength: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        func put<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
        put(protocolMagic); put(version); put(type.rawValue); put(runID); put(UInt64(0)); put(payloadLength)
        return bytes
    }

    /// A hello of version 3 to a real coordinator: the refusal comes back in a version-3 header,
    /// with the layout every version reads (u16 reason, str text), its text naming both versions.
    func testACoordinatorRefusesAHelloOfAnotherVersionInThatVersion() throws {
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1"])
        defer { coordinator.terminate(); coordinator.waitUntilExit() }
        let context = try Context()
        let socket = try Socket(context, .dealer)
        try socket.set(.receiveTimeout, 30_000)
        try socket.connect(endpoint)
        var meta: [UInt8] = [0, 0, 0, 0]   // previous worker id
        let host = Array("a worker of another release".utf8)
        withUnsafeBytes(of: UInt32(host.count).littleEndian) { meta += $0 }
        meta += host
        _ = try socket.send(copying: [header(version: 3, type: .hello, payloadLength: UInt64(meta.count)), meta, []])
        let reply = try XCTUnwrap(socket.receive(), "no answer in 30 s\n" + errors("coordinator"))
        XCTAssertEqual(reply.count, 3)
        let head = Array(reply[0]), body = Array(reply[1])
        XCTAssertEqual(head[4], 3, "the refusal's header is of the hello's version")
        XCTAssertEqual(UInt16(head[6]) | UInt16(head[7]) << 8, MessageType.refuse.rawValue)
        XCTAssertEqual(UInt16(body[0]) | UInt16(body[1]) << 8, RefuseReason.wrongVersion.rawValue)
        let text = String(decoding: body.dropFirst(6), as: UTF8.self)
        XCTAssertEqual(text, "this coordinator speaks dptrain protocol version \(protocolVersion) and this worker version 3: "
                             + "they are different releases; run the same dptrain release on every machine")
        waitUntil(seconds: 10, "the coordinator's log line") { errors("coordinator").contains("refused a worker: \(text)") }
    }

    /// A real worker whose coordinator answers in a later version: it exits with 76, naming both versions.
    func testAWorkerOfAnotherReleaseExitsNamingBothVersions() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.receiveTimeout, 30_000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let worker = try start("worker", ["worker", "--connect", endpoint])
        let hello = try XCTUnwrap(router.receive(), "no hello in 30 s\n" + errors("worker"))
        XCTAssertEqual(Array(hello[1])[4], UInt8(protocolVersion), "the hello carries the worker's version")
        let welcome = header(version: protocolVersion + 1, type: .welcome, runID: 7, payloadLength: 0)
        _ = try router.send(copying: [Array(hello[0]), welcome, [], []])
        wait(worker, seconds: 30)
        XCTAssertEqual(worker.terminationStatus, 76, errors("worker"))
        XCTAssertTrue(errors("worker").contains("the coordinator at \(endpoint) speaks dptrain protocol version \(protocolVersion + 1) and this worker version \(protocolVersion): "
                                                + "they are different releases; run the same dptrain release on every machine"), errors("worker"))
    }

    /// A parameter server whose coordinator answers in another version: it exits with 76 too,
    /// saying so as a server; one given a range its model cannot hold exits with 78.
    func testAParameterServerOfAnotherReleaseExitsNamingBothVersions() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.receiveTimeout, 30_000)
        try router.bind("tcp://127.0.0.1:*")
        let endpoint = try router.lastEndpoint()
        let server = try start("server", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"])
        let hello = try XCTUnwrap(router.receive(), "no hello in 30 s\n" + errors("server"))
        XCTAssertEqual(Array(hello[1])[6], UInt8(MessageType.serverHello.rawValue))
        _ = try router.send(copying: [Array(hello[0]), header(version: protocolVersion + 1, type: .serverWelcome, runID: 7, payloadLength: 0), [], []])
        wait(server, seconds: 30)
        XCTAssertEqual(server.terminationStatus, 76, errors("server"))
        XCTAssertTrue(errors("server").contains("parameter server: the coordinator at \(endpoint) speaks dptrain protocol version \(protocolVersion + 1) and this server version \(protocolVersion): "),
                      errors("server"))

        // A welcome whose range runs past its model's parameters.
        let other = try start("other", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"])
        let second = try XCTUnwrap(router.receive(), "no hello in 30 s\n" + errors("other"))
        let configuration = RunConfiguration(training: .standard(), featureCount: 784, classCount: 10).encoded()
        var encoder = MessageEncoder()
        try encoder.serverWelcome(runID: 9, step: 1, index: 0, serverCount: 1, first: 101_770, count: 4, configuration: configuration,
                                  optimizerSteps: 0, moments: 1)
        _ = try router.send(copying: [Array(second[0]), encoder.header, encoder.meta, [UInt8](repeating: 0, count: 32)])
        wait(other, seconds: 30)
        XCTAssertEqual(other.terminationStatus, 78, errors("other"))
        XCTAssertTrue(errors("other").contains("parameter server: the coordinator gave this server parameters 101770..<101774 of a model of 101770"), errors("other"))
    }
}
