import Foundation
import OutputFiles
#if canImport(Glibc)
import Glibc
#endif

/// A certificate file that cannot be used, said so that its owner can fix it.
public enum CertificateError: Error, Equatable, CustomStringConvertible {
    case cannotRead(path: String, reason: String)
    case notACertificate(path: String, reason: String)
    /// A secret key that other users can read is no longer secret.
    case secretOpenToOthers(path: String, mode: UInt16)
    /// A public certificate given where the secret one is needed.
    case noSecretKey(path: String)
    case exists(path: String)
    case cannotWrite(path: String, reason: String)

    public var description: String {
        switch self {
        case let .cannotRead(path, reason):
            return "cannot read the certificate \(path): \(reason)"
        case let .notACertificate(path, reason):
            return "\(path) is not a ZeroMQ CURVE certificate: \(reason); make one with `dptrain keygen NAME`"
        case let .secretOpenToOthers(path, mode):
            return "the secret key \(path) can be read by other users (mode \(String(mode, radix: 8))): run `chmod 600 \(path)` and try again"
        case let .noSecretKey(path):
            return "\(path) is a public certificate; --key takes the secret one (NAME.key_secret, written by `dptrain keygen NAME`)"
        case let .exists(path):
            return "\(path) already exists: remove it or choose another name"
        case let .cannotWrite(path, reason):
            return "cannot write \(path): \(reason)"
        }
    }
}

extension Certificate {
    /// The public certificate's file name for `name`, and the secret one's: zcert's NAME.key and NAME.key_secret.
    public static func publicFileName(_ name: String) -> String { name + ".key" }
    public static func secretFileName(_ name: String) -> String { name + ".key_secret" }

    /// Reads a certificate, public or secret.
    public static func load(path: String) throws -> Certificate {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            // A file that exists but cannot be read (another owner) says so, not "not UTF-8 text".
            let reason = access(path, R_OK) != 0 ? String(cString: strerror(errno)) : "not UTF-8 text"
            throw CertificateError.cannotRead(path: path, reason: reason)
        }
        return try Certificate(text: text, path: path)
    }

    /// Reads a secret certificate, refusing one that other users could read or change.
    public static func loadSecret(path: String) throws -> Certificate {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw CertificateError.cannotRead(path: path, reason: String(cString: strerror(errno)))
        }
        let mode = UInt16(info.st_mode & 0o7777)
        guard mode & 0o077 == 0 || isKubernetesSecret(path: path, info: info) else {
            throw CertificateError.secretOpenToOthers(path: path, mode: mode)
        }
        let certificate = try load(path: path)
        guard certificate.secretKey != nil else { throw CertificateError.noSecretKey(path: path) }
        return certificate
    }

    /// A key that Kubernetes mounted from a Secret into a pod whose securityContext has an
    /// fsGroup, exactly as the kubelet lays it out: owned by root, group the pod's fsGroup (one of
    /// this process's groups), read-only for the owner and the group and nothing for others
    /// (0440: the kubelet adds group read to any defaultMode when an fsGroup is set, and without
    /// one a non-root container cannot read a 0400 root-owned key at all), reached through the
    /// kubelet's atomic-writer link NAME -> ..data/NAME.
    ///
    /// Why that is safe: the only readers are root, who can read any file anyway, and the
    /// processes of this process's own group, which Kubernetes gives to this pod's containers
    /// alone; nobody but root can change the file (no write bits, a read-only volume), so nobody
    /// can swap the key; and the ..data link is the kubelet's own layout, which a hand-made
    /// group-readable key on a shared host does not have, so that one is still refused.
    static func isKubernetesSecret(path: String, info: stat) -> Bool {
        let mode = info.st_mode & 0o7777
        guard info.st_uid == 0, mode & ~mode_t(0o440) == 0, processGroups().contains(info.st_gid) else { return false }
        var link = [CChar](repeating: 0, count: 4096)
        let length = readlink(path, &link, link.count - 1)
        guard length > 0 else { return false }
        return String(decoding: link.prefix(length).map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix("..data/")
    }

    /// This process's group and supplementary groups.
    private static func processGroups() -> Set<gid_t> {
        var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)) + 1)
        let count = getgroups(Int32(groups.count), &groups)
        return Set(groups.prefix(max(0, Int(count)))).union([getgid(), getegid()])
    }

    /// Writes DIRECTORY/NAME.key (mode 0644) and DIRECTORY/NAME.key_secret (mode 0600, never
    /// readable by others, not even for a moment); refuses to replace either. Returns both paths.
    @discardableResult
    public func write(name: String, directory: String) throws -> (publicPath: String, secretPath: String) {
        let publicPath = (directory as NSString).appendingPathComponent(Certificate.publicFileName(name))
        let secretPath = (directory as NSString).appendingPathComponent(Certificate.secretFileName(name))
        for path in [publicPath, secretPath] where FileManager.default.fileExists(atPath: path) {
            throw CertificateError.exists(path: path)
        }
        try Certificate.create(secretPath, mode: 0o600, text: secretText)
        try Certificate.create(publicPath, mode: 0o644, text: publicText)
        return (publicPath, secretPath)
    }

    /// Written whole beside the path, synced, then linked into place (never replacing a file
    /// that appeared meanwhile), with exactly `mode` from the start: a secret is never readable by others.
    private static func create(_ path: String, mode: mode_t, text: String) throws {
        do {
            try OutputFile.write(text, to: path, mode: mode, existing: .keep)
        } catch let error as FileError {
            if error.code == EEXIST { throw CertificateError.exists(path: path) }
            throw CertificateError.cannotWrite(path: path, reason: "\(error.reason); \(error.advice)")
        }
    }
}

/// A folder of public certificates, like ssh's authorized_keys: the keys a coordinator admits.
public struct AuthorizedKeys: Sendable {
    /// Public keys (Z85) and the file each came from.
    public let keys: [String: String]
    /// Files in the folder that could not be used, each said in a line.
    public let problems: [String]

    /// Reads every file in `directory` but hidden ones and secret certificates (NAME.key_secret,
    /// which do not belong there: they are named in `problems`).
    public static func load(directory: String) throws -> AuthorizedKeys {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        } catch {
            throw CertificateError.cannotRead(path: directory, reason: "not a readable folder of public certificates")
        }
        var keys: [String: String] = [:]
        var problems: [String] = []
        for name in names where !name.hasPrefix(".") {
            let path = (directory as NSString).appendingPathComponent(name)
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            do {
                let certificate = try Certificate.load(path: path)
                if certificate.secretKey != nil {
                    problems.append("\(path) holds a secret key: only public certificates (NAME.key) belong in --authorized-keys; skipped it")
                    continue
                }
                keys[certificate.publicKey] = path
            } catch {
                problems.append("\(error); skipped it")
            }
        }
        return AuthorizedKeys(keys: keys, problems: problems)
    }
}
