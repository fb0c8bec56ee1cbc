import Foundation
import Testing

/// The fault matrix run as a person first runs portdoctor: without sudo. The lab is built as root
/// (the service under runit, squatters, rules, routers), and the release binary runs as the
/// unprivileged user `nobody` (setpriv inside `ip netns exec`): it cannot read the firewall's rules,
/// runit's supervise folder, nor which of root's programs owns a socket.
///
/// The measure: no wrong primary cause (a cause is wrong unless it names the fault, or names the
/// narrower fault the user can see for it — see `visibleInstead`; no cause at all is "cannot tell",
/// not wrong), and every check whose evidence says `no-permission` says so with the sudo hint.
/// CI runs `sample`; `PD_FAULT_MATRIX_USER=all` (or TEXT) runs every single fault and healthy
/// variant whose id contains TEXT, and writes the summary to `PD_FAULT_MATRIX_OUT` (default
/// /tmp/fault-matrix-unprivileged.txt).
enum UnprivilegedMatrix {
    /// nobody:nogroup, present on every Debian and Ubuntu system.
    static let user = "65534:65534"

    /// Without rights a fault may show as a narrower one, seen for what it does: a stopped service
    /// whose status runit will not tell is seen as "nothing listens on the port" (whose advice is to
    /// start the service).
    static let visibleInstead: [String: [String]] = ["service-not-running": ["no-listener"]]

    static let sample = [
        "destination/single/inbound-drop",
        "destination/single/service-stopped",
        "destination/single/squatter-listen-port",
        "destination/single/no-forward",
        "destination/cgnat/cgnat",
        "source/single/outbound-reject",
        "destination/single/healthy-manual-forward",
    ]

    enum Outcome: String { case named, narrower, cannotTell = "cannot-tell", wrong, falseAlarm = "false-alarm", error }

    static func outcome(_ v: FaultMatrix.Verdict) -> Outcome {
        if v.error != nil { return .error }
        if v.scenario.kind == .healthy { return v.exitCode == 0 ? .named : .falseAlarm }
        guard let p = v.primary else { return .cannotTell }
        let expected = v.scenario.expected[0]
        if expected.contains(p) { return .named }
        if expected.contains(where: { visibleInstead[$0]?.contains(p) == true }) { return .narrower }
        return .wrong
    }

    static func line(_ v: FaultMatrix.Verdict) -> String {
        let o = outcome(v)
        let hint = v.unseenWithoutHint.isEmpty ? "" : "; NO SUDO HINT in \(v.unseenWithoutHint.joined(separator: ", "))"
        return "\(o.rawValue.padding(toLength: 12, withPad: " ", startingAt: 0)) \(v.scenario.id) — expected "
            + "\(v.expectedText), named \(v.namedText); could not see: "
            + (v.unseen.isEmpty ? "nothing" : v.unseen.joined(separator: ", ")) + hint
    }

    static func report(_ verdicts: [FaultMatrix.Verdict], seconds: Double) -> String {
        var counts: [Outcome: Int] = [:]
        for v in verdicts { counts[outcome(v), default: 0] += 1 }
        let singles = verdicts.filter { $0.scenario.kind == .single }
        let healthy = verdicts.filter { $0.scenario.kind == .healthy }
        func n(_ o: Outcome) -> Int { counts[o] ?? 0 }
        return ([
            "fault matrix as an unprivileged user (uid \(user)): \(verdicts.count) scenarios, \(String(format: "%.0f", seconds)) s",
            "single faults: \(singles.count); primary cause right \(singles.filter { outcome($0) == .named }.count), "
                + "narrower cause seen without rights \(n(.narrower)), cannot tell (no cause) \(n(.cannotTell)), "
                + "WRONG \(n(.wrong)), errors \(verdicts.filter { $0.error != nil }.count)",
            "healthy: \(healthy.count), false alarms \(n(.falseAlarm))",
            "checks that could not see something: \(verdicts.map(\.unseen.count).reduce(0, +)), "
                + "without the sudo hint: \(verdicts.map(\.unseenWithoutHint.count).reduce(0, +))",
        ] + verdicts.map(line)).joined(separator: "\n") + "\n"
    }

    /// Every run as this user cannot read nftables: the firewall check must say so, in every scenario.
    static func check(_ v: FaultMatrix.Verdict) {
        let id = v.scenario.id
        if let error = v.error { Issue.record("\(id): \(error)") }
        #expect(v.labBug == nil, "the lab is wrong: \(v.labBug ?? "")")
        guard v.error == nil else { return }
        let o = outcome(v)
        #expect(o != .wrong && o != .falseAlarm, Comment(rawValue: line(v)))
        #expect(v.unseenWithoutHint.isEmpty, Comment(rawValue: line(v)))
        #expect(v.unseen.contains("firewall"), "nft refuses an unprivileged user: \(line(v))")
    }
}

@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)")
)
struct FaultMatrixUnprivilegedLabTests {
    @Test(arguments: UnprivilegedMatrix.sample)
    func sample(_ id: String) throws {
        let scenario = try #require(FaultMatrix.scenario(id))
        let v = FaultMatrix.run(scenario, user: UnprivilegedMatrix.user)
        print(UnprivilegedMatrix.line(v))
        UnprivilegedMatrix.check(v)
    }

    @Test(
        .enabled(if: ProcessInfo.processInfo.environment["PD_FAULT_MATRIX_USER"] != nil, "set PD_FAULT_MATRIX_USER=all"))
    func everySingleFault() throws {
        let filter = ProcessInfo.processInfo.environment["PD_FAULT_MATRIX_USER"] ?? "all"
        let chosen = FaultMatrix.scenarios.filter {
            $0.kind != .pair && (filter == "all" || $0.id.contains(filter))
        }
        let started = Date()
        var verdicts: [FaultMatrix.Verdict] = []
        for s in chosen {
            let v = FaultMatrix.run(s, user: UnprivilegedMatrix.user)
            print(UnprivilegedMatrix.line(v))
            verdicts.append(v)
        }
        let text = UnprivilegedMatrix.report(verdicts, seconds: Date().timeIntervalSince(started))
        print(text)
        let path = ProcessInfo.processInfo.environment["PD_FAULT_MATRIX_OUT"] ?? "/tmp/fault-matrix-unprivileged.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        for v in verdicts { UnprivilegedMatrix.check(v) }
    }
}

@Suite struct UnprivilegedMatrixCatalogueTests {
    @Test func theSampleNamesScenariosThatExist() {
        for id in UnprivilegedMatrix.sample { #expect(FaultMatrix.scenario(id) != nil, "\(id)") }
    }
}
