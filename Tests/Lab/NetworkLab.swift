import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Network namespaces made by a test, joined by veth pairs, filtered with real nftables rules.
/// Everything it creates carries a unique prefix and is removed by `tearDown()` — call it in a
/// `defer` so a failing test cleans up too. Traffic only ever goes between these namespaces.
final class NetworkLab {
    struct Failure: Error, CustomStringConvertible { var description: String }

    static let ip = ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let nft = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    /// Why the lab cannot run here, or nil when it can.
    static var unavailableReason: String? {
        if geteuid() != 0 { return "the network lab needs root (network namespaces)" }
        if ip == nil { return "the network lab needs iproute2 (`ip`): run .ci/install-deps --test" }
        if nft == nil { return "the network lab needs nftables (`nft`): run .ci/install-deps --test" }
        if let problem = ReleaseBinary.problem { return problem }
        return nil
    }

    /// Under CI the lab must run: a missing prerequisite is a failure there, not a skip.
    static var shouldRun: Bool { unavailableReason == nil || ProcessInfo.processInfo.environment["CI"] != nil }

    static func requireAvailable() throws {
        if let why = unavailableReason { throw Failure(description: why) }
    }

    let prefix: String
    private(set) var namespaces: [String] = []
    private var background: [Process] = []
    private var links = 0
    private var files: [URL] = []
    private static let counter = Counter()

    init() {
        prefix = "pdlab\(getpid() % 100000)x\(NetworkLab.counter.next())"
    }

    func name(_ role: String) -> String { "\(prefix)\(role)" }

