import Foundation
import Testing

/// For each ruleset: load it into a server namespace, predict the verdict for a port with
/// `portdoctor probe firewall` inside that namespace, then really connect from a client namespace.
/// The prediction must be the expected one, and what happened on the wire must agree with it.
@Suite(.serialized, .enabled(if: NetworkLab.shouldRun, "needs root, iproute2 and nftables (always required under CI)"))
struct FirewallGroundTruthLabTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var ruleset: String
        var port: Int = 4242
        var expected: String
        var tool = "nftables"
        var testDescription: String { name }
    }

    static func input(_ body: String, policy: String = "drop", table: String = "inet filter") -> String {
        "table \(table) {\n  chain input {\n    type filter hook input priority 0; policy \(policy);\n\(body)\n  }\n}\n"
    }

    static let cases: [Case] = [
        Case(name: "drop policy, no rules", ruleset: input(""), expected: "drop"),
        Case(name: "accept policy, no rules", ruleset: input("", policy: "accept"), expected: "allow"),
        Case(
            name: "reject with tcp reset", ruleset: input("    tcp dport 4242 reject with tcp reset", policy: "accept"),
            expected: "reject"),
        Case(
            name: "reject with icmpx admin-prohibited",
            ruleset: input("    tcp dport 4242 reject with icmpx type admin-prohibited", policy: "accept"),
            expected: "reject"),
        Case(
            name: "accept before drop",
            ruleset: input("    tcp dport 4242 accept\n    tcp dport 4242 drop", policy: "accept"),
            expected: "allow"),
        Case(
            name: "drop before accept",
            ruleset: input("    tcp dport 4242 drop\n    tcp dport 4242 accept", policy: "accept"),
            expected: "drop"),
        Case(
            name: "jump to a user chain that accepts",
            ruleset: """
                table inet filter {
                  chain services { tcp dport 4242 accept; }
                  chain input { type filter hook input priority 0; policy drop; jump services; }
                }
                """, expected: "allow"),
        Case(
            name: "jump to a user chain that returns, then the policy",
            ruleset: """
                table inet filter {
                  chain services { tcp dport 4242 return; tcp dport 4242 accept; }
                  chain input { type filter hook input priority 0; policy drop; jump services; }
                }
                """, expected: "drop"),
        Case(
            name: "goto a chain that falls through ends the base chain",
            ruleset: """
                table inet filter {
                  chain other { tcp dport 22 accept; }
                  chain input { type filter hook input priority 0; policy drop; goto other; tcp dport 4242 accept; }
                }
                """, expected: "drop"),
        Case(
            name: "a named set of ports",
            ruleset: """
                table inet filter {
                  set allowed { type inet_service; elements = { 22, 4242 } }
                  chain input { type filter hook input priority 0; policy drop; tcp dport @allowed accept; }
                }
                """, expected: "allow"),
        Case(
            name: "a port outside the named set",
            ruleset: """
                table inet filter {
                  set allowed { type inet_service; elements = { 22, 443 } }
                  chain input { type filter hook input priority 0; policy drop; tcp dport @allowed accept; }
                }
                """, expected: "drop"),
        Case(name: "an anonymous set", ruleset: input("    tcp dport { 22, 4242 } accept"), expected: "allow"),
        Case(name: "a port range", ruleset: input("    tcp dport 4000-4999 accept"), expected: "allow"),
        Case(
            name: "source addresses allowed include the client",
            ruleset: input("    ip saddr 10.231.20.0/24 tcp dport 4242 accept"),
            expected: "allow"),
        Case(
            name: "source addresses allowed exclude the client",
            ruleset: input("    ip saddr 192.0.2.0/24 tcp dport 4242 accept"),
            expected: "drop"),
        Case(
            name: "established-only lets no new connection in",
            ruleset: input("    ct state established,related accept"),
            expected: "drop"),
        Case(
            name: "an interface-specific rule (loopback only)", ruleset: input("    iifname \"lo\" accept"),
            expected: "drop"),
        Case(
            name: "two tables: every base chain must accept",
            ruleset: """
                table inet first {
                  chain input { type filter hook input priority -10; policy accept; }
                }
                table inet second {
                  chain input { type filter hook input priority 10; policy accept; tcp dport 4242 drop; }
                }
                """, expected: "drop"),
        Case(
            name: "ufw-shaped chains",
            ruleset: """
                table ip filter {
                  chain ufw-user-input { tcp dport 4242 accept; }
                  chain ufw-before-input { iifname "lo" accept; ct state related,established accept; }
                  chain INPUT { type filter hook input priority 0; policy drop; jump ufw-before-input; jump ufw-user-input; }
                }
                """, expected: "allow", tool: "ufw"),
        Case(
            name: "firewalld-shaped chains",
            ruleset: """
                table inet firewalld {
                  chain filter_IN_public_allow { tcp dport 22 accept; }
                  chain filter_IN_public { jump filter_IN_public_allow; reject with icmpx type admin-prohibited; }
                  chain filter_INPUT { type filter hook input priority 10; policy accept; ct state established,related accept; iifname "lo" accept; jump filter_IN_public; }
                }
                """, expected: "reject", tool: "firewalld"),
        Case(
            name: "firewalld 1.3 shape: ct status, ct state vmap, zone dispatch",
            ruleset: """
                table inet firewalld {
                  chain filter_IN_public_allow {
                    tcp dport 22 ct state { new, untracked } accept
                    tcp dport 4242 ct state { new, untracked } accept
                  }
                  chain filter_IN_public { jump filter_IN_public_allow; reject with icmpx admin-prohibited; }
                  chain filter_INPUT_ZONES { iifname != "lo" goto filter_IN_public; }
                  chain filter_INPUT {
                    type filter hook input priority filter + 10; policy accept;
                    ct state vmap { established : accept, related : accept, invalid : drop }
                    ct status dnat accept
                    iifname "lo" accept
                    jump filter_INPUT_ZONES
                    reject with icmpx admin-prohibited
                  }
                }
                """, expected: "allow", tool: "firewalld"),
        Case(
            name: "a verdict map on ports",
            ruleset: input("    tcp dport vmap { 22 : accept, 4242 : drop }", policy: "accept"),
            expected: "drop"),
    ]

    @Test func atLeastFifteenRulesets() { #expect(Self.cases.count + Self.legacy.count >= 15) }

    /// Legacy iptables rulesets (iptables-legacy-restore format), checked the same way.
    static let legacy: [Case] = [
        Case(
            name: "iptables: drop policy with ssh only",
            ruleset: """
                *filter
                :INPUT DROP [0:0]
                -A INPUT -p tcp -m tcp --dport 22 -j ACCEPT
                COMMIT
                """, expected: "drop", tool: "iptables"),
        Case(
            name: "iptables: multiport through a user chain from the client's network",
            ruleset: """
                *filter
                :INPUT DROP [0:0]
                :services - [0:0]
                -A INPUT -s 10.231.20.0/24 -p tcp -m multiport --dports 4242,5000:5100 -j services
                -A services -p tcp -m tcp --dport 4242 -j ACCEPT
                COMMIT
                """, expected: "allow", tool: "iptables"),
        Case(
            name: "iptables: reject with tcp-reset",
            ruleset: """
                *filter
                :INPUT ACCEPT [0:0]
                -A INPUT -p tcp --dport 4242 -j REJECT --reject-with tcp-reset
                COMMIT
                """, expected: "reject", tool: "iptables"),
        Case(
            name: "iptables: negated source",
            ruleset: """
                *filter
                :INPUT ACCEPT [0:0]
                -A INPUT ! -s 192.168.0.0/16 -p tcp --dport 4242 -j DROP
                COMMIT
                """, expected: "drop", tool: "iptables"),
    ]

    @Test func predictionsMatchRealConnections() throws {
        try NetworkLab.requireAvailable()
        let lab = NetworkLab()
        defer { lab.tearDown() }
        let client = try lab.namespace("c")
        let server = try lab.namespace("s")
        try lab.link(client, "10.231.20.1/24", server, "10.231.20.2/24")
        try lab.start(
            server,
            [
                "/usr/bin/env", "python3", "-c",
                """
                import socket, time
                ss = []
                for p in (22, 4242):
                    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', p)); s.listen(64); ss.append(s)
                time.sleep(120)
                """,
            ])
        try lab.waitUntilListening(server, 4242)
        let restore = ["/usr/sbin/iptables-legacy-restore", "/sbin/iptables-legacy-restore"]
            .first { FileManager.default.isExecutableFile(atPath: $0) }
        if restore == nil && ProcessInfo.processInfo.environment["CI"] != nil {
            Issue.record("iptables-legacy-restore is missing: run .ci/install-deps --test")
        }
        for c in Self.cases + (restore == nil ? [] : Self.legacy) {
            _ = try lab.exec(server, [NetworkLab.nft!, "flush", "ruleset"])
            if let restore { _ = try lab.exec(server, [restore.replacingOccurrences(of: "-restore", with: ""), "-F"]) }
            if c.tool == "iptables" {
                try NetworkLab.run([NetworkLab.ip!, "netns", "exec", server, restore!], input: c.ruleset + "\n")
            } else {
                try lab.nft(server, c.ruleset)
            }
            let (_, predictedText) = try lab.exec(
                server,
                [
                    portdoctorBinary, "probe", "firewall", "--port", String(c.port),
                    "--remote", "10.231.20.1", "--json",
                ])
            let predicted = try #require(
                try JSONSerialization.jsonObject(with: Data(predictedText.utf8)) as? [String: Any],
                "\(c.name): \(predictedText)")
            let decision = predicted["decision"] as? String ?? "?"
            #expect(
                decision == c.expected,
                "\(c.name): predicted \(decision) (\(predicted["rule"] ?? predicted["note"] ?? ""))")
            #expect(predicted["tool"] as? String == c.tool, "\(c.name)")

            let (_, connectText) = try lab.exec(
                client,
                [
                    portdoctorBinary, "probe", "connect", "10.231.20.2", String(c.port),
                    "--timeout", "1", "--json",
                ])
            let wire =
                (try JSONSerialization.jsonObject(with: Data(connectText.utf8)) as? [String: Any])?["status"] as? String
                ?? "?"
            let agrees =
                switch decision {
                case "allow": wire == "connected"
                case "drop": wire == "timeout"
                case "reject": wire == "refused" || wire == "host-unreachable"
                default: false
                }
            #expect(agrees, "\(c.name): predicted \(decision), the connection was \(wire)")
        }
    }
}
