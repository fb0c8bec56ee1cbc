import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The connect-back reflector protocol, version 1 (Docs/reflector-protocol.md).
public enum ReflectorProtocol {
    public static let version = 1
    public static let defaultPort: UInt16 = 4250
    public static let maxRequestBytes = 512
    public static let requestTimeout: Duration = .seconds(5)
    public static let maxConnectBackTimeout = 10.0

    public struct Reply: Codable, Sendable, Equatable {
        public struct ConnectBack: Codable, Sendable, Equatable {
            public var port: Int
            public var status: String
            public var rtt_ms: Double?
            public var error: String?
            /// connect(2)'s errno, and the address connected to (whoever refused, it refused from there).
            /// Absent from older reflectors' replies.
            public var errno: Int32?
            public var address: String?
            /// Asked with `trace=1` and refused: the same connect with growing TTLs (ConnectTrace), up
            /// to the first refusal — which router refused. Absent otherwise, and from older reflectors.
            public var trace: [ConnectTrace.Hop]?
        }

        public var v: Int
        public var ok: Bool
        /// The address the request came from, as the reflector saw it ("your public address").
        public var seen: String?
        public var connect_back: ConnectBack?
        public var error: String?
        /// The answer to PAIR: the peer's nonce and the session id (Docs/pairing-protocol.md).
        public var pair: PairingProtocol.Opening?
        /// A refusal's name, for PAIR (`wrong-code`, `busy`, `not-pairing` …). Absent otherwise.
        public var code: String?
    }

    enum Request: Equatable {
        case hello(token: String?)
        case connectBack(port: UInt16, timeout: Double, token: String?, trace: Bool = false)
        /// Opens a paired session (Docs/pairing-protocol.md): the client's nonce, 16 bytes in hex.
        case pair(nonce: [UInt8])
        /// Adds this connection's address to a paired session's partner addresses (pairing messages
        /// version 2): the ticket that session's `addresses` answer gave.
        case attach(ticket: [UInt8])
    }

    struct BadRequest: Error, Equatable { var why: String }

    /// "PORTDOCTOR/1 HELLO [token=T]" or "PORTDOCTOR/1 CONNECT-BACK <port> [timeout=S] [token=T]".
    static func parse(_ line: String) -> Result<Request, BadRequest> {
        func no(_ why: String) -> Result<Request, BadRequest> { .failure(BadRequest(why: why)) }
        let w = line.split(separator: " ").map(String.init)
        guard let first = w.first, first.hasPrefix("PORTDOCTOR/") else { return no("not a portdoctor request") }
        guard first == "PORTDOCTOR/\(version)" else {
            return no("unsupported protocol version \(first.dropFirst(11)); this reflector speaks \(version)")
        }
        var options: [String: String] = [:]
        for word in w.dropFirst(2) {
            // Split where the "=" was found: a lone "=" is an empty option, and a stranger's bytes that
            // make "=" part of a larger character (a combining mark after it) are no option at all.
            guard let eq = word.firstIndex(of: "=") else { continue }
            options[String(word[..<eq])] = String(word[word.index(after: eq)...])
        }
        switch w.count > 1 ? w[1] : "" {
        case "HELLO": return .success(.hello(token: options["token"]))
        case "PAIR":
            guard w.count > 2, w[2].utf8.count == PairingProtocol.nonceBytes * 2,
                let nonce = PairingProtocol.unhex(w[2].utf8)
            else { return no("PAIR needs a nonce: \(PairingProtocol.nonceBytes) bytes in hex") }
            return .success(.pair(nonce: nonce))
        case "ATTACH":
            guard w.count > 2, w[2].utf8.count == PairingProtocol.ticketBytes * 2,
                let ticket = PairingProtocol.unhex(w[2].utf8)
            else { return no("ATTACH needs a ticket: \(PairingProtocol.ticketBytes) bytes in hex") }
            return .success(.attach(ticket: ticket))
        case "CONNECT-BACK":
            guard w.count > 2, let port = Int(w[2]).flatMap({ PortNumber.from($0) }) else {
                return no("CONNECT-BACK needs a port from \(PortNumber.words())")
            }
            let timeout = min(Double(options["timeout"] ?? "") ?? 3, maxConnectBackTimeout)
            guard timeout > 0 else { return no("timeout must be more than 0") }
            return .success(
                .connectBack(port: port, timeout: timeout, token: options["token"], trace: options["trace"] == "1"))
        default: return no("unknown request: say HELLO, CONNECT-BACK or PAIR")
        }
    }

