import LuaHost

/// **Contract**: `{ "pack", "version", "checks": [ { "id", "title", "status", "summary", "cause", "advice",
/// "evidence", "repairs", "duration_ms", … } ], "summary": { counts by status } }`. Fields are only
/// ever added. Every key is always present (null or empty when there is nothing to say).
public enum JSONReporter {
    /// The report format's version (`schema`): raised when keys are added, with the change listed in
    /// Docs/report-format.md.
    public static let schema = 4

    public static func render(_ report: Report) -> String {
        object(report).encoded(pretty: true) + "\n"
    }

    public static func object(_ report: Report) -> JSONValue {
        var summary: [String: JSONValue] = [:]
        for status in CheckStatus.allCases { summary[status.rawValue] = .int(Int64(report.count(status))) }
        let primary = report.primary
        var system: [String: JSONValue] = ["os": .string(report.system.os)]
        system["version"] = report.system.version.map(JSONValue.string) ?? .null
        system["arch"] = report.system.architecture.map(JSONValue.string) ?? .null
        return .object([
            "schema": .int(Int64(schema)),
            "portdoctor_version": .string(portdoctorVersion),
            "started_at": .string(Timestamp.iso8601(report.startedAt)),
            "system": .object(system),
            "parameter_sources": .object(report.parameterSources.mapValues(JSONValue.string)),
            "pack": .string(report.packID),
            "version": .string(report.packVersion),
            "title": .string(report.packTitle),
            "platform": .string(report.platform),
            "vendor": report.vendor.map(JSONValue.string) ?? .null,
            "parameters": .object(report.parameters.mapValues(JSONValue.string)),
            "checks": .array(report.findings.map(check)),
            "summary": .object(summary),
            "exit_code": .int(Int64(report.exitCode)),
            "primary": primary.map { p in
                .object([
                    "check": .string(p.id), "cause": p.cause.map(JSONValue.string) ?? .null,
                    "first_step": p.advice.first.map(JSONValue.string) ?? .null,
                ])
            } ?? .null,
            "also": .array(
                report.also.map { f in
                    .object([
                        "check": .string(f.id), "cause": f.cause.map(JSONValue.string) ?? .null,
                        "summary": .string(f.summary), "first_step": f.advice.first.map(JSONValue.string) ?? .null,
                    ])
                }),
            "duration_ms": .int(Int64(report.durationMilliseconds.rounded())),
            "pairing": report.pairing.map(pairing) ?? .null,
        ])
    }

    /// Schema 4: a paired diagnosis's verdict (`run --with`).
    static func pairing(_ v: PairedVerdict) -> JSONValue {
        .object([
            "fix": v.fix.map(JSONValue.string) ?? .null,
            "computer": v.computer.map(JSONValue.string) ?? .null,
            "cause": v.cause.map(JSONValue.string) ?? .null,
            "summary": .string(v.summary),
            "advice": .array(v.advice.map(JSONValue.string)),
            "check": v.check.map(JSONValue.string) ?? .null,
            "connect": .object([
                "from": .string(v.connect.from), "to": .string(v.connect.to),
                "status": v.connect.status.map(JSONValue.string) ?? .null,
            ]),
        ])
    }

    static func check(_ f: Finding) -> JSONValue {
        .object([
            "id": .string(f.id),
            "title": .string(f.title),
            "status": .string(f.status.rawValue),
            "summary": .string(f.summary),
            "cause": f.cause.map(JSONValue.string) ?? .null,
            "advice": .array(f.advice.map(JSONValue.string)),
            "evidence": f.evidence,
            "repairs": .array(
                f.repairs.map { r in
                    .object([
                        "id": .string(r.id), "title": .string(r.title), "changes": .string(r.changes),
                        "privileged": .bool(r.privileged), "outcome": .string(r.outcome.rawValue),
                        "detail": r.detail.map(JSONValue.string) ?? .null,
                    ])
                }),
            "next": f.next.map(JSONValue.string) ?? .null,
            "origin": .string(f.origin),
            "duration_ms": .int(Int64(f.durationMilliseconds.rounded())),
            "error": f.error.map(error) ?? .null,
            "output": f.output.map { .array($0.map(JSONValue.string)) } ?? .null,
            "computer": f.computer.map(JSONValue.string) ?? .null,
            "side": f.side.map(JSONValue.string) ?? .null,
        ])
    }

    /// `{ kind, message, file, line, traceback }`: a check's error, a pack's load problem (`show`, `list`).
    public static func error(_ e: LuaError) -> JSONValue {
        .object([
            "kind": .string(e.kind.rawValue), "message": .string(e.description),
            "file": e.chunk.map(JSONValue.string) ?? .null, "line": e.line.map { .int(Int64($0)) } ?? .null,
            "traceback": e.traceback.map(JSONValue.string) ?? .null,
        ])
    }
}
