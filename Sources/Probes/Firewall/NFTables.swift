#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Evaluates a question against `nft -j list ruleset`: base chains on the hook in priority order,
/// policies, jumps, gotos and returns, named and anonymous sets, ranges, prefixes, ct state and
/// interface names, and the `xt` matches iptables-nft leaves behind (read through iptables-nft-save,
/// which still knows their options, or else judged by their names). What it cannot evaluate makes the
/// answer `unknown`, saying which rule and why.
public struct NFTRuleset: PacketRuleset, Sendable {
    struct Chain: Sendable {
        var family: String, table: String, name: String
        var hook: String?, priority: Int, policy: String?
        var rules: [Rule]
    }

    struct Rule: Sendable {
        var handle: Int
        var expr: [JSON]
        /// iptables-nft-save's words for this rule, when the rule came from iptables-nft: nft's JSON
        /// shows an `xt` match by its name only.
        var xtArgs: [String]? = nil
        var text: String {
            if let xtArgs { return xtArgs.joined(separator: " ") }
            return expr.compactMap(NFTRuleset.describe).joined(separator: " ")
        }
    }

    var chains: [String: Chain] = [:]  // "family table name"
    var sets: [String: [JSON]] = [:]  // "family table name" → elements

    /// Why nft's output could not be read, with where the decoder stopped when it says.
    public struct DecodeError: Error, CustomStringConvertible {
        public var description: String
    }

    /// `iptablesSave`: the output of iptables-nft-save (family "ip") and ip6tables-nft-save ("ip6"),
    /// matched to nft's rules by chain and position.
    public init(json: [UInt8], iptablesSave: [(family: String, text: String)] = []) throws {
        let root: JSON
        do {
            root = try JSONDecoder().decode(JSON.self, from: Data(json))
        } catch DecodingError.dataCorrupted {
            // The decoder does not say where; nft's output is long, so find the place ourselves.
            let place = JSON.syntaxError(in: json).map { "line \($0.line), column \($0.column)" }
            throw DecodeError(description: "not valid JSON" + (place.map { " (stopped at \($0))" } ?? ""))
        } catch {
            throw DecodeError(description: "\(error)")
        }
        for item in root["nftables"]?.array ?? [] {
            guard let (kind, o) = item.tag else { continue }
            let family = o["family"]?.string ?? "", table = o["table"]?.string ?? ""
            switch kind {
            case "chain":
                let name = o["name"]?.string ?? ""
                chains["\(family) \(table) \(name)"] = Chain(
                    family: family, table: table, name: name, hook: o["hook"]?.string, priority: o["prio"]?.int ?? 0,
                    policy: o["policy"]?.string, rules: [])
            case "rule":
                let key = "\(family) \(table) \(o["chain"]?.string ?? "")"
                chains[key]?.rules.append(Rule(handle: o["handle"]?.int ?? 0, expr: o["expr"]?.array ?? []))
            case "set", "map":
                sets["\(family) \(table) \(o["name"]?.string ?? "")"] = o["elem"]?.array ?? []
            default: break
            }
        }
        for (family, text) in iptablesSave {
            for (chainName, rules) in NFTRuleset.saved(text) {
                let key = "\(family) \(chainName)"
                guard let count = chains[key]?.rules.count, count == rules.count else { continue }
                for i in 0..<count { chains[key]?.rules[i].xtArgs = rules[i] }
            }
        }
    }

    /// "table chain" → each rule's words, from iptables-save's format.
    static func saved(_ text: String) -> [String: [[String]]] {
        var out: [String: [[String]]] = [:]
        var table = ""
        for raw in text.split(separator: "\n") {
            if raw.hasPrefix("*") {
                table = String(raw.dropFirst())
            } else if raw.hasPrefix(":") {
                let name = raw.dropFirst().split(separator: " ").first.map(String.init) ?? ""
                out["\(table) \(name)", default: []] = []
            } else if raw.hasPrefix("-A ") {
                let args = IPTablesRuleset.tokens(String(raw.dropFirst(3)))
                guard let chain = args.first else { continue }
                out["\(table) \(chain)", default: []].append(["-A"] + args)
            }
        }
        return out
    }

