import Testing

@testable import Probes

@Suite struct NATClassificationTests {
    func evidence(_ f: (inout NATEvidence) -> Void) -> NATVerdict.Kind {
        var e = NATEvidence()
        e.localAddresses = ["192.168.1.20"]
        f(&e)
        return NATClassifier.classify(e).kind
    }

    @Test func noNAT() {
        #expect(
            evidence {
                $0.localAddresses = ["198.51.100.7"]; $0.publicAddress = "198.51.100.7:50000";
                $0.connectBack = "connected"
            } == .noNAT)
        #expect(
            evidence {
                $0.localAddresses = ["198.51.100.7"]; $0.publicAddress = "198.51.100.7:50000";
                $0.connectBack = "timeout"
            } == .filteredUpstream)
    }

    @Test func singleNATForwardStates() {
        #expect(
            evidence {
                $0.routerWAN = "203.0.113.9"; $0.publicAddress = "203.0.113.9:4000"; $0.mappingClient = "192.168.1.20";
                $0.connectBack = "connected"
            } == .forwardOK)
        #expect(
            evidence {
                $0.routerWAN = "203.0.113.9"; $0.publicAddress = "203.0.113.9:4000"; $0.upnpAnswered = true;
                $0.connectBack = "refused"
            } == .forwardMissing)
        let wrong = NATClassifier.classify(
            {
                var e = NATEvidence()
                e.localAddresses = ["192.168.1.20"]
                e.routerWAN = "203.0.113.9"
                e.mappingClient = "192.168.1.31"
                e.connectBack = "timeout"
                return e
            }())
        #expect(wrong.kind == .forwardWrongTarget && wrong.cause == "port-forward-wrong-target")
        #expect(wrong.explanation.contains("192.168.1.31"))
        #expect(
            evidence {
                $0.routerWAN = "203.0.113.9"; $0.mappingClient = "192.168.1.20"; $0.connectBack = "timeout"
            } == .filteredUpstream)
    }

    @Test func doubleNATAndCGNAT() {
        #expect(evidence { $0.routerWAN = "10.0.0.2" } == .doubleNAT)
        #expect(
            evidence {
                $0.routerWAN = "203.0.113.9"; $0.publicAddress = "198.51.100.1:1234"
            } == .doubleNAT)
        #expect(
            evidence {
                $0.routerWANRefused = "network failure"; $0.hops = ["192.168.1.1", "10.20.0.1"]
            } == .doubleNAT)
        #expect(evidence { $0.routerWAN = "100.72.3.4" } == .cgnat)
        #expect(
            evidence {
                $0.routerWANRefused = "network failure"; $0.hops = ["192.168.1.1", "100.64.0.1"]
            } == .cgnat)
    }

    @Test func upnpUnavailableAndNotEnoughEvidence() {
        #expect(
            evidence {
                $0.upnpAnswered = false; $0.natpmpAnswered = false
            } == .upnpUnavailable)
        #expect(evidence { _ in } == .unknown)
    }

    @Test func noDefaultRouteIsSaidAsSuch() {
        // What a survey sees then: neither UPnP nor NAT-PMP answers — but there is no router to ask.
        var e = NATEvidence()
        e.localAddresses = ["192.168.1.20"]
        e.defaultRoute = false
        e.upnpAnswered = false
        e.natpmpAnswered = false
        let v = NATClassifier.classify(e)
        #expect(v.kind == .noDefaultRoute)
        #expect(v.cause == "no-default-route")
        #expect(v.explanation.hasPrefix("this computer has no default route: "))
        // A reflector on the local network still reaches it directly: that is no NAT.
        #expect(
            evidence {
                $0.defaultRoute = false; $0.publicAddress = "192.168.1.20:4000"; $0.connectBack = "connected"
            } == .noNAT)
        #expect(
            evidence {
                $0.defaultRoute = nil; $0.upnpAnswered = false; $0.natpmpAnswered = false
            } == .upnpUnavailable)
    }

    @Test func theDefaultRouteIsReadFromTheRouteTable() {
        let head = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
        let viaGateway = head + "eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n"
        let onLink = head + "eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
        let pointToPoint = head + "ppp0\t00000000\t00000000\t0001\t0\t0\t0\t00000000\t0\t0\t0\n"
        #expect(Gateway.hasDefaultIPv4Route(routeTable: viaGateway) == true)
        #expect(Gateway.defaultIPv4(routeTable: viaGateway) == "192.0.2.1")
        #expect(Gateway.hasDefaultIPv4Route(routeTable: onLink) == false)
        #expect(Gateway.defaultIPv4(routeTable: onLink) == nil)
        #expect(Gateway.hasDefaultIPv4Route(routeTable: pointToPoint) == true)
        #expect(Gateway.defaultIPv4(routeTable: pointToPoint) == nil)
    }

    /// A reflector name that does not resolve leaves no outside test: a forward made in the router's
    /// admin page (which UPnP does not show) must not be reported missing.
    @Test func anUnresolvableReflectorIsNotAMissingForward() {
        let e = {
            var e = NATEvidence()
            e.localAddresses = ["192.168.1.20"]
            e.routerWAN = "203.0.113.9"
            e.upnpAnswered = true
            e.reflector = "backup.example.invalid:4250"
            e.reflectorUnresolved = "dns-not-found: Name or service not known"
            return e
        }()
        let v = NATClassifier.classify(e)
        #expect(v.kind == .peerUnresolvable)
        #expect(v.cause == "peer-unresolvable")
        #expect(v.explanation.contains("backup.example.invalid:4250 does not resolve"), "\(v.explanation)")
        // What the router says on its own still stands.
        #expect(
            evidence {
                $0.routerWAN = "100.64.3.2"; $0.reflectorUnresolved = "dns-not-found: Name or service not known"
            } == .cgnat)
    }
}
