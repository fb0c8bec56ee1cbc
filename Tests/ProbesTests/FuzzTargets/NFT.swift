@testable import Probes

extension FuzzTargets {
    /// `nft -j list ruleset`: decode, then evaluate a question so every rule is walked.
    static let nft = FuzzTarget(name: "nft") { bytes in
        do {
            let rules = try NFTRuleset(json: bytes)
            for q in fuzzQuestions {
                _ = rules.evaluate(q)
            }
        } catch {
            // JSONDecoder's errors say where (coding path, offset); an empty one would not.
            try require(!String(describing: error).isEmpty, "an nft decode error that says nothing")
        }
    }
}
