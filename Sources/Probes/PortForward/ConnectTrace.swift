import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The same TCP connect with growing TTLs (1…`maxTTL`, all at once): for each, whether it was refused
/// or accepted, or which router answered that the TTL ran out ("time-exceeded", read from the socket's
/// error queue with IP_RECVERR: no privileges needed), or nothing. Which TTL is first refused, and
/// which routers passed the connection on before it, say *which* box refused — the router holding a
/// public address, or one behind it. IPv4 only; a connection that is accepted is closed at once.
public enum ConnectTrace {
    public struct Hop: Sendable, Codable, Equatable {
        public var ttl: Int
        /// "time-exceeded", "unreachable" (an ICMP error from `from`), "refused", "connected", "timeout".
        public var status: String
        /// The router that answered with an ICMP error.
        public var from: String?

        public init(ttl: Int, status: String, from: String? = nil) {
            self.ttl = ttl
            self.status = status
            self.from = from
        }
    }

    /// Hops up to the first that was refused or accepted (those past it say the same), TTL order.
    public static func run(
        host: String, port: UInt16, maxTTL: Int = 32, timeout: Duration = .milliseconds(1500), on loop: EventLoop,
        _ completion: @escaping ([Hop]) -> Void
    ) {
        guard let to = SocketAddress(numeric: host, port: port), to.family == .ipv4, maxTTL >= 1 else {
            return completion([])
        }
        var found: [Int: Hop] = [:]
        var left = maxTTL
        func finished(_ h: Hop) {
            found[h.ttl] = h
            left -= 1
            guard left == 0 else { return }
            var hops: [Hop] = []
            for ttl in 1...maxTTL {
                guard let h = found[ttl] else { continue }
                hops.append(h)
                if h.status == "refused" || h.status == "connected" { break }
            }
            completion(hops)
        }
        for ttl in 1...maxTTL { connect(to, ttl: ttl, timeout: timeout, on: loop, finished) }
    }

    static func connect(
        _ to: SocketAddress, ttl: Int, timeout: Duration, on loop: EventLoop, _ completion: @escaping (Hop) -> Void
    ) {
        #if os(Linux)
            let fd = socket(
                AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return completion(Hop(ttl: ttl, status: "timeout")) }
            var on: Int32 = 1
            var hops = Int32(ttl)
            setsockopt(fd, Int32(IPPROTO_IP), HopProbe.IP_RECVERR, &on, 4)
            setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &hops, 4)
            let rc = to.withSockaddr { Glibc.connect(fd, $0, $1) }
            if rc != 0 && errno != EINPROGRESS {
                close(fd)
                return completion(Hop(ttl: ttl, status: "timeout"))
            }
            var finished = false
            var timer: EventLoop.Token?
            let watch = loop.watch(fd, for: .writable) { _ in
                guard !finished else { return }
                finished = true
                if let timer { loop.cancel(timer) }
                var code: Int32 = 0
                var length = socklen_t(4)
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &code, &length)
                let hop: Hop
                switch code {
                case 0: hop = Hop(ttl: ttl, status: "connected")
                case ECONNREFUSED, ECONNRESET: hop = Hop(ttl: ttl, status: "refused")
                default:
                    // An ICMP error: who sent it is on the error queue.
                    let h = HopProbe.readError(fd, ttl: ttl)
                    hop = Hop(ttl: ttl, status: h.kind ?? "timeout", from: h.address)
                }
                close(fd)
                completion(hop)
            }
            timer = loop.schedule(after: timeout) {
                guard !finished else { return }
                finished = true
                loop.cancel(watch)
                close(fd)
                completion(Hop(ttl: ttl, status: "timeout"))
            }
        #else
            completion(Hop(ttl: ttl, status: "timeout"))
        #endif
    }
}
