import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// NAT-PMP (RFC 6886): ask the gateway for its external address, and for a port mapping.
public enum NATPMP {
    public static let port: UInt16 = 5351

    public enum ResultCode: Int, Sendable, Encodable {
        case success = 0, unsupportedVersion = 1, notAuthorized = 2, networkFailure = 3, outOfResources = 4,
            unsupportedOpcode = 5

        public var words: String {
            switch self {
            case .success: "success"
            case .unsupportedVersion: "unsupported version"
            case .notAuthorized: "not authorized (NAT-PMP is switched off or refused)"
            case .networkFailure: "network failure (the gateway has no usable external address)"
            case .outOfResources: "out of resources"
            case .unsupportedOpcode: "unsupported request"
            }
        }
    }

    public struct Answer: Sendable, Encodable, Equatable {
        /// "answered"; "timeout" when nothing came back after every retry; "garbled" when the
        /// gateway's address answered, but never with a NAT-PMP response.
        public var status: String
        public var result: Int?
        public var resultWords: String?
        public var externalAddress: String?
        public var internalPort: Int?
        public var externalPort: Int?
        public var lifetime: Int?
        public var gateway: String

        enum CodingKeys: String, CodingKey {
            case status, result, gateway, lifetime
            case resultWords = "result_words"
            case externalAddress = "external_address"
            case internalPort = "internal_port"
            case externalPort = "external_port"
        }
    }

    /// Request bytes: op 0 (external address), 1 (UDP map) or 2 (TCP map).
    static func externalAddressRequest() -> [UInt8] { [0, 0] }

    static func mapRequest(tcp: Bool, internalPort: UInt16, externalPort: UInt16, lifetime: UInt32) -> [UInt8] {
        var b: [UInt8] = [0, tcp ? 2 : 1, 0, 0]
        b += [
            UInt8(internalPort >> 8), UInt8(internalPort & 0xff), UInt8(externalPort >> 8), UInt8(externalPort & 0xff),
        ]
        b += [24, 16, 8, 0].map { UInt8((lifetime >> $0) & 0xff) }
        return b
    }

    /// Parses a response to `op`; nil when it is not one.
    static func parse(_ b: [UInt8], op: UInt8, gateway: String) -> Answer? {
        guard b.count >= 8, b[0] == 0, b[1] == op + 128 else { return nil }
        let code = Int(b[2]) << 8 | Int(b[3])
        var a = Answer(
            status: "answered", result: code, resultWords: ResultCode(rawValue: code)?.words ?? "result \(code)",
            gateway: gateway)
        if op == 0, b.count >= 12, code == 0 { a.externalAddress = "\(b[8]).\(b[9]).\(b[10]).\(b[11])" }
        if op != 0, b.count >= 16 {
            a.internalPort = Int(b[8]) << 8 | Int(b[9])
            a.externalPort = Int(b[10]) << 8 | Int(b[11])
            a.lifetime = Int(b[12]) << 24 | Int(b[13]) << 16 | Int(b[14]) << 8 | Int(b[15])
        }
        return a
    }

    /// Sends `request` to the gateway: `tries` requests in all, the next one only when the
    /// previous one's wait (250 ms, doubling: RFC 6886 3.1) has passed without an answer. What is
    /// not an answer — from another address (discarded, as 3.1 says), or not a response to `op` —
    /// is ignored until that wait ends; it never causes a request of its own.
    static func exchange(
        _ request: [UInt8], op: UInt8, gateway: String, gatewayPort: UInt16, tries: Int, on loop: EventLoop,
        _ completion: @escaping (Answer) -> Void
    ) {
        guard let to = SocketAddress(numeric: gateway, port: gatewayPort),
            let socket = try? UDPSocket(family: .ipv4, on: loop)
        else {
            return completion(Answer(status: "failed", gateway: gateway))
        }
        var strangeReplies = 0
        func attempt(_ n: Int, wait: Duration) {
            _ = socket.send(request, to: to)
            socket.receive(max: 64, until: EventLoop.now() + nanoseconds(wait)) { bytes, from -> Answer? in
                guard from.ip == gateway else { return nil }
                let a = parse(bytes, op: op, gateway: gateway)
                if a == nil { strangeReplies += 1 }
                return a
            } _: { answer in
                if let answer {
                    socket.close()
                    return completion(answer)
                }
                if n + 1 < tries { return attempt(n + 1, wait: wait * 2) }
                socket.close()
                // The gateway answered, but never with NAT-PMP: another service on that port.
                completion(Answer(status: strangeReplies > 0 ? "garbled" : "timeout", gateway: gateway))
            }
        }
        attempt(0, wait: .milliseconds(250))
    }

    /// `gatewayPort` is NAT-PMP's own, but for a test's stand-in gateway.
    public static func externalAddress(
        gateway: String, gatewayPort: UInt16 = port, tries: Int = 4, on loop: EventLoop,
        _ completion: @escaping (Answer) -> Void
    ) {
        exchange(
            externalAddressRequest(), op: 0, gateway: gateway, gatewayPort: gatewayPort, tries: tries, on: loop,
            completion)
    }

    /// Asks for a mapping (lifetime 0 deletes it). A change to the router: repairs only.
    public static func map(
        tcp: Bool = true, internalPort: UInt16, externalPort: UInt16, lifetime: UInt32 = 7200,
        gateway: String, gatewayPort: UInt16 = port, tries: Int = 4, on loop: EventLoop,
        _ completion: @escaping (Answer) -> Void
    ) {
        exchange(
            mapRequest(tcp: tcp, internalPort: internalPort, externalPort: externalPort, lifetime: lifetime),
            op: tcp ? 2 : 1, gateway: gateway, gatewayPort: gatewayPort, tries: tries, on: loop, completion)
    }
}

/// This computer's default IPv4 gateway (Linux: /proc/net/route).
public enum Gateway {
    /// Whether this computer has an IPv4 default route at all (through a gateway or straight out of
    /// an interface); nil where the route table cannot be read.
    public static func hasDefaultIPv4Route(routeTable: String? = nil) -> Bool? {
        guard let text = routeTable ?? SocketTable.readFile("/proc/net/route") else { return nil }
        return text.split(separator: "\n").dropFirst().contains { line in
            let f = line.split(separator: "\t").map { $0.trimmingWhitespace }
            return f.count >= 8 && f[1] == "00000000" && f[7] == "00000000"
        }
    }

    public static func defaultIPv4(routeTable: String? = nil) -> String? {
        let text = routeTable ?? SocketTable.readFile("/proc/net/route") ?? ""
        for line in text.split(separator: "\n").dropFirst() {
            let f = line.split(separator: "\t").map { $0.trimmingWhitespace }
            guard f.count >= 3, f[1] == "00000000", let g = UInt32(f[2], radix: 16), g != 0 else { continue }
            return withUnsafeBytes(of: g) { $0.map(String.init).joined(separator: ".") }
        }
        return nil
    }
}
