/// TAP version 13, for CI pipelines: one test point per check; fail and error are `not ok`, skip is
/// `ok … # SKIP reason`; failures, errors and warnings carry a YAML diagnostics block in the subset
/// TAP consumers read (TAP::Parser's YAMLish: block style, double-quoted strings).
public enum TAPReporter {
    public static func render(_ report: Report) -> String {
        var out = "TAP version 13\n"
        guard !report.findings.isEmpty else { return out + "1..0 # SKIP the pack has no checks\n" }
        out += "1..\(report.findings.count)\n"
        out += "# portdoctor \(portdoctorVersion): pack \(report.packID) \(report.packVersion) on \(report.platform)\n"
        for (n, f) in report.findings.enumerated() {
            let ok = f.status == .fail || f.status == .error ? "not ok" : "ok"
            // A skip's summary is its reason: it goes after the directive, not twice.
            // A paired report's test point names the computer it ran on.
            let name = f.id + (f.onComputer.map { " (on \($0))" } ?? "")
            out += "\(ok) \(n + 1) - \(description(f.status == .skip ? name : name + ": " + f.summary))"
            if f.status == .skip { out += " # SKIP \(description(f.summary))" }
            out += "\n"
            guard f.status == .fail || f.status == .error || f.status == .warn else { continue }
            var fields: [(String, JSONValue)] = [
                ("message", .string(f.summary)), ("severity", .string(f.status.rawValue)),
            ]
            if let cause = f.cause {
                fields.append(("cause", .string(cause)))
                if let words = report.causeWords[cause] { fields.append(("cause_description", .string(words))) }
            }
            if !f.advice.isEmpty { fields.append(("advice", .array(f.advice.map(JSONValue.string)))) }
            if !f.evidence.isEmpty { fields.append(("evidence", f.evidence)) }
            if let e = f.error {
                var error: [String: JSONValue] = ["kind": .string(e.kind.rawValue)]
                if let file = e.chunk { error["file"] = .string(file) }
                if let line = e.line { error["line"] = .int(Int64(line)) }
                if let traceback = e.traceback { error["traceback"] = .string(traceback) }
                fields.append(("error", .object(error)))
            }
            if let s = f.side { fields.append(("side", .string(s))) }
            if let c = f.computer { fields.append(("computer", .string(c))) }
            fields.append(("origin", .string(f.origin)))
            fields.append(("duration_ms", .int(Int64(f.durationMilliseconds.rounded()))))
            out += "  ---\n"
            for (key, value) in fields { YAMLish.entry(key, value, indent: "  ", into: &out) }
            out += "  ...\n"
        }
        let problems = CheckStatus.allCases.filter { $0 != .pass && report.count($0) > 0 }
            .map { "\(report.count($0)) \($0.rawValue)" }
        out += "# \(report.count(.pass)) pass" + problems.map { ", " + $0 }.joined() + "\n"
        return out
    }

    /// A test point's description: one line, `#` escaped (it would start a directive) and `\` with it.
    static func description(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "#": out += "\\#"
            case _ where c.isNewline: out += " "
            default: out.append(c)
            }
        }
        return out
    }
}

/// The YAML subset TAP::Parser::YAMLish (and every full YAML parser) reads.
enum YAMLish {
    static func entry(_ key: String, _ value: JSONValue, indent: String, into out: inout String) {
        out += indent + self.key(key) + ":"
        if let s = scalar(value) {
            out += " " + s + "\n"
        } else {
            out += "\n"
            nested(value, indent: indent + "  ", into: &out)
        }
    }

    /// A mapping's or sequence's lines at `indent`.
    static func nested(_ value: JSONValue, indent: String, into out: inout String) {
        switch value {
        case .object(let o):
            for k in o.keys.sorted() { entry(k, o[k]!, indent: indent, into: &out) }
        case .array(let a):
            for item in a {
                if let s = scalar(item) {
                    out += indent + "- " + s + "\n"
                } else if case .object(let o) = item {
                    // "- key: value", the mapping's other keys aligned under the first.
                    var lines = ""
                    for k in o.keys.sorted() { entry(k, o[k]!, indent: indent + "  ", into: &lines) }
                    out += indent + "- " + lines.dropFirst(indent.count + 2)
                } else {
                    out += indent + "-\n"
                    nested(item, indent: indent + "  ", into: &out)
                }
            }
        default: break
        }
    }

    /// The value on the key's own line, or nil when it needs lines of its own.
    static func scalar(_ value: JSONValue) -> String? {
        switch value {
        case .null: "~"
        case .bool(let b): b ? "true" : "false"
        case .int(let i): String(i)
        case .double(let d): plainNumber(d)
        case .string(let s): quoted(s)
        case .array(let a): a.isEmpty ? "[]" : nil
        case .object(let o): o.isEmpty ? "{}" : nil
        }
    }

    static func key(_ k: String) -> String {
        !k.isEmpty
            && k.unicodeScalars.allSatisfy({
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || $0 == "_")
            })
            ? k : quoted(k)
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            case _ where c.value < 0x20 || c.value == 0x7F:
                let hex = String(c.value, radix: 16)
                out += "\\x" + (hex.count < 2 ? "0" : "") + hex
            default: out.unicodeScalars.append(c)
            }
        }
        return out + "\""
    }
}
