@testable import Probes

extension FuzzTargets {
    /// `netsh advfirewall` (rules and profile), `pfctl -s info/-s rules`, macOS socketfilterfw: the
    /// first byte picks the format; the input is split at the first NUL into the two texts each needs.
    static let desktopFirewalls = FuzzTarget(name: "desktop-firewalls") { bytes in
        guard let first = bytes.first else { return }
        let parts = bytes.dropFirst().split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let a = text(Array(parts.first ?? [])), b = parts.count > 1 ? text(Array(parts[1])) : ""
        switch first % 3 {
        case 0:
            let fw = WindowsFirewall(rules: a, profile: b)
            for q in fuzzQuestions { _ = fw.evaluate(q) }
        case 1:
            let pf = PacketFilter(info: b, rules: a)
            for q in fuzzQuestions { _ = pf.evaluate(q) }
        default:
            let lines = b.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            let fw = MacApplicationFirewall(
                globalState: lines.first ?? "", blockAll: lines.count > 1 ? lines[1] : "",
                allowSigned: lines.count > 2 ? lines[2] : nil, listApps: a)
            for q in fuzzQuestions { _ = fw.evaluate(q) }
        }
    }
}
