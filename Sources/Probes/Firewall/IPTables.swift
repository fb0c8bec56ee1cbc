/// Evaluates a question against `iptables-save` (legacy iptables; iptables-nft rules show up in
/// nftables' own ruleset instead). The filter table only: chains, policies, jumps, gotos, returns,
/// and the matches that decide whether a port is open.
public struct IPTablesRuleset: PacketRuleset, Sendable {
    struct Rule: Sendable {
        var chain: String
        var args: [String]
        var text: String
    }

    var policies: [String: String] = [:]
    var rules: [String: [Rule]] = [:]

    public init(text: String) {
        var inFilter = false
        for raw in text.split(separator: "\n") {
            let line = String(raw)
            if line.hasPrefix("*") { inFilter = line == "*filter"; continue }
            guard inFilter else { continue }
            if line.hasPrefix(":") {
                let f = line.dropFirst().split(separator: " ")
                if f.count >= 2 { policies[String(f[0])] = String(f[1]); rules[String(f[0]), default: []] = [] }
            } else if line.hasPrefix("-A ") {
                let args = IPTablesRuleset.tokens(String(line.dropFirst(3)))
                guard let chain = args.first else { continue }
                rules[chain, default: []].append(Rule(chain: chain, args: Array(args.dropFirst()), text: line))
            }
        }
    }

    public var isEmpty: Bool { rules.values.allSatisfy(\.isEmpty) && policies.values.allSatisfy { $0 != "DROP" } }

    var tool: String { rules.keys.contains { $0.hasPrefix("ufw-") } ? "ufw" : "iptables" }

