// swift-tools-version:6.0
import PackageDescription

// The numeric modules are always compiled optimised, even in debug builds:
// Swift's unoptimised loops are many times slower, and the tests train real
// models on every run.
let alwaysOptimised: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "dptrain",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "dptrain", targets: ["dptrain"]),
        .executable(name: "coordinator", targets: ["coordinator"]),
        .executable(name: "worker", targets: ["worker"]),
        .executable(name: "parameter-server", targets: ["parameter-server"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        // --prometheus: the text exposition (lock-free counters and gauges) and a small HTTP server with no dependencies.
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swhitty/FlyingFox", from: "0.27.1"),
        // --config: run files in YAML, whose parser (libyaml inside) says the line of every key.
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // System libraries: private plumbing, imported only by the Swift module that wraps each.
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CZMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        // oneDNN's bf16 matrix products (Debian ships no pkg-config file for it).
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),

        // The math: parameters, forward/backward, losses, optimizers. No I/O.
        .target(name: "MLP", dependencies: ["CBLAS", "CKernels", "CMatmul"], swiftSettings: alwaysOptimised),
        // oneDNN's bf16 matmul behind a few C calls: each product made once, run on the calling thread.
        .target(name: "CMatmul", dependencies: ["CDNNL"], cSettings: [.unsafeFlags(["-O2"])],
                linkerSettings: [.linkedLibrary("dnnl"), .linkedLibrary("gomp")]),
        // Elementwise C loops that clang vectorises and Swift does not.
        .target(name: "CKernels", cSettings: [.unsafeFlags(["-O3"])]),
        // A stop-signal flag for workers that leave at the end of their step; a SIGHUP count for reloading keys.
        .target(name: "CSignals"),
        // The commit a release was built from, passed in by deploy/release.sh as a C macro.
        .target(name: "CBuildInfo"),
        // glibc's malloc settings, for libzmq's per-message buffers.
        .target(name: "CMalloc"),
        // The CPUs this process may run on, for --threads' default.
        .target(name: "CAffinity"),
        // Anonymous memory files for same-host bulk transport, and their published words.
        .target(name: "CSharedMemory"),
        // IDX files, MNIST, shards and batches.
        .target(name: "Dataset", dependencies: ["CZlib", "CKernels", "MLP"], swiftSettings: alwaysOptimised),
        // The run's plan: its training config, its virtual shards and chunks, the epochs' orders,
        // who holds which shards and how far the run has come. Below the roles and the single
        // process alike, so that both follow one plan. No wire, no sockets, no clock.
        .target(name: "Plan", dependencies: ["MLP"]),
        // The roles' decisions as state machines: membership, samples, liveness, the run's
        // configuration. Time comes in, actions go out. No sockets, no clock, no logging.
        .target(name: "Roles", dependencies: ["MLP", "Plan", "Wire"]),
        // The single-process trainer, the run's accounting, evaluation, metrics, model files,
        // checkpoints, progress. No sockets.
        .target(name: "Training", dependencies: ["MLP", "Dataset", "Plan", "TensorBoard", "OutputFiles", "Teams"]),
        // The coordinator's and the worker's drivers: poll, decode, feed the machine, perform
        // its actions, compute. The only training code that touches sockets.
        .target(name: "Distributed", dependencies: [
            "MLP", "Dataset", "Wire", "ZMQ", "Plan", "Roles", "Training", "Teams", "CSignals", "CSharedMemory", .product(name: "Logging", package: "swift-log"),
        ]),
        // --prometheus: a run's live figures as Prometheus series, served on /metrics. The step loop sets
        // atomic values; the HTTP server's threads read them.
        .target(name: "Monitoring", dependencies: [
            "Training", "Distributed", .product(name: "Prometheus", package: "swift-prometheus"), .product(name: "FlyingFox", package: "FlyingFox"),
        ]),
        // dptrain report: metrics files to one HTML page of inline SVG charts.
        .target(name: "Report"),
        // TensorBoard's event files: TFRecord framing around hand-encoded Event protocol buffers.
        .target(name: "TensorBoard", dependencies: ["OutputFiles"]),
        // Whole files written beside their path, synced, then renamed (devices written in place);
        // failures that name their errno. Every file dptrain writes goes through it.
        .target(name: "OutputFiles"),
        // Threads that share a pass of work, each its own part: a step's chunks over a process's
        // cores, the coordinator's reduce over ranges of the parameters.
        .target(name: "Teams"),
        // A thin Swift wrapper of libzmq: the only module that imports CZMQ.
        .target(name: "ZMQ", dependencies: ["CZMQ", "CMalloc", "OutputFiles"]),
        // The wire protocol: message types, header, encode and validating decode. No sockets.
        .target(name: "Wire", dependencies: ["CKernels"], swiftSettings: alwaysOptimised),
        // Child processes that live and die together, restarted when they fail: dptrain launch's
        // supervisor. Knows nothing of training.
        .target(name: "Supervision"),
        // The command-line interface of every dptrain command, as a library so tests can parse it.
        .target(name: "Commands", dependencies: [
            "MLP", "Dataset", "Plan", "Roles", "Training", "Distributed", "Wire", "ZMQ", "CBuildInfo", "CAffinity", "Supervision", "CSignals", "Report", "OutputFiles", "Monitoring",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Yams", package: "Yams"),
        ]),
        .executableTarget(name: "dptrain", dependencies: ["Commands", "Training"]),
        .executableTarget(name: "coordinator", dependencies: ["Commands", "Training"]),
        .executableTarget(name: "worker", dependencies: ["Commands", "Training"]),
        .executableTarget(name: "parameter-server", dependencies: ["Commands", "Training"]),

        .testTarget(name: "MLPTests", dependencies: ["MLP"]),
        .testTarget(name: "DatasetTests", dependencies: ["Dataset"]),
        .testTarget(name: "PlanTests", dependencies: ["Plan", "MLP"]),
        .testTarget(name: "RolesTests", dependencies: ["Roles", "Plan", "Wire"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "Plan", "MLP", "Dataset", "Teams"]),
        .testTarget(name: "DistributedTests", dependencies: ["Distributed", "Training", "Plan", "Roles", "MLP", "Dataset", "Wire", "ZMQ",
                                                             .product(name: "Logging", package: "swift-log")]),
        .testTarget(name: "ZMQTests", dependencies: ["ZMQ"]),
        .testTarget(name: "TensorBoardTests", dependencies: ["TensorBoard"]),
        .testTarget(name: "WireTests", dependencies: ["Wire"]),
        .testTarget(name: "SupervisionTests", dependencies: ["Supervision"]),
        .testTarget(name: "MonitoringTests", dependencies: ["Monitoring", "Training", "MLP", .product(name: "Prometheus", package: "swift-prometheus")]),
        .testTarget(name: "CommandsTests", dependencies: [
            "Commands", "Supervision", "Training", "Plan", "Roles", "Distributed", "Wire", "ZMQ", "MLP", "OutputFiles", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
    ],
    swiftLanguageModes: [.v5]
)