    @discardableResult
    static func run(_ argv: [String], input: String? = nil) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: argv[0])
        p.arguments = Array(argv.dropFirst())
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try inp.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw Failure(
                description:
                    "\(argv.joined(separator: " ")) failed (\(p.terminationStatus)): \(String(decoding: e, as: UTF8.self))"
            )
        }
        return String(decoding: o, as: UTF8.self)
    }

    func ip(_ args: String...) throws { try NetworkLab.run([NetworkLab.ip!] + args) }

    /// A namespace with its loopback up.
    @discardableResult
    func namespace(_ role: String) throws -> String {
        let ns = name(role)
        try ip("netns", "add", ns)
        namespaces.append(ns)
        try ip("-n", ns, "link", "set", "lo", "up")
        return ns
    }

    /// Joins two namespaces with a veth pair and gives each end an address ("10.231.1.1/24").
    func link(_ a: String, _ aAddress: String, _ b: String, _ bAddress: String) throws {
        links += 1
        let ia = "\(prefix)a\(links)", ib = "\(prefix)b\(links)"
        let (na, nb) = (String(ia.suffix(15)), String(ib.suffix(15)))
        try ip("link", "add", na, "type", "veth", "peer", "name", nb)
        try ip("link", "set", na, "netns", a)
        try ip("link", "set", nb, "netns", b)
        try ip("-n", a, "addr", "add", aAddress, "dev", na)
        try ip("-n", b, "addr", "add", bAddress, "dev", nb)
        try ip("-n", a, "link", "set", na, "up")
        try ip("-n", b, "link", "set", nb, "up")
    }

    /// Loads an nftables ruleset into a namespace.
    func nft(_ ns: String, _ ruleset: String) throws {
        try NetworkLab.run([NetworkLab.ip!, "netns", "exec", ns, NetworkLab.nft!, "-f", "-"], input: ruleset)
    }

    /// Runs a command inside a namespace and returns its standard output (any exit status).
    func exec(_ ns: String, _ argv: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NetworkLab.ip!)
        p.arguments = ["netns", "exec", ns] + argv
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: o, as: UTF8.self))
    }

    /// Starts a long-running command in a namespace; it is killed at teardown.
    func start(_ ns: String, _ argv: [String]) throws {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: NetworkLab.ip!)
        p.arguments = ["netns", "exec", ns] + argv
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        try p.run()
        background.append(p)
    }

    /// Another program listening in a namespace (python3, so that it is not portdoctor's own
    /// socket), listening when this returns; it is killed at teardown.
    func listener(_ ns: String, address: String = "0.0.0.0", port: Int, backlog: Int? = nil) throws {
        try start(
            ns,
            [
                "/usr/bin/env", "python3", "-c",
                "import socket,time\ns=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                    + "s.bind(('\(address)',\(port)));s.listen(\(backlog.map(String.init) ?? ""))\ntime.sleep(600)",
            ])
        // Python takes a while to start on a loaded machine: a connect before it listens is refused.
        try waitUntilListening(ns, port)
    }

    /// True when a socket in `ns` listens on `port` (TCP; UDP with `udp`, where "listening" is bound).
    func isListening(_ ns: String, _ port: Int, udp: Bool = false) -> Bool {
        let out = (try? exec(ns, ["/usr/bin/env", "ss", udp ? "-Huln" : "-Htln", "sport = :\(port)"]))?.output
        return !(out ?? "").isEmpty
    }

    /// Waits for `condition` (checked every 50 ms, for up to 15 s: a loaded CI machine starts
    /// daemons slowly); throws naming `what` when it never holds. Used instead of fixed sleeps.
    static func waitFor(_ what: String, _ condition: () throws -> Bool) throws {
        for _ in 0..<300 {
            if try condition() { return }
            usleep(50_000)
        }
        throw Failure(description: "the lab did not come up: \(what)")
    }

    /// Waits until something in `ns` listens on `port`.
    func waitUntilListening(_ ns: String, _ port: Int, udp: Bool = false) throws {
        try NetworkLab.waitFor("nothing listens on \(udp ? "UDP" : "TCP") port \(port) in \(ns)") {
            isListening(ns, port, udp: udp)
        }
    }

    /// Waits until the router's miniupnpd has bound what it serves: the IGD's HTTP port and SSDP
    /// (UPnP), the NAT-PMP/PCP port; with neither enabled, a second for it to settle.
    func waitForMiniupnpd(_ router: String, upnp: Bool, natpmp: Bool) throws {
        if upnp {
            try waitUntilListening(router, 5000)
            try waitUntilListening(router, 1900, udp: true)
        }
        if natpmp { try waitUntilListening(router, 5351, udp: true) }
        if !upnp && !natpmp { usleep(1_000_000) }
    }

    /// Waits until no IPv6 address in these namespaces is still tentative: the link-local ones the
    /// kernel adds to each new link go through duplicate address detection first (about a second),
    /// and until then neighbour discovery, hence any IPv6 connect, gets no answer.
    func waitForIPv6(_ namespaces: [String]) throws {
        try NetworkLab.waitFor("IPv6 addresses still tentative") {
            try namespaces.allSatisfy { try exec($0, [NetworkLab.ip!, "-6", "-o", "addr", "show", "tentative"]).output.isEmpty }
        }
    }

    func tearDown() {
        for p in background where p.isRunning {
            kill(p.processIdentifier, SIGKILL)  // SIGTERM may be blocked in children of the test runner
            // Bounded: Foundation sometimes misses a child's exit, and teardown must not hang the suite.
            for _ in 0..<100 where p.isRunning { usleep(20_000) }
        }
        for ns in namespaces.reversed() {
            // Kill anything still inside, then remove the namespace (its veth ends go with it).
            if let pids = try? NetworkLab.run([NetworkLab.ip!, "netns", "pids", ns]) {
                for pid in pids.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? NetworkLab.run([NetworkLab.ip!, "netns", "delete", ns])
        }
        namespaces = []
        for f in files { try? FileManager.default.removeItem(at: f) }
    }

    /// A home network: `lan` behind `router` (masquerade), `wan` outside. With `miniupnpd`, the router
    /// runs the real daemon (UPnP IGD + NAT-PMP). miniupnpd serves only with a non-reserved WAN address,
    /// so the WAN side uses one — inside these isolated namespaces, with no link to the host's network.
    struct HomeNetwork {
        var lan: String, router: String, wan: String
        var lanAddress = "10.231.60.2", routerLAN = "10.231.60.1", routerWAN = "11.231.61.1", wanAddress = "11.231.61.2"
        var lanIf = "", routerLANIf = "", routerWANIf = ""
        /// With `dualStackHomeNetwork`: global IPv6 on both sides (documentation prefix, inside the lab only).
        var lanAddress6 = "2001:db8:60::2", routerLAN6 = "2001:db8:60::1", routerWAN6 = "2001:db8:61::1"
        var wanAddress6 = "2001:db8:61::2"
    }

    func homeNetwork(
        miniupnpd: Bool, upnp: Bool = true, natpmp: Bool = true, manufacturer: String = "OpenWrt", secure: Bool = true
    ) throws -> HomeNetwork {
        var h = HomeNetwork(lan: try namespace("l"), router: try namespace("r"), wan: try namespace("w"))
        links += 1
        (h.lanIf, h.routerLANIf) = (
            "\(prefix)a\(links)".suffix(15).description, "\(prefix)b\(links)".suffix(15).description
        )
        try ip("link", "add", h.lanIf, "type", "veth", "peer", "name", h.routerLANIf)
        try ip("link", "set", h.lanIf, "netns", h.lan)
        try ip("link", "set", h.routerLANIf, "netns", h.router)
        links += 1
        let wanEnd = "\(prefix)b\(links)".suffix(15).description
        h.routerWANIf = "\(prefix)a\(links)".suffix(15).description
        try ip("link", "add", h.routerWANIf, "type", "veth", "peer", "name", wanEnd)
        try ip("link", "set", h.routerWANIf, "netns", h.router)
        try ip("link", "set", wanEnd, "netns", h.wan)
        for (ns, dev, addr) in [
            (h.lan, h.lanIf, h.lanAddress), (h.router, h.routerLANIf, h.routerLAN),
            (h.router, h.routerWANIf, h.routerWAN), (h.wan, wanEnd, h.wanAddress),
        ] {
            try ip("-n", ns, "addr", "add", addr + "/24", "dev", dev)
            try ip("-n", ns, "link", "set", dev, "up")
        }
        try ip("-n", h.lan, "route", "add", "default", "via", h.routerLAN)
        try ip("-n", h.lan, "route", "add", "224.0.0.0/4", "dev", h.lanIf)  // SSDP multicast
        try ip("-n", h.router, "route", "add", "224.0.0.0/4", "dev", h.routerLANIf)
        _ = try exec(h.router, ["/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1"])
        try nft(
            h.router,
            """
            table inet filter {
              chain forward { type filter hook forward priority 0; policy accept; jump miniupnpd; }
              chain miniupnpd { }
            }
            table inet nat {
              chain prerouting { type nat hook prerouting priority -100; policy accept; jump prerouting_miniupnpd; }
              chain postrouting {
                type nat hook postrouting priority 100; policy accept;
                oifname "\(h.routerWANIf)" masquerade
                jump postrouting_miniupnpd
              }
              chain prerouting_miniupnpd { }
              chain postrouting_miniupnpd { }
            }

            """)
        if miniupnpd {
            let conf = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-miniupnpd.conf")
            try """
            ext_ifname=\(h.routerWANIf)
            listening_ip=\(h.routerLANIf)
            http_port=5000
            enable_natpmp=\(natpmp ? "yes" : "no")
            enable_upnp=\(upnp ? "yes" : "no")
            secure_mode=\(secure ? "yes" : "no")
            system_uptime=yes
            uuid=3e5a2f3c-6d5b-4b1b-9c1f-1a2b3c4d5e6f
            friendly_name=portdoctor lab gateway
            manufacturer_name=\(manufacturer)
            model_name=lab router
            upnp_table_name=filter
            upnp_nat_table_name=nat
            upnp_forward_chain=miniupnpd
            upnp_nat_chain=prerouting_miniupnpd
            upnp_nat_postrouting_chain=postrouting_miniupnpd
            allow 1024-65535 \(h.lanAddress)/24 1024-65535
            deny 0-65535 0.0.0.0/0 0-65535

            """.write(to: conf, atomically: true, encoding: .utf8)
            files.append(conf)
            let daemon = ["/usr/sbin/miniupnpd", "/sbin/miniupnpd"].first {
                FileManager.default.isExecutableFile(atPath: $0)
            }
            guard let daemon else { throw Failure(description: "miniupnpd is missing: run .ci/install-deps --test") }
            // Its own pid file: another lab's miniupnpd (another namespace) must not make this one refuse to start.
            let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-miniupnpd.pid")
            files.append(pidFile)
            try start(h.router, [daemon, "-f", conf.path, "-P", pidFile.path, "-d"])
            try waitForMiniupnpd(h.router, upnp: upnp, natpmp: natpmp)
        }
        return h
    }

    /// `homeNetwork` with IPv6 too: global addresses on the LAN and outside, routed (no NAT) by the
    /// router, whose IPv6 forward chain drops new inbound connections except what miniupnpd opens
    /// (PCP MAP or an IGD:2 pinhole). The real miniupnpd runs with IPv6 (`ext_ifname6`), PCP and IGD:2.
    /// `miniupnpd: false`: the same routed IPv6 and forward chain, but a router nobody can ask for a
    /// pinhole (no IGD:2, no PCP): only its admin page could open one.
    func dualStackHomeNetwork(secure: Bool = true, miniupnpd: Bool = true) throws -> HomeNetwork {
        let h = try homeNetwork(miniupnpd: false)
        try addIPv6(h, secure: secure, miniupnpd: miniupnpd)
        return h
    }

    /// IPv6 added to a single-router `homeNetwork` made without miniupnpd (see `dualStackHomeNetwork`).
    func addIPv6(_ h: HomeNetwork, secure: Bool = true, miniupnpd: Bool = true) throws {
        let wanIf =
            try exec(h.wan, [NetworkLab.ip!, "-o", "link", "show"]).output.split(separator: "\n")
            .compactMap { line -> String? in
                let f = line.split(separator: ":")
                guard f.count > 1 else { return nil }
                let name = f[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(String.init)
                return name == "lo" ? nil : name
            }.first ?? ""
        for (ns, dev, addr) in [
            (h.lan, h.lanIf, h.lanAddress6), (h.router, h.routerLANIf, h.routerLAN6),
            (h.router, h.routerWANIf, h.routerWAN6), (h.wan, wanIf, h.wanAddress6),
        ] {
            try ip("-n", ns, "-6", "addr", "add", addr + "/64", "dev", dev, "nodad")
        }
        try ip("-n", h.lan, "-6", "route", "add", "default", "via", h.routerLAN6)
        try ip("-n", h.wan, "-6", "route", "add", "2001:db8:60::/64", "via", h.routerWAN6)
        _ = try exec(h.router, ["/usr/sbin/sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"])
        try waitForIPv6([h.lan, h.router, h.wan])
        try nft(
            h.router,
            "add rule inet filter forward iifname \"\(h.routerWANIf)\" meta nfproto ipv6 ct state new drop\n"
                // IPv6 is routed as it is: the IPv4 masquerade must not apply to it.
                + "insert rule inet nat postrouting meta nfproto ipv6 accept\n")
        guard miniupnpd else { return }
        let conf = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-miniupnpd6.conf")
        try """
        ext_ifname=\(h.routerWANIf)
        ext_ifname6=\(h.routerWANIf)
        listening_ip=\(h.routerLANIf)
        http_port=5000
        enable_natpmp=yes
        enable_upnp=yes
        secure_mode=\(secure ? "yes" : "no")
        system_uptime=yes
        uuid=3e5a2f3c-6d5b-4b1b-9c1f-1a2b3c4d5e6f
        friendly_name=portdoctor lab gateway
        upnp_table_name=filter
        upnp_nat_table_name=nat
        upnp_forward_chain=miniupnpd
        upnp_nat_chain=prerouting_miniupnpd
        upnp_nat_postrouting_chain=postrouting_miniupnpd
        allow 1024-65535 \(h.lanAddress)/24 1024-65535
        deny 0-65535 0.0.0.0/0 0-65535

        """.write(to: conf, atomically: true, encoding: .utf8)
        files.append(conf)
        let pidFile = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-miniupnpd6.pid")
        files.append(pidFile)
        try start(h.router, ["/usr/sbin/miniupnpd", "-f", conf.path, "-P", pidFile.path, "-d"])
        try waitForMiniupnpd(h.router, upnp: true, natpmp: true)
    }

    /// A home network behind a second NAT: LAN → home router (miniupnpd, WAN address `upstreamNet`.2)
    /// → upstream router (`upstreamNet`.1, masquerading to the outside) → WAN host. With
    /// `upstreamNet` private it is double NAT; in 100.64.0.0/10 it is the provider's CGNAT.
    func layeredNetwork(upstreamNet: String) throws -> HomeNetwork {
        var h = try homeNetwork(miniupnpd: false)
        let isp = try namespace("i")
        // Move the home router's WAN link: home router ↔ ISP router ↔ WAN host.
        try ip("-n", h.router, "addr", "flush", "dev", h.routerWANIf)
        try ip("-n", h.router, "link", "set", h.routerWANIf, "netns", isp)
        links += 1
        let (homeWAN, ispInside) = (
            "\(prefix)a\(links)".suffix(15).description, "\(prefix)b\(links)".suffix(15).description
        )
        try ip("link", "add", homeWAN, "type", "veth", "peer", "name", ispInside)
        try ip("link", "set", homeWAN, "netns", h.router)
        try ip("link", "set", ispInside, "netns", isp)
        try ip("-n", h.router, "addr", "add", "\(upstreamNet).2/24", "dev", homeWAN)
        try ip("-n", h.router, "link", "set", homeWAN, "up")
        try ip("-n", h.router, "route", "add", "default", "via", "\(upstreamNet).1")
        try ip("-n", isp, "addr", "add", "\(upstreamNet).1/24", "dev", ispInside)
        try ip("-n", isp, "link", "set", ispInside, "up")
        try ip("-n", isp, "addr", "add", "\(h.routerWAN)/24", "dev", h.routerWANIf)
        try ip("-n", isp, "link", "set", h.routerWANIf, "up")
        try ip("-n", isp, "route", "add", "10.231.60.0/24", "via", "\(upstreamNet).2")
        _ = try exec(isp, ["/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1"])
        try nft(
            isp,
            "table inet nat {\n  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n    oifname \"\(h.routerWANIf)\" masquerade\n  }\n}\n"
        )
        // The home router now masquerades onto the upstream network.
        _ = try exec(h.router, [NetworkLab.nft!, "flush", "ruleset"])
        try nft(
            h.router,
            "table inet nat {\n  chain postrouting {\n    type nat hook postrouting priority 100; policy accept;\n    oifname \"\(homeWAN)\" masquerade\n  }\n}\n"
        )
        h.routerWANIf = homeWAN
        return h
    }

    final class Counter: @unchecked Sendable {
        private var n = 0
        private let lock = NSLock()
        func next() -> Int { lock.lock(); defer { lock.unlock() }; n += 1; return n }
    }
}

/// The release binary, as the README's first command builds it.
let portdoctorBinary = ReleaseBinary.path