    /// Words of a rule, with "quoted strings" kept whole.
    static func tokens(_ s: String) -> [String] {
        var out: [String] = []
        var current = ""
        var quoted = false
        for c in s {
            if c == "\"" { quoted.toggle(); continue }
            if c == " " && !quoted {
                if !current.isEmpty { out.append(current); current = "" }
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { out.append(current) }
        return out
    }

    enum Outcome { case accept, drop(String), reject(String), unknown(String), fallThrough }

    /// The verdict for the one packet the question describes.
    public func evaluatePacket(_ q: FirewallQuestion) -> FirewallVerdict {
        let chain = q.direction == .inbound ? "INPUT" : "OUTPUT"
        var decided: String?
        switch run(chain, q, depth: 0, decided: &decided) {
        case .accept: return FirewallVerdict(decision: .allow, rule: decided, tool: tool, note: nil)
        case .drop(let r): return verdict(.drop, r, q)
        case .reject(let r): return verdict(.reject, r, q)
        case .unknown(let why): return FirewallVerdict(decision: .unknown, rule: nil, tool: tool, note: why)
        case .fallThrough:
            let policy = policies[chain] ?? "ACCEPT"
            if policy == "DROP" { return verdict(.drop, "filter \(chain): policy DROP", q) }
            return FirewallVerdict(decision: .allow, rule: "filter \(chain): policy \(policy)", tool: tool, note: nil)
        }
    }

    private func verdict(_ d: FirewallVerdict.Decision, _ rule: String, _ q: FirewallQuestion) -> FirewallVerdict {
        let chain = q.direction == .inbound ? "INPUT" : "OUTPUT"
        let portProto = "\(q.port)/\(q.proto.rawValue)"
        // IPv6 has its own tables, opened with ip6tables.
        let program = q.isIPv6 ? "ip6tables-legacy" : "iptables-legacy"
        if q.neighbourDiscovery != nil {
            // All of neighbour discovery (ICMPv6 types 133–137), as RFC 4890 advises; ufw lets it in
            // by default, so a refusal there is a rule of the person's own: no command.
            let commands: [[String]]? =
                tool == "ufw"
                ? nil
                : (133...137).map {
                    [program, "-I", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", String($0), "-j", "ACCEPT"]
                }
            return FirewallVerdict(
                decision: d, rule: rule, tool: tool, note: nil,
                fix: commands.map { $0.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && ") },
                fixCommands: commands)
        }
        let commands: [[String]] =
            tool == "ufw"
            ? [["ufw", "allow", q.direction == .inbound ? "in" : "out", portProto]]
            : [[program, "-I", chain, "-p", q.proto.rawValue, "--dport", String(q.port), "-j", "ACCEPT"]]
        return FirewallVerdict(
            decision: d, rule: rule, tool: tool, note: nil,
            fix: commands.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && "),
            fixCommands: commands)
    }

    private func run(_ chain: String, _ q: FirewallQuestion, depth: Int, decided: inout String?) -> Outcome {
        guard depth < 16 else { return .unknown("jumps nest deeper than 16 chains (a loop?)") }
        for rule in rules[chain] ?? [] {
            let (m, why) = matches(rule.args, q)
            let target = value(of: "-j", in: rule.args) ?? value(of: "-g", in: rule.args)
            guard let target else { continue }  // no target: counts packets only
            if m == nil {
                if ["ACCEPT", "DROP", "REJECT", "RETURN"].contains(target) || rules[target] != nil {
                    return .unknown("\(rule.text) depends on \(why ?? "a match") that portdoctor cannot evaluate")
                }
                continue
            }
            guard m == true else { continue }
            switch target {
            case "ACCEPT":
                decided = rule.text
                return .accept
            case "DROP": return .drop(rule.text)
            case "REJECT": return .reject(rule.text)
            case "RETURN": return .fallThrough
            case "LOG", "NFLOG", "ULOG": continue
            default:
                guard rules[target] != nil else { return .unknown("\(rule.text): target \(target) is not evaluated") }
                let r = run(target, q, depth: depth + 1, decided: &decided)
                if case .fallThrough = r {
                    if rule.args.contains("-g") { return .fallThrough }
                    continue
                }
                return r
            }
        }
        return .fallThrough
    }

    private func value(of option: String, in args: [String]) -> String? {
        guard let i = args.firstIndex(of: option), i + 1 < args.count else { return nil }
        return args[i + 1]
    }

    private func matches(_ args: [String], _ q: FirewallQuestion) -> (Bool?, String?) { Self.matches(args, q) }

    /// true/false, or nil with what could not be decided. Shared with the nftables evaluator, which
    /// reads the `xt` matches iptables-nft leaves behind through iptables-nft-save's words for them.
    static func matches(_ args: [String], _ q: FirewallQuestion) -> (Bool?, String?) {
        if let nd = q.neighbourDiscovery { return neighbourDiscoveryMatches(args, nd) }
        var i = 0
        var negate = false
        var result: Bool? = true
        var why: String?
        func take(_ r: Bool?) {
            let v = r.map { negate ? !$0 : $0 }
            negate = false
            if v == false { result = false } else if v == nil, result == true { result = nil }
        }
        while i < args.count {
            let a = args[i]
            let next = i + 1 < args.count ? args[i + 1] : ""
            switch a {
            case "!": negate = true; i += 1; continue
            case "-p", "--protocol":
                take(next == q.proto.rawValue || next == "all"); i += 2
            case "--dport", "--destination-port":
                take(inPorts(next, Int(q.port))); i += 2
            case "--dports", "--destination-ports", "--ports":
                take(next.split(separator: ",").contains { inPorts(String($0), Int(q.port)) }); i += 2
            case "--sport", "--source-port", "--sports", "--source-ports":
                take(nil); why = why ?? "the other computer's port"; i += 2
            case "-s", "--source", "-d", "--destination":
                let remoteSide = (a.hasPrefix("-s") || a == "--source") == (q.direction == .inbound)
                if remoteSide, let r = q.remote {
                    take(inNetwork(r, next))
                } else {
                    take(nil)
                    why =
                        why
                        ?? (remoteSide ? "the other computer's address (give it to decide)" : "this computer's address")
                }
                i += 2
            case "-i", "--in-interface", "-o", "--out-interface":
                let relevant = (a.hasPrefix("-i") || a == "--in-interface") == (q.direction == .inbound)
                let name = q.interface ?? ((q.remote.map { $0.hasPrefix("127.") || $0 == "::1" } ?? false) ? "lo" : nil)
                if !relevant {
                    take(nil); why = why ?? "the interface"
                } else if let name {
                    take(next == name || (next.hasSuffix("+") && name.hasPrefix(next.dropLast())))
                } else if next == "lo" {
                    take(false)
                } else {
                    take(nil); why = why ?? "the interface"
                }
                i += 2
            case "--ctstate", "--state":
                take(next.split(separator: ",").contains("NEW")); i += 2
            case "--dst-type", "--src-type":
                // A new connection to this computer is addressed to one of its own (LOCAL) addresses,
                // from an ordinary (UNICAST) one; loopback traffic comes from a LOCAL one as well.
                let types = next.split(separator: ",").map(String.init)
                if a == "--dst-type" {
                    take(q.direction == .inbound ? types.contains("LOCAL") : types.contains("UNICAST"))
                } else if let r = q.remote, q.direction == .inbound {
                    let loop = r.hasPrefix("127.") || r == "::1"
                    take(types.contains(loop ? "LOCAL" : "UNICAST"))
                } else {
                    take(nil); why = why ?? "-m addrtype \(a) \(next)"
                }
                i += 2
            case "--pkt-type":
                take(next == "unicast" || next == "host"); i += 2
            case "--rcheck", "--update", "--remove":
                // Whether this address was seen before, unless a hit count says more than one is needed.
                if !args.contains("--hitcount") { take(nil); why = why ?? "-m recent \(a)" }
                i += 1
            case "--hitcount":
                // `-m recent --update/--rcheck --hitcount N`: one connection attempt is one hit.
                take((Int(next) ?? 0) <= 1); i += 2
            case "-m", "--match":
                switch next {
                case "tcp", "udp", "multiport", "conntrack", "state", "comment", "addrtype", "pkttype", "recent":
                    break
                case "limit":
                    // A rate limit lets the first packets through: one new connection is within any limit.
                    break
                case "icmp", "icmp6", "rt", "frag", "hbh", "ipv6header", "ah", "esp":
                    // Headers a TCP or UDP packet does not carry (a plain SYN has no routing header).
                    take(false)
                default: take(nil); why = why ?? "-m \(next)"
                }
                i += 2
            case "--comment", "--reject-with", "--log-prefix", "--log-level", "--limit", "--limit-burst", "--name",
                "--seconds", "--mask":
                i += 2
            case "-j", "-g", "--jump", "--goto": i += 2
            default: i += 1
            }
        }
        return (result, why)
    }

    /// The matches of one rule against an incoming neighbour-discovery packet: ICMPv6 type 135 or
    /// 136, hop limit 255, untracked by conntrack (neither NEW nor RELATED), sent to this computer's
    /// solicited-node multicast address (a solicitation) or its own (an advertisement), from the
    /// neighbour's address (not known here).
    static func neighbourDiscoveryMatches(_ args: [String], _ nd: NeighbourDiscoveryPacket) -> (Bool?, String?) {
        var i = 0
        var negate = false
        var result: Bool? = true
        var why: String?
        func take(_ r: Bool?) {
            let v = r.map { negate ? !$0 : $0 }
            negate = false
            if v == false { result = false } else if v == nil, result == true { result = nil }
        }
        func unknown(_ what: String) { take(nil); why = why ?? what }
        while i < args.count {
            let a = args[i]
            let next = i + 1 < args.count ? args[i + 1] : ""
            switch a {
            case "!": negate = true; i += 1; continue
            case "-p", "--protocol":
                take(["ipv6-icmp", "icmpv6", "58", "all"].contains(next.lowercased())); i += 2
            case "--icmpv6-type":
                take(icmpv6Type(next).map { $0 == nd.icmpv6Type }); i += 2
            case "--dport", "--destination-port", "--dports", "--destination-ports", "--ports", "--sport",
                "--source-port", "--sports", "--source-ports":
                take(false); i += 2  // ports: TCP, UDP and SCTP only
            case "-s", "--source", "-d", "--destination":
                unknown("the neighbour's address (the router's or the other computer's, on the link)"); i += 2
            case "-i", "--in-interface", "-o", "--out-interface":
                if a.hasPrefix("-i") || a == "--in-interface", next == "lo" {
                    take(false)
                } else {
                    unknown("the interface")
                }
                i += 2
            case "--ctstate", "--state":
                take(next.split(separator: ",").contains("UNTRACKED")); i += 2
            case "--dst-type":
                take(next.split(separator: ",").contains(nd.multicast ? "MULTICAST" : "LOCAL")); i += 2
            case "--src-type":
                take(next.split(separator: ",").contains("UNICAST")); i += 2
            case "--pkt-type":
                take(nd.multicast ? next == "multicast" : (next == "unicast" || next == "host")); i += 2
            case "--hl-eq": take(Int(next) == 255); i += 2
            case "--hl-lt": take(Int(next).map { 255 < $0 }); i += 2
            case "--hl-gt": take(Int(next).map { 255 > $0 }); i += 2
            case "--rcheck", "--update", "--remove":
                if !args.contains("--hitcount") { unknown("-m recent \(a)") }
                i += 1
            case "--hitcount": take((Int(next) ?? 0) <= 1); i += 2
            case "-m", "--match":
                switch next {
                case "icmp6", "hl", "conntrack", "state", "comment", "addrtype", "pkttype", "recent", "limit": break
                // Headers a neighbour-discovery packet does not carry.
                case "tcp", "udp", "multiport", "icmp", "rt", "frag", "hbh", "ah", "esp": take(false)
                default: unknown("-m \(next)")
                }
                i += 2
            case "--comment", "--reject-with", "--log-prefix", "--log-level", "--limit", "--limit-burst", "--name",
                "--seconds", "--mask":
                i += 2
            case "-j", "-g", "--jump", "--goto": i += 2
            default: i += 1
            }
        }
        return (result, why)
    }

    /// `--icmpv6-type`: a number, "number/code", or one of ip6tables' names.
    static func icmpv6Type(_ spec: String) -> Int? {
        let name = spec.split(separator: "/").first.map(String.init) ?? spec
        if let n = Int(name) { return n }
        let names = [
            "router-solicitation": 133, "router-advertisement": 134, "neighbour-solicitation": 135,
            "neighbor-solicitation": 135, "neighbour-advertisement": 136, "neighbor-advertisement": 136,
            "redirect": 137,
            "echo-request": 128, "ping": 128, "echo-reply": 129, "pong": 129, "destination-unreachable": 1,
            "packet-too-big": 2, "time-exceeded": 3, "ttl-exceeded": 3, "parameter-problem": 4,
        ]
        return names[name.lowercased()]
    }

    private static func inPorts(_ spec: String, _ port: Int) -> Bool {
        let parts = spec.split(separator: ":")
        // A reversed range ("90:80") matches nothing, as in iptables; it must not trap here.
        if parts.count == 2, let lo = Int(parts[0]), let hi = Int(parts[1]) { return lo <= port && port <= hi }
        return Int(spec) == port
    }

    private static func inNetwork(_ address: String, _ spec: String) -> Bool {
        // Empty parts kept: "/" from a mangled rule is an empty network (matches nothing), not a trap.
        let parts = spec.split(separator: "/", omittingEmptySubsequences: false)
        let net = String(parts[0])
        var length = net.contains(":") ? 128 : 32
        if parts.count == 2 {
            if let n = Int(parts[1]) { length = n } else if let mask = maskLength(String(parts[1])) { length = mask }
        }
        return NFTRuleset.inPrefix(address, net, length)
    }

    private static func maskLength(_ mask: String) -> Int? {
        let octets = mask.split(separator: ".").compactMap { UInt8($0) }
        guard octets.count == 4 else { return nil }
        return octets.reduce(0) { $0 + $1.nonzeroBitCount }
    }
}
