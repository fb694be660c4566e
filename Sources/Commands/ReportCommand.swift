import ArgumentParser
import Foundation
import OutputFiles
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page of charts from metrics files.",
        discussion: """
            Loss and accuracy against step and wall-clock time, samples/s with the worker count and \
            the joins, losses and resumes, where each step's time went, each worker's compute time \
            with stragglers, the configuration and the confusion matrix. Several files overlay their \
            curves. The page fetches nothing: open it anywhere.
            """)

    @Argument(help: ArgumentHelp("Metrics files written with --metrics.", valueName: "metrics.jsonl"))
    var files: [String]

    @Option(name: .shortAndLong, help: ArgumentHelp("Where to write the page.", valueName: "file"))
    var output = "report.html"

    func validate() throws {
        guard !files.isEmpty else { throw ValidationError("give at least one metrics file: dptrain report METRICS.jsonl [MORE.jsonl ...]") }
        try OutputPath.checkFile(output, flag: "--output")
    }

    func run() throws {
        try Self.write(files: files, to: output)
        print("wrote \(output) (\(files.count) run\(files.count == 1 ? "" : "s"))")
    }

    static func write(files: [String], to output: String) throws {
        let page = ReportPage(runs: try files.map(RunHistory.init(path:))).html()
        try OutputFile.write(page, to: output)
    }
}
