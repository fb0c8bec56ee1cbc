/// The macOS application firewall: it decides per application, not per port, and only inbound.
/// An updated binary can count as a new application — the vendor article's caveat.
public struct MacApplicationFirewall: Sendable {
    public var enabled: Bool
    public var blockAll: Bool
    public var allowSigned: Bool?
    /// Application path → allowed.
    public var apps: [String: Bool]

    /// `socketfilterfw --getglobalstate`, `--getblockall`, `--getallowsigned`, `--listapps` outputs.
    public init(globalState: String, blockAll: String, allowSigned: String?, listApps: String) {
        enabled = globalState.contains("enabled") || globalState.contains("State = 1") || globalState.contains("State = 2")
        let b = blockAll.lowercased()
        self.blockAll = (b.contains("block all") || b.contains("block all non-essential")) && !b.contains("disabled")
        self.allowSigned = allowSigned.map { $0.lowercased().contains("enabled") || $0.contains("ENABLED") }
        var apps: [String: Bool] = [:]
        var current: String?
        for raw in listApps.split(separator: "\n") {
            let line = raw.trimmingWhitespace
            if let colon = line.firstIndex(of: ":"), Int(line[..<colon].trimmingWhitespace) != nil {
                current = String(line[line.index(after: colon)...].trimmingWhitespace)
            } else if let app = current, line.hasPrefix("(") {
                apps[app] = line.contains("Allow")
                current = nil
            }
        }
        self.apps = apps
    }

    public func evaluate(_ q: FirewallQuestion) -> FirewallVerdict {
        let tool = "macOS application firewall"
        guard q.direction == .inbound else {
            return FirewallVerdict(decision: .allow, rule: "the application firewall does not filter outgoing connections",
                                   tool: tool, note: nil)
        }
        guard enabled else { return FirewallVerdict(decision: .allow, rule: "the firewall is off", tool: tool, note: nil) }
        let fix = q.program.map { p in
            [["/usr/libexec/ApplicationFirewall/socketfilterfw", "--add", p],
             ["/usr/libexec/ApplicationFirewall/socketfilterfw", "--unblockapp", p]]
        }
        let fixText = fix.map { $0.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && ") }
        if blockAll {
            return FirewallVerdict(decision: .drop, rule: "Block all incoming connections is on", tool: tool, note: nil,
                                   fix: "turn off “Block all incoming connections” in System Settings › Network › Firewall › Options",
                                   fixCommands: nil)
        }
        guard let program = q.program else {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: tool,
                                   note: "the macOS firewall decides per application: name the program that listens")
        }
        if let allowed = apps[program] ?? apps.first(where: { program.hasPrefix($0.key + "/") })?.value {
            return allowed
                ? FirewallVerdict(decision: .allow, rule: "\(program): Allow incoming connections", tool: tool, note: nil)
                : FirewallVerdict(decision: .drop, rule: "\(program): Block incoming connections", tool: tool, note: nil,
                                  fix: fixText, fixCommands: fix)
        }
        let signed = allowSigned == true ? " (signed software may be allowed automatically)" : ""
        return FirewallVerdict(decision: .unknown, rule: nil, tool: tool,
                               note: "\(program) is not in the firewall's list: macOS will ask, or block it\(signed). "
                                   + "After an update the app can count as new: add it again.",
                               fix: fixText, fixCommands: fix)
    }
}

/// Windows Defender Firewall from `netsh advfirewall firewall show rule name=all verbose` and
/// `netsh advfirewall show currentprofile`. Keys and values are localised: English and German here,
/// block rules win over allow rules, and otherwise the profile's default decides.
public struct WindowsFirewall: Sendable {
    struct Rule: Sendable {
        var name: String
        var enabled: Bool
        var inbound: Bool
        var proto: String
        var localPort: String
        var remotePort: String
        var program: String?
        var allow: Bool
    }

    var rules: [Rule] = []
    public var on: Bool
    public var blockInbound: Bool
    public var blockOutbound: Bool

    static let keys: [String: String] = [
        "rule name": "name", "regelname": "name", "enabled": "enabled", "aktiviert": "enabled",
        "direction": "direction", "richtung": "direction", "protocol": "protocol", "protokoll": "protocol",
        "localport": "localport", "lokaler port": "localport", "remoteport": "remoteport", "remoteport ": "remoteport",
        "program": "program", "programm": "program", "action": "action", "aktion": "action",
    ]
    static let yes: Set<String> = ["yes", "ja", "oui", "sí", "si"]
    static let inbound: Set<String> = ["in", "eingehend", "entrant", "entrada"]
    static let allow: Set<String> = ["allow", "zulassen", "autoriser", "permitir"]
    static let any: Set<String> = ["any", "beliebig", "tout", "cualquiera", "toutes"]

