import LuaHost

/// A report saved with `--format json`, read back so that any reporter can draw it again
/// (`portdoctor report FILE.json`). Reads every schema version: keys a version lacks take their
/// empty value.
public struct SavedReportError: Error, CustomStringConvertible, Equatable {
    public var description: String
}

extension Report {
    public init(json: JSONValue) throws {
        guard case .object = json, let checks = json.member("checks"), case .array = checks else {
            throw SavedReportError(description: "not a portdoctor report: no \"checks\" list")
        }
        func strings(_ v: JSONValue?) -> [String: String] {
            guard case .object(let o)? = v else { return [:] }
            return o.compactMapValues(\.text)
        }
        packID = json.member("pack")?.text ?? "?"
        packVersion = json.member("version")?.text ?? "?"
        packTitle = json.member("title")?.text ?? ""
        platform = json.member("platform")?.text ?? json.member("system")?.member("os")?.text ?? "?"
        vendor = json.member("vendor")?.text
        parameters = strings(json.member("parameters"))
        parameterSources = strings(json.member("parameter_sources"))
        durationMilliseconds = json.member("duration_ms")?.number ?? 0
        startedAt = json.member("started_at")?.text.flatMap(Timestamp.parse) ?? 0
        let system = json.member("system")
        self.system = SystemInfo(
            os: system?.member("os")?.text ?? platform, version: system?.member("version")?.text,
            architecture: system?.member("arch")?.text)
        findings = try checks.items.map(Self.finding)
    }

    static func finding(_ c: JSONValue) throws -> Finding {
        guard let id = c.member("id")?.text, let status = c.member("status")?.text.flatMap(CheckStatus.init) else {
            throw SavedReportError(description: "not a portdoctor report: a check without an id or a known status")
        }
        var f = Finding(
            id: id, title: c.member("title")?.text ?? id, status: status, summary: c.member("summary")?.text ?? "",
            cause: c.member("cause")?.text, advice: c.member("advice")?.items.compactMap(\.text) ?? [],
            evidence: c.member("evidence") ?? .null,
            repairs: c.member("repairs")?.items.compactMap(Self.repair) ?? [], next: c.member("next")?.text,
            durationMilliseconds: c.member("duration_ms")?.number ?? 0, origin: c.member("origin")?.text ?? "")
        if let e = c.member("error") {
            f.error = LuaError(
                kind: e.member("kind")?.text.flatMap(LuaError.Kind.init) ?? .runtime,
                message: e.member("message")?.text ?? "", chunk: e.member("file")?.text,
                line: e.member("line")?.number.map { Int($0) }, traceback: e.member("traceback")?.text)
        }
        f.output = c.member("output")?.items.compactMap(\.text)
        return f
    }

    static func repair(_ r: JSONValue) -> RepairReport? {
        guard let id = r.member("id")?.text else { return nil }
        return RepairReport(
            id: id, title: r.member("title")?.text ?? id, changes: r.member("changes")?.text ?? "",
            privileged: r.member("privileged") == .bool(true),
            outcome: r.member("outcome")?.text.flatMap(RepairReport.Outcome.init) ?? .offered,
            detail: r.member("detail")?.text)
    }
}

extension JSONValue {
    var number: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }

    /// Parses JSON text (RFC 8259). Integers stay integers, so a report read back encodes the same.
    public static func parse(_ text: String) throws -> JSONValue {
        var parser = JSONTextParser(bytes: Array(text.utf8))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.at == parser.bytes.count else { throw parser.failure("text after the JSON value") }
        return value
    }
}

/// A small recursive-descent parser: reports are ours, but a file given on the command line is not.
struct JSONTextParser {
    let bytes: [UInt8]
    var at = 0

    func failure(_ what: String) -> SavedReportError {
        SavedReportError(description: "not JSON: \(what) at byte \(at)")
    }

