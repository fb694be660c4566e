import Dataset
import Foundation
import MLP
import OutputFiles
import Plan

/// Everything a coordinator needs to go on where it stopped, bit for bit.
public struct CheckpointState: Codable, Equatable {
    public var training: TrainingConfig
    /// Training samples in the data the run trains on; a resume must use the same data.
    public var sampleCount: Int
    /// Optimizer steps taken.
    public var step: UInt64
    /// Where the run stands in its epochs and steps.
    public var course: RunCourse
    /// Training samples seen, which places the learning-rate schedule.
    public var samplesSeen: Int
    public var assignment: ShardAssignment
    /// The workers of the run, by id; a restarted coordinator keeps their places for them.
    public var memberIDs: [UInt32]
    public var nextWorkerID: UInt32
    public var optimizerStep: Int
    /// For the report: training seconds, and the loss and samples of the run so far.
    public var trainingSeconds: Double
    public var runLossSum: Double
    public var runSamples: Int
    /// The part of those in the epoch under way.
    public var epochLossSum: Double
    public var epochSamples: Int
    /// Training seconds of the epoch under way (absent in checkpoints of earlier versions).
    public var epochTrainingSeconds: Double?
    /// The untrained network's loss that divergence is judged against, so that a resumed run
    /// does not judge against an already trained loss (absent in earlier checkpoints).
    public var divergenceStartLoss: Double?

    public init(training: TrainingConfig, sampleCount: Int, step: UInt64, course: RunCourse, samplesSeen: Int,
                assignment: ShardAssignment, memberIDs: [UInt32], nextWorkerID: UInt32, optimizerStep: Int,
                trainingSeconds: Double, runLossSum: Double, runSamples: Int, epochLossSum: Double, epochSamples: Int) {
        self.training = training
        self.sampleCount = sampleCount
        self.step = step
        self.course = course
        self.samplesSeen = samplesSeen
        self.assignment = assignment
        self.memberIDs = memberIDs
        self.nextWorkerID = nextWorkerID
        self.optimizerStep = optimizerStep
        self.trainingSeconds = trainingSeconds
        self.runLossSum = runLossSum
        self.runSamples = runSamples
        self.epochLossSum = epochLossSum
        self.epochSamples = epochSamples
    }
}

/// A checkpoint's contents: the state, the weights and the optimizer's moments.
public struct Checkpoint: Equatable {
    public var state: CheckpointState
    public var parameters: [Float]
    public var moments: [[Float]]

    public init(state: CheckpointState, parameters: [Float], moments: [[Float]]) {
        self.state = state
        self.parameters = parameters
        self.moments = moments
    }
}

/// Checkpoints in a folder, one file each, written atomically and checked on load:
///
///     "DPCK"  u32 version  u64 n  n bytes of JSON (the state)
///     Float32 parameters (P), then each optimizer moment (P each)
///     u32 CRC-32 of everything before it
///
/// A crash mid-write leaves a temporary file that no load ever reads; the
/// previous checkpoint stays usable. The three newest are kept.
public struct CheckpointStore {
    public static let magic: [UInt8] = Array("DPCK".utf8)
    public static let version: UInt32 = 3
    public static let kept = 3
    public let directory: String

