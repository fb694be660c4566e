import Dataset
import MLP

/// A model's answer for each sample of a set, a batch at a time: the class it
/// picks (the highest output, the first on a tie, as `Evaluation` counts) and
/// its output row (softmax probabilities, or the sigmoid outputs of an mse model).
/// Memory is one batch of inputs and outputs, whatever the set's size.
public struct Predictions {
    public let spec: ModelSpec
    private let parameters: [Float]
    private let workspace: Workspace
    private var labels: [UInt8]

    public init(spec: ModelSpec, parameters: [Float], batch: Int = 1000) {
        precondition(parameters.count == spec.parameterCount)
        self.spec = spec
        self.parameters = parameters
        workspace = Workspace(spec: spec, capacity: batch)
        labels = [UInt8](repeating: 0, count: batch)
    }

    /// One batch's answers; the pointers are valid only during the call to `each`.
    public struct Row {
        /// The sample's index in the set.
        public let sample: Int
        public let label: Int
        public let predicted: Int
        /// (classes): the model's output for the sample.
        public let outputs: UnsafeBufferPointer<Float>
    }

    /// Runs every sample of `data` through the model in order, handing each batch's rows to `each`.
    public mutating func run(_ data: LabeledImages, each: ([Row]) throws -> Void) rethrows {
        let classes = spec.classCount
        var start = 0
        var rows: [Row] = []
        rows.reserveCapacity(workspace.capacity)
        while start < data.count {
            let count = min(workspace.capacity, data.count - start)
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                data.gather(start..<(start + count), inputs: workspace.input, labels: labelBuffer.baseAddress!)
            }
            workspace.forward(parameters: parameters, rows: count)
            let output = workspace.output
            rows.removeAll(keepingCapacity: true)
            for r in 0..<count {
                let row = output + r * classes
                var best = 0
                for c in 1..<classes where row[c] > row[best] { best = c }
                rows.append(Row(sample: start + r, label: Int(labels[r]), predicted: best,
                                outputs: UnsafeBufferPointer(start: row, count: classes)))
            }
            try each(rows)
            start += count
        }
    }
}
