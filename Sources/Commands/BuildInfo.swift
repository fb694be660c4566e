import CBuildInfo
import Wire

/// What `--version` prints: the release number, the protocol version and the commit the build came from.
public enum BuildInfo {
    /// MAJOR.PROTOCOL.PATCH: the minor number is the wire protocol's version, so that two builds
    /// that cannot train together never print the same release; the patch is raised by hand for
    /// a release that keeps the protocol. deploy/release.sh names the archive after it.
    public static let version = "0.\(protocolVersion).0"

    /// Set by deploy/release.sh; "unknown" in a build made any other way (swift build, the tests).
    public static var commit: String { String(cString: dptrain_build_commit()) }

    /// One line, such as "dptrain 0.4.0 (protocol 4, commit 3f2a9c1)".
    public static func line(program: String) -> String { "\(program) \(version) (protocol \(protocolVersion), commit \(commit))" }
}
