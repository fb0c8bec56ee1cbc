/// For a person at a terminal: first the most likely cause and the first thing to do, then what was
/// checked in the order you would fix things, each problem with its cause and steps.
public struct TextReporter {
    public var color: Bool
    public var showTracebacks: Bool
    /// The terminal's width: long lines wrap under their own text. nil: no wrapping (pipes, files).
    public var width: Int?
    /// Box-drawing characters in the path picture (a UTF-8 terminal); plain ASCII otherwise.
    public var unicode: Bool

    public init(color: Bool, showTracebacks: Bool = false, width: Int? = nil, unicode: Bool = false) {
        self.color = color
        self.showTracebacks = showTracebacks
        self.width = width
        self.unicode = unicode
    }

    private func paint(_ s: String, _ code: String) -> String { color ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }

    private func badge(_ status: CheckStatus) -> String {
        switch status {
        case .pass: paint("✔ pass ", "32")
        case .warn: paint("! warn ", "33")
        case .fail: paint("✘ FAIL ", "1;31")
        case .error: paint("✘ ERROR", "1;35")
        case .skip: paint("– skip ", "2")
        }
    }

    public func render(_ report: Report) -> String {
        var out: [String] = []
        out.append(paint("portdoctor · \(report.packID) \(report.packVersion) — \(report.packTitle)", "1"))
        var context = [report.platform]
        if let vendor = report.vendor { context.append("router: \(vendor)") }
        context += report.parameters.keys.sorted().map { "\($0)=\(report.parameters[$0]!)" }
        out.append(paint(context.joined(separator: " · "), "2"))
        out.append("")
        if let paired = report.pairing {
            out += pairedVerdict(paired)
            // The verdict said what to fix; a cause it names with no check of its own still gets its words
            // (the local run's first failure may be only the symptom the other computer resolved).
            if paired.check == nil, let cause = paired.cause, report.primary?.status != .error {
                out.append(paint("Most likely cause: \(report.causeWords[cause] ?? cause).", "1;31"))
            } else {
                out.append(verdict(report))
            }
        } else {
            out.append(verdict(report))
        }
        // A cause was found, but something could not run (a pack problem, a pairing that failed):
        // the opening must not read as a whole diagnosis (exit 2 says the same).
        if let e = report.findings.first(where: { $0.status == .error }), report.primary?.id != e.id {
            let what =
                e.id == "pairing"
                ? "The paired diagnosis was not made:"
                : e.id.hasPrefix("load:")
                    ? "The pack has a problem:" : "The diagnosis is incomplete: check '\(e.id)' could not run:"
            out.append(paint(what, "1;35") + " \(e.summary)")
        }
        out += alsoFound(report)
        let offered = report.findings.flatMap(\.repairs).filter { $0.outcome == .offered }.count
        if offered > 0 {
            let what = offered == 1 ? "this" : "\(offered) of these"
            out.append("portdoctor can repair \(what): run it again with --fix.")
        }
        out.append("")
        // Where the connection stops, drawn from the report's JSON (as `portdoctor report` redraws it):
        // nothing when the report has no network evidence, a row per direction for a paired run.
        if report.findings.contains(where: { !$0.id.hasPrefix("load:") }) {
            for picture in PathPicture.pictures(report: JSONReporter.object(report)) {
                out += picture.lines(width: self.width ?? 80, unicode: unicode, color: color)
                out.append("")
            }
        }

        let width = min(30, (report.findings.map(\.id.count).max() ?? 8) + 2)
        let indent = String(repeating: " ", count: 8 + width)
        for f in report.findings {
            let name = f.id.count >= width ? f.id + " " : f.id + String(repeating: " ", count: width - f.id.count)
            out.append("\(badge(f.status)) \(name)\(f.summary)")
            // What the check printed, kept with `run --debug`: under its own line, whatever its status.
            for line in f.output ?? [] { out.append(indent + paint("printed: ", "2") + line) }
            // A check that passes after a repair: what the repair did stays said (a pinhole's or a
            // forward's lifetime is only known from it).
            if f.status == .pass {
                for r in f.repairs where r.outcome == .fixed {
                    out.append(indent + paint("repaired: ", "32") + "\(r.title) — \(r.detail ?? "")")
                }
            }
            guard f.status != .pass, f.status != .skip || !f.advice.isEmpty else { continue }
            if let cause = f.cause {
                let words = report.causeWords[cause].map { "\($0) (\(cause))" } ?? cause
                out.append(indent + paint("cause: ", "1") + words)
            }
            for (i, step) in f.advice.enumerated() { out.append(indent + "\(i + 1). \(step)") }
            for r in f.repairs {
                let who = r.privileged ? " (needs administrator rights)" : ""
                switch r.outcome {
                case .offered:
                    out.append(indent + paint("fix available with --fix: ", "36") + "\(r.title) — \(r.changes)\(who)")
                case .declined: out.append(indent + "repair '\(r.title)' not applied: \(r.detail ?? "declined")")
                case .fixed: out.append(indent + paint("repaired: ", "32") + "\(r.title) — \(r.detail ?? "")")
                case .notFixed:
                    out.append(indent + paint("repair did not help: ", "33") + "\(r.title) — \(r.detail ?? "")")
                case .failed: out.append(indent + paint("repair failed: ", "31") + "\(r.title) — \(r.detail ?? "")")
                }
            }
            if showTracebacks, let tb = f.error?.traceback {
                out += tb.split(separator: "\n").map { indent + paint(String($0), "2") }
            }
        }
        out.append("")
        var counts: [String] = []
        for (status, word) in [
            (CheckStatus.pass, "passed"), (.warn, "warned"), (.fail, "failed"), (.error, "could not run"),
            (.skip, "skipped"),
        ] {
            let n = report.count(status)
            if n > 0 { counts.append("\(n) \(word)") }
        }
        let seconds = (report.durationMilliseconds / 10).rounded() / 100
        out.append("\(counts.joined(separator: ", ")) in \(seconds) s")
        guard let columns = self.width else { return out.joined(separator: "\n") + "\n" }
        return out.flatMap { TextWrap.wrap($0, width: columns) }.joined(separator: "\n") + "\n"
    }

