#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How a TCP connection attempt ended. **Contract** for checks: these strings are what
/// `socket.connect(...).status` says.
public enum ConnectStatus: String, Sendable, Encodable, CaseIterable {
    case connected
    /// A RST came back: nothing listens there — or a firewall rejects with a reset.
    case refused
    /// No answer within the timeout: dropped, black-holed, or the host is down.
    case timeout
    /// An ICMP host-unreachable / admin-prohibited came back, or ARP failed on the local network.
    case hostUnreachable = "host-unreachable"
    /// No route to that network.
    case netUnreachable = "net-unreachable"
    /// The connection was reset right after it was made.
    case reset
    /// This computer refused to send the packet (EPERM/EACCES: a security module or cgroup rule).
    /// Note: an nftables/iptables DROP in the output chain does *not* show here — TCP retransmits
    /// and the attempt ends in `timeout`, as measured in the lab.
    case blockedLocally = "blocked-locally"
    case dnsNotFound = "dns-not-found"
    case dnsTemporary = "dns-temporary"
    /// Something else went wrong; `errno` and `error` say what.
    case failed

    /// The classification of a connect(2)/SO_ERROR errno.
    public static func classify(errno code: Int32) -> ConnectStatus {
        switch code {
        case 0: .connected
        case ECONNREFUSED: .refused
        case ETIMEDOUT: .timeout
        case EHOSTUNREACH, EHOSTDOWN: .hostUnreachable
        case ENETUNREACH, ENETDOWN: .netUnreachable
        case ECONNRESET, ECONNABORTED, EPIPE: .reset
        case EPERM, EACCES: .blockedLocally
        default: .failed
        }
    }

    /// Which failure tells the most about the path, when several addresses were tried: a reply
    /// from the far end beats silence, which beats an error from the way there.
    var evidenceRank: Int {
        switch self {
        case .connected: 0
        case .refused: 1
        case .reset: 2
        case .blockedLocally: 3
        case .timeout: 4
        case .hostUnreachable: 5
        case .netUnreachable: 6
        case .failed: 7
        case .dnsNotFound, .dnsTemporary: 8
        }
    }
}

/// One address tried.
public struct ConnectAttempt: Sendable, Encodable {
    public var remote: SocketAddress
    public var status: ConnectStatus
    public var errno: Int32
    public var error: String?
    public var rttMilliseconds: Double

    enum CodingKeys: String, CodingKey {
        case remote, status, errno, error
        case rttMilliseconds = "rtt_ms"
    }
}

/// The outcome of connecting to host:port.
public struct ConnectResult: Sendable, Encodable {
    public var host: String
    public var port: UInt16
    public var status: ConnectStatus
    /// Every address tried, in order.
    public var attempts: [ConnectAttempt]
    public var local: SocketAddress?
    public var remote: SocketAddress?
    public var rttMilliseconds: Double?
    public var errno: Int32
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case host, port, status, attempts, local, remote, errno, error
        case rttMilliseconds = "rtt_ms"
    }
}

func errorText(_ code: Int32) -> String { String(cString: strerror(code)) }
