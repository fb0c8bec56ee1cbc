import Foundation
import Testing

/// The cases the NAT rules (Checks/tcp-service/lib/nat.lua) decide from the connect-back's outcome
/// rather than from the router's word: each in real namespaces, through `probe nat` and a whole
/// `portdoctor run crashplan`.
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)")
)
struct NATScenarioLabTests {
    typealias Scenario = CrashPlanScenarioLabTests.Scenario

    /// `probe nat --json` from the LAN computer, toward the reflector on the WAN computer.
    func probe(_ s: Scenario) throws -> (status: Int32, json: [String: Any]) {
        let (status, out) = try s.lab.exec(
            s.home.lan,
            [portdoctorBinary, "probe", "nat", "--port", "4242", "--reflector", s.home.wanAddress, "--json"])
        return (
            status, try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        )
    }

    /// A forward set up in the router's admin page: a DNAT rule on the router's WAN side.
    func adminForward(_ s: Scenario, in ns: String, at wan: String, to address: String, table: String = "adminfwd")
        throws
    {
        try s.lab.nft(
            ns,
            """
            table ip \(table) {
              chain prerouting {
                type nat hook prerouting priority -100; policy accept;
                ip daddr \(wan) tcp dport 4242 dnat to \(address)
              }
            }

            """)
    }

    /// UPnP and NAT-PMP off, a forward made by hand that works: nothing to fix, and the person is told
    /// that --fix could not have made it.
    @Test func upnpOffWithAWorkingStaticForwardPasses() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, upnp: false, natpmp: false) })
        try s.staticForward()
        let (status, r) = try probe(s)
        #expect(status == 0, "\(r)")
        #expect(r["kind"] as? String == "forward-ok", "\(r)")
        #expect((r["notes"] as? [String])?.first?.contains("--fix cannot add forwards") == true, "\(r)")
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
        #expect(
            (o.check("port-forward")["summary"] as? String)?.contains("--fix cannot add forwards") == true, "\(o)")
    }

    /// A forward made by hand to this computer's old address, UPnP off (no table to read): the
    /// router's WAN does not refuse the outside's connection as it would without a forward —
    /// it forwards it into the void, and the outside hears nothing.
    @Test func aStaticForwardToAStaleAddressWithUPnPOff() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, upnp: false, natpmp: false) })
        try adminForward(s, in: s.home.router, at: s.home.routerWAN, to: "10.231.60.99")
        let (status, r) = try probe(s)
        #expect(status == 1)
        #expect(r["kind"] as? String == "forward-wrong-target", "\(r)")
        #expect(r["cause"] as? String == "port-forward-wrong-target")
        // The router asked the LAN for the stale address while the outside connected (seen by the
        // watch, as root): the forward's target is named, not guessed from the silence.
        #expect(r["rule"] as? String == "forward-to-absent-address", "\(r)")
        #expect((r["explanation"] as? String)?.contains("10.231.60.99") == true, "\(r)")
        let cb = (r["evidence"] as? [String: Any])?["connect_back"] as? String
        #expect(cb == "timeout" || cb == "host-unreachable", "silence, not a reset: \(r)")
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("port-forward") == "port-forward-wrong-target", "\(o)")

        // The same router without the forward refuses: the forward is missing, and that is what to fix.
        _ = try s.lab.exec(s.home.router, [NetworkLab.nft!, "delete", "table", "ip", "adminfwd"])
        let (_, missing) = try probe(s)
        #expect(missing["kind"] as? String == "forward-missing", "\(missing)")
        #expect((missing["evidence"] as? [String: Any])?["connect_back"] as? String == "refused", "\(missing)")
    }

    /// Double NAT where the person forwarded on both routers: the outside gets in, so it passes — with
    /// a note that there are two routers to keep forwarding on.
    @Test func doubleNATWithForwardsOnBothRoutersPasses() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.layeredNetwork(upstreamNet: "10.231.63") })
        let (refused, before) = try probe(s)
        #expect(refused == 1)
        #expect(before["kind"] as? String == "double-nat", "no forwards yet: \(before)")
        try adminForward(s, in: s.lab.name("i"), at: s.home.routerWAN, to: "10.231.63.2")
        try adminForward(s, in: s.home.router, at: "10.231.63.2", to: s.home.lanAddress)
        let (status, r) = try probe(s)
        #expect(status == 0, "\(r)")
        #expect(r["kind"] as? String == "forward-ok", "\(r)")
        #expect(r["rule"] as? String == "layered-nat-forwarded", "\(r)")
        #expect((r["notes"] as? [String])?.first?.contains("10.231.63.1") == true, "\(r)")
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
        #expect((o.check("port-forward")["summary"] as? String)?.contains("double NAT") == true, "\(o)")
    }

    /// Vendor selection, the survey and the OpenWrt overlay's own look at the router all need UPnP
    /// discovery: the router is asked once per run (each used to send its own M-SEARCH and wait).
    @Test func theRouterIsAskedOncePerRun() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.staticForward()
        try s.lab.nft(
            s.home.router,
            """
            table inet pdcount {
              counter ssdp { }
              counter natpmp { }
              chain prerouting {
                type filter hook prerouting priority -300; policy accept;
                udp dport 1900 counter name "ssdp"
                udp dport 5351 counter name "natpmp"
              }
            }

            """)
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
        func packets(_ counter: String) throws -> Int? {
            let out = try s.lab.exec(s.home.router, [NetworkLab.nft!, "list", "counter", "inet", "pdcount", counter])
            guard let r = out.output.range(of: "packets ") else { return nil }
            return Int(out.output[r.upperBound...].prefix { $0.isNumber })
        }
        #expect(try packets("ssdp") == 1, "one M-SEARCH for the whole run")
        #expect(try packets("natpmp") == 1, "one NAT-PMP request, answered at once")
    }
}
