/// What changed between two runs of the same diagnosis (`--every`): a check changing status, a
/// root cause appearing or clearing.
public struct ReportChange: Sendable, Equatable {
    public enum Kind: String, Sendable {
        case status
        case causeAppeared = "cause-appeared"
        case causeCleared = "cause-cleared"
    }

    public var kind: Kind
    public var check: String
    /// For `status`: before and after (nil before: the check is new in the plan; nil after: gone).
    public var from: CheckStatus?
    public var to: CheckStatus?
    public var cause: String?
    /// The check's summary in the new run (what it says now).
    public var summary: String?

    /// Changes from `old` to `new`, in plan order: status changes first for each check, then causes.
    public static func between(_ old: Report, _ new: Report) -> [ReportChange] {
        var changes: [ReportChange] = []
        let before = Dictionary(old.findings.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        let after = Dictionary(new.findings.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        for f in new.findings where before[f.id]?.status != f.status {
            changes.append(
                ReportChange(kind: .status, check: f.id, from: before[f.id]?.status, to: f.status, summary: f.summary))
        }
        for f in old.findings where after[f.id] == nil {
            changes.append(ReportChange(kind: .status, check: f.id, from: f.status, to: nil))
        }
        let oldCauses = Set(old.findings.compactMap(\.cause)), newCauses = Set(new.findings.compactMap(\.cause))
        for f in new.findings {
            if let c = f.cause, !oldCauses.contains(c), !changes.contains(where: { $0.cause == c }) {
                changes.append(ReportChange(kind: .causeAppeared, check: f.id, cause: c, summary: f.summary))
            }
        }
        for f in old.findings {
            if let c = f.cause, !newCauses.contains(c), !changes.contains(where: { $0.cause == c }) {
                changes.append(ReportChange(kind: .causeCleared, check: f.id, cause: c))
            }
        }
        return changes
    }

    /// The change lines' timestamp style (ISO 8601, UTC, to the second), for other lines beside them.
    public static func timestamp(_ seconds: Double) -> String { Timestamp.iso8601(seconds) }

    /// One line for people: "2026-11-26T04:12:09Z listen-port reserved: pass → fail: port 4243 is …".
    public func line(at seconds: Double, pack: String) -> String {
        let time = Timestamp.iso8601(seconds)
        switch kind {
        case .status:
            let word = { (s: CheckStatus?) in s?.rawValue ?? "absent" }
            return "\(time) \(pack) \(check): \(word(from)) → \(word(to))" + (summary.map { ": \($0)" } ?? "")
        case .causeAppeared:
            let words = cause.flatMap { RootCause.vocabulary[$0] }.map { " (\($0))" } ?? ""
            return "\(time) \(pack) cause appeared: \(cause ?? "")\(words), found by \(check)"
        case .causeCleared:
            return "\(time) \(pack) cause cleared: \(cause ?? ""), which \(check) had found"
        }
    }

    /// One JSON object per change, for `--format json` (JSON Lines).
    public func json(at seconds: Double, pack: String) -> JSONValue {
        .object([
            "time": .string(Timestamp.iso8601(seconds)), "pack": .string(pack), "change": .string(kind.rawValue),
            "check": .string(check), "from": from.map { .string($0.rawValue) } ?? .null,
            "to": to.map { .string($0.rawValue) } ?? .null, "cause": cause.map(JSONValue.string) ?? .null,
            "summary": summary.map(JSONValue.string) ?? .null,
        ])
    }
}
