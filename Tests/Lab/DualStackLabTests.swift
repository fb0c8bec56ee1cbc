import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Dual-stack faults seen by the release binary: this computer (`l`) and the other one (`w`) share a
/// link with IPv4 and global IPv6 addresses (documentation prefixes, inside the lab only); the
/// host firewall's real nftables rules treat the two families differently. Each world's ground
/// truth is a real connect from the other computer over each family.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct DualStackLabTests {
    static let here4 = "10.231.70.2", there4 = "10.231.70.1"
    static let here6 = "2001:db8:70::2", there6 = "2001:db8:70::1"

    final class World {
        let lab = NetworkLab()
        var here = "", there = ""
        /// This computer's end of the link.
        var hereDev = ""
        private var etcDir: URL?
        private var hosts: [(address: String, name: String)] = []

        /// The link, and a service on 4242 listening at `address` ("::" takes both families).
        init(listenOn address: String) throws {
            try NetworkLab.requireAvailable()
            here = try lab.namespace("l")
            there = try lab.namespace("w")
            try lab.link(here, "\(DualStackLabTests.here4)/24", there, "\(DualStackLabTests.there4)/24")
            for (ns, addr) in [(here, DualStackLabTests.here6), (there, DualStackLabTests.there6)] {
                let dev =
                    try lab.exec(ns, [NetworkLab.ip!, "-o", "link", "show"]).output.split(separator: "\n")
                    .compactMap { line -> String? in
                        let f = line.split(separator: ":")
                        guard f.count > 1 else { return nil }
                        let name = f[1].trimmingCharacters(in: .whitespaces).split(separator: "@").first.map(
                            String.init)
                        return name == "lo" ? nil : name
                    }.first ?? ""
                try lab.ip("-n", ns, "-6", "addr", "add", addr + "/64", "dev", dev, "nodad")
                if ns == here { hereDev = dev }
            }
            _ = try lab.exec(here, ["/usr/sbin/sysctl", "-qw", "net.ipv6.bindv6only=0"])
            try lab.waitForIPv6([here, there])
            try lab.start(here, [portdoctorBinary, "bench", "hold-listener", "--port", "4242", "--address", address])
            try lab.waitUntilListening(here, 4242)
        }

        /// A name known here (the other computer's, or this one's as the other uses it), from this
        /// namespace's own hosts file: no DNS query leaves the lab.
        func peerName(_ name: String, addresses: [String]) throws {
            let dir = URL(fileURLWithPath: "/etc/netns/\(here)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            etcDir = dir
            hosts.removeAll { $0.name == name }
            hosts += addresses.map { ($0, name) }
            let text = (["127.0.0.1 localhost"] + hosts.map { "\($0.address) \($0.name)" }).joined(separator: "\n")
            try (text + "\n").write(to: dir.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
            try "hosts: files\n".write(
                to: dir.appendingPathComponent("nsswitch.conf"), atomically: true, encoding: .utf8)
        }

        /// Privacy addresses on this computer's end, as a router's advertised prefix would give them:
        /// the kernel makes a temporary address next to the stable one (RFC 8981). Returns it.
        func temporaryAddress() throws -> String {
            for (key, value) in [("accept_dad", "0"), ("use_tempaddr", "2")] {
                _ = try lab.exec(here, ["/usr/sbin/sysctl", "-qw", "net.ipv6.conf.\(hereDev).\(key)=\(value)"])
            }
            try lab.ip("-n", here, "-6", "addr", "del", DualStackLabTests.here6 + "/64", "dev", hereDev)
            try lab.ip(
                "-n", here, "-6", "addr", "add", DualStackLabTests.here6 + "/64", "dev", hereDev, "mngtmpaddr", "nodad",
                "valid_lft", "3600", "preferred_lft", "1800")
            var found: String?
            try NetworkLab.waitFor("a temporary IPv6 address") {
                let out = try lab.exec(here, [NetworkLab.ip!, "-6", "-o", "addr", "show", "dev", hereDev, "temporary"])
                    .output
                found = out.split(separator: " ").first { $0.contains("2001:db8:70:") }.map {
                    String($0.split(separator: "/")[0])
                }
                return found != nil
            }
            return try #require(found)
        }

        /// The other computer connecting to this one's address: "connected" or what went wrong.
        func connectFromThere(_ address: String) throws -> String {
            let r = try lab.exec(
                there,
                [
                    "/usr/bin/env", "python3", "-c",
                    "import socket,sys\ntry:\n s=socket.create_connection((sys.argv[1],4242),timeout=2);print('connected')\n"
                        + "except Exception as e:\n print(type(e).__name__)",
                    address,
                ])
            return r.output.trimmingCharacters(in: .whitespacesAndNewlines)
        }

        /// `portdoctor run tcp-service` as a person runs it here; the findings by check id.
        /// `record`: the pack test to make of this run when `PD_LAB_RECORD` is set (`LabRecordings`),
        /// kept only when check `id` names `cause`.
        func diagnose(
            peer: String, publicName: String? = nil, source: Bool = false, fix: Bool = false,
            record: (name: String, how: String, id: String, cause: String)? = nil
        ) throws -> [String: [String: Any]] {
            let r = try lab.exec(
                here,
                [
                    "/usr/bin/timeout", "120", portdoctorBinary, "run", "tcp-service", "--param", "port=4242",
                    // The program holding the port, so that the listener step can tell it is the service.
                    "--param", "program=portdoctor", "--peer", peer, "--format", "json",
                ] + (publicName.map { ["--param", "public_name=\($0)"] } ?? [])
                    + (source ? ["--param", "role=source"] : [])
                    + (fix ? ["--fix", "--yes"] : [])
                    + (record.map { LabRecordings.arguments(for: $0.name) } ?? []))
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "not JSON: \(r.output)")
            let checks = report["checks"] as? [[String: Any]] ?? []
            let byID = Dictionary(uniqueKeysWithValues: checks.compactMap { c in (c["id"] as? String).map { ($0, c) } })
            if let record {
                LabRecordings.keep(
                    record.name, description: record.how, report: r.output,
                    correct: byID[record.id]?["cause"] as? String == record.cause)
            }
            return byID
        }

        func tearDown() {
            lab.tearDown()
            if let etcDir {
                try? FileManager.default.removeItem(at: etcDir)
                rmdir("/etc/netns")  // only when empty: another lab may be using it
            }
        }
    }

    static let ipv6Causes: Set<String> = [
        "firewall-blocks-inbound-ipv6", "listener-ipv4-only", "peer-ipv6-unreachable", "peer-ipv4-unreachable",
        "ipv6-address-temporary",
    ]

    @Test func anInetRuleDroppingIPv6IsNamedForAnIPv6OnlyPeer() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        try w.lab.nft(
            w.here,
            """
            table inet pdhost {
              chain input {
                type filter hook input priority 0; policy accept;
                ct state established,related accept
                meta nfproto ipv6 tcp dport 4242 drop
              }
            }

            """)
        #expect(try w.connectFromThere(Self.here4) == "connected", "ground truth: IPv4 gets in")
        #expect(try w.connectFromThere(Self.here6) != "connected", "ground truth: IPv6 does not")
        try w.peerName("peer6.lab", addresses: [Self.there6])
        let f = try w.diagnose(peer: "peer6.lab")
        let fw = try #require(f["firewall"])
        #expect(fw["cause"] as? String == "firewall-blocks-inbound-ipv6", "\(fw)")
        #expect(fw["status"] as? String == "fail", "the peer has only IPv6 to come in on: \(fw)")
        #expect((fw["summary"] as? String)?.contains("inet pdhost input") == true, "\(fw)")
        let evidence = fw["evidence"] as? [String: Any]
        #expect(evidence?["decision"] as? String == "allow")
        #expect((evidence?["ipv6"] as? [String: Any])?["decision"] as? String == "drop")
        #expect(f["listener"]?["status"] as? String == "pass", "a dual-stack listener: \(f["listener"] ?? [:])")
    }

    /// A firewall that accepts TCP 4242 and drops everything else drops ICMPv6 neighbour discovery
    /// too: over IPv6 nothing gets in, the other computer cannot even find this one's link address.
    @Test func aFirewallDroppingNeighbourDiscoveryIsNamed() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        try w.lab.nft(
            w.here,
            """
            table inet pdhost {
              chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                tcp dport 4242 accept
              }
            }

            """)
        #expect(try w.connectFromThere(Self.here4) == "connected", "ground truth: IPv4 gets in")
        #expect(try w.connectFromThere(Self.here6) != "connected", "ground truth: IPv6 does not")
        try w.peerName("peer6.lab", addresses: [Self.there6])
        let f = try w.diagnose(
            peer: "peer6.lab",
            record: (
                "destination-dual-stack-host-nd-drop",
                "the destination's firewall accepts TCP 4242 and drops everything else, ICMPv6 neighbour discovery too; the peer has only IPv6",
                "firewall", "firewall-blocks-inbound-ipv6"
            ))
        let fw = try #require(f["firewall"])
        #expect(fw["cause"] as? String == "firewall-blocks-inbound-ipv6", "\(fw)")
        #expect(fw["status"] as? String == "fail", "the peer has only IPv6 to come in on: \(fw)")
        let summary = fw["summary"] as? String ?? ""
        #expect(summary.contains("neighbour discovery") && summary.contains("inet pdhost input: policy drop"), "\(fw)")
        let advice = (fw["advice"] as? [String] ?? []).joined(separator: "\n")
        #expect(advice.contains("ICMPv6 types 133–137"), "\(advice)")
        #expect(advice.contains("sudo nft insert rule inet pdhost input icmpv6 type 133-137 accept"), "\(advice)")
        // A peer with IPv4 too still gets in: a warning.
        #expect(try w.diagnose(peer: Self.there4)["firewall"]?["status"] as? String == "warn")
        // The repair runs the advised rule, and the other computer gets in for real.
        let fixed = try #require(try w.diagnose(peer: "peer6.lab", fix: true)["firewall"])
        #expect(((fixed["repairs"] as? [[String: Any]])?.first?["outcome"]) as? String == "fixed", "\(fixed)")
        let rules = try w.lab.exec(w.here, [NetworkLab.nft!, "list", "chain", "inet", "pdhost", "input"]).output
        #expect(rules.contains("icmpv6 type 133-137 accept") || rules.contains("nd-router-solicit-nd-redirect"), "\(rules)")
        #expect(try w.connectFromThere(Self.here6) == "connected", "the repair works")
        #expect(try w.diagnose(peer: "peer6.lab")["firewall"]?["status"] as? String == "pass")
    }

    @Test func anIP6TableRejectingIsNamedAsAWarningForADualStackPeer() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        try w.lab.nft(
            w.here,
            """
            table ip6 pdhost6 {
              chain input {
                type filter hook input priority 0; policy accept;
                tcp dport 4242 reject
              }
            }

            """)
        #expect(try w.connectFromThere(Self.here4) == "connected")
        #expect(try w.connectFromThere(Self.here6) != "connected")
        // The shell twin asks each family.
        let probe6 = try w.lab.exec(
            w.here, [portdoctorBinary, "probe", "firewall", "--port", "4242", "--family", "ipv6", "--format", "json"])
        #expect(probe6.status == 1, "\(probe6.output)")
        #expect(probe6.output.contains("\"family\" : \"ipv6\"") || probe6.output.contains("\"family\": \"ipv6\""))
        #expect(
            probe6.output.contains("\"decision\": \"reject\"") || probe6.output.contains("\"decision\" : \"reject\""))
        #expect(try w.lab.exec(w.here, [portdoctorBinary, "probe", "firewall", "--port", "4242"]).status == 0)
        let f = try w.diagnose(peer: Self.there4)
        let fw = try #require(f["firewall"])
        #expect(fw["cause"] as? String == "firewall-blocks-inbound-ipv6", "\(fw)")
        #expect(fw["status"] as? String == "warn", "it still gets in over IPv4: \(fw)")
        #expect(
            (fw["advice"] as? [String])?.first?.contains("nft insert rule ip6 pdhost6 input tcp dport 4242 accept")
                == true, "\(fw)")
    }

    @Test func healthyDualStackRaisesNoIPv6Alarm() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        #expect(try w.connectFromThere(Self.here4) == "connected")
        #expect(try w.connectFromThere(Self.here6) == "connected")
        try w.peerName("peer.lab", addresses: [Self.there6, Self.there4])
        let f = try w.diagnose(peer: "peer.lab")
        #expect(f["firewall"]?["status"] as? String == "pass", "\(f["firewall"] ?? [:])")
        #expect((f["firewall"]?["summary"] as? String)?.contains("over IPv4 and IPv6") == true)
        #expect(f["listener"]?["status"] as? String == "pass", "\(f["listener"] ?? [:])")
        for (id, c) in f {
            if let cause = c["cause"] as? String { #expect(!Self.ipv6Causes.contains(cause), "\(id): \(c)") }
        }
    }

    @Test func anIPv4OnlyListenerIsNamedForAnIPv6OnlyPeer() throws {
        let w = try World(listenOn: "0.0.0.0")
        defer { w.tearDown() }
        #expect(try w.connectFromThere(Self.here4) == "connected")
        #expect(try w.connectFromThere(Self.here6) == "ConnectionRefusedError")
        try w.peerName("peer6.lab", addresses: [Self.there6])
        let f = try w.diagnose(peer: "peer6.lab")
        let l = try #require(f["listener"])
        #expect(l["cause"] as? String == "listener-ipv4-only", "\(l)")
        #expect((l["summary"] as? String)?.contains("peer6.lab has only IPv6 addresses") == true, "\(l)")
        // The same listener for a peer with an IPv4 address too: no alarm.
        try w.peerName("peer.lab", addresses: [Self.there6, Self.there4])
        #expect(try w.diagnose(peer: "peer.lab")["listener"]?["status"] as? String == "pass")
    }

    /// ip6tables rules, through either backend: the IPv6 verdict reads the IPv6 tables (ip6tables-nft's
    /// in nft's ruleset, ip6tables-legacy's from its own save tool) and opens them with ip6tables.
    @Test(arguments: [
        ("ip6tables-nft", "sudo ip6tables -I INPUT"), ("ip6tables-legacy", "sudo ip6tables-legacy -I INPUT"),
    ])
    func ip6tablesDroppingIPv6IsNamed(_ tool: String, _ fix: String) throws {
        let path = "/usr/sbin/\(tool)"
        try #require(
            FileManager.default.isExecutableFile(atPath: path), "\(tool) is missing: run .ci/install-deps --test")
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        let added = try w.lab.exec(w.here, [path, "-A", "INPUT", "-p", "tcp", "--dport", "4242", "-j", "DROP"])
        try #require(added.status == 0, "\(tool) -A INPUT failed")
        #expect(try w.connectFromThere(Self.here4) == "connected")
        #expect(try w.connectFromThere(Self.here6) != "connected")
        let f = try w.diagnose(peer: Self.there4)
        let fw = try #require(f["firewall"])
        #expect(fw["cause"] as? String == "firewall-blocks-inbound-ipv6", "\(fw)")
        #expect((fw["advice"] as? [String])?.first?.contains(fix) == true, "\(fw)")
    }

    @Test func aNamePointingAtTheKernelsTemporaryAddressIsNamed() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        let temporary = try w.temporaryAddress()
        try w.peerName("home.lab", addresses: [temporary])
        let f = try w.diagnose(peer: Self.there4, publicName: "home.lab")
        let a = try #require(f["address"])
        #expect(a["cause"] as? String == "ipv6-address-temporary", "\(a)")
        #expect((a["summary"] as? String)?.contains("temporary (privacy) address") == true, "\(a)")
        #expect((a["advice"] as? [String])?.first?.contains(Self.here6) == true, "the stable address: \(a)")
        // The stable address: no alarm.
        try w.peerName("home.lab", addresses: [Self.here6])
        #expect(try w.diagnose(peer: Self.there4, publicName: "home.lab")["address"]?["status"] as? String == "pass")
    }

    @Test func aPeerNameWhoseIPv6AddressIsSilentIsNamedFromTheSource() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        // The other computer listens on both families, and its firewall drops IPv6 TCP 4242.
        try w.lab.start(w.there, [portdoctorBinary, "bench", "hold-listener", "--port", "4242", "--address", "::"])
        try w.lab.nft(
            w.there,
            """
            table inet pdpeer {
              chain input {
                type filter hook input priority 0; policy accept;
                meta nfproto ipv6 tcp dport 4242 drop
              }
            }

            """)
        try w.peerName("peer.lab", addresses: [Self.there6, Self.there4])
        try w.lab.waitUntilListening(w.there, 4242)
        let f = try w.diagnose(
            peer: "peer.lab", source: true,
            record: ("source-dual-stack-peer-ipv6-silent", "the peer's name has A and AAAA records; its firewall drops IPv6 TCP 4242",
                     "reach-peer", "peer-ipv6-unreachable"))
        let r = try #require(f["reach-peer"])
        #expect(r["cause"] as? String == "peer-ipv6-unreachable", "\(r)")
        #expect((r["summary"] as? String)?.contains("IPv6 address \(Self.there6) does not answer") == true, "\(r)")
    }

    @Test func theRepairOpensIPv6TooAndTheOtherComputerGetsIn() throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        try w.lab.nft(
            w.here,
            """
            table ip6 pdhost6 {
              chain input {
                type filter hook input priority 0; policy accept;
                tcp dport 4242 drop
              }
            }

            """)
        #expect(try w.connectFromThere(Self.here6) != "connected")
        let f = try w.diagnose(peer: Self.there4, fix: true)
        let fw = try #require(f["firewall"])
        #expect(fw["status"] as? String == "pass", "\(fw)")
        #expect(((fw["repairs"] as? [[String: Any]])?.first?["outcome"]) as? String == "fixed", "\(fw)")
        #expect(try w.connectFromThere(Self.here6) == "connected", "for real, over IPv6")
    }

    /// A DS-Lite-like line: IPv4 only through the provider's NAT (100.64.0.0/10), and a global IPv6
    /// address on this computer. The diagnosis names the provider's NAT and points at the IPv6 way
    /// in; the IPv4-only service raises no IPv6 cause of its own (the other computer has IPv4).
    @Test func behindTheProvidersNATTheIPv6WayInIsAdvised() throws {
        var setup = FaultMatrix.Setup(topology: .cgnat, role: .destination)
        setup.after.append { w in
            try w.lab.ip("-n", w.home.lan, "-6", "addr", "add", "2001:db8:60::2/64", "dev", w.home.lanIf, "nodad")
        }
        let world = FaultMatrix.World()
        defer { world.tearDown() }
        try world.build(setup)
        let r = try world.diagnose()
        let report = try #require(
            try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "not JSON: \(r.output)")
        let checks = report["checks"] as? [[String: Any]] ?? []
        let forward = try #require(checks.first { $0["id"] as? String == "port-forward" })
        #expect(forward["cause"] as? String == "cgnat", "\(forward)")
        let advice = (forward["advice"] as? [String] ?? []).joined(separator: "\n")
        #expect(advice.contains("Open a pinhole for TCP 4242 to 2001:db8:60::2"), "\(advice)")
        #expect(advice.contains("listens on IPv4 only"), "\(advice)")
        for c in checks {
            if let cause = c["cause"] as? String { #expect(!Self.ipv6Causes.contains(cause), "\(c)") }
        }
    }

    /// The evaluator's verdict for each family against a real connect over that family, on rulesets
    /// that treat the families differently (nft `inet` with family matches, `ip` and `ip6` tables,
    /// header matches of one family, policies).
    static let familyRulesets: [String] = [
        "table inet t { chain input { type filter hook input priority 0; policy accept;\n meta nfproto ipv6 tcp dport 4242 drop\n }\n}",
        "table inet t { chain input { type filter hook input priority 0; policy accept;\n meta nfproto ipv4 tcp dport 4242 drop\n }\n}",
        "table ip6 t { chain input { type filter hook input priority 0; policy accept;\n tcp dport 4242 reject\n }\n}",
        "table ip t { chain input { type filter hook input priority 0; policy accept;\n tcp dport 4242 drop\n }\n}",
        "table inet t { chain input { type filter hook input priority 0; policy drop;\n ct state established,related accept\n"
            + " ip protocol tcp tcp dport 4242 accept\n }\n}",
        "table inet t { chain input { type filter hook input priority 0; policy drop;\n ct state established,related accept\n"
            + " icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert } accept\n ip6 nexthdr tcp tcp dport 4242 accept\n }\n}",
        "table inet t { chain input { type filter hook input priority 0; policy accept;\n"
            + " ip6 saddr 2001:db8:70::/64 tcp dport 4242 accept\n ip saddr 10.231.70.0/24 tcp dport 4242 accept\n"
            + " tcp dport 4242 drop\n }\n}",
        "table inet t { chain input { type filter hook input priority 0; policy accept;\n"
            + " ip6 saddr 2001:db8:99::/64 tcp dport 4242 accept\n ip saddr 10.231.70.0/24 tcp dport 4242 accept\n"
            + " tcp dport 4242 drop\n }\n}",
    ]

    /// A policy drop that lets no ICMPv6 in: neighbour discovery fails, so nothing gets in over IPv6,
    /// TCP 4242 accepted or not. The TCP packet's verdict is allow; `neighbour_discovery` says drop.
    static let noNeighbourDiscovery = familyRulesets.count

    static let allFamilyRulesets =
        familyRulesets + [
            "table inet t { chain input { type filter hook input priority 0; policy drop;\n ct state established,related accept\n"
                + " ip6 nexthdr tcp tcp dport 4242 accept\n }\n}"
        ]

    @Test(arguments: Self.allFamilyRulesets.indices)
    func theVerdictForEachFamilyAgreesWithARealConnect(_ index: Int) throws {
        let w = try World(listenOn: "::")
        defer { w.tearDown() }
        try w.lab.nft(w.here, Self.allFamilyRulesets[index] + "\n")
        for (family, here, there) in [("ipv4", Self.here4, Self.there4), ("ipv6", Self.here6, Self.there6)] {
            let probe = try w.lab.exec(
                w.here,
                [
                    portdoctorBinary, "probe", "firewall", "--port", "4242", "--family", family, "--remote", there,
                    "--format", "json",
                ])
            let verdict = try #require(
                try JSONSerialization.jsonObject(with: Data(probe.output.utf8)) as? [String: Any], "\(probe.output)")
            // Over IPv6 the connection needs neighbour discovery to get in as well as the TCP packet.
            let nd = verdict["neighbour_discovery"] as? [String: Any]
            let ndDecision = nd?["decision"] as? String ?? "allow"
            let predicted = ndDecision == "allow" ? verdict["decision"] as? String : ndDecision
            let real = try w.connectFromThere(here)
            let agrees = (predicted == "allow") == (real == "connected")
            #expect(
                agrees, "ruleset \(index), \(family): predicted \(predicted ?? "?"), the real connect: \(real)")
            #expect(verdict["family"] as? String == family)
            #expect((nd != nil) == (family == "ipv6"), "neighbour discovery is IPv6's alone: \(verdict)")
            if index == Self.noNeighbourDiscovery && family == "ipv6" {
                #expect(verdict["decision"] as? String == "allow", "the TCP packet itself: \(verdict)")
                #expect(nd?["rule"] as? String == "inet t input: policy drop", "\(verdict)")
                #expect(probe.status == 1, "nothing gets in over IPv6: the probe's exit status says so")
            }
        }
    }
}
