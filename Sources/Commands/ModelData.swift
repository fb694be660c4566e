import Dataset
import MLP
import Training

extension DataOptions {
    /// The samples a saved model is scored or asked about (`evaluate`, `predict`): the set that
    /// `loadTestSet` reads, whatever its format, checked against the model's shape in one line.
    func testSet(fitting spec: ModelSpec) throws -> LabeledImages {
        let test = try loadTestSet()
        guard spec.inputSize == test.featureCount, spec.classCount >= test.classCount else {
            throw TrainingError.dataDoesNotFitModel("the model takes \(spec.inputSize) inputs and has \(spec.classCount) outputs, but the data has \(test.featureCount) pixels and \(test.classCount) classes")
        }
        return test
    }
}
