import ArgumentParser
import Dataset
import Distributed
import MLP
import Roles
import Training

/// --data and how to read it: the bundled MNIST when left out.
public struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("The data: a folder of IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST names, gzipped or raw) or of x_train.npy and y_train.npy, an .npz (x_train, y_train, x_test, y_test), a .csv, or a .safetensors with images and labels (default: the MNIST bundled with dptrain).", valueName: "path"))
    public var data: String?

    @Option(name: .customLong("test-data"), help: ArgumentHelp("A separate file of test samples, in any of --data's formats (a second CSV, say).", valueName: "path"))
    public var testData: String?

    @Option(name: .customLong("label-column"), help: ArgumentHelp("A CSV's label column, by header name or index from 0 (-1 for the last) (default: the first).", valueName: "name|index"))
    public var labelColumn: String?

    public init() {}

    /// The data as the files hold it, with the separate test file's samples as its test split.
    public func loadFile() throws -> DataFile {
        var file = try DataFile.load(path: try path(), labelColumn: labelColumn)
        if let testData {
            let testFile = try DataFile.load(path: testData, labelColumn: labelColumn)
            file.test = try file.checkedTestSet(testFile.evaluationSet, path: testData)
        }
        return file
    }

    /// The bundled MNIST, or --data: the path every reader starts from.
    func path() throws -> String {
        guard let path = data ?? BundledData.mnistDirectory() else {
            throw ValidationError("cannot find the MNIST files bundled with dptrain; pass --data PATH or set DPTRAIN_DATA")
        }
        return path
    }

    /// The set `evaluate` scores a model on: the file's test split, or every sample when it has
    /// none, normalised as the model was trained; refused when the model does not take its features.
    public func loadEvaluationSet(for model: ModelSpec, normalization: Normalization) throws -> LabeledImages {
        let file = try loadFile()
        let set = file.evaluationSet
        let path = try testData ?? self.path()
        guard set.featureCount == model.inputSize else {
            throw DatasetError(.featureMismatch, path: path,
                               "samples of \(set.featureCount) features, but the model takes \(model.inputSize); evaluate it on data shaped as its training data")
        }
        guard set.classCount <= model.classCount else {
            throw DatasetError(.labelOutOfRange, path: path,
                               "labels of \(set.classCount) classes, but the model has \(model.classCount) outputs; evaluate it on data with its classes")
        }
        return normalization.apply(to: set)
    }
}

/// How the training data is normalised and split: the commands that train.
public struct SplitOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Feature normalisation, fitted on the training samples and stored in the model: none, scale (pixels / 255; floats by their largest magnitude) or standardize (per feature) (default: scale for uint8 features, standardize for float ones).", valueName: "mode"))
    public var normalize: NormalizeMode?

    @Option(name: .customLong("test-fraction"), help: ArgumentHelp("When the data has no test split, hold out this fraction of it as the test set, by a seeded split (0.2, say).", valueName: "f"))
    public var testFraction: Double?

    @Option(help: ArgumentHelp("Hold out N samples (5000) or a fraction F (0.1) of the training set for validation, by a seeded split: validation accuracy is reported each epoch, the test set at the end only.", valueName: "n|f"))
    public var validation: String?

    @Flag(name: .customLong("test-every-epoch"), help: "With --validation, score the test set after every epoch too, not only at the end.")
    public var testEveryEpoch = false

    @Option(name: .customLong("save-best"), help: ArgumentHelp("Write the model of the epoch with the best validation accuracy here (needs --validation).", valueName: "file"))
    public var saveBest: String?

    public init() {}

    /// Writes the best validation epoch's model to --save-best, and says so.
    public func saveBestModel(_ evaluation: RunEvaluation, spec: ModelSpec, normalization: Normalization, settings: [(String, String)] = []) throws {
        guard let saveBest, let best = evaluation.best else { return }
        try ModelFile.save(spec: spec, parameters: best.parameters, normalization: normalization, to: saveBest, settings: settings)
        print(String(format: "saved the model of epoch %d, the best validation accuracy (%.4f), to %@", best.epoch, best.accuracy, saveBest))
    }

    public func validate() throws {
        if let testFraction, !(testFraction > 0 && testFraction < 1) {
            throw ValidationError("--test-fraction must be above 0 and below 1, such as 0.2 (got \(testFraction))")
        }
        if let validation, HeldOut(validation) == nil {
            throw ValidationError("--validation must be a sample count (5000) or a fraction between 0 and 1 (0.1) (got \(validation))")
        }
        if let saveBest {
            guard validation != nil else { throw ValidationError("--save-best keeps the epoch with the best validation accuracy: add --validation 5000 (or a fraction)") }
            try OutputPath.checkFile(saveBest, flag: "--save-best")
        }
    }

    /// `file` split into training, validation and test samples by `seed`, each normalised by
    /// what the training samples give.
    public func prepare(_ file: DataFile, seed: UInt64, source: String) throws -> PreparedData {
        try PreparedData(file, normalize: normalize, testFraction: testFraction, validation: validation.flatMap(HeldOut.init),
                         seed: seed, source: source)
    }
}

