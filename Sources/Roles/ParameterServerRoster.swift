import Wire

/// The coordinator's decisions about its parameter servers, with no sockets: which range each
/// owns, who is admitted (the first `expected` to say hello, each once), whether workers may be
/// welcomed yet (not before every range has its server: a worker's welcome names them all), and
/// when one was last heard.
public struct ParameterServerRoster: Sendable {
    public struct Server: Sendable, Equatable {
        /// Its connection to the coordinator (a routing id).
        public let peer: [UInt8]
        public let index: Int
        public let endpoint: String
        public let host: String
        /// Its CURVE public key (Z85), which members check; empty without keys.
        public let publicKey: String
        public let range: Range<Int>
        public internal(set) var lastHeard: UInt64
    }

    /// What to do with a server's hello.
    public enum Decision: Equatable, Sendable {
        /// Give it range `index` (again, when the same connection asks twice).
        case welcome(index: Int)
        /// Turn it away, saying why.
        case refuse(RefuseReason, String)
        /// Server `index` is gone: another process binds its endpoint now (a restarted one). Lose
        /// it; the newcomer, asking again, takes its place.
        case replaces(index: Int)
    }

    public let expected: Int
    public let ranges: [Range<Int>]
    /// The servers admitted, by index; a lost one's place is vacant until its replacement comes.
    public private(set) var servers: [Server] = []
    /// Lost servers' places: a replacement must be reachable where members reach the lost one.
    public private(set) var vacant: [Server] = []

    public init(expected: Int, parameterCount: Int) {
        precondition(expected >= 1 && expected <= Limits.parameterServers)
        self.expected = expected
        ranges = Self.ranges(parameterCount: parameterCount, servers: expected)
    }

    /// `servers` contiguous ranges that tile `parameterCount` in order, as even as whole blocks of
    /// 16 floats allow (so each server's vector loops start aligned), none empty.
    public static func ranges(parameterCount: Int, servers: Int) -> [Range<Int>] {
        precondition(servers >= 1 && parameterCount >= servers)
        let block = parameterCount >= 16 * servers ? 16 : 1
        let blocks = (parameterCount + block - 1) / block
        let bounds = (0...servers).map { k in min(parameterCount, (blocks * k / servers) * block) }
        return (0..<servers).map { bounds[$0]..<bounds[$0 + 1] }
    }

    /// Every range has its server: workers may be welcomed, steps taken.
    public var isComplete: Bool { servers.count == expected && vacant.isEmpty }

    public func server(at peer: [UInt8]) -> Server? { servers.first { $0.peer == peer } }
    /// The index of the server at `peer`, if one is.
    public func server(atAddress peer: UnsafeRawBufferPointer) -> Int? {
        for server in servers where server.peer.count == peer.count && server.peer.elementsEqual(peer) { return server.index }
        return nil
    }
    public func server(index: Int) -> Server? { servers.first { $0.index == index } }

    /// Server `index` is gone (silent, or its connection closed): its place waits for a replacement.
    public mutating func lose(index: Int) {
        guard let place = servers.firstIndex(where: { $0.index == index }) else { return }
        vacant.append(servers.remove(at: place))
    }

    public mutating func receiveHello(_ hello: ServerHello, from peer: [UInt8], now: UInt64) -> Decision {
        if let known = servers.first(where: { $0.peer == peer }) { return .welcome(index: known.index) }
        // Two processes cannot bind one endpoint: the one admitted there is gone.
        if let gone = servers.first(where: { $0.endpoint == hello.endpoint }) { return .replaces(index: gone.index) }
        if let place = vacant.firstIndex(where: { $0.endpoint == hello.endpoint }) {
            // The replacement of a lost server, where members already look for it.
            var replacement = vacant.remove(at: place)
            replacement = Server(peer: peer, index: replacement.index, endpoint: hello.endpoint, host: hello.host, publicKey: hello.publicKey,
                                 range: replacement.range, lastHeard: now)
            servers.append(replacement)
            servers.sort { $0.index < $1.index }
            return .welcome(index: replacement.index)
        }
        if let lost = vacant.first {
            return .refuse(.notAuthorised, "parameter server \(lost.index + 1) was lost and its members reach its range at \(lost.endpoint): start its replacement with --bind \(lost.endpoint)")
        }
        guard servers.count < expected else {
            return .refuse(.runFull, "this run has its \(expected) parameter server\(expected == 1 ? "" : "s") already; start the coordinator with --parameter-servers \(expected + 1) to use another")
        }
        guard !hello.endpoint.isEmpty else {
            return .refuse(.notAuthorised, "a parameter server must say where members reach it (--bind)")
        }
        let index = servers.count
        servers.append(Server(peer: peer, index: index, endpoint: hello.endpoint, host: hello.host, publicKey: hello.publicKey,
                              range: ranges[index], lastHeard: now))
        return .welcome(index: index)
    }

    /// Any message from `peer`, a server: it is alive.
    public mutating func heard(from peer: [UInt8], now: UInt64) {
        if let index = servers.firstIndex(where: { $0.peer == peer }) { servers[index].lastHeard = now }
    }

    /// Every admitted server heard from now: after a wait that was the coordinator's, not theirs.
    public mutating func heardFromAll(now: UInt64) {
        for index in servers.indices { servers[index].lastHeard = now }
    }

    /// The places a worker's welcome names, in range order.
    public var places: [RunConfiguration.ServerPlace] {
        (servers + vacant).sorted { $0.index < $1.index }.map { .init(endpoint: $0.endpoint, first: $0.range.lowerBound, count: $0.range.count, publicKey: $0.publicKey.isEmpty ? nil : $0.publicKey) }
    }

    /// The first server not heard for longer than `silence` nanoseconds, if any (asked on every
    /// poll: no list is built).
    public func firstSilent(now: UInt64, silence: UInt64) -> Server? {
        servers.first { now &- $0.lastHeard > silence }
    }
}
