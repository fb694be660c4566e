import ArgumentParser
import Dataset
import Foundation
import MLP
import Distributed
import Plan
import Roles
import Training
import Wire

/// `dptrain bench`: dptrain's benchmarks, one subcommand each, so that each takes only the
/// options that shape it.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure dptrain: the step loop on one core, distributed runs, encryption, logging, the coordinator's ceiling.",
        discussion: """
            Each prints a table; `dptrain bench BENCHMARK --help` says what its columns \
            are and which options shape it. For example:

              taskset -c 0 dptrain bench          the step loop, pinned for steady figures
              dptrain bench workers 1,2,4         1, 2 and 4 worker processes
              dptrain bench secure 2 --rounds 5   2 workers, plaintext against CURVE
              dptrain bench verify 2 --rounds 5   2 workers, without and with verification
              dptrain bench ceiling 1,2,4,8       a coordinator against simulated workers
              dptrain bench logging               a run without and with its logs
              dptrain bench prometheus            a run without and with --prometheus, scraped
            """,
        subcommands: [BenchStepCommand.self, BenchWorkersCommand.self, BenchSecureCommand.self, BenchVerifyCommand.self, BenchCeilingCommand.self,
                      BenchLoggingCommand.self, BenchPrometheusCommand.self],
        defaultSubcommand: BenchStepCommand.self)

    /// Loads the data for a benchmark that trains on it, on one BLAS thread, and says which kernels run.
    static func loadOnOneThread(_ options: DataOptions) throws -> PreparedData {
        let data = try options.prepareAsIs()
        BLAS.useOneThread()
        print(BLASKernels.summary)
        return data
    }
}

