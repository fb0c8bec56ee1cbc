#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// This computer's firewall, asked one question.
public enum Firewall {
    static let nftPaths = ["/usr/sbin/nft", "/sbin/nft", "/usr/bin/nft"]

    static let iptablesNFTSave = ["/usr/sbin/iptables-nft-save", "/sbin/iptables-nft-save"]
    static let ip6tablesNFTSave = ["/usr/sbin/ip6tables-nft-save", "/sbin/ip6tables-nft-save"]

    static let iptablesLegacySave = ["/usr/sbin/iptables-legacy-save", "/sbin/iptables-legacy-save"]
    static let ip6tablesLegacySave = ["/usr/sbin/ip6tables-legacy-save", "/sbin/ip6tables-legacy-save"]

    /// nftables and legacy iptables both filter every packet: the connection gets through only if
    /// both let it; the first refusal (or doubt) is the answer.
    public static func verdict(for question: FirewallQuestion) -> FirewallVerdict {
        #if os(macOS)
            // Both apply: pf (when enabled) and the application firewall.
            let pf = PacketFilter(
                info: ChildProcess.output(["/sbin/pfctl", "-s", "info"]) ?? "",
                rules: ChildProcess.output(["/sbin/pfctl", "-sr"]) ?? ""
            ).evaluate(question)
            if pf.decision != .allow { return pf }
            let fw = "/usr/libexec/ApplicationFirewall/socketfilterfw"
            return MacApplicationFirewall(
                globalState: ChildProcess.output([fw, "--getglobalstate"]) ?? "",
                blockAll: ChildProcess.output([fw, "--getblockall"]) ?? "",
                allowSigned: ChildProcess.output([fw, "--getallowsigned"]),
                listApps: ChildProcess.output([fw, "--listapps"]) ?? ""
            ).evaluate(question)
        #elseif os(Windows)
            let netsh = "C:\\Windows\\System32\\netsh.exe"
            return WindowsFirewall(
                rules: ChildProcess.output([netsh, "advfirewall", "firewall", "show", "rule", "name=all", "verbose"])
                    ?? "",
                profile: ChildProcess.output([netsh, "advfirewall", "show", "currentprofile"]) ?? ""
            ).evaluate(question)
        #else
            return linuxVerdict(question)
        #endif
    }

    static func linuxVerdict(_ question: FirewallQuestion) -> FirewallVerdict {
        both(nft: nftVerdict(question), legacy: legacyVerdict(question))
    }

    static func both(nft: FirewallVerdict, legacy: FirewallVerdict?) -> FirewallVerdict {
        guard let legacy else { return nft }
        var v: FirewallVerdict
        if nft.decision == .drop || nft.decision == .reject {
            v = nft
        } else if legacy.decision != .allow {
            v = legacy
        } else {
            // Both let it through: credit the one whose rules actually had a say.
            v = nft.rule?.hasPrefix("no ") == true ? legacy : nft
        }
        // Neighbour discovery passes both as well, each refusing on its own.
        v.neighbourDiscovery = NeighbourDiscoveryVerdict.both(nft.neighbourDiscovery, legacy.neighbourDiscovery)
        return v
    }

    static func legacyVerdict(_ question: FirewallQuestion) -> FirewallVerdict? {
        // IPv6 has tables of its own.
        let saves = question.isIPv6 ? ip6tablesLegacySave : iptablesLegacySave
        guard geteuid() == 0, let save = saves.first(where: { access($0, X_OK) == 0 }),
            let text = ChildProcess.output([save, "-t", "filter"])
        else { return nil }
        let rules = IPTablesRuleset(text: text)
        return rules.isEmpty ? nil : rules.evaluate(question)
    }

    /// The rules this user may not read: "cannot tell", never "allowed".
    static func noPermission(tool: String, words: String) -> FirewallVerdict {
        let line = words.split(separator: "\n").first { Access.refused(String($0)) }.map(String.init) ?? words
        return FirewallVerdict(
            decision: .noPermission, rule: nil, tool: tool,
            note: "reading the firewall rules needs administrator rights (\(tool) says: \(line))")
    }

    static func nftVerdict(_ question: FirewallQuestion) -> FirewallVerdict {
        guard let nft = nftPaths.first(where: { access($0, X_OK) == 0 }) else {
            return FirewallVerdict(
                decision: .unknown, rule: nil, tool: "nftables",
                note: "nft is not installed, so the ruleset cannot be read")
        }
        // nft needs CAP_NET_ADMIN even to read. Asked first, cheaply, so that a refusal is told
        // apart from an empty ruleset (nft prints nothing on standard output either way).
        if !Access.privileged, let probe = ChildProcess.outputAndErrors([nft, "list", "tables"]), probe.status != 0,
            Access.refused(probe.text)
        {
            return noPermission(tool: "nftables", words: probe.text)
        }
        guard let text = ChildProcess.output([nft, "-j", "list", "ruleset"]), !text.isEmpty else {
            return FirewallVerdict(
                decision: .unknown, rule: nil, tool: "nftables", note: "nft -j list ruleset printed nothing")
        }
        // nft's JSON names iptables-nft's xt matches without their options; its own save tools still
        // know them.
        var saved: [(family: String, text: String)] = []
        if text.contains("\"xt\"") {
            for (family, names) in [("ip", iptablesNFTSave), ("ip6", ip6tablesNFTSave)] {
                if let save = names.first(where: { access($0, X_OK) == 0 }), let out = ChildProcess.output([save]) {
                    saved.append((family, out))
                }
            }
        }
        do {
            return try NFTRuleset(json: Array(text.utf8), iptablesSave: saved).evaluate(question)
        } catch {
            return FirewallVerdict(
                decision: .unknown, rule: nil, tool: "nftables", note: "cannot read nft's JSON: \(error)")
        }
    }
}
