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

    func decide(_ findings: [Finding], _ status: String?) throws -> PairedVerdict {
        try PairedVerdict.decide(findings, test: .init(from: "the source", to: "10.0.0.2:4242", status: status))
    }

    @Test func aHealthyPairHasNothingToFix() throws {
        let v = try decide(healthy("source") + healthy("destination"), "connected")
        #expect(v.fix == nil && v.cause == nil)
    }

    @Test func aRefusedConnectIsTheDestinationsStoppedService() throws {
        var d = healthy("destination")
        d[1] = finding("destination", "service", .fail, cause: "service-not-running")
        let v = try decide(healthy("source") + d, "refused")
        #expect(v.fix == "destination" && v.cause == "service-not-running")
        #expect(v.computer == "b (10.0.0.2)")
        #expect(v.summary.contains("service is down") && v.advice == ["fix service"])
    }

    @Test func aTimeoutIsTheDestinationsFirewallWhenItSaysSo() throws {
        var d = healthy("destination")
        d[3] = finding("destination", "firewall", .fail, cause: "firewall-blocks-inbound")
        let v = try decide(healthy("source") + d, "timeout")
        #expect(v.fix == "destination" && v.cause == "firewall-blocks-inbound")
    }

    @Test func theSourcesOutboundRuleIsTheSourceToFix() throws {
        var s = healthy("source")
        s[3] = finding("source", "firewall", .fail, cause: "firewall-blocks-outbound")
        let v = try decide(s + healthy("destination"), "timeout")
        #expect(v.fix == "source" && v.cause == "firewall-blocks-outbound" && v.check == "firewall")
    }

    /// A forward to an address nobody has: the router in front of the destination looks for it in
    /// vain and answers the source's connect with "host unreachable". The destination's survey of its
    /// router names it; the source's own reach-peer failure is the symptom, not the computer to fix.
    @Test func aHostUnreachableConnectIsTheDestinationsRouterWhenItsSurveySaysSo() throws {
        var reach = finding("source", "reach-peer", .fail, cause: "peer-unreachable")
        reach.id = "reach-peer"
        var port = finding("destination", "port-forward", .fail, cause: "port-forward-wrong-target")
        port.evidence = .object(["connect_back": .string("timeout")])
        let v = try decide(healthy("source") + [reach] + healthy("destination") + [port], "host-unreachable")
        #expect(v.fix == "destination" && v.cause == "port-forward-wrong-target")
        #expect(v.check == "destination:port-forward")
        // Without the destination's word on its router, the source's own finding stands.
        let alone = try decide(healthy("source") + [reach] + healthy("destination"), "host-unreachable")
        #expect(alone.fix == "source" && alone.cause == "peer-unreachable")
    }

    /// The destination's survey saw the connect stop at the source's own router (the NAT rules'
    /// `at = "other-end"`): the source is the one to fix, though the finding is on the destination.
    @Test func aConnectStoppedAtTheSourcesRouterIsTheSourceToFix() throws {
        var port = finding("destination", "port-forward", .fail, cause: "filtered-upstream")
        port.evidence = .object(["filtered_at": .string("other-end"), "connect_back": .string("timeout")])
        let v = try decide(healthy("source") + healthy("destination") + [port], "timeout")
        #expect(v.fix == "source" && v.cause == "filtered-upstream" && v.computer == "a (10.0.0.1)")
        #expect(v.check == "destination:port-forward" && v.summary.contains("source's own router"))
        // Without that placing, the same failure is the router in front of the destination.
        port.evidence = .object(["connect_back": .string("timeout")])
        let w = try decide(healthy("source") + healthy("destination") + [port], "timeout")
        #expect(w.fix == "destination" && w.cause == "filtered-upstream")
    }

    /// The source connected to the service: that is the test of the way in, whatever the survey of
    /// the destination's router could (not) tell.
    @Test func aWorkingConnectOverridesTheSurveyOfTheRouter() throws {
        let port = finding("destination", "port-forward", .fail, cause: "upnp-unavailable")
        let v = try decide(healthy("source") + healthy("destination") + [port], "connected")
        #expect(v.fix == nil && v.cause == nil, "\(v)")
    }

    @Test func bothCleanButNoAnswerIsTheRouterInFrontOfTheDestination() throws {
        let v = try decide(healthy("source") + healthy("destination"), "timeout")
        #expect(v.fix == "destination" && v.cause == "port-forward-missing")
        #expect(v.summary.contains("router in front of it does not forward"))
    }

    func paths(_ via: String) -> Finding {
        var f = finding("source", "paths", .pass)
        f.evidence = .object([
            "tests": .array([
                .object([
                    "from": .string("source"), "to": .string("destination"), "address": .string("10.0.0.2"),
                    "via": .string(via), "outcome": .string("timeout"),
                ])
            ])
        ])
        return f
    }

    /// A plain router (no NAT) between the two dropping the port: the destination was reached at its
    /// own address, so no forward is missing — neither computer is to blame (a newcomer's finding).
    @Test func bothCleanAtTheDestinationsOwnAddressIsTheNetworkBetween() throws {
        for status in ["timeout", "refused"] {
            let v = try decide(healthy("source") + healthy("destination") + [paths("lan")], status)
            #expect(v.fix == "between" && v.cause == "filtered-upstream" && v.computer == nil, "\(status)")
            #expect(v.summary.contains("no port forward is involved"))
            #expect(PairedVerdict.whatToFix(side: v.fix!, computer: nil) == "the network between the two computers")
        }
        // Through the router's public address it is still the router in front of the destination.
        let v = try decide(healthy("source") + healthy("destination") + [paths("public")], "timeout")
        #expect(v.fix == "destination" && v.cause == "port-forward-missing")
    }

    /// Seen from the destination: its survey of the way in placed the silence at the one router
    /// between the two (the NAT rules' `at = "between"`), and the source connected back to the
    /// destination's own address: the network between them, not the source's router nor a forward.
    @Test func theDestinationsSurveyPlacingItBetweenIsTheNetworkBetween() throws {
        var port = finding("destination", "port-forward", .fail, cause: "filtered-upstream")
        port.evidence = .object(["filtered_at": .string("between"), "connect_back": .string("timeout")])
        var back = paths("lan")
        back.side = "destination"
        let v = try decide(healthy("source") + healthy("destination") + [back, port], "timeout")
        #expect(v.fix == "between" && v.cause == "filtered-upstream" && v.computer == nil, "\(v)")
        #expect(v.check == "destination:port-forward")
        // Through the router's public address, the same placing is no verdict on the network between.
        let w = try decide(healthy("source") + healthy("destination") + [paths("public"), port], "timeout")
        #expect(w.fix == "destination", "\(w)")
    }

    /// The opening follows the verdict: the report's primary finding is the check it rests on, not
    /// this computer's first failure (a timeout the other side's evidence explained).
    @Test func aPairedReportsPrimaryIsTheVerdictsCheck() throws {
        var d = healthy("destination")
        d[3] = finding("destination", "firewall", .fail, cause: "firewall-blocks-inbound")
        let reach = finding("source", "reach-peer", .fail, cause: "peer-unreachable")
        let findings = healthy("source") + [reach] + d
        var report = Report(
            packID: "p", packVersion: "1", packTitle: "t", platform: "linux", vendor: nil, parameters: [:],
            findings: findings, durationMilliseconds: 1)
        #expect(report.primary?.id == "reach-peer")
        report.pairing = try decide(findings, "timeout")
        #expect(report.primary?.id == "destination:firewall")
        #expect(TextReporter(color: false).render(report).contains("Fix the destination"))
    }

    /// The newcomer's "On the destination: On the destination, let …": said once.
    @Test func theFirstStepSaysItsComputerOnce() {
        #expect(PairedVerdict.firstStep("Restart the service.", side: "destination") == "On the destination: Restart the service.")
        #expect(
            PairedVerdict.firstStep("On the destination, let TCP 4242 in over IPv6.", side: "destination")
                == "On the destination, let TCP 4242 in over IPv6.")
        #expect(PairedVerdict.firstStep("Ask the network's admin.", side: "between") == "Ask the network's admin.")
    }

    // MARK: a connect that connected cannot be failing for a stopped service or no listener

    /// The newcomer's case: the destination's service step found no service under the names looked
    /// for, yet the source's connect to its port CONNECTED — the service is not "down".
    @Test func aConnectedConnectIsNeverTheDestinationsServiceDown() throws {
        for cause in ["service-not-installed", "service-not-running"] {
            var d = healthy("destination")
            d[1] = finding("destination", "service", .fail, cause: cause)
            let v = try decide(healthy("source") + d, "connected")
            #expect(!v.summary.contains("service is down"), "\(cause): \(v.summary)")
            #expect(v.summary.contains("something answers on that port"), "\(v.summary)")
            #expect(v.check == "destination:service" && v.cause == cause)
        }
        // Refused, the same finding is the service that is down.
        var d = healthy("destination")
        d[1] = finding("destination", "service", .fail, cause: "service-not-installed")
        #expect(try decide(healthy("source") + d, "refused").summary.contains("service is down"))
    }

    /// Nothing listening, or a firewall that drops the port, cannot be why a connect that connected
    /// fails: a failing path (one family) comes first, and their wording says the connect works.
    @Test func aConnectedConnectPutsContradictedFindingsAfterThePaths() throws {
        var d = healthy("destination")
        d[2] = finding("destination", "listener", .fail, cause: "no-listener")
        d[3] = finding("destination", "firewall", .fail, cause: "firewall-blocks-inbound")
        var paths = finding("source", "paths", .fail, cause: "firewall-blocks-inbound-ipv6")
        paths.id = "paths"
        let v = try decide(healthy("source") + d + [paths], "connected")
        #expect(v.check == "paths", "\(v)")
        let w = try decide(healthy("source") + d, "connected")
        #expect(w.check == "destination:listener" && !w.summary.contains("nothing listens there"), "\(w.summary)")
        #expect(w.summary.contains("it connects"), "\(w.summary)")
    }

    /// Another program on the port, or one family only: those coexist with a connect that connected.
    @Test func aConnectedConnectToAnotherProgramIsStillTheVerdict() throws {
        var d = healthy("destination")
        d[2] = finding("destination", "listener", .fail, cause: "port-in-use")
        let v = try decide(healthy("source") + d, "connected")
        #expect(v.fix == "destination" && v.cause == "port-in-use")
        #expect(v.summary.contains("to another program"), "\(v.summary)")
    }

    /// The peer runs under `portdoctor listen`, which takes no --param: the advice says how to give
    /// it the service's name there, whether its service step failed or warned.
    @Test func thePeersServiceNameIsGivenInItsEnvironment() throws {
        var d = healthy("destination")
        d[1] = finding("destination", "service", .fail, cause: "service-not-installed")
        d[1].advice = ["Install the backup service, or give its name with --param service=NAME."]
        let v = try decide(healthy("source") + d, "refused")
        #expect(
            v.advice.contains { $0.contains("PORTDOCTOR_PARAM_SERVICE=NAME portdoctor listen --pair") }, "\(v.advice)")
        d[1].status = .warn
        d[1].cause = nil
        let w = try decide(healthy("source") + d, "connected")
        #expect(w.fix == nil && w.advice.contains { $0.contains("PORTDOCTOR_PARAM_SERVICE=NAME") }, "\(w.advice)")
        // This computer's own service step: --param works here, no environment advice.
        var s = healthy("source")
        s[1] = finding("source", "service", .fail, cause: "service-not-installed")
        s[1].advice = d[1].advice
        #expect(
            !(try decide(s + healthy("destination"), "connected")).advice.contains { $0.contains("PORTDOCTOR_PARAM") })
    }
}
