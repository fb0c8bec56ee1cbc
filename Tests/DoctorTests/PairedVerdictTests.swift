import Testing

@testable import Doctor

/// Which computer a paired diagnosis says to fix (Docs/report-format.md, `pairing`): the
/// destination's own evidence first, then the source's, then the connect between them.
@Suite struct PairedVerdictTests {
    func finding(_ side: String, _ id: String, _ status: CheckStatus, cause: String? = nil) -> Finding {
        var f = Finding(
            id: side == "source" ? id : "destination:\(id)", title: id, status: status, summary: "\(id) \(status)",
            cause: cause, advice: ["fix \(id)"], origin: "test")
        f.side = side
        f.computer = side == "source" ? "a (10.0.0.1)" : "b (10.0.0.2)"
        return f
    }

    func healthy(_ side: String) -> [Finding] {
        ["engine-port", "service", "listener", "firewall"].map { finding(side, $0, .pass) }
    }

    func decide(_ findings: [Finding], _ status: String?) -> PairedVerdict {
        PairedVerdict.decide(findings, test: .init(from: "the source", to: "10.0.0.2:4242", status: status))
    }

    @Test func aHealthyPairHasNothingToFix() {
        let v = decide(healthy("source") + healthy("destination"), "connected")
        #expect(v.fix == nil && v.cause == nil)
    }

    @Test func aRefusedConnectIsTheDestinationsStoppedService() {
        var d = healthy("destination")
        d[1] = finding("destination", "service", .fail, cause: "service-not-running")
        let v = decide(healthy("source") + d, "refused")
        #expect(v.fix == "destination" && v.cause == "service-not-running")
        #expect(v.computer == "b (10.0.0.2)")
        #expect(v.summary.contains("service is down") && v.advice == ["fix service"])
    }

    @Test func aTimeoutIsTheDestinationsFirewallWhenItSaysSo() {
        var d = healthy("destination")
        d[3] = finding("destination", "firewall", .fail, cause: "firewall-blocks-inbound")
        let v = decide(healthy("source") + d, "timeout")
        #expect(v.fix == "destination" && v.cause == "firewall-blocks-inbound")
    }

    @Test func theSourcesOutboundRuleIsTheSourceToFix() {
        var s = healthy("source")
        s[3] = finding("source", "firewall", .fail, cause: "firewall-blocks-outbound")
        let v = decide(s + healthy("destination"), "timeout")
        #expect(v.fix == "source" && v.cause == "firewall-blocks-outbound" && v.check == "firewall")
    }

    @Test func bothCleanButNoAnswerIsTheRouterInFrontOfTheDestination() {
        let v = decide(healthy("source") + healthy("destination"), "timeout")
        #expect(v.fix == "destination" && v.cause == "port-forward-missing")
        #expect(v.summary.contains("router in front of it does not forward"))
    }
}
