import Foundation
import Testing

@testable import Probes

/// The evaluators on rulesets recorded from the real ufw, firewalld, iptables-nft and iptables-legacy
/// (FirewallFrontEndLabTests with PORTDOCTOR_RECORD_FIREWALLS): the same predictions as in the lab,
/// without root.
@Suite struct FirewallFrontEndTests {
    struct Recorded: CustomTestStringConvertible, Sendable {
        var slug: String, tool: String, port: UInt16, remote: String, expected: String
        var testDescription: String { "\(slug) from \(remote)" }
    }

    static let recorded: [Recorded] = {
        guard let url = Bundle.module.url(forResource: "Fixtures/frontends/manifest", withExtension: "tsv"),
            let text = try? String(contentsOf: url, encoding: .utf8)
        else { return [] }
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.compactMap { line in
            let f = line.split(separator: "\t").map(String.init)
            guard f.count == 5, let port = UInt16(f[2]) else { return nil }
            return Recorded(slug: f[0], tool: f[1], port: port, remote: f[3], expected: f[4])
        }
    }()

    static func file(_ slug: String, _ suffix: String) -> String? {
        let name = "\(slug).\(suffix)"
        let dot = name.lastIndex(of: ".")!
        guard
            let url = Bundle.module.url(
                forResource: "Fixtures/frontends/\(name[..<dot])",
                withExtension: String(name[name.index(after: dot)...]))
        else { return nil }
        return try? String(contentsOf: url, encoding: .utf8)
    }

    /// What `Firewall.linuxVerdict` decides from these outputs.
    static func verdict(_ r: Recorded, withSaves: Bool = true) throws -> FirewallVerdict {
        let q = FirewallQuestion(direction: .inbound, port: r.port, remote: r.remote)
        let json = try #require(file(r.slug, "nft.json"))
        var saves: [(family: String, text: String)] = []
        if withSaves {
            if let s = file(r.slug, "iptables-nft-save.txt") { saves.append(("ip", s)) }
            if let s = file(r.slug, "ip6tables-nft-save.txt") { saves.append(("ip6", s)) }
        }
        let nft = try NFTRuleset(json: Array(json.utf8), iptablesSave: saves).evaluate(q)
        // Recorded for IPv4 only (ip6tables-legacy has tables of its own).
        let legacy =
            r.remote.contains(":") ? nil : file(r.slug, "iptables-legacy-save.txt").map(IPTablesRuleset.init(text:))
        return Firewall.both(nft: nft, legacy: legacy.flatMap { $0.isEmpty ? nil : $0.evaluate(q) })
    }

    @Test func recordedFromEveryFrontEnd() {
        let tools = Dictionary(grouping: Self.recorded, by: \.tool).mapValues(\.count)
        #expect((tools["ufw"] ?? 0) >= 10)
        #expect((tools["firewalld"] ?? 0) >= 10)
        #expect((tools["iptables-nft"] ?? 0) >= 5)
        #expect((tools["iptables"] ?? 0) >= 2)
    }

    @Test(arguments: recorded) func predictsWhatTheLabProved(_ r: Recorded) throws {
        let v = try Self.verdict(r)
        #expect(v.decision.rawValue == r.expected, "\(v.rule ?? v.note ?? "")")
        #expect(v.tool == r.tool)
    }

    /// Without iptables-nft-save, nft's JSON names ufw's conntrack match only: the answer is unknown,
    /// and it names the rule and the match.
    @Test func anXtMatchKnownByNameOnlyIsNamed() throws {
        let r = try #require(Self.recorded.first { $0.slug == "ufw-allow-4242" })
        let v = try Self.verdict(r, withSaves: false)
        #expect(v.decision == .unknown, "\(v.rule ?? "")")
        #expect(v.note?.contains("ip filter ufw-before-input handle") == true, "\(v.note ?? "")")
        #expect(v.note?.contains("xt match conntrack") == true, "\(v.note ?? "")")
    }

    /// Some xt matches decide by their name alone: these rulesets need no iptables-nft-save.
    @Test func xtMatchesDecidedByName() throws {
        for slug in ["iptables-nft-log-with-a-comment-then-drop", "iptables-nft-rate-limited-logging-drop-policy"] {
            let r = try #require(Self.recorded.first { $0.slug == slug })
            #expect(try Self.verdict(r, withSaves: false).decision.rawValue == r.expected, "\(slug)")
        }
    }

    /// An ICMP or ICMPv6 rule cannot match a TCP packet: "does not match", never "unknown".
    @Test func icmpRulesDoNotMatchTCP() throws {
        let json = #"""
            {"nftables": [
              {"chain": {"family": "inet", "table": "t", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
              {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 2, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "icmpv6", "field": "type"}}, "right": {"set": ["nd-neighbor-solicit", "echo-request"]}}},
                {"drop": null}]}},
              {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 3, "expr": [
                {"match": {"op": "!=", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}},
                {"drop": null}]}},
              {"rule": {"family": "inet", "table": "t", "chain": "input", "handle": 4, "expr": [
                {"xt": {"type": "match", "name": "icmp6"}}, {"drop": null}]}}
            ]}
            """#
        let v = try NFTRuleset(json: Array(json.utf8)).evaluate(
            FirewallQuestion(direction: .inbound, port: 4242, remote: "10.1.2.3"))
        #expect(v.decision == .allow, "\(v.rule ?? v.note ?? "")")
    }

    /// `fib daddr type`: a connection to this computer is addressed to a local address, not a
    /// broadcast one (ufw's after-input chain).
    @Test func fibAddressTypes() throws {
        func ruleset(_ type: String) -> String {
            #"""
            {"nftables": [
              {"chain": {"family": "ip", "table": "t", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}},
              {"rule": {"family": "ip", "table": "t", "chain": "input", "handle": 2, "expr": [
                {"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "\#(type)"}},
                {"drop": null}]}}
            ]}
            """#
        }
        let q = FirewallQuestion(direction: .inbound, port: 4242, remote: "10.1.2.3")
        #expect(try NFTRuleset(json: Array(ruleset("broadcast").utf8)).evaluate(q).decision == .allow)
        #expect(try NFTRuleset(json: Array(ruleset("local").utf8)).evaluate(q).decision == .drop)
    }
}
