import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A UDP socket whose receives wait on the loop. Enough for SSDP, NAT-PMP and STUN: unicast and
/// multicast sends with a TTL, receives with a timeout and a byte limit.
public final class UDPSocket {
    public enum Failure: String, Sendable, Error {
        case timeout, closed, failed
        /// The send was refused at once: no route to that network or host from here.
        case netUnreachable = "net-unreachable"
        case hostUnreachable = "host-unreachable"
    }

    public private(set) var fd: Int32
    public let family: SocketAddress.Family
    let loop: EventLoop

    /// Opens a socket bound to `address` (any address of the family by default) and `port` (0: any).
    public init(family: SocketAddress.Family, address: String? = nil, port: UInt16 = 0, on loop: EventLoop)
        throws(Failure)
    {
        self.family = family
        self.loop = loop
        let bindTo = address ?? (family == .ipv4 ? "0.0.0.0" : "::")
        guard let local = SocketAddress(numeric: bindTo, port: port), local.family == family else { throw .failed }
        fd = socket(
            local.posixFamily,
            Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw .failed }
        guard local.withSockaddr({ bind(fd, $0, $1) }) == 0 else {
            close()
            throw .failed
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    public var localAddress: SocketAddress? { fd >= 0 ? SocketAddress.of(fd, peer: false) : nil }

    /// Sends one datagram. `ttl` sets the hop limit: for a multicast destination the multicast TTL.
    public func send(_ bytes: [UInt8], to destination: SocketAddress, ttl: Int? = nil) -> Result<Int, Failure> {
        guard fd >= 0 else { return .failure(.closed) }
        if var hops = ttl.map(Int32.init) {
            let multicast = destination.isMulticast
            let size = socklen_t(MemoryLayout<Int32>.size)
            if family == .ipv4 {
                setsockopt(fd, Int32(IPPROTO_IP), multicast ? IP_MULTICAST_TTL : IP_TTL, &hops, size)
            } else {
                setsockopt(fd, Int32(IPPROTO_IPV6), multicast ? IPV6_MULTICAST_HOPS : IPV6_UNICAST_HOPS, &hops, size)
            }
        }
        let n = destination.withSockaddr { address, length in
            bytes.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, address, length) }
        }
        if n >= 0 { return .success(n) }
        switch errno {
        case ENETUNREACH: return .failure(.netUnreachable)
        case EHOSTUNREACH: return .failure(.hostUnreachable)
        default: return .failure(.failed)
        }
    }

    /// The next datagram (cut to `max` bytes) and who sent it.
    public func receive(
        max: Int, timeout: Duration,
        _ completion: @escaping (Result<([UInt8], SocketAddress), Failure>) -> Void
    ) {
        func attempt() -> Bool {
            guard fd >= 0 else {
                completion(.failure(.closed))
                return true
            }
            var buffer = [UInt8](repeating: 0, count: Swift.max(1, max))
            var storage = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = buffer.withUnsafeMutableBytes { b in
                withUnsafeMutablePointer(to: &storage) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        recvfrom(fd, b.baseAddress, b.count, 0, $0, &length)
                    }
                }
            }
            if n >= 0 {
                let from = withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0)) }
                completion(.success((Array(buffer.prefix(n)), from ?? SocketAddress(family: family, ip: "?", port: 0))))
                return true
            }
            if errno != EAGAIN && errno != EWOULDBLOCK {
                completion(.failure(.failed))
                return true
            }
            return false
        }
        if attempt() { return }
        var timer: EventLoop.Token?
        let watch = loop.watch(fd, for: .readable) { [loop] _ in
            if let timer { loop.cancel(timer) }
            if !attempt() { completion(.failure(.failed)) }
        }
        timer = loop.schedule(after: timeout) { [loop] in
            loop.cancel(watch)
            completion(.failure(.timeout))
        }
    }
}

extension UDPSocket {
    /// Receives until `match` accepts a datagram (its answer) or `deadline` (`EventLoop.now()`
    /// nanoseconds) passes (nil). A datagram that is not the answer neither ends the wait early
    /// nor starts a new one: whoever answers a request with something else (a UDP echo, another
    /// service on the port) must not make the caller send again, or the two would ping-pong for as
    /// long as both run.
    public func receive<T>(
        max: Int, until deadline: Int64, match: @escaping (_ bytes: [UInt8], _ from: SocketAddress) -> T?,
        _ completion: @escaping (T?) -> Void
    ) {
        func next() {
            let left = deadline - EventLoop.now()
            guard left > 0, fd >= 0 else { return completion(nil) }
            receive(max: max, timeout: .nanoseconds(left)) { [loop] result in
                guard case .success(let (bytes, from)) = result else { return completion(nil) }
                if let answer = match(bytes, from) { return completion(answer) }
                // Through the loop rather than directly: a queue full of strangers' datagrams must not
                // deepen the stack one frame per datagram.
                loop.schedule(at: EventLoop.now()) { next() }
            }
        }
        next()
    }
}

extension SocketAddress {
    /// 224.0.0.0/4 or ff00::/8.
    public var isMulticast: Bool {
        if family == .ipv6 { return ip.lowercased().hasPrefix("ff") }
        guard let first = ip.split(separator: ".").first.flatMap({ Int($0) }) else { return false }
        return (224...239).contains(first)
    }
}
