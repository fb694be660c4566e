// The dptrain wire protocol, all of it in one place.
//
// Roles: one coordinator (ROUTER socket) and any number of workers (DEALER
// sockets). Every message is EXACTLY THREE FRAMES:
//
//   frame 0  header  32 bytes, fixed, little-endian (below)
//   frame 1  meta    the message's small fields, laid out per type (below)
//   frame 2  bulk    the message's one large array, or empty
//
// Why three and not "header + payload": the parameters (step) and the
// gradient (gradient) are ~400 KB of Float32 that live in the sender's own
// [Float]. Giving them their own frame lets the socket send them straight
// from that storage (one copy, into libzmq) and the receiver read them in
// place from libzmq's buffer (one copy, out of it). A single payload frame
// would need the small fields and the floats contiguous, i.e. another copy.
// The ROUTER's routing-id frame in front is the socket layer's business and
// is not part of a wire message.
//
// Header (offsets in bytes, all integers little-endian):
//
//   0   magic           UInt32  0x52545044, the bytes "DPTR"
//   4   version         UInt16  `protocolVersion`
//   6   type            UInt16  `MessageType.rawValue`
//   8   run id          UInt64  chosen by the coordinator at start; 0 in a new worker's hello
//   16  step            UInt64  the optimizer step the message belongs to (0 where none)
//   24  payload length  UInt64  meta frame bytes + bulk frame bytes
//
// Meta and bulk per message type (u32 = UInt32 LE, f64 = Float64 LE, etc.;
// "str" = u32 byte count then that many UTF-8 bytes):
//
//   type       dir   meta                                                   bulk
//   hello      w->c  u32 previous worker id (0 = new), str host (<= 256 B), empty
//                    str BLAS core (<= 64 B, OpenBLAS's name for the kernels
//                    it runs), u8 flags (bit 0: joins a run on other kernels;
//                    bit 1: computes in bf16 natively, so may join a --compute bf16 run),
//                    u16 threads (1 to 1024: the threads computing its chunks,
//                    its share of the shards)
//                    [, str host identity (<= 256 B): a shared-memory offer]
//   welcome    c->w  u32 worker id, u32 n + n bytes configuration           empty
//                    (opaque, JSON by the Training layer, <= 64 KiB),
//                    u32 parameter count [, a shared-memory grant: u32 pid,
//                    u32 weights fd, u64 weights nonce, u32 slot fd, u64 slot nonce,
//                    u32 step pipe fd, u32 answer pipe fd]
//   refuse     c->w  u16 `RefuseReason`, str text (<= 1 KiB)                empty
//   shard      c->w  u32 sample count n, u32 features f, u32 classes k,     n*f features of type t: bytes (u8)
//                    u8 feature type t (1 uint8, 2 float32: version 5),     or Float32 LE (each finite),
//                    f32 byte scale (bytes times it make the network's      sample after sample
//                    inputs: 1/255 for pixels; finite, > 0; version 5),
//                    n label bytes (each < k)
//   step       c->w  u32 epoch, u32 index count m, m x u32 sample indices   parameters, Float32 LE or bf16 LE
//                    into the worker's storage (each < its sample count),   (count = run's parameter count;
//                    u32 chunk count k (<= 256), k x u32 chunk sizes        none in a run with parameter
//                    (each >= 1, together m): the indices chunk by chunk,   servers: they send the weights)
//                    k x u32 chunk numbers (each < 256: the chunks' shards,
//                    which a member's slices name; version 7)
//   gradient   w->c  u32 sample count, f64 loss sum, u64 compute ns,        gradient sum, Int64 fixed point, each
//                    u32 samples classified right (<= sample count),        value as its low w bytes LE (sign-
//                    u8 bytes per value w (1..8: the fewest that hold       extended on reading; count = run's
//                    every value, over the socket or in the slot alike)     parameter count; each chunk's float
//                                                                           gradient computed alone, rounded once,
//                                                                           then added exactly; each |value| <=
//                                                                           chunks x 2^51, checked by the
//                                                                           coordinator); bf16 runs on a coarser grid
//   heartbeat  both  empty                                                  empty
//   goodbye    w->c  empty (the worker leaves cleanly)                      empty
//   shutdown   c->w  empty (training is done)                               empty
//   failure    w->c  str reason (<= 1 KiB): the worker cannot go on with    empty
//                    the run (its loss became NaN, say); the run stops
//
// Parameter servers (version 7; `ServerMessages.swift`). A server is a DEALER to the coordinator
// and binds a ROUTER of its own that members connect a DEALER to. In a run with K servers the
// coordinator's steps carry no weights and its workers' gradients no sums (count 0): each member
// sends every server its range of the sum (slice) and takes its range of the weights (weights).
//
//   server-hello    s->c  str endpoint members reach it at (<= 256 B), str host   empty
//                         (<= 256 B), str CURVE public key (Z85, <= 64 B; empty without keys)
//   server-welcome  c->s  u32 server index, u32 server count (<= 64), u64 range   range's weights, then each
//                         start, u64 range size, u32 n + n bytes configuration    moment over it: Float32 LE,
//                         (as a welcome's), u64 optimizer steps, u8 moments (<=2) each finite
//                         (step = the step the weights are for)
//   attach          w->s  u32 worker id (a member makes itself known)             empty
//   slice           w->s  u32 worker id, u32 chunk count k (1..256), k x u32      the range's gradient sums, as a
//                         chunk numbers (each < 256, none twice: the chunks the  gradient's (count = range size)
//                         sum covers), u8 bytes per value w (1..8)
//   weights         s->w  u64 range start (step = the step they are for)         the range's weights, Float32 or
//                                                                                 bf16 LE, each finite
//   commit          c->s  f32 learning rate, u32 sample count (0: nothing to      empty
//                         apply), u32 answer count a (<= 256), a x (u32 worker
//                         id, u32 k, k x u32 chunk numbers), u32 member count
//                         m (<= 65536), m x u32 worker ids (who gets the new
//                         weights), u64 the step the new weights are for
//   fetch           c->s  empty: send me your range's state                      empty
//   range-state     s->c  u32 server index, u64 range start, u64 range size,     as server-welcome's
//                         u64 optimizer steps, u8 moments (step = weights' step)
//   member-keys     c->s  u32 n (<= 65536), n x str CURVE public key (Z85,      empty
//                         <= 64 B): the members a secure server takes, all of them
//
// refuse and shutdown travel to servers as to workers; heartbeat every way.
//
// Same-host bulk transport: a worker whose hello offered shared memory and whose
// welcome granted it receives steps and sends gradients with an EMPTY bulk frame; the
// values are in the coordinator's weights segment and in the worker's gradient slot
// (SharedSegment.swift in Distributed has their layout). The receiver hands the decoder
// the segment's data only when its published step and length are the message's step and
// the bulk's size; otherwise the message is rejected (WireError.sharedBulkNotPublished).
//
// Same-host doorbell: such a worker also opens the grant's two pipes through /proc/PID/fd/FD:
// the step pipe (coordinator writes, worker reads) and the answer pipe (worker writes,
// coordinator reads). A step or a gradient whose bulk is in shared memory may travel over them
// instead of the socket, as the same three frames (bulk empty) framed by `PipeFraming`, in one
// write of at most PIPE_BUF bytes; anything larger, and every other type, takes the socket. A
// pipe message is decoded and checked exactly as a socket message. The worker answers over its
// answer pipe from its first step; the coordinator writes steps into the step pipe once a
// message has come over the answer pipe (the worker has opened both), over the socket before.
// A pipe at end of file (the other process is gone) is a lost connection. Order across the
// two paths: a receiver reads its peer's doorbell before it handles a socket message from that
// peer (what was written there first is taken first), and a member's steps take the socket,
// behind samples shipped to it, until it answers one of them.
//
// Float32 or bf16: the run's wire precision (`WirePrecision`), which the coordinator
// names in the welcome's configuration ("wirePrecision"; absent means float32). Gradients
// are exact fixed-point sums in every run; the precision picks their grid
// (`FixedPointFormat(largestChunk:precision:)`): a bf16 run's is 24 bits coarser, so that
// its sums travel packed in 2 bytes a value as its weights do. A shard's features are bytes
// or float32, named in its meta. What each protocol version changed: docs/design.md,
// "Protocol versions".
//
// The shard's labels ride in meta (at most a few tens of KB) so that its
// pixels can go out straight from the data set's storage.
//
// A receiver checks, in this order and before reading a single float: the
// frame count, the header's size, magic, version and type, that the type may
// travel towards it, the run id, that the payload length equals the bytes
// present, then every inner length against the frames, the limits below and
// the receiver's `DecodeContext` (parameter count, shard size), with checked
// arithmetic; then the contents (labels, indices, finite floats). A failure
// throws a `WireError` that says what was wrong; the receiver drops the
// message. Whether a step is stale or from the future is the coordinator's
// state machine's call, not the decoder's: it only reports the step.

