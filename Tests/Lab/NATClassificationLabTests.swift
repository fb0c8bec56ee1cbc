import Foundation
import Testing

/// `portdoctor probe nat` from the LAN host: single NAT with and without the forward, double NAT,
/// carrier-grade NAT — each concluded from real evidence (router, reflector, first hops).
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct NATClassificationLabTests {
    func survey(_ lab: NetworkLab, _ home: NetworkLab.HomeNetwork) throws -> [String: Any] {
        let (_, out) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "nat", "--port", "4242", "--reflector", home.wanAddress, "--json"])
        return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
    }

    /// The probe prints the table checks get from `portforward.survey`: the verdict at the top level.
    func verdict(_ r: [String: Any]) -> String? { r["kind"] as? String }

    func listeners(_ lab: NetworkLab, _ home: NetworkLab.HomeNetwork) throws {
        try lab.listener(home.lan, port: 4242)
        try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(home.wan, 4250)
    }

    @Test func singleNATWithoutThenWithTheForward() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true)
        try listeners(lab, home)
        let missing = try survey(lab, home)
        #expect(verdict(missing) == "forward-missing", "\(missing)")
        #expect(missing["cause"] as? String == "port-forward-missing")
        _ = try lab.exec(home.lan, [portdoctorBinary, "probe", "upnp", "--add", "4242"])
        let ok = try survey(lab, home)
        #expect(verdict(ok) == "forward-ok", "\(ok)")
    }

    @Test func aForwardToAnotherComputerIsNamed() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true, secure: false)
        try listeners(lab, home)
        // The forward points at .99: this computer's old address, before a DHCP change.
        let (added, out) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "upnp", "--add", "4242", "--to", "10.231.60.99"])
        #expect(added == 0, "\(out)")
        let r = try survey(lab, home)
        #expect(verdict(r) == "forward-wrong-target", "\(r)")
        #expect(r["cause"] as? String == "port-forward-wrong-target")
        #expect((r["explanation"] as? String)?.contains("10.231.60.99") == true)
    }

    /// The router answers neither protocol, and from outside its WAN address refuses the port: what
    /// is wrong (and what to fix, by hand) is the missing forward, not the silent protocols.
    @Test func aRouterThatAnswersNeitherProtocol() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: true, upnp: false, natpmp: false)
        try listeners(lab, home)
        let r = try survey(lab, home)
        #expect(verdict(r) == "forward-missing", "\(r)")
        #expect(r["cause"] as? String == "port-forward-missing")
        let evidence = r["evidence"] as? [String: Any] ?? [:]
        #expect(evidence["upnp"] as? Bool == false && evidence["natpmp"] as? Bool == false, "\(evidence)")
        #expect(evidence["connect_back"] as? String == "refused", "\(evidence)")
        #expect(evidence["connect_back_to"] as? String == "\(home.routerWAN):4242", "the router refused: \(evidence)")
        #expect((r["advice"] as? [String])?.first?.hasPrefix("Set up the forward in the router's admin page") == true)
        // Without the outside test the silent router is all there is to say.
        let (_, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "nat", "--port", "4242", "--json"])
        let untested = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any])
        #expect(verdict(untested) == "upnp-unavailable", "\(untested)")
    }

    @Test func aComputerWithoutADefaultRouteIsToldSo() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        // An interface and an address on a local network, but no default route.
        let alone = try lab.namespace("n")
        let neighbour = try lab.namespace("m")
        try lab.link(alone, "10.231.64.2/24", neighbour, "10.231.64.1/24")
        let text = try lab.exec(alone, [portdoctorBinary, "probe", "nat", "--port", "4242"])
        #expect(text.status == 1)
        #expect(
            text.output.hasPrefix("no-default-route (no-default-route): this computer has no default route: "),
            "\(text.output)")
        let (_, out) = try lab.exec(alone, [portdoctorBinary, "probe", "nat", "--port", "4242", "--json"])
        let r = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        #expect(verdict(r) == "no-default-route", "\(r)")
        let evidence = r["evidence"] as? [String: Any]
        #expect(evidence?["default_route"] as? Bool == false, "\(String(describing: evidence))")
        #expect(evidence?["default_gateway"] == nil)
    }

    @Test func doubleNAT() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.layeredNetwork(upstreamNet: "10.231.63")
        try listeners(lab, home)
        let r = try survey(lab, home)
        #expect(verdict(r) == "double-nat", "\(r)")
        #expect(
            (r["evidence"] as? [String: Any])?["hops"] as? [String] == ["10.231.60.1", "10.231.63.1", home.wanAddress])
    }

    @Test func carrierGradeNAT() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.layeredNetwork(upstreamNet: "100.64.63")
        try listeners(lab, home)
        let r = try survey(lab, home)
        #expect(verdict(r) == "cgnat", "\(r)")
        #expect((r["explanation"] as? String)?.contains("100.64.63.1") == true)
    }
}
