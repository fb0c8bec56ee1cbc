import Crypto
import Reactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The asking side of a paired session: opens it with the code, then sends requests one at a time.
public final class PairingSession {
    let connection: Connection
    let session: String
    let keys: PairingProtocol.Keys
    private var sent: UInt64 = 0
    private var received: UInt64 = 0
    /// The address the peer saw this computer come from (its public address behind NAT).
    public let seen: String?

    init(connection: Connection, session: String, keys: PairingProtocol.Keys, seen: String?) {
        self.connection = connection
        self.session = session
        self.keys = keys
        self.seen = seen
    }

    public func close() { connection.close() }

    /// Opens a session with the peer at host:port (`portdoctor listen --pair`) using `secret`.
    public static func open(
        host: String, port: UInt16 = ReflectorProtocol.defaultPort, secret: String, timeout: Duration = .seconds(5),
        on loop: EventLoop, _ completion: @escaping (Result<PairingSession, PairingProtocol.Refusal>) -> Void
    ) {
        let nonce = PairingProtocol.randomBytes(PairingProtocol.nonceBytes)
        TCPProbe.connect(host: host, port: port, options: .init(timeout: timeout, keepOpen: true), on: loop) {
            result, conn in
            guard let conn else {
                return completion(
                    .failure(
                        .init(
                            "peer-unreachable",
                            "cannot reach portdoctor listen at \(SocketAddress.text(host: host, port: Int(port))): \(result.status.rawValue)"
                        )))
            }
            let line = "PORTDOCTOR/\(ReflectorProtocol.version) PAIR \(PairingProtocol.hex(nonce))\n"
            conn.send(Array(line.utf8), timeout: timeout) { _ in
                conn.receiveLine(maxLength: 4096, timeout: timeout) { r in
                    guard case .success(let bytes) = r,
                        let reply = try? JSONDecoder().decode(ReflectorProtocol.Reply.self, from: Data(bytes))
                    else {
                        conn.close()
                        return completion(.failure(.init("garbled", "the peer did not answer as portdoctor listen")))
                    }
                    guard reply.ok, let opening = reply.pair, let peerNonce = PairingProtocol.unhex(opening.nonce.utf8),
                        peerNonce.count == PairingProtocol.nonceBytes, opening.session.utf8.count <= 64
                    else {
                        conn.close()
                        // Reflectors before the code named it only in words: a rate limit is not "does not pair".
                        let limited = reply.error?.hasPrefix("rate limited") == true
                        return completion(
                            .failure(
                                .init(
                                    reply.code ?? (limited ? "rate-limited" : "not-pairing"),
                                    reply.error ?? "the peer does not pair")))
                    }
                    let keys = PairingProtocol.deriveKeys(
                        secret: secret, clientNonce: nonce, peerNonce: peerNonce, session: opening.session)
                    completion(
                        .success(PairingSession(connection: conn, session: opening.session, keys: keys, seen: reply.seen)))
                }
            }
        }
    }

    /// Sends one request and waits for its authenticated reply body. A wrong code shows here: the
    /// peer answers the first request with an unauthenticated refusal and closes.
    public func request(
        _ request: PairingProtocol.Request, timeout: Duration = PairingProtocol.replyTimeout,
        _ completion: @escaping (Result<[UInt8], PairingProtocol.Refusal>) -> Void
    ) {
        let body = Array((try? JSONEncoder().encode(request)) ?? Data())
        sendRaw(PairingProtocol.seal(body, seq: sent + 1, session: session, key: keys.toPeer), timeout: timeout, completion)
        sent += 1
    }

    /// Sends exactly these bytes as a request (tests replay and forge with it).
    public func sendRaw(
        _ line: [UInt8], timeout: Duration = PairingProtocol.replyTimeout,
        _ completion: @escaping (Result<[UInt8], PairingProtocol.Refusal>) -> Void
    ) {
        connection.send(line, timeout: .seconds(5)) { [self] r in
            guard case .success = r else { return completion(.failure(.init("closed", "the peer closed the session"))) }
            connection.receiveLine(maxLength: PairingProtocol.maxReplyBytes, timeout: timeout) { [self] r in
                switch r {
                case .failure(let f):
                    completion(.failure(.init(f == .timeout ? "timeout" : "closed", "the peer closed the session (\(f))")))
                case .success(let bytes):
                    if bytes.first == UInt8(ascii: "{"),
                        let refusal = try? JSONDecoder().decode(ReflectorProtocol.Reply.self, from: Data(bytes))
                    {
                        connection.close()
                        return completion(
                            .failure(.init(refusal.code ?? "refused", refusal.error ?? "the peer refused")))
                    }
                    switch PairingProtocol.open(bytes, expecting: received + 1, session: session, key: keys.toClient) {
                    case .failure(let why):
                        connection.close()
                        completion(.failure(why))
                    case .success(let body):
                        received += 1
                        completion(.success(body))
                    }
                }
            }
        }
    }

    /// Connects to the peer at another of its addresses and attaches that connection's source
    /// address to the session (the reflector's `ATTACH`): the address the peer saw, or why not.
    public static func attach(
        host: String, port: UInt16, ticket: String, timeout: Duration = .seconds(2), on loop: EventLoop,
        _ completion: @escaping (Result<SocketAddress, PairingProtocol.Refusal>) -> Void
    ) {
        TCPProbe.connect(host: host, port: port, options: .init(timeout: timeout, keepOpen: true), on: loop) {
            result, conn in
            guard let conn else {
                return completion(.failure(.init("peer-unreachable", "\(result.status.rawValue)")))
            }
            conn.send(Array("PORTDOCTOR/\(ReflectorProtocol.version) ATTACH \(ticket)\n".utf8), timeout: timeout) { _ in
                conn.receiveLine(maxLength: 4096, timeout: timeout) { r in
                    conn.close()
                    guard case .success(let bytes) = r,
                        let reply = try? JSONDecoder().decode(ReflectorProtocol.Reply.self, from: Data(bytes))
                    else { return completion(.failure(.init("garbled", "the peer did not answer ATTACH"))) }
                    guard reply.ok, let seen = reply.seen.flatMap(Self.address(of:)) else {
                        return completion(.failure(.init(reply.code ?? "refused", reply.error ?? "the peer refused")))
                    }
                    completion(.success(seen))
                }
            }
        }
    }

    /// "10.0.0.1:4242" or "[2001:db8::1]:4242" (a reflector's `seen`) as an address.
    public static func address(of seen: String) -> SocketAddress? {
        guard let colon = seen.lastIndex(of: ":"), let port = UInt16(seen[seen.index(after: colon)...]) else { return nil }
        var ip = String(seen[..<colon])
        if ip.hasPrefix("[") && ip.hasSuffix("]") { ip = String(ip.dropFirst().dropLast()) }
        return SocketAddress(numeric: ip, port: port)
    }

    /// The last request line sent, for replay tests: sealed again with the same number.
    public func seal(_ request: PairingProtocol.Request, seq: UInt64) -> [UInt8] {
        PairingProtocol.seal(
            Array((try? JSONEncoder().encode(request)) ?? Data()), seq: seq, session: session, key: keys.toPeer)
    }

    /// Waits for a reply on `loop`, turning it: for the command line, which has nothing else to do.
    public static func wait<T>(on loop: EventLoop, _ start: (@escaping (T) -> Void) -> Void) -> T {
        var result: T?
        start { result = $0 }
        while result == nil { loop.turn(until: EventLoop.now() + 100_000_000) }
        return result!
    }
}
