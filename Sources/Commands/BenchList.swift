import ArgumentParser

/// The benchmarks' one reader of lists, and of their older spellings.
enum BenchList {
    /// The middle value (the mean of the two middle ones for an even count); 0 for none.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    /// `text` as integers separated by `separator` (`1,2,4`; `784-128-10` with "-"), each in
    /// `range`; nil when one is missing, not an integer or out of range.
    static func integers(_ text: some StringProtocol, separator: Character = ",", in range: ClosedRange<Int>) -> [Int]? {
        let values = text.split(separator: separator, omittingEmptySubsequences: false).map { Int($0).flatMap { range.contains($0) ? $0 : nil } }
        return values.allSatisfy { $0 != nil } ? values.map { $0! } : nil
    }

    /// Worker counts from 1 to 256, or the one line that says what `text` should have been.
    static func counts(_ text: String, of what: String, example: String) throws -> [Int] {
        guard let counts = integers(text, in: 1...256) else {
            throw ValidationError("\(what) '\(text)' must be from 1 to 256, comma-separated, like \(example)")
        }
        return counts
    }

    /// The line for a word that is neither a benchmark nor an option of the step benchmark (the
    /// default, which reads what follows `bench` when no benchmark is named).
    static func unknown(_ word: String) -> String {
        let names = BenchCommand.configuration.subcommands.map { $0._commandName }
        if !word.hasPrefix("-"), let nearest = names.min(by: { CommandLineHints.editDistance(word, $0) < CommandLineHints.editDistance(word, $1) }),
           CommandLineHints.editDistance(word, nearest) <= 2 {
            return "'\(word)' is not a benchmark: did you mean `dptrain bench \(nearest)`? (dptrain bench --help lists them)"
        }
        return "'\(word)' is not \(word.hasPrefix("-") ? "an option of the step benchmark" : "a benchmark"); the benchmarks are "
            + "\(names.dropLast().joined(separator: ", ")) and \(names.last!), each with its own options (dptrain bench BENCHMARK --help)"
    }

    /// The arguments of the subcommand that an older spelling of `dptrain bench` names, from what
    /// follows `bench`: `--workers 1,2 --batch 512` is `workers 1,2 --batch 512`, `--secure` makes
    /// it `secure`, `--simulated-workers 1,2` is `ceiling 1,2`, `--logging-cost` is `logging`.
    /// nil when none is named.
    static func modernSpelling(of arguments: [String]) -> [String]? {
        var workers: String?, simulatedWorkers: String?, secure = false, loggingCost = false
        var rest: [String] = []
        var index = arguments.startIndex
        while index < arguments.endIndex {
            let argument = arguments[index]
            let name = argument.split(separator: "=", maxSplits: 1).first.map(String.init) ?? argument
            index += 1
            switch name {
            case "--workers", "--simulated-workers":
                var value = argument.contains("=") ? String(argument.drop { $0 != "=" }.dropFirst()) : nil
                if value == nil, index < arguments.endIndex {
                    value = arguments[index]
                    index += 1
                }
                if name == "--workers" { workers = value } else { simulatedWorkers = value }
            case "--secure": secure = true
            case "--logging-cost": loggingCost = true
            default: rest.append(argument)
            }
        }
        if let simulatedWorkers { return ["ceiling", simulatedWorkers] + rest }
        if loggingCost { return ["logging"] + rest }
        if let workers { return [secure ? "secure" : "workers", workers] + rest }
        return secure ? ["secure"] + rest : nil
    }
}
