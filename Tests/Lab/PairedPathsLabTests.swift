import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A paired run tests the source's connect to the destination over every address, family and path
/// (Docs/pairing-protocol.md, "Every address and family"), and the pack's `paths` step names what a
/// failing one means, with the computer to fix: real namespaces, real nftables, the release binary.
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables and runit (always required under CI)")
)
struct PairedPathsLabTests {
    final class World {
        let lab = NetworkLab()
        var source = "", destination = ""
        var sourceAddress = "", destinationAddress = ""
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pd-paths-\(UUID().uuidString)")
        var token: String { root.appendingPathComponent("pair.token").path }
        func serviceDir(_ side: String) -> URL { root.appendingPathComponent("\(side)/crashplan") }

        /// Both computers run their backup service (listening on IPv4 and IPv6) and `portdoctor listen`.
        func start() throws {
            let runsv = try #require(
                ["/usr/bin/runsv", "/usr/sbin/runsv", "/sbin/runsv"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                }, "runit is missing: run .ci/install-deps --test")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try "MZXW6YTBOI2GKZLOMF2GS33OOVRGK3TUNFXGOZLSMVZXI\n".write(toFile: token, atomically: true, encoding: .utf8)
            for (side, ns) in [("source", source), ("destination", destination)] {
                let dir = serviceDir(side)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                try "#!/bin/sh\nexec \(portdoctorBinary) bench hold-listener --address :: --port 4242\n".write(
                    to: dir.appendingPathComponent("run"), atomically: true, encoding: .utf8)
                chmod(dir.appendingPathComponent("run").path, 0o755)
                try lab.start(ns, [runsv, dir.path])
                try lab.start(
                    ns,
                    [
                        "/usr/bin/env", "PORTDOCTOR_PARAM_SERVICE=\(dir.path)", portdoctorBinary, "listen", "--per-minute",
                        "1000", "--token-file", token,
                    ])
                try waitFor { self.listening(ns, 4242) && self.listening(ns, 4250) }
            }
        }

