import LuaHost
import Probes

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// A paired diagnosis (`run --with`): what each computer found, and which one to fix.
public enum Paired {
    /// The steps that look only at the computer they run on: what a partner may ask a peer to run.
    /// Steps that reach out (reach-peer) or change things (restart-service) never run on a partner's
    /// behalf; the destination's router is the exception (`peerSteps`).
    public static let localSteps = ["engine-port", "service", "listener", "firewall"]

    /// What a partner may ask a peer in `role` to run: its local steps, and on the destination also
    /// the router in front of it (port-forward). Seen from the source, a connect that fails with a
    /// clean destination is that router's; only the destination's own survey of it tells a missing
    /// forward from one to the wrong address, a second NAT or a filter. The survey asks this
    /// computer's own router, and the reflector at the partner's address (the peer's `peer` is the
    /// partner): no third address, and repairs stay off.
    public static func peerSteps(role: String) -> [String] {
        role == "source" ? localSteps : localSteps + ["port-forward"]
    }

    /// Whether a port-forward finding rests on a test from outside (the reflector's connect-back).
    public static func testedFromOutside(_ f: Finding) -> Bool {
        guard case .object(let e) = f.evidence, case .string? = e["connect_back"] else { return false }
        return true
    }

    /// The other role.
    public static func partnerRole(of role: String) -> String { role == "source" ? "destination" : "source" }

    // MARK: the peer's answer

    /// The peer's reply to `run`: its findings in the report's JSON shape, each marked with the peer.
    public static func encodeFindings(_ report: Report, computer: String, role: String) -> [UInt8] {
        let value = JSONValue.object([
            "type": .string("findings"), "pack": .string(report.packID), "version": .string(report.packVersion),
            "computer": .string(computer), "side": .string(role),
            "checks": .array(report.findings.map { JSONReporter.check($0) }),
        ])
        return Array(value.encoded(pretty: false).utf8)
    }

    public static func encodeRefusal(_ code: String, _ message: String) -> [UInt8] {
        Array(
            JSONValue.object(["type": .string("error"), "error": .string(code), "message": .string(message)])
                .encoded(pretty: false).utf8)
    }

    /// The peer's findings back from JSON, or the peer's named refusal.
    public static func decodeFindings(_ body: [UInt8]) -> Result<(computer: String, findings: [Finding]), PairingProtocol.Refusal>
    {
        guard let root = try? JSONDecoder().decode(DecodedJSON.self, from: Data(body)).value else {
            return .failure(.init("garbled", "the peer's answer is not JSON"))
        }
        if root["type"]?.text == "error" {
            return .failure(.init(root["error"]?.text ?? "refused", root["message"]?.text ?? "the peer refused"))
        }
        guard root["type"]?.text == "findings", case .array(let checks)? = root["checks"] else {
            return .failure(.init("garbled", "the peer's answer has no findings"))
        }
        let computer = root["computer"]?.text ?? "the other computer"
        let side = root["side"]?.text
        let findings = checks.compactMap { c -> Finding? in
            guard let id = c["id"]?.text, let status = c["status"]?.text.flatMap(CheckStatus.init) else { return nil }
            var advice: [String] = []
            if case .array(let a)? = c["advice"] { advice = a.compactMap(\.text) }
            var f = Finding(
                id: id, title: c["title"]?.text ?? id, status: status, summary: c["summary"]?.text ?? "",
                cause: c["cause"]?.text, advice: advice, evidence: c["evidence"] ?? .null,
                durationMilliseconds: c["duration_ms"]?.number ?? 0, origin: c["origin"]?.text ?? "peer")
            f.computer = computer
            f.side = side
            return f
        }
        return .success((computer, findings))
    }

    // MARK: the verdict

    /// source → destination on the service port, as the source tried it (or the peer, for us).
    public struct ConnectTest: Sendable {
        public var from: String
        public var to: String
        /// The connect's status words (`connected`, `refused`, `timeout` …); nil when not tried.
        public var status: String?
        public init(from: String, to: String, status: String?) {
            self.from = from
            self.to = to
            self.status = status
        }
    }

