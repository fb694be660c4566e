import ArgumentParser
import Foundation
import Yams

/// A run file (--config FILE): the flags of one command as YAML keys, one a line, such as
///
///     epochs: 3
///     hidden: [512, 256]     # a list is the flag's comma-separated value
///     no-bias: true          # a flag: true sets it, false leaves it off
///
/// Its settings go before the command line's own, so that a flag given there overrides the file.
/// A key the command does not take, or a value of the wrong kind, names the file, the line and the key.
struct RunFile {
    struct Entry {
        let key: String
        let line: Int
        /// What the entry adds to the command line: ["--epochs", "3"], ["--no-bias"] or nothing.
        let arguments: [String]
    }

    let path: String
    let entries: [Entry]

    init(path: String, for command: ParsableCommand.Type) throws {
        self.path = path
        guard let data = FileManager.default.contents(atPath: path) else {
            throw RunFileError(path: path, reason: FileManager.default.fileExists(atPath: path) ? "cannot be read; check its permissions" : "no such file")
        }
        guard let text = String(data: data, encoding: .utf8) else { throw RunFileError(path: path, reason: "is not UTF-8 text") }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch YamlError.duplicatedKeysInMapping(let duplicates, _) {
            // Yams finds these before we see the mapping: the line is the key's second appearance.
            let key = duplicates.first ?? ""
            let lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
                .filter { $0.element.trimmingCharacters(in: .whitespaces).hasPrefix(key + ":") }.map { $0.offset + 1 }
            throw RunFileError(path: path, line: lines.dropFirst().first, key: key, reason: "given twice" + (lines.first.map { " (first on line \($0))" } ?? ""))
        } catch let error as YamlError {
            throw RunFileError(path: path, line: Self.line(of: error), reason: "is not YAML: \(Self.problem(of: error))")
        }
        guard let root else { entries = []; return }
        guard let mapping = root.mapping else {
            throw RunFileError(path: path, line: root.mark?.line, reason: "must be a mapping of flag names to values, such as `epochs: 3`, one a line")
        }
        let flags = CommandFlags(command)
        var entries: [Entry] = []
        for (keyNode, value) in mapping {
            let line = keyNode.mark?.line
            guard let key = keyNode.string else { throw RunFileError(path: path, line: line, reason: "a key must be a flag's name") }
            func fail(_ reason: String) -> RunFileError { RunFileError(path: path, line: line, key: key, reason: reason) }
            guard let takesValue = flags.takesValue[key] else {
                let near = flags.names.filter { Self.distance($0, key) <= 2 }.first
                throw fail("`\(command.configuration.commandName ?? "")` has no flag --\(key)" + (near.map { "; did you mean \($0)?" } ?? ""))
            }
            entries.append(Entry(key: key, line: line ?? 0, arguments: try Self.arguments(key, value, takesValue: takesValue, fail: fail)))
        }
        self.entries = entries
    }

    /// The command-line words for `key: value`.
    private static func arguments(_ key: String, _ value: Node, takesValue: Bool, fail: (String) -> RunFileError) throws -> [String] {
        if !takesValue {
            guard value.scalar != nil, let set = value.bool else { throw fail("is a flag: give true or false") }
            return set ? ["--\(key)"] : []
        }
        switch value {
        case .scalar(let scalar):
            guard value.null == nil || scalar.style != .plain else { throw fail("has no value") }
            return ["--\(key)", scalar.string]
        case .sequence(let items):
            let words = try items.map { item -> String in
                guard let scalar = item.scalar else { throw fail("a list's items must be single values") }
                return scalar.string
            }
            guard !words.isEmpty else { throw fail("has an empty list") }
            return ["--\(key)", words.joined(separator: ",")]
        default:
            throw fail("must be a single value or a list, not a mapping")
        }
    }

    var arguments: [String] { entries.flatMap(\.arguments) }

    /// The entry whose flag an error of the command line's parser names, to point at its line.
    func entry(blamedBy message: String) -> Entry? {
        entries.first { entry in entry.arguments.first.map { message.contains("'\($0) ") || message.contains("'\($0)'") || message.contains("\($0) ") } ?? false }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _): return mark.line
        default: return nil
        }
    }

    private static func problem(of error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, _, _), .parser(_, let problem, _, _): return problem
        default: return "\(error)"
        }
    }

    /// Edits from one name to another, for "did you mean".
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        var row = Array(0...b.count)
        for i in 1...max(a.count, 1) where !a.isEmpty {
            var previous = row[0]
            row[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let current = row[j]
                row[j] = min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] == b[j - 1] ? 0 : 1))
                previous = current
            }
        }
        return row[b.count]
    }
}

/// The long flags a command takes, and whether each takes a value, as its own help describes them.
struct CommandFlags {
    /// In the order the command declares them.
    let names: [String]
    let takesValue: [String: Bool]
    let defaults: [String: String]

    init(_ command: ParsableArguments.Type) {
        var names: [String] = [], takesValue: [String: Bool] = [:], defaults: [String: String] = [:]
        let json = (try? JSONSerialization.jsonObject(with: Data(command._dumpHelp().utf8))) as? [String: Any]
        let arguments = ((json?["command"] as? [String: Any])?["arguments"] as? [[String: Any]]) ?? []
        for argument in arguments {
            guard let kind = argument["kind"] as? String, kind != "positional",
                  let long = (argument["names"] as? [[String: Any]])?.first(where: { $0["kind"] as? String == "long" })?["name"] as? String,
                  !["help", "version", "config"].contains(long), takesValue[long] == nil else { continue }
            names.append(long)
            takesValue[long] = kind == "option"
            if let value = argument["defaultValue"] as? String { defaults[long] = value }
        }
        self.names = names
        self.takesValue = takesValue
        self.defaults = defaults
    }
}

struct RunFileError: Error, CustomStringConvertible {
    let path: String
    var line: Int?
    var key: String?
    let reason: String

    init(path: String, line: Int? = nil, key: String? = nil, reason: String) {
        self.path = path
        self.line = line
        self.key = key
        self.reason = reason
    }

    var description: String {
        "\(path)\(line.map { ":\($0)" } ?? ""): " + (key.map { "\($0): " } ?? "") + reason
    }
}

/// --config, declared by every command that reads a run file so that --help lists it.
/// `RunFiles.expand` has put the file's settings on the command line by the time it is parsed.
struct RunFileOption: ParsableArguments {
    @Option(help: ArgumentHelp("Read flags from this YAML run file (`key: value` a line, every flag a key); flags given here override it. `dptrain config FILE` prints what it sets.", valueName: "file"))
    var config: String?
}
