import ArgumentParser
import XCTest
@testable import Commands

/// `dptrain bench`'s benchmarks as subcommands: what each parses to, the one line a wrong value
/// gets, and the older spellings that scripts still use.
final class BenchModeTests: XCTestCase {
    func testEachBenchmarkIsASubcommandWithItsOwnOptions() throws {
        XCTAssertTrue(try DptrainCommand.parseAsRoot(["bench"]) is BenchStepCommand)
        let workers = try XCTUnwrap(try DptrainCommand.parseAsRoot(["bench", "workers", "1,2,4", "--batch", "512"]) as? BenchWorkersCommand)
        XCTAssertEqual(workers.distributed.counts, "1,2,4")
        XCTAssertEqual(workers.distributed.batch, 512)
        let secure = try XCTUnwrap(try DptrainCommand.parseAsRoot(["bench", "secure", "2", "--rounds", "5"]) as? BenchSecureCommand)
        XCTAssertEqual(secure.rounds.rounds, 5)
        let ceiling = try XCTUnwrap(try DptrainCommand.parseAsRoot(["bench", "ceiling", "1,16", "--wire-precision", "bf16"]) as? BenchCeilingCommand)
        XCTAssertEqual(ceiling.wirePrecision, .bf16)
        XCTAssertTrue(try DptrainCommand.parseAsRoot(["bench", "logging", "--log-every", "1"]) is BenchLoggingCommand)
        let prometheus = try XCTUnwrap(try DptrainCommand.parseAsRoot(["bench", "prometheus", "--interval-ms", "50"]) as? BenchPrometheusCommand)
        XCTAssertEqual(prometheus.intervalMilliseconds, 50)
        XCTAssertEqual(prometheus.rounds.rounds, 3)
        // An option belongs to its benchmark: the step loop takes no --rounds.
        XCTAssertEqual(message(["bench", "step", "--rounds", "3"]),
                       "'--rounds' is not an option of the step benchmark; the benchmarks are step, workers, secure, verify, ceiling, logging and prometheus, each with its own options (dptrain bench BENCHMARK --help)")
    }

    func testBadListsAreOneLine() {
        XCTAssertEqual(message(["bench", "workers", "2,zero"]), "worker counts '2,zero' must be from 1 to 256, comma-separated, like 1,2,4")
        XCTAssertEqual(message(["bench", "secure", "0"]), "worker counts '0' must be from 1 to 256, comma-separated, like 1,2,4")
        XCTAssertEqual(message(["bench", "workers", "1,,2"]), "worker counts '1,,2' must be from 1 to 256, comma-separated, like 1,2,4")
        XCTAssertEqual(message(["bench", "ceiling", "257"]),
                       "simulated worker counts '257' must be from 1 to 256, comma-separated, like 1,2,4,8,16")
        XCTAssertEqual(message(["bench", "ceiling", "1", "--hidden", "8,0"]),
                       "--hidden '8,0' must be comma-separated layer widths of at least 1, such as 128 or 512,256")
        XCTAssertEqual(message(["bench", "--models", "784-128"]), nil)
        XCTAssertEqual(message(["bench", "--models", "784"]), "--models '784' must be like 784-128-10,784-512-256-10")
        XCTAssertEqual(message(["bench", "step", "--batches", "32,-1"]), "--batches '32,-1' must be positive integers like 32,128,512")
        XCTAssertEqual(message(["bench", "secure", "2", "--rounds", "0"]), "--rounds must be between 1 and 100 (got 0)")
        XCTAssertEqual(message(["bench", "logging", "--log-every", "0"]), "--log-every must be at least 1 (got 0)")
        XCTAssertEqual(message(["bench", "prometheus", "--interval-ms", "0"]), "--interval-ms must be between 1 and 60000 (got 0)")
        XCTAssertEqual(message(["bench", "ceiling", "2", "--batch", "70000"]),
                       "--batch must be between 1 and 65536 per simulated worker (got 70000)")
    }

    func testTheOlderSpellingsAreReadAsTheSubcommandsTheyName() throws {
        XCTAssertEqual(BenchList.modernSpelling(of: ["--workers", "1,2", "--batch", "512"]), ["workers", "1,2", "--batch", "512"])
        XCTAssertEqual(BenchList.modernSpelling(of: ["--workers=2", "--epochs", "3", "--secure", "--rounds", "5"]),
                       ["secure", "2", "--epochs", "3", "--rounds", "5"])
        XCTAssertEqual(BenchList.modernSpelling(of: ["--simulated-workers", "1,2", "--hidden", "800"]), ["ceiling", "1,2", "--hidden", "800"])
        XCTAssertEqual(BenchList.modernSpelling(of: ["--logging-cost", "--rounds", "9"]), ["logging", "--rounds", "9"])
        XCTAssertNil(BenchList.modernSpelling(of: ["--modles", "784-10"]))

        let older = try XCTUnwrap(try DptrainCommand.parseAsRoot(["bench", "--workers", "2", "--batch", "1024", "--secure", "--rounds", "5",
                                                                 "--data", "/data/mnist"]) as? BenchStepCommand)
        let secure = try XCTUnwrap(try older.olderSpellingCommand() as? BenchSecureCommand)
        XCTAssertEqual(secure.distributed.counts, "2")
        XCTAssertEqual(secure.distributed.batch, 1024)
        XCTAssertEqual(secure.distributed.dataOptions.data, "/data/mnist")
        XCTAssertEqual(secure.rounds.rounds, 5)
        // --data went with every spelling; the ceiling reads no data and ignores it, as it did.
        XCTAssertNil(message(["bench", "--simulated-workers", "2", "--data", "/data/mnist"]))
        // Their wrong values get the subcommand's line; an option no benchmark has, a line that lists them.
        XCTAssertEqual(message(["bench", "--workers", "2,zero"]), "worker counts '2,zero' must be from 1 to 256, comma-separated, like 1,2,4")
        XCTAssertEqual(message(["bench", "wokers", "1,2"]), "'wokers' is not a benchmark: did you mean `dptrain bench workers`? (dptrain bench --help lists them)")
        XCTAssertEqual(message(["bench", "1,2"]),
                       "'1,2' is not a benchmark; the benchmarks are step, workers, secure, verify, ceiling, logging and prometheus, each with its own options (dptrain bench BENCHMARK --help)")
        XCTAssertEqual(message(["bench", "--modles", "784-10"]),
                       "'--modles' is not an option of the step benchmark; the benchmarks are step, workers, secure, verify, ceiling, logging and prometheus, each with its own options (dptrain bench BENCHMARK --help)")
    }
}
