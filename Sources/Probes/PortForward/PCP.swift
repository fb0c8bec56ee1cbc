import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// PCP, the Port Control Protocol (RFC 6887): NAT-PMP's successor on the same port (5351), for
/// IPv4 port forwards, IPv6 firewall pinholes, and a carrier-grade NAT's own server.
///
/// PCP has no request that only reads: ANNOUNCE says whether a server is there (and its epoch),
/// and MAP creates, refreshes (the same nonce again) or, with lifetime 0, deletes a mapping —
/// learning the external address and port only by making one. So MAP is a change to the router.
public enum PCP {
    public static let port: UInt16 = 5351
    public static let version: UInt8 = 2
    /// RFC 6887 7: no PCP message is longer.
    static let maxMessage = 1100

    public enum Opcode: UInt8, Sendable {
        case announce = 0, map = 1

        public var name: String { self == .announce ? "announce" : "map" }
    }

    /// RFC 6887 7.4, with the RFC's names (the report's vocabulary) and words for people.
    public enum ResultCode: Int, Sendable, CaseIterable {
        case success = 0, unsuppVersion, notAuthorized, malformedRequest, unsuppOpcode, unsuppOption,
            malformedOption, networkFailure, noResources, unsuppProtocol, userExQuota, cannotProvideExternal,
            addressMismatch, excessiveRemotePeers

        public var name: String {
            switch self {
            case .success: "SUCCESS"
            case .unsuppVersion: "UNSUPP_VERSION"
            case .notAuthorized: "NOT_AUTHORIZED"
            case .malformedRequest: "MALFORMED_REQUEST"
            case .unsuppOpcode: "UNSUPP_OPCODE"
            case .unsuppOption: "UNSUPP_OPTION"
            case .malformedOption: "MALFORMED_OPTION"
            case .networkFailure: "NETWORK_FAILURE"
            case .noResources: "NO_RESOURCES"
            case .unsuppProtocol: "UNSUPP_PROTOCOL"
            case .userExQuota: "USER_EX_QUOTA"
            case .cannotProvideExternal: "CANNOT_PROVIDE_EXTERNAL"
            case .addressMismatch: "ADDRESS_MISMATCH"
            case .excessiveRemotePeers: "EXCESSIVE_REMOTE_PEERS"
            }
        }

        public var words: String {
            switch self {
            case .success: "success"
            case .unsuppVersion: "the server does not speak this PCP version"
            case .notAuthorized: "not authorized (PCP is refused for this computer or this port)"
            case .malformedRequest: "the server could not read the request"
            case .unsuppOpcode: "the server does not support this request"
            case .unsuppOption: "the server does not support a mandatory option"
            case .malformedOption: "an option was malformed"
            case .networkFailure: "network failure (the server has no usable external address)"
            case .noResources: "out of resources (no more mappings)"
            case .unsuppProtocol: "the server does not map this protocol"
            case .userExQuota: "this computer has used up its quota of mappings"
            case .cannotProvideExternal: "the suggested external address or port cannot be given"
            case .addressMismatch:
                "address mismatch (a NAT between this computer and the PCP server changed the source address)"
            case .excessiveRemotePeers: "too many remote peers"
            }
        }
    }

    public struct Answer: Sendable, Encodable, Equatable {
        /// "answered"; "natpmp-only" when a NAT-PMP server answered that it does not speak PCP;
        /// "timeout" when nothing came back after every try; "garbled" when the server's address
        /// answered, but never with a PCP response; "failed" when nothing could be sent.
        public var status: String
        public var server: String
        public var opcode: String
        /// Requests sent.
        public var tries: Int
        public var result: Int?
        public var resultName: String?
        public var resultWords: String?
        /// Success: seconds the mapping lasts. Error: seconds before asking again makes sense.
        public var lifetime: Int?
        /// The server's epoch (seconds since it last lost its state).
        public var epoch: Int?
        /// The server's own version, when it answered UNSUPP_VERSION.
        public var serverVersion: Int?
        public var nonce: String?
        public var proto: String?
        public var internalAddress: String?
        public var internalPort: Int?
        public var externalAddress: String?
        public var externalPort: Int?

