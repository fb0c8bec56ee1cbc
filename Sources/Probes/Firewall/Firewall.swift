#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// This computer's firewall, asked one question.
public enum Firewall {
    static let nftPaths = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]

    public static func verdict(for question: FirewallQuestion) -> FirewallVerdict {
        guard let nft = nftPaths.first(where: { access($0, X_OK) == 0 }) else {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: "nftables",
                                   note: "nft is not installed, so the ruleset cannot be read")
        }
        guard geteuid() == 0 else {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: "nftables",
                                   note: "reading the firewall rules needs administrator rights (run with sudo)")
        }
        guard let text = ChildProcess.output([nft, "-j", "list", "ruleset"]), !text.isEmpty else {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: "nftables", note: "nft -j list ruleset printed nothing")
        }
        do {
            return try NFTRuleset(json: Array(text.utf8)).evaluate(question)
        } catch {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: "nftables", note: "cannot read nft's JSON: \(error)")
        }
    }
}
