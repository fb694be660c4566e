import CSharedMemory
import Wire
import Foundation

/// One shared-memory segment of the same-host bulk transport: a memory file mapped by two
/// processes, a 64-byte header and the data after it.
///
///     0   sequence  UInt64  the step the data belongs to (0: nothing yet)
///     8   length    UInt64  bytes of data that step wrote
///     16  nonce     UInt64  the creator's random number, which the opener checks
///     64  data      weights in the run's wire precision, or a gradient's sums packed to the answer's width
///
/// The writer writes the data, then publishes length and sequence; the reader checks both
/// when the control message that names the step arrives, so a writer that died mid-write
/// (which never sent that message) or a torn record is never read as a whole one.
///
/// The memory file has no name: another process of the same user on this host opens it
/// through /proc/PID/fd/FD while its creator holds it open, and it is gone when the last
/// process that maps it exits, however it exits. Nothing is ever left in /dev/shm.
///
/// Who may write it is sealed into the file, not left to the openers' good manners: its size is
/// fixed at creation (no process can shrink it under another's mapping), and `sealAgainstWriters`
/// stops every writer to come (no write(2), no new writable mapping, whoever opens it), leaving
/// only the mappings made before it: the coordinator's for the weights, sealed as soon as they are
/// made; the coordinator's and its member's for a slot, sealed when the member has mapped it.
final class SharedSegment {
    static let headerBytes = 64

    let dataBytes: Int
    let nonce: UInt64
    /// The creator's descriptor, for the other end to open through /proc; -1 once closed.
    private(set) var descriptor: Int32
    private let base: UnsafeMutableRawPointer

    private init(descriptor: Int32, dataBytes: Int, nonce: UInt64, base: UnsafeMutableRawPointer) {
        self.descriptor = descriptor
        self.dataBytes = dataBytes
        self.nonce = nonce
        self.base = base
    }

    /// A new segment for `dataBytes` bytes of data, kept open for the other end to open.
    static func create(dataBytes: Int) throws -> SharedSegment {
        let fd = dptrain_memfd_create(headerBytes + dataBytes)
        guard fd >= 0 else { throw SharedMemoryError(.cannotCreate, "could not create a \(dataBytes)-byte shared segment: \(String(cString: strerror(errno)))") }
        let nonce = UInt64.random(in: 1...UInt64.max)
        let segment = try map(fd, dataBytes: dataBytes, nonce: nonce, keepOpen: true)
        segment.base.storeBytes(of: nonce, toByteOffset: 16, as: UInt64.self)
        return segment
    }

    /// Maps process `pid`'s segment `fd`, which must hold `dataBytes` of data and `nonce`: read-only
    /// (the weights, which the kernel then keeps this process from writing), or for `writing` (a slot).
    static func open(pid: Int32, fd: Int32, dataBytes: Int, nonce: UInt64, writing: Bool) throws -> SharedSegment {
        let opened = dptrain_memfd_open(pid, fd, writing ? 1 : 0)
        guard opened >= 0 else {
            throw SharedMemoryError(.cannotOpen, "could not open the coordinator's shared memory (/proc/\(pid)/fd/\(fd)): \(String(cString: strerror(errno)))")
        }
        var status = stat()
        guard fstat(opened, &status) == 0, Int(status.st_size) == headerBytes + dataBytes else {
            close(opened)
            throw SharedMemoryError(.notTheGranted, "the coordinator's shared memory /proc/\(pid)/fd/\(fd) is not the size the welcome said")
        }
        // Mapped, the descriptor is no longer needed: the mapping keeps the memory.
        let segment = try map(opened, dataBytes: dataBytes, nonce: nonce, keepOpen: false, writing: writing)
        guard segment.base.load(fromByteOffset: 16, as: UInt64.self) == nonce else {
            throw SharedMemoryError(.notTheGranted, "/proc/\(pid)/fd/\(fd) is not the coordinator's shared memory (its nonce differs)")
        }
        return segment
    }

