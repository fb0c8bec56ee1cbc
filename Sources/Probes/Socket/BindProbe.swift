#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// "Could a program listen on this port here?" — by trying, the way a server would
/// (SO_REUSEADDR set, so sockets lingering in TIME_WAIT do not count).
public enum BindProbe {
    public enum Status: String, Sendable, Encodable {
        case free
        case inUse = "in-use"
        /// Ports below 1024 need privileges.
        case denied
        /// The address is not one of this computer's.
        case unavailable
        case failed
    }

    public struct Result: Sendable, Encodable {
        public var status: Status
        public var address: SocketAddress
        public var proto: SocketEntry.Proto
        public var errno: Int32
        public var error: String?
        /// Who holds the port, when it is in use and the socket table says.
        public var holders: [SocketEntry]
    }

    public static func test(port: UInt16, address: String = "0.0.0.0", proto: SocketEntry.Proto = .tcp) -> Result {
        let bare = address.hasPrefix("[") ? String(address.dropFirst().dropLast()) : address
        guard let target = SocketAddress(numeric: bare, port: port) else {
            return Result(
                status: .failed, address: SocketAddress(family: .ipv4, ip: bare, port: port), proto: proto,
                errno: EINVAL, error: "'\(address)' is not a numeric address", holders: [])
        }
        let type = proto == .tcp ? SOCK_STREAM : SOCK_DGRAM
        let fd = socket(target.posixFamily, Int32(type.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            return Result(
                status: .failed, address: target, proto: proto, errno: errno, error: errorText(errno), holders: [])
        }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        if target.family == .ipv6 {
            setsockopt(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &one, socklen_t(MemoryLayout<Int32>.size))
        }
        var rc = target.withSockaddr { bind(fd, $0, $1) }
        if rc == 0 && proto == .tcp { rc = listen(fd, 1) }
        if rc == 0 { return Result(status: .free, address: target, proto: proto, errno: 0, error: nil, holders: []) }
        let code = errno
        let status: Status =
            switch code {
            case EADDRINUSE: .inUse
            case EACCES, EPERM: .denied
            case EADDRNOTAVAIL: .unavailable
            default: .failed
            }
        var holders: [SocketEntry] = []
        if status == .inUse {
            holders = SocketTable.list(SocketQuery.listening(port: port, proto: proto))
        }
        return Result(
            status: status, address: target, proto: proto, errno: code, error: errorText(code), holders: holders)
    }
}
