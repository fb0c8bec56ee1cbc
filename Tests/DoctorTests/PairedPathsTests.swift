import Testing

@testable import Doctor

/// The tests between the two computers of a paired run (`paths`): their outcome words, and the
/// verdict a failing `paths` check gives — the computer its evidence names, even when that is the
/// other computer.
@Suite struct PairedPathsTests {
    @Test func outcomesAreFourWords() {
        #expect(PathTest.outcome(of: "connected") == "connected")
        #expect(PathTest.outcome(of: "reset") == "refused")
        #expect(PathTest.outcome(of: "timeout") == "timeout")
        for s in ["host-unreachable", "net-unreachable", "blocked-locally", "failed"] {
            #expect(PathTest.outcome(of: s) == "unreachable", "\(s)")
        }
    }

    func report(role: String, _ findings: [Finding]) -> Report {
        Report(
            packID: "crashplan", packVersion: "1.0.0", packTitle: "CrashPlan", platform: "linux", vendor: nil,
            parameters: ["role": role], findings: findings, durationMilliseconds: 1)
    }

    func pass(_ id: String) -> Finding { Finding(id: id, title: id, status: .pass, summary: "\(id) fine", origin: "t") }

    @Test func aFailingPathsCheckIsTheComputerItsEvidenceNames() {
        let paths = Finding(
            id: "paths", title: "paths", status: .fail,
            summary: "the source connects to the destination over IPv4, but not over IPv6",
            cause: "firewall-blocks-inbound-ipv6", advice: ["open IPv6"],
            evidence: .object(["fix": .string("destination"), "family": .string("ipv6")]), origin: "t")
        // Run on the source: the paths check is about the destination, the other computer.
        let local = report(role: "source", ["service", "listener", "firewall"].map(pass) + [paths])
        var peer = ["service", "listener", "firewall"].map(pass)
        for i in peer.indices { peer[i].side = "destination" }
        let merged = Paired.merge(
            local: local, localComputer: "src (10.0.0.1)", peerComputer: "dst (10.0.0.2)", peerFindings: peer,
            test: .init(from: "the source", to: "10.0.0.2:4242", status: "connected"))
        let check = merged.findings.first { $0.id == "paths" }
        #expect(check?.side == "destination" && check?.computer == "dst (10.0.0.2)")
        let v = merged.pairing
        #expect(v?.fix == "destination" && v?.computer == "dst (10.0.0.2)", "\(String(describing: v))")
        #expect(v?.cause == "firewall-blocks-inbound-ipv6")
        #expect(v?.summary.contains("IPv6") == true)
    }

    /// Nothing connects and the source's own trace stops at its own router (the pack's
    /// `stopped_at = "source-router"`): the source is the computer to fix, with the pack's cause.
    @Test func aConnectStoppedAtTheSourcesOwnRouterIsTheSourceToFix() {
        let paths = Finding(
            id: "paths", title: "paths", status: .fail, summary: "never gets past its own router 10.0.0.254",
            cause: "filtered-upstream", advice: ["let it out"],
            evidence: .object(["fix": .string("source"), "stopped_at": .string("source-router")]), origin: "t")
        var peer = ["service", "listener", "firewall"].map(pass)
        for i in peer.indices { peer[i].side = "destination" }
        let merged = Paired.merge(
            local: report(role: "source", ["service", "listener", "firewall"].map(pass) + [paths]),
            localComputer: "src (10.0.0.1)", peerComputer: "dst (10.0.0.2)", peerFindings: peer,
            test: .init(from: "the source", to: "10.0.0.2:4242", status: "timeout"))
        let v = merged.pairing
        #expect(v?.fix == "source" && v?.computer == "src (10.0.0.1)" && v?.cause == "filtered-upstream")
        #expect(v?.summary.contains("source's own router") == true, "\(String(describing: v?.summary))")
    }

    @Test func theDestinationsOwnFindingsComeBeforeThePaths() {
        var firewall = Finding(
            id: "firewall", title: "firewall", status: .fail, summary: "drops 4242", cause: "firewall-blocks-inbound",
            origin: "t")
        firewall.side = "destination"
        let paths = Finding(
            id: "paths", title: "paths", status: .fail, summary: "lan works, public not", cause: "port-forward-missing",
            evidence: .object(["fix": .string("destination")]), origin: "t")
        let merged = Paired.merge(
            local: report(role: "source", [paths]), localComputer: "src", peerComputer: "dst",
            peerFindings: [firewall], test: .init(from: "the source", to: "10.0.0.2:4242", status: "timeout"))
        #expect(merged.pairing?.cause == "firewall-blocks-inbound")
    }
}
