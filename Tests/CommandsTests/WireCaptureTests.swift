import Foundation
import MLP
import Plan
import Roles
import Training
import XCTest
import ZMQ

/// What someone watching the network sees: a secured run and a plaintext one, captured on
/// the loopback interface by tcpdump, searched for the protocol's header and the weights.
final class WireCaptureTests: ProcessTestCase {
    /// "DPTR": the first bytes of every dptrain message header.
    static let magic = Array("DPTR".utf8)
    static let snapshotBytes = 256

    func testASecuredRunShowsNoHeaderAndNoWeightsWhereAPlaintextOneShowsBoth() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
        let tcpdump = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try XCTSkipUnless(tcpdump != nil, "tcpdump is not installed (deploy/test.sh installs it)")
        try XCTSkipUnless(getuid() == 0, "capturing packets needs root (deploy/test.sh runs as root in CI)")
        let keys = "\(folder)/keys"
        try FileManager.default.createDirectory(atPath: "\(keys)/authorized", withIntermediateDirectories: true)
        for name in ["coordinator", "worker"] {
            try Certificate(keyPair: try CurveKeyPair.generate()).write(name: name, directory: keys)
        }
        try FileManager.default.copyItem(atPath: "\(keys)/worker.key", toPath: "\(keys)/authorized/worker.key")

        let secured = try capture("secured", tcpdump: tcpdump!,
                                  coordinator: ["--key", "\(keys)/coordinator.key_secret", "--authorized-keys", "\(keys)/authorized"],
                                  worker: ["--key", "\(keys)/worker.key_secret", "--coordinator-key", "\(keys)/coordinator.key"])
        let plaintext = try capture("plaintext", tcpdump: tcpdump!, coordinator: [], worker: [])

        let config = TrainingConfig.standard()
        let weights = WeightWindows(config.model.initialParameters(config.initialization, seed: config.seed))
        let (securedHeaders, securedWeights) = (secured.count { $0.contains(Self.magic) }, secured.count { weights.found(in: $0) })
        let (plainHeaders, plainWeights) = (plaintext.count { $0.contains(Self.magic) }, plaintext.count { weights.found(in: $0) })
        XCTAssertGreaterThan(secured.count, 500, "the secured capture is too small to mean anything")
        XCTAssertEqual(securedHeaders, 0, "packets of the secured run with the DPTR header")
        XCTAssertEqual(securedWeights, 0, "packets of the secured run with the initial weights' bytes")
        // The same search finds both in the plaintext run: the check can fail.
        XCTAssertGreaterThan(plainHeaders, 50, "packets of the plaintext run with the DPTR header, of \(plaintext.count)")
        XCTAssertGreaterThan(plainWeights, 5, "packets of the plaintext run with the initial weights' bytes, of \(plaintext.count)")
    }

    /// The tcp payloads (their first bytes) of a one-epoch run on a loopback port, one array per packet.
    func capture(_ name: String, tcpdump: String, coordinator: [String], worker: [String]) throws -> [[UInt8]] {
        let port = try freePort()
        let endpoint = "tcp://127.0.0.1:\(port)"
        let file = "\(folder)/\(name).pcap"
        let dump = Process()
        dump.executableURL = URL(fileURLWithPath: tcpdump)
        dump.arguments = ["-i", "lo", "-s", String(Self.snapshotBytes), "-U", "-Z", "root", "-w", file, "tcp port \(port)"]
        let dumpErrors = Pipe()
        dump.standardError = dumpErrors
        try dump.run()
        defer { if dump.isRunning { dump.terminate(); dump.waitUntilExit() } }
        var said = Data()
        waitUntil(seconds: 20, "tcpdump to listen") {
            said += dumpErrors.fileHandleForReading.availableData
            return String(decoding: said, as: UTF8.self).contains("listening on")
        }
        let coordinatorProcess = try start("\(name)-coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--epochs", "1", "--batch", "512"] + coordinator)
        // Over the network, as a worker on another host would: on this host the weights would go through shared memory.
        let workerProcess = try start("\(name)-worker", ["worker", "--connect", endpoint, "--shared-memory", "off"] + worker)
        wait(coordinatorProcess)
        wait(workerProcess, seconds: 10)
        XCTAssertEqual(coordinatorProcess.terminationStatus, 0, errors("\(name)-coordinator"))
        Thread.sleep(forTimeInterval: 0.3)
        dump.interrupt()
        dump.waitUntilExit()
        return try PcapFile.tcpPayloads(Array(try Data(contentsOf: URL(fileURLWithPath: file))))
    }
}

/// Every 16-byte run of a weight vector, at float boundaries, leaving out runs with a zero
/// float (the biases start at zero, and zeros are everywhere).
struct WeightWindows {
    struct Window: Hashable { let low: UInt64, high: UInt64 }
    let windows: Set<Window>

    init(_ weights: [Float]) {
        var windows = Set<Window>()
        for start in 0..<(weights.count - 4) where !weights[start..<(start + 4)].contains(0) {
            let bits = weights[start..<(start + 4)].map { UInt64($0.bitPattern) }
            windows.insert(Window(low: bits[0] | bits[1] << 32, high: bits[2] | bits[3] << 32))
        }
        self.windows = windows
    }

    /// Whether any 16 bytes of `bytes`, at any offset, are one of the windows.
    func found(in bytes: [UInt8]) -> Bool {
        guard bytes.count >= 16 else { return false }
        return bytes.withUnsafeBytes { raw in
            for offset in 0...(bytes.count - 16) {
                let window = Window(low: raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self),
                                    high: raw.loadUnaligned(fromByteOffset: offset + 8, as: UInt64.self))
                if windows.contains(window) { return true }
            }
            return false
        }
    }
}

/// Just enough of the pcap format (tcpdump -w) to take out tcp payloads over IPv4 on Linux's loopback.
enum PcapFile {
    struct Malformed: Error, CustomStringConvertible { let description: String }

    static func tcpPayloads(_ file: [UInt8]) throws -> [[UInt8]] {
        func u32(_ at: Int) -> Int { Int(file[at]) | Int(file[at + 1]) << 8 | Int(file[at + 2]) << 16 | Int(file[at + 3]) << 24 }
        guard file.count >= 24, u32(0) == 0xa1b2c3d4 else { throw Malformed(description: "not a little-endian pcap file") }
        guard u32(20) == 1 else { throw Malformed(description: "link type \(u32(20)), not Ethernet") }
        var payloads: [[UInt8]] = []
        var offset = 24
        while offset + 16 <= file.count {
            let length = u32(offset + 8)
            let packet = Array(file[(offset + 16)..<min(file.count, offset + 16 + length)])
            offset += 16 + length
            // Ethernet (14 bytes, type 0x0800), IPv4 (its header length), tcp (its data offset).
            guard packet.count > 34, packet[12] == 0x08, packet[13] == 0x00, packet[23] == 6 else { continue }
            let tcp = 14 + Int(packet[14] & 0x0f) * 4
            guard packet.count > tcp + 12 else { continue }
            let payload = tcp + Int(packet[tcp + 12] >> 4) * 4
            if payload < packet.count { payloads.append(Array(packet[payload...])) }
        }
        return payloads
    }
}

extension Array where Element == UInt8 {
    /// Whether these bytes hold `needle` (4 bytes) anywhere.
    func contains(_ needle: [UInt8]) -> Bool {
        precondition(needle.count == 4)
        guard count >= 4 else { return false }
        let wanted = needle.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
        return withUnsafeBytes { raw in
            (0...(count - 4)).contains { raw.loadUnaligned(fromByteOffset: $0, as: UInt32.self) == wanted }
        }
    }
}
