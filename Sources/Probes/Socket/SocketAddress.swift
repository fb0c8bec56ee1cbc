#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An IPv4 or IPv6 address with a port, convertible to and from `sockaddr`.
public struct SocketAddress: Hashable, Sendable, CustomStringConvertible, Encodable {
    public enum Family: String, Sendable, Encodable {
        case ipv4, ipv6
    }

    public let family: Family
    /// Numeric text: "127.0.0.1", "::1" (no brackets).
    public let ip: String
    public let port: UInt16

    public init(family: Family, ip: String, port: UInt16) {
        self.family = family
        self.ip = ip
        self.port = port
    }

    /// Parses a numeric address ("10.0.0.1", "::1", "fe80::1%eth0"); nil for names.
    public init?(numeric ip: String, port: UInt16) {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            self.init(family: .ipv4, ip: ip, port: port)
        } else if inet_pton(AF_INET6, ip.split(separator: "%").first.map(String.init) ?? ip, &v6) == 1 {
            self.init(family: .ipv6, ip: ip, port: port)
        } else {
            return nil
        }
    }

    /// "127.0.0.1:4242", "[::1]:4242".
    public var description: String { SocketAddress.text(host: ip, port: Int(port)) }

    /// A host (name, IPv4 or IPv6 address) and port as a person writes them: `[::1]:4242` for IPv6,
    /// so the port cannot be mistaken for part of the address.
    public static func text(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    public init?(storage: UnsafeRawPointer) {
        let family = storage.load(as: sockaddr.self).sa_family
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(family) {
        case AF_INET:
            var sin = storage.load(as: sockaddr_in.self)
            guard inet_ntop(AF_INET, &sin.sin_addr, &text, socklen_t(text.count)) != nil else { return nil }
            self.init(
                family: .ipv4,
                ip: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                port: UInt16(bigEndian: sin.sin_port))
        case AF_INET6:
            var sin6 = storage.load(as: sockaddr_in6.self)
            guard inet_ntop(AF_INET6, &sin6.sin6_addr, &text, socklen_t(text.count)) != nil else { return nil }
            self.init(
                family: .ipv6,
                ip: String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self),
                port: UInt16(bigEndian: sin6.sin6_port))
        default:
            return nil
        }
    }

    /// Calls `body` with this address as a `sockaddr` and its length.
    public func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch family {
        case .ipv4:
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_port = port.bigEndian
            _ = inet_pton(AF_INET, ip, &sin.sin_addr)
            return withUnsafePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .ipv6:
            var sin6 = sockaddr_in6()
            sin6.sin6_family = sa_family_t(AF_INET6)
            sin6.sin6_port = port.bigEndian
            let parts = ip.split(separator: "%", maxSplits: 1)
            _ = inet_pton(AF_INET6, String(parts[0]), &sin6.sin6_addr)
            if parts.count == 2 { sin6.sin6_scope_id = if_nametoindex(String(parts[1])) }
            return withUnsafePointer(to: &sin6) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        }
    }

    var posixFamily: Int32 { family == .ipv4 ? AF_INET : AF_INET6 }

    /// The local or peer address of a socket.
    static func of(_ fd: Int32, peer: Bool) -> SocketAddress? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                peer ? getpeername(fd, $0, &length) : getsockname(fd, $0, &length)
            }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0)) }
    }
}