    public init(rules text: String, profile: String) {
        on = true
        blockInbound = true
        blockOutbound = false
        var current: [String: String] = [:]
        func flush() {
            defer { current = [:] }
            guard let name = current["name"] else { return }
            rules.append(Rule(
                name: name, enabled: WindowsFirewall.yes.contains(current["enabled"]?.lowercased() ?? ""),
                inbound: WindowsFirewall.inbound.contains(current["direction"]?.lowercased() ?? ""),
                proto: current["protocol"]?.uppercased() ?? "ANY", localPort: current["localport"] ?? "Any",
                remotePort: current["remoteport"] ?? "Any", program: current["program"],
                allow: WindowsFirewall.allow.contains(current["action"]?.lowercased() ?? "")))
        }
        for raw in text.split(separator: "\n") {
            let line = String(raw.trimmingWhitespace)
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("-") else { continue }
            let key = line[..<colon].trimmingWhitespace.lowercased()
            let value = String(line[line.index(after: colon)...].trimmingWhitespace)
            guard let k = WindowsFirewall.keys[key] else { continue }
            if k == "name" { flush() }
            current[k] = value
        }
        flush()
        let p = profile.lowercased()
        if let state = p.split(separator: "\n").first(where: { $0.hasPrefix("state") || $0.hasPrefix("status") }),
            let word = state.split(separator: " ").last
        {
            on = !["off", "aus", "désactivé", "desactivado"].contains(String(word))
        }
        if let policy = p.split(separator: "\n").first(where: { $0.contains("blockinbound") || $0.contains("allowinbound") }) {
            blockInbound = policy.contains("blockinbound")
            blockOutbound = policy.contains("blockoutbound")
        }
    }

    public func evaluate(_ q: FirewallQuestion) -> FirewallVerdict {
        let tool = "Windows Defender Firewall"
        guard on else { return FirewallVerdict(decision: .allow, rule: "the firewall is off", tool: tool, note: nil) }
        let candidates = rules.filter { r in
            r.enabled && r.inbound == (q.direction == .inbound)
                && (r.proto == "ANY" || r.proto == q.proto.rawValue.uppercased())
                && ports(r.localPort, contain: q.direction == .inbound ? q.port : nil)
                && ports(r.remotePort, contain: q.direction == .outbound ? q.port : nil)
        }
        var undecided: [String] = []
        func applies(_ r: Rule) -> Bool {
            guard let p = r.program, !WindowsFirewall.any.contains(p.lowercased()) else { return true }
            guard let mine = q.program else {
                undecided.append(r.name)
                return false
            }
            return p.lowercased() == mine.lowercased()
        }
        let dir = q.direction == .inbound ? "in" : "out"
        let portKey = q.direction == .inbound ? "localport" : "remoteport"
        let command = ["netsh", "advfirewall", "firewall", "add", "rule", "name=portdoctor \(q.proto.rawValue.uppercased()) \(q.port)",
                       "dir=\(dir)", "action=allow", "protocol=\(q.proto.rawValue.uppercased())", "\(portKey)=\(q.port)"]
        let fix = "netsh advfirewall firewall add rule name=\"portdoctor \(q.proto.rawValue.uppercased()) \(q.port)\" dir=\(dir) action=allow protocol=\(q.proto.rawValue.uppercased()) \(portKey)=\(q.port)"
        if let block = candidates.first(where: { !$0.allow && applies($0) }) {
            return FirewallVerdict(decision: .drop, rule: "rule “\(block.name)” (block)", tool: tool,
                                   note: "block rules win over allow rules: remove or disable it", fix: nil)
        }
        if let allow = candidates.first(where: { $0.allow && applies($0) }) {
            return FirewallVerdict(decision: .allow, rule: "rule “\(allow.name)”", tool: tool, note: nil)
        }
        let blocks = q.direction == .inbound ? blockInbound : blockOutbound
        if !undecided.isEmpty && blocks {
            return FirewallVerdict(decision: .unknown, rule: nil, tool: tool,
                                   note: "rules for specific programs (\(undecided.joined(separator: ", "))) cover this port: name the program",
                                   fix: fix, fixCommands: [command])
        }
        return blocks
            ? FirewallVerdict(decision: .drop, rule: "the profile's default: block \(q.direction == .inbound ? "inbound" : "outbound")",
                              tool: tool, note: nil, fix: fix, fixCommands: [command])
            : FirewallVerdict(decision: .allow, rule: "the profile's default: allow", tool: tool, note: nil)
    }

    private func ports(_ spec: String, contain port: UInt16?) -> Bool {
        if WindowsFirewall.any.contains(spec.lowercased()) { return true }
        guard let port else { return false }
        return spec.split(separator: ",").contains { part in
            let r = part.split(separator: "-").compactMap { Int($0.trimmingWhitespace) }
            if r.count == 2 { return (r[0]...r[1]).contains(Int(port)) }
            return r.first == Int(port)
        }
    }
}
