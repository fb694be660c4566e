import ArgumentParser

/// Two mistakes that ArgumentParser answers only with "Unexpected argument" or "Unknown option":
/// a command name mistyped (`dptrain tran`), and a training flag given to a worker
/// (`dptrain worker --epochs 5`), which takes its run's configuration from its coordinator.
enum CommandLineHints {
    /// A sentence for the mistake in `arguments` (what follows the program's name), where it is one of those two.
    static func hint(root: ParsableCommand.Type, arguments: [String]) -> String? {
        if root == DptrainCommand.self, let first = arguments.first {
            if let hint = commandTypo(first) { return hint }
            if first == "worker" { return trainingFlagGivenToWorker(Array(arguments.dropFirst())) }
        }
        if root == WorkerCommand.self { return trainingFlagGivenToWorker(arguments) }
        return nil
    }

    /// `dptrain tran`: the nearest command, when one is within two edits.
    static func commandTypo(_ word: String) -> String? {
        guard !word.hasPrefix("-") else { return nil }
        let names = DptrainCommand.configuration.subcommands.map { $0._commandName }
        guard !names.contains(word) else { return nil }
        let nearest = names.map { (name: $0, distance: editDistance(word, $0)) }.min { $0.distance < $1.distance }
        guard let nearest, nearest.distance <= 2 else { return nil }
        return "'\(word)' is not a dptrain command: did you mean `dptrain \(nearest.name)`? (dptrain --help lists them)"
    }

    /// The first flag of `arguments` that a worker does not take and a coordinator does.
    static func trainingFlagGivenToWorker(_ arguments: [String]) -> String? {
        for argument in arguments where argument.hasPrefix("--") {
            let flag = String(argument.prefix { $0 != "=" })
            guard unknown(flag, to: WorkerCommand.self, before: ["--connect", "ipc:///unused"]) else { continue }
            guard !unknown(flag, to: CoordinatorCommand.self, before: ["--bind", "ipc:///unused", "--workers", "1"]) else { continue }
            return "\(flag) is a training flag: give it to the coordinator (or to dptrain launch); a worker takes the run's "
                + "configuration from its coordinator (see dptrain worker --help for a worker's flags)"
        }
        return nil
    }

    /// Whether `command` refuses `flag` as an option it does not have.
    private static func unknown(_ flag: String, to command: ParsableCommand.Type, before: [String]) -> Bool {
        do {
            _ = try command.parse(before + [flag])
            return false
        } catch {
            return command.message(for: error).hasPrefix("Unknown option")
        }
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var previous = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...max(b.count, 1) where !b.isEmpty {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return a.isEmpty ? b.count : previous[b.count]
    }
}