    /// One line for each other independent problem, after the primary one: a person fixes them all
    /// in one go instead of learning of the next only after fixing the first.
    public func alsoFound(_ report: Report) -> [String] {
        report.also.map { f in
            let what = f.cause.flatMap { report.causeWords[$0] } ?? f.summary
            let first = f.advice.first.map { " First: \($0)" } ?? ""
            if f.status == .warn { return paint("Maybe also: \(what) (\(f.id)).", "1;33") + first }
            return paint("Also found: \(what) (\(f.id)).", "1;31") + first
        }
    }

    /// A paired diagnosis opens with which computer to fix, and what to do there.
    public func pairedVerdict(_ v: PairedVerdict) -> [String] {
        guard let side = v.fix else { return [paint("Both computers: \(v.summary).", "1;32")] }
        let who = PairedVerdict.whatToFix(side: side, computer: v.computer)
        var lines = [paint("Fix \(who):", "1;31") + " \(v.summary)."]
        if let first = v.advice.first { lines.append(PairedVerdict.firstStep(first, side: side)) }
        return lines
    }

    /// The one line that matters most.
    public func verdict(_ report: Report) -> String {
        guard let p = report.primary else {
            return paint("No problem found.", "1;32")
        }
        switch p.status {
        case .fail, .warn:
            let what =
                p.cause.flatMap { report.causeWords[$0] }.map { "Most likely cause: \($0)." }
                ?? "Problem: \(p.summary)."
            let first = p.advice.first.map { " First: \($0)" } ?? ""
            return paint(what, p.status == .fail ? "1;31" : "1;33") + first
        default:
            if p.id.hasPrefix("load:") {
                return paint("The pack could not be loaded.", "1;35") + " \(p.summary)"
            }
            return paint("The diagnosis is incomplete: check '\(p.id)' could not run.", "1;35")
                + " \(p.summary)"
        }
    }
}

/// Wrapping for terminals: a long line continues under its own text (after the badge, the step
/// number or "cause: "), and colour escapes take no room.
enum TextWrap {
    static func wrap(_ line: String, width: Int) -> [String] {
        guard columns(line) > width, width >= 20 else { return [line] }
        let hang = min(hangingIndent(stripped(line)), width / 2)
        var rows: [String] = []
        var row = ""
        var used = 0
        var atRowStart = true
        for word in line.split(separator: " ", omittingEmptySubsequences: false) {
            let w = columns(String(word))
            if !atRowStart && used > hang && w > 0 && used + 1 + w > width {
                rows.append(row)
                row = String(repeating: " ", count: hang)
                used = hang
                atRowStart = true
            }
            if atRowStart && !rows.isEmpty && word.isEmpty { continue }
            if !atRowStart {
                row += " "
                used += 1
            }
            row += word
            used += w
            atRowStart = false
        }
        rows.append(row)
        return rows
    }

    /// Where the text of a line starts: after its leading spaces, then after a badge and check id
    /// ("✔ pass  listener  "), a step number ("1. ") or a label ("cause: ").
    static func hangingIndent(_ line: String) -> Int {
        let chars = Array(line)
        var i = 0
        while i < chars.count, chars[i] == " " { i += 1 }
        let rest = String(chars[i...])
        for label in ["cause: ", "printed: ", "fix available with --fix: ", "repaired: ", "repair did not help: ", "repair failed: "]
        where rest.hasPrefix(label) {
            return i + label.count
        }
        if let dot = rest.firstIndex(of: "."), rest[..<dot].allSatisfy(\.isNumber), !rest[..<dot].isEmpty,
            rest[rest.index(after: dot)...].hasPrefix(" ")
        {
            return i + rest.distance(from: rest.startIndex, to: dot) + 2
        }
        if i == 0, let badge = ["✔ pass ", "! warn ", "✘ FAIL ", "✘ ERROR", "– skip "].first(where: rest.hasPrefix) {
            // The badge, a space, then the id padded to the column where summaries start.
            var j = badge.count + 1
            while j < chars.count, chars[j] != " " { j += 1 }
            while j < chars.count, chars[j] == " " { j += 1 }
            return j
        }
        return i
    }

    static func stripped(_ s: String) -> String {
        var out = ""
        var inEscape = false
        for c in s {
            if inEscape {
                if c.isLetter { inEscape = false }
            } else if c == "\u{1B}" {
                inEscape = true
            } else {
                out.append(c)
            }
        }
        return out
    }

    static func columns(_ s: String) -> Int { stripped(s).count }
}