    static func encode(_ reply: Reply) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array((try? encoder.encode(reply)) ?? Data("{\"v\":1,\"ok\":false}".utf8)) + [10]
    }
}

/// `portdoctor listen`: answers "can I reach you?" and "please connect back to me on port P",
/// connecting only to the address the request came from.
public final class Reflector {
    public struct Options: Sendable {
        public var token: String?
        /// Requests allowed per source address per minute.
        public var perMinute = 10

        public init(token: String? = nil, perMinute: Int = 10) {
            self.token = token
            self.perMinute = perMinute
        }
    }

    public let fd: Int32
    public let address: SocketAddress
    let loop: EventLoop
    let options: Options
    private(set) var recent: [String: [Int64]] = [:]
    /// Source addresses whose requests are remembered for the rate limit, at most.
    static let maxTrackedAddresses = 1024
    private var accepting: EventLoop.Token?
    /// Set to pair (`portdoctor listen --pair` or `--token-file`): PAIR requests go there.
    public var pairing: PairingPeer? {
        didSet { pairing?.paired = { [weak self] partner in self?.forgive(partner.ip) } }
    }
    /// Per address, when its paired sessions authenticated in the last minute (`forgive`).
    private(set) var pairedRecently: [String: [Int64]] = [:]
    /// One line per request, for the operator's log.
    public var log: ((String) -> Void)?

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    public init(
        address: String = "0.0.0.0", port: UInt16 = ReflectorProtocol.defaultPort, options: Options = Options(),
        on loop: EventLoop
    ) throws {
        guard let local = SocketAddress(numeric: address, port: port) else {
            throw Failure(description: "'\(address)' is not a numeric address")
        }
        let s = socket(
            local.posixFamily,
            Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw Failure(description: "socket: \(errorText(errno))") }
        var one: Int32 = 1
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        if local.family == .ipv6 && local.ip == "::" {
            // Both families on "::", whatever net.ipv6.bindv6only says: one reflector answers peers
            // that come over IPv4 and those that come over IPv6.
            var zero: Int32 = 0
            setsockopt(s, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &zero, 4)
        }
        guard local.withSockaddr({ bind(s, $0, $1) }) == 0, listen(s, 64) == 0 else {
            let why = errorText(errno)
            close(s)
            throw Failure(description: "cannot listen on \(local): \(why)")
        }
        fd = s
        self.address = SocketAddress.of(s, peer: false) ?? local
        self.loop = loop
        self.options = options
        acceptNext()
    }

    deinit { stop() }

    public func stop() {
        if let accepting { loop.cancel(accepting) }
        accepting = nil
        close(fd)
    }

    private func acceptNext() {
        accepting = loop.watch(fd, for: .readable) { [weak self] _ in
            guard let self else { return }
            while true {
                let c = accept(self.fd, nil, nil)
                if c < 0 { break }
                _ = fcntl(c, F_SETFL, fcntl(c, F_GETFL) | O_NONBLOCK)
                _ = fcntl(c, F_SETFD, FD_CLOEXEC)
                self.serve(Connection(fd: c, loop: self.loop))
            }
            self.acceptNext()
        }
    }

    private func allowed(_ ip: String) -> Bool {
        let now = EventLoop.now()
        if recent.count > Reflector.maxTrackedAddresses {
            // Addresses not seen for a minute are forgotten, so a flood from many addresses does not grow this.
            recent = recent.filter { now - ($0.value.last ?? 0) < 60_000_000_000 }
            if recent.count > Reflector.maxTrackedAddresses {
                // More addresses than that within a minute: forget the quietest half. Memory stays bounded;
                // those addresses' rate limit restarts, and pairing's own limits (wrong codes in all) still hold.
                let keep = recent.sorted { ($0.value.last ?? 0) > ($1.value.last ?? 0) }
                    .prefix(Reflector.maxTrackedAddresses / 2)
                recent = Dictionary(uniqueKeysWithValues: keep.map { ($0.key, $0.value) })
            }
        }
        var times = (recent[ip] ?? []).filter { now - $0 < 60_000_000_000 }
        guard times.count < options.perMinute else {
            recent[ip] = times
            return false
        }
        times.append(now)
        recent[ip] = times
        return true
    }

