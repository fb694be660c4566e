import CBuildInfo

/// What `--version` prints: the release number, kept here, and the commit the build came from.
public enum BuildInfo {
    /// Raised by hand for each release; deploy/release.sh names the archive after it.
    public static let version = "0.1.0"

    /// Set by deploy/release.sh; "unknown" in a build made any other way (swift build, the tests).
    public static var commit: String { String(cString: dptrain_build_commit()) }

    /// One line, such as "dptrain 0.1.0 (commit 3f2a9c1)".
    public static func line(program: String) -> String { "\(program) \(version) (commit \(commit))" }
}