    /// Creates the folder if needed; throws a one-line error if it cannot.
    public init(directory: String) throws {
        self.directory = directory
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw CheckpointError(path: directory, reason: "cannot create the checkpoint folder; check the path and its permissions")
        }
    }

    public func path(step: UInt64) -> String {
        (directory as NSString).appendingPathComponent(String(format: "checkpoint-%010llu.dpck", step))
    }

    /// Writes `checkpoint` for its step and returns the file's path.
    @discardableResult
    public func write(_ checkpoint: Checkpoint) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let json = try encoder.encode(checkpoint.state)
        var bytes = Data()
        bytes.reserveCapacity(16 + json.count + 4 * checkpoint.parameters.count * (1 + checkpoint.moments.count) + 4)
        bytes.append(contentsOf: Self.magic)
        appendLittleEndian(Self.version, to: &bytes)
        appendLittleEndian(UInt64(json.count), to: &bytes)
        bytes.append(json)
        for buffer in [checkpoint.parameters] + checkpoint.moments {
            buffer.withUnsafeBytes { bytes.append(contentsOf: $0) }
        }
        appendLittleEndian(Self.crc(bytes), to: &bytes)

        let final = path(step: checkpoint.state.step)
        do {
            // On disk before the rename makes it the newest; a failed write leaves no part of it.
            try bytes.withUnsafeBytes { try OutputFile.write($0, to: final) }
        } catch let error as FileError {
            let kept = checkpointPaths().last.map { "the last good checkpoint, \($0), is kept" } ?? "no earlier checkpoint exists"
            throw CheckpointError(path: final, reason: "\(error.reason) \(error.doing) it; \(kept); \(error.advice)", fileError: error)
        }
        pruneOlder()
        return final
    }

    /// The newest checkpoint that passes every check (nil if none does), and why each newer one was refused.
    public func loadNewest() -> (found: (checkpoint: Checkpoint, path: String)?, refused: [String]) {
        var refused: [String] = []
        for path in checkpointPaths().reversed() {
            do {
                return ((try Self.load(path: path), path), refused)
            } catch {
                refused.append("\(error)")
            }
        }
        return (nil, refused)
    }

    /// Reads and checks one checkpoint file.
    public static func load(path: String) throws -> Checkpoint {
        func refuse(_ reason: String) -> CheckpointError { CheckpointError(path: path, reason: reason) }
        guard let data = FileManager.default.contents(atPath: path) else { throw refuse("cannot be read") }
        guard data.count >= 20, Array(data.prefix(4)) == magic else { throw refuse("not a dptrain checkpoint (no DPCK header)") }
        let version = readLittleEndian(UInt32.self, data, at: 4)
        guard version == Self.version else {
            throw refuse("checkpoint format \(version), this dptrain reads \(Self.version): resume it with the release that wrote it, or start over in an empty --checkpoint folder")
        }
        let stored = readLittleEndian(UInt32.self, data, at: data.count - 4)
        guard stored == crc(data.prefix(data.count - 4)) else {
            throw refuse("its checksum does not match: the file is truncated or corrupt")
        }
        let jsonLength = readLittleEndian(UInt64.self, data, at: 8)
        guard jsonLength <= UInt64(data.count - 20) else { throw refuse("its header runs past the end of the file") }
        let jsonEnd = 16 + Int(jsonLength)
        guard let state = try? JSONDecoder().decode(CheckpointState.self, from: data[16..<jsonEnd]) else {
            throw refuse("its state cannot be read by this version of dptrain")
        }
        let model = state.training.model
        guard model.problems.isEmpty, model.layerSizes.allSatisfy({ $0 <= 1 << 16 }), model.parameterCount <= 1 << 28,
              state.trainingSeconds >= 0, state.trainingSeconds.isFinite else {
            throw refuse("its state describes no model this dptrain can train")
        }
        if let problem = state.assignment.problem(sampleCount: state.sampleCount) {
            throw refuse("its shard assignment is inconsistent: \(problem)")
        }
        if let problem = state.course.problem(plan: state.assignment.plan) {
            throw refuse("its place in the run is inconsistent: \(problem)")
        }
        let parameterCount = state.training.model.parameterCount
        let momentCount = makeOptimizer(state.training.optimizer, parameterCount: 0).state.moments.count
        guard data.count - jsonEnd - 4 == 4 * parameterCount * (1 + momentCount) else {
            throw refuse("it holds \(data.count - jsonEnd - 4) bytes of weights, the model needs \(4 * parameterCount * (1 + momentCount))")
        }
        var buffers: [[Float]] = []
        var offset = jsonEnd
        for _ in 0...momentCount {
            var buffer = [Float](repeating: 0, count: parameterCount)
            buffer.withUnsafeMutableBytes { data.copyBytes(to: $0, from: offset..<(offset + 4 * parameterCount)) }
            buffers.append(buffer)
            offset += 4 * parameterCount
        }
        return Checkpoint(state: state, parameters: buffers[0], moments: Array(buffers.dropFirst()))
    }

    /// Finished checkpoint files, oldest first.
    public func checkpointPaths() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".dpck") }.sorted()
            .map { (directory as NSString).appendingPathComponent($0) }
    }

    private func pruneOlder() {
        let paths = checkpointPaths()
        for path in paths.dropLast(Self.kept) { try? FileManager.default.removeItem(atPath: path) }
    }

    static func crc<Bytes: DataProtocol>(_ bytes: Bytes) -> UInt32 { crc32Checksum(bytes) }
}

public struct CheckpointError: Error, CustomStringConvertible {
    public let path: String
    public let reason: String
    /// Set when the checkpoint could not be written (a full disk): no restart cures that.
    public let fileError: FileError?
    public var description: String { "checkpoint \(path): \(reason)" }

    public init(path: String, reason: String, fileError: FileError? = nil) {
        self.path = path
        self.reason = reason
        self.fileError = fileError
    }
}

private func appendLittleEndian<T: FixedWidthInteger>(_ value: T, to data: inout Data) {
    withUnsafeBytes(of: value.littleEndian) { data.append(contentsOf: $0) }
}

private func readLittleEndian<T: FixedWidthInteger>(_ type: T.Type, _ data: Data, at offset: Int) -> T {
    var value = T.zero
    withUnsafeMutableBytes(of: &value) { data.copyBytes(to: $0, from: (data.startIndex + offset)..<(data.startIndex + offset + MemoryLayout<T>.size)) }
    return T(littleEndian: value)
}
