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

    /// Merges the two sides into one report that opens with which computer to fix.
    public static func merge(
        local: Report, localComputer: String, peerComputer: String, peerFindings: [Finding], test: ConnectTest
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
        report.pairing = PairedVerdict.decide(report.findings, test: test)
        return report
    }
}

/// Which computer to fix, what, and how the connect between them went. **Contract**: the JSON
/// report's `pairing` object.
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

    /// The destination's own evidence first (a stopped service, no listener, its inbound firewall),
    /// then the source's (its outbound firewall), then what the connect between them says.
    static func decide(_ findings: [Finding], test: Paired.ConnectTest) -> PairedVerdict {
        func failing(_ side: String, _ steps: [String]) -> Finding? {
            for step in steps {
                if let f = findings.first(where: {
                    $0.side == side && $0.status == .fail && ($0.id == step || $0.id.hasSuffix(":" + step))
                }) { return f }
            }
            return nil
        }
        let outcome = test.status
        let how: String =
            switch outcome {
            case "connected"?: "\(test.from) connects to \(test.to)"
            case "refused"?: "\(test.from) → \(test.to) is refused"
            case "timeout"?: "\(test.from) → \(test.to) gets no answer"
            case let s?: "\(test.from) → \(test.to): \(s)"
            case nil: "\(test.from) → \(test.to) was not tried"
            }
        func verdict(_ f: Finding, _ why: String) -> PairedVerdict {
            PairedVerdict(
                fix: f.side, computer: f.computer, cause: f.cause, summary: "\(how): \(why) — \(f.summary)",
                advice: f.advice, check: f.id, connect: test)
        }
        // A refused connect: the destination's service is down, or nothing listens there.
        if let f = failing("destination", ["service"]) { return verdict(f, "the destination's service is down") }
        if let f = failing("destination", ["listener", "engine-port"]) {
            return verdict(f, "nothing listens there on the destination")
        }
        if let f = failing("destination", ["firewall"]) { return verdict(f, "the destination's firewall drops it") }
        if let f = failing("source", ["firewall"]) { return verdict(f, "the source's firewall blocks it on the way out") }
        // One family or one path fails while another works: the pack's `paths` step named it.
        if let f = findings.first(where: { $0.id == "paths" && $0.status == .fail && $0.side != nil }) {
            // Or none at all: the source's connect traced hop by hop stops at its own router.
            if case .object(let e) = f.evidence, e["stopped_at"] == .string("source-router") {
                return verdict(f, "the connect never gets past the source's own router")
            }
            return verdict(f, "not over every address")
        }
        if outcome == "connected" {
            // The path works; anything else failing is that computer's own problem. Not the survey of
            // the destination's router: the source's connect to the service is the test of the way in
            // (the survey may lack evidence, e.g. no reflector on the source to connect back).
            if let f = findings.first(where: { $0.status == .fail && $0.side != nil && !isPortForward($0) }) {
                return verdict(f, "a problem on the \(f.side!)")
            }
            return PairedVerdict(
                fix: nil, computer: nil, cause: nil, summary: "\(how): both computers look healthy", advice: [],
                check: nil, connect: test)
        }
        // Both computers are clean, yet the connect fails: what lies between them, in front of the destination.
        let dest = findings.first { $0.side == "destination" }?.computer
        let port = findings.first { $0.side == "destination" && $0.status == .fail && isPortForward($0) }
        // The destination's survey of the way in found it stopped on the source's side (the source's
        // own router drops it on the way out: the NAT rules' `at = "other-end"`).
        if let port, outcome == "timeout" || outcome == "refused", case .object(let e) = port.evidence,
            e["filtered_at"] == .string("other-end")
        {
            return PairedVerdict(
                fix: "source", computer: findings.first { $0.side == "source" }?.computer, cause: port.cause,
                summary:
                    "\(how): both computers' service, listener and firewall are fine — the connect never gets past the source's own router — \(port.summary)",
                advice: port.advice, check: port.id, connect: test)
        }
        // Nothing to forward: the source connected to an address on the destination's own interface
        // (no NAT between them), and both computers let it through: what lies between them stops it.
        if outcome == "timeout" || outcome == "refused", port == nil, reachedDirectly(findings, test) {
            let port = test.to.split(separator: ":").last.map(String.init) ?? "the port"
            return PairedVerdict(
                fix: "between", computer: nil, cause: "filtered-upstream",
                summary:
                    "\(how): both computers' service, listener and firewall are fine, and \(test.to) is the destination's own address (no port forward is involved) — something between the two computers drops it",
                advice: [
                    "Look at what lies between the two computers for TCP \(port): a router's or a VPN's filter, a network firewall or access list, a guest or isolated Wi-Fi network (ask whoever runs that network)."
                ],
                check: nil, connect: test)
        }
        // "Host unreachable" back from the way in: the router in front of the destination looked for the
        // computer its forward points to and found none (its ARP went unanswered) — or a router on the way
        // said so. Only the destination's own survey of its router tells which, so only with its finding.
        let unreachable = outcome == "host-unreachable" || outcome == "net-unreachable"
        if outcome == "timeout" || outcome == "refused" || (unreachable && port != nil) {
            return PairedVerdict(
                fix: "destination", computer: dest, cause: port?.cause ?? "port-forward-missing",
                summary:
                    "\(how): the destination's service, listener and firewall are fine — the router in front of it does not forward the port",
                advice: port?.advice
                    ?? [
                        "Forward the port on the router in front of the destination to the destination's address (or, on one network, check what lies between the two computers)."
                    ],
                check: port?.id, connect: test)
        }
        if let f = findings.first(where: { $0.status == .fail && $0.side != nil }) {
            return verdict(f, "a problem on the \(f.side!)")
        }
        return PairedVerdict(
            fix: nil, computer: nil, cause: nil, summary: "\(how)", advice: [], check: nil, connect: test)
    }

    /// "the destination, nas (192.0.2.10)", or "the network between the two computers".
    public static func whatToFix(side: String, computer: String?) -> String {
        if side == "between" { return "the network between the two computers" }
        return computer.map { "the \(side), \($0)" } ?? "the \(side)"
    }

    static func isPortForward(_ f: Finding) -> Bool { f.id == "port-forward" || f.id.hasSuffix(":port-forward") }

    /// The connect went to one of the destination's own interface addresses (the `paths` step's
    /// test to that address is `via: lan`): no router translated it, so there is nothing to forward.
    static func reachedDirectly(_ findings: [Finding], _ test: Paired.ConnectTest) -> Bool {
        guard let colon = test.to.lastIndex(of: ":") else { return false }
        let ip = String(test.to[..<colon].filter { $0 != "[" && $0 != "]" })
        return findings.contains { f in
            guard f.id == "paths" || f.id.hasSuffix(":paths"), case .object(let e) = f.evidence,
                case .array(let tests)? = e["tests"]
            else { return false }
            return tests.contains { t in
                guard case .object(let t) = t else { return false }
                return t["address"] == .string(ip) && t["via"] == .string("lan") && t["to"] == .string("destination")
            }
        }
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


