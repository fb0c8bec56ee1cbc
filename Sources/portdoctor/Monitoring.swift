import ArgumentParser
import Doctor
import Synchronization

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

/// `run`'s options for monitors and fleets: which checks, how often, and where reports go.
struct MonitoringOptions: ParsableArguments {
    @Option(
        help: ArgumentHelp(
            "Run only these checks (ids, comma-separated, repeatable); the others are reported as skipped.",
            valueName: "id,…"))
    var only: [String] = []

    @Option(help: ArgumentHelp("Leave these checks out (ids, comma-separated, repeatable).", valueName: "id,…"))
    var skip: [String] = []

    @Option(
        help: ArgumentHelp(
            "Repeat the diagnosis every DURATION (30s, 5m, 1h; at least 1s): the first run prints the whole report, later runs only what changed, with timestamps. Ctrl-C ends it with the last run's exit code.",
            valueName: "duration"))
    var every: String?

    @Option(
        name: .customLong("output"),
        help: ArgumentHelp(
            "FILE: write the report there instead of standard output. FORMAT:FILE: also write that format (text, json, junit, markdown, nagios, prometheus, tap, html) there. A FILE ending in .html gets the HTML report. Repeatable; each file is replaced atomically (a temporary file in the same folder, then renamed).",
            valueName: "[format:]file"))
    var outputs: [String] = []

    @Option(
        name: .customLong("output-json"),
        help: ArgumentHelp("Also write the JSON report to FILE (the same as --output json:FILE).", valueName: "file"))
    var outputJSON: [String] = []

    var selection: CheckSelection {
        func ids(_ values: [String]) -> [String] {
            values.flatMap { $0.split(separator: ",") }.map {
                String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
            }
        }
        return CheckSelection(only: only.isEmpty ? nil : ids(only), skip: ids(skip))
    }

    /// The --every interval, parsed.
    var interval: Duration? { every.flatMap(Self.duration) }

    /// "30s", "5m", "1h", "250ms", or plain seconds.
    static func duration(_ text: String) -> Duration? {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        let t = text.filter { !$0.isWhitespace }.lowercased()
        for (suffix, scale) in units where t.hasSuffix(suffix) {
            guard let n = Double(t.dropLast(suffix.count)), n.isFinite, n >= 0 else { return nil }
            return .milliseconds(Int64((n * scale * 1000).rounded()))
        }
        guard let n = Double(t), n.isFinite, n >= 0 else { return nil }
        return .milliseconds(Int64((n * 1000).rounded()))
    }

    /// Where reports go besides (or instead of) standard output.
    struct Destination {
        var format: OutputFormat
        var path: String
    }

    /// The `--output FILE` that replaces standard output, if any.
    var primaryFile: String? { outputs.first { Self.split($0) == nil } }

    /// The other formats' files: `--output FORMAT:FILE` and `--output-json FILE`.
    var extraFiles: [Destination] {
        outputs.compactMap(Self.split) + outputJSON.map { Destination(format: .json, path: $0) }
    }

    /// "json:/tmp/r.json" is a format and a file; "/tmp/a:b" (no known format before the colon) is a file.
    static func split(_ value: String) -> Destination? {
        guard let colon = value.firstIndex(of: ":"), let format = OutputFormat(rawValue: String(value[..<colon]))
        else { return nil }
        return Destination(format: format, path: String(value[value.index(after: colon)...]))
    }

