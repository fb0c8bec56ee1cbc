/// One socket of the socket table, as `netstat`/`ss` would show it, with its meaning spelled out.
public struct SocketEntry: Sendable, Encodable, Equatable {
    public enum Proto: String, Sendable, Encodable, CaseIterable {
        case tcp, udp
    }

    /// What the bound address means for who can connect.
    public enum Scope: String, Sendable, Encodable {
        /// 0.0.0.0 or ::: every interface.
        case wildcard
        /// 127.0.0.0/8 or ::1: only this computer can connect.
        case loopbackOnly = "loopback-only"
        /// One specific address of this computer.
        case specific
    }

    public struct Owner: Sendable, Encodable, Equatable {
        public var pid: Int32
        /// The program's full name (Linux: argv[0]'s or the executable's base name, not the cut `comm`).
        public var program: String
        /// The kernel's short name, when it differs in kind from `program` (Linux: at most 15 bytes).
        public var comm: String?

        public init(pid: Int32, program: String, comm: String? = nil) {
            self.pid = pid
            self.program = program
            self.comm = comm
        }
    }

    public var proto: Proto
    public var family: SocketAddress.Family
    /// "LISTEN", "ESTABLISHED", … (for UDP: "UNCONN" or "ESTABLISHED").
    public var state: String
    public var local: SocketAddress
    public var remote: SocketAddress?
    public var owner: Owner?
    public var scope: Scope
    /// For IPv6 wildcard listeners: also reachable over IPv4 (unless the program set IPV6_V6ONLY).
    public var dualStack: Bool?
    /// Platform identity (the inode on Linux) used to find the owner.
    public var inode: UInt64?
    /// The user id the socket belongs to (Linux; any user may read it, unlike the owning process).
    public var uid: UInt32?
    /// `no-permission` when the owner is hidden from this user (another user's process, whose open
    /// files only the administrator may list); `accessError` says so in words.
    public var access: String?
    public var accessError: String?

    public init(
        proto: Proto, family: SocketAddress.Family, state: String, local: SocketAddress, remote: SocketAddress?,
        owner: Owner? = nil, inode: UInt64? = nil, dualStack: Bool? = nil
    ) {
        self.proto = proto
        self.family = family
        self.state = state
        self.local = local
        self.remote = remote
        self.owner = owner
        self.inode = inode
        self.scope = SocketEntry.scope(of: local.ip)
        self.dualStack = dualStack
    }

    static func scope(of ip: String) -> Scope {
        let bare = ip.split(separator: "%").first.map(String.init) ?? ip
        if bare == "0.0.0.0" || bare == "::" || bare == "*" { return .wildcard }
        if bare.hasPrefix("127.") || bare == "::1" || bare.hasPrefix("::ffff:127.") || bare == "localhost" {
            return .loopbackOnly
        }
        return .specific
    }
}

/// Which sockets to list.
public struct SocketQuery: Sendable {
    public var protocols: Set<SocketEntry.Proto> = [.tcp, .udp]
    /// nil: every state.
    public var states: Set<String>?
    /// Local port.
    public var port: UInt16?
    public var withOwners = true

    public init(
        protocols: Set<SocketEntry.Proto> = [.tcp, .udp], states: Set<String>? = nil, port: UInt16? = nil,
        withOwners: Bool = true
    ) {
        self.protocols = protocols
        self.states = states
        self.port = port
        self.withOwners = withOwners
    }

    public static func listening(port: UInt16? = nil, proto: SocketEntry.Proto = .tcp) -> SocketQuery {
        SocketQuery(protocols: [proto], states: proto == .tcp ? ["LISTEN"] : ["UNCONN"], port: port)
    }

    func admits(_ e: SocketEntry) -> Bool {
        protocols.contains(e.proto) && (states?.contains(e.state) ?? true) && (port.map { $0 == e.local.port } ?? true)
    }
}
