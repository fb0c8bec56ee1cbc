import Reactor

/// STUN Binding (RFC 5389) against a server the person names: the address and port of the
/// outermost NAT, as the server sees this computer. No server is contacted unless named.
public enum STUN {
    public static let defaultPort: UInt16 = 3478
    static let magicCookie: UInt32 = 0x2112_A442

    public struct Answer: Sendable, Encodable, Equatable {
        /// "answered"; "timeout" when nothing came back after every retry; "garbled" when the server's
        /// address answered, but never with a STUN response (another service on that port);
        /// "net-unreachable" or "host-unreachable" when this computer has no route to it.
        public var status: String
        public var server: String
        /// The mapped address (XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from older servers).
        public var mapped: SocketAddress?
    }

    static func request(transaction: [UInt8]) -> [UInt8] {
        [0x00, 0x01, 0x00, 0x00] + [0x21, 0x12, 0xA4, 0x42] + transaction
    }

    /// The mapped address in a Binding success response for `transaction`, or nil.
    static func parse(_ b: [UInt8], transaction: [UInt8]) -> SocketAddress? {
        guard b.count >= 20, b[0] == 0x01, b[1] == 0x01, Array(b[4..<8]) == [0x21, 0x12, 0xA4, 0x42],
            Array(b[8..<20]) == transaction
        else { return nil }
        let length = Int(b[2]) << 8 | Int(b[3])
        var i = 20
        var fallback: SocketAddress?
        while i + 4 <= min(b.count, 20 + length) {
            let type = Int(b[i]) << 8 | Int(b[i + 1])
            let len = Int(b[i + 2]) << 8 | Int(b[i + 3])
            let v = i + 4
            guard v + len <= b.count else { break }
            if (type == 0x0020 || type == 0x0001), len >= 8 {
                let xor = type == 0x0020
                let family = b[v + 1]
                var port = UInt16(b[v + 2]) << 8 | UInt16(b[v + 3])
                if xor { port ^= UInt16(magicCookie >> 16) }
                let mask = [0x21, 0x12, 0xA4, 0x42] + transaction
                if family == 0x01 {
                    let a = (0..<4).map { b[v + 4 + $0] ^ (xor ? UInt8(mask[$0]) : 0) }
                    let found = SocketAddress(family: .ipv4, ip: a.map(String.init).joined(separator: "."), port: port)
                    if xor { return found }
                    fallback = found
                } else if family == 0x02, len >= 20 {
                    let a = (0..<16).map { b[v + 4 + $0] ^ (xor ? UInt8(mask[$0]) : 0) }
                    let words = stride(from: 0, to: 16, by: 2).map {
                        String(UInt16(a[$0]) << 8 | UInt16(a[$0 + 1]), radix: 16)
                    }
                    let found = SocketAddress(numeric: words.joined(separator: ":"), port: port)
                    if xor, let found { return found }
                    fallback = fallback ?? found
                }
            }
            i = v + ((len + 3) & ~3)
        }
        return fallback
    }

    /// Asks `server` (numeric address) over UDP: `tries` requests in all, the next one only when
    /// the previous one's wait (500 ms, doubling) has passed without an answer — whatever else
    /// arrives meanwhile.
    public static func binding(
        server: String, port: UInt16 = defaultPort, tries: Int = 4, on loop: EventLoop,
        _ completion: @escaping (Answer) -> Void
    ) {
        guard let to = SocketAddress(numeric: server, port: port),
            let socket = try? UDPSocket(family: to.family, on: loop)
        else {
            return completion(Answer(status: "failed", server: server))
        }
        var generator = SystemRandomNumberGenerator()
        let transaction = (0..<12).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let message = request(transaction: transaction)
        var strangeReplies = 0
        func attempt(_ n: Int, wait: Duration) {
            // No route from here: no answer can come, so there is nothing to wait for.
            if case .failure(let f) = socket.send(message, to: to), f == .netUnreachable || f == .hostUnreachable {
                socket.close()
                return completion(Answer(status: f.rawValue, server: to.description))
            }
            socket.receive(max: 512, until: EventLoop.now() + nanoseconds(wait)) { bytes, from -> SocketAddress? in
                let mapped = parse(bytes, transaction: transaction)
                if mapped == nil, from.ip == to.ip { strangeReplies += 1 }
                return mapped
            } _: { mapped in
                if let mapped {
                    socket.close()
                    return completion(Answer(status: "answered", server: to.description, mapped: mapped))
                }
                if n + 1 < tries { return attempt(n + 1, wait: wait * 2) }
                socket.close()
                // Something answered, but never with STUN: another service on that port.
                completion(Answer(status: strangeReplies > 0 ? "garbled" : "timeout", server: to.description))
            }
        }
        attempt(0, wait: .milliseconds(500))
    }
}