    func validate(format: OutputFormat) throws {
        for (option, values) in [("--only", only), ("--skip", skip)] {
            for v in values
            where v.split(separator: ",", omittingEmptySubsequences: false).contains(where: {
                $0.allSatisfy(\.isWhitespace)
            }) {
                throw ValidationError("\(option) takes check ids separated by commas, got '\(v)'")
            }
        }
        if let every {
            guard let d = Self.duration(every) else {
                throw ValidationError("--every takes a duration like 30s, 5m or 1h, got '\(every)'")
            }
            guard d >= .seconds(1), d <= .seconds(7 * 86_400) else {
                throw ValidationError("--every must be at least 1s and at most 7 days, got '\(every)'")
            }
            if format == .nagios {
                throw ValidationError(
                    "--every does not go with --format nagios: Nagios runs the plugin on its own schedule")
            }
        }
        if outputs.filter({ Self.split($0) == nil }).count > 1 {
            throw ValidationError("only one --output FILE can replace standard output; use FORMAT:FILE for the others")
        }
        for d in extraFiles where d.path.isEmpty {
            throw ValidationError("--output \(d.format.rawValue): needs a file name after the colon")
        }
        let paths = (primaryFile.map { [$0] } ?? []) + extraFiles.map(\.path)
        if Set(paths).count != paths.count { throw ValidationError("two reports cannot go to the same file") }
    }

    /// With `--format nagios` a usage error is the plugin's UNKNOWN (3), on standard output where
    /// Nagios reads it; every other format keeps exit code 2.
    static func nagiosRequested(_ arguments: [String]) -> Bool {
        // Only `run` draws Nagios: another command given `--format nagios` is a usage error (exit 2)
        // that names the formats it has, not a plugin's UNKNOWN.
        guard arguments.dropFirst().first == RunCommand.configuration.commandName else { return false }
        for (i, a) in arguments.enumerated() {
            if a == "--format=nagios" || (a == "--format" && arguments.dropFirst(i + 1).first == "nagios") {
                return true
            }
            if a == "--" { break }
        }
        return false
    }
}

/// Writes reports: standard output and files, each whole or not at all, under one lock that the
/// signal watcher also takes, so Ctrl-C never cuts a report in half.
enum ReportOutput {
    static let lock = Mutex<Int32?>(nil)

    /// Replaces `path` with `text`: a temporary file in the same folder, then rename(2), so a reader
    /// (node_exporter's textfile collector) never sees half a file.
    static func writeAtomically(_ text: String, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let folder = url.deletingLastPathComponent().path
        // The textfile collector reads only *.prom: the temporary name must not end that way.
        let temporary = folder + "/." + url.lastPathComponent + ".\(getpid()).tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw Failure("cannot write \(path): \(String(cString: strerror(errno)))") }
        var failed: Int32 = 0
        var bytes = Array(text.utf8)
        bytes.withUnsafeMutableBytes { buffer in
            var rest = UnsafeRawBufferPointer(buffer)
            while !rest.isEmpty {
                let n = write(fd, rest.baseAddress, rest.count)
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    failed = errno
                    return
                }
                rest = UnsafeRawBufferPointer(rebasing: rest[n...])
            }
        }
        if failed == 0 && fsync(fd) != 0 { failed = errno }
        close(fd)
        if failed == 0 && rename(temporary, path) != 0 { failed = errno }
        if failed != 0 {
            unlink(temporary)
            throw Failure("cannot write \(path): \(String(cString: strerror(failed)))")
        }
    }

    static func writeStandardOutput(_ text: String) {
        print(text, terminator: "")
        fflush(nil)
    }
}

/// SIGINT and SIGTERM during `--every`: the handler only writes the signal number to a pipe; a
/// thread waiting on the pipe takes the output lock (so no report is half written) and exits with
/// the last finished run's exit code (128 + the signal when no run has finished yet).
enum StopSignals {
    nonisolated(unsafe) static var pipeFDs: [Int32] = [-1, -1]

