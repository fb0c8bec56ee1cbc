import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The way in over IPv6 diagnosed and repaired by the release binary: the dual-stack home network
/// (routed IPv6, the router's forward chain dropping new inbound IPv6), the real miniupnpd with
/// IGD:2 and PCP, the reflector outside. Before: `ipv6-pinhole-missing`; `--fix`: a pinhole for the
/// stable address with its lifetime printed; after: a real IPv6 connect from outside gets in.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables and miniupnpd (always required under CI)"))
struct PinholeRepairLabTests {
    final class World {
        let lab = NetworkLab()
        var home: NetworkLab.HomeNetwork!
        private var etcDir: URL?

        init(miniupnpd: Bool = true, ipv4Forward: Bool = true) throws {
            try NetworkLab.requireAvailable()
            home = try lab.dualStackHomeNetwork(miniupnpd: miniupnpd)
            // The service on both families; the reflector outside.
            try lab.start(home.lan, [portdoctorBinary, "bench", "hold-listener", "--port", "4242", "--address", "::"])
            try lab.start(home.wan, [portdoctorBinary, "listen", "--port", "4250", "--per-minute", "1000"])
            if ipv4Forward {
                // A forward in the admin page for IPv4: the IPv4 way in works, IPv6 is the question.
                try lab.nft(
                    home.router,
                    "table ip pdforward {\n  chain prerouting {\n    type nat hook prerouting priority -90; policy accept;\n"
                        + "    iifname \"\(home.routerWANIf)\" tcp dport 4242 dnat to \(home.lanAddress):4242\n  }\n}\n")
            }
            try waitFor { self.listening(self.home.lan, 4242) && self.listening(self.home.wan, 4250) }
        }

        func listening(_ ns: String, _ port: Int) -> Bool { lab.isListening(ns, port) }

        func waitFor(_ condition: () throws -> Bool) throws { try NetworkLab.waitFor("the lab's world", condition) }

        /// The other computer's name as this one knows it (this namespace's own hosts file).
        func peerName(_ name: String, _ addresses: [String]) throws {
            let dir = URL(fileURLWithPath: "/etc/netns/\(home.lan)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            etcDir = dir
            let text = (["127.0.0.1 localhost"] + addresses.map { "\($0) \(name)" }).joined(separator: "\n")
            try (text + "\n").write(to: dir.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
            try "hosts: files\n".write(to: dir.appendingPathComponent("nsswitch.conf"), atomically: true, encoding: .utf8)
        }

        /// The other computer connecting to `address`:4242: "connected" or what went wrong.
        func connectFromOutside(_ address: String) throws -> String {
            let r = try lab.exec(
                home.wan,
                [
                    "/usr/bin/env", "python3", "-c",
                    "import socket,sys\ntry:\n s=socket.create_connection((sys.argv[1],4242),timeout=2);print('connected')\n"
                        + "except Exception as e:\n print(type(e).__name__)",
                    address,
                ])
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        func diagnose(peer: String, fix: Bool = false) throws -> [String: [String: Any]] {
            let r = try lab.exec(
                home.lan,
                [
                    "/usr/bin/timeout", "120", portdoctorBinary, "run", "tcp-service", "--param", "port=4242",
                    "--param", "program=portdoctor", "--peer", peer, "--format", "json",
                ] + (fix ? ["--fix", "--yes"] : []))
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "not JSON: \(r.output)")
            let checks = report["checks"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: checks.compactMap { c in (c["id"] as? String).map { ($0, c) } })
        }

        func tearDown() {
            lab.tearDown()
            if let etcDir {
                try? FileManager.default.removeItem(at: etcDir)
                rmdir("/etc/netns")  // only when empty: another lab may be using it
            }
        }
    }

    @Test func aMissingPinholeIsNamedThenOpenedWithItsLifetimeAndTheOutsideGetsIn() throws {
        let w = try World()
        defer { w.tearDown() }
        try w.peerName("peer.lab", [w.home.wanAddress6, w.home.wanAddress])
        #expect(try w.connectFromOutside(w.home.routerWAN) == "connected", "ground truth: IPv4 gets in (the forward)")
        #expect(try w.connectFromOutside(w.home.lanAddress6) != "connected", "ground truth: IPv6 does not")

        let before = try w.diagnose(peer: "peer.lab")
        let p = try #require(before["pinhole"])
        #expect(p["cause"] as? String == "ipv6-pinhole-missing", "\(p)")
        #expect(p["status"] as? String == "warn", "the other computer still gets in over IPv4: \(p)")
        #expect((p["summary"] as? String)?.contains("can be asked") == true, "\(p)")
        #expect(((p["repairs"] as? [[String: Any]])?.first?["id"]) as? String == "open-pinhole", "\(p)")
        #expect(before["port-forward"]?["status"] as? String == "pass", "\(before["port-forward"] ?? [:])")

        let fixed = try w.diagnose(peer: "peer.lab", fix: true)
        let q = try #require(fixed["pinhole"])
        let repair = try #require((q["repairs"] as? [[String: Any]])?.first, "\(q)")
        #expect(repair["outcome"] as? String == "fixed", "proven by the connect-back over IPv6: \(q)")
        let detail = repair["detail"] as? String ?? ""
        #expect(detail.contains("for 2 hours"), "the lifetime: \(detail)")
        #expect(detail.contains("portdoctor renews nothing"), "\(detail)")
        #expect(detail.contains(w.home.lanAddress6), "the stable address: \(detail)")
        #expect(q["status"] as? String == "pass", "\(q)")
        #expect(try w.connectFromOutside(w.home.lanAddress6) == "connected", "for real, over IPv6 from outside")
    }

    @Test func aRouterThatCannotBeAskedGetsAdviceForItsAdminPage() throws {
        let w = try World(miniupnpd: false)
        defer { w.tearDown() }
        // The other computer has only IPv6: the missing pinhole is its only way in.
        try w.peerName("peer6.lab", [w.home.wanAddress6])
        #expect(try w.connectFromOutside(w.home.lanAddress6) != "connected")
        let f = try w.diagnose(peer: "peer6.lab")
        let p = try #require(f["pinhole"])
        #expect(p["cause"] as? String == "ipv6-pinhole-missing", "\(p)")
        #expect(p["status"] as? String == "fail", "\(p)")
        #expect((p["summary"] as? String)?.contains("only its admin page") == true, "\(p)")
        #expect(p["repairs"] == nil || (p["repairs"] as? [Any])?.isEmpty == true, "nothing to ask: \(p)")
        #expect((p["advice"] as? [String])?.first?.contains(w.home.lanAddress6) == true, "\(p)")
    }

    @Test func anOpenWayInOverIPv6Passes() throws {
        let w = try World()
        defer { w.tearDown() }
        // The router's admin page allows TCP 4242 in over IPv6 (the forward chain's own accept).
        try w.lab.nft(
            w.home.router,
            "insert rule inet filter forward iifname \"\(w.home.routerWANIf)\" ip6 daddr \(w.home.lanAddress6) tcp dport 4242 accept\n")
        try w.peerName("peer.lab", [w.home.wanAddress6, w.home.wanAddress])
        #expect(try w.connectFromOutside(w.home.lanAddress6) == "connected")
        let f = try w.diagnose(peer: "peer.lab")
        #expect(f["pinhole"]?["status"] as? String == "pass", "\(f["pinhole"] ?? [:])")
        for (id, c) in f where c["status"] as? String == "fail" { Issue.record("\(id): \(c)") }
    }
}