    /// A session from `ip` authenticated: its partner holds the code or token, so the connections
    /// it made this minute (this PAIR, earlier runs' pairings, their traces to this port) were the
    /// partner's own: its count starts over. The limit is meant for addresses that cannot pair; a
    /// person re-running a paired diagnosis after each change is never limited. Bounded too: at most
    /// `maxPairedPerMinute` starts over per address a minute, and addresses that paired are kept
    /// within the same `maxTrackedAddresses`.
    func forgive(_ ip: String) {
        let now = EventLoop.now()
        if pairedRecently.count > Reflector.maxTrackedAddresses {
            pairedRecently = pairedRecently.filter { now - ($0.value.last ?? 0) < 60_000_000_000 }
            if pairedRecently.count > Reflector.maxTrackedAddresses { pairedRecently = [:] }
        }
        var times = (pairedRecently[ip] ?? []).filter { now - $0 < 60_000_000_000 }
        guard times.count < PairingProtocol.maxPairedPerMinute else { return }
        times.append(now)
        pairedRecently[ip] = times
        recent[ip] = nil
    }

    private func serve(_ connection: Connection) {
        guard let peer = SocketAddress.of(connection.fd, peer: true)?.unmapped else { return connection.close() }
        func reply(_ r: ReflectorProtocol.Reply) {
            log?(
                "\(peer.ip): \(r.ok ? (r.connect_back.map { "connect-back to \($0.port): \($0.status)" } ?? "hello") : "refused: \(r.error ?? "")")"
            )
            connection.send(ReflectorProtocol.encode(r), timeout: .seconds(2)) { _ in connection.close() }
        }
        func fail(_ why: String) {
            reply(.init(v: ReflectorProtocol.version, ok: false, seen: peer.description, error: why))
        }
        guard allowed(peer.ip) else {
            // Named, so a client that asked to pair tells "the peer is up but limits me" from silence.
            return reply(
                .init(
                    v: ReflectorProtocol.version, ok: false, seen: peer.description,
                    error: "rate limited: at most \(options.perMinute) requests a minute from one address",
                    code: "rate-limited"))
        }
        connection.receiveLine(maxLength: ReflectorProtocol.maxRequestBytes, timeout: ReflectorProtocol.requestTimeout)
        {
            [options, loop, weak self] line in
            guard let self else { return connection.close() }
            switch line {
            case .failure(.timeout): return fail("no request within \(ReflectorProtocol.requestTimeout)")
            case .failure(.failed): return fail("request too long (at most \(ReflectorProtocol.maxRequestBytes) bytes)")
            case .failure: return connection.close()
            case .success(let bytes):
                switch ReflectorProtocol.parse(String(decoding: bytes, as: UTF8.self)) {
                case .failure(let bad): return fail(bad.why)
                case .success(let request):
                    if case .attach(let ticket) = request {
                        guard let pairing = self.pairing else {
                            return fail("this peer does not pair: start it with portdoctor listen --pair")
                        }
                        if let refusal = pairing.attach(ticket: ticket, from: peer) {
                            self.log?("\(peer.ip): attach refused: \(refusal.message)")
                            return connection.send(
                                ReflectorProtocol.encode(
                                    .init(
                                        v: ReflectorProtocol.version, ok: false, seen: peer.description,
                                        error: refusal.message, code: refusal.code)),
                                timeout: .seconds(2)
                            ) { _ in connection.close() }
                        }
                        return reply(.init(v: ReflectorProtocol.version, ok: true, seen: peer.description))
                    }
                    if case .pair(let nonce) = request {
                        // Pairing has its own secret: the reflector's token does not apply.
                        guard let pairing = self.pairing else {
                            return fail("this peer does not pair: start it with portdoctor listen --pair")
                        }
                        return pairing.serve(
                            connection, partner: peer, clientNonce: nonce,
                            open: { opening in
                                ReflectorProtocol.encode(
                                    .init(v: ReflectorProtocol.version, ok: true, seen: peer.description, pair: opening))
                            },
                            refuse: { refusal in
                                self.log?("\(peer.ip): pairing refused: \(refusal.message)")
                                connection.send(
                                    ReflectorProtocol.encode(
                                        .init(
                                            v: ReflectorProtocol.version, ok: false, seen: peer.description,
                                            error: refusal.message, code: refusal.code)),
                                    timeout: .seconds(2)
                                ) { _ in connection.close() }
                            })
                    }
                    let token: String? =
                        switch request {
                        case .hello(let t): t
                        case .connectBack(_, _, let t, _): t
                        case .pair, .attach: nil
                        }
                    if let expected = options.token, token != expected {
                        return fail(
                            token == nil
                                ? "this reflector needs a token: ask with --token (the one given to portdoctor listen)"
                                : "the token does not match the one this reflector was started with")
                    }
                    switch request {
                    case .pair, .attach: break
                    case .hello:
                        reply(.init(v: ReflectorProtocol.version, ok: true, seen: peer.description))
                    case .connectBack(let port, let timeout, _, let trace):
                        // Only ever the address the request came from: nothing in the request names another.
                        TCPProbe.connect(
                            host: peer.ip, port: port, options: .init(timeout: .milliseconds(Int64(timeout * 1000))),
                            on: loop
                        ) { result, _ in
                            var back = ReflectorProtocol.Reply.ConnectBack(
                                port: Int(port), status: result.status.rawValue,
                                rtt_ms: result.rttMilliseconds.map { ($0 * 10).rounded() / 10 },
                                error: result.error, errno: result.errno,
                                address: SocketAddress.text(host: peer.ip, port: Int(port)))
                            func send() {
                                reply(.init(v: ReflectorProtocol.version, ok: true, seen: peer.description, connect_back: back))
                            }
                            // Refused: by which box? Unanswered: how far it got (a paired diagnosis
                            // tells the other computer's own router dropping it from the destination's).
                            // Never for an accepted port (its trace would open connections to the
                            // service), and only to the same address and port.
                            guard trace, result.status == .refused || result.status == .timeout else { return send() }
                            ConnectTrace.run(host: peer.ip, port: port, on: loop) { hops in
                                back.trace = hops
                                send()
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Asks a reflector (`portdoctor listen` on the other computer) from this one.
public enum ReflectorClient {
    public enum Outcome: Sendable {
        /// The reflector answered.
        case reply(ReflectorProtocol.Reply)
        /// The reflector itself could not be reached (how, as a connect status).
        case unreachable(ConnectResult)
        /// It answered something that is not the protocol.
        case garbled(String)
    }

    /// `timeout` bounds the connect-back (and each exchange); `connectTimeout`, when given, reaching
    /// the reflector at all (a peer that drops everything need not cost the connect-back's time too).
    public static func ask(
        host: String, port: UInt16 = ReflectorProtocol.defaultPort, connectBack: UInt16? = nil,
        trace: Bool = false, token: String? = nil, timeout: Duration = .seconds(5), connectTimeout: Duration? = nil,
        source: String? = nil, on loop: EventLoop, _ completion: @escaping (Outcome) -> Void
    ) {
        var line = "PORTDOCTOR/\(ReflectorProtocol.version) " + (connectBack.map { "CONNECT-BACK \($0)" } ?? "HELLO")
        if connectBack != nil {
            let (s, a) = timeout.components
            line += " timeout=\(Double(s) + Double(a) / 1e18)"
            if trace { line += " trace=1" }
        }
        if let token { line += " token=\(token)" }
        TCPProbe.connect(
            host: host, port: port, options: .init(timeout: connectTimeout ?? timeout, keepOpen: true, source: source),
            on: loop
        ) {
            result, conn in
            guard let conn else { return completion(.unreachable(result)) }
            conn.send(Array((line + "\n").utf8), timeout: timeout) { _ in
                conn.receiveLine(
                    maxLength: 4096, timeout: timeout + .seconds(Int64(ReflectorProtocol.maxConnectBackTimeout))
                ) { r in
                    conn.close()
                    switch r {
                    case .success(let bytes):
                        if let reply = try? JSONDecoder().decode(ReflectorProtocol.Reply.self, from: Data(bytes)) {
                            completion(.reply(reply))
                        } else {
                            completion(.garbled(String(decoding: bytes.prefix(200), as: UTF8.self)))
                        }
                    case .failure(let f): completion(.garbled("no answer (\(f.rawValue))"))
                    }
                }
            }
        }
    }
}

extension SocketAddress {
    /// An IPv4 peer of a dual-stack socket as the IPv4 address it is (::ffff:192.0.2.1 → 192.0.2.1):
    /// what a person and the packs compare with the public address.
    public var unmapped: SocketAddress {
        let lower = ip.lowercased()
        guard family == .ipv6, lower.hasPrefix("::ffff:"),
            let v4 = SocketAddress(numeric: String(ip.dropFirst(7)), port: port),
            v4.family == .ipv4
        else { return self }
        return v4
    }
}
