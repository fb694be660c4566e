import ZMQ

extension Socket {
    /// Kernel buffers that hold a whole weight or gradient message: with the
    /// default (about 200 KB) a 400 KB message crosses in several writes, each
    /// waiting for the reader to drain the last, and every step pays for it.
    /// The kernel caps the size at net.core.wmem_max and rmem_max.
    func useLargeKernelBuffers(messageBytes: Int) throws {
        let size = min(max(2 * messageBytes + 64 * 1024, 1 << 20), 16 << 20)
        try set(.sendBufferSize, size)
        try set(.receiveBufferSize, size)
    }
}