    /// Which tool's rules these are, judged by chain names.
    var tool: String {
        let names = chains.values.map(\.name)
        if names.contains(where: { $0.hasPrefix("ufw-") || $0.hasPrefix("ufw6-") }) { return "ufw" }
        if names.contains(where: { $0.hasPrefix("filter_IN_") || $0.hasPrefix("filter_INPUT") }) { return "firewalld" }
        // iptables-nft makes tables named after iptables' own, with its upper-case built-in chains.
        if chains.values.contains(where: {
            ["ip", "ip6"].contains($0.family) && $0.table == "filter" && $0.name == "INPUT" && $0.hook != nil
        }) {
            return "iptables-nft"
        }
        return "nftables"
    }

    enum Outcome { case accept, drop(String), reject(String), unknown(String), fallThrough, returned }

    /// The verdict for the one packet the question describes.
    public func evaluatePacket(_ q: FirewallQuestion) -> FirewallVerdict {
        let hook = q.direction == .inbound ? "input" : "output"
        let family = q.isIPv6 ? "ip6" : "ip"
        let base = chains.values.filter { $0.hook == hook && ($0.family == "inet" || $0.family == family) }
            .sorted { ($0.priority, $0.family, $0.table) < ($1.priority, $1.family, $1.table) }
        var decidedBy: String?
        for chain in base {
            var trail: [String] = []
            let outcome = run(chain, q, depth: 0, trail: &trail)
            let place = "\(chain.family) \(chain.table) \(chain.name)"
            switch outcome {
            case .accept: decidedBy = trail.last ?? decidedBy
            case .drop(let r): return verdict(.drop, r, q)
            case .reject(let r): return verdict(.reject, r, q)
            case .unknown(let why): return FirewallVerdict(decision: .unknown, rule: nil, tool: tool, note: why)
            case .fallThrough, .returned:
                if chain.policy == "drop" { return verdict(.drop, "\(place): policy drop", q) }
                decidedBy = decidedBy ?? "\(place): policy \(chain.policy ?? "accept")"
            }
        }
        return FirewallVerdict(
            decision: .allow, rule: decidedBy ?? (base.isEmpty ? "no \(hook) chain" : nil), tool: tool,
            note: nil, fix: nil)
    }

    private func verdict(_ d: FirewallVerdict.Decision, _ rule: String, _ q: FirewallQuestion) -> FirewallVerdict {
        if q.neighbourDiscovery != nil { return neighbourDiscoveryVerdict(d, rule) }
        let dir = q.direction == .inbound ? "in" : "out"
        let portProto = "\(q.port)/\(q.proto.rawValue)"
        let commands: [[String]]
        switch tool {
        case "ufw": commands = [["ufw", "allow", dir, portProto]]
        case "firewalld":
            commands = [["firewall-cmd", "--permanent", "--add-port=\(portProto)"], ["firewall-cmd", "--reload"]]
        case "iptables-nft":
            // nft would warn: the table is managed by iptables-nft, so change it with iptables.
            let program = q.isIPv6 ? "ip6tables" : "iptables"
            let chain = q.direction == .inbound ? "INPUT" : "OUTPUT"
            commands = [[program, "-I", chain, "-p", q.proto.rawValue, "--dport", String(q.port), "-j", "ACCEPT"]]
        default:
            // Insert at the top of the chain that decided ("inet filter input handle 7: …").
            let place = rule.split(separator: ":").first.map(String.init) ?? "inet filter input"
            let words = place.split(separator: " ").prefix(3).map(String.init)
            commands = [["nft", "insert", "rule"] + words + [q.proto.rawValue, "dport", String(q.port), "accept"]]
        }
        let fix = commands.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && ")
        return FirewallVerdict(decision: d, rule: rule, tool: tool, note: nil, fix: fix, fixCommands: commands)
    }

