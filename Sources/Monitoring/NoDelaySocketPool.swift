import FlyingFox
import FlyingSocks
import Foundation

/// FlyingFox's socket pool with Nagle's algorithm off on the endpoint's sockets. FlyingFox
/// writes a response's headers and its body apart and has no option for TCP_NODELAY, so on a
/// kept-alive connection (Prometheus keeps one per target) the body waited for the client's
/// delayed ACK of the headers: every scrape took ~45 ms where a new connection took under 1.
///
/// Every socket the server waits on passes through the pool, the listening socket first (it
/// waits for the first connection before any is accepted), so the option is set here: accepted
/// sockets inherit it from the listening socket on Linux, and get it themselves at their first
/// wait elsewhere. Setting it again on a socket that has it is one cheap system call on the
/// HTTP thread, never on the step loop.
struct NoDelaySocketPool<Base: AsyncSocketPool>: AsyncSocketPool {
    let base: Base

    func prepare() async throws { try await base.prepare() }

    func run() async throws { try await base.run() }

    func suspendSocket(_ socket: Socket, untilReadyFor events: Socket.Events) async throws {
        // A socket that is not TCP refuses the option; it has no Nagle's algorithm to turn off.
        try? socket.setValue(true, for: BoolSocketOption(level: Int32(IPPROTO_TCP), name: Int32(TCP_NODELAY)))
        try await base.suspendSocket(socket, untilReadyFor: events)
    }
}
