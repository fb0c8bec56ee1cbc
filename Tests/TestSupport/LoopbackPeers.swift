import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// Small real peers on 127.0.0.1 for tests: a TCP listener, a free port, and a UDP service that
/// answers with something other than what a client waits for.
public enum Loopback {
    /// Binds a socket of `type` to 127.0.0.1 on an ephemeral port (and listens, for TCP).
    static func bound(_ type: Int32, listening: Bool) -> (fd: Int32, port: UInt16)? {
        let s = socket(AF_INET, type, 0)
        guard s >= 0 else { return nil }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, length) == 0 && (!listening || listen(s, 16) == 0) && getsockname(s, $0, &length) == 0
            }
        }
        guard ok else {
            close(s)
            return nil
        }
        return (s, UInt16(bigEndian: a.sin_port))
    }

    /// A UDP socket bound to ::1 on an ephemeral port.
    static func boundIPv6UDP() -> (fd: Int32, port: UInt16)? {
        let s = socket(AF_INET6, Int32(SOCK_DGRAM.rawValue), 0)
        guard s >= 0 else { return nil }
        var a = sockaddr_in6()
        a.sin6_family = sa_family_t(AF_INET6)
        a.sin6_addr = in6addr_loopback
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, length) == 0 && getsockname(s, $0, &length) == 0
            }
        }
        guard ok else {
            close(s)
            return nil
        }
        return (s, UInt16(bigEndian: a.sin6_port))
    }

    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// A TCP port on loopback that nobody listens on right now.
    public static func freeTCPPort() throws -> UInt16 {
        guard let (fd, port) = bound(Int32(SOCK_STREAM.rawValue), listening: false) else {
            throw SetupError(description: "cannot bind a TCP socket on loopback")
        }
        close(fd)
        return port
    }

    /// A TCP listener on loopback (another program's, as far as portdoctor knows). Close `fd` when done.
    public static func tcpListener() throws -> (fd: Int32, port: UInt16) {
        guard let l = bound(Int32(SOCK_STREAM.rawValue), listening: true) else {
            throw SetupError(description: "cannot listen on loopback")
        }
        return l
    }

    /// Waits (at most `seconds`) until something accepts on 127.0.0.1:`port`, while `alive` holds.
    /// Each successful probe is a connection the server sees (a reflector counts it against its
    /// rate limit), so it stops at the first one.
    @discardableResult
    public static func waitUntilAccepting(_ port: UInt16, seconds: Double = 5, while alive: () -> Bool = { true })
        -> Bool
    {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && alive() {
            if accepts(port) { return true }
            usleep(50_000)
        }
        return false
    }

    /// Whether something accepts TCP connections on 127.0.0.1:`port`.
    public static func accepts(_ port: UInt16) -> Bool {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(s) }
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_port = port.bigEndian
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }
}

/// A UDP service on loopback (127.0.0.1, or ::1) that answers each datagram with what `reply`
/// returns for it (nothing, one datagram, or several), and keeps every request it received.
public final class UDPResponder: Sendable {
    public let port: UInt16
    private let fd: Int32
    private let received = Mutex<[[UInt8]]>([])
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    public var requests: [[UInt8]] { received.withLock { $0 } }
    public var count: Int { received.withLock { $0.count } }

    public init(ipv6: Bool = false, reply: @escaping @Sendable ([UInt8]) -> [[UInt8]]) throws {
        guard let (fd, port) = ipv6 ? Loopback.boundIPv6UDP() : Loopback.bound(Int32(SOCK_DGRAM.rawValue), listening: false)
        else {
            throw Loopback.SetupError(description: "cannot bind a UDP socket on loopback")
        }
        self.fd = fd
        self.port = port
        Thread.detachNewThread { [self] in serve(reply) }
    }

    private func serve(_ reply: @Sendable ([UInt8]) -> [[UInt8]]) {
        var buffer = [UInt8](repeating: 0, count: 2048)
        while !stopping.load(ordering: .sequentiallyConsistent) {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 50) > 0 else { continue }
            var from = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    recvfrom(fd, &buffer, buffer.count, 0, $0, &length)
                }
            }
            guard n >= 0 else { continue }
            let request = Array(buffer.prefix(n))
            received.withLock { $0.append(request) }
            for answer in reply(request) {
                _ = withUnsafePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, answer, answer.count, 0, $0, length)
                    }
                }
            }
        }
        close(fd)
        stopped.store(true, ordering: .sequentiallyConsistent)
    }

    public func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for _ in 0..<200 where !stopped.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
    }
}

/// A UDP service on loopback that answers every datagram with something that is not the answer a
/// STUN or NAT-PMP client waits for (garbage, or the request itself), and counts what it received.
public final class UDPStranger: Sendable {
    public enum Reply: Sendable { case garbage, echo }

    private let responder: UDPResponder
    public var port: UInt16 { responder.port }
    public var count: Int { responder.count }

    public init(_ reply: Reply) throws {
        responder = try UDPResponder { request in
            switch reply {
            case .garbage: [Array("\u{1}\u{2}not what you asked for".utf8)]
            case .echo: [request]
            }
        }
    }

    public func stop() { responder.stop() }
}
