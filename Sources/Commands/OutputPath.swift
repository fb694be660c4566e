import ArgumentParser
import Foundation

/// Checks a path that a run will write to, before the run starts: a mistake in it
/// must not cost a whole training run that then cannot save its result.
enum OutputPath {
    /// `path`, given with `flag`, is a file the run will create or replace.
    static func checkFile(_ path: String, flag: String) throws {
        if isDirectory(path) || path.hasSuffix("/") {
            throw ValidationError("\(flag) \(path): that is a folder; give a file name inside it")
        }
        let folder = (path as NSString).deletingLastPathComponent
        try checkFolderExists(folder.isEmpty ? "." : folder, for: path, flag: flag)
    }

    /// `path`, given with `flag`, is a folder the run will write into, created with its parents if need be.
    static func checkFolder(_ path: String, flag: String) throws {
        var existing = path
        while !FileManager.default.fileExists(atPath: existing) {
            let parent = (existing as NSString).deletingLastPathComponent
            existing = parent.isEmpty ? "." : parent
        }
        guard isDirectory(existing) else {
            throw ValidationError(existing == path ? "\(flag) \(path): that is a file, not a folder"
                                                   : "\(flag) \(path): cannot create it, because \(existing) is a file")
        }
        guard access(existing, W_OK | X_OK) == 0 else {
            throw ValidationError("\(flag) \(path): cannot write in \(existing); check its permissions or choose another folder")
        }
    }

    private static func checkFolderExists(_ folder: String, for path: String, flag: String) throws {
        guard isDirectory(folder) else {
            throw ValidationError("\(flag) \(path): the folder \(folder) does not exist; create it or choose another path")
        }
        guard access(folder, W_OK | X_OK) == 0 else {
            throw ValidationError("\(flag) \(path): cannot write in \(folder); check its permissions or choose another path")
        }
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
