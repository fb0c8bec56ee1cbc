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
        enabled =
            globalState.contains("enabled") || globalState.contains("State = 1") || globalState.contains("State = 2")
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
            return FirewallVerdict(
                decision: .allow, rule: "the application firewall does not filter outgoing connections",
                tool: tool, note: nil)
        }
        guard enabled else {
            return FirewallVerdict(decision: .allow, rule: "the firewall is off", tool: tool, note: nil)
        }
        let fix = q.program.map { p in
            [
                ["/usr/libexec/ApplicationFirewall/socketfilterfw", "--add", p],
                ["/usr/libexec/ApplicationFirewall/socketfilterfw", "--unblockapp", p],
            ]
        }
        let fixText = fix.map { $0.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && ") }
        if blockAll {
            return FirewallVerdict(
                decision: .drop, rule: "Block all incoming connections is on", tool: tool, note: nil,
                fix: "turn off “Block all incoming connections” in System Settings › Network › Firewall › Options",
                fixCommands: nil)
        }
        guard let program = q.program else {
            return FirewallVerdict(
                decision: .unknown, rule: nil, tool: tool,
                note: "the macOS firewall decides per application: name the program that listens")
        }
        if let allowed = apps[program] ?? apps.first(where: { program.hasPrefix($0.key + "/") })?.value {
            return allowed
                ? FirewallVerdict(
                    decision: .allow, rule: "\(program): Allow incoming connections", tool: tool, note: nil)
                : FirewallVerdict(
                    decision: .drop, rule: "\(program): Block incoming connections", tool: tool, note: nil,
                    fix: fixText, fixCommands: fix)
        }
        let signed = allowSigned == true ? " (signed software may be allowed automatically)" : ""
        return FirewallVerdict(
            decision: .unknown, rule: nil, tool: tool,
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
            rules.append(
                Rule(
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
        if let policy = p.split(separator: "\n").first(where: {
            $0.contains("blockinbound") || $0.contains("allowinbound")
        }) {
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
        let command = [
            "netsh", "advfirewall", "firewall", "add", "rule",
            "name=portdoctor \(q.proto.rawValue.uppercased()) \(q.port)",
            "dir=\(dir)", "action=allow", "protocol=\(q.proto.rawValue.uppercased())", "\(portKey)=\(q.port)",
        ]
        let fix =
            "netsh advfirewall firewall add rule name=\"portdoctor \(q.proto.rawValue.uppercased()) \(q.port)\" dir=\(dir) action=allow protocol=\(q.proto.rawValue.uppercased()) \(portKey)=\(q.port)"
        if let block = candidates.first(where: { !$0.allow && applies($0) }) {
            return FirewallVerdict(
                decision: .drop, rule: "rule “\(block.name)” (block)", tool: tool,
                note: "block rules win over allow rules: remove or disable it", fix: nil)
        }
        if let allow = candidates.first(where: { $0.allow && applies($0) }) {
            return FirewallVerdict(decision: .allow, rule: "rule “\(allow.name)”", tool: tool, note: nil)
        }
        let blocks = q.direction == .inbound ? blockInbound : blockOutbound
        if !undecided.isEmpty && blocks {
            return FirewallVerdict(
                decision: .unknown, rule: nil, tool: tool,
                note:
                    "rules for specific programs (\(undecided.joined(separator: ", "))) cover this port: name the program",
                fix: fix, fixCommands: [command])
        }
        return blocks
            ? FirewallVerdict(
                decision: .drop,
                rule: "the profile's default: block \(q.direction == .inbound ? "inbound" : "outbound")",
                tool: tool, note: nil, fix: fix, fixCommands: [command])
            : FirewallVerdict(decision: .allow, rule: "the profile's default: allow", tool: tool, note: nil)
    }

    private func ports(_ spec: String, contain port: UInt16?) -> Bool {
        if WindowsFirewall.any.contains(spec.lowercased()) { return true }
        guard let port else { return false }
        return spec.split(separator: ",").contains { part in
            let r = part.split(separator: "-").compactMap { Int($0.trimmingWhitespace) }
            if r.count == 2 { return r[0] <= Int(port) && Int(port) <= r[1] }  // reversed: nothing, no trap
            return r.first == Int(port)
        }
    }
}

/// pf (macOS, BSD) from `pfctl -s info` and `pfctl -sr`: the last matching rule decides, unless a
/// `quick` rule matches first. Understands pass/block, in/out, quick, inet/inet6, proto, from/to
/// with any/addresses/prefixes and ports (single, lists, ranges).
public struct PacketFilter: Sendable {
    struct Rule: Sendable {
        var text: String
        var pass: Bool
        var returns: Bool
        var direction: String?
        var quick: Bool
        var protos: [String]?
        var from: String
        var to: String
        var ports: [ClosedRange<Int>]?
    }

    public var enabled: Bool
    var rules: [Rule] = []

    public init(info: String, rules text: String) {
        enabled = info.contains("Status: Enabled")
        for raw in text.split(separator: "\n") {
            let line = String(raw.trimmingWhitespace)
            let w = line.split(separator: " ").map(String.init)
            guard let first = w.first, first == "pass" || first == "block" else { continue }
            var r = Rule(
                text: line, pass: first == "pass", returns: w.contains("return"), direction: nil,
                quick: w.contains("quick"),
                protos: nil, from: "any", to: "any", ports: nil)
            if w.contains("in") { r.direction = "in" } else if w.contains("out") { r.direction = "out" }
            if let i = w.firstIndex(of: "proto"), i + 1 < w.count { r.protos = PacketFilter.list(w[i + 1]) }
            if let i = w.firstIndex(of: "from"), i + 1 < w.count { r.from = w[i + 1] }
            if let i = w.firstIndex(of: "to"), i + 1 < w.count {
                r.to = w[i + 1]
                if let p = w[(i + 1)...].firstIndex(of: "port"), p + 1 < w.count {
                    r.ports = PacketFilter.ports(Array(w[(p + 1)...]))
                }
            }
            if w.contains("all") { r.from = "any"; r.to = "any" }
            rules.append(r)
        }
    }

    static func list(_ word: String) -> [String] {
        word.trimmingCharacters(in: "{},").split(separator: ",").map { String($0) }
    }

    /// "4242", "{ 22, 4242 }", "5000:5100", "= 4242", "4000 >< 5000".
    static func ports(_ words: [String]) -> [ClosedRange<Int>] {
        var out: [ClosedRange<Int>] = []
        var tokens = words.filter { $0 != "=" }
        if tokens.first == "{" || tokens.first?.hasPrefix("{") == true {
            let end = tokens.firstIndex { $0.hasSuffix("}") } ?? tokens.count - 1
            tokens = Array(tokens[0...end])
        } else {
            tokens = Array(tokens.prefix(1))
        }
        for t in tokens {
            let clean = t.trimmingCharacters(in: "{},")
            if clean.isEmpty { continue }
            let parts = clean.split(separator: ":").compactMap { Int($0) }
            if parts.count == 2 { out.append(parts[0]...parts[1]) } else if let p = parts.first { out.append(p...p) }
        }
        return out
    }

    public func evaluate(_ q: FirewallQuestion) -> FirewallVerdict {
        let tool = "pf"
        guard enabled else { return FirewallVerdict(decision: .allow, rule: "pf is disabled", tool: tool, note: nil) }
        let dir = q.direction == .inbound ? "in" : "out"
        var decision: Rule?
        for r in rules {
            if let d = r.direction, d != dir { continue }
            if let protos = r.protos, !protos.contains(q.proto.rawValue) { continue }
            if let ports = r.ports, !ports.contains(where: { $0.contains(Int(q.port)) }) { continue }
            let remote = q.direction == .inbound ? r.from : r.to
            if remote != "any" {
                guard let addr = q.remote else {
                    return FirewallVerdict(
                        decision: .unknown, rule: nil, tool: tool,
                        note: "“\(r.text)” depends on the other computer's address: give it to decide")
                }
                let parts = remote.split(separator: "/")
                let length = parts.count == 2 ? Int(parts[1]) ?? 32 : (remote.contains(":") ? 128 : 32)
                if !NFTRuleset.inPrefix(addr, String(parts[0]), length) { continue }
            }
            decision = r
            if r.quick { break }
        }
        guard let d = decision else {
            return FirewallVerdict(
                decision: .allow, rule: "no pf rule matches (pass by default)", tool: tool, note: nil)
        }
        if d.pass { return FirewallVerdict(decision: .allow, rule: d.text, tool: tool, note: nil) }
        return FirewallVerdict(
            decision: d.returns ? .reject : .drop, rule: d.text, tool: tool,
            note: "pf takes the last matching rule (or the first `quick` one)",
            fix:
                "add `pass \(dir) quick proto \(q.proto.rawValue) to any port \(q.port)` to /etc/pf.conf, then sudo pfctl -f /etc/pf.conf"
        )
    }
}

extension String {
    func trimmingCharacters(in set: String) -> String {
        let chars = Set(set)
        guard let s = firstIndex(where: { !chars.contains($0) }), let e = lastIndex(where: { !chars.contains($0) })
        else { return "" }
        return String(self[s...e])
    }
}
