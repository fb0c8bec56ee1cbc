import Testing

@testable import Probes

/// IPv4 and IPv6 asked separately of one ruleset: a question without the other computer's address
/// names its family, and the rules of the other family's tables and headers pass it by.
@Suite struct FirewallFamilyTests {
    /// Recorded with `nft -j list ruleset` (nftables 1.0.6) in a network namespace, from:
    ///     table inet filter { chain input { type filter hook input priority 0; policy accept;
    ///       ct state established,related accept
    ///       meta nfproto ipv6 tcp dport 4242 drop
    ///       ip saddr 10.0.0.0/8 tcp dport 4300 accept
    ///       ip6 saddr 2001:db8::/32 tcp dport 4300 accept
    ///       tcp dport 4300 drop } }
    ///     table ip6 only6 { chain input { type filter hook input priority 10; policy accept;
    ///       tcp dport 4400 reject } }
    static let recorded = #"""
        {"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}, {"table": {"family": "inet", "name": "filter", "handle": 1}}, {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "accept"}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 2, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 3, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "nfproto"}}, "right": "ipv6"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4242}}, {"drop": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 8}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4300}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip6", "field": "saddr"}}, "right": {"prefix": {"addr": "2001:db8::", "len": 32}}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4300}}, {"accept": null}]}}, {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 6, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4300}}, {"drop": null}]}}, {"table": {"family": "ip6", "name": "only6", "handle": 2}}, {"chain": {"family": "ip6", "table": "only6", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 10, "policy": "accept"}}, {"rule": {"family": "ip6", "table": "only6", "chain": "input", "handle": 2, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 4400}}, {"reject": {"type": "icmpv6", "expr": "port-unreachable"}}]}}]}
        """#

    func ask(_ port: UInt16, _ family: FirewallQuestion.Family?, remote: String? = nil) throws -> FirewallVerdict {
        try NFTRuleset(json: Array(Self.recorded.utf8)).evaluate(
            FirewallQuestion(direction: .inbound, port: port, remote: remote, family: family))
    }

    @Test func anInetRuleOnIPv6DropsOnlyIPv6() throws {
        #expect(try ask(4242, nil).decision == .allow, "no family: IPv4, as before")
        #expect(try ask(4242, .ipv4).decision == .allow)
        let v6 = try ask(4242, .ipv6)
        #expect(v6.decision == .drop)
        #expect(v6.rule?.hasPrefix("inet filter input handle 3:") == true, "\(v6.rule ?? "")")
        #expect(v6.fix == "sudo nft insert rule inet filter input tcp dport 4242 accept")
        // A remote address says the family itself, whatever was asked.
        #expect(try ask(4242, .ipv4, remote: "2001:db8::7").decision == .drop)
    }

    @Test func anIP6TableDecidesOnlyForIPv6() throws {
        #expect(try ask(4400, .ipv4).decision == .allow)
        let v6 = try ask(4400, .ipv6)
        #expect(v6.decision == .reject)
        #expect(v6.rule?.hasPrefix("ip6 only6 input handle 2:") == true, "\(v6.rule ?? "")")
        #expect(v6.fix == "sudo nft insert rule ip6 only6 input tcp dport 4400 accept")
    }

    @Test func aRuleOnTheOtherFamilysHeaderPassesTheQuestionBy() throws {
        // IPv6 without the address: the `ip saddr` rule cannot match an IPv6 packet; the `ip6 saddr`
        // one is the rule that needs the address.
        let v6 = try ask(4300, .ipv6)
        #expect(v6.decision == .unknown)
        #expect(v6.note?.contains("handle 5") == true, "\(v6.note ?? "")")
        #expect(try ask(4300, .ipv6, remote: "2001:db8::7").decision == .allow)
        #expect(try ask(4300, .ipv6, remote: "2001:db9::7").decision == .drop)
        let v4 = try ask(4300, .ipv4)
        #expect(v4.note?.contains("handle 4") == true, "\(v4.note ?? "")")
    }

    @Test func iptablesNFTsIPv6ChainIsOpenedWithIp6tables() throws {
        let json = #"""
            {"nftables": [
              {"table": {"family": "ip6", "name": "filter", "handle": 1}},
              {"chain": {"family": "ip6", "table": "filter", "name": "INPUT", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}}
            ]}
            """#
        let r = try NFTRuleset(json: Array(json.utf8))
        #expect(r.evaluate(FirewallQuestion(direction: .inbound, port: 4242, family: .ipv4)).decision == .allow)
        let v6 = r.evaluate(FirewallQuestion(direction: .inbound, port: 4242, family: .ipv6))
        #expect(v6.decision == .drop)
        #expect(v6.fix == "sudo ip6tables -I INPUT -p tcp --dport 4242 -j ACCEPT")
    }

    @Test func legacyIp6tablesRulesAreOpenedWithIp6tablesLegacy() {
        // ip6tables-legacy-save's output for `ip6tables-legacy -A INPUT -p tcp --dport 4242 -j DROP`.
        let save = """
            *filter
            :INPUT ACCEPT [0:0]
            :FORWARD ACCEPT [0:0]
            :OUTPUT ACCEPT [0:0]
            -A INPUT -p tcp -m tcp --dport 4242 -j DROP
            COMMIT
            """
        let v = IPTablesRuleset(text: save).evaluate(FirewallQuestion(direction: .inbound, port: 4242, family: .ipv6))
        #expect(v.decision == .drop)
        #expect(v.fix == "sudo ip6tables-legacy -I INPUT -p tcp --dport 4242 -j ACCEPT")
    }
}
