import ArgumentParser
import Doctor
import LuaHost

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json, junit, markdown, nagios, prometheus, tap, html
}

/// Options shared by `run` and `show`: which pack, for which computer.
struct PackSelection: ParsableArguments {
    @Argument(help: "A pack id (see `portdoctor list`) or the path to a pack folder.")
    var pack = "crashplan"

    @Option(help: ArgumentHelp("Plan for this platform instead of this computer's.", valueName: "linux|macos|windows"))
    var platform: String?

    @Option(
        help: ArgumentHelp(
            "The router's manufacturer (selects vendor overlays; run asks the router by UPnP when not given).",
            valueName: "name"))
    var vendor: String?

    @Option(
        name: .customLong("overlay"),
        help: ArgumentHelp(
            "Apply your own overlay (a folder with overlay.lua). Repeatable.",
            valueName: "path"))
    var overlays: [String] = []

    func validate() throws {
        if let platform, Platform(rawValue: platform) == nil {
            throw ValidationError("--platform must be linux, macos or windows, not '\(platform)'")
        }
    }

    func request() -> DiagnosisRequest {
        var r = DiagnosisRequest(pack: pack)
        r.platform = platform.flatMap(Platform.init(rawValue:)) ?? .current
        r.vendor = vendor.map { ["manufacturer": $0] }
        r.userOverlays = overlays
        return r
    }
}

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Diagnose this computer with a check pack.",
        discussion: """
            Runs the pack's checks in order (those that do not depend on each other at the same time) and \
            prints the most likely cause and the first thing to do, then each check.

            Parameters come from the pack's defaults, then the config file (~/.config/portdoctor/config, \
            lines like `peer = backup.example.net` for every pack that takes it, or `crashplan.port = 4243` \
            for one pack; `#` starts a comment), then environment variables (PORTDOCTOR_PARAM_PORT=4243), \
            then --param and --peer. A setting no pack takes is an error, never ignored.

            Exit status: 0 nothing failed, 1 a problem was found, 2 the diagnosis could not be made. \
            With --format nagios, the monitoring-plugins codes instead: 0 OK, 1 WARNING, 2 CRITICAL, \
            3 UNKNOWN (could not diagnose, usage errors included). See Docs/monitoring.md.

            Examples:
              portdoctor run crashplan --peer backup.example.net
              portdoctor run crashplan --param port=4243 --format json
              portdoctor run ./my-pack --fix
              portdoctor run crashplan --format prometheus --output /var/lib/node_exporter/portdoctor.prom
            """
    )

    @OptionGroup var selection: PackSelection

    @Option(help: ArgumentHelp("The other computer, as host or host:port.", valueName: "host[:port]"))
    var peer: String?

    @Option(name: .customLong("param"), help: ArgumentHelp("Set a pack parameter. Repeatable.", valueName: "key=value"))
    var params: [String] = []

    @Option(
        help: ArgumentHelp("Read parameters from this file instead of ~/.config/portdoctor/config.", valueName: "path"))
    var config: String?

    @Option(help: "How to print the report.")
    var format: OutputFormat = .text

    /// The older spelling of `--format json`, as on every other command.
    @Flag(help: .hidden) var json = false

    var reportFormat: OutputFormat { json ? .json : format }

    @Flag(help: "Apply the repairs checks offer, asking before each one (with --yes, without asking).")
    var fix = false

    @Flag(name: .shortAndLong, help: "With --fix: apply repairs without asking.")
    var yes = false

    @Flag(help: "Show Lua tracebacks for checks that failed to run.")
    var traceback = false

    @Flag(help: "Keep what checks print (always shown on standard error) in the report, as each check's output.")
    var debug = false

    @OptionGroup(title: "Limits per check") var limits: LimitOptions

    @OptionGroup(title: "Record, replay and trace") var recording: RecordOptions

    @OptionGroup(title: "Monitoring") var monitoring: MonitoringOptions

    @OptionGroup(title: "Both computers") var pairing: PairingOptions

    func validate() throws {
        for p in params where !p.contains("=") || p.hasPrefix("=") {
            throw ValidationError("--param takes key=value, got '\(p)'")
        }
        if yes && !fix { throw ValidationError("--yes only means something with --fix") }
        // A replay touches no network; a paired run is a conversation with a live computer.
        if recording.replay != nil && pairing.peer != nil {
            throw ValidationError("--replay answers from a recording, without the network: it cannot pair --with another computer")
        }
        if let file = monitoring.primaryFile, file.lowercased().hasSuffix(".html"), reportFormat != .text,
            reportFormat != .html
        {
            throw ValidationError(
                "--output \(file) gets the HTML report, but --format asks for \(reportFormat.rawValue): drop --format, or write \(reportFormat.rawValue):\(file) to mean it")
        }
        try monitoring.validate(format: reportFormat)
    }

    func run() throws { try Monitor(command: self).run() }

    /// One diagnosis, start to finish: the report, and the plan's steps (for markdown).
    func diagnose() throws -> (Report, [(id: String, title: String, origin: String)]) {
        let started = ContinuousClock.now
        let environment = ProcessInfo.processInfo.environment
        var request = selection.request()
        request.discoverVendor = true
        request.parameters.environment = environment
        request.parameters.commandLine = params.map {
            let eq = $0.firstIndex(of: "=")!
            return (String($0[..<eq]), String($0[$0.index(after: eq)...]))
        }
        request.parameters.peer = peer
        // Paired first, so a wrong code is said before the checks run; the partner is the peer.
        let paired = try pairing.peer.map { _ in try PairedRun(pairing) }
        request.parameters.partner = paired?.host
        request.pairedPaths = paired?.paths
        request.parameters.config = try ConfigFile.read(explicit: config, environment: environment)
        request.options.limits = limits.limits
        request.selection = monitoring.selection
        request.options.fix = fix
        request.options.assumeYes = yes
        request.options.debug = debug
        request.options.command = CommandLine.arguments
        // A printed line must not land in the middle of the progress line.
        request.options.printed = { line in
            Terminal.clearProgress()
            Terminal.writeError(line + "\n")
        }
        let interactive = isatty(STDIN_FILENO) != 0 && isatty(STDERR_FILENO) != 0
        if fix && !yes && interactive {
            request.options.confirm = { step, repair in
                Terminal.ask(
                    "\(step): \(repair.title)? It \(repair.changes)\(repair.privileged ? " (needs administrator rights)" : "")"
                )
            }
        }
        let session = try recording.begin(&request, selection: selection)
        if reportFormat == .text && isatty(STDERR_FILENO) != 0 && !recording.trace {
            request.options.progress = Terminal.showProgress
            request.announce = { Terminal.showStatus($0) }
        }
        var report: Report
        var plan: [(id: String, title: String, origin: String)] = []
        var verdictRules: VerdictRules?
        do {
            switch try Diagnosis.prepare(request, catalog: PackCatalog.discover(environment: environment)) {
            case .unloadable(let r): report = r
            case .ready(let diagnosis):
                plan = diagnosis.plan.steps.map { ($0.id, $0.title, $0.origin) }
                session.planned(diagnosis)
                // The tests between the two computers, before the checks that read them (`paths`).
                paired?.measure(diagnosis.parameters)
                report = diagnosis.run()
                verdictRules = diagnosis.verdictRules
            }
        } catch let error as DiagnosisError {
            throw Failure(error.description)
        }
        if let paired { report = paired.complete(report, rules: verdictRules) }
        Terminal.clearProgress()
        report.recording = try session.finish()
        // The footer's time is the person's wait: loading, asking the router and every check.
        let elapsed = ContinuousClock.now - started
        report.durationMilliseconds = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
        return (report, plan)
    }

    /// The report in one format; `terminal`: for standard output (colour and wrapping when it is a terminal).
    func render(
        _ report: Report, as format: OutputFormat, plan: [(id: String, title: String, origin: String)], terminal: Bool
    ) -> String {
        switch format {
        case .text:
            TextReporter(
                color: terminal && Terminal.color, showTracebacks: traceback, width: terminal ? Terminal.width : nil,
                unicode: terminal && Terminal.unicode
            ).render(report)
        case .json: JSONReporter.render(report)
        case .junit: JUnitReporter.render(report)
        case .markdown: MarkdownReporter.render(report, plan: plan)
        case .nagios: NagiosReporter.render(report)
        case .prometheus: PrometheusReporter.render(report)
        case .tap: TAPReporter.render(report)
        case .html: HTMLReporter.render(report)
        }
    }
}

/// The diagnosis could not be made: message on stderr, exit code 2.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

extension ConfigFile {
    /// The file given with --config (which must exist), or ~/.config/portdoctor/config if there is one.
    static func read(explicit: String?, environment: [String: String]) throws -> ConfigFile? {
        let base = environment["XDG_CONFIG_HOME"] ?? environment["HOME"].map { $0 + "/.config" }
        guard let path = explicit ?? base.map({ $0 + "/portdoctor/config" }) else { return nil }
        if explicit == nil && !FileManager.default.fileExists(atPath: path) { return nil }
        guard FileManager.default.fileExists(atPath: path) else { throw Failure("no config file at \(path)") }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Failure("cannot read the config file \(path): permission denied")
        }
        guard let text = String(validating: data, as: UTF8.self) else {
            throw Failure("cannot read the config file \(path): it is not UTF-8 text")
        }
        switch ConfigFile.parse(text, path: path) {
        case .success(let file): return file
        case .failure(let e): throw Failure(e.reason)
        }
    }
}
