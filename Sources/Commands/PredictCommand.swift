import ArgumentParser
import Foundation
import MLP
import Training

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "A saved model's class and probabilities for each sample, as CSV or JSON lines.",
        discussion: """
            Reads the samples that `evaluate` scores (the test split of --data) and writes one line per
            sample: its index, its label, the class the model picks and the model's output for every
            class (softmax probabilities; sigmoid outputs for a model trained with --loss mse).
            A batch at a time: the output streams, and memory stays one batch beyond the data.
            """)

    @Option(help: ArgumentHelp("A model saved by `dptrain train --save`.", valueName: "file"))
    var model: String

    @OptionGroup var dataOptions: DataOptions

    @Option(help: "The hidden activation of a PyTorch nn.Sequential's model, which its file does not hold: relu, sigmoid or tanh (default relu). A dptrain model names its own.")
    var activation: Activation = .relu

    @Option(name: .shortAndLong, help: ArgumentHelp("Write the predictions here instead of standard output.", valueName: "file"))
    var output: String?

    @Option(help: "csv or jsonl (default: jsonl for an -o file ending .jsonl or .json, csv otherwise).")
    var format: PredictionFormat?

    func validate() throws {
        if let output { try OutputPath.checkFile(output, flag: "--output") }
    }

    func run() throws {
        // The samples evaluate scores, read and normalised as evaluate does, whatever the data's format.
        let (spec, parameters, normalization, _) = try ModelFile.loadModel(from: model, activation: activation)
        let data = try dataOptions.loadEvaluationSet(for: spec, normalization: normalization)
        let format = self.format ?? PredictionFormat(forPath: output)
        let sink = try output.map { try PredictionSink(path: $0) } ?? PredictionSink(handle: .standardOutput)
        if let header = format.header(classes: spec.classCount) { sink.write(header) }
        var predictions = Predictions(spec: spec, parameters: parameters)
        var correct = 0
        var text = ""
        try predictions.run(data) { rows in
            text.removeAll(keepingCapacity: true)
            for row in rows {
                format.append(row, to: &text)
                if row.predicted == row.label { correct += 1 }
            }
            sink.write(text)
            if let failure = sink.failure { throw PredictionSink.Failure(description: failure) }
        }
        try sink.close()
        let accuracy = String(format: "%.4f", Double(correct) / Double(max(data.count, 1)))
        FileHandle.standardError.write(Data("predicted \(counted(data.count, "sample")) with \(spec.summary): \(correct) agree with their labels (accuracy \(accuracy))\(output.map { "; wrote \($0)" } ?? "")\n".utf8))
    }
}

enum PredictionFormat: String, ExpressibleByArgument, CaseIterable {
    case csv, jsonl

    init(forPath path: String?) {
        self = path.map { $0.hasSuffix(".jsonl") || $0.hasSuffix(".json") } == true ? .jsonl : .csv
    }

    func header(classes: Int) -> String? {
        self == .csv ? "sample,label,predicted," + (0..<classes).map { "p\($0)" }.joined(separator: ",") + "\n" : nil
    }

    /// One sample's line. Floats print in their shortest form that reads back to the same value.
    func append(_ row: Predictions.Row, to text: inout String) {
        switch self {
        case .csv:
            text += "\(row.sample),\(row.label),\(row.predicted)"
            for p in row.outputs { text += ","; text += p.description }
        case .jsonl:
            text += "{\"sample\":\(row.sample),\"label\":\(row.label),\"predicted\":\(row.predicted),\"probabilities\":["
            for (c, p) in row.outputs.enumerated() { if c > 0 { text += "," }; text += p.description }
            text += "]}"
        }
        text += "\n"
    }
}

/// Where predictions go: a file created for them, or standard output.
final class PredictionSink {
    private let handle: FileHandle
    private let path: String?
    private(set) var failure: String?

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    init(handle: FileHandle) {
        self.handle = handle
        path = nil
    }

    init(path: String) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw Failure(description: "--output \(path): cannot create it; check that its folder is writable")
        }
        self.handle = handle
        self.path = path
    }

    func write(_ text: String) {
        guard failure == nil else { return }
        do {
            try handle.write(contentsOf: Data(text.utf8))
        } catch {
            failure = "\(path.map { "--output \($0)" } ?? "standard output"): cannot write the predictions (\(error.localizedDescription))"
        }
    }

    func close() throws {
        if let failure { throw Failure(description: failure) }
        if path != nil { try handle.close() }
    }
}