    static func install() {
        guard pipe(&pipeFDs) == 0 else { return }
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        var thread = pthread_t()
        let started = pthread_create(
            &thread, nil,
            { _ in
                var signal: Int32 = 0
                while read(StopSignals.pipeFDs[0], &signal, MemoryLayout<Int32>.size) < 0 && errno == EINTR {}
                ReportOutput.lock.withLock { last in
                    fflush(nil)
                    Terminal.clearProgress()
                    _exit(last ?? 128 + signal)
                }
                return nil
            }, nil)
        guard started == 0 else { return }
        pthread_detach(thread)
        for s in [SIGINT, SIGTERM] {
            var action = sigaction()
            #if canImport(Glibc)
                action.__sigaction_handler.sa_handler = { signal in
                    var s = signal
                    _ = write(StopSignals.pipeFDs[1], &s, MemoryLayout<Int32>.size)
                }
            #else
                action.__sigaction_u.__sa_handler = { signal in
                    var s = signal
                    _ = write(StopSignals.pipeFDs[1], &s, MemoryLayout<Int32>.size)
                }
            #endif
            action.sa_flags = SA_RESTART
            sigemptyset(&action.sa_mask)
            sigaction(s, &action, nil)
        }
        // A parent may have started us with these blocked (Foundation's Process passes its thread's
        // mask on): a monitor that cannot be stopped is worse than one that ignores the parent's wish.
        var stop = sigset_t()
        sigemptyset(&stop)
        sigaddset(&stop, SIGINT)
        sigaddset(&stop, SIGTERM)
        pthread_sigmask(SIG_UNBLOCK, &stop, nil)
    }
}

/// One `portdoctor run`, or with --every the same diagnosis again and again.
struct Monitor {
    let command: RunCommand

    var format: OutputFormat { command.reportFormat }
    var options: MonitoringOptions { command.monitoring }

    func exitCode(_ report: Report) -> Int32 {
        format == .nagios ? NagiosReporter.exitCode(report) : report.exitCode
    }

    func run() throws {
        guard let interval = options.interval else {
            let (report, plan) = try command.diagnose()
            try publish(report, plan: plan, full: true, previous: nil)
            let code = exitCode(report)
            if code != 0 { throw ExitCode(code) }
            return
        }
        StopSignals.install()
        var previous: Report?
        let clock = ContinuousClock()
        while true {
            let began = clock.now
            do {
                let (report, plan) = try command.diagnose()
                try publish(report, plan: plan, full: previous == nil, previous: previous)
                previous = report
            } catch let failure as Failure where previous != nil {
                // Something that worked a moment ago (the pack folder, the config file) went away: say
                // so and keep watching; the exit code says "could not diagnose" until it is back.
                ReportOutput.lock.withLock { last in
                    Terminal.writeError("\(Self.now()) could not diagnose: \(failure.description)\n")
                    last = format == .nagios ? 3 : 2
                }
            }
            let next = began + interval
            let left = next - clock.now
            if left > .zero {
                var wait = timespec(
                    tv_sec: Int(left.components.seconds), tv_nsec: Int(left.components.attoseconds / 1_000_000_000))
                // A signal's handler interrupts the sleep; the watcher thread then ends the process.
                var rest = timespec()
                while nanosleep(&wait, &rest) != 0 && errno == EINTR { wait = rest }
            }
        }
    }

    static func now() -> String { ReportChange.timestamp(Date().timeIntervalSince1970) }

    /// The first run: the whole report where --format/--output say. Later runs: only the changes on
    /// standard output (text lines, or JSON Lines with --format json), and every file rewritten.
    func publish(_ report: Report, plan: [(id: String, title: String, origin: String)], full: Bool, previous: Report?)
        throws
    {
        var files: [(String, String)] = []
        if let path = options.primaryFile {
            // `--output report.html` means the HTML report, whatever text --format defaulted to.
            let chosen = format == .text && path.lowercased().hasSuffix(".html") ? OutputFormat.html : format
            files.append((command.render(report, as: chosen, plan: plan, terminal: false), path))
        }
        for d in options.extraFiles {
            files.append((command.render(report, as: d.format, plan: plan, terminal: false), d.path))
        }
        var screen = ""
        if full {
            if options.primaryFile == nil { screen = command.render(report, as: format, plan: plan, terminal: true) }
        } else if let previous {
            let changes = ReportChange.between(previous, report)
            for c in changes {
                screen +=
                    (format == .json
                        ? c.json(at: report.startedAt, pack: report.packID).encoded(pretty: false)
                        : c.line(at: report.startedAt, pack: report.packID)) + "\n"
            }
        }
        try ReportOutput.lock.withLock { last in
            for (text, path) in files { try ReportOutput.writeAtomically(text, to: path) }
            ReportOutput.writeStandardOutput(screen)
            last = exitCode(report)
        }
    }
}
