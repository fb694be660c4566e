import Dataset
import MLP

/// Test-set accuracy, loss and confusion matrix of a parameter vector.
public struct Evaluation: Sendable {
    public let score: BatchScore
    /// confusion[truth][predicted]: how many samples of class `truth` the model called `predicted`.
    public let confusion: [[Int]]

    public var accuracy: Double { score.accuracy }

    /// Runs `data` through the model in batches, reusing `workspace`.
    public init(parameters: [Float], data: LabeledImages, workspace: Workspace) {
        let classes = workspace.spec.classCount
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        var score = BatchScore()
        var labels = [UInt8](repeating: 0, count: workspace.capacity)
        var start = 0
        while start < data.count {
            let rows = min(workspace.capacity, data.count - start)
            labels.withUnsafeMutableBufferPointer { labelBuffer in
                data.gather(start..<(start + rows), inputs: workspace.input, labels: labelBuffer.baseAddress!)
            }
            workspace.forward(parameters: parameters, rows: rows)
            score += workspace.score(labels: labels, rows: rows)
            let output = workspace.output
            for r in 0..<rows {
                let row = output + r * classes
                var best = 0
                for c in 1..<classes where row[c] > row[best] { best = c }
                confusion[Int(labels[r])][best] += 1
            }
            start += rows
        }
        self.score = score
        self.confusion = confusion
    }

    public init(parameters: [Float], data: LabeledImages, spec: ModelSpec) {
        self.init(parameters: parameters, data: data, workspace: Workspace(spec: spec, capacity: 1000))
    }

    /// The confusion matrix as a table: rows are true classes, columns predictions.
    public var confusionTable: String {
        let width = max(5, String(confusion.joined().max() ?? 0).count + 1)
        func pad(_ s: String) -> String { String(repeating: " ", count: max(0, width - s.count)) + s }
        var lines = [pad("") + confusion.indices.map { pad(String($0)) }.joined()]
        for (truth, row) in confusion.enumerated() {
            lines.append(pad(String(truth)) + row.map { pad(String($0)) }.joined())
        }
        return lines.joined(separator: "\n")
    }
}
