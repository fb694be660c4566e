import ArgumentParser
import Dataset
import Distributed
import Roles
import Training

/// --data: where the IDX files are; the bundled MNIST when left out.
public struct DataOptions: ParsableArguments {
    @Option(help: ArgumentHelp("A folder with the four MNIST-layout IDX files, gzipped or raw (default: the MNIST bundled with dptrain).", valueName: "dir"))
    public var data: String?

    public init() {}

    public func load() throws -> MNIST {
        try MNIST(directory: directory())
    }

    /// The test files alone, for `evaluate`.
    public func loadTestSet() throws -> LabeledImages {
        try MNIST.testSet(directory: directory())
    }

    func directory() throws -> String {
        guard let directory = data ?? BundledData.mnistDirectory() else {
            throw ValidationError("cannot find the MNIST files bundled with dptrain; pass --data DIR or set DPTRAIN_DATA")
        }
        return directory
    }
}
