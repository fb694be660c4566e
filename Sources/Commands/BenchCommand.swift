import ArgumentParser
import Dataset
import Foundation
import MLP
import Distributed
import Plan
import Roles
import Training
import Wire

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure the step loop on one core, or distributed training with N workers.",
        discussion: """
            Without --workers: for each model and batch size, samples/s of the training step (gather, \
            forward, backward, momentum update), the GFLOP/s that makes, the single-thread sgemm GFLOP/s \
            measured on the same core in the same run at the first layer's shape, the efficiency \
            between them, and samples/s of the step as training computes it (the batch's default shards \
            as chunks, each chunk alone, summed exactly); where the CPU has native bf16, the same for \
            --compute bf16 beside them: oneDNN's one-thread bf16 matmul GFLOP/s at the first layer's shape \
            and the exact step's samples/s, with the kernels oneDNN runs. Pin it for steady figures: \
            taskset -c 0 dptrain bench

            With --workers 1,2,4: for each count, a coordinator (in this process) and that many worker \
            processes train 784-128-10 over ipc for --epochs epochs at the global batch --batch (the same \
            for every count, so every count trains the same model); prints samples/s, the speed-up over \
            the first count, and where each step's time went.

            With --secure, each count runs over tcp loopback in plaintext and with CURVE keys made for \
            the run, alternating --rounds times, and a line gives the median CURVE samples/s as a share of \
            plaintext's.

            With --logging-cost: single-process default runs (784-128-10, batch 128, 3 epochs) alternate \
            without and with --metrics and --tensorboard at the default --log-every; prints both samples/s \
            and CPU time per run, and the difference.

            With --simulated-workers 1,2,4,8,16: the coordinator's ceiling. For each count, a coordinator \
            (in this process, over tcp loopback) against that many simulated workers that answer each step \
            at once with a stored gradient: steps/s, samples/s and MB/s through the coordinator, and where \
            each step's time went. --hidden, --batch (per simulated worker here, one shard each), --steps, --wire-precision and \
            --shared-memory (off by default here, to measure tcp) shape the run; --metrics FILE writes one \
            {"event":"bench",...} JSON line per count.
            """)

    @Option(help: ArgumentHelp("Models as layer widths, comma-separated lists of dash-joined sizes.", valueName: "list"))
    var models = "784-128-10,784-512-256-10"

    @Option(parsing: .unconditional, help: ArgumentHelp("Batch sizes, comma-separated.", valueName: "list"))
    var batches = "32,128,512"

    @Option(parsing: .unconditional, help: "Seconds to measure each figure.")
    var seconds = 2.0

    @Option(parsing: .unconditional, help: ArgumentHelp("Worker counts for a distributed benchmark, comma-separated.", valueName: "list"))
    var workers: String?

    @Option(parsing: .unconditional, help: "Global batch of the distributed benchmark, whatever the worker count (default 1024).")
    var batch = 1024

    @Option(parsing: .unconditional, help: "Shards of the distributed benchmark (default: --batch / 128, between 2 and 16).")
    var shards: Int?

    @Option(parsing: .unconditional, help: "Epochs each distributed run trains.")
    var epochs = 1

    @Flag(help: "With --workers: run each count twice over tcp loopback, in plaintext and with CURVE, and print what encryption costs.")
    var secure = false

    @Option(help: "With --secure: plaintext and CURVE runs of each count, alternating, this many of each; their medians are compared.")
    var rounds = 3

    @Flag(name: .customLong("logging-cost"), help: "Measure what the metrics file and TensorBoard cost a training run, over --rounds runs each way.")
    var loggingCost = false

    @Option(name: .customLong("log-every"), help: ArgumentHelp("Steps between logged steps for --logging-cost (default: the runs' default).", valueName: "n"))
    var logEvery: Int?

    @Option(name: .customLong("simulated-workers"), parsing: .unconditional, help: ArgumentHelp("Simulated worker counts for the coordinator's ceiling, comma-separated.", valueName: "list"))
    var simulatedWorkers: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("Hidden layer widths of the --simulated-workers model, comma-separated: 128 or 512,256.", valueName: "list"))
    var hidden = "128"

    @Option(parsing: .unconditional, help: "Steps each --simulated-workers count is measured over.")
    var steps = 40

    @Option(name: .customLong("wire-precision"), help: ArgumentHelp("How weights and gradients travel in --simulated-workers: float32, or bf16 (half the bytes both ways, as for --wire-precision on the coordinator).", valueName: "format"))
    var wirePrecision: WirePrecision = .float32

    @Option(name: .customLong("shared-memory"), help: ArgumentHelp("With --simulated-workers: on, weights and gradients through shared memory (as for any worker on the coordinator's host); off, over tcp loopback.", valueName: "on|off"))
    var sharedMemory: SharedMemorySwitch = .off

    @Option(help: ArgumentHelp("With --simulated-workers, write one JSON line per count to this file.", valueName: "file"))
    var metrics: String?

    @OptionGroup var dataOptions: DataOptions

    func validate() throws {
        guard parsedModels != nil else { throw ValidationError("--models '\(models)' must be like 784-128-10,784-512-256-10") }
        guard parsedBatches != nil else { throw ValidationError("--batches '\(batches)' must be positive integers like 32,128,512") }
        guard seconds > 0 && seconds <= 600 else { throw ValidationError("--seconds must be between 0 and 600") }
        if workers != nil && parsedWorkerCounts == nil {
            throw ValidationError("--workers '\(workers!)' must be worker counts from 1 to 256 like 1,2,4")
        }
        if let logEvery, logEvery < 1 { throw ValidationError("--log-every must be at least 1 (got \(logEvery))") }
        guard batch > 0, epochs > 0 else { throw ValidationError("--batch and --epochs must be at least 1") }
        if let shards, let problem = ShardPlan.problem(sampleCount: .max, shardCount: shards, batchSize: batch) { throw ValidationError(problem) }
        guard (1...100).contains(rounds) else { throw ValidationError("--rounds must be between 1 and 100") }
        if secure && workers == nil { throw ValidationError("--secure compares distributed runs: give --workers too, e.g. --workers 2 --secure") }
        if let simulatedWorkers {
            guard parse(counts: simulatedWorkers) != nil else {
                throw ValidationError("--simulated-workers '\(simulatedWorkers)' must be worker counts from 1 to 256 like 1,2,4,8,16")
            }
            guard workers == nil else { throw ValidationError("--simulated-workers and --workers are two different benchmarks: give one") }
            guard parsedHidden != nil else { throw ValidationError("--hidden '\(hidden)' must be comma-separated layer widths of at least 1, such as 128 or 512,256") }
            guard (1...100_000).contains(steps) else { throw ValidationError("--steps must be between 1 and 100000 (got \(steps))") }
            guard batch <= 1 << 16 else { throw ValidationError("--batch must be at most 65536 per worker (got \(batch))") }
        }
        if metrics != nil && simulatedWorkers == nil { throw ValidationError("--metrics goes with --simulated-workers") }
        if let metrics { try OutputPath.checkFile(metrics, flag: "--metrics") }
    }

    var parsedHidden: [Int]? {
        let widths = hidden.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        return widths.allSatisfy({ (1...(1 << 16)).contains($0) }) ? widths : nil
    }

    func parse(counts: String) -> [Int]? {
        let counts = counts.split(separator: ",", omittingEmptySubsequences: false).map { Int($0) ?? 0 }
        return !counts.isEmpty && counts.allSatisfy({ (1...256).contains($0) }) ? counts : nil
    }

    var parsedWorkerCounts: [Int]? {
        guard let workers else { return nil }
        let counts = workers.split(separator: ",").compactMap { Int($0) }
        return counts.count == workers.split(separator: ",").count && !counts.isEmpty && counts.allSatisfy({ (1...256).contains($0) }) ? counts : nil
    }

    var parsedModels: [[Int]]? {
        let models = self.models.split(separator: ",").map { $0.split(separator: "-").compactMap { Int($0) } }
        return models.allSatisfy({ $0.count >= 2 && $0.allSatisfy { $0 > 0 } }) && !models.isEmpty ? models : nil
    }

    var parsedBatches: [Int]? {
        let batches = self.batches.split(separator: ",").compactMap { Int($0) }
        return batches.count == self.batches.split(separator: ",").count && batches.allSatisfy({ $0 > 0 }) && !batches.isEmpty ? batches : nil
    }

    func run() throws {
        if let simulatedWorkers {
            BLAS.useOneThread()
            return try SimulatedWorkerBench(workerCounts: parse(counts: simulatedWorkers)!, hidden: parsedHidden!, batch: batch,
                                            steps: steps, precision: wirePrecision, sharedMemory: sharedMemory.isOn,
                                            metrics: try metrics.map { try MetricsLog(path: $0) }).run()
        }
        let data = try dataOptions.prepareAsIs()
        BLAS.useOneThread()
        print(BLASKernels.summary)
        if loggingCost {
            return try LoggingCostBench(rounds: rounds, logEvery: logEvery).run(data: data)
        }
        if let counts = parsedWorkerCounts {
            return try DistributedBench(workerCounts: counts, batch: batch, shards: shards, epochs: epochs, secure: secure, rounds: rounds).run(data: data)
        }
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
    /// `shards` chunks, each chunk's gradient alone, summed exactly in fixed point.
    func exactRate(spec: ModelSpec, batch: Int, shards: Int, data: LabeledImages, compute: ComputePrecision = .float32) -> Double {
        let plan = ShardPlan(sampleCount: data.count, shardCount: shards, batchSize: batch, seed: 1)
        let chunks = ChunkedGradient(spec: spec, largestChunk: plan.largestChunk, format: plan.fixedPointFormat(for: .float32), compute: compute)
        var parameters = spec.initialParameters(.he, seed: 1)
        var gradient = [Float](repeating: 0, count: parameters.count)
        let optimizer = makeOptimizer(OptimizerConfig(kind: .momentum, learningRate: 0.01), parameterCount: parameters.count)
        let samples = plan.epochSamples(epoch: 1)
        var stepInEpoch = 0
        func step() {
            if stepInEpoch == plan.stepsPerEpoch - 1 { stepInEpoch = 0 }   // the last step may be short
            chunks.reset()
            for shard in 0..<plan.shardCount {
                _ = samples[shard][plan.chunk(shard: shard, step: stepInEpoch)].withUnsafeBufferPointer { indices in
                    parameters.withUnsafeBufferPointer { chunks.add(indices, of: data, parameters: $0.baseAddress!) }
                }
            }
            stepInEpoch += 1
            gradient.withUnsafeMutableBufferPointer { chunks.sum.floats(into: $0) }
            parameters.withUnsafeMutableBufferPointer { p in
                gradient.withUnsafeBufferPointer { g in optimizer.step(parameters: p, gradientSum: g, sampleCount: batch, learningRate: 0.01) }
            }
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
