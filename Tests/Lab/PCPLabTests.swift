import Foundation
import Testing

/// PCP and IGD:2 pinholes against the real miniupnpd (Debian's build speaks PCP and IPv6), each
/// mapping proven from outside: the reflector on the WAN side connects back through it.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct PCPLabTests {
    func json(_ text: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "\(text)")
    }

    /// What the reflector at `reflector` saw when it connected back to `port`.
    func connectBack(_ lab: NetworkLab, _ home: NetworkLab.HomeNetwork, reflector: String, port: Int) throws -> String?
    {
        let (_, o) = try lab.exec(
            home.lan,
            [portdoctorBinary, "probe", "reflect", reflector, "--connect-back", "\(port)", "--timeout", "2", "--json"])
        let r = try JSONSerialization.jsonObject(with: Data(o.utf8)) as? [String: Any]
        return (r?["connect_back"] as? [String: Any])?["status"] as? String ?? "no connect-back: \(o)"
    }

    func expectBack(
        _ lab: NetworkLab, _ home: NetworkLab.HomeNetwork, _ reflector: String, _ port: Int, _ expected: String? = nil,
        not unexpected: String? = nil, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let got = try connectBack(lab, home, reflector: reflector, port: port)
        if let expected { #expect(got == expected, sourceLocation: sourceLocation) }
        if let unexpected { #expect(got != unexpected, sourceLocation: sourceLocation) }
    }

    /// A listener on the IPv6 wildcard only (python3: not portdoctor's own socket).
    func listener6(_ lab: NetworkLab, _ ns: String, port: Int) throws {
        try lab.start(
            ns,
            [
                "/usr/bin/env", "python3", "-c",
                "import socket,time\ns=socket.socket(socket.AF_INET6);s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                    + "s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\ns.bind(('::',\(port)));s.listen()\ntime.sleep(600)",
            ])
        try lab.waitUntilListening(ns, port)
    }

    @Test func mapOverIPv4ThenDeleteItProvenFromOutside() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.dualStackHomeNetwork()
        try lab.listener(home.lan, port: 4242)
        try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(home.wan, 4250)
        let reflector = "\(home.wanAddress):4250"

        let (announced, aOut) = try lab.exec(home.lan, [portdoctorBinary, "probe", "pcp", "--format", "json"])
        #expect(announced == 0, "\(aOut)")
        #expect(try json(aOut)["result_name"] as? String == "SUCCESS")

        try expectBack(lab, home, reflector, 4242, "refused")
        let (mapped, mOut) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "pcp", "--map", "4242", "--lifetime", "120", "--format", "json"])
        #expect(mapped == 0, "\(mOut)")
        let m = try json(mOut)
        #expect(m["external_address"] as? String == home.routerWAN)
        #expect(m["external_port"] as? Int == 4242)
        #expect(m["internal_address"] as? String == home.lanAddress)
        try expectBack(lab, home, reflector, 4242, "connected")

        let nonce = try #require(m["nonce"] as? String)
        let (deleted, dOut) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "pcp", "--map", "4242", "--lifetime", "0", "--nonce", nonce])
        #expect(deleted == 0, "\(dOut)")
        try expectBack(lab, home, reflector, 4242, not: "connected")
    }

    @Test func mapOverIPv6OpensAPinholeProvenFromOutside() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.dualStackHomeNetwork()
        try listener6(lab, home.lan, port: 4343)
        try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(home.wan, 4250)
        let reflector = "[\(home.wanAddress6)]:4250"

        // Routed, not NATed: the router's forward chain drops new inbound IPv6 until a pinhole exists.
        try expectBack(lab, home, reflector, 4343, "timeout")
        let (mapped, mOut) = try lab.exec(
            home.lan,
            [
                portdoctorBinary, "probe", "pcp", "--ipv6", "--server", home.routerLAN6, "--map", "4343", "--lifetime",
                "120", "--format", "json",
            ])
        #expect(mapped == 0, "\(mOut)")
        let m = try json(mOut)
        #expect(m["external_address"] as? String == home.lanAddress6)
        #expect(m["internal_address"] as? String == home.lanAddress6)
        try expectBack(lab, home, reflector, 4343, "connected")
    }

    @Test func igd2PinholeOpenedCheckedAndClosedProvenFromOutside() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.dualStackHomeNetwork()
        try listener6(lab, home.lan, port: 4444)
        try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(home.wan, 4250)
        let reflector = "[\(home.wanAddress6)]:4250"
        try expectBack(lab, home, reflector, 4444, "timeout")

        // Over IPv4 the router refuses (the pinhole's computer must ask itself, over IPv6): named.
        let (_, v4Out) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "upnp", "--add-pinhole", "4444", "--pinhole-to", home.lanAddress6])
        #expect(v4Out.contains("UPnP error 606"), "\(v4Out)")

        let (_, addOut) = try lab.exec(
            home.lan,
            [
                portdoctorBinary, "probe", "upnp", "--ipv6", "--add-pinhole", "4444", "--lease", "600", "--format",
                "json",
            ])
        let added = try json(addOut)
        #expect((added["firewall"] as? [String: Any])?["inbound_pinhole_allowed"] as? Bool == true, "\(addOut)")
        let id = try #require(added["pinhole_id"] as? Int, "\(addOut)")
        try expectBack(lab, home, reflector, 4444, "connected")

        let (_, delOut) = try lab.exec(
            home.lan, [portdoctorBinary, "probe", "upnp", "--ipv6", "--delete-pinhole", "\(id)"])
        #expect(delOut.contains("deleted: pinhole \(id)"), "\(delOut)")
        try expectBack(lab, home, reflector, 4444, "timeout")
    }

    @Test func aSilentRouterIsGivenUpWithinTheDocumentedBound() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let home = try lab.homeNetwork(miniupnpd: false)
        let start = Date()
        let (status, out) = try lab.exec(home.lan, [portdoctorBinary, "probe", "pcp", "--format", "json"])
        let took = Date().timeIntervalSince(start)
        #expect(status == 1)
        #expect(try json(out)["status"] as? String == "timeout")
        #expect(try json(out)["tries"] as? Int == 2)
        // Documented: at most 9.9 s of waiting; generous room for a slow machine.
        #expect(took < 30, "took \(took) s")
    }
}
