import Foundation
import XCTest
import ZMQ

/// zcert's text format, read and written.
final class CertificateTests: XCTestCase {
    override func setUpWithError() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
    }

    /// A secret certificate as CZMQ's zcert_save_secret lays it out: a banner, metadata of its own, the keys.
    func czmqText(_ pair: CurveKeyPair) -> String {
        """
        #   ****  Generated on 2023-02-17 21:05:10 by CZMQ  ****
        #   ZeroMQ CURVE **Secret** Certificate
        #   DO NOT PROVIDE THIS FILE TO OTHER USERS nor change its permissions.

        metadata
            name = "cert-generator"
            time = "2023-02-17T21:05:10"
            userid = "0"
        curve
            public-key = "\(pair.publicKey)"
            secret-key = "\(pair.secretKey)"

        """
    }

    func testReadsWhatCZMQWrites() throws {
        let pair = try CurveKeyPair.generate()
        let certificate = try Certificate(text: czmqText(pair), path: "c.key_secret")
        XCTAssertEqual(certificate.keyPair, pair)
        XCTAssertEqual(certificate.metadata("name"), "cert-generator")
        XCTAssertEqual(certificate.metadata("userid"), "0")
    }

    func testWhatItWritesReadsBack() throws {
        let original = Certificate(keyPair: try CurveKeyPair.generate(), metadata: [.init(name: "name", value: "host-b")])
        let secret = try Certificate(text: original.secretText, path: "s")
        XCTAssertEqual(secret.keyPair, original.keyPair)
        XCTAssertEqual(secret.metadata("name"), "host-b")
        let publicOnly = try Certificate(text: original.publicText, path: "p")
        XCTAssertEqual(publicOnly.publicKey, original.publicKey)
        XCTAssertNil(publicOnly.secretKey)
    }

    func testBrokenCertificatesSayWhy() throws {
        let pair = try CurveKeyPair.generate(), other = try CurveKeyPair.generate()
        func reason(_ text: String) -> String {
            do { _ = try Certificate(text: text, path: "x.key"); return "read" } catch { return "\(error)" }
        }
        XCTAssertTrue(reason("metadata\n").contains("x.key is not a ZeroMQ CURVE certificate: it has no curve/public-key"))
        XCTAssertTrue(reason("curve\n    public-key = \"short\"\n").contains("its public-key is not a 40-character Z85 key"))
        XCTAssertTrue(reason("curve\n    public-key = \"\(pair.publicKey)\"\n    secret-key = \"\(other.secretKey)\"\n")
            .contains("its public-key is not the one of its secret-key"))
        XCTAssertEqual(reason("curve\n    public-key = \"\(pair.publicKey)\"\n"), "read")
    }

    func testAnAuthorizedFolderTakesPublicCertificatesOnly() throws {
        let folder = NSTemporaryDirectory() + "dptrain-certificates-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let alice = Certificate(keyPair: try CurveKeyPair.generate()), bob = Certificate(keyPair: try CurveKeyPair.generate())
        try alice.write(name: "alice", directory: folder)   // alice.key and alice.key_secret
        try bob.publicText.write(toFile: "\(folder)/bob.key", atomically: true, encoding: .utf8)
        try "not a certificate".write(toFile: "\(folder)/notes.txt", atomically: true, encoding: .utf8)
        let authorized = try AuthorizedKeys.load(directory: folder)
        XCTAssertEqual(Set(authorized.keys.keys), [alice.publicKey, bob.publicKey])
        XCTAssertEqual(authorized.problems.count, 2, "\(authorized.problems)")
        XCTAssertTrue(authorized.problems.contains { $0.contains("alice.key_secret holds a secret key") }, "\(authorized.problems)")
        XCTAssertThrowsError(try AuthorizedKeys.load(directory: folder + "/missing"))
    }
}