struct BenchStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "The step loop on one core against the sgemm ceiling (the default benchmark).",
        discussion: """
            For each model and batch size, samples/s of the training step (gather, \
            forward, backward, momentum update), the GFLOP/s that makes, the single-thread sgemm GFLOP/s \
            measured on the same core in the same run at the first layer's shape, the efficiency \
            between them, and samples/s of the step as training computes it (the batch's default shards \
            as chunks, each chunk alone, summed exactly); where the CPU has native bf16, the same for \
            --compute bf16 beside them: oneDNN's one-thread bf16 matmul GFLOP/s at the first layer's shape \
            and the exact step's samples/s, with the kernels oneDNN runs. Pin it for steady figures: \
            taskset -c 0 dptrain bench
            """)

    @Option(help: ArgumentHelp("Models as layer widths, comma-separated lists of dash-joined sizes.", valueName: "list"))
    var models = "784-128-10,784-512-256-10"

    @Option(parsing: .unconditional, help: ArgumentHelp("Batch sizes, comma-separated.", valueName: "list"))
    var batches = "32,128,512"

    @Option(parsing: .unconditional, help: "Seconds to measure each figure.")
    var seconds = 2.0

    @Option(name: .customLong("threads"), help: ArgumentHelp("Thread counts for the threads table, comma-separated (default: 1 and the cores this process may use).", valueName: "list"))
    var threadCounts: String?

    @OptionGroup var dataOptions: DataOptions

    /// The spellings from before the benchmarks were subcommands (`bench --workers 1,2`,
    /// `--secure`, `--simulated-workers`, `--logging-cost`), which scripts still use: read as the
    /// subcommand they name.
    @Argument(parsing: .allUnrecognized, help: .hidden)
    var olderSpelling: [String] = []

    func validate() throws {
        guard olderSpelling.isEmpty else {
            _ = try olderSpellingCommand()   // its own options, checked by its own rules
            return
        }
        guard parsedModels != nil else { throw ValidationError("--models '\(models)' must be like 784-128-10,784-512-256-10") }
        guard parsedBatches != nil else { throw ValidationError("--batches '\(batches)' must be positive integers like 32,128,512") }
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be between 0 and 600") }
        guard parsedThreadCounts != nil else { throw ValidationError("--threads '\(threadCounts ?? "")' must be thread counts like 1,2,4 (1 to \(ThreadOptions.most))") }
    }

    var parsedThreadCounts: [Int]? {
        guard let threadCounts else {
            let allowed = AllowedCores.count.cores
            return allowed > 1 ? [1, allowed] : [1]
        }
        return BenchList.integers(threadCounts, in: 1...ThreadOptions.most)
    }

    var parsedModels: [[Int]]? {
        let models = self.models.split(separator: ",", omittingEmptySubsequences: false).map { BenchList.integers($0, separator: "-", in: 1...(1 << 16)) }
        return models.allSatisfy({ ($0?.count ?? 0) >= 2 }) ? models.map { $0! } : nil
    }

    var parsedBatches: [Int]? { BenchList.integers(batches, in: 1...(1 << 20)) }

    /// The benchmark an older spelling names, its options and this one's --data with it (the
    /// ceiling's simulated workers read no data: it ignored --data then, and does now).
    func olderSpellingCommand() throws -> ParsableCommand {
        guard let modern = BenchList.modernSpelling(of: olderSpelling) else {
            throw ValidationError(BenchList.unknown(olderSpelling[0]))
        }
        let data = modern.first == BenchCeilingCommand.configuration.commandName ? nil : dataOptions.data
        do {
            return try BenchCommand.parseAsRoot(modern + (data.map { ["--data", $0] } ?? []))
        } catch {
            throw ValidationError(BenchCommand.message(for: error))
        }
    }

    func run() throws {
        if !olderSpelling.isEmpty {
            var command = try olderSpellingCommand()
            return try command.run()
        }
        let data = try BenchCommand.loadOnOneThread(dataOptions)
        let bf16 = BF16Support.isAvailable
        print(bf16 ? "bf16: \(OneDNN.version) on \(OneDNN.instructionSet), \(try bf16Kernels()) kernels"
                   : "bf16: not measured: \(BF16Support.currentProblem ?? "")")
        print("model            batch   samples/s  train GFLOP/s  sgemm GFLOP/s  efficiency  shards  exact samples/s"
              + (bf16 ? "  bf16 GFLOP/s  bf16 exact samples/s" : ""))
        for sizes in parsedModels! {
            guard sizes.first == data.train.featureCount else {
                throw ValidationError("model \(sizes.map(String.init).joined(separator: "-")) must start with the data's \(data.train.featureCount) inputs")
            }
            let spec = ModelSpec(layerSizes: sizes)
            for batch in parsedBatches! {
                let rate = trainingRate(spec: spec, batch: batch, data: data.train)
                let trainingGflops = rate * Double(spec.trainingFlopsPerSample) / 1e9
                let ceiling = sgemmGflops(m: batch, k: sizes[0], n: sizes[1])
                let name = sizes.map(String.init).joined(separator: "-")
                let rateText = ProgressDisplay.grouped(rate)
                let shards = ShardPlan.defaultShardCount(batchSize: batch)
                let exactText = ProgressDisplay.grouped(exactRate(spec: spec, batch: batch, shards: shards, data: data.train))
                var line = name.padding(toLength: 16, withPad: " ", startingAt: 0)
                    + String(format: " %5d ", batch)
                    + String(repeating: " ", count: max(0, 11 - rateText.count)) + rateText
                    + String(format: "  %13.1f  %13.1f  %9.0f%%  %6d ", trainingGflops, ceiling, 100 * trainingGflops / ceiling, shards)
                    + String(repeating: " ", count: max(0, 16 - exactText.count)) + exactText
                if bf16 {
                    let bf16Ceiling = try OneDNN.ceiling(m: batch, k: sizes[0], n: sizes[1], seconds: seconds, measure: measure).gflops
                    let bf16Text = ProgressDisplay.grouped(exactRate(spec: spec, batch: batch, shards: shards, data: data.train, compute: .bf16))
                    line += String(format: "  %12.1f  ", bf16Ceiling) + String(repeating: " ", count: max(0, 20 - bf16Text.count)) + bf16Text
                }
                print(line)
            }
        }
        try printThreadsTable(data: data.train)
    }

    /// The exact step of each model and batch on each thread count: samples/s, GFLOP/s, the
    /// efficiency against T times the one-core sgemm ceiling, and the speed-up over one thread.
    func printThreadsTable(data: LabeledImages) throws {
        let counts = parsedThreadCounts!
        guard counts != [1] else { return }
        print("")
        print("threads (the exact step; efficiency against T x the one-core sgemm GFLOP/s at the first layer's shape; \(AllowedCores.count.cores) cores allowed)")
        print("model            batch  shards  threads  exact samples/s  GFLOP/s  efficiency  speed-up")
        for sizes in parsedModels! {
            let spec = ModelSpec(layerSizes: sizes)
            let name = sizes.map(String.init).joined(separator: "-")
            for batch in parsedBatches! {
                let shards = ShardPlan.defaultShardCount(batchSize: batch)
                let ceiling = sgemmGflops(m: batch, k: sizes[0], n: sizes[1])
                var oneThread: Double?
                for threads in counts {
                    let rate = exactRate(spec: spec, batch: batch, shards: shards, data: data, threads: threads)
                    if threads == 1 { oneThread = rate }
                    let gflops = rate * Double(spec.trainingFlopsPerSample) / 1e9
                    let rateText = ProgressDisplay.grouped(rate)
                    print(name.padding(toLength: 16, withPad: " ", startingAt: 0)
                          + String(format: " %5d  %6d  %7d  ", batch, shards, threads)
                          + String(repeating: " ", count: max(0, 15 - rateText.count)) + rateText
                          + String(format: "  %7.1f  %9.0f%%  ", gflops, 100 * gflops / (Double(threads) * ceiling))
                          + (oneThread.map { String(format: "%7.2fx", rate / $0) } ?? "       -"))
                }
            }
        }
    }

    /// Samples per second of full training steps on real data, after a warm-up.
    func trainingRate(spec: ModelSpec, batch: Int, data: LabeledImages) -> Double {
        let workspace = Workspace(spec: spec, capacity: batch)
        var parameters = spec.initialParameters(.he, seed: 1)
        var gradient = [Float](repeating: 0, count: parameters.count)
        var labels = [UInt8](repeating: 0, count: batch)
        let optimizer = makeOptimizer(OptimizerConfig(kind: .momentum, learningRate: 0.01), parameterCount: parameters.count)
        var order = EpochOrder(sampleCount: data.count, seed: 1)
        order.shuffle()
        var cursor = 0
        func step() {
            if cursor + batch > data.count { cursor = 0 }
            labels.withUnsafeMutableBufferPointer {
                data.gather(order.indices[cursor..<(cursor + batch)], inputs: workspace.input, labels: $0.baseAddress!)
            }
            cursor += batch
            _ = workspace.gradient(parameters: parameters, labels: labels, rows: batch, into: &gradient)
            parameters.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { g in optimizer.step(parameters: p, gradientSum: g, sampleCount: batch, learningRate: 0.01) }
            }
        }
        let steps = measure(step)
        return Double(steps.count * batch) / steps.seconds
    }

    /// Samples per second of training steps as `train` and the workers compute them: the batch as
    /// `shards` chunks, each chunk's gradient alone, summed exactly in fixed point, the chunks
    /// shared among `threads` threads.
    func exactRate(spec: ModelSpec, batch: Int, shards: Int, data: LabeledImages, compute: ComputePrecision = .float32, threads: Int = 1) -> Double {
        let plan = ShardPlan(sampleCount: data.count, shardCount: shards, batchSize: batch, seed: 1)
        let chunks = ChunkedGradient(spec: spec, largestChunk: plan.largestChunk, format: plan.fixedPointFormat(for: .float32), compute: compute,
                                     threads: threads)
        var parameters = spec.initialParameters(.he, seed: 1)
        var gradient = [Float](repeating: 0, count: parameters.count)
        let optimizer = makeOptimizer(OptimizerConfig(kind: .momentum, learningRate: 0.01), parameterCount: parameters.count)
        let samples = plan.epochSamples(epoch: 1)
        var rows = [Int32](repeating: 0, count: plan.largestChunk * plan.shardCount)
        var sizes = [Int](repeating: 0, count: plan.shardCount)
        var stepInEpoch = 0
        func step() {
            if stepInEpoch == plan.stepsPerEpoch - 1 { stepInEpoch = 0 }   // the last step may be short
            chunks.reset()
            var rowCount = 0
            for shard in 0..<plan.shardCount {
                let chunk = plan.chunk(shard: shard, step: stepInEpoch)
                for sample in samples[shard][chunk] {
                    rows[rowCount] = sample
                    rowCount += 1
                }
                sizes[shard] = chunk.count
            }
            _ = rows.withUnsafeBufferPointer { rows in
                sizes.withUnsafeBufferPointer { sizes in
                    parameters.withUnsafeBufferPointer {
                        chunks.addChunks(UnsafeBufferPointer(rebasing: rows[0..<rowCount]), sizes: sizes, of: data, parameters: $0.baseAddress!, combine: false)
                    }
                }
            }
            stepInEpoch += 1
            // As train does: the sum into floats and the update, in one pass split over the threads.
            gradient.withUnsafeMutableBufferPointer { g in
                parameters.withUnsafeMutableBufferPointer { p in
                    chunks.floats(into: g) { range in
                        optimizer.update(range, parameters: p.baseAddress!, gradientSum: g.baseAddress!, sampleCount: batch, learningRate: 0.01)
                    }
                }
            }
            optimizer.finishStep()
        }
        let steps = measure(step)
        return Double(steps.count * batch) / steps.seconds
    }

    /// The kernels oneDNN runs the bf16 products of 784-128-10 on, in chunks of 64.
    func bf16Kernels() throws -> String {
        try BF16Workspace(spec: ModelSpec(layerSizes: [784, 128, 10]), capacity: 64).kernels.joined(separator: ", ")
    }

    /// GFLOP/s of one-thread sgemm at (m, k) x (k, n).
    func sgemmGflops(m: Int, k: Int, n: Int) -> Double {
        let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
        var c = [Float](repeating: 0, count: m * n)
        let calls = measure { BLAS.multiply(a, b, into: &c, m: m, k: k, n: n) }
        return Double(calls.count) * 2 * Double(m * k * n) / calls.seconds / 1e9
    }

    /// Runs `body` for a quarter of the time as warm-up, then counts calls over `seconds`.
    func measure(_ body: () -> Void) -> (count: Int, seconds: Double) {
        let warmUp = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 0.25e9)
        while DispatchTime.now().uptimeNanoseconds < warmUp { body() }
        let start = DispatchTime.now().uptimeNanoseconds
        let end = start + UInt64(seconds * 1e9)
        var count = 0
        var now = start
        while now < end {
            body()
            count += 1
            now = DispatchTime.now().uptimeNanoseconds
        }
        return (count, Double(now - start) / 1e9)
    }
}

extension ModelSpec {
    /// Floating-point operations of one training sample through the matrix products:
    /// forward A W, weight gradient A^T dZ, and dZ W^T for every layer but the first.
    var trainingFlopsPerSample: Int {
        ParameterLayout(self).layers.enumerated().reduce(0) { total, entry in
            total + 2 * entry.element.weightCount * (entry.offset == 0 ? 2 : 3)
        }
    }
}
