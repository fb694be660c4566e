// A CURVE certificate file as `--key` and `--authorized-keys` read it (zcert's ZPL text):
// Certificate.load from a file of the input's bytes (any bytes, UTF-8 or not), then the key
// pair of a secret one, whose Z85 key libzmq decodes.
import ZMQ

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCertificate(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let path = ScratchFile.write(UnsafeRawBufferPointer(start: data, count: size), name: "fuzz.key")
    guard let certificate = decoded({ try Certificate.load(path: path) }) else { return 0 }
    blackHole(UInt64(certificate.publicKey.utf8.count))
    if let pair = certificate.keyPair { blackHole(UInt64(pair.publicKey.utf8.count)) }
    return 0
}
