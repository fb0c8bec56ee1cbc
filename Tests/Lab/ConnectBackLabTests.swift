import Foundation
import Testing

/// The connect-back through real NAT: a LAN host behind a router namespace (masquerade, and port
/// forwarding when the case says so), the reflector (`portdoctor listen`) in a WAN namespace.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct ConnectBackLabTests {
    func router(forwardTo target: String?) -> String {
        let dnat = target.map { "    iifname \"$WAN\" tcp dport 4242 dnat ip to \($0)\n" } ?? ""
        return """
            table inet nat {
              chain prerouting {
                type nat hook prerouting priority -100; policy accept;
            \(dnat)  }
              chain postrouting {
                type nat hook postrouting priority 100; policy accept;
                oifname "$WAN" masquerade
              }
            }

            """
    }

    /// `listen` on one computer, `probe reflect --connect-back` from another: the reflector answers
    /// and connects back (the built binary, as a person runs it — a release build too).
    @Test func listenAnswersAndConnectsBack() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }  // kills the reflector and the listener, even when an expectation fails
        let here = try lab.namespace("h")
        let there = try lab.namespace("t")
        try lab.link(here, "10.231.42.2/24", there, "10.231.42.1/24")
        try lab.start(there, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.listener(here, port: 4242)
        try lab.waitUntilListening(there, 4250)
        try lab.waitUntilListening(here, 4242)

        let (status, out) = try lab.exec(
            here,
            [
                portdoctorBinary, "probe", "reflect", "10.231.42.1:4250", "--connect-back", "4242", "--timeout", "3",
                "--json",
            ])
        #expect(status == 0, "\(out)")
        let r = try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        #expect((r["seen"] as? String)?.hasPrefix("10.231.42.2:") == true, "\(r)")
        #expect((r["connect_back"] as? [String: Any])?["status"] as? String == "connected", "\(r)")
    }

    @Test func connectBackShowsWhetherTheForwardWorks() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let lan = try lab.namespace("l")
        let rtr = try lab.namespace("r")
        let wan = try lab.namespace("w")
        try lab.link(lan, "10.231.40.2/24", rtr, "10.231.40.1/24")
        try lab.link(rtr, "10.231.41.1/24", wan, "10.231.41.2/24")
        try lab.ip("-n", lan, "route", "add", "default", "via", "10.231.40.1")
        _ = try lab.exec(rtr, ["/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1"])
        // The router's WAN-side interface name.
        let wanIf =
            try lab.exec(rtr, [NetworkLab.ip!, "-o", "addr", "show", "to", "10.231.41.1/24"]).output
            .split(separator: " ").dropFirst().first.map(String.init) ?? ""
        #expect(!wanIf.isEmpty)

        try lab.listener(lan, port: 4242)
        try lab.start(wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "100"])
        try lab.waitUntilListening(wan, 4250)
        try lab.waitUntilListening(lan, 4242)

        func reflect() throws -> [String: Any] {
            let (_, out) = try lab.exec(
                lan,
                [
                    portdoctorBinary, "probe", "reflect", "10.231.41.2:4250", "--connect-back", "4242",
                    "--timeout", "2", "--json",
                ])
            return try #require(try JSONSerialization.jsonObject(with: Data(out.utf8)) as? [String: Any], "\(out)")
        }
        func status(_ r: [String: Any]) -> String? { (r["connect_back"] as? [String: Any])?["status"] as? String }

        // No forward: the reflector sees the router's WAN address, and the router has nothing on 4242.
        try lab.nft(rtr, router(forwardTo: nil).replacingOccurrences(of: "$WAN", with: wanIf))
        let none = try reflect()
        #expect((none["seen"] as? String)?.hasPrefix("10.231.41.1:") == true, "\(none)")
        #expect(status(none) == "refused")

        // A forward to the LAN host: the outside reaches the listener.
        _ = try lab.exec(rtr, [NetworkLab.nft!, "flush", "ruleset"])
        try lab.nft(rtr, router(forwardTo: "10.231.40.2").replacingOccurrences(of: "$WAN", with: wanIf))
        #expect(status(try reflect()) == "connected")

        // A forward to an address that is no longer there (a stale DHCP lease): nothing answers.
        _ = try lab.exec(rtr, [NetworkLab.nft!, "flush", "ruleset"])
        try lab.nft(rtr, router(forwardTo: "10.231.40.99").replacingOccurrences(of: "$WAN", with: wanIf))
        let stale = status(try reflect())
        #expect(stale == "timeout" || stale == "host-unreachable", "\(stale ?? "nil")")
    }
}