    /// A neighbour-discovery packet refused: the fix lets all of it in (ICMPv6 types 133–137: router
    /// and neighbour solicitations and advertisements, redirects), as RFC 4890 advises. ufw and
    /// firewalld let it in by default, so a refusal there is a rule of the person's own: no command.
    private func neighbourDiscoveryVerdict(_ d: FirewallVerdict.Decision, _ rule: String) -> FirewallVerdict {
        let commands: [[String]]?
        switch tool {
        case "ufw", "firewalld": commands = nil
        case "iptables-nft":
            commands = (133...137).map {
                ["ip6tables", "-I", "INPUT", "-p", "ipv6-icmp", "--icmpv6-type", String($0), "-j", "ACCEPT"]
            }
        default:
            let place = rule.split(separator: ":").first.map(String.init) ?? "inet filter input"
            let words = place.split(separator: " ").prefix(3).map(String.init)
            commands = [["nft", "insert", "rule"] + words + ["icmpv6", "type", "133-137", "accept"]]
        }
        let fix = commands.map { $0.map { "sudo " + $0.joined(separator: " ") }.joined(separator: " && ") }
        return FirewallVerdict(decision: d, rule: rule, tool: tool, note: nil, fix: fix, fixCommands: commands)
    }

    private func run(_ chain: Chain, _ q: FirewallQuestion, depth: Int, trail: inout [String]) -> Outcome {
        guard depth < 16 else { return .unknown("jumps nest deeper than 16 chains (a loop?)") }
        let place = "\(chain.family) \(chain.table) \(chain.name)"
        for rule in chain.rules {
            var matched: Bool? = true
            var unknownReason: String?
            // iptables-save's words decide every xt match of the rule at once (and its native ones too).
            let saved = rule.xtArgs.map { IPTablesRuleset.matches($0, q) }
            for e in rule.expr {
                guard let (tag, body) = e.tag else { continue }
                var kind = tag
                if kind == "xt" && body["type"]?.string != "target" {
                    let name = body["name"]?.string ?? "?"
                    let m: Bool? = if let saved { saved.0 } else { xtMatch(name, q) }
                    if m == false { matched = false; break }
                    if m == nil {
                        matched = nil
                        unknownReason = unknownReason ?? saved?.1 ?? "xt match \(name) (nft shows only its name)"
                    }
                    continue
                }
                if kind == "match" {
                    let m = match(body, q, chain: chain)
                    if m == false { matched = false; break }
                    if m == nil { matched = nil; unknownReason = unknownReason ?? NFTRuleset.describe(e) }
                    continue
                }
                let at = "\(place) handle \(rule.handle): \(rule.text)"
                if kind == "vmap" {
                    if matched == nil {
                        return .unknown(
                            "\(at) depends on `\(unknownReason ?? "something")`: portdoctor cannot evaluate that part")
                    }
                    switch vmapVerdict(body, q, chain: chain) {
                    case nil: return .unknown("\(at): a verdict map portdoctor cannot evaluate")
                    case .some(nil): continue  // no element matches: on to the next rule
                    case .some(let (verdict, target)?):
                        if let r = decide(
                            verdict, target: target ?? "", in: chain, at: at, q, depth: depth, trail: &trail)
                        {
                            return r
                        }
                        continue
                    }
                }
                if kind == "xt" {  // an iptables target nft has no word for
                    switch body["name"]?.string ?? "" {
                    case "REJECT": kind = "reject"
                    case "LOG", "NFLOG", "ULOG", "AUDIT", "MARK", "CONNMARK", "TCPMSS", "CT", "NOTRACK", "TRACE",
                        "CLASSIFY", "DSCP", "TOS", "CHECKSUM":
                        continue
                    default:
                        return .unknown("\(at): the iptables target \(body["name"]?.string ?? "?") is not evaluated")
                    }
                }
                let verdictKinds = ["accept", "drop", "reject", "jump", "goto", "return"]
                if verdictKinds.contains(kind) && matched == nil {
                    let about = unknownReason ?? "something"
                    let address = about.contains("saddr") || about.contains("daddr")
                    let hint =
                        address && q.neighbourDiscovery != nil
                        ? "neighbour discovery comes from the router's or the other computer's address on the link, not known here"
                        : address && q.remote == nil
                            ? "give the other computer's address to decide" : "portdoctor cannot evaluate that part"
                    return .unknown("\(at) depends on `\(about)`: \(hint)")
                }
                // A statement before the verdict (iptables-nft puts a counter in every rule) decides
                // nothing: an undecided match must still reach the verdict to be reported.
                guard matched == true else { continue }
                if let r = decide(
                    kind, target: body["target"]?.string ?? "", in: chain, at: at, q, depth: depth, trail: &trail)
                {
                    return r
                }
            }
        }
        return .fallThrough
    }

