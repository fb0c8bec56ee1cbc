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
        pairing = json.member("pairing").map(Self.pairing)
    }

    /// Schema 4's paired verdict, so that a saved paired report opens with which computer to fix.
    static func pairing(_ p: JSONValue) -> PairedVerdict {
        let connect = p.member("connect")
        return PairedVerdict(
            fix: p.member("fix")?.text, computer: p.member("computer")?.text, cause: p.member("cause")?.text,
            summary: p.member("summary")?.text ?? "", advice: p.member("advice")?.items.compactMap(\.text) ?? [],
            check: p.member("check")?.text,
            connect: Paired.ConnectTest(
                from: connect?.member("from")?.text ?? "the source", to: connect?.member("to")?.text ?? "?",
                status: connect?.member("status")?.text))
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
        f.computer = c.member("computer")?.text
        f.side = c.member("side")?.text
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
