import Foundation
import Testing

/// The fault matrix with both computers running portdoctor (issue 12's lab target): every single
/// fault of `FaultMatrix` that lives on one computer (or the router in front of it), and every
/// healthy variant, built once and diagnosed from each end — the source runs
/// `run crashplan --with DESTINATION`, the destination `run crashplan --with SOURCE`, each paired with
/// the other's `listen --token-file`. A right answer is the report's `pairing`: the scenario's cause,
/// and `fix` the computer the fault is on; a healthy pair names nothing and exits 0.
///
/// The LAN computer takes the scenario's role, the outside one the other role. For the outside one
/// to pair, the pairing port is forwarded on the router(s) in front of the LAN computer (as a person
/// pairing from outside does); behind the provider's NAT nobody can, so that end is not tried.
enum PairedFaultMatrix {
    typealias Role = FaultMatrix.Role

    /// One scenario diagnosed from one end.
    struct Verdict: Sendable {
        var scenario: FaultMatrix.Scenario
        /// The computer that ran `run --with`.
        var from: Role
        /// The computer to fix and the causes that name the fault (nil fix: healthy).
        var fix: Role?
        var causes: [String]
        var connected = false
        var exitCode: Int32 = -1
        var namedFix: String?
        var namedCause: String?
        var error: String?
        var seconds = 0.0
        /// The failing checks, "side/id: cause", to see a confusion's evidence.
        var failing: [String] = []

        var healthy: Bool { scenario.kind == .healthy }
        var diagnosed: Bool {
            guard error == nil else { return false }
            if healthy { return namedFix == nil && namedCause == nil && exitCode == 0 }
            return namedFix == fix?.rawValue && namedCause.map { causes.contains($0) } == true
        }
        var falseAlarm: Bool { error == nil && healthy && !diagnosed }

        var line: String {
            let mark = error != nil ? "ERROR" : diagnosed ? "ok" : healthy ? "FALSE-ALARM" : "WRONG"
            let expected = healthy ? "nothing" : "fix \(fix?.rawValue ?? "-"): \(causes.joined(separator: "|"))"
            let named =
                error.map { "error: \($0)" }
                ?? "fix \(namedFix ?? "-"): \(namedCause ?? "no cause") [exit \(exitCode)]"
            return "\(mark.padding(toLength: 11, withPad: " ", startingAt: 0)) \(scenario.id) from the \(from.rawValue)"
                + " — expected \(expected), named \(named); connect \(connected ? "works" : "fails")"
                + " (\(String(format: "%.1f", seconds)) s)"
                + (diagnosed || failing.isEmpty ? "" : " — failing: \(failing.joined(separator: ", "))")
        }
    }

    /// Why a scenario (or one end of it) cannot be diagnosed paired; nil when it can.
    static func unpairable(_ s: FaultMatrix.Scenario, from: Role) -> String? {
        let ids = Set(s.faults.map(\.id))
        if ids.contains("peer-unresolvable") { return "a name on the command line, not a computer's state" }
        if ids.contains("no-default-route") { return "no way between the two computers: the pairing cannot open" }
        // The LAN computer's end is the scenario's role; the outside one pairs in through the LAN's routers.
        if from != s.setup.role && s.setup.topology == .cgnat {
            return "the LAN computer is behind the provider's NAT: its listen cannot be reached from outside"
        }
        return nil
    }

    /// Every single fault and healthy variant of the IPv4 catalogue (pairs of faults are the
    /// single-ended matrix's). The IPv6 lines (FaultMatrixIPv6) have no paired world yet: the paired
    /// IPv6 cases are PairedPathsLabTests'.
    static var scenarios: [FaultMatrix.Scenario] {
        let ipv6 = Set(FaultMatrixIPv6.scenarios.map(\.id))
        return FaultMatrix.scenarios.filter { ($0.kind == .single || $0.kind == .healthy) && !ipv6.contains($0.id) }
    }

    /// The ends each scenario is diagnosed from, and those left out with why.
    static func ends(_ s: FaultMatrix.Scenario) -> (run: [Role], skipped: [(Role, String)]) {
        var run: [Role] = []
        var skipped: [(Role, String)] = []
        for from in [Role.source, .destination] {
            if let why = unpairable(s, from: from) { skipped.append((from, why)) } else { run.append(from) }
        }
        return (run, skipped)
    }

    /// Builds the scenario's world once and diagnoses it from each end that can pair.
    static func run(_ scenario: FaultMatrix.Scenario) -> [Verdict] {
        let ends = ends(scenario).run
        guard !ends.isEmpty else { return [] }
        let fault = scenario.faults.first
        let fix = fault.map { $0.fix ?? $0.role }
        let causes = fault.map { $0.pairedCauses ?? $0.causes } ?? []
        let world = FaultMatrix.World()
        defer { world.tearDown() }
        let token = world.root.appendingPathComponent("pair.token")
        var verdicts = ends.map { Verdict(scenario: scenario, from: $0, fix: fix, causes: causes) }
        do {
            try FileManager.default.createDirectory(at: world.root, withIntermediateDirectories: true)
            try "MZXW6YTBOI2GKZLOMF2GS33OOVRGK3TUNFXGOZLSMVZXI\n".write(to: token, atomically: true, encoding: .utf8)
            world.pairToken = token.path
            try world.build(scenario.setup)
            let (connected, _) = try world.groundTruth()
            for i in verdicts.indices {
                let started = Date()
                verdicts[i].connected = connected
                diagnose(&verdicts[i], in: world)
                verdicts[i].seconds = Date().timeIntervalSince(started)
            }
        } catch {
            for i in verdicts.indices where verdicts[i].error == nil { verdicts[i].error = "\(error)" }
        }
        return verdicts
    }

