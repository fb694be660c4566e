import ArgumentParser
import XCTest
@testable import Commands

/// The security flags' rules, and the sentences that say when they are broken.
final class SecurityFlagTests: XCTestCase {
    func testOnlyLoopbackAndIPCCountAsUnreachable() {
        for endpoint in ["ipc:///tmp/run.sock", "inproc://x", "tcp://127.0.0.1:5555", "tcp://127.1.2.3:5555", "tcp://localhost:5555", "tcp://[::1]:5555"] {
            XCTAssertFalse(CoordinatorSecurityOptions.isReachableFromNetwork(endpoint), endpoint)
        }
        for endpoint in ["tcp://*:5555", "tcp://0.0.0.0:5555", "tcp://10.0.0.1:5555", "tcp://eth0:5555", "tcp://host-a:5555", "tcp://[::]:5555"] {
            XCTAssertTrue(CoordinatorSecurityOptions.isReachableFromNetwork(endpoint), endpoint)
        }
    }

    func testAReachableCoordinatorWithoutKeysNamesInsecure() {
        XCTAssertEqual(message(["coordinator", "--bind", "tcp://*:5555", "--workers", "2"]),
                       "--bind tcp://*:5555 can be reached from the network, and without keys any process that reaches it can join the run, read the weights and the data, and poison the model: give --key FILE and --authorized-keys DIR (make keys with `dptrain keygen NAME`), or add --insecure for a plaintext run on a network you trust")
        XCTAssertNil(message(["coordinator", "--bind", "tcp://*:5555", "--workers", "2", "--insecure"]))
        XCTAssertNil(message(["coordinator", "--bind", "tcp://*:5555", "--workers", "2", "--key", "c.key_secret", "--authorized-keys", "keys"]))
        XCTAssertNil(message(["coordinator", "--bind", "tcp://127.0.0.1:5555", "--workers", "2"]))
    }

    func testKeysGoInPairs() {
        XCTAssertEqual(message(["coordinator", "--bind", "tcp://*:5555", "--workers", "2", "--key", "c.key_secret"]),
                       "--key and --authorized-keys go together: the coordinator's secret certificate, and the folder of the workers' public ones")
        XCTAssertEqual(message(["coordinator", "--bind", "tcp://*:5555", "--workers", "2", "--key", "c", "--authorized-keys", "k", "--insecure"]),
                       "--insecure and --key contradict each other: choose one")
        XCTAssertEqual(message(["worker", "--connect", "tcp://host-a:5555", "--key", "w.key_secret"]),
                       "--key and --coordinator-key go together (or DPTRAIN_KEY and DPTRAIN_COORDINATOR_KEY): this worker's secret certificate, and the coordinator's public one")
    }

    /// A scheduler's template sets the worker's keys once, in the environment.
    func testTheEnvironmentStandsInForTheWorkersKeyFlags() {
        setenv("DPTRAIN_KEY", "/keys/w.key_secret", 1)
        defer { unsetenv("DPTRAIN_KEY"); unsetenv("DPTRAIN_COORDINATOR_KEY") }
        XCTAssertNil(message(["worker", "--connect", "tcp://host-a:5555", "--coordinator-key", "/keys/c.key"]))
        XCTAssertNotNil(message(["worker", "--connect", "tcp://host-a:5555"]))
        setenv("DPTRAIN_COORDINATOR_KEY", "/keys/c.key", 1)
        XCTAssertNil(message(["worker", "--connect", "tcp://host-a:5555"]))
    }

    func testLaunchOnAReachableAddressWantsSecureOrInsecure() throws {
        XCTAssertEqual(message(["launch", "--workers", "2", "--bind", "tcp://*:5555"]),
                       "--bind tcp://*:5555 can be reached from the network, and without keys any process that reaches it can join the run, read the weights and the data, and poison the model: add --secure for keys made for this run, or add --insecure for a plaintext run on a network you trust")
        XCTAssertEqual(message(["launch", "--workers", "2", "--secure", "--insecure"]), "--secure and --insecure contradict each other: choose one")
        XCTAssertNil(message(["launch", "--workers", "2", "--bind", "tcp://*:5555", "--secure"]))
        // --secure is the launcher's own; --insecure goes on to the coordinator.
        XCTAssertEqual(LaunchCommand.coordinatorFlags(fromLaunchArguments: ["--secure", "--epochs", "2", "--insecure"]),
                       ["--epochs", "2", "--insecure"])
    }

    func testKeygenTakesAPlainName() {
        XCTAssertEqual(message(["keygen", "../evil"]), "NAME '../evil' must be a plain file name, like coordinator or worker-a")
        XCTAssertNil(message(["keygen", "worker-a", "--dir", "/tmp/keys"]))
    }
}