    /// A rule's verdict (or a verdict map's): the chain's outcome, or nil when the chain goes on
    /// (a jumped-to chain returned; counter, log and other statements that decide nothing).
    private func decide(
        _ verdict: String, target: String, in chain: Chain, at: String, _ q: FirewallQuestion, depth: Int,
        trail: inout [String]
    ) -> Outcome? {
        switch verdict {
        case "accept":
            trail.append(at)
            return .accept
        case "drop": return .drop(at)
        case "reject": return .reject(at)
        case "return": return .returned
        case "jump", "goto": return follow(verdict, to: target, from: chain, at: at, q, depth: depth, trail: &trail)
        default: return nil
        }
    }

    /// Runs a jumped-to chain. nil: it returned, so the calling chain goes on (after a jump);
    /// after a goto the calling chain is finished too.
    private func follow(
        _ kind: String, to target: String, from chain: Chain, at: String, _ q: FirewallQuestion,
        depth: Int, trail: inout [String]
    ) -> Outcome? {
        guard let next = chains["\(chain.family) \(chain.table) \(target)"] else {
            return .unknown("\(at): no chain \(target)")
        }
        switch run(next, q, depth: depth + 1, trail: &trail) {
        case .fallThrough, .returned: return kind == "goto" ? .returned : nil
        case let r: return r
        }
    }

