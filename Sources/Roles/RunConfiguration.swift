import Foundation
import MLP
import Plan
import Wire

/// What the coordinator tells a worker in its welcome: the run's training
/// config and the shape of the data, as JSON.
public struct RunConfiguration: Codable, Equatable, Sendable {
    public var training: TrainingConfig
    public var featureCount: Int
    public var classCount: Int
    /// How long a worker should wait, hearing nothing, before it takes the coordinator for gone.
    public var coordinatorSilenceSeconds: Double?
    /// How the weights travel; absent (an older coordinator) means float32. Gradients always travel exact (Int64).
    public var wirePrecision: WirePrecision?
    /// The BLAS kernels the run computes on.
    public var blasCore: String?
    /// The run's parameter servers, in the order of their ranges; absent: the coordinator
    /// sends the weights and takes the gradients whole.
    public var parameterServers: [ServerPlace]?

    public init(training: TrainingConfig, featureCount: Int, classCount: Int, coordinatorSilenceSeconds: Double? = nil,
                wirePrecision: WirePrecision? = nil, blasCore: String? = nil) {
        self.training = training
        self.featureCount = featureCount
        self.classCount = classCount
        self.coordinatorSilenceSeconds = coordinatorSilenceSeconds
        self.wirePrecision = wirePrecision
        self.blasCore = blasCore
    }

    /// Where a member finds one parameter server, and the range it owns.
    public struct ServerPlace: Codable, Equatable, Sendable {
        public var endpoint: String
        public var first: Int
        public var count: Int
        /// Its CURVE public key (Z85), which a member checks; nil without keys.
        public var publicKey: String?

        public init(endpoint: String, first: Int, count: Int, publicKey: String? = nil) {
            self.endpoint = endpoint
            self.first = first
            self.count = count
            self.publicKey = publicKey
        }
    }

    /// The run's wire precision, float32 when the coordinator named none.
    public var precision: WirePrecision { wirePrecision ?? .float32 }

    public func encoded() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array(try! encoder.encode(self))   // a plain Codable struct: encoding cannot fail
    }

    /// Decodes and checks a configuration from the network: the model must be
    /// usable, match the data's shape and the welcome's parameter count, and be
    /// small enough to allocate. A parameter server, which knows no count before, passes nil.
    public static func decode(_ bytes: [UInt8], parameterCount: Int?) throws -> RunConfiguration {
        guard let configuration = try? JSONDecoder().decode(RunConfiguration.self, from: Data(bytes)) else {
            throw RunConfigurationError.notJSON
        }
        let model = configuration.training.model
        if let problem = model.problems.first ?? configuration.training.problems.first {
            throw RunConfigurationError.unusable(problem)
        }
        guard model.layerSizes.allSatisfy({ $0 <= 1 << 16 }), configuration.training.batchSize <= 1 << 16 else {
            throw RunConfigurationError.tooLarge(model: model.summary, batch: configuration.training.batchSize)
        }
        guard model.inputSize == configuration.featureCount, model.classCount >= configuration.classCount,
              model.parameterCount == parameterCount ?? model.parameterCount else {
            throw RunConfigurationError.doesNotFit(model: model.summary, parameterCount: parameterCount ?? model.parameterCount)
        }
        if let seconds = configuration.coordinatorSilenceSeconds, !(seconds > 0 && seconds <= 3600) {
            throw RunConfigurationError.silenceOutOfRange(seconds: seconds)
        }
        if let servers = configuration.parameterServers {
            // The ranges must tile the parameters, in order: each member reads every weight from one of them.
            var next = 0
            for server in servers {
                guard server.first == next, server.count > 0, !server.endpoint.isEmpty else { throw RunConfigurationError.serverRanges }
                next += server.count
            }
            guard next == model.parameterCount, servers.count <= Limits.parameterServers else { throw RunConfigurationError.serverRanges }
        }
        return configuration
    }
}

/// Why a worker cannot train with the configuration its coordinator's welcome carried.
public enum RunConfigurationError: Error, Equatable, CustomStringConvertible {
    case notJSON
    case unusable(String)
    case tooLarge(model: String, batch: Int)
    case doesNotFit(model: String, parameterCount: Int)
    case silenceOutOfRange(seconds: Double)
    case serverRanges

    public var description: String {
        switch self {
        case .notJSON: return "the coordinator's configuration is not valid JSON for this version of dptrain"
        case .unusable(let problem): return "the coordinator's configuration is unusable: \(problem)"
        case let .tooLarge(model, batch): return "the coordinator's model or batch is too large: \(model), batch \(batch)"
        case let .doesNotFit(model, count): return "the coordinator's model \(model) does not fit its data or its parameter count \(count)"
        case .silenceOutOfRange(let seconds): return "the coordinator's silence timeout \(seconds) s is not between 0 and an hour"
        case .serverRanges: return "the coordinator's parameter servers' ranges do not cover the model's parameters once each, in order"
        }
    }
}