// Another release: the header's first 8 bytes (magic, version, type) and a refusal's layout
// (u16 reason, str text) are the same in every version. A coordinator refuses a hello of
// another version (wrongVersion) in a header of THAT version, its text naming both versions,
// so that a worker of any release decodes it and stops; a worker that receives any message of
// another version from its coordinator stops too, naming both versions, instead of waiting
// for a welcome it cannot read. A change to any layout above raises the version, and the
// release's version with it (its minor number is this one).

/// The version every header carries; a peer with another one is refused.
public let protocolVersion: UInt16 = 7

/// The most bytes one gradient value takes, on the wire or in a gradient slot: a little-endian Int64
/// fixed-point sum whole; a sender packs the sums to the fewest bytes that hold them (the meta's width).
public let gradientBytesPerValue = 8

/// The first four bytes of every header: "DPTR" read as a little-endian UInt32.
public let protocolMagic: UInt32 = 0x5254_5044

/// Every message is exactly this many frames: header, meta, bulk.
public let framesPerMessage = 3

/// Every message type, with its number on the wire.
public enum MessageType: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case hello = 1
    case welcome = 2
    case refuse = 3
    case shard = 4
    case step = 5
    case gradient = 6
    case heartbeat = 7
    case goodbye = 8
    case shutdown = 9
    case failure = 10
    case serverHello = 11
    case serverWelcome = 12
    case attach = 13
    case slice = 14
    case weights = 15
    case commit = 16
    case fetch = 17
    case rangeState = 18
    case memberKeys = 19

    public var description: String {
        switch self {
        case .hello: "hello"
        case .welcome: "welcome"
        case .refuse: "refuse"
        case .shard: "shard"
        case .step: "step"
        case .gradient: "gradient"
        case .heartbeat: "heartbeat"
        case .goodbye: "goodbye"
        case .shutdown: "shutdown"
        case .failure: "failure"
        case .serverHello: "server-hello"
        case .serverWelcome: "server-welcome"
        case .attach: "attach"
        case .slice: "slice"
        case .weights: "weights"
        case .commit: "commit"
        case .fetch: "fetch"
        case .rangeState: "range-state"
        case .memberKeys: "member-keys"
        }
    }

    /// Which end may receive a message of this type.
    public func mayTravel(to receiver: Role) -> Bool {
        switch self {
        case .hello, .gradient, .goodbye, .failure, .serverHello, .rangeState: receiver == .coordinator
        case .welcome, .shard, .step, .weights: receiver == .worker
        case .refuse, .shutdown: receiver != .coordinator
        case .serverWelcome, .attach, .slice, .commit, .fetch, .memberKeys: receiver == .parameterServer
        case .heartbeat: true
        }
    }
}

