import ArgumentParser
import Doctor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The formats a saved report can be drawn in again; `path` is the path picture's own JSON.
enum RedrawFormat: String, ExpressibleByArgument, CaseIterable {
    case text, html, json, markdown, junit, tap, path
}

/// `portdoctor report FILE.json`: a report saved with `--format json` drawn again, by anyone, anywhere
/// (a support agent with a customer's file): the picture is a function of the JSON, not of the run.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Draw a saved JSON report again: as text, as one HTML file, or another format.",
        discussion: """
            The report is one saved with `portdoctor run --format json` (or --output-json FILE). Nothing is \
            run again: the text and the path picture come from the file alone. `--format path` prints the \
            path picture as JSON (hops, links, where it stops; a paired report's directions under \
            "directions"). A report with no network evidence draws no picture.

            Examples:
              portdoctor report saved.json
              portdoctor report saved.json --output report.html
              portdoctor report saved.json --format path
              portdoctor report saved.json --recording run.json --output support.html
            """
    )

    @Argument(help: ArgumentHelp("The saved JSON report (- for standard input).", valueName: "file.json"))
    var file: String

    @Option(help: "How to draw it (default: text, or html when --output ends in .html).")
    var format: RedrawFormat?

    @Option(help: ArgumentHelp("Write it to this file instead of standard output.", valueName: "file"))
    var output: String?

    @Option(
        help: ArgumentHelp(
            "Attach this recording (from `run --record`) to the HTML report, for support to replay.",
            valueName: "file.json"))
    var recording: String?

    func run() throws {
        let text: String
        if file == "-" {
            var lines: [String] = []
            while let line = readLine(strippingNewline: false) { lines.append(line) }
            text = lines.joined()
        } else {
            guard let data = FileManager.default.contents(atPath: file) else {
                let why =
                    !FileManager.default.fileExists(atPath: file)
                    ? "no such file"
                    : (try? FileManager.default.contentsOfDirectory(atPath: file)) != nil
                        ? "it is a folder" : "permission denied"
                throw Failure("cannot read \(file): \(why) (a report is the file `portdoctor run … --format json --output FILE` writes)")
            }
            text = String(decoding: data, as: UTF8.self)
        }
        let json: JSONValue
        var report: Report
        do {
            json = try JSONValue.parse(text)
            report = try Report(json: json)
        } catch let e as JSONValue.SyntaxError {
            throw Failure("\(file): not JSON: \(e.description)")
        } catch let e as SavedReportError {
            throw Failure("\(file): \(e.description)")
        }
        if let recording {
            guard let data = FileManager.default.contents(atPath: recording) else {
                throw Failure("cannot read the recording \(recording)")
            }
            let text = String(decoding: data, as: UTF8.self)
            do { _ = try Recording.parse(text, source: recording) } catch { throw Failure("\(error)") }
            report.recording = text
        }
        let chosen = format ?? (output?.lowercased().hasSuffix(".html") == true ? .html : .text)
        if recording != nil && chosen != .html {
            throw ValidationError("--recording is attached to the HTML report only: add --format html")
        }
        let terminal = output == nil
        let drawn: String
        switch chosen {
        case .text:
            drawn = TextReporter(
                color: terminal && Terminal.color, width: terminal ? Terminal.width : nil,
                unicode: terminal && Terminal.unicode
            ).render(report)
        case .html: drawn = HTMLReporter.render(report, json: json)
        case .json: drawn = json.encoded(pretty: true) + "\n"
        case .markdown:
            drawn = MarkdownReporter.render(report, plan: report.findings.map { ($0.id, $0.title, $0.origin) })
        case .junit: drawn = JUnitReporter.render(report)
        case .tap: drawn = TAPReporter.render(report)
        case .path: drawn = PathPicture.pathJSON(report: json).encoded(pretty: true) + "\n"
        }
        if let output {
            try ReportOutput.writeAtomically(drawn, to: output)
        } else {
            ReportOutput.writeStandardOutput(drawn)
        }
    }
}
