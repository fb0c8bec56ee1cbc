import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The firewall ground truth on rulesets made by the real front-ends: ufw (on iptables-nft),
/// firewalld (nftables backend, its own D-Bus), iptables-nft and iptables-legacy, each driven through
/// its own command line inside the server namespace. The machine's own configuration stays untouched:
/// ufw runs in a private mount namespace with copies of its folders bound over /etc/ufw, /lib/ufw and
/// /etc/default/ufw; firewalld gets copies of /etc/firewalld and /usr/lib/firewalld and a private
/// dbus-daemon. Then, as in FirewallGroundTruthLabTests: predict with `portdoctor probe firewall`,
/// prove with a real connect.
///
/// With PORTDOCTOR_RECORD_FIREWALLS=<folder>, each ruleset is also saved there (nft -j list ruleset,
/// iptables-nft-save, ip6tables-nft-save, iptables-legacy-save) with a manifest, which is how
/// Tests/ProbesTests/Fixtures/frontends was recorded.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct FirewallFrontEndLabTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var tool: String  // the front-end that makes the rules, and the `tool` portdoctor must name
        var steps: [[String]]  // each: a program (ufw, firewall-cmd, iptables-nft, …) and its arguments
        var expected: String
        /// The same question from the client's IPv6 address (nil: not asked), for the ip6 tables and
        /// their ICMPv6 housekeeping rules.
        var expected6: String? = nil
        var port = 4242
        var testDescription: String { name }
        var slug: String {
            String(name.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" })
                .split(separator: "-").joined(separator: "-")
        }
    }

    static let client = "10.231.22.1", server = "10.231.22.2", clientNet = "10.231.22.0/24"
    static let client6 = "fd00:231:22::1", server6 = "fd00:231:22::2"

    static func ufw(_ name: String, _ steps: [[String]], _ expected: String, v6: String? = nil) -> Case {
        Case(name: "ufw: \(name)", tool: "ufw", steps: steps.map { ["ufw"] + $0 }, expected: expected, expected6: v6)
    }
    static func firewalld(_ name: String, _ steps: [[String]], _ expected: String, v6: String? = nil) -> Case {
        Case(
            name: "firewalld: \(name)", tool: "firewalld", steps: steps.map { ["firewall-cmd"] + $0 },
            expected: expected, expected6: v6)
    }
    static func iptablesNFT(_ name: String, _ steps: [[String]], _ expected: String, v6: String? = nil) -> Case {
        Case(
            name: "iptables-nft: \(name)", tool: "iptables-nft",
            steps: steps.map { $0.first == "ip6" ? ["ip6tables-nft"] + $0.dropFirst() : ["iptables-nft"] + $0 },
            expected: expected, expected6: v6)
    }
    static func iptablesLegacy(_ name: String, _ steps: [[String]], _ expected: String) -> Case {
        Case(
            name: "iptables-legacy: \(name)", tool: "iptables", steps: steps.map { ["iptables-legacy"] + $0 },
            expected: expected)
    }

    static let cases: [Case] = [
        ufw("default install, enabled", [], "drop", v6: "drop"),
        ufw("allow 4242", [["allow", "4242"]], "allow", v6: "allow"),
        ufw("ssh only", [["allow", "22/tcp"]], "drop"),
        ufw("default allow, deny 4242", [["default", "allow", "incoming"], ["deny", "4242"]], "drop"),
        ufw(
            "default allow, reject 4242", [["default", "allow", "incoming"], ["reject", "4242/tcp"]], "reject",
            v6: "reject"),
        ufw(
            "allow 4242 from the client's network",
            [["allow", "from", clientNet, "to", "any", "port", "4242", "proto", "tcp"]], "allow", v6: "drop"),
        ufw(
            "allow 4242 from another network only",
            [["allow", "from", "192.0.2.0/24", "to", "any", "port", "4242", "proto", "tcp"]], "drop"),
        ufw(
            "deny log 4242 (logs, then drops)", [["default", "allow", "incoming"], ["deny", "log", "4242/tcp"]], "drop"),
        ufw("limit 4242 (a first connection passes)", [["limit", "4242/tcp"]], "allow", v6: "allow"),
        ufw("logging full, default reject", [["logging", "full"], ["default", "reject", "incoming"]], "reject"),
        ufw("allow a port range", [["allow", "4000:4999/tcp"]], "allow"),
        ufw(
            "allow 4242, then deny the client inserted first",
            [["allow", "4242/tcp"], ["insert", "1", "deny", "from", client]], "drop", v6: "allow"),

        firewalld("default public zone", [], "reject", v6: "reject"),
        firewalld("add-port 4242", [["--add-port=4242/tcp"]], "allow", v6: "allow"),
        firewalld("permanent add-port and reload", [["--permanent", "--add-port=4242/tcp"], ["--reload"]], "allow"),
        firewalld("default zone drop", [["--set-default-zone=drop"]], "drop", v6: "drop"),
        firewalld("default zone block", [["--set-default-zone=block"]], "reject"),
        firewalld("default zone trusted", [["--set-default-zone=trusted"]], "allow"),
        firewalld(
            "the client's network in the trusted zone", [["--zone=trusted", "--add-source=\(clientNet)"]], "allow"),
        firewalld(
            "the client's network in the drop zone, 4242 open in public",
            [["--add-port=4242/tcp"], ["--zone=drop", "--add-source=\(clientNet)"]], "drop"),
        firewalld(
            "rich rule: 4242 from the client's network",
            [
                [
                    "--add-rich-rule=rule family=\"ipv4\" source address=\"\(clientNet)\" port port=\"4242\" protocol=\"tcp\" accept"
                ]
            ],
            "allow", v6: "reject"),
        firewalld(
            "rich rule: 4242 from another network only",
            [
                [
                    "--add-rich-rule=rule family=\"ipv4\" source address=\"192.0.2.0/24\" port port=\"4242\" protocol=\"tcp\" accept"
                ]
            ],
            "reject"),
        firewalld(
            "rich rule logs then drops, though the port is open",
            [
                ["--add-port=4242/tcp"],
                [
                    "--add-rich-rule=rule family=\"ipv4\" port port=\"4242\" protocol=\"tcp\" log prefix=\"pd \" level=\"info\" drop"
                ],
            ], "drop"),
        firewalld(
            "rich rule rejects with tcp-reset",
            [
                ["--set-default-zone=trusted"],
                [
                    "--zone=trusted",
                    "--add-rich-rule=rule family=\"ipv4\" port port=\"4242\" protocol=\"tcp\" reject type=\"tcp-reset\"",
                ],
            ], "reject"),
        firewalld(
            "ICMP blocks and block inversion, 4242 open",
            [["--add-icmp-block=echo-request"], ["--add-icmp-block-inversion"], ["--add-port=4242/tcp"]], "allow",
            v6: "allow"),
        firewalld("log denied", [["--set-log-denied=all"]], "reject"),
        firewalld(
            "public zone target DROP", [["--permanent", "--zone=public", "--set-target=DROP"], ["--reload"]], "drop"),
        firewalld(
            "a service of its own",
            [
                ["--permanent", "--new-service=pd"], ["--permanent", "--service=pd", "--add-port=4242/tcp"],
                ["--reload"],
                ["--add-service=pd"],
            ], "allow"),

        iptablesNFT(
            "stateful, NEW 4242 accepted, ICMP housekeeping",
            [
                ["-P", "INPUT", "DROP"], ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
                ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                ["-A", "INPUT", "-p", "icmp", "--icmp-type", "echo-request", "-j", "ACCEPT"],
                ["ip6", "-A", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "neighbour-solicitation", "-j", "ACCEPT"],
                ["-A", "INPUT", "-p", "tcp", "--dport", "4242", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"],
                ["ip6", "-P", "INPUT", "DROP"],
            ], "allow", v6: "drop"),
        iptablesNFT(
            "the classic: ssh only, reject the rest",
            [
                ["-A", "INPUT", "-m", "state", "--state", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
                ["-A", "INPUT", "-p", "icmp", "-j", "ACCEPT"], ["-A", "INPUT", "-i", "lo", "-j", "ACCEPT"],
                [
                    "-A", "INPUT", "-p", "tcp", "-m", "state", "--state", "NEW", "-m", "tcp", "--dport", "22", "-j",
                    "ACCEPT",
                ],
                ["-A", "INPUT", "-j", "REJECT", "--reject-with", "icmp-host-prohibited"],
            ], "reject"),
        iptablesNFT(
            "log with a comment, then drop",
            [
                [
                    "-A", "INPUT", "-p", "tcp", "--dport", "4242", "-m", "comment", "--comment", "no 4242", "-j", "LOG",
                    "--log-prefix", "pd ",
                ],
                ["-A", "INPUT", "-p", "tcp", "--dport", "4242", "-j", "DROP"],
            ], "drop"),
        iptablesNFT(
            "multiport from the client's network",
            [
                ["-P", "INPUT", "DROP"],
                [
                    "-A", "INPUT", "-s", clientNet, "-p", "tcp", "-m", "multiport", "--dports", "22,4200:4300", "-j",
                    "ACCEPT",
                ],
            ], "allow"),
        iptablesNFT(
            "rate-limited logging, drop policy",
            [["-P", "INPUT", "DROP"], ["-A", "INPUT", "-m", "limit", "--limit", "5/min", "-j", "LOG"]], "drop"),
        iptablesNFT(
            "reject with tcp-reset",
            [["-A", "INPUT", "-p", "tcp", "--dport", "4242", "-j", "REJECT", "--reject-with", "tcp-reset"]], "reject"),
        iptablesNFT(
            "addrtype LOCAL into a user chain",
            [
                ["-N", "svc"], ["-A", "svc", "-p", "tcp", "--dport", "4242", "-j", "ACCEPT"],
                ["-A", "svc", "-j", "RETURN"],
                ["-A", "INPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", "svc"], ["-P", "INPUT", "DROP"],
            ], "allow"),

        iptablesLegacy("drop 4242", [["-A", "INPUT", "-p", "tcp", "--dport", "4242", "-j", "DROP"]], "drop"),
        iptablesLegacy(
            "stateful, NEW 4242 accepted",
            [
                ["-P", "INPUT", "DROP"],
                ["-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED", "-j", "ACCEPT"],
                ["-A", "INPUT", "-p", "tcp", "--dport", "4242", "-m", "conntrack", "--ctstate", "NEW", "-j", "ACCEPT"],
            ], "allow"),
    ]

    @Test func atLeastTwentyRulesetsFromUfwFirewalldAndIptablesNFT() {
        #expect(Self.cases.filter { ["ufw", "firewalld", "iptables-nft"].contains($0.tool) }.count >= 20)
    }

    static func program(_ names: String...) -> String? {
        for n in names {
            for dir in ["/usr/sbin", "/sbin", "/usr/bin", "/bin"]
            where FileManager.default.isExecutableFile(atPath: "\(dir)/\(n)") {
                return "\(dir)/\(n)"
            }
        }
        return nil
    }

    /// One case's front-end, set up and driven inside the server namespace.
    final class FrontEnd {
        let lab: NetworkLab
        let ns: String
        let dir: URL
        var daemons: [Process] = []

        init(lab: NetworkLab, ns: String, dir: URL) {
            self.lab = lab
            self.ns = ns
            self.dir = dir
        }

        var bus: String { "unix:path=\(dir.path)/bus" }

        /// ufw: its folders copied, bound over the real ones in a private mount namespace, and its
        /// iptables made iptables-nft whatever this machine's alternatives say.
        func ufw(_ steps: [[String]]) throws {
            let copies = [("/etc/ufw", "etc-ufw"), ("/lib/ufw", "lib-ufw"), ("/etc/default/ufw", "default-ufw")]
            for (from, to) in copies {
                try NetworkLab.run(["/bin/cp", "-a", from, dir.appendingPathComponent(to).path])
            }
            var script = "set -e\n"
            for (from, to) in copies { script += "mount --bind '\(dir.path)/\(to)' '\(from)'\n" }
            script += """
                real=$(readlink -f /usr/sbin/iptables); nft=$(readlink -f /usr/sbin/iptables-nft)
                if [ "$real" != "$nft" ]; then mount --bind "$nft" "$real"; fi
                real6=$(readlink -f /usr/sbin/ip6tables)
                if [ "$real6" != "$nft" ]; then mount --bind "$nft" "$real6"; fi

                """
            for s in steps + [["ufw", "--force", "enable"]] {
                script += s.map { "'\($0.replacingOccurrences(of: "'", with: "'\\''"))'" }.joined(separator: " ") + "\n"
            }
            try NetworkLab.run([
                NetworkLab.ip!, "netns", "exec", ns, "/usr/bin/unshare", "-m", "--propagation", "private", "/bin/bash",
                "-c", script,
            ])
        }

        /// firewalld with copies of its configuration and a dbus-daemon of its own.
        func firewalld(_ steps: [[String]]) throws {
            try NetworkLab.run(["/bin/cp", "-a", "/etc/firewalld", dir.appendingPathComponent("etc").path])
            try NetworkLab.run(["/bin/cp", "-a", "/usr/lib/firewalld", dir.appendingPathComponent("lib").path])
            // A bus for root alone: the system bus's own policy files are not needed.
            try """
            <!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
             "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
            <busconfig>
              <type>system</type>
              <listen>\(bus)</listen>
              <auth>EXTERNAL</auth>
              <policy context="default">
                <allow user="root"/>
                <allow own="*"/>
                <allow send_destination="*"/>
                <allow receive_sender="*"/>
              </policy>
            </busconfig>

            """.write(to: dir.appendingPathComponent("bus.conf"), atomically: true, encoding: .utf8)
            guard let dbus = FirewallFrontEndLabTests.program("dbus-daemon"),
                let firewalld = FirewallFrontEndLabTests.program("firewalld")
            else {
                throw NetworkLab.Failure(
                    description: "dbus-daemon or firewalld is missing: run .ci/install-deps --test")
            }
            try daemon([dbus, "--config-file=\(dir.path)/bus.conf", "--nofork", "--nopidfile"])
            try waitFor("the private D-Bus") { FileManager.default.fileExists(atPath: "\(self.dir.path)/bus") }
            try daemon([
                "/usr/bin/env", "DBUS_SYSTEM_BUS_ADDRESS=\(bus)", firewalld, "--nofork", "--nopid",
                "--system-config", "\(dir.path)/etc", "--default-config", "\(dir.path)/lib",
                "--log-target", "file", "--log-file", "\(dir.path)/firewalld.log",
            ])
            try waitFor("firewalld") { (try? self.firewallCmd(["--state"]))?.contains("running") == true }
            for s in steps { _ = try firewallCmd(Array(s.dropFirst())) }
        }

        func firewallCmd(_ args: [String]) throws -> String {
            try NetworkLab.run(
                [NetworkLab.ip!, "netns", "exec", ns, "/usr/bin/env", "DBUS_SYSTEM_BUS_ADDRESS=\(bus)", "firewall-cmd"]
                    + args)
        }

        func daemon(_ argv: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: NetworkLab.ip!)
            p.arguments = ["netns", "exec", ns] + argv
            p.standardOutput = FileHandle.nullDevice
            p.standardError = FileHandle.nullDevice
            try p.run()
            daemons.append(p)
        }

        /// Bounded: a daemon that never comes up fails the case with its log, it does not hang the suite.
        func waitFor(_ what: String, _ ready: () -> Bool) throws {
            for _ in 0..<240 {
                if ready() { return }
                if let dead = daemons.first(where: { !$0.isRunning }) {
                    throw NetworkLab.Failure(description: "\(what): \(dead.arguments ?? []) exited\n\(log)")
                }
                usleep(250_000)
            }
            throw NetworkLab.Failure(description: "\(what) did not come up within a minute\n\(log)")
        }

        var log: String {
            (try? String(contentsOf: dir.appendingPathComponent("firewalld.log"), encoding: .utf8)) ?? ""
        }

        func stop() {
            for p in daemons.reversed() where p.isRunning {
                kill(p.processIdentifier, SIGTERM)
                for _ in 0..<200 where p.isRunning { usleep(50_000) }
                if p.isRunning { kill(p.processIdentifier, SIGKILL) }
            }
            daemons = []
        }
    }

    @Test func realFrontEndsPredictedThenProven() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let clientNS = try lab.namespace("c")
        let serverNS = try lab.namespace("s")
        try lab.link(clientNS, "\(Self.client)/24", serverNS, "\(Self.server)/24")
        for ns in [clientNS, serverNS] {
            let veth = try NetworkLab.run([NetworkLab.ip!, "-n", ns, "-o", "link", "show", "type", "veth"])
            let name = try #require(veth.split(separator: ":").dropFirst().first?.split(separator: "@").first)
            let address = ns == clientNS ? Self.client6 : Self.server6
            try lab.ip(
                "-n", ns, "addr", "add", "\(address)/64", "dev", name.trimmingCharacters(in: .whitespaces), "nodad")
        }
        // One socket for both families on each port.
        try lab.start(
            serverNS,
            [
                "/usr/bin/env", "python3", "-c",
                """
                import socket, time
                ss = []
                for p in (22, 4242):
                    s = socket.socket(socket.AF_INET6); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0); s.bind(('::', p)); s.listen(64); ss.append(s)
                time.sleep(1200)
                """,
            ])
        let legacy = Self.program("iptables-legacy")
        let record = ProcessInfo.processInfo.environment["PORTDOCTOR_RECORD_FIREWALLS"].map {
            URL(fileURLWithPath: $0)
        }
        var manifest = "# slug\ttool\tport\tremote\texpected\n"
        var unknowns: [String] = []
        try lab.waitUntilListening(serverNS, 4242)

        for c in Self.cases {
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(lab.prefix)-\(c.slug)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            let frontEnd = FrontEnd(lab: lab, ns: serverNS, dir: dir)
            defer {
                frontEnd.stop()
                try? FileManager.default.removeItem(at: dir)
            }
            _ = try lab.exec(serverNS, [NetworkLab.nft!, "flush", "ruleset"])
            if let legacy {
                for args in [["-F"], ["-X"], ["-P", "INPUT", "ACCEPT"]] { _ = try lab.exec(serverNS, [legacy] + args) }
            }
            do {
                switch c.tool {
                case "ufw": try frontEnd.ufw(c.steps)
                case "firewalld": try frontEnd.firewalld(c.steps)
                default:
                    for s in c.steps {
                        guard let p = Self.program(s[0]) else {
                            throw NetworkLab.Failure(description: "\(s[0]) is missing: run .ci/install-deps --test")
                        }
                        try NetworkLab.run([NetworkLab.ip!, "netns", "exec", serverNS, p] + s.dropFirst())
                    }
                }
            } catch {
                Issue.record("\(c.name): could not make the ruleset: \(error)")
                continue
            }

            if let record {
                let saves: [(String, [String])] = [
                    ("nft.json", [NetworkLab.nft!, "-j", "list", "ruleset"]),
                    ("iptables-nft-save.txt", [Self.program("iptables-nft-save") ?? "true"]),
                    ("ip6tables-nft-save.txt", [Self.program("ip6tables-nft-save") ?? "true"]),
                    ("iptables-legacy-save.txt", [Self.program("iptables-legacy-save") ?? "true"]),
                ]
                for (suffix, argv) in saves {
                    let out = try lab.exec(serverNS, argv).output
                    if suffix.hasSuffix(".txt") && !out.contains("\n-A ") && !out.contains("\n:") { continue }
                    // Counters and the save tools' time stamps change from run to run.
                    let stable = out.split(separator: "\n", omittingEmptySubsequences: false)
                        .filter { !$0.hasPrefix("# Generated") && !$0.hasPrefix("# Completed") }
                        .joined(separator: "\n")
                    try stable.write(
                        to: record.appendingPathComponent("\(c.slug).\(suffix)"), atomically: true, encoding: .utf8)
                }
                manifest += "\(c.slug)\t\(c.tool)\t\(c.port)\t\(Self.client)\t\(c.expected)\n"
            }

            var questions = [(Self.client, Self.server, c.expected)]
            if let v6 = c.expected6 {
                questions.append((Self.client6, Self.server6, v6))
                if record != nil { manifest += "\(c.slug)\t\(c.tool)\t\(c.port)\t\(Self.client6)\t\(v6)\n" }
            }
            for (from, to, expected) in questions {
                try ask(lab, c, from: from, to: to, expected: expected, clientNS, serverNS, &unknowns)
            }
        }
        #expect(unknowns.count <= 2, "too many undecided rulesets: \(unknowns)")
        if let record {
            try manifest.write(to: record.appendingPathComponent("manifest.tsv"), atomically: true, encoding: .utf8)
        }
    }

    /// Predicts with `probe firewall` in the server namespace, then connects from the client's.
    func ask(
        _ lab: NetworkLab, _ c: Case, from client: String, to server: String, expected: String, _ clientNS: String,
        _ serverNS: String, _ unknowns: inout [String]
    ) throws {
        let label = "\(c.name) (from \(client))"
        let (_, predictedText) = try lab.exec(
            serverNS, [portdoctorBinary, "probe", "firewall", "--port", String(c.port), "--remote", client, "--json"])
        let predicted = try #require(
            try JSONSerialization.jsonObject(with: Data(predictedText.utf8)) as? [String: Any],
            "\(label): \(predictedText)")
        let decision = predicted["decision"] as? String ?? "?"
        let said = "\(predicted["rule"] ?? predicted["note"] ?? "")"
        if decision == "unknown" {
            // Allowed, rarely: when it names the rule it cannot evaluate.
            unknowns.append("\(label): \(said)")
            #expect(said.contains("handle"), "\(label): unknown without naming the rule: \(said)")
        } else {
            #expect(decision == expected, "\(label): predicted \(decision) (\(said))")
            #expect(predicted["tool"] as? String == c.tool, "\(label): tool \(predicted["tool"] ?? "none")")
        }

        // Over IPv6 the kernel takes the first SYN's ICMPv6 "administratively prohibited" answer only
        // from the retransmitted SYN, a second later: wait longer there.
        let timeout = client.contains(":") && expected == "reject" ? "4" : "1"
        let (_, connectText) = try lab.exec(
            clientNS, [portdoctorBinary, "probe", "connect", server, String(c.port), "--timeout", timeout, "--json"])
        let outcome = try JSONSerialization.jsonObject(with: Data(connectText.utf8)) as? [String: Any]
        let wire = outcome?["status"] as? String ?? "?"
        let agrees =
            switch expected {
            case "allow": wire == "connected"
            case "drop": wire == "timeout"
            // EACCES: the ICMPv6 "administratively prohibited" answer (the connect probe calls it
            // blocked-locally, which is a matter for the connect probe, not this ground truth).
            case "reject": wire == "refused" || wire == "host-unreachable" || outcome?["errno"] as? Int == 13
            default: false
            }
        #expect(agrees, "\(label): expected \(expected), the connection was \(wire)")
        // Over IPv6 a connection that got in had its neighbour solicitation let in too: the front
        // ends' rules must not be read as refusing it (a refused advertisement alone lets it start).
        let nd = predicted["neighbour_discovery"] as? [String: Any]
        #expect((nd != nil) == client.contains(":"), "\(label): neighbour discovery is IPv6's alone")
        if let nd, wire == "connected" {
            #expect(
                nd["decision"] as? String == "allow" || nd["packet"] as? String == "neighbour-advertisement",
                "\(label): connected, yet neighbour discovery predicted \(nd)")
        }
    }
}
