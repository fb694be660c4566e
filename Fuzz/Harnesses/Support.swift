// What every harness shares: the fuzzer's bytes as a cursor, frames copied into buffers of
// their exact size (so that AddressSanitizer sees a read one byte past a frame), and a private
// file for decoders that take a path.
import Wire
#if canImport(Glibc)
import Glibc
#endif

/// Reads the fuzzer's input from the front: small numbers that choose a case, then lengths.
struct FuzzInput {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ data: UnsafePointer<UInt8>, _ size: Int) { bytes = UnsafeRawBufferPointer(start: data, count: size) }

    var remaining: Int { bytes.count - offset }

    mutating func byte() -> UInt8 {
        guard offset < bytes.count else { return 0 }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func uint16() -> Int { Int(byte()) | Int(byte()) << 8 }

    /// The next `count` bytes, or as many as are left.
    mutating func take(_ count: Int) -> UnsafeRawBufferPointer {
        let taken = min(count, remaining)
        defer { offset += taken }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + taken])
    }

    mutating func rest() -> UnsafeRawBufferPointer { take(remaining) }
}

/// Copies of frames, each in an allocation of exactly its size, freed on `release`.
struct ExactFrames {
    private(set) var frames: [UnsafeRawBufferPointer] = []

    mutating func append(_ bytes: UnsafeRawBufferPointer) {
        let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes.count, alignment: 1)
        if bytes.count > 0 { copy.copyMemory(from: bytes) }
        frames.append(UnsafeRawBufferPointer(copy))
    }

    func release() { frames.forEach { $0.deallocate() } }
}

/// Reads every byte of `bytes`, so that a view that reaches past its frame is caught here.
@inline(never)
func touch(_ bytes: UnsafeRawBufferPointer) -> UInt8 {
    bytes.reduce(0, ^)
}

/// A file of this process's own in /dev/shm (memory, not disk), rewritten with each input, for
/// the decoders that read a path: their whole path, from open to parse, is what is fuzzed.
enum ScratchFile {
    static let directory: String = {
        let base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
        let path = "\(base)/dptrain-fuzz-\(getpid())"
        removeLeftovers(in: base)
        mkdir(path, 0o700)
        atexit { _ = try? ScratchFile.removeAll() }
        return path
    }()

    /// Writes `bytes` to DIRECTORY/NAME and returns the path.
    static func write(_ bytes: UnsafeRawBufferPointer, name: String) -> String {
        let path = "\(directory)/\(name)"
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        precondition(fd >= 0, "cannot write \(path)")
        var written = 0
        while written < bytes.count {
            let count = Glibc.write(fd, bytes.baseAddress! + written, bytes.count - written)
            precondition(count > 0, "cannot write \(path)")
            written += count
        }
        close(fd)
        return path
    }

    /// Folders of harnesses that were killed (a fuzzer stopped by a signal runs no atexit): any
    /// `dptrain-fuzz-PID` in `base` whose process is gone.
    static func removeLeftovers(in base: String) {
        guard let listing = opendir(base) else { return }
        var gone: [String] = []
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            guard name.hasPrefix("dptrain-fuzz-"), let pid = Int32(name.dropFirst("dptrain-fuzz-".count)),
                  kill(pid, 0) != 0, errno == ESRCH else { continue }
            gone.append("\(base)/\(name)")
        }
        closedir(listing)
        for folder in gone { removeFolder(folder) }
    }

    static func removeAll() throws { removeFolder(directory) }

    /// Removes `folder` and the files in it.
    static func removeFolder(_ folder: String) {
        guard let listing = opendir(folder) else { return }
        while let entry = readdir(listing) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { unlink("\(folder)/\(name)") }
        }
        closedir(listing)
        rmdir(folder)
    }
}

/// Reads every value a decoded message hands its receiver, as the roles would.
@inline(never)
func consume(_ envelope: Envelope) {
    var sink: UInt64 = envelope.step
    switch envelope.body {
    case .hello(let hello):
        sink &+= UInt64(hello.host.utf8.count + hello.blasCore.utf8.count + (hello.sharedMemory?.hostIdentity.utf8.count ?? 0))
    case .welcome(let welcome):
        sink &+= UInt64(welcome.configuration.count + welcome.parameterCount) &+ (welcome.sharedMemory?.weightsNonce ?? 0)
    case .refuse(let refusal):
        sink &+= UInt64(refusal.text.utf8.count) &+ UInt64(refusal.reason.rawValue)
    case .failure(let reason):
        sink &+= UInt64(reason.utf8.count)
    case .shard(let shard):
        sink &+= UInt64(touch(shard.pixels)) &+ UInt64(touch(shard.labels)) &+ UInt64(shard.count * shard.features * shard.classCount)
    case .step(let step):
        for index in step.indices { sink &+= UInt64(index) }
        for size in step.chunkSizes { sink &+= UInt64(size) }
        for chunk in step.chunks { sink &+= UInt64(chunk) }
        for value in step.parameters { sink &+= UInt64(value.bitPattern) }
    case .gradient(let gradient):
        sink &+= UInt64(touch(gradient.sums)) &+ UInt64(gradient.correct) &+ gradient.lossSum.bitPattern
    case .serverHello(let hello):
        sink &+= UInt64(hello.endpoint.utf8.count + hello.host.utf8.count + hello.publicKey.utf8.count)
    case .serverWelcome(let welcome):
        sink &+= UInt64(welcome.configuration.count + welcome.first + welcome.count) &+ welcome.optimizerSteps
        for value in welcome.weights { sink &+= UInt64(value.bitPattern) }
        for moment in welcome.moments { for value in moment { sink &+= UInt64(value.bitPattern) } }
    case .attach(let worker):
        sink &+= UInt64(worker)
    case .slice(let slice):
        sink &+= UInt64(touch(slice.sums)) &+ UInt64(slice.workerID) &+ UInt64(slice.valueBytes)
        for chunk in slice.chunks { sink &+= UInt64(chunk) }
    case .weights(let weights):
        sink &+= UInt64(weights.first)
        for value in weights.values { sink &+= UInt64(value.bitPattern) }
    case .commit(let commit):
        sink &+= UInt64(commit.learningRate.bitPattern) &+ UInt64(commit.members.count) &+ commit.nextStep
        for answer in commit.answers { sink &+= UInt64(answer.workerID) &+ UInt64(answer.chunks.count) }
    case .rangeState(let state):
        sink &+= UInt64(state.first) &+ state.optimizerSteps
        for value in state.weights { sink &+= UInt64(value.bitPattern) }
        for moment in state.moments { for value in moment { sink &+= UInt64(value.bitPattern) } }
    case .memberKeys(let keys):
        sink &+= UInt64(keys.reduce(0) { $0 + $1.utf8.count })
    case .heartbeat, .goodbye, .shutdown, .fetch:
        break
    }
    blackHole(sink)
}

@inline(never)
func blackHole(_ value: UInt64) { if value == 0x1234_5678_9ABC_DEF0 { print("") } }

/// Set DPTRAIN_FUZZ_VERBOSE=1 and run a harness on files (`HARNESS FILE...`) to see what each
/// input decodes to or why it is refused: how a seed is checked to reach past the first refusal.
let verbose = getenv("DPTRAIN_FUZZ_VERBOSE") != nil

/// `body`'s result, or nil when it throws (what the decoder is for: a refusal, never a crash).
func decoded<T>(_ body: () throws -> T) -> T? {
    do {
        let value = try body()
        if verbose { print("accepted: \(String(describing: value).prefix(200))") }
        return value
    } catch {
        if verbose { print("refused: \(error)") }
        return nil
    }
}