    mutating func skipSpace() {
        while at < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[at]) { at += 1 }
    }

    mutating func literal(_ word: String, _ value: JSONValue) throws -> JSONValue {
        let w = Array(word.utf8)
        guard at + w.count <= bytes.count, Array(bytes[at..<at + w.count]) == w else {
            throw failure("unexpected text")
        }
        at += w.count
        return value
    }

    mutating func value(depth: Int) throws -> JSONValue {
        guard depth < 512 else { throw failure("nested too deep") }
        guard at < bytes.count else { throw failure("end of text") }
        switch bytes[at] {
        case UInt8(ascii: "{"):
            at += 1
            var object: [String: JSONValue] = [:]
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "}") {
                at += 1
                return .object(object)
            }
            while true {
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: "\"") else { throw failure("expected a key") }
                let key = try string()
                skipSpace()
                guard at < bytes.count, bytes[at] == UInt8(ascii: ":") else { throw failure("expected ':'") }
                at += 1
                skipSpace()
                object[key] = try value(depth: depth + 1)
                skipSpace()
                guard at < bytes.count else { throw failure("end of text") }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                } else if bytes[at] == UInt8(ascii: "}") {
                    at += 1
                    return .object(object)
                } else {
                    throw failure("expected ',' or '}'")
                }
            }
        case UInt8(ascii: "["):
            at += 1
            var array: [JSONValue] = []
            skipSpace()
            if at < bytes.count, bytes[at] == UInt8(ascii: "]") {
                at += 1
                return .array(array)
            }
            while true {
                skipSpace()
                array.append(try value(depth: depth + 1))
                skipSpace()
                guard at < bytes.count else { throw failure("end of text") }
                if bytes[at] == UInt8(ascii: ",") {
                    at += 1
                } else if bytes[at] == UInt8(ascii: "]") {
                    at += 1
                    return .array(array)
                } else {
                    throw failure("expected ',' or ']'")
                }
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    mutating func number() throws -> JSONValue {
        let begin = at
        var integral = true
        while at < bytes.count, let c = Optional(bytes[at]),
            (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || [UInt8(ascii: "-"), UInt8(ascii: "+")].contains(c)
                || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(c)
        {
            if [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(c) { integral = false }
            at += 1
        }
        let text = String(decoding: bytes[begin..<at], as: UTF8.self)
        if integral, let i = Int64(text) { return .int(i) }
        guard !text.isEmpty, let d = Double(text), d.isFinite else { throw failure("bad number '\(text)'") }
        return .double(d)
    }

    mutating func string() throws -> String {
        at += 1  // the opening quote
        var out: [UInt8] = []
        while at < bytes.count {
            let c = bytes[at]
            at += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard at < bytes.count else { throw failure("end of text in a string") }
                let e = bytes[at]
                at += 1
                switch e {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), at + 1 < bytes.count, bytes[at] == UInt8(ascii: "\\"),
                        bytes[at + 1] == UInt8(ascii: "u")
                    {
                        at += 2
                        let low = try hex4()
                        if (0xDC00..<0xE000).contains(low) {
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                    }
                    out += Array(String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default: out.append(e)  // \" \\ \/
                }
            default: out.append(c)
            }
        }
        throw failure("end of text in a string")
    }

    mutating func hex4() throws -> UInt32 {
        guard at + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[at..<at + 4], as: UTF8.self), radix: 16)
        else { throw failure("bad \\u escape") }
        at += 4
        return v
    }
}

extension Timestamp {
    /// "2026-11-26T04:12:09Z" back to seconds since 1970; nil for anything else.
    static func parse(_ text: String) -> Double? {
        let digits = text.split(whereSeparator: { "-T:Z".contains($0) }).compactMap { Int64($0) }
        guard digits.count == 6, text.hasSuffix("Z") else { return nil }
        let (y0, m, d) = (digits[0], digits[1], digits[2])
        // Howard Hinnant's days_from_civil.
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146_097 + doe - 719_468
        return Double(days * 86_400 + digits[3] * 3600 + digits[4] * 60 + digits[5])
    }
}
