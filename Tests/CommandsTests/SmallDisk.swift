import Foundation
import XCTest

/// A disk that fills up: a tmpfs of a few kilobytes mounted for one test and removed after it
/// (mount(8) as root), so that a full disk is a real ENOSPC from a real file system.
final class SmallDisk {
    let path: String

    /// Mounts a tmpfs of `kilobytes`; skips the test where this machine cannot mount one.
    init(kilobytes: Int) throws {
        path = NSTemporaryDirectory() + "dptrain-small-disk-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = try runToEnd("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path])
        guard mounted.status == 0 else {
            try? FileManager.default.removeItem(atPath: path)
            throw XCTSkip("cannot mount a tmpfs here (root is needed): \(mounted.errors)")
        }
    }

    /// Unmounts and removes the mount point; safe to call twice.
    func remove() {
        _ = try? runToEnd("/bin/umount", [path])
        rmdir(path)
    }

    deinit { remove() }

    /// The names in the disk's top folder, or in `folder` under it.
    func names(_ folder: String = "") -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path + "/" + folder)) ?? []).sorted()
    }
}