    /// true / false, or nil when the match depends on something the question does not say.
    private func match(_ m: JSON, _ q: FirewallQuestion, chain: Chain) -> Bool? {
        let op = m["op"]?.string ?? "=="
        guard let left = m["left"], let right = m["right"] else { return nil }
        let negate = op == "!="
        func result(_ r: Bool?) -> Bool? { r.map { negate ? !$0 : $0 } }
        if let p = left["payload"], let nd = q.neighbourDiscovery {
            return result(neighbourDiscoveryPayload(p, right, op: op, nd, chain: chain))
        }
        if let p = left["payload"] {
            let proto = p["protocol"]?.string ?? "", field = p["field"]?.string ?? ""
            switch (proto, field) {
            case ("tcp", "dport"), ("udp", "dport"), ("th", "dport"), ("tcp", "sport"), ("udp", "sport"),
                ("th", "sport"):
                if proto != "th" && proto != q.proto.rawValue { return false }  // a tcp match is false for udp
                let port: Int? = field == "dport" ? Int(q.port) : nil  // the other side's port is not known
                guard let port else { return nil }
                return result(contains(right, number: port, op: op, chain: chain))
            case (_, _) where ["ip", "ip6"].contains(proto) && q.familyKnown && (proto == "ip6") != q.isIPv6:
                // In an inet chain, a match on the other family's header is false whatever it compares.
                return false
            case ("ip", "saddr"), ("ip6", "saddr"), ("ip", "daddr"), ("ip6", "daddr"):
                let mine = (field == "saddr") == (q.direction == .inbound)  // the remote end's address
                guard mine, let addr = q.remote else { return nil }
                if (proto == "ip6") != addr.contains(":") { return false }
                return result(contains(right, address: addr, chain: chain))
            case ("ip", "protocol"), ("ip6", "nexthdr"):
                return result(contains(right, text: q.proto.rawValue, chain: chain))
            case ("ip", _), ("ip6", _), ("th", _), ("tcp", _), ("udp", _):
                if ["tcp", "udp"].contains(proto) && proto != q.proto.rawValue { return false }
                return nil
            default:
                // A header a TCP or UDP packet does not have (icmp, icmpv6, sctp, esp…): nft matches
                // it only on packets of that protocol, whatever the comparison.
                return ["ether", "vlan", "arp"].contains(proto) ? nil : false
            }
        }
        if let fib = left["fib"], fib["result"]?.string == "type",
            let flags = fib["flags"]?.array?.compactMap(\.string)
        {
            // The address type of the connection's ends: ours is one of this computer's own (local),
            // the other computer's an ordinary one (unicast). A neighbour solicitation comes to a
            // multicast address (this computer's solicited-node one), from a unicast one.
            let ours = flags.contains("daddr") == (q.direction == .inbound)
            if let nd = q.neighbourDiscovery {
                return result(
                    contains(right, text: ours ? (nd.multicast ? "multicast" : "local") : "unicast", chain: chain))
            }
            if ours { return result(contains(right, text: "local", chain: chain)) }
            guard let remote = q.remote else { return nil }
            return result(contains(right, text: isLoopback(remote) ? "local" : "unicast", chain: chain))
        }
        if let meta = left["meta"]?["key"]?.string {
            switch meta {
            case "l4proto":
                if q.neighbourDiscovery != nil { return result(isICMPv6(right, chain: chain)) }
                return result(contains(right, text: q.proto.rawValue, chain: chain))
            case "nfproto":
                return result(contains(right, text: q.isIPv6 ? "ipv6" : "ipv4", chain: chain))
            case "pkttype":
                if let nd = q.neighbourDiscovery, nd.multicast {
                    return result(contains(right, text: "multicast", chain: chain))
                }
                return result(
                    contains(right, text: "host", chain: chain) || contains(right, text: "unicast", chain: chain))
            case "iifname", "oifname", "iif", "oif":
                let relevant = (meta.hasPrefix("i")) == (q.direction == .inbound)
                guard relevant else { return nil }
                let name = q.interface ?? ((q.remote.map(isLoopback) ?? false) ? "lo" : nil)
                if let name { return result(contains(right, text: name, chain: chain)) }
                // Not loopback, name unknown: a match on "lo" is false, others undecidable.
                if right.string == "lo" { return result(false) }
                return nil
            default: return nil
            }
        }
        if left["ct"]?["key"]?.string == "status" {
            // A new connection straight to this computer: not DNATed or SNATed.
            return result(false)
        }
        if left["ct"]?["key"]?.string == "state" {
            // A new connection: its state is "new". Conntrack does not track neighbour discovery
            // (nf_conntrack_proto_icmpv6 marks it untracked): neither "new" nor "related" matches it.
            let state = q.neighbourDiscovery == nil ? "new" : "untracked"
            return result(contains(right, text: state, chain: chain, flags: true))
        }
        return nil
    }

    /// A match on a header field of an incoming neighbour-discovery packet: IPv6 with hop limit 255,
    /// then ICMPv6 (type 135 or 136, code 0). Any other transport header it does not carry.
    private func neighbourDiscoveryPayload(
        _ p: JSON, _ right: JSON, op: String, _ nd: NeighbourDiscoveryPacket, chain: Chain
    )
        -> Bool?
    {
        let proto = p["protocol"]?.string ?? "", field = p["field"]?.string ?? ""
        switch (proto, field) {
        case ("icmpv6", "type"): return contains(right, icmpv6Type: nd.icmpv6Type, op: op, chain: chain)
        case ("icmpv6", "code"): return contains(right, number: 0, op: op, chain: chain)
        case ("icmpv6", _): return nil
        case ("ip6", "nexthdr"): return isICMPv6(right, chain: chain)
        case ("ip6", "hoplimit"): return contains(right, number: 255, op: op, chain: chain)
        case ("ip6", _): return nil  // its addresses: the neighbour's is not known
        case ("ip", _): return false  // an IPv4 header, in an inet chain
        case ("ether", _), ("vlan", _): return nil
        // tcp, udp, icmp, sctp…: nft matches them only on packets of that protocol. `th` reads
        // ICMPv6's checksum where a port would be: equal to a port by chance only.
        default: return false
        }
    }

