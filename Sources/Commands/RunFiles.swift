import ArgumentParser
import Foundation

/// Puts a run file's settings on the command line before it is parsed: `dptrain train --config
/// run.yaml --epochs 5` is read as `dptrain train <the file's flags> --config run.yaml --epochs 5`,
/// and the parser keeps the last value of a flag given twice, so the command line wins.
public enum RunFiles {
    /// The command line as the command sees it, the run file's flags in place: `launch` passes
    /// them on to its coordinator from here.
    nonisolated(unsafe) static var effectiveArguments = CommandLine.arguments

    /// Parses and runs `Root` as `mainWithExitStatus()` does, on the command line with its run file put in.
    /// A run file that cannot be read, or that sets what the command does not take, is one line and exit 64.
    public static func main<Root: ParsableCommand>(_ root: Root.Type) -> Never {
        var arguments = Array(CommandLine.arguments.dropFirst())
        do {
            arguments = try expand(arguments, root: root)
        } catch {
            FileHandle.standardError.write(Data("Error: \(error)\n".utf8))
            exit(ExitStatus.usage)
        }
        effectiveArguments = [CommandLine.arguments[0]] + arguments
        Root.mainWithExitStatus(arguments)
    }

    /// `arguments` with the run file's flags before the command line's own; unchanged without --config.
    static func expand(_ arguments: [String], root: ParsableCommand.Type) throws -> [String] {
        guard let index = arguments.firstIndex(where: { $0 == "--config" || $0.hasPrefix("--config=") }) else { return arguments }
        let path = arguments[index] == "--config" ? arguments.dropFirst(index + 1).first : String(arguments[index].dropFirst("--config=".count))
        guard let path else { return arguments }   // the parser will say that --config lacks its value
        let (command, position) = subcommand(of: root, in: arguments)
        let file = try RunFile(path: path, for: command)
        let expanded = Array(arguments[..<position]) + file.arguments + Array(arguments[position...])
        // A value of the wrong kind in the file: the parser's own words, with the file's line and key.
        do {
            _ = try root.parseAsRoot(expanded)
        } catch {
            let message = root.message(for: error)
            if let entry = file.entry(blamedBy: message), !arguments.contains(entry.arguments[0]) {
                throw RunFileError(path: path, line: entry.line, key: entry.key, reason: message)
            }
        }
        return expanded
    }

    /// The command the arguments run (a subcommand named first, else the default one) and where its flags begin.
    static func subcommand(of root: ParsableCommand.Type, in arguments: [String]) -> (ParsableCommand.Type, Int) {
        let configuration = root.configuration
        if let first = arguments.first, let named = configuration.subcommands.first(where: { $0.configuration.commandName == first }) {
            return (named, 1)
        }
        return (configuration.defaultSubcommand ?? root, 0)
    }
}
