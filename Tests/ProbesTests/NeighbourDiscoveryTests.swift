import Foundation
import Testing

@testable import Probes

/// Incoming ICMPv6 neighbour discovery, judged on rulesets recorded in a network namespace
/// (`nft -j list ruleset`, nftables 1.0.6; `ip6tables-legacy-save -t filter`, iptables 1.8.9). Each
/// ruleset's effect was seen for real there: the other computer connecting over IPv6 got in exactly
/// when the solicitation did (an advertisement refused lets the first connection through, since the
/// solicitation tells this computer the neighbour's address). Conntrack marks neighbour discovery
/// untracked: `ct state new accept` lets none of it in, `ct state untracked accept` all of it.
@Suite struct NeighbourDiscoveryTests {
    static func fixture(_ name: String) throws -> String {
        let dot = name.lastIndex(of: ".")!
        let url = try #require(
            Bundle.module.url(
                forResource: "Fixtures/neighbour-discovery/\(name[..<dot])",
                withExtension: String(name[name.index(after: dot)...])), "no fixture \(name)")
        return try String(contentsOf: url, encoding: .utf8)
    }

    static let ipv6 = FirewallQuestion(direction: .inbound, port: 4242, remote: "2001:db8:70::1")
    static let ipv4 = FirewallQuestion(direction: .inbound, port: 4242, remote: "10.231.70.1")

    static func nft(_ name: String, _ q: FirewallQuestion = ipv6) throws -> FirewallVerdict {
        try NFTRuleset(json: Array(fixture(name + ".nft.json").utf8)).evaluate(q)
    }

    static func ip6tables(_ name: String) throws -> FirewallVerdict {
        IPTablesRuleset(text: try fixture(name + ".ip6tables-save.txt")).evaluate(ipv6)
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var decision: FirewallVerdict.Decision
        var packet: NeighbourDiscoveryPacket
        /// How the deciding rule begins (nil: not checked).
        var rule: String?
        var testDescription: String { name }
    }

    static let nftCases: [Case] = [
        Case(name: "policy-drop-no-icmpv6", decision: .drop, packet: .solicitation, rule: "inet t input: policy drop"),
        Case(name: "nd-types-accept", decision: .allow, packet: .advertisement, rule: "inet t input handle 4:"),
        Case(
            name: "l4proto-ipv6-icmp-accept", decision: .allow, packet: .advertisement, rule: "inet t input handle 3:"),
        Case(name: "ct-state-new-accept", decision: .drop, packet: .solicitation, rule: "inet t input: policy drop"),
        Case(
            name: "ct-state-untracked-accept", decision: .allow, packet: .advertisement, rule: "inet t input handle 3:"),
        Case(name: "explicit-icmpv6-drop", decision: .drop, packet: .solicitation, rule: "inet t input handle 3:"),
        Case(name: "solicit-only", decision: .drop, packet: .advertisement, rule: "inet t input: policy drop"),
        Case(name: "nd-range-numeric", decision: .allow, packet: .advertisement, rule: "inet t input handle 3:"),
        Case(name: "multicast-only", decision: .drop, packet: .advertisement, rule: "inet t input: policy drop"),
        Case(name: "hoplimit-255", decision: .allow, packet: .advertisement, rule: "inet t input handle 4:"),
    ]

    @Test(arguments: nftCases) func nftables(_ c: Case) throws {
        let v = try Self.nft(c.name)
        let nd = try #require(v.neighbourDiscovery)
        #expect(nd.decision == c.decision, "\(nd.rule ?? nd.note ?? "")")
        #expect(nd.packet == c.packet)
        if let rule = c.rule { #expect(nd.rule?.hasPrefix(rule) == true, "\(nd.rule ?? "")") }
        // The TCP packet's own verdict stays its own: every one of these rulesets accepts TCP 4242.
        #expect(v.decision == .allow, "\(v.rule ?? v.note ?? "")")
        if c.decision == .drop {
            #expect(nd.fix == "sudo nft insert rule inet t input icmpv6 type 133-137 accept", "\(nd.fix ?? "")")
            #expect(
                nd.fixCommands == [
                    ["nft", "insert", "rule", "inet", "t", "input", "icmpv6", "type", "133-137", "accept"]
                ])
        } else {
            #expect(nd.fix == nil)
        }
    }

    @Test func theRuleNamesTheICMPv6Drop() throws {
        let nd = try #require(try Self.nft("explicit-icmpv6-drop").neighbourDiscovery)
        #expect(nd.rule == "inet t input handle 3: l4proto ipv6-icmp drop", "\(nd.rule ?? "")")
    }

    /// IPv4 has no neighbour discovery to ask about (ARP does not pass the input hook); loopback
    /// asks no neighbour.
    @Test func notAskedForIPv4OrLoopback() throws {
        for name in Self.nftCases.map(\.name) {
            #expect(try Self.nft(name, Self.ipv4).neighbourDiscovery == nil, "\(name)")
            let loop = FirewallQuestion(direction: .inbound, port: 4242, remote: "::1")
            #expect(try Self.nft(name, loop).neighbourDiscovery == nil, "\(name)")
        }
        #expect(
            IPTablesRuleset(text: try Self.fixture("policy-drop-no-icmpv6.ip6tables-save.txt")).evaluate(Self.ipv4)
                .neighbourDiscovery == nil)
    }

    @Test func ip6tablesPolicyDropWithoutICMPv6() throws {
        let v = try Self.ip6tables("policy-drop-no-icmpv6")
        #expect(v.decision == .allow, "TCP 4242 itself is accepted")
        let nd = try #require(v.neighbourDiscovery)
        #expect(nd.decision == .drop)
        #expect(nd.packet == .solicitation)
        #expect(nd.rule == "filter INPUT: policy DROP")
        #expect(nd.fixCommands?.count == 5, "one rule per type, 133–137")
        #expect(
            nd.fixCommands?.first
                == ["ip6tables-legacy", "-I", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", "133", "-j", "ACCEPT"])
    }

    @Test func ip6tablesAcceptingICMPv6() throws {
        let nd = try #require(try Self.ip6tables("ipv6-icmp-accept").neighbourDiscovery)
        #expect(nd.decision == .allow)
        #expect(nd.rule == "-A INPUT -p ipv6-icmp -j ACCEPT")
        #expect(nd.fix == nil)
    }

    @Test func ip6tablesAcceptingTheNeighbourTypes() throws {
        let nd = try #require(try Self.ip6tables("nd-types-accept").neighbourDiscovery)
        #expect(nd.decision == .allow, "\(nd.rule ?? nd.note ?? "")")
        #expect(nd.rule?.contains("--icmpv6-type 136") == true, "\(nd.rule ?? "")")
    }

    @Test func ip6tablesDroppingICMPv6() throws {
        let v = try Self.ip6tables("explicit-icmpv6-drop")
        #expect(v.decision == .allow)
        let nd = try #require(v.neighbourDiscovery)
        #expect(nd.decision == .drop)
        #expect(nd.rule == "-A INPUT -p ipv6-icmp -j DROP")
    }

    /// nftables and legacy ip6tables both filter: either refusing neighbour discovery refuses it.
    @Test func eitherBackendRefusing() throws {
        let nft = try Self.nft("nd-types-accept")
        let legacy = try Self.ip6tables("explicit-icmpv6-drop")
        let both = Firewall.both(nft: nft, legacy: legacy)
        #expect(both.neighbourDiscovery?.decision == .drop)
        #expect(both.neighbourDiscovery?.rule == "-A INPUT -p ipv6-icmp -j DROP")
        let other = Firewall.both(
            nft: try Self.nft("policy-drop-no-icmpv6"), legacy: try Self.ip6tables("ipv6-icmp-accept"))
        #expect(other.neighbourDiscovery?.rule == "inet t input: policy drop")
    }

    /// The front ends' own rulesets (recorded from the real ufw and firewalld, and hand-written
    /// iptables scripts) let the solicitation in, whatever they do with TCP 4242: no false "nothing
    /// gets in over IPv6". A script accepting type 135 alone refuses the advertisement.
    @Test func frontEndsLetTheSolicitationIn() throws {
        let slugs = Set(FirewallFrontEndTests.recorded.filter { $0.remote.contains(":") }.map(\.slug))
        #expect(slugs.count >= 5)
        for slug in slugs.sorted() {
            let r = FirewallFrontEndTests.Recorded(
                slug: slug, tool: "", port: 4242, remote: "fd00:231:22::1", expected: "")
            let nd = try #require(try FirewallFrontEndTests.verdict(r).neighbourDiscovery, "\(slug)")
            if slug == "iptables-nft-stateful-new-4242-accepted-icmp-housekeeping" {
                #expect(nd.decision == .drop && nd.packet == .advertisement, "\(nd)")
                #expect(nd.rule == "ip6 filter INPUT: policy drop")
                #expect(nd.fixCommands?.first?.first == "ip6tables", "iptables-nft: opened with ip6tables")
            } else {
                #expect(nd.decision == .allow, "\(slug): \(nd.rule ?? nd.note ?? "")")
            }
        }
    }
}