    /// `meta l4proto` or `ip6 nexthdr` naming ICMPv6 (58).
    private func isICMPv6(_ right: JSON, chain: Chain) -> Bool {
        contains(right, text: "ipv6-icmp", chain: chain) || contains(right, text: "icmpv6", chain: chain)
            || contains(right, number: 58, op: "==", chain: chain)
    }

    /// nft's names for ICMPv6 types (its JSON prints the names it knows, in sets and ranges too).
    static let icmpv6Types: [String: Int] = [
        "destination-unreachable": 1, "packet-too-big": 2, "time-exceeded": 3, "parameter-problem": 4,
        "echo-request": 128, "echo-reply": 129, "mld-listener-query": 130, "mld-listener-report": 131,
        "mld-listener-done": 132, "mld-listener-reduction": 132, "nd-router-solicit": 133, "nd-router-advert": 134,
        "nd-neighbor-solicit": 135, "nd-neighbor-advert": 136, "nd-redirect": 137, "router-renumbering": 138,
        "ind-neighbor-solicit": 141, "ind-neighbor-advert": 142, "mld2-listener-report": 143,
    ]

    private func contains(_ right: JSON, icmpv6Type type: Int, op: String, chain: Chain) -> Bool {
        func number(_ v: JSON) -> Int? { v.int ?? v.string.flatMap { NFTRuleset.icmpv6Types[$0] } }
        if let n = number(right), ["<", ">", "<=", ">="].contains(op) {
            return contains(.number(Double(n)), number: type, op: op, chain: chain)
        }
        return elements(right, chain: chain).contains { e in
            if let n = number(e) { return n == type }
            if let r = e["range"]?.array, r.count == 2, let lo = number(r[0]), let hi = number(r[1]) {
                return lo <= type && type <= hi
            }
            if let elem = e["elem"]?["val"] { return number(elem) == type }
            return false
        }
    }

    /// An `xt` match known by its name alone (no iptables-nft-save to read its options from).
    private func xtMatch(_ name: String, _ q: FirewallQuestion) -> Bool? {
        if q.neighbourDiscovery != nil {
            switch name {
            case "comment", "limit": return true
            // Headers a neighbour-discovery packet does not carry.
            case "icmp", "tcp", "udp", "rt", "frag", "hbh", "ah", "esp": return false
            default: return nil  // icmp6, hl, conntrack… need their options
            }
        }
        switch name {
        case "comment": return true
        // A rate limit lets the first packets through: one new connection is within any limit.
        case "limit": return true
        // Headers a TCP or UDP packet does not carry (a plain SYN has no routing header either).
        case "icmp", "icmp6", "rt", "frag", "hbh", "ipv6header", "ah", "esp": return false
        case "tcp", "udp": return name == q.proto.rawValue ? nil : false
        default: return nil
        }
    }

    /// `key vmap { element : verdict, … }`: nil when the key cannot be evaluated, .some(nil) when no
    /// element matches, else the verdict (and its target chain for jump/goto).
    private func vmapVerdict(_ body: JSON, _ q: FirewallQuestion, chain: Chain) -> (String, String?)?? {
        guard let key = body["key"], let pairs = body["data"]?["set"]?.array else { return nil }
        for pair in pairs {
            guard let items = pair.array, items.count == 2, let (verdict, arg) = items[1].tag else { continue }
            let probe = JSON.object(["op": .string("=="), "left": key, "right": items[0]])
            switch match(probe, q, chain: chain) {
            case nil: return nil
            case true?: return .some((verdict, arg["target"]?.string))
            case false?: continue
            }
        }
        return .some(nil)
    }

    private func elements(_ right: JSON, chain: Chain) -> [JSON] {
        if let name = right.string, name.hasPrefix("@") {
            return sets["\(chain.family) \(chain.table) \(name.dropFirst())"] ?? []
        }
        if let s = right["set"]?.array { return s }
        return [right]
    }