        /// `portdoctor run crashplan --with THE-OTHER` on one side, JSON out.
        func diagnose(from side: String, extra: [String] = []) throws -> [String: Any] {
            let ns = side == "source" ? source : destination
            var argv = [
                "/usr/bin/timeout", "120", portdoctorBinary, "run", "crashplan", "--with",
                side == "source" ? destinationAddress : sourceAddress, "--token-file", token, "--param",
                "service=\(serviceDir(side).path)", "--format", "json",
            ]
            if side == "source" { argv += ["--param", "role=source"] }
            let r = try lab.exec(ns, argv + extra)
            return try #require(
                try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
                "no JSON report (exit \(r.status)): \(r.output)")
        }

        func listening(_ ns: String, _ port: Int) -> Bool {
            !((try? lab.exec(ns, ["/usr/bin/env", "ss", "-Htln", "sport = :\(port)"]))?.output ?? "").isEmpty
        }

        func waitFor(_ condition: () throws -> Bool) throws {
            for _ in 0..<100 {
                if try condition() { return }
                usleep(50_000)
            }
            throw NetworkLab.Failure(description: "the lab did not come up")
        }

        func tearDown() {
            lab.tearDown()
            try? FileManager.default.removeItem(at: root)
        }
    }

    static func paths(_ report: [String: Any]) -> (check: [String: Any]?, tests: [[String: Any]]) {
        let checks = (report["checks"] as? [[String: Any]]) ?? []
        let check = checks.first { $0["id"] as? String == "paths" }
        let tests = ((check?["evidence"] as? [String: Any])?["tests"] as? [[String: Any]]) ?? []
        return (check, tests)
    }

    static func describe(_ tests: [[String: Any]]) -> String {
        tests.map { "\($0["how"] ?? "?") \($0["family"] ?? "?") \($0["address"] ?? "?") \($0["via"] ?? "?"): \($0["outcome"] ?? "?")" }
            .joined(separator: "; ")
    }

    /// Two dual-stack computers on one network; the destination's firewall drops TCP 4242 over IPv6
    /// only. From either side: IPv4 connects, IPv6 does not, and the destination is the one to fix.
    @Test func ipv6BlockedByTheDestinationsFirewallIsNamedWithItsComputerAndFamily() throws {
        let world = World()
        defer { world.tearDown() }
        try NetworkLab.requireAvailable()
        world.source = try world.lab.namespace("s")
        world.destination = try world.lab.namespace("d")
        (world.sourceAddress, world.destinationAddress) = ("10.231.72.1", "10.231.72.2")
        try world.lab.link(world.source, "10.231.72.1/24", world.destination, "10.231.72.2/24")
        for (ns, a) in [(world.source, "2001:db8:72::1/64"), (world.destination, "2001:db8:72::2/64")] {
            let dev = try world.lab.exec(ns, [NetworkLab.ip!, "-o", "link", "show"]).output.split(separator: "\n")
                .compactMap { $0.split(separator: ":").dropFirst().first?.trimmingCharacters(in: .whitespaces) }
                .compactMap { $0.split(separator: "@").first.map(String.init) }.first { $0 != "lo" } ?? ""
            try world.lab.ip("-n", ns, "-6", "addr", "add", a, "dev", dev, "nodad")
        }
        try world.start()
        try world.lab.nft(
            world.destination,
            "table inet pdfault {\n chain input {\n  type filter hook input priority 0; policy accept;\n  meta nfproto ipv6 tcp dport 4242 drop\n }\n}\n"
        )
        for side in ["source", "destination"] {
            let report = try world.diagnose(from: side)
            let pairing = try #require(report["pairing"] as? [String: Any], "from the \(side): no pairing")
            let (check, tests) = Self.paths(report)
            print("paired IPv6 drop from the \(side): \(Self.describe(tests)) — \(pairing["summary"] ?? "")")
            // Both families tested, IPv4 connects, IPv6 does not.
            #expect(tests.contains { $0["family"] as? String == "ipv4" && $0["outcome"] as? String == "connected" })
            #expect(tests.contains { $0["family"] as? String == "ipv6" && $0["outcome"] as? String == "timeout" })
            #expect(check?["status"] as? String == "fail", "from the \(side): \(check ?? [:])")
            #expect(check?["cause"] as? String == "firewall-blocks-inbound-ipv6")
            #expect(check?["side"] as? String == "destination", "from the \(side): \(check ?? [:])")
            // The verdict: the destination, and the family.
            #expect(pairing["fix"] as? String == "destination", "from the \(side): \(pairing)")
            #expect(
                (pairing["cause"] as? String)?.contains("ipv6") == true
                    || (pairing["summary"] as? String)?.contains("IPv6") == true,
                "from the \(side): \(pairing)")
            let computer = pairing["computer"] as? String ?? ""
            let destinationChecks = ((report["checks"] as? [[String: Any]]) ?? []).filter {
                $0["side"] as? String == "destination"
            }
            #expect(destinationChecks.contains { $0["computer"] as? String == computer }, "\(computer)")
        }
    }

    /// Both computers on a LAN behind one router. Its public address forwards nothing: on the LAN the
    /// source connects, through the public address it does not — the router, told apart from the
    /// destination itself. With a forward (and hairpin NAT) the same pair passes.
    @Test func theLANAddressWorkingAndThePublicOneNotIsTheRouter() throws {
        let world = World()
        defer { world.tearDown() }
        try NetworkLab.requireAvailable()
        let home = try world.lab.homeNetwork(miniupnpd: false)
        let s = try world.lab.namespace("s2")
        try world.lab.link(home.router, "10.231.62.1/24", s, "10.231.62.2/24")
        try world.lab.ip("-n", s, "route", "add", "default", "via", "10.231.62.1")
        world.source = s
        world.destination = home.lan
        (world.sourceAddress, world.destinationAddress) = ("10.231.62.2", home.lanAddress)
        try world.start()
        let publicAddress = ["--param", "peer=\(home.routerWAN)"]
        let report = try world.diagnose(from: "source", extra: publicAddress)
        let (check, tests) = Self.paths(report)
        let pairing = try #require(report["pairing"] as? [String: Any])
        print("paired no forward from the source: \(Self.describe(tests)) — \(pairing["summary"] ?? "")")
        #expect(
            tests.contains {
                $0["address"] as? String == home.lanAddress && $0["via"] as? String == "lan"
                    && $0["outcome"] as? String == "connected"
            })
        #expect(
            tests.contains {
                $0["address"] as? String == home.routerWAN && $0["via"] as? String == "public"
                    && $0["outcome"] as? String != "connected"
            })
        #expect(check?["status"] as? String == "fail", "\(check ?? [:])")
        #expect(check?["cause"] as? String == "port-forward-missing")
        #expect((check?["summary"] as? String)?.contains("router") == true)
        #expect(pairing["fix"] as? String == "destination", "\(pairing)")
        #expect(pairing["cause"] as? String == "port-forward-missing", "\(pairing)")

        // The router forwards 4242 to the destination and loops LAN connections back in (hairpin).
        try world.lab.nft(
            home.router,
            """
            table ip pdfwd {
              chain prerouting { type nat hook prerouting priority -110; policy accept;
                ip daddr \(home.routerWAN) tcp dport 4242 dnat to \(home.lanAddress) }
              chain postrouting { type nat hook postrouting priority 90; policy accept;
                ip daddr \(home.lanAddress) tcp dport 4242 ct status dnat masquerade }
            }

            """)
        let fixed = try world.diagnose(from: "source", extra: publicAddress)
        let (after, afterTests) = Self.paths(fixed)
        print("paired with a forward from the source: \(Self.describe(afterTests))")
        #expect(after?["status"] as? String == "pass", "\(after ?? [:])")
        #expect(afterTests.count >= 2 && afterTests.allSatisfy { $0["outcome"] as? String == "connected" })
    }
}
