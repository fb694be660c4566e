#if canImport(Glibc)
import Glibc
#endif

/// Writes a whole file so that a failure never costs what was there before, and never
/// replaces what is not a regular file.
///
/// A regular file (or none yet) is written beside its path under a temporary name, flushed to
/// disk (fsync), then renamed over the path, and the folder synced: a crash or a full disk at
/// any moment leaves either the old file or the new one, whole, and never a truncated one. A
/// device or a FIFO (/dev/stdout, /dev/null, a named pipe) is written in place, as it is: it is
/// never replaced by a regular file. A folder is refused. Every failure names its errno.
public enum OutputFile {
    /// What a write does with a file already at its path.
    public enum Existing: Sendable {
        /// Replaced, whole, by the rename.
        case replace
        /// Left alone: the write fails with EEXIST (secret keys, which must not be overwritten).
        case keep
    }

    /// Writes `bytes` to `path` (see the type). A new file gets `mode` (exactly: the umask does
    /// not narrow it); a replaced regular file keeps its own mode unless `mode` is given.
    public static func write(_ bytes: UnsafeRawBufferPointer, to path: String, mode: mode_t? = nil, existing: Existing = .replace) throws {
        let target = resolvingLinks(path)
        var info = stat()
        let exists = stat(target, &info) == 0
        if exists && existing == .keep { throw FileError(path: path, code: EEXIST, doing: "creating") }
        if exists && (info.st_mode & S_IFMT) == S_IFDIR { throw FileError(path: path, code: EISDIR, doing: "writing") }
        if exists && (info.st_mode & S_IFMT) != S_IFREG {
            try writeInPlace(bytes, to: target, shownAs: path)
            return
        }
        let fileMode = mode ?? (exists ? info.st_mode & 0o7777 : 0o644)
        let temporary = temporaryPath(beside: target)
        let descriptor = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw FileError(path: path, code: errno, doing: "creating a file beside") }
        do {
            defer { close(descriptor) }
            // Exactly the asked mode; a secret's is narrow from the start (0600 at open).
            guard fchmod(descriptor, fileMode) == 0 else { throw FileError(path: path, code: errno, doing: "setting the mode of") }
            try writeAll(bytes, to: descriptor, shownAs: path)
            guard fsync(descriptor) == 0 else { throw FileError(path: path, code: errno, doing: "syncing to disk") }
        } catch {
            unlink(temporary)
            throw error
        }
        switch existing {
        case .replace:
            guard rename(temporary, target) == 0 else {
                let code = errno
                unlink(temporary)
                throw FileError(path: path, code: code, doing: "renaming into place")
            }
        case .keep:
            // link(2) fails if the path has appeared meanwhile: nothing is ever replaced.
            let code = link(temporary, target) == 0 ? 0 : errno
            unlink(temporary)
            guard code == 0 else { throw FileError(path: path, code: code, doing: "creating") }
        }
        syncFolder(of: target)
    }

    public static func write(_ bytes: [UInt8], to path: String, mode: mode_t? = nil, existing: Existing = .replace) throws {
        try bytes.withUnsafeBytes { try write($0, to: path, mode: mode, existing: existing) }
    }

    public static func write(_ text: String, to path: String, mode: mode_t? = nil, existing: Existing = .replace) throws {
        try write(Array(text.utf8), to: path, mode: mode, existing: existing)
    }

    /// Writes every byte to an open descriptor, through interruptions and short writes.
    public static func writeAll(_ bytes: UnsafeRawBufferPointer, to descriptor: Int32, shownAs path: String) throws {
        var rest = bytes
        while !rest.isEmpty {
            let written = Glibc.write(descriptor, rest.baseAddress, rest.count)
            if written < 0 && errno == EINTR { continue }
            // A write that moves nothing without an error is a full device by another name.
            guard written > 0 else { throw FileError(path: path, code: written < 0 ? errno : ENOSPC, doing: "writing") }
            rest = UnsafeRawBufferPointer(rebasing: rest[written...])
        }
    }

    /// A device or a FIFO: opened as it is, written, and left what it is.
    private static func writeInPlace(_ bytes: UnsafeRawBufferPointer, to target: String, shownAs path: String) throws {
        let descriptor = open(target, O_WRONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileError(path: path, code: errno, doing: "opening") }
        defer { close(descriptor) }
        try writeAll(bytes, to: descriptor, shownAs: path)
    }

    /// The file a chain of symbolic links ends at, so that the rename replaces it and not the link.
    static func resolvingLinks(_ path: String) -> String {
        var info = stat()
        guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFLNK,
              let resolved = realpath(path, nil) else { return path }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// A name in the same folder (so that the rename stays on one file system), hidden, and
    /// not one another process would pick.
    static func temporaryPath(beside path: String) -> String {
        let slash = path.lastIndex(of: "/")
        let folder = slash.map { String(path[...$0]) } ?? ""
        let name = slash.map { String(path[path.index(after: $0)...]) } ?? path
        return "\(folder).\(name).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).partial"
    }

    /// The rename is durable only once the folder's entry is on disk too.
    private static func syncFolder(of path: String) {
        let folder = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? "."
        let descriptor = open(folder.isEmpty ? "/" : folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        fsync(descriptor)
        close(descriptor)
    }
}
