import Foundation
import MLP
import Wire
import XCTest
import ZMQ
@testable import Distributed

/// A member driven by hand, for tests that need a peer to misbehave: it joins as a worker
/// would and hands its first step to the test, which answers as it likes.
final class HandDrivenMember {
    let socket: Socket
    let context: Context
    var encoder = MessageEncoder()

    init(endpoint: String) throws {
        context = try Context()
        socket = try Socket(context, .dealer)
        try socket.set(.receiveTimeout, 10_000)
        try socket.connect(endpoint)
    }

    /// What the member was told before its first step, and the step.
    struct FirstStep {
        let runID: UInt64
        let welcome: Welcome
        let step: UInt64
        /// Samples the step asks for: the meta's index count.
        let samples: UInt32
    }

    /// Says hello (offering shared memory from this host when `offersSharedMemory`) and waits for
    /// the welcome and then the first step; nil when none came within the receive timeout.
    func joinAndAwaitFirstStep(host: String, offersSharedMemory: Bool) throws -> FirstStep? {
        let offer = offersSharedMemory ? SharedMemoryOffer(hostIdentity: SharedSegment.hostIdentity) : nil
        try encoder.hello(Hello(host: host, blasCore: BLAS.coreName, sharedMemory: offer))
        try socket.send(copying: encoder.frames())
        var welcomed: (runID: UInt64, welcome: Welcome)?
        while let message = try socket.receive(maxFrames: framesPerMessage) {
            let header = try Header(parsing: message[0])
            if header.type == .welcome, case .welcome(let welcome) = try decode(frames: message, context: DecodeContext(receiver: .worker)).body {
                welcomed = (header.runID, welcome)
            }
            guard header.type == .step, let welcomed else { continue }
            let samples = UInt32(littleEndian: message[1].loadUnaligned(fromByteOffset: 4, as: UInt32.self))
            return FirstStep(runID: welcomed.runID, welcome: welcomed.welcome, step: header.step, samples: samples)
        }
        return nil
    }
}
