@testable import Probes

extension FuzzTargets {
    /// `iptables-save` text.
    static let iptables = FuzzTarget(name: "iptables") { bytes in
        let rules = IPTablesRuleset(text: text(bytes))
        for q in fuzzQuestions { try requireNeighbourDiscovery(rules.evaluate(q), q) }
    }
}
