@testable import Probes

extension FuzzTargets {
    /// `nft -j list ruleset`: decode, then evaluate a question so every rule is walked.
    static let nft = FuzzTarget(name: "nft") { bytes in
        do {
            let rules = try NFTRuleset(json: bytes)
            for q in fuzzQuestions {
                try requireNeighbourDiscovery(rules.evaluate(q), q)
            }
        } catch {
            try require(!String(describing: error).isEmpty, "an nft decode error that says nothing")
            // Broken syntax: the error names where it stopped. (Only when the decoder also calls it
            // syntax: it accepts some things JSON does not, like control characters in strings.)
            if String(describing: error).hasPrefix("not valid JSON"), let at = JSON.syntaxError(in: bytes) {
                try require(
                    String(describing: error).contains("line \(at.line), column \(at.column)"),
                    "'\(error)' does not say it stopped at line \(at.line), column \(at.column)")
            }
        }
    }
}
