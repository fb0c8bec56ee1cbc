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
