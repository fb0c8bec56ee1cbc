#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One address of this computer's interfaces, and — for IPv6 — what kind it is: a pinhole or a DNS
/// name must point at a stable address, not a temporary (privacy) one that rotates away.
public struct HostAddress: Sendable, Encodable, Equatable {
    public var interface: String
    public var ip: String
    public var family: SocketAddress.Family
    public var prefixLength: Int
    /// "global", "link", "host" (loopback) or "site".
    public var scope: String
    /// IPv6: "stable", "temporary", "deprecated" (its preferred lifetime is over: no new
    /// connections from it), "tentative" (duplicate address detection still running) or "dad-failed".
    /// IPv4: nil (it has no such kinds).
    public var kind: String?
    public var temporary: Bool
    public var deprecated: Bool
    /// fc00::/7: global scope, but never reachable from the internet.
    public var uniqueLocal: Bool

    enum CodingKeys: String, CodingKey {
        case interface, ip, family, scope, kind, temporary, deprecated
        case prefixLength = "prefix_length", uniqueLocal = "unique_local"
    }
}

public enum HostAddresses {
    // linux/if_addr.h: /proc/net/if_inet6 shows the low 8 bits of ifa_flags.
    static let temporaryFlag = 0x01, dadFailedFlag = 0x08, deprecatedFlag = 0x20, tentativeFlag = 0x40

    /// Every address: IPv6 from /proc/net/if_inet6 (which carries the flags), IPv4 from getifaddrs.
    public static func list(ifInet6: String? = nil) -> [HostAddress] {
        ipv4() + parseIfInet6(ifInet6 ?? SocketTable.readFile("/proc/net/if_inet6") ?? "")
    }

    /// Lines of "address-hex ifindex prefixlen scope flags name".
    static func parseIfInet6(_ text: String) -> [HostAddress] {
        var out: [HostAddress] = []
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 6, f[0].count == 32, let prefix = Int(f[2], radix: 16),
                let scopeBits = Int(f[3], radix: 16),
                let flags = Int(f[4], radix: 16)
            else { continue }
            var bytes: [UInt8] = []
            var i = f[0].startIndex
            while i < f[0].endIndex {
                let j = f[0].index(i, offsetBy: 2)
                guard let b = UInt8(f[0][i..<j], radix: 16) else { break }
                bytes.append(b)
                i = j
            }
            guard bytes.count == 16 else { continue }
            let scope: String =
                switch scopeBits & 0xf0 {
                case 0x00: "global"
                case 0x10: "host"
                case 0x20: "link"
                case 0x40: "site"
                default: "scope \(scopeBits)"
                }
            let temporary = flags & temporaryFlag != 0
            let deprecated = flags & deprecatedFlag != 0
            let kind =
                flags & dadFailedFlag != 0
                ? "dad-failed"
                : flags & tentativeFlag != 0
                    ? "tentative" : deprecated ? "deprecated" : temporary ? "temporary" : "stable"
            out.append(
                HostAddress(
                    interface: f[5], ip: PCP.address(bytes[...]), family: .ipv6, prefixLength: prefix, scope: scope,
                    kind: kind, temporary: temporary, deprecated: deprecated, uniqueLocal: bytes[0] & 0xfe == 0xfc))
        }
        return out
    }

    static func ipv4() -> [HostAddress] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var out: [HostAddress] = []
        var node = list
        while let n = node {
            defer { node = n.pointee.ifa_next }
            guard let a = n.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET),
                let s = SocketAddress(storage: UnsafeRawPointer(a))
            else { continue }
            var prefix = 0
            if let m = n.pointee.ifa_netmask {
                let mask = UnsafeRawPointer(m).load(as: sockaddr_in.self).sin_addr.s_addr
                prefix = UInt32(bigEndian: mask).nonzeroBitCount
            }
            let scope = s.ip.hasPrefix("127.") ? "host" : s.ip.hasPrefix("169.254.") ? "link" : "global"
            out.append(
                HostAddress(
                    interface: String(cString: n.pointee.ifa_name), ip: s.ip, family: .ipv4, prefixLength: prefix,
                    scope: scope, kind: nil, temporary: false, deprecated: false, uniqueLocal: false))
        }
        return out
    }

    /// The address a pinhole should name: global, stable, not unique-local (when there is one).
    public static func stableGlobalIPv6(in all: [HostAddress] = list()) -> String? {
        let candidates = all.filter { $0.family == .ipv6 && $0.scope == "global" && $0.kind == "stable" }
        return (candidates.first { !$0.uniqueLocal } ?? candidates.first)?.ip
    }
}