    private func contains(_ right: JSON, number: Int, op: String, chain: Chain) -> Bool {
        if let n = right.int, ["<", ">", "<=", ">="].contains(op) {
            switch op {
            case "<": return number < n
            case ">": return number > n
            case "<=": return number <= n
            default: return number >= n
            }
        }
        return elements(right, chain: chain).contains { e in
            if let n = e.int { return n == number }
            if let r = e["range"]?.array, r.count == 2, let lo = r[0].int, let hi = r[1].int {
                return lo <= number && number <= hi  // a reversed range holds nothing; no trap
            }
            if let elem = e["elem"]?["val"] { return elem.int == number }
            return false
        }
    }

    private func contains(_ right: JSON, text: String, chain: Chain, flags: Bool = false) -> Bool {
        elements(right, chain: chain).contains { e in
            if let s = e.string { return s == text || (s.hasSuffix("*") && text.hasPrefix(s.dropLast())) }
            if flags, let list = e.array { return list.contains { $0.string == text } }
            return false
        }
    }

    private func contains(_ right: JSON, address: String, chain: Chain) -> Bool {
        elements(right, chain: chain).contains { e in
            if let s = e.string { return s == address }
            if let p = e["prefix"], let net = p["addr"]?.string, let len = p["len"]?.int {
                return NFTRuleset.inPrefix(address, net, len)
            }
            if let r = e["range"]?.array, r.count == 2, let lo = r[0].string, let hi = r[1].string {
                guard let a = NFTRuleset.bytes(address), let l = NFTRuleset.bytes(lo), let h = NFTRuleset.bytes(hi)
                else { return false }
                return l.lexicographicallyPrecedes(a) || l == a ? (a.lexicographicallyPrecedes(h) || a == h) : false
            }
            return false
        }
    }

    func isLoopback(_ a: String) -> Bool { a.hasPrefix("127.") || a == "::1" }

    static func inPrefix(_ address: String, _ network: String, _ length: Int) -> Bool {
        guard let a = bytes(address), let n = bytes(network), a.count == n.count else { return false }
        var bits = length
        for i in 0..<a.count where bits > 0 {
            let take = min(8, bits)
            let mask: UInt8 = take == 8 ? 0xFF : ~(0xFF >> UInt8(take))
            if a[i] & mask != n[i] & mask { return false }
            bits -= take
        }
        return true
    }

    static func bytes(_ ip: String) -> [UInt8]? {
        guard let a = SocketAddress(numeric: ip, port: 0) else { return nil }
        return a.withSockaddr { sa, _ -> [UInt8] in
            let raw = UnsafeRawPointer(sa)
            return a.family == .ipv4
                ? Array(UnsafeRawBufferPointer(start: raw + 4, count: 4))
                : Array(UnsafeRawBufferPointer(start: raw + 8, count: 16))
        }
    }

    /// A short nft-like text for one expression, for messages.
    static func describe(_ e: JSON) -> String? {
        guard let (kind, body) = e.tag else { return nil }
        switch kind {
        case "match":
            let l = body["left"].map(text) ?? "?", r = body["right"].map(text) ?? "?"
            let op = body["op"]?.string ?? "=="
            return op == "==" || op == "in" ? "\(l) \(r)" : "\(l) \(op) \(r)"
        case "jump", "goto": return "\(kind) \(body["target"]?.string ?? "?")"
        case "counter", "log": return nil
        default: return kind
        }
    }

    static func text(_ v: JSON) -> String {
        if let p = v["payload"] { return "\(p["protocol"]?.string ?? "") \(p["field"]?.string ?? "")" }
        if let m = v["meta"] { return m["key"]?.string ?? "meta" }
        if let c = v["ct"] { return "ct \(c["key"]?.string ?? "")" }
        if let s = v["set"]?.array { return "{ " + s.map(text).joined(separator: ", ") + " }" }
        if let r = v["range"]?.array, r.count == 2 { return "\(text(r[0]))-\(text(r[1]))" }
        if let p = v["prefix"] { return "\(p["addr"]?.string ?? "")/\(p["len"]?.int ?? 0)" }
        if let a = v.array { return a.map(text).joined(separator: ",") }
        if let n = v.int { return String(n) }
        if let s = v.string { return s }
        return "?"
    }
}
