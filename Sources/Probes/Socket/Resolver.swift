import Dispatch
import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

public enum Resolution: Sendable {
    case addresses([SocketAddress])
    /// `.dnsNotFound` or `.dnsTemporary`, with the resolver's words.
    case failure(ConnectStatus, String)
}

/// Carries a loop-thread-only value through a `@Sendable` post. Safe because the mailbox runs
/// posted closures on the loop's own thread, which is the only thread that touches the value.
struct LoopBound<T>: @unchecked Sendable {
    let value: T
}

public enum Resolver {
    /// Numeric addresses answer at once; names are looked up with getaddrinfo on a worker thread
    /// (it blocks), and `completion` runs on the loop.
    public static func resolve(
        _ host: String, port: UInt16, on loop: EventLoop,
        _ completion: @escaping (Resolution) -> Void
    ) {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let numeric = SocketAddress(numeric: bare, port: port) {
            completion(.addresses([numeric]))
            return
        }
        let callback = LoopBound(value: completion)
        let mailbox = loop.mailbox
        mailbox.expectPost()
        DispatchQueue.global().async {
            let result = lookup(bare, port: port)
            mailbox.post { callback.value(result) }
        }
    }

    /// Blocking lookup, in the order getaddrinfo sorts them (RFC 6724), without duplicates.
    public static func lookup(_ host: String, port: UInt16) -> Resolution {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_ADDRCONFIG
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0 else {
            let words = String(cString: gai_strerror(rc))
            switch rc {
            case EAI_AGAIN, EAI_FAIL: return .failure(.dnsTemporary, words)
            case EAI_SYSTEM: return .failure(.dnsTemporary, "\(words): \(errorText(errno))")
            default: return .failure(.dnsNotFound, words)
            }
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var node = list
        while let n = node {
            if let a = SocketAddress(storage: UnsafeRawPointer(n.pointee.ai_addr)), !addresses.contains(a) {
                addresses.append(a)
            }
            node = n.pointee.ai_next
        }
        return addresses.isEmpty ? .failure(.dnsNotFound, "no IPv4 or IPv6 address") : .addresses(addresses)
    }
}
