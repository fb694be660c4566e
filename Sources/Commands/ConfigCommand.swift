import ArgumentParser
import Training

struct ConfigCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print a run file's effective settings, or the settings a saved model was trained with.",
        discussion: """
            `dptrain config run.yaml` checks the file against `dptrain train` (--for another command) and prints
            every setting the run would use, defaults and a preset's choices spelled out, as a run file.
            `dptrain config --from model.safetensors` prints the settings the model was trained with:
            save them and `dptrain train --config FILE` (or launch, or coordinator) trains the same model again.
            """)

    @Argument(help: ArgumentHelp("A YAML run file.", valueName: "file"))
    var file: String?

    @Option(name: .customLong("for"), help: "The command the run file is for: train, launch, coordinator or worker (default train).")
    var command: RunFileCommand = .train

    @Option(help: ArgumentHelp("A model saved by dptrain: print the settings it was trained with.", valueName: "model"))
    var from: String?

    enum RunFileCommand: String, ExpressibleByArgument, CaseIterable {
        case train, launch, coordinator, worker

        var type: ParsableCommand.Type {
            switch self {
            case .train: TrainCommand.self
            case .launch: LaunchCommand.self
            case .coordinator: CoordinatorCommand.self
            case .worker: WorkerCommand.self
            }
        }
    }

    func validate() throws {
        if (file == nil) == (from == nil) { throw ValidationError("give a run file, or --from MODEL, and not both") }
    }

    func run() throws {
        if let from {
            guard let settings = try ModelFile.settings(from: from) else {
                throw RunFileError(path: from, reason: "holds no run settings: it was saved by a dptrain from before run files")
            }
            print("# the settings \(from) was trained with; `dptrain train --config FILE` with them trains it again")
            print(RunSettings.yaml(settings), terminator: "")
            return
        }
        guard let file else { return }
        let name = command.rawValue
        let arguments = try RunFiles.expand([name, "--config", file], root: DptrainCommand.self)
        print("# the effective settings of `dptrain \(name) --config \(file)`")
        print(RunSettings.yaml(Self.effective(Array(arguments.dropFirst()), for: command.type)), terminator: "")
    }

    /// Every flag of `command` that has a value, as `arguments` and the defaults make it: the
    /// training flags resolved as the run resolves them.
    static func effective(_ arguments: [String], for command: ParsableCommand.Type) -> [(String, String)] {
        let flags = CommandFlags(command)
        var given: [String: String] = [:]
        var index = 0
        while index < arguments.count {
            let key = String(arguments[index].dropFirst(2))
            if let takesValue = flags.takesValue[key] {
                given[key] = takesValue ? arguments.dropFirst(index + 1).first : "true"
                index += takesValue ? 2 : 1
            } else {
                index += 1
            }
        }
        let trainingKeys = CommandFlags(TrainingOptions.self).names
        var resolved: [String: String] = [:]
        if flags.takesValue["epochs"] != nil {
            let trainingArguments = trainingKeys.flatMap { key in given[key].map { flags.takesValue[key]! ? ["--\(key)", $0] : ["--\(key)"] } ?? [] }
            if let options = try? TrainingOptions.parse(trainingArguments) {
                resolved = Dictionary(uniqueKeysWithValues: RunSettings.of(options.config(inputSize: 784, classCount: 10), data: nil))
            }
        }
        return flags.names.compactMap { key in
            if key == "preset", !resolved.isEmpty { return nil }   // spelled out by the resolved settings
            if let value = resolved[key] ?? given[key] ?? flags.defaults[key] { return (key, value) }
            return flags.takesValue[key] == false ? (key, "false") : nil
        }
    }
}