/// The roles a connection joins.
public enum Role: Sendable, CustomStringConvertible {
    case coordinator
    case worker
    case parameterServer

    public var description: String {
        switch self {
        case .coordinator: "coordinator"
        case .worker: "worker"
        case .parameterServer: "parameter server"
        }
    }
}

/// Why the coordinator turned a worker away.
public enum RefuseReason: UInt16, CaseIterable, Sendable, CustomStringConvertible {
    case wrongVersion = 1
    case runFull = 2
    case notAuthorised = 3
    case duplicateID = 4
    /// A message for another run (a worker of the coordinator that was here before):
    /// the worker should say hello to join this one.
    case otherRun = 5
    /// The run this worker belonged to is over: it should exit, its work done.
    case runFinished = 6
    /// The worker's BLAS kernels are not the run's: its gradients would differ in the last bits.
    case otherKernels = 7
    /// The run computes in bf16 and the worker cannot (no native bf16 on its CPU, or an older dptrain).
    case noBF16 = 8
    /// Not now: this worker's key (or host, without keys) was lost for silence or bad answers and
    /// is backing off, or too many workers are joining at once. Say hello again later.
    case tryLater = 9

    public var description: String {
        switch self {
        case .otherRun: "a message for another run"
        case .runFinished: "the run is over"
        case .wrongVersion: "wrong protocol version"
        case .runFull: "run full"
        case .notAuthorised: "not authorised"
        case .duplicateID: "duplicate worker id"
        case .otherKernels: "other BLAS kernels"
        case .noBF16: "cannot compute in bf16"
        case .tryLater: "try again later"
        }
    }
}

/// Upper bounds a receiver enforces before it allocates or reads anything.
public enum Limits {
    /// The header frame's size in bytes.
    public static let headerBytes = 32
    /// A hello's host description, in UTF-8 bytes.
    public static let hostBytes = 256
    /// A hello's BLAS core name, in UTF-8 bytes.
    public static let blasCoreBytes = 64
    /// A refusal's text, in UTF-8 bytes.
    public static let refuseTextBytes = 1024
    /// The threads a hello may say a worker computes on.
    public static let threads: UInt16 = 1024
    /// A welcome's configuration bytes.
    public static let configurationBytes = 64 * 1024
    /// Parameters in a model: 2^28 floats, 1 GiB.
    public static let parameterCount = 1 << 28
    /// A shard's pixel and label bytes together: 1 GiB.
    public static let shardBytes = 1 << 30
    /// Chunks in one step message: a run has at most this many shards.
    public static let chunkCount = 256
    /// A CURVE public key as text (Z85 is 40 characters).
    public static let keyBytes = 64
    /// Parameter servers in a run.
    public static let parameterServers = 64
    /// Members a commit names.
    public static let members = 1 << 16
    /// Classes a label can name: labels are one byte.
    public static let classCount = 256
    /// The largest message, all frames together, for a socket's maxmsgsize.
    public static let messageBytes = shardBytes + 64 * 1024
}