    private static func diagnose(_ v: inout Verdict, in world: FaultMatrix.World) {
        do {
            let r = try world.diagnosePaired(fromLAN: v.from == world.setup.role)
            v.exitCode = r.status
            guard r.status == 0 || r.status == 1,
                let json = try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any]
            else {
                v.error = "exit \(r.status): \(r.output.prefix(300))"
                return
            }
            guard let pairing = json["pairing"] as? [String: Any] else {
                v.error = "no pairing in the report"
                return
            }
            v.namedFix = pairing["fix"] as? String
            v.namedCause = pairing["cause"] as? String
            v.failing = ((json["checks"] as? [[String: Any]]) ?? []).filter { $0["status"] as? String == "fail" }.map {
                "\($0["side"] ?? "?")/\($0["id"] ?? "?"): \($0["cause"] ?? "-")"
            }
        } catch {
            v.error = "\(error)"
        }
    }

    static func report(_ verdicts: [Verdict], skipped: [String], seconds: Double) -> String {
        func count(_ of: [Verdict]) -> String { "\(of.filter(\.diagnosed).count)/\(of.count)" }
        let single = verdicts.filter { !$0.healthy }
        var lines = [
            "paired fault matrix: \(verdicts.count) runs, release binary \(portdoctorBinary), \(String(format: "%.0f", seconds)) s",
            "diagnosed \(count(verdicts)), false alarms \(verdicts.filter(\.falseAlarm).count), errors \(verdicts.filter { $0.error != nil }.count)",
            "  single faults named with their computer: \(count(single)) (from the source \(count(single.filter { $0.from == .source }))"
                + ", from the destination \(count(single.filter { $0.from == .destination })))",
            "  healthy passing: \(count(verdicts.filter(\.healthy)))",
        ]
        let wrong = verdicts.filter { !$0.diagnosed }
        lines.append("confusions (\(wrong.count)):")
        lines += wrong.map { "  " + $0.line + " — \($0.scenario.how)" }
        lines.append("not paired (\(skipped.count)):")
        lines += skipped.map { "  " + $0 }
        lines.append("every run:")
        lines += verdicts.map { "  " + $0.line }
        return lines.joined(separator: "\n") + "\n"
    }

    /// CI's sample: each role's common faults from both ends, the router in front of the destination,
    /// a fault only the other end can see, and a healthy pair.
    static let sample = [
        "destination/single/inbound-drop",
        "destination/single/service-stopped",
        "destination/single/no-forward",
        "source/single/outbound-drop",
        "source/single/peer-refuses",
        "destination/single/healthy-manual-forward",
    ]
}

@Suite struct PairedFaultMatrixCatalogueTests {
    @Test func everySingleFaultHasAComputerToFixAndEndsToRunFrom() {
        let s = PairedFaultMatrix.scenarios
        #expect(s.filter { $0.kind == .single }.count >= 50)
        for scenario in s where scenario.kind == .single {
            #expect(scenario.faults.count == 1, "\(scenario.id)")
        }
        // Both ends are tried wherever the pairing can open.
        #expect(s.filter { PairedFaultMatrix.ends($0).run.count == 2 }.count >= 40)
        for id in PairedFaultMatrix.sample {
            let scenario = FaultMatrix.scenario(id)
            #expect(scenario != nil, "\(id)")
            if let scenario { #expect(PairedFaultMatrix.ends(scenario).run.count == 2, "\(id)") }
        }
    }
}

/// The paired matrix in the lab. CI runs the sample; `PD_PAIRED_MATRIX=all` runs every single fault
/// and healthy variant from both ends (or `PD_PAIRED_MATRIX=TEXT` those whose id contains TEXT) and
/// writes the summary to `PD_PAIRED_MATRIX_OUT` (default /tmp/paired-fault-matrix.txt).
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)")
)
struct PairedFaultMatrixLabTests {
    @Test(arguments: PairedFaultMatrix.sample)
    func sample(_ id: String) throws {
        let scenario = try #require(FaultMatrix.scenario(id))
        for v in PairedFaultMatrix.run(scenario) {
            print(v.line)
            if let error = v.error { Issue.record("\(id) from the \(v.from): \(error)") }
            #expect(v.error != nil || v.diagnosed, Comment(rawValue: v.line))
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PD_PAIRED_MATRIX"] != nil, "set PD_PAIRED_MATRIX=all"))
    func wholeMatrix() throws {
        let filter = ProcessInfo.processInfo.environment["PD_PAIRED_MATRIX"] ?? "all"
        let chosen = PairedFaultMatrix.scenarios.filter { filter == "all" || $0.id.contains(filter) }
        let started = Date()
        var verdicts: [PairedFaultMatrix.Verdict] = []
        var skipped: [String] = []
        for s in chosen {
            for (from, why) in PairedFaultMatrix.ends(s).skipped { skipped.append("\(s.id) from the \(from.rawValue): \(why)") }
            for v in PairedFaultMatrix.run(s) {
                print(v.line)
                verdicts.append(v)
            }
        }
        let text = PairedFaultMatrix.report(verdicts, skipped: skipped, seconds: Date().timeIntervalSince(started))
        print(text)
        let path = ProcessInfo.processInfo.environment["PD_PAIRED_MATRIX_OUT"] ?? "/tmp/paired-fault-matrix.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        // Misdiagnoses are the measurement; a run that could not be made is a failure.
        for v in verdicts where v.error != nil { Issue.record(Comment(rawValue: v.line)) }
    }
}
