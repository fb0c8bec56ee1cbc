import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fault matrix's IPv6 scenarios (kept apart from the IPv4 catalogue so that both can change
/// without meeting). The world is the matrix's single-router home network with IPv6 added
/// (`NetworkLab.addIPv6`: global addresses, routed, the router's forward chain dropping new inbound
/// IPv6 until something lets it in), or the provider's-NAT one with IPv6 routed through the
/// provider (DS-Lite-like: IPv4 cannot come in at all). The ground truth is the other computer's
/// real connect over IPv6 to this computer's global address, the way an IPv6 peer comes in.
enum FaultMatrixIPv6 {
    typealias Setup = FaultMatrix.Setup
    typealias World = FaultMatrix.World

    static let lan6 = "2001:db8:60::2"

    /// How the other computer is known: `--peer` a name with an AAAA record only, with AAAA and A,
    /// or the numeric IPv4 address (then the IPv6 way in is not tested).
    enum Peer: Sendable { case ipv6Only, dualStack, ipv4Address }

    /// How the router's IPv6 firewall lets the other computer in: not at all, a rule made in its
    /// admin page for this computer's address (or its whole /64), or an IGD:2 pinhole asked before.
    enum Pinhole: Sendable { case none, admin, adminPrefix, igd2 }

    struct World6: Sendable {
        var peer = Peer.ipv6Only
        var pinhole = Pinhole.admin
        /// The router answers IGD:2 and PCP (miniupnpd with IPv6); else only its admin page can open a pinhole.
        var askable = true
        /// DS-Lite-like: the provider's NAT for IPv4, IPv6 routed through the provider.
        var dsLite = false
        /// A temporary (privacy) address next to the stable one; `publicName` points the name the
        /// other computer uses at it (true) or at the stable address (false); nil: no name given.
        var temporary = false
        var publicNameAtTemporary: Bool?
    }

    /// A scenario's setup: the matrix's own, plus IPv6.
    static func setup(_ w6: World6, _ change: (inout Setup) -> Void = { _ in }) -> Setup {
        var s = Setup(topology: w6.dsLite ? .cgnat : .single, role: .destination)
        s.miniupnpd = false  // miniupnpd comes with IPv6 (addIPv6), when the router can be asked
        s.serviceAddress = "::"
        if w6.peer != .ipv4Address {
            s.peerName = w6.peer == .ipv6Only ? "peer6.lab.test" : "peer.lab.test"
            s.truthAddress = { _ in lan6 }
        }
        change(&s)
        s.after.insert(
            { w in
                if w6.dsLite { try layeredIPv6(w) } else { try w.lab.addIPv6(w.home, miniupnpd: w6.askable) }
                switch w6.pinhole {
                case .none: break
                case .admin, .adminPrefix:
                    let to = w6.pinhole == .admin ? "ip6 daddr \(lan6) " : "ip6 daddr 2001:db8:60::/64 "
                    try w.lab.nft(
                        w.home.router,
                        "insert rule inet filter forward meta nfproto ipv6 \(to)tcp dport 4242 accept\n")
                case .igd2:
                    let r = try w.lab.exec(
                        w.home.lan, [portdoctorBinary, "probe", "upnp", "--ipv6", "--add-pinhole", "4242", "--lease", "3600"])
                    guard r.status == 0 else { throw NetworkLab.Failure(description: "add-pinhole: \(r.output)") }
                }
                var names: [(address: String, name: String)] = []
                switch w6.peer {
                case .ipv6Only: names = [(w.home.wanAddress6, "peer6.lab.test")]
                case .dualStack: names = [(w.home.wanAddress6, "peer.lab.test"), (w.home.wanAddress, "peer.lab.test")]
                case .ipv4Address: break
                }
                if w6.temporary {
                    let temporary = try temporaryAddress(w)
                    if let atTemporary = w6.publicNameAtTemporary {
                        names.append((atTemporary ? temporary : lan6, "home.lab.test"))
                    }
                }
                if !names.isEmpty { try w.names(w.home.lan, names) }
                // The service's IPv6 socket sees the new addresses at once; the reflector's too.
                usleep(300_000)
            }, at: 0)
        if w6.publicNameAtTemporary != nil { s.extraArguments += ["--param", "public_name=home.lab.test"] }
        return s
    }

