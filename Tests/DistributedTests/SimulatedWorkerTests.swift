import Foundation
import Plan
import Roles
import Wire
import XCTest
import ZMQ
@testable import Distributed

/// The simulated worker of `dptrain bench ceiling` makes a worker's decisions through
/// `WorkerStateMachine`, as a real worker does: here against a coordinator played by hand.
final class SimulatedWorkerTests: XCTestCase {
    /// Welcomed, then answered as a restarted coordinator answers (another run at the endpoint),
    /// it rejoins at once on a fresh connection asking for its id back; told the run is
    /// finished, it stops. (The simulated worker before the machine drove it took neither.)
    func testItRejoinsARestartedCoordinatorAndStopsWhenTheRunIsFinished() throws {
        let context = try Context()
        let router = try Socket(context, .router)
        try router.set(.receiveTimeout, 10_000)
        try router.bind("tcp://127.0.0.1:*")
        let worker = try SimulatedWorker(endpoint: try router.lastEndpoint(), context: context, sharedMemory: false,
                                         giveUpAfterSeconds: 30)
        let ended = expectation(description: "the simulated worker's run ends")
        let outcome = Outcome()
        let thread = Thread {
            do { try worker.run() } catch { outcome.error = error }
            ended.fulfill()
        }
        thread.start()

        let first = try XCTUnwrap(try nextHello(router))
        XCTAssertEqual(first.hello.previousWorkerID, 0)
        let configuration = RunConfiguration(training: TrainingConfig.standard(), featureCount: 784, classCount: 10)
        var encoder = MessageEncoder()
        try encoder.welcome(Welcome(workerID: 7, configuration: configuration.encoded(),
                                    parameterCount: configuration.training.model.parameterCount), runID: 11)
        try send(encoder, to: first.peer, on: router)
        try encoder.refuse(Refusal(reason: .otherRun, text: "this coordinator runs another run"), runID: 12)
        try send(encoder, to: first.peer, on: router)

        let second = try XCTUnwrap(try nextHello(router))
        XCTAssertEqual(second.hello.previousWorkerID, 7, "a rejoining worker asks for its place back")
        XCTAssertNotEqual(second.peer, first.peer, "a rejoin starts a fresh connection")
        try encoder.refuse(Refusal(reason: .runFinished, text: "the run is over"), runID: 12)
        try send(encoder, to: second.peer, on: router)

        wait(for: [ended], timeout: 10)
        XCTAssertNil(outcome.error)
    }

    /// The next hello at `router`, and whose it is; what else comes (a heartbeat) is passed over.
    func nextHello(_ router: Socket) throws -> (peer: [UInt8], hello: Hello)? {
        while let message = try router.receive(maxFrames: framesPerMessage + 1) {
            let frames = Array(message)
            guard frames.count == framesPerMessage + 1,
                  case .hello(let hello) = try decode(frames: frames.dropFirst(), context: DecodeContext(receiver: .coordinator)).body
            else { continue }
            return ([UInt8](frames[0]), hello)
        }
        return nil
    }

    func send(_ encoder: MessageEncoder, to peer: [UInt8], on router: Socket) throws {
        try peer.withUnsafeBytes { identity in
            _ = try encoder.withFrames { try router.send([identity] + $0) }
        }
    }
}

private final class Outcome: @unchecked Sendable {
    var error: Error?
}