    private static func map(_ fd: Int32, dataBytes: Int, nonce: UInt64, keepOpen: Bool, writing: Bool = true) throws -> SharedSegment {
        let address = mmap(nil, headerBytes + dataBytes, writing ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED, fd, 0)
        guard let address, address != MAP_FAILED else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw SharedMemoryError(.cannotOpen, "could not map a \(dataBytes)-byte shared segment: \(reason)")
        }
        if !keepOpen { close(fd) }
        return SharedSegment(descriptor: keepOpen ? fd : -1, dataBytes: dataBytes, nonce: nonce, base: address)
    }

    deinit {
        munmap(base, Self.headerBytes + dataBytes)
        closeDescriptor()
    }

    /// Closes the creator's descriptor once the other end has mapped the segment: nothing else can open it then.
    func closeDescriptor() {
        if descriptor >= 0 { close(descriptor) }
        descriptor = -1
    }

    /// Seals the memory file against every writer to come: from now on no process (the creator
    /// included) can write(2) it or map it writable, whoever opened it and whenever; the writable
    /// mappings already made go on writing. Throws on a kernel older than 5.1, which cannot seal
    /// so: the caller then keeps the socket rather than share memory anyone of this user may write.
    func sealAgainstWriters() throws {
        precondition(descriptor >= 0, "a segment is sealed through its creator's descriptor")
        guard dptrain_memfd_seal_writers(descriptor) == 0 else {
            throw SharedMemoryError(.cannotCreate, "this kernel cannot seal shared memory against writers (F_SEAL_FUTURE_WRITE, Linux 5.1): \(String(cString: strerror(errno)))")
        }
    }

    /// The other end has mapped the segment: it is sealed against writers, so that the two
    /// mappings made so far are the only ones that write it (a process that opened it meanwhile
    /// can neither write it nor map it writable), and the creator's descriptor is closed, so that
    /// nothing can open it through /proc any more. Once only; later calls do nothing.
    func handOver() {
        guard descriptor >= 0 else { return }
        // The weights' seal succeeded on this kernel, or no member maps anything: this one cannot fail.
        try? sealAgainstWriters()
        closeDescriptor()
    }

    /// The data area, 64-byte aligned.
    var data: UnsafeMutableRawBufferPointer { UnsafeMutableRawBufferPointer(start: base + Self.headerBytes, count: dataBytes) }

    private var words: UnsafeMutablePointer<UInt64> { base.assumingMemoryBound(to: UInt64.self) }

    /// Says that the data holds no step; call before rewriting it.
    func invalidate() { dptrain_invalidate(words) }

    /// Says that the data's first `length` bytes are step `sequence`'s; call after writing them.
    func publish(sequence: UInt64, length: Int) { dptrain_publish(words, sequence, UInt64(length)) }

    /// Whether the data holds exactly `length` bytes for step `sequence`.
    func holds(sequence: UInt64, length: Int) -> Bool {
        var published: UInt64 = 0, bytes: UInt64 = 0
        dptrain_published(words, &published, &bytes)
        return published == sequence && bytes == UInt64(length)
    }
}

extension SharedSegment: SharedBulkSource {
    /// The data's first `length` bytes when the segment holds exactly those for step `step`: the
    /// one check, at the segment, before a receiver decodes a single value of a shared bulk.
    func bulk(step: UInt64, length: Int) -> UnsafeRawBufferPointer? {
        guard length >= 0, length <= dataBytes, holds(sequence: step, length: length) else { return nil }
        return UnsafeRawBufferPointer(rebasing: data[0..<length])
    }
}

/// Why same-host shared memory could not be set up; the member then moves its bulk over the socket.
public struct SharedMemoryError: Error, CustomStringConvertible, Equatable {
    public enum Kind: Equatable, Sendable {
        /// This process could not make a segment or a pipe (no memory, too many files).
        case cannotCreate
        /// The coordinator's segment or pipe could not be opened or mapped through /proc.
        case cannotOpen
        /// What was opened is not what the welcome described (its size or its nonce).
        case notTheGranted
    }

    public let kind: Kind
    public let detail: String

    init(_ kind: Kind, _ detail: String) {
        self.kind = kind
        self.detail = detail
    }

    public var description: String { detail }
}

extension SharedSegment {
    /// This kernel's boot id, this process's pid namespace and its effective user: two
    /// processes with the same identity can open each other's memory files through /proc
    /// (the kernel lets only the same user in there), so a worker of another user on the
    /// coordinator's host is granted none and keeps the socket. Empty when unreadable.
    static let hostIdentity: String = {
        guard let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8),
              let namespace = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid") else { return "" }
        return boot.trimmingCharacters(in: .whitespacesAndNewlines) + " " + namespace + " uid \(geteuid())"
    }()
}
