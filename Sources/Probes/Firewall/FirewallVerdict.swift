/// "Would this computer's firewall let this connection through?"
public struct FirewallQuestion: Sendable, Encodable {
    public enum Direction: String, Sendable, Encodable {
        case inbound, outbound
    }

    public enum Family: String, Sendable, Encodable {
        case ipv4, ipv6
    }

    public var direction: Direction
    public var proto: SocketEntry.Proto
    /// The port on this computer (inbound) or on the other one (outbound).
    public var port: UInt16
    /// The other computer's address, when known (source inbound, destination outbound).
    public var remote: String?
    /// The interface the packet uses; nil means "not loopback".
    public var interface: String?
    /// The program that listens or connects (macOS and Windows firewalls decide per program).
    public var program: String?
    /// The address family asked about when `remote` is not given (a given `remote` says it itself).
    /// nil: IPv4, with rules on the packet's family undecided by it kept lenient as before.
    public var family: Family?

    /// Set: the packet asked about is an incoming ICMPv6 neighbour-discovery packet, not TCP or UDP
    /// (`port` and `proto` are then not its own). The evaluators ask it themselves for every IPv6
    /// question (`FirewallVerdict.neighbourDiscovery`).
    public var neighbourDiscovery: NeighbourDiscoveryPacket? = nil

    /// The family the packet has: the remote address's, else the one asked about, else IPv4.
    public var isIPv6: Bool {
        if let remote { return remote.contains(":") }
        return family == .ipv6
    }

    /// Whether the packet's family is known (a remote address, or a family asked about), so that a
    /// match on the other family's header is false rather than undecided.
    public var familyKnown: Bool { remote != nil || family != nil }

    public init(
        direction: Direction, proto: SocketEntry.Proto = .tcp, port: UInt16, remote: String? = nil,
        interface: String? = nil, program: String? = nil, family: Family? = nil
    ) {
        self.direction = direction
        self.proto = proto
        self.port = port
        self.remote = remote
        self.interface = interface
        self.program = program
        self.family = family
    }
}

/// A ruleset that answers for one packet at a time (nftables, iptables): a question over IPv6 is
/// also asked for the neighbour-discovery packets that must get in first.
public protocol PacketRuleset {
    /// The verdict for the one packet the question describes.
    func evaluatePacket(_ q: FirewallQuestion) -> FirewallVerdict
}

extension PacketRuleset {
    public func evaluate(_ q: FirewallQuestion) -> FirewallVerdict {
        var v = evaluatePacket(q)
        if NeighbourDiscoveryPacket.applies(to: q) {
            v.neighbourDiscovery = NeighbourDiscoveryVerdict(
                NeighbourDiscoveryPacket.allCases.map {
                    ($0, evaluatePacket(NeighbourDiscoveryPacket.question($0, for: q)))
                })
        }
        return v
    }
}

/// The two ICMPv6 neighbour-discovery packets that must come in before anything else can over IPv6:
/// the neighbour (the router, or the other computer on the link) asks for this computer's link
/// address with a solicitation and answers this computer's own questions with an advertisement.
public enum NeighbourDiscoveryPacket: String, Sendable, Encodable, CaseIterable {
    case solicitation = "neighbour-solicitation"
    case advertisement = "neighbour-advertisement"

    public var icmpv6Type: Int { self == .solicitation ? 135 : 136 }

    /// A solicitation goes to this computer's solicited-node multicast address; the advertisement
    /// that answers this computer's own solicitation comes back to its unicast address.
    public var multicast: Bool { self == .solicitation }

    /// How the question for this packet is asked (ND packets carry hop limit 255 and are never
    /// tracked by conntrack: their ct state is "untracked", neither "new" nor "related").
    public static func question(_ packet: Self, for q: FirewallQuestion) -> FirewallQuestion {
        var nd = FirewallQuestion(
            direction: .inbound, proto: q.proto, port: q.port, remote: nil, interface: q.interface,
            program: q.program, family: .ipv6)
        nd.neighbourDiscovery = packet
        return nd
    }

    /// Whether neighbour discovery matters for this question: IPv6, and not loopback (where no
    /// neighbour is asked).
    public static func applies(to q: FirewallQuestion) -> Bool {
        q.isIPv6 && q.neighbourDiscovery == nil && q.remote != "::1" && q.interface != "lo"
    }
}

/// Whether incoming neighbour discovery gets through the input path, for an IPv6 question: the
/// first of the two packets (solicitation, then advertisement) that does not get in, else the
/// advertisement's allow.
public struct NeighbourDiscoveryVerdict: Sendable, Encodable {
    public var decision: FirewallVerdict.Decision
    /// The packet `decision` is about.
    public var packet: NeighbourDiscoveryPacket
    public var rule: String?
    public var note: String?
    /// The command a person would type to let neighbour discovery in (ICMPv6 types 133–137).
    public var fix: String?
    public var fixCommands: [[String]]?

    public init(
        decision: FirewallVerdict.Decision, packet: NeighbourDiscoveryPacket, rule: String?, note: String?,
        fix: String? = nil, fixCommands: [[String]]? = nil
    ) {
        self.decision = decision
        self.packet = packet
        self.rule = rule
        self.note = note
        self.fix = fix
        self.fixCommands = fixCommands
    }

    /// The verdicts for each packet (solicitation first): the first that is not allow, else the last.
    /// Each verdict's fix is the evaluator's command for letting neighbour discovery in.
    init(_ verdicts: [(NeighbourDiscoveryPacket, FirewallVerdict)]) {
        let (packet, v) = verdicts.first { $0.1.decision != .allow } ?? verdicts[verdicts.count - 1]
        self.init(
            decision: v.decision, packet: packet, rule: v.rule, note: v.note, fix: v.fix, fixCommands: v.fixCommands)
    }

    /// nftables and legacy iptables both filter: the first refusal (or doubt) is the answer.
    static func both(_ nft: Self?, _ legacy: Self?) -> Self? {
        guard let nft, let legacy else { return nft ?? legacy }
        if nft.decision == .drop || nft.decision == .reject { return nft }
        if legacy.decision != .allow { return legacy }
        return nft.rule?.hasPrefix("no ") == true ? legacy : nft
    }
}

public struct FirewallVerdict: Sendable, Encodable {
    public enum Decision: String, Sendable, Encodable {
        case allow, drop, reject, unknown
        /// This user may not read the rules (see `Access`): `note` says so with the tool's words.
        case noPermission = "no-permission"
    }

    public var decision: Decision
    /// The rule that decided, in words the user recognises ("inet filter input handle 7: tcp dport 4242 drop"),
    /// or the chain policy.
    public var rule: String?
    /// nftables, iptables, ufw, firewalld, …
    public var tool: String
    /// Why the answer is `unknown`, or other things worth knowing.
    public var note: String?
    /// The command a person would type to open the port with the tool in charge.
    public var fix: String?
    /// The same change as commands a repair runs (as root, without a shell).
    public var fixCommands: [[String]]?
    /// For an IPv6 question (not loopback): whether incoming neighbour discovery gets in. The
    /// decision above is the TCP or UDP packet's alone; without neighbour discovery nothing gets in.
    public var neighbourDiscovery: NeighbourDiscoveryVerdict?

    public init(
        decision: Decision, rule: String?, tool: String, note: String?, fix: String? = nil,
        fixCommands: [[String]]? = nil
    ) {
        self.decision = decision
        self.rule = rule
        self.tool = tool
        self.note = note
        self.fix = fix
        self.fixCommands = fixCommands
    }
}
