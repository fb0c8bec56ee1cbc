/// A Nagios/Icinga plugin's output (monitoring-plugins development guidelines): one status line,
/// `|` and performance data, then one line per check that did not pass. The plugin exit codes
/// (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN) apply to this format only.
public enum NagiosReporter {
    public enum State: Int32 {
        case ok = 0, warning = 1, critical = 2, unknown = 3
        var word: String {
            switch self {
            case .ok: "OK"
            case .warning: "WARNING"
            case .critical: "CRITICAL"
            case .unknown: "UNKNOWN"
            }
        }
    }

    /// A check that could not run makes the answer unknown (not "the connection is fine"); a failed
    /// check is critical; a warning is a warning.
    public static func state(_ report: Report) -> State {
        if report.findings.contains(where: { $0.status == .error }) { return .unknown }
        if report.findings.contains(where: { $0.status == .fail }) { return .critical }
        if report.findings.contains(where: { $0.status == .warn }) { return .warning }
        return .ok
    }

    public static func exitCode(_ report: Report) -> Int32 { state(report).rawValue }

    public static func render(_ report: Report) -> String {
        let state = state(report)
        var line = "PORTDOCTOR \(state.word) - \(report.packID): "
        switch state {
        case .ok:
            let passed = report.count(.pass), skipped = report.count(.skip)
            line += "\(passed) check\(passed == 1 ? "" : "s") passed" + (skipped > 0 ? ", \(skipped) skipped" : "")
        case .unknown:
            let f = report.findings.first { $0.status == .error }!
            line += "could not diagnose: \(f.id): \(f.summary)"
        case .critical, .warning:
            let f = report.primary!
            line += "\(f.id): \(f.summary)" + (f.cause.map { " [\($0)]" } ?? "")
        }
        var out = text(line) + " | " + perfdata(report).joined(separator: " ") + "\n"
        for f in report.findings where f.status != .pass {
            let word =
                switch f.status {
                case .fail: "CRITICAL"
                case .error: "UNKNOWN"
                case .warn: "WARNING"
                default: "SKIPPED"
                }
            out += text("[\(word)] \(f.id): \(f.summary)" + (f.cause.map { " [\($0)]" } ?? "")) + "\n"
            if let step = f.advice.first, f.status == .fail || f.status == .warn {
                out += text("  first step: \(step)") + "\n"
            }
        }
        return out
    }

    /// The one line a plugin prints when it cannot even start (unknown pack, usage error).
    public static func unknown(_ message: String) -> String {
        let first = message.split(separator: "\n").first { !$0.allSatisfy(\.isWhitespace) } ?? "could not diagnose"
        return text("PORTDOCTOR UNKNOWN - " + first.trimmingPrefix("Error: ")) + "\n"
    }

    /// `'label'=value[UOM];warn;crit;min;max`: the run's time, each check's time (seconds), each
    /// connect time found in the evidence (milliseconds). Skipped checks took no time worth graphing.
    static func perfdata(_ report: Report) -> [String] {
        var items = ["\(label("time"))=\(plainNumber(report.durationMilliseconds / 1000))s;;;0"]
        for f in report.findings where f.status != .skip {
            items.append("\(label(f.id + ".duration"))=\(plainNumber(f.durationMilliseconds / 1000))s;;;0")
            for rtt in f.connectRTTs {
                let name = f.id + (rtt.path.isEmpty ? "" : "." + rtt.path) + ".rtt"
                items.append("\(label(name))=\(plainNumber(rtt.milliseconds, digits: 1))ms;;;0")
            }
        }
        return items
    }

    /// Labels may hold anything but `=` and `'`; one with other than letters, digits, `_` and `.`
    /// is quoted ('reach-peer.rtt'), and a quote inside is doubled, as the guidelines say.
    static func label(_ name: String) -> String {
        let clean = String(name.map { $0 == "=" ? "_" : $0 == "\n" ? " " : $0 })
        if clean.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == ".") }) { return clean }
        return "'" + clean.replacing("'", with: "''") + "'"
    }

    /// Status text may not contain `|` (it starts the performance data) or line breaks.
    static func text(_ s: String) -> String {
        String(s.map { $0 == "|" ? "/" : ($0.isNewline ? " " : $0) })
    }
}