        enum CodingKeys: String, CodingKey {
            case status, server, opcode, tries, result, lifetime, epoch, nonce, proto
            case resultName = "result_name", resultWords = "result_words", serverVersion = "server_version"
            case internalAddress = "internal_address", internalPort = "internal_port"
            case externalAddress = "external_address", externalPort = "external_port"
        }
    }

    // MARK: datagrams

    /// An address as PCP carries it: 16 bytes, IPv4 as an IPv4-mapped IPv6 address.
    static func bytes16(_ ip: String) -> [UInt8]? {
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, ip, &v4) == 1 {
            return [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff] + withUnsafeBytes(of: &v4) { Array($0) }
        }
        let bare = ip.split(separator: "%").first.map(String.init) ?? ip
        guard inet_pton(AF_INET6, bare, &v6) == 1 else { return nil }
        return withUnsafeBytes(of: &v6) { Array($0) }
    }

    static func address(_ b: ArraySlice<UInt8>) -> String {
        let a = Array(b)
        guard a.count == 16 else { return "" }
        if a[0..<10].allSatisfy({ $0 == 0 }) && a[10] == 0xff && a[11] == 0xff {
            return a[12...].map(String.init).joined(separator: ".")
        }
        var v6 = in6_addr()
        withUnsafeMutableBytes(of: &v6) { $0.copyBytes(from: a) }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        guard inet_ntop(AF_INET6, &v6, &text, socklen_t(text.count)) != nil else { return "" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func be32(_ v: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8((v >> $0) & 0xff) } }
    static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

    /// The common request header (RFC 6887 7.1).
    static func header(_ op: Opcode, lifetime: UInt32, client: [UInt8]) -> [UInt8] {
        [version, op.rawValue, 0, 0] + be32(lifetime) + client
    }

    static func announceRequest(client: [UInt8]) -> [UInt8] { header(.announce, lifetime: 0, client: client) }

    /// MAP (RFC 6887 11.1). The suggested external address is "any of the family" when unknown:
    /// all zeros for IPv6, ::ffff:0.0.0.0 for IPv4.
    static func mapRequest(
        nonce: [UInt8], tcp: Bool, internalPort: UInt16, suggestedPort: UInt16, suggestedExternal: [UInt8],
        lifetime: UInt32, client: [UInt8]
    ) -> [UInt8] {
        header(.map, lifetime: lifetime, client: client) + nonce + [tcp ? 6 : 17, 0, 0, 0] + be16(internalPort)
            + be16(suggestedPort) + suggestedExternal
    }

    /// The answer in `b` to a request `op` (with `nonce` for MAP); nil when `b` is not one, so
    /// that the caller goes on waiting without sending again.
    static func parse(_ b: [UInt8], op: Opcode, nonce: [UInt8]?, server: String) -> Answer? {
        guard b.count >= 4, b[1] & 0x80 != 0, b[1] & 0x7f == op.rawValue else { return nil }
        var a = Answer(status: "answered", server: server, opcode: op.name, tries: 0)
        if b[0] == 0 {
            // A NAT-PMP server's reply to a version it does not know (RFC 6886 3.5, RFC 6887 9).
            guard b.count >= 8, b[2] == 0, b[3] == 1 else { return nil }
            a.status = "natpmp-only"
            a.serverVersion = 0
            name(&a, 1)
            return a
        }
        guard b.count >= 24, b.count <= maxMessage, b.count % 4 == 0 else { return nil }
        let code = Int(b[3])
        if b[0] != version {
            guard code == ResultCode.unsuppVersion.rawValue else { return nil }
            a.serverVersion = Int(b[0])
        }
        name(&a, code)
        a.lifetime = Int(b[4]) << 24 | Int(b[5]) << 16 | Int(b[6]) << 8 | Int(b[7])
        a.epoch = Int(b[8]) << 24 | Int(b[9]) << 16 | Int(b[10]) << 8 | Int(b[11])
        guard op == .map, let nonce else { return a }
        if b.count < 60 {
            // An error may come without the request's MAP fields; a success may not.
            return code == 0 ? nil : a
        }
        // Another request's answer (an earlier run, another program): not ours.
        guard Array(b[24..<36]) == nonce else { return nil }
        a.nonce = hex(nonce)
        a.proto = b[36] == 6 ? "tcp" : b[36] == 17 ? "udp" : "protocol \(b[36])"
        a.internalPort = Int(b[40]) << 8 | Int(b[41])
        if code == 0 {
            a.externalPort = Int(b[42]) << 8 | Int(b[43])
            a.externalAddress = address(b[44..<60])
        }
        return a
    }

    static func name(_ a: inout Answer, _ code: Int) {
        a.result = code
        let c = ResultCode(rawValue: code)
        a.resultName = c?.name ?? "result \(code)"
        a.resultWords = c?.words ?? "result \(code) (not in RFC 6887)"
    }

    public static func hex(_ b: [UInt8]) -> String {
        b.map { String($0, radix: 16).count == 1 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    public static func nonce(hex text: String) -> [UInt8]? {
        let chars = Array(text.utf8)
        guard chars.count == 24 else { return nil }
        var out: [UInt8] = []
        for i in stride(from: 0, to: 24, by: 2) {
            guard let v = UInt8(String(decoding: chars[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            out.append(v)
        }
        return out
    }

    public static func newNonce() -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<12).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    // MARK: exchange

    /// RFC 6887 8.1.1: the first wait is IRT = 3 s, each next one twice the last (up to MRT =
    /// 1024 s), each with ±10 % jitter. The RFC retries without end; a diagnosis cannot, so it sends
    /// `tries` requests in all (default 2: at most 3.3 + 6.6 = 9.9 s of silence).
    public static let initialWait: Duration = .seconds(3)
    public static let defaultTries = 2

    static func jittered(_ d: Duration) -> Duration {
        let ns = nanoseconds(d)
        return .nanoseconds(ns + Int64.random(in: -(ns / 10)...(ns / 10)))
    }

    /// The longest the exchange can wait in silence: what `probe pcp` promises for a silent router.
    public static func bound(tries: Int, initialWait: Duration = initialWait) -> Duration {
        var total: Duration = .zero
        var w = initialWait
        for _ in 0..<max(tries, 1) {
            total += w + w / 10
            w = min(w * 2, .seconds(1024))
        }
        return total
    }

    /// This computer's address toward `server`: the PCP client address the request must carry,
    /// or the server answers ADDRESS_MISMATCH.
    public static func clientAddress(toward server: SocketAddress) -> String? {
        let s = socket(server.posixFamily, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(s) }
        guard server.withSockaddr({ connect(s, $0, $1) }) == 0 else { return nil }
        return SocketAddress.of(s, peer: false)?.ip
    }

    /// Sends `request(client)` to the server, `tries` times in all, the next only after a whole wait
    /// without an answer. Anything that is not the answer (another address, not PCP, another nonce)
    /// is ignored until the wait ends: it never causes a request of its own.
    static func exchange(
        op: Opcode, nonce: [UInt8]?, server: String, serverPort: UInt16, tries: Int, initialWait: Duration,
        on loop: EventLoop, request: ([UInt8]) -> [UInt8], _ completion: @escaping (Answer) -> Void
    ) {
        let failed = Answer(status: "failed", server: server, opcode: op.name, tries: 0)
        guard let to = SocketAddress(numeric: server, port: serverPort),
            let me = clientAddress(toward: to), let client = bytes16(me),
            let socket = try? UDPSocket(family: to.family, on: loop)
        else { return completion(failed) }
        let datagram = request(client)
        let serverIP = server.split(separator: "%").first.map(String.init) ?? server
        var strangeReplies = 0
        func attempt(_ n: Int, wait: Duration) {
            _ = socket.send(datagram, to: to)
            socket.receive(max: maxMessage + 4, until: EventLoop.now() + nanoseconds(jittered(wait))) {
                bytes, from -> Answer? in
                guard from.ip == serverIP, from.port == serverPort else { return nil }
                let a = parse(bytes, op: op, nonce: nonce, server: server)
                if a == nil { strangeReplies += 1 }
                return a
            } _: { answer in
                if var answer {
                    socket.close()
                    answer.tries = n + 1
                    if op == .map, answer.internalAddress == nil { answer.internalAddress = me }
                    return completion(answer)
                }
                if n + 1 < tries { return attempt(n + 1, wait: min(wait * 2, .seconds(1024))) }
                socket.close()
                var a = failed
                a.status = strangeReplies > 0 ? "garbled" : "timeout"
                a.tries = n + 1
                completion(a)
            }
        }
        attempt(0, wait: initialWait)
    }

    /// Whether a PCP server answers, and its epoch. Changes nothing.
    public static func announce(
        server: String, serverPort: UInt16 = port, tries: Int = defaultTries, initialWait: Duration = initialWait,
        on loop: EventLoop, _ completion: @escaping (Answer) -> Void
    ) {
        exchange(
            op: .announce, nonce: nil, server: server, serverPort: serverPort, tries: tries, initialWait: initialWait,
            on: loop, request: announceRequest(client:), completion)
    }

    /// Creates or refreshes (the same `nonce` again) a mapping, or deletes it (lifetime 0, the
    /// nonce it was made with). A change to the router: repairs only. `ipv6` asks for an IPv6
    /// external address — through an IPv6 server, a firewall pinhole.
    public static func map(
        tcp: Bool = true, internalPort: UInt16, suggestedPort: UInt16, lifetime: UInt32 = 7200,
        nonce: [UInt8] = newNonce(), ipv6: Bool? = nil, server: String, serverPort: UInt16 = port,
        tries: Int = defaultTries, initialWait: Duration = initialWait, on loop: EventLoop,
        _ completion: @escaping (Answer) -> Void
    ) {
        let v6 = ipv6 ?? (SocketAddress(numeric: server, port: 1)?.family == .ipv6)
        let anyExternal: [UInt8] = v6 ? Array(repeating: 0, count: 16) : bytes16("0.0.0.0")!
        exchange(
            op: .map, nonce: nonce, server: server, serverPort: serverPort, tries: tries, initialWait: initialWait,
            on: loop,
            request: {
                mapRequest(
                    nonce: nonce, tcp: tcp, internalPort: internalPort, suggestedPort: suggestedPort,
                    suggestedExternal: anyExternal, lifetime: lifetime, client: $0)
            }, completion)
    }
}

extension Gateway {
    /// This computer's default IPv6 router ("fe80::1%eth0"), from /proc/net/ipv6_route: with RA,
    /// the PCP server to ask for a pinhole (RFC 6887 8.1: the default router unless configured).
    public static func defaultIPv6(routeTable: String? = nil) -> String? {
        let text = routeTable ?? SocketTable.readFile("/proc/net/ipv6_route") ?? ""
        for line in text.split(separator: "\n") {
            let f = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
            guard f.count >= 10, f[0] == String(repeating: "0", count: 32), f[1] == "00",
                f[4] != String(repeating: "0", count: 32), f[4].count == 32
            else { continue }
            var bytes: [UInt8] = []
            var i = f[4].startIndex
            while i < f[4].endIndex {
                let j = f[4].index(i, offsetBy: 2)
                bytes.append(UInt8(f[4][i..<j], radix: 16) ?? 0)
                i = j
            }
            let ip = PCP.address(bytes[...])
            return ip.hasPrefix("fe80") ? "\(ip)%\(f[9])" : ip
        }
        return nil
    }
}
