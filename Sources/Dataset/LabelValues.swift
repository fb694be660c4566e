/// Labels as a file holds them (any integer or float type) turned into class indices:
/// every label a whole number from 0 to 255, and the classes at least two.
enum LabelValues {
    /// The largest class count a label byte holds.
    static let maximumClasses = 256

    /// Checks one label read as `value`; `place` names it for the error ("row 12", "label 7").
    @inline(__always)
    static func label(_ value: Double, path: String, place: @autoclosure () -> String) throws -> UInt8 {
        guard value.isFinite, value == value.rounded(), value >= 0 else {
            throw DatasetError(.labelNotInteger, path: path,
                               "\(place()) has label \(value), not a class number: labels must be whole numbers from 0 to 255")
        }
        guard value < Double(maximumClasses) else {
            // A whole number past Int's range (1e300) is said as it was written, never converted.
            let shown = value < 0x1p53 ? "\(Int(value))" : "\(value)"
            throw DatasetError(.labelOutOfRange, path: path,
                               "\(place()) has label \(shown): dptrain takes at most \(maximumClasses) classes, numbered 0 to 255")
        }
        return UInt8(value)
    }

    /// The class count the training labels use: the largest label and one. One class is refused.
    static func classCount(_ labels: [UInt8], path: String) throws -> Int {
        guard let largest = labels.max() else {
            throw DatasetError(.emptyFile, path: path, "holds no samples; pass a file with data in it")
        }
        guard labels.contains(where: { $0 != largest }) else {
            throw DatasetError(.oneClass, path: path,
                               "every label is \(largest): a classifier needs at least two classes; check the label column")
        }
        return Int(largest) + 1
    }

    /// Checks that every test label falls within the training set's `classCount` classes.
    static func check(_ labels: [UInt8], within classCount: Int, path: String, trainingPath: String) throws {
        if let bad = labels.firstIndex(where: { Int($0) >= classCount }) {
            throw DatasetError(.labelOutOfRange, path: path,
                               "label \(labels[bad]) at sample \(bad) is outside the \(classCount) classes of the training labels (\(trainingPath))")
        }
    }
}

/// Features read as floats: NaN and infinity are refused, naming the sample and feature.
enum FeatureValues {
    static func checkFinite(_ values: [Float], featureCount: Int, path: String, what: String) throws {
        guard let bad = values.firstIndex(where: { !$0.isFinite }) else { return }
        throw DatasetError(.nonFinite, path: path,
                           "\(what) sample \(bad / featureCount), feature \(bad % featureCount) is \(values[bad]): "
                           + "replace missing or infinite values before training")
    }
}
