#if canImport(Glibc)
import Glibc
#endif

/// A failed system call on a file, said as a person can act on it: the system's reason with its
/// errno name ("no space left on device (ENOSPC)"), what was being done, the file, and what to do.
public struct FileError: Error, CustomStringConvertible, Equatable {
    public let path: String
    /// errno, as the failed call left it.
    public let code: Int32
    /// What was being done: "writing", "creating a file beside", "renaming into place".
    public let doing: String

    public init(path: String, code: Int32, doing: String) {
        self.path = path
        self.code = code
        self.doing = doing
    }

    public var description: String { "\(reason) \(doing) \(path): \(advice)" }

    /// "no space left on device (ENOSPC)".
    public var reason: String { Self.reason(code) }

    /// Whether the disk is full (or the user's quota is): another path, or space freed, is the cure.
    public var isOutOfSpace: Bool { [ENOSPC, EDQUOT, EFBIG].contains(code) }

    public var advice: String {
        switch code {
        case ENOSPC, EDQUOT, EFBIG: return "free space on that disk, or give a path on another one"
        case EACCES, EPERM: return "check the permissions of the file and its folder, or give another path"
        case EROFS: return "that file system is read-only: give a path on a writable one"
        case ENOENT, ENOTDIR: return "create its folder, or give another path"
        case EISDIR: return "that is a folder: give a file name inside it"
        case EEXIST: return "remove it, or choose another name"
        default: return "check the path and its disk"
        }
    }

    /// The system's sentence for `code`, lower-cased as a clause, with errno's name.
    public static func reason(_ code: Int32) -> String {
        var text = String(cString: strerror(code))
        if let first = text.first, text.dropFirst().first?.isLowercase ?? true { text = first.lowercased() + text.dropFirst() }
        return names[code].map { "\(text) (\($0))" } ?? text
    }

    private static let names: [Int32: String] = [
        ENOSPC: "ENOSPC", EDQUOT: "EDQUOT", EFBIG: "EFBIG", EACCES: "EACCES", EPERM: "EPERM", EROFS: "EROFS",
        ENOENT: "ENOENT", ENOTDIR: "ENOTDIR", EISDIR: "EISDIR", EEXIST: "EEXIST", EIO: "EIO", ENXIO: "ENXIO",
        ENAMETOOLONG: "ENAMETOOLONG", ETXTBSY: "ETXTBSY", EINVAL: "EINVAL", EBADF: "EBADF", EPIPE: "EPIPE",
        ELOOP: "ELOOP", EMFILE: "EMFILE", ENFILE: "ENFILE", EXDEV: "EXDEV", EBUSY: "EBUSY",
    ]
}
