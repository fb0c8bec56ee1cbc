import Reactor

#if canImport(Glibc)
    import Glibc
#endif

/// The routers on the way to an address, nearest first: UDP datagrams with a small TTL, and the
/// address of whoever answers "time exceeded", read from the socket's error queue (Linux
/// IP_RECVERR — no privileges needed). Only ever aimed at an address the person named.
public enum HopProbe {
    static let IP_RECVERR: Int32 = 11
    static let MSG_ERRQUEUE: Int32 = 0x2000
    static let SO_EE_ORIGIN_ICMP: UInt8 = 2

    public struct Hop: Sendable, Encodable, Equatable {
        public var ttl: Int
        /// Who answered, or nil when nobody did in time.
        public var address: String?
        /// "time-exceeded" (a router on the way) or "unreachable" (the destination itself answered).
        public var kind: String?
    }

    /// Probes TTL 1...`count`, one at a time; stops early when the destination itself answers.
    public static func hops(
        toward destination: String, count: Int = 3, port: UInt16 = 33434,
        timeout: Duration = .seconds(1), on loop: EventLoop, _ completion: @escaping ([Hop]) -> Void
    ) {
        var found: [Hop] = []
        func next(_ ttl: Int) {
            guard ttl <= count else { return completion(found) }
            hop(toward: destination, ttl: ttl, port: port, timeout: timeout, on: loop) { h in
                found.append(h)
                if h.kind == "unreachable" { return completion(found) }
                next(ttl + 1)
            }
        }
        next(1)
    }

    /// The same, overlapped: the probe for TTL n+1 goes out as soon as TTL n is answered by a router,
    /// or `stagger` after it went out unanswered — so silent hops cost one timeout together, not one
    /// each, while a destination that answers at TTL n is not sent the probes past it (hosts
    /// rate-limit their ICMP answers: a probe it need not answer may cost the next run its answer).
    public static func hopsOverlapped(
        toward destination: String, count: Int = 3, port: UInt16 = 33434, timeout: Duration = .seconds(1),
        stagger: Duration = .milliseconds(150), on loop: EventLoop, _ completion: @escaping ([Hop]) -> Void
    ) {
        let count = max(1, count)
        var found: [Int: Hop] = [:]
        var sent = 0
        var finished = false
        func conclude() {
            guard !finished else { return }
            var hops: [Hop] = []
            for ttl in 1...count {
                guard let h = found[ttl] else { return }  // a nearer hop is still out, or not yet sent
                hops.append(h)
                if h.kind == "unreachable" { break }
            }
            finished = true
            completion(hops)
        }
        func send(_ ttl: Int) {
            guard ttl <= count, ttl > sent, !finished else { return }
            sent = ttl
            let next = loop.schedule(after: stagger) { send(ttl + 1) }
            hop(toward: destination, ttl: ttl, port: port, timeout: timeout, on: loop) { h in
                found[ttl] = h
                if h.kind == "unreachable" {
                    loop.cancel(next)
                    // Probes past the destination are not needed: count them as not sent.
                    for later in (ttl + 1)...max(ttl + 1, count) where found[later] == nil && later <= count {
                        found[later] = Hop(ttl: later)
                    }
                } else if h.address != nil {
                    loop.cancel(next)
                    send(ttl + 1)
                }
                conclude()
            }
        }
        send(1)
    }

    public static func hop(
        toward destination: String, ttl: Int, port: UInt16 = 33434, timeout: Duration,
        on loop: EventLoop, _ completion: @escaping (Hop) -> Void
    ) {
        #if os(Linux)
            guard let to = SocketAddress(numeric: destination, port: port), to.family == .ipv4 else {
                return completion(Hop(ttl: ttl))
            }
            let fd = socket(
                AF_INET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { return completion(Hop(ttl: ttl)) }
            var on: Int32 = 1
            var hops = Int32(ttl)
            setsockopt(fd, Int32(IPPROTO_IP), IP_RECVERR, &on, 4)
            setsockopt(fd, Int32(IPPROTO_IP), IP_TTL, &hops, 4)
            let payload: [UInt8] = Array("portdoctor".utf8)
            _ = to.withSockaddr { addr, len in
                payload.withUnsafeBytes { sendto(fd, $0.baseAddress, $0.count, 0, addr, len) }
            }
            var finished = false
            var timer: EventLoop.Token?
            let watch = loop.watch(fd, for: .readable) { _ in
                guard !finished else { return }
                finished = true
                if let timer { loop.cancel(timer) }
                let h = readError(fd, ttl: ttl)
                close(fd)
                completion(h)
            }
            timer = loop.schedule(after: timeout) {
                guard !finished else { return }
                finished = true
                loop.cancel(watch)
                close(fd)
                completion(Hop(ttl: ttl))
            }
        #else
            completion(Hop(ttl: ttl))
        #endif
    }

    #if os(Linux)
        /// One message from the error queue: the offender's address from the IP_RECVERR control message.
        static func readError(_ fd: Int32, ttl: Int) -> Hop {
            var data = [UInt8](repeating: 0, count: 512)
            var control = [UInt8](repeating: 0, count: 512)
            var from = sockaddr_in()
            let n = data.withUnsafeMutableBytes { d in
                control.withUnsafeMutableBytes { c in
                    withUnsafeMutablePointer(to: &from) { f -> Int in
                        var iov = iovec(iov_base: d.baseAddress, iov_len: d.count)
                        return withUnsafeMutablePointer(to: &iov) { iovp in
                            var msg = msghdr()
                            msg.msg_name = UnsafeMutableRawPointer(f)
                            msg.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
                            msg.msg_iov = iovp
                            msg.msg_iovlen = 1
                            msg.msg_control = c.baseAddress
                            msg.msg_controllen = c.count
                            let r = recvmsg(fd, &msg, MSG_ERRQUEUE)
                            return r < 0 ? -1 : Int(msg.msg_controllen)
                        }
                    }
                }
            }
            guard n > 0 else { return Hop(ttl: ttl) }
            // cmsghdr: size_t len, int level, int type, then data aligned to size_t.
            let word = MemoryLayout<Int>.size
            var offset = 0
            while offset + word + 8 <= n {
                let length = control.withUnsafeBytes { $0.load(fromByteOffset: offset, as: Int.self) }
                let level = control.withUnsafeBytes { $0.load(fromByteOffset: offset + word, as: Int32.self) }
                let type = control.withUnsafeBytes { $0.load(fromByteOffset: offset + word + 4, as: Int32.self) }
                guard length >= word + 8 else { break }
                let dataStart = (offset + word + 8 + word - 1) & ~(word - 1)
                if level == Int32(IPPROTO_IP), type == IP_RECVERR, dataStart + 16 + 8 <= n {
                    // sock_extended_err: errno u32, origin u8, type u8, code u8, pad u8, info u32, data u32;
                    // then the offender's sockaddr_in.
                    let origin = control[dataStart + 4]
                    let icmpType = control[dataStart + 5]
                    let offender = control.withUnsafeBytes {
                        SocketAddress(storage: $0.baseAddress!.advanced(by: dataStart + 16))
                    }
                    if origin == SO_EE_ORIGIN_ICMP, let offender {
                        return Hop(
                            ttl: ttl, address: offender.ip, kind: icmpType == 11 ? "time-exceeded" : "unreachable")
                    }
                }
                offset += (length + word - 1) & ~(word - 1)
            }
            return Hop(ttl: ttl)
        }
    #endif
}
