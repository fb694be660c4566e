import Foundation
import XCTest
import ZMQ

/// Parameter servers as a user meets them: any number of servers and workers trains the model
/// `dptrain train` trains with the same flags, to the bit; the coordinator's link carries no
/// parameter-sized message; a run checkpointed with K servers resumes with another K; a server
/// that cannot join says why in one line.
final class ParameterServerProcessTests: ProcessTestCase {
    // Eight shards of 32: the chunks share out unevenly over 3 workers.
    let flags = ["--epochs", "1", "--batch", "256", "--shards", "8", "--seed", "5"]

    func savedModel(_ name: String) throws -> Data { try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(name).safetensors")) }

    func run(_ name: String, _ arguments: [String]) throws {
        let process = try start(name, arguments + ["--save", "\(folder)/\(name).safetensors"])
        wait(process)
        XCTAssertEqual(process.terminationStatus, 0, errors(name))
    }

    /// The median step's bytes through the coordinator's socket (the first steps also carry the
    /// workers' shards of the data set, shipped once).
    func bytesPerStep(_ name: String) throws -> Int {
        let steps = try metrics("\(folder)/\(name).jsonl").filter { $0["event"] as? String == "step" }.compactMap { $0["bytes_per_step"] as? Int }.sorted()
        XCTAssertGreaterThan(steps.count, 10, name)
        return steps.isEmpty ? .max : steps[steps.count / 2]
    }

    func testLaunchWithOneTwoOrThreeServersWritesTrainsModel() throws {
        for optimizer in ["sgd", "adam"] {
            let runFlags = flags + ["--optimizer", optimizer] + (optimizer == "adam" ? ["--lr", "0.002", "--weight-decay", "0.01"] : [])
            try run("train-\(optimizer)", ["train", "--threads", "1"] + runFlags)
            let pairs = optimizer == "sgd" ? [(1, 1), (2, 2), (3, 3), (2, 3), (3, 1)] : [(2, 3), (1, 2)]
            for (workers, servers) in pairs {
                let name = "launch-\(optimizer)-\(workers)w-\(servers)s"
                try run(name, ["launch", "--workers", String(workers), "--threads", "1", "--parameter-servers", String(servers),
                               "--metrics", "\(folder)/\(name).jsonl"] + runFlags)
                XCTAssertEqual(try savedModel(name), try savedModel("train-\(optimizer)"), name)
                let lines = errors(name) + output(name)
                XCTAssertEqual(lines.components(separatedBy: "serving parameters").count - 1, servers, lines)
                // 784-128-10 has 101,770 parameters: the coordinator's steps and answers carry none of them.
                XCTAssertLessThan(try bytesPerStep(name), 2_000 * workers, name)
            }
        }
        XCTAssertGreaterThan(try XCTUnwrap(accuracy(output("train-sgd"))), 0.85)
    }

    /// bf16 on the wire: servers send bf16 weights as the coordinator does, and the sums' grid is the same.
    func testBF16WeightsFromServersAreTheCoordinatorsBits() throws {
        let runFlags = flags + ["--wire-precision", "bf16"]
        try run("star", ["launch", "--workers", "2", "--threads", "1"] + runFlags)
        try run("servers", ["launch", "--workers", "2", "--threads", "1", "--parameter-servers", "2"] + runFlags)
        XCTAssertEqual(try savedModel("servers"), try savedModel("star"))
    }

    /// Workers lost and joining, and the run stopped with two servers and resumed with three:
    /// the servers' ranges are sliced anew from the checkpoint, and the model is train's.
    func testAKilledWorkerAJoinerAndAResumeWithOtherServersLeaveTheModelUnchanged() throws {
        let runFlags = ["--epochs", "3", "--batch", "192", "--shards", "6", "--seed", "5", "--optimizer", "momentum"]
        try run("train", ["train", "--threads", "1"] + runFlags)
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let checkpoints = "\(folder)/checkpoints"
        let first = try start("first", ["coordinator", "--bind", endpoint, "--workers", "2", "--max-workers", "3", "--step-deadline", "2",
                                        "--parameter-servers", "2", "--checkpoint", checkpoints] + runFlags)
        let servers = try (1...2).map { try start("server\($0)", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"]) }
        let one = try start("one", ["worker", "--connect", endpoint, "--threads", "1"])
        let two = try start("two", ["worker", "--connect", endpoint, "--threads", "1"])
        waitUntil("the first epoch") { errors("first").contains("epoch 1 ") }
        kill(two.processIdentifier, SIGKILL)
        let joiner = try start("joiner", ["worker", "--connect", endpoint, "--threads", "1"])
        waitUntil("the joiner takes part") { errors("first").contains("takes part") }
        kill(first.processIdentifier, SIGTERM)
        wait(first)
        XCTAssertEqual(first.terminationStatus, 0, errors("first"))
        XCTAssertTrue(errors("first").contains("lost at step"), errors("first"))
        servers.forEach { wait($0, seconds: 20) }
        [one, joiner].forEach { wait($0, seconds: 20) }

        let second = try start("second", ["coordinator", "--bind", endpoint, "--workers", "1", "--parameter-servers", "3", "--checkpoint", checkpoints,
                                          "--resume", "--save", "\(folder)/second.safetensors"] + runFlags)
        let again = try (1...3).map { try start("again\($0)", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"]) }
        let worker = try start("worker", ["worker", "--connect", endpoint, "--threads", "1"])
        wait(second)
        XCTAssertEqual(second.terminationStatus, 0, errors("second"))
        XCTAssertTrue(errors("second").contains("resumed from"), errors("second"))
        (again + [worker]).forEach { wait($0, seconds: 20) }
        (again + [worker]).forEach { XCTAssertEqual($0.terminationStatus, 0) }
        XCTAssertEqual(try savedModel("second"), try savedModel("train"), "workers lost and joining, or a resume with other servers, changed the weights")
    }

    /// A scheduler's preemption signals every process at once: the servers serve on until the
    /// coordinator has fetched their ranges for its checkpoint, and the run resumes from it with
    /// train's model.
    func testAPreemptionOfEveryProcessKeepsTheCheckpointAndResumes() throws {
        let runFlags = ["--epochs", "3", "--batch", "256", "--shards", "4", "--seed", "5"]
        try run("train", ["train", "--threads", "1"] + runFlags)
        let endpoint = "tcp://127.0.0.1:\(try freePort())", checkpoints = "\(folder)/checkpoints"
        func startRun(_ tag: String, resume: Bool) throws -> [Process] {
            try [start("coordinator-\(tag)", ["coordinator", "--bind", endpoint, "--workers", "1", "--parameter-servers", "1", "--checkpoint", checkpoints,
                                               "--save", "\(folder)/\(tag).safetensors"] + (resume ? ["--resume"] : []) + runFlags),
                 start("server-\(tag)", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"]),
                 start("worker-\(tag)", ["worker", "--connect", endpoint, "--threads", "1"])]
        }
        let first = try startRun("first", resume: false)
        waitUntil("the first epoch") { errors("coordinator-first").contains("epoch 1 ") }
        first.forEach { kill($0.processIdentifier, SIGTERM) }
        first.forEach { wait($0, seconds: 40) }
        XCTAssertEqual(first[0].terminationStatus, 0, errors("coordinator-first"))
        XCTAssertTrue(output("coordinator-first").contains("stopped by signal 15"), output("coordinator-first") + errors("coordinator-first"))
        XCTAssertEqual(first[1].terminationStatus, 0, errors("server-first"))
        let second = try startRun("second", resume: true)
        second.forEach { wait($0, seconds: 120) }
        XCTAssertEqual(second[0].terminationStatus, 0, errors("coordinator-second"))
        XCTAssertEqual(try savedModel("second"), try savedModel("train"), "a preempted and resumed run with a server changed the weights")
    }

    /// A server that cannot take part says so in one line and exits non-zero, within seconds.
    func testAServerThatCannotJoinSaysWhy() throws {
        // A network address without keys.
        let open = try start("open", ["parameter-server", "--connect", "tcp://127.0.0.1:1", "--bind", "tcp://0.0.0.0:0"])
        wait(open, seconds: 10)
        XCTAssertEqual(open.terminationStatus, 64)
        XCTAssertTrue(errors("open").contains("--insecure"), errors("open"))
        // One server too many: refused by the coordinator, told the K to start it with.
        let endpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--parameter-servers", "1"] + flags)
        let server = try start("server", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"])
        waitUntil("the server joins") { errors("coordinator").contains("parameter server 1 of 1") }
        let extra = try start("extra", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0"])
        wait(extra, seconds: 10)
        XCTAssertNotEqual(extra.terminationStatus, 0)
        XCTAssertTrue(errors("extra").contains("--parameter-servers 2"), errors("extra"))
        let worker = try start("worker", ["worker", "--connect", endpoint, "--threads", "1"])
        wait(coordinator)
        [server, worker].forEach { wait($0, seconds: 20) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(server.terminationStatus, 0, errors("server"))
    }

    /// A server killed mid-run: launch starts it again at the same socket, the coordinator goes
    /// back to the weights it last fetched from the servers, and the run ends with train's model.
    func testAKilledServerIsReplacedAndTheModelIsUnchanged() throws {
        let runFlags = ["--epochs", "3", "--batch", "256", "--shards", "4", "--seed", "5", "--optimizer", "adam", "--lr", "0.002"]
        try run("train", ["train", "--threads", "1"] + runFlags)
        let launch = try start("launch", ["launch", "--workers", "2", "--threads", "1", "--parameter-servers", "2",
                                          "--metrics", "\(folder)/launch.jsonl", "--save", "\(folder)/launch.safetensors"] + runFlags)
        waitUntil("the first epoch") { (errors("launch") + output("launch")).contains("epoch 1 ") }
        let server = try XCTUnwrap(processes(withArgument: "dptrain-launch-\(launch.processIdentifier)-server-2.sock").first, "no server 2 to kill")
        kill(server, SIGKILL)
        wait(launch, seconds: 180)
        let lines = errors("launch") + output("launch")
        XCTAssertEqual(launch.terminationStatus, 0, lines)
        XCTAssertTrue(lines.contains("[coordinator] warning: parameter server ") && lines.contains(") lost at step"), lines)
        XCTAssertTrue(lines.contains("every range has its server again"), lines)
        XCTAssertEqual(try savedModel("launch"), try savedModel("train"), "a server lost and replaced changed the weights")
        let events = try metrics("\(folder)/launch.jsonl").compactMap { $0["event"] as? String }
        XCTAssertTrue(events.contains("parameter_server_lost") && events.contains("rolled_back"), "\(Set(events))")
        XCTAssertTrue(processes(withArgument: "dptrain-launch-\(launch.processIdentifier)-").isEmpty, "a process of the launch is still running")
    }

    /// The pids of this user's processes with an argument containing `text`.
    func processes(withArgument text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self).contains(text) }
        }
    }

    /// Keys on every link: a server with a key encrypts its members' links and takes only the keys
    /// the coordinator admits; the model is train's; an intruder with a key of its own, which
    /// knows the server's public key and endpoint, gets no weights and is named in the server's log.
    func testASecureServerTakesOnlyTheKeysTheCoordinatorAdmits() throws {
        try XCTSkipUnless(CurveKeyPair.isAvailable, "this libzmq was built without CURVE (libsodium)")
        let keys = "\(folder)/keys", authorized = "\(folder)/authorized"
        try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
        for name in ["coordinator", "worker", "server", "intruder"] {
            let keygen = try start("keygen-\(name)", ["keygen", name, "--dir", keys])
            wait(keygen, seconds: 30)
            if name == "worker" || name == "server" { try FileManager.default.copyItem(atPath: "\(keys)/\(name).key", toPath: "\(authorized)/\(name).key") }
        }
        try run("train", ["train", "--threads", "1"] + flags)
        let endpoint = "tcp://127.0.0.1:\(try freePort())", serverEndpoint = "tcp://127.0.0.1:\(try freePort())"
        let coordinator = try start("coordinator", ["coordinator", "--bind", endpoint, "--workers", "1", "--parameter-servers", "1",
                                                    "--key", "\(keys)/coordinator.key_secret", "--authorized-keys", authorized,
                                                    "--save", "\(folder)/coordinator.safetensors"] + flags)
        let server = try start("server", ["parameter-server", "--connect", endpoint, "--bind", serverEndpoint,
                                          "--key", "\(keys)/server.key_secret", "--coordinator-key", "\(keys)/coordinator.key"])
        waitUntil("the server joins") { errors("coordinator").contains("parameter server 1 of 1") }
        XCTAssertTrue(errors("server").contains("(encrypted, taking the members the coordinator names)"), errors("server"))
        // A server whose key the coordinator does not admit: one line, and an exit, within seconds.
        let stranger = try start("stranger", ["parameter-server", "--connect", endpoint, "--bind", "tcp://127.0.0.1:0",
                                              "--key", "\(keys)/intruder.key_secret", "--coordinator-key", "\(keys)/coordinator.key"])
        wait(stranger, seconds: 30)
        XCTAssertNotEqual(stranger.terminationStatus, 0)
        XCTAssertTrue(errors("stranger").contains("parameter server: the coordinator at \(endpoint) refused this server's key"), errors("stranger"))
        // The intruder: a CURVE client with its own key, asking for the weights as worker 1.
        let script = """
            import sys, zmq, zmq.auth
            public, secret = zmq.auth.load_certificate(sys.argv[1] + '/intruder.key_secret')
            server, _ = zmq.auth.load_certificate(sys.argv[1] + '/server.key')
            socket = zmq.Context().socket(zmq.DEALER)
            socket.curve_publickey, socket.curve_secretkey, socket.curve_serverkey = public, secret, server
            socket.connect(sys.argv[2])
            socket.send_multipart([b'DPTR' + bytes(28), b'\\x01\\x00\\x00\\x00', b''])
            print('answered' if socket.poll(3000) else 'no answer')
            """
        let python = Process()
        python.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        python.arguments = ["-c", script, keys, serverEndpoint]
        let said = Pipe()
        python.standardOutput = said
        try python.run()
        let answer = String(decoding: said.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        python.waitUntilExit()
        XCTAssertEqual(answer, "no answer\n")
        waitUntil("the server names the intruder") { errors("server").contains("refused a member whose key the coordinator has not named") }

        let worker = try start("worker", ["worker", "--connect", endpoint, "--threads", "1", "--key", "\(keys)/worker.key_secret",
                                          "--coordinator-key", "\(keys)/coordinator.key"])
        wait(coordinator)
        [server, worker].forEach { wait($0, seconds: 20) }
        XCTAssertEqual(coordinator.terminationStatus, 0, errors("coordinator"))
        XCTAssertEqual(try savedModel("coordinator"), try savedModel("train"))
        XCTAssertTrue(errors("server").contains(try Certificate.load(path: "\(keys)/intruder.key").publicKey), errors("server"))
    }
}