    /// Merges the two sides into one report that opens with which computer to fix: `rules`' verdict
    /// (the diagnosis's pack's), tcp-service's when none is given.
    public static func merge(
        local: Report, localComputer: String, peerComputer: String, peerFindings: [Finding], test: ConnectTest,
        rules: VerdictRules? = nil
    ) -> Report {
        let role = local.parameters["role"] ?? "destination"
        var report = local
        for i in report.findings.indices {
            report.findings[i].computer = localComputer
            report.findings[i].side = role
        }
        // The peer's steps carry their computer in their id too, so `also` and the text report keep both sides.
        report.findings += peerFindings.map { f in
            var f = f
            f.id = "\(f.side ?? "peer"):\(f.id)"
            f.computer = peerComputer
            return f
        }
        // The tests between the two computers (`paths`) belong to the computer the pack says to fix.
        for i in report.findings.indices where report.findings[i].id == "paths" {
            if case .object(let e) = report.findings[i].evidence, case .string(let fix)? = e["fix"], fix != role {
                report.findings[i].side = fix
                report.findings[i].computer = peerComputer
            }
        }
        // Which computer to fix is the pack's to say (lib/verdict.lua). A verdict that fails keeps
        // both computers' findings: it becomes an error check that names its file and line.
        let decided: Result<PairedVerdict, LuaError>
        var file = "\(VerdictRules.sharedPack)/\(VerdictRules.path)"
        do {
            let rules = try rules ?? VerdictRules.bundled()
            file = rules.file
            decided = rules.decide(report.findings, test: test)
        } catch let error as LuaError {
            decided = .failure(error)
        } catch {
            decided = .failure(LuaError(kind: .runtime, message: "\(error)"))
        }
        switch decided {
        case .success(let verdict): report.pairing = verdict
        case .failure(let error): report.findings.append(VerdictRules.failure(error, file: file))
        }
        return report
    }
}

/// Which computer to fix, what, and how the connect between them went. **Contract**: the JSON
/// report's `pairing` object. The pack's Lua decides it (`VerdictRules`: lib/verdict.lua).
public struct PairedVerdict: Sendable {
    /// `source`, `destination`, `between` (neither computer: what lies between them, when the
    /// destination was reached at its own address), or nil when nothing needs fixing.
    public var fix: String?
    public var computer: String?
    public var cause: String?
    public var summary: String
    public var advice: [String]
    /// The finding the verdict rests on (its id in `checks`).
    public var check: String?
    public var connect: Paired.ConnectTest

    /// tcp-service's verdict (Checks/tcp-service/lib/verdict.lua) on `findings`, in a Lua state of
    /// its own; a diagnosis asks its pack's (`Diagnosis.verdictRules`).
    static func decide(_ findings: [Finding], test: Paired.ConnectTest) throws -> PairedVerdict {
        try VerdictRules.bundled().decide(findings, test: test).get()
    }

    /// "the destination, nas (192.0.2.10)", or "the network between the two computers".
    public static func whatToFix(side: String, computer: String?) -> String {
        if side == "between" { return "the network between the two computers" }
        return computer.map { "the \(side), \($0)" } ?? "the \(side)"
    }

    /// The first thing to do, saying on which computer ("On the destination: …") unless the advice
    /// already does, or it is about the network between them.
    public static func firstStep(_ advice: String, side: String) -> String {
        if side == "between" || advice.lowercased().hasPrefix("on the \(side)") { return advice }
        return "On the \(side): \(advice)"
    }
}

/// JSON read back into a JSONValue (true stays a Bool, 1 an Int).
struct DecodedJSON: Decodable {
    let value: JSONValue

    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            value = .null
        } else if let b = try? c.decode(Bool.self) {
            value = .bool(b)
        } else if let i = try? c.decode(Int64.self) {
            value = .int(i)
        } else if let d = try? c.decode(Double.self) {
            value = .double(d)
        } else if let s = try? c.decode(String.self) {
            value = .string(s)
        } else if let a = try? c.decode([DecodedJSON].self) {
            value = .array(a.map(\.value))
        } else {
            value = .object(try c.decode([String: DecodedJSON].self).mapValues(\.value))
        }
    }
}