extension NormalizeMode: ExpressibleByArgument {}

extension PreparedData {
    public init(_ file: DataFile, normalize: NormalizeMode? = nil, testFraction: Double? = nil, validation: HeldOut? = nil,
                seed: UInt64, source: String) throws {
        if let missing = file.missingTraining { throw missing }
        var train = file.train
        let test: LabeledImages
        if let fileTest = file.test {
            if testFraction != nil {
                throw DatasetError(.testSplitTwice, path: source, "has its own test split: leave out --test-fraction, or pass data without one")
            }
            test = fileTest
        } else {
            guard let testFraction else {
                throw DatasetError(.noTestSplit, path: source, "has no test split: pass --test-fraction 0.2 to hold out a fifth of it, or --test-data FILE")
            }
            (train, test) = try HeldOut.fraction(testFraction).split(train, seed: seed, stream: HeldOut.testStream, flag: "--test-fraction")
        }
        var validationSet: LabeledImages?
        if let validation {
            let split = try validation.split(train, seed: seed, stream: HeldOut.validationStream, flag: "--validation")
            train = split.kept
            validationSet = split.held
        }
        let normalization = Normalization.fit(normalize ?? NormalizeMode.defaultMode(for: train.featureType), to: train)
        self.init(train: normalization.apply(to: train), validation: validationSet.map(normalization.apply(to:)),
                  test: normalization.apply(to: test), normalization: normalization,
                  sampleShape: file.sampleShape, format: file.format)
    }
}

/// The samples a run trains on, validates on and tests on, normalised as the network sees them.
public struct PreparedData {
    public let train: LabeledImages
    public let validation: LabeledImages?
    public let test: LabeledImages
    public let normalization: Normalization
    public let sampleShape: [Int]
    public let format: String

    /// bf16 compute takes bytes as pixel values 0-255 and scales the first layer's products by
    /// 1/255: other features are refused, in one line, before training.
    public func check(compute: ComputePrecision) throws {
        guard compute == .bf16, !(train.featureType == .uint8 && normalization.isPixelScale) else { return }
        throw TrainingError.dataDoesNotFitModel("--compute bf16 takes images of bytes 0-255 scaled by 1/255; these are \(train.featureType) features "
                              + "normalised by \(normalization.mode.rawValue): leave out --compute bf16, or pass --normalize scale with pixel data")
    }

    /// For the log: "60,000 training and 10,000 test samples of 28x28, 10 classes", and the
    /// features' type and normalisation where they are not bytes scaled as pixels.
    public var summary: String {
        let shape = sampleShape.map(String.init).joined(separator: "x")
        let validating = validation.map { ", \(ProgressDisplay.grouped(Double($0.count))) validation" } ?? ""
        let features = normalization.isPixelScale ? "" : " (\(format), normalize \(normalization.mode.rawValue))"
        return "\(ProgressDisplay.grouped(Double(train.count))) training\(validating) and \(ProgressDisplay.grouped(Double(test.count))) test samples "
            + "of \(shape)\(features), " + counted(train.classCount, "class", plural: "classes")
    }
}

extension DataOptions {
    /// The data read, split and normalised as `splits` say, the splits drawn from `seed`.
    public func prepare(_ splits: SplitOptions, seed: UInt64) throws -> PreparedData {
        try splits.prepare(try loadFile(), seed: seed, source: source)
    }

    /// The data with its own test split and the default normalisation, for benchmarks.
    public func prepareAsIs() throws -> PreparedData {
        try PreparedData(try loadFile(), seed: 1, source: source)
    }

    var source: String { data ?? "the bundled MNIST" }
}
