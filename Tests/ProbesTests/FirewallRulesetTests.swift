import Foundation
import Testing

@testable import Probes

/// The evaluators on rulesets recorded here (iptables-legacy-save) and written by hand (nft JSON).
@Suite struct FirewallRulesetTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "txt"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    func ask(_ r: IPTablesRuleset, _ port: UInt16, from remote: String? = "10.1.2.3") -> FirewallVerdict {
        r.evaluate(FirewallQuestion(direction: .inbound, port: port, remote: remote))
    }

    @Test func iptablesLegacyRecorded() throws {
        let r = IPTablesRuleset(text: try Self.fixture("iptables-legacy-save"))
        #expect(ask(r, 22).decision == .allow)
        #expect(ask(r, 22).rule?.contains("ssh from anywhere") == true)
        #expect(ask(r, 4242).decision == .allow)  // 10/8 → services → accept
        #expect(ask(r, 4242, from: "172.16.0.9").decision == .drop)  // not from 10/8: policy
        #expect(ask(r, 5050).decision == .drop)  // services returns, then the policy
        #expect(ask(r, 6000).decision == .reject)
        #expect(ask(r, 7000).decision == .drop)  // not from 192.168/16
        #expect(ask(r, 7000, from: "192.168.4.5").decision == .allow)
        #expect(ask(r, 4242, from: nil).decision == .unknown)
        #expect(ask(r, 4242, from: nil).note?.contains("the other computer's address") == true)
        #expect(ask(r, 9999).fix == "sudo iptables-legacy -I INPUT -p tcp --dport 9999 -j ACCEPT")
        #expect(ask(r, 9999).rule == "filter INPUT: policy DROP")
    }

    @Test func nftJSONHandWritten() throws {
        let json = #"""
            {"nftables": [
              {"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
              {"table": {"family": "inet", "name": "filter", "handle": 1}},
              {"chain": {"family": "inet", "table": "filter", "name": "input", "handle": 1, "type": "filter", "hook": "input", "prio": 0, "policy": "drop"}},
              {"chain": {"family": "inet", "table": "filter", "name": "svc", "handle": 2}},
              {"set": {"family": "inet", "name": "allowed", "table": "filter", "type": "inet_service", "handle": 3, "elem": [22, {"range": [4200, 4299]}]}},
              {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 4, "expr": [
                {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"accept": null}]}},
              {"rule": {"family": "inet", "table": "filter", "chain": "input", "handle": 5, "expr": [{"jump": {"target": "svc"}}]}},
              {"rule": {"family": "inet", "table": "filter", "chain": "svc", "handle": 6, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": "@allowed"}},
                {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
              {"rule": {"family": "inet", "table": "filter", "chain": "svc", "handle": 7, "expr": [
                {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 5351}}, {"accept": null}]}}
            ]}
            """#
        let r = try NFTRuleset(json: Array(json.utf8))
        let tcp4242 = r.evaluate(FirewallQuestion(direction: .inbound, port: 4242))
        #expect(tcp4242.decision == .allow)
        #expect(tcp4242.rule == "inet filter svc handle 6: tcp dport @allowed accept")
        #expect(r.evaluate(FirewallQuestion(direction: .inbound, port: 4300)).decision == .drop)
        #expect(r.evaluate(FirewallQuestion(direction: .inbound, proto: .udp, port: 5351)).decision == .allow)
        #expect(r.evaluate(FirewallQuestion(direction: .inbound, port: 5351)).decision == .drop)  // tcp, not udp
        #expect(r.evaluate(FirewallQuestion(direction: .outbound, port: 80)).decision == .allow)  // no output chain
        #expect(
            r.evaluate(FirewallQuestion(direction: .inbound, port: 4300)).fix
                == "sudo nft insert rule inet filter input tcp dport 4300 accept")
    }
}