    /// IPv6 through the provider: LAN (2001:db8:60::/64) → home router → provider (2001:db8:63::/64)
    /// → outside (2001:db8:61::/64). The home router's forward chain drops new inbound IPv6; the
    /// provider's IPv4 masquerade must not touch IPv6.
    static func layeredIPv6(_ w: World) throws {
        let lab = w.lab
        func interfaces(_ ns: String) throws -> [String] {
            try lab.exec(ns, [NetworkLab.ip!, "-o", "link", "show"]).output.split(separator: "\n").compactMap { line in
                let f = line.split(separator: ":")
                guard f.count > 1 else { return nil }
                let name = f[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
                return name == "lo" ? nil : name
            }
        }
        let h = w.home!
        // layeredNetwork: the home router's WAN end is `routerWANIf` now; the provider's outer end
        // is the one with the old public address.
        let homeWAN = h.routerWANIf
        let ispOuter = try #require(
            try lab.exec(w.isp, [NetworkLab.ip!, "-o", "-4", "addr", "show"]).output.split(separator: "\n")
                .first { $0.contains(" \(h.routerWAN)/") }.map { String($0.split(separator: " ")[1]) })
        let ispInside = try #require(try interfaces(w.isp).first { $0 != ispOuter })
        let wanIf = try #require(try interfaces(h.wan).first)
        for (ns, dev, addr) in [
            (h.lan, h.lanIf, lan6), (h.router, h.routerLANIf, "2001:db8:60::1"), (h.router, homeWAN, "2001:db8:63::2"),
            (w.isp, ispInside, "2001:db8:63::1"), (w.isp, ispOuter, "2001:db8:61::1"),
            (h.wan, wanIf, h.wanAddress6),
        ] {
            try lab.ip("-n", ns, "-6", "addr", "add", addr + "/64", "dev", dev, "nodad")
        }
        try lab.ip("-n", h.lan, "-6", "route", "add", "default", "via", "2001:db8:60::1")
        try lab.ip("-n", h.router, "-6", "route", "add", "default", "via", "2001:db8:63::1")
        try lab.ip("-n", w.isp, "-6", "route", "add", "2001:db8:60::/64", "via", "2001:db8:63::2")
        try lab.ip("-n", h.wan, "-6", "route", "add", "2001:db8:60::/63", "via", "2001:db8:61::1")
        for ns in [h.router, w.isp] {
            _ = try lab.exec(ns, ["/usr/sbin/sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        }
        try lab.waitForIPv6([h.lan, h.router, w.isp, h.wan])
        // layeredNetwork left the home router only its NAT table: the IPv6 firewall is a table of its own.
        try lab.nft(
            h.router,
            "table inet filter {\n  chain forward {\n    type filter hook forward priority 0; policy accept;\n"
                + "    iifname \"\(homeWAN)\" meta nfproto ipv6 ct state new drop\n  }\n}\n"
                + "insert rule inet nat postrouting meta nfproto ipv6 accept\n")
        try lab.nft(w.isp, "insert rule inet nat postrouting meta nfproto ipv6 accept\n")
    }

    /// The kernel's privacy address next to the stable one (RFC 8981), as a router's advertised
    /// prefix would give it. Returns it.
    static func temporaryAddress(_ w: World) throws -> String {
        let h = w.home!
        for (key, value) in [("accept_dad", "0"), ("use_tempaddr", "2")] {
            _ = try w.lab.exec(h.lan, ["/usr/sbin/sysctl", "-qw", "net.ipv6.conf.\(h.lanIf).\(key)=\(value)"])
        }
        try w.lab.ip("-n", h.lan, "-6", "addr", "del", lan6 + "/64", "dev", h.lanIf)
        try w.lab.ip(
            "-n", h.lan, "-6", "addr", "add", lan6 + "/64", "dev", h.lanIf, "mngtmpaddr", "nodad", "valid_lft", "3600",
            "preferred_lft", "1800")
        var found: String?
        try w.waitFor {
            let out = try w.lab.exec(h.lan, [NetworkLab.ip!, "-6", "-o", "addr", "show", "dev", h.lanIf, "temporary"])
                .output
            found = out.split(separator: " ").first { $0.contains("2001:db8:60:") }.map {
                String($0.split(separator: "/")[0])
            }
            return found != nil
        }
        return try #require(found)
    }

    static func single(_ name: String, _ causes: [String], _ how: String, connects: Bool = false, _ s: Setup)
        -> FaultMatrix.Scenario
    {
        .init(id: "destination/dual-stack/\(name)", kind: .single, setup: s, expected: [causes], how: how, connects: connects)
    }

    static func healthy(_ name: String, _ how: String, _ s: Setup) -> FaultMatrix.Scenario {
        .init(id: "destination/dual-stack/healthy-\(name)", kind: .healthy, setup: s, expected: [], how: how, connects: true)
    }

    static func dsLiteHealthy(_ name: String, _ how: String, _ s: Setup) -> FaultMatrix.Scenario {
        .init(id: "destination/ds-lite/healthy-\(name)", kind: .healthy, setup: s, expected: [], how: how, connects: true)
    }

    static let scenarios: [FaultMatrix.Scenario] = [
        // Faults: each the only thing wrong, the other computer coming in over IPv6.
        single(
            "host-ipv6-drop", ["firewall-blocks-inbound-ipv6"],
            "an inet rule on the destination drops IPv6 TCP 4242 (IPv4 allowed); the peer has only IPv6",
            setup(World6()) {
                $0.after.append(
                    FaultMatrix.rule(
                        { $0.home.lan },
                        { _ in FaultMatrix.hostRule(hook: "input", "meta nfproto ipv6 tcp dport 4242 drop") }))
            }),
        single(
            "ipv4-only-listener", ["listener-ipv4-only"],
            "the service listens on 0.0.0.0 only; the peer has only IPv6",
            setup(World6()) { $0.serviceAddress = "0.0.0.0" }),
        single(
            "pinhole-missing", ["ipv6-pinhole-missing"],
            "the router's IPv6 firewall has no pinhole (it answers IGD:2 and PCP); the peer has only IPv6",
            setup(World6(pinhole: .none))),
        single(
            "pinhole-missing-router-not-askable", ["ipv6-pinhole-missing"],
            "no pinhole, and the router answers neither IGD:2 nor PCP; the peer has only IPv6",
            setup(World6(pinhole: .none, askable: false))),
        single(
            "pinhole-missing-dual-stack-peer", ["ipv6-pinhole-missing"],
            "no pinhole; the peer has IPv4 and IPv6, the IPv4 forward works",
            setup(World6(peer: .dualStack, pinhole: .none))),
        single(
            "temporary-address", ["ipv6-address-temporary"],
            "the name the other computer uses points at this computer's temporary (privacy) address",
            connects: true,
            setup(World6(pinhole: .adminPrefix, temporary: true, publicNameAtTemporary: true))),
        .init(
            id: "destination/ds-lite/pinhole-missing+cgnat", kind: .pair,
            setup: setup(World6(peer: .dualStack, pinhole: .none, askable: false, dsLite: true)),
            expected: [["cgnat"], ["ipv6-pinhole-missing"]],
            how: "DS-Lite-like: IPv4 behind the provider's NAT, IPv6 the only way in, and no pinhole for it",
            connects: false),
        .init(
            id: "destination/ds-lite/host-ipv6-drop+cgnat", kind: .pair,
            setup: setup(World6(peer: .dualStack, pinhole: .admin, askable: false, dsLite: true)) {
                $0.after.append(
                    FaultMatrix.rule(
                        { $0.home.lan },
                        { _ in FaultMatrix.hostRule(hook: "input", "meta nfproto ipv6 tcp dport 4242 drop") }))
            },
            expected: [["cgnat"], ["firewall-blocks-inbound-ipv6"]],
            how: "DS-Lite-like: IPv4 behind the provider's NAT, the router lets IPv6 in, the destination's firewall drops it",
            connects: false),

        // DS-Lite-like, the other computer known by its IPv4 address only: IPv4 cannot come in, and
        // nothing says it could come in over IPv6 (the router lets IPv6 in; the peer is not asked over it).
        .init(
            id: "destination/ds-lite/ipv4-peer-cgnat", kind: .single,
            setup: setup(World6(peer: .ipv4Address, pinhole: .admin, askable: false, dsLite: true)),
            expected: [["cgnat"]],
            how: "DS-Lite-like: the router lets IPv6 in, but the peer comes over IPv4 (numeric), which the provider's NAT stops",
            connects: false),
        // Healthy DS-Lite-like lines: IPv4 cannot come in, IPv6 can, and the other computer has it.
        // The provider's NAT is no fault there: nothing may fail.
        dsLiteHealthy(
            "admin-pinhole", "the router's admin page lets TCP 4242 in to the stable address; the peer has IPv4 and IPv6",
            setup(World6(peer: .dualStack, pinhole: .admin, askable: false, dsLite: true))),
        dsLiteHealthy(
            "admin-pinhole-ipv6-only-peer", "the same, the peer with IPv6 only",
            setup(World6(peer: .ipv6Only, pinhole: .admin, askable: false, dsLite: true))),
        dsLiteHealthy(
            "prefix-open", "the router lets TCP 4242 in to the whole /64 (no per-address filter); the peer has IPv4 and IPv6",
            setup(World6(peer: .dualStack, pinhole: .adminPrefix, askable: false, dsLite: true))),

        // Healthy dual-stack variants: nothing may fail.
        healthy("admin-pinhole", "the router's admin page lets TCP 4242 in to the stable address; IPv6-only peer", setup(World6())),
        healthy(
            "admin-pinhole-dual-stack-peer", "the same, the peer with IPv4 and IPv6",
            setup(World6(peer: .dualStack))),
        healthy("igd2-pinhole", "an IGD:2 pinhole asked for before; IPv6-only peer", setup(World6(pinhole: .igd2))),
        healthy(
            "strict-firewall", "input policy drop, ICMPv6 and TCP 4242 accepted; IPv6-only peer",
            setup(World6()) {
                $0.after.append(
                    FaultMatrix.rule(
                        { $0.home.lan },
                        { _ in
                            FaultMatrix.hostRule(
                                hook: "input", policy: "drop",
                                "iif lo accept\n    meta l4proto { icmp, ipv6-icmp } accept\n    tcp dport 4242 accept")
                        }))
            }),
        healthy(
            "ipv4-peer", "IPv6 on the line but no pinhole; the peer comes in over IPv4 (numeric), the forward works",
            setup(World6(peer: .ipv4Address, pinhole: .none))),
        healthy(
            "stable-public-name", "a temporary address next to the stable one; the name points at the stable one",
            setup(World6(pinhole: .adminPrefix, temporary: true, publicNameAtTemporary: false))),
    ]
}
