import Crypto
import Reactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The peer's side of pairing, behind `portdoctor listen`: it holds the code (or token), counts
/// wrong guesses, and serves paired sessions. The reflector hands it connections that asked to pair.
public final class PairingPeer {
    public enum Secret: Sendable {
        /// Printed for the person to read out; void once a session used it, after
        /// `maxWrongGuessesPerCode` wrong guesses, or after `codeLifetime`. A new one follows.
        case oneTimeCode
        /// From a token file, for unattended use: reusable, so it must be long.
        case token(String)
    }

    /// What the peer does for a `run` request: the engine's job, not this file's. Gets the request
    /// and the partner's address, answers a reply body (JSON), synchronously.
    public typealias RunHandler = (_ request: PairingProtocol.Request, _ partner: SocketAddress) -> [UInt8]

    let secretKind: Secret
    let run: RunHandler
    let loop: EventLoop
    /// The current code, when pairing with codes; nil once pairing stopped.
    public private(set) var code: String?
    private var codeIssuedAt: Int64 = 0
    private var wrongForCode = 0
    public private(set) var wrongInAll = 0
    /// Sessions not yet authenticated (bounded by `maxOpenSessions`).
    public private(set) var openSessions = 0
    /// Sessions now running (authenticated), for tests: must return to 0.
    public private(set) var activeSessions = 0
    /// Told when a session from this address authenticated (the reflector's rate limit starts over).
    var paired: ((SocketAddress) -> Void)?
    /// Told when a code is printed or retired, and one line per session, for the operator.
    public var log: ((String) -> Void)?
    /// This computer's own addresses, told to a partner that asks (`addresses`); tests replace it.
    public var ownAddresses: () -> [PairingProtocol.Address] = { PairingProtocol.ownAddresses() }
    /// Live sessions' tickets: an ATTACH with one adds its connection's address to that session.
    private var tickets: [[UInt8]: PartnerAddresses] = [:]
    /// Tickets held now, for tests: one at most per live session, none once sessions end.
    public var ticketCount: Int { tickets.count }

    /// The addresses one session's partner has connected from: the only ones connect-back may use.
    final class PartnerAddresses {
        private(set) var ips: [String]
        init(_ first: String) { ips = [PairingProtocol.canonical(first) ?? first] }
        func contains(_ ip: String) -> Bool { PairingProtocol.canonical(ip).map(ips.contains) ?? false }
        func add(_ ip: String) -> Bool {
            guard let c = PairingProtocol.canonical(ip) else { return false }
            if ips.contains(c) { return true }
            guard ips.count < PairingProtocol.maxPartnerAddresses else { return false }
            ips.append(c)
            return true
        }
    }

    /// An ATTACH: the ticket's session gains the address this connection came from (a completed TCP
    /// handshake from it, with a secret only the partner was told). Nil when done; else why not.
    func attach(ticket: [UInt8], from address: SocketAddress) -> PairingProtocol.Refusal? {
        guard let partners = tickets[ticket] else {
            return .init("unknown-ticket", "no paired session has this ticket")
        }
        guard partners.add(address.ip) else {
            return .init(
                "too-many-addresses", "a session attaches at most \(PairingProtocol.maxPartnerAddresses) addresses")
        }
        log?("\(address.ip): attached to a paired session")
        return nil
    }

    public init(secret: Secret, on loop: EventLoop, run: @escaping RunHandler) {
        secretKind = secret
        self.loop = loop
        self.run = run
        if case .oneTimeCode = secret { issueCode() }
    }

    private func issueCode() {
        guard wrongInAll < PairingProtocol.maxWrongGuessesInAll else {
            code = nil
            return
        }
        code = PairingProtocol.newCode()
        codeIssuedAt = EventLoop.now()
        wrongForCode = 0
    }

    /// The secret a new session is keyed with, or why pairing is closed.
    private func currentSecret() -> Result<String, PairingProtocol.Refusal> {
        guard wrongInAll < PairingProtocol.maxWrongGuessesInAll else {
            return .failure(.init("pairing-closed", "too many wrong codes: restart portdoctor listen to pair again"))
        }
        switch secretKind {
        case .token(let t): return .success(t)
        case .oneTimeCode:
            if code != nil, EventLoop.now() - codeIssuedAt > nanoseconds(PairingProtocol.codeLifetime) {
                issueCode()
                log?("the pairing code expired; the new code is \(code ?? "-")")
            }
            guard let code else { return .failure(.init("pairing-closed", "pairing is closed")) }
            return .success(code)
        }
    }

    private func wrongGuess() {
        wrongInAll += 1
        wrongForCode += 1
        if case .oneTimeCode = secretKind, wrongForCode >= PairingProtocol.maxWrongGuessesPerCode {
            issueCode()
            log?(
                code.map { "too many wrong codes: that code is void; the new code is \($0)" }
                    ?? "too many wrong codes: pairing is closed until portdoctor listen is restarted")
        } else if wrongInAll >= PairingProtocol.maxWrongGuessesInAll {
            code = nil
            log?("too many wrong codes: pairing is closed until portdoctor listen is restarted")
        }
    }

    /// The code was used by an authenticated session: it cannot be used again.
    private func consumed() {
        guard case .oneTimeCode = secretKind else { return }
        issueCode()
        log?("paired; the next code is \(code ?? "-")")
    }

    /// A connection that sent "PORTDOCTOR/1 PAIR <nonce>": answer the opening, then serve requests.
    /// `refuse` writes a reflector-style error line and closes.
    func serve(
        _ connection: Connection, partner: SocketAddress, clientNonce: [UInt8],
        open: @escaping (PairingProtocol.Opening) -> [UInt8], refuse: @escaping (PairingProtocol.Refusal) -> Void
    ) {
        guard openSessions < PairingProtocol.maxOpenSessions, activeSessions < PairingProtocol.maxActiveSessions else {
            return refuse(.init("busy", "too many pairing attempts at once; try again in a few seconds"))
        }
        let secret: String
        switch currentSecret() {
        case .failure(let r): return refuse(r)
        case .success(let s): secret = s
        }
        let session = PairingProtocol.hex(PairingProtocol.randomBytes(8))
        let nonce = PairingProtocol.randomBytes(PairingProtocol.nonceBytes)
        let keys = PairingProtocol.deriveKeys(
            secret: secret, clientNonce: clientNonce, peerNonce: nonce, session: session)
        openSessions += 1
        var authenticated = false
        var received: UInt64 = 0
        var sent: UInt64 = 0
        let partners = PartnerAddresses(partner.ip)
        var ticket: [UInt8]?
        let finish = { [weak self] in
            guard let self else { return connection.close() }
            if authenticated { self.activeSessions -= 1 } else { self.openSessions -= 1 }
            if let ticket { self.tickets[ticket] = nil }
            connection.close()
        }
        func reply(_ body: [UInt8], then: @escaping () -> Void) {
            sent += 1
            connection.send(
                PairingProtocol.seal(body, seq: sent, session: session, key: keys.toClient), timeout: .seconds(5)
            ) { r in
                if case .success = r { then() } else { finish() }
            }
        }
        func refusal(_ r: PairingProtocol.Refusal) -> [UInt8] {
            Array((try? JSONEncoder().encode(PairReplyError(error: r.code, message: r.message))) ?? Data())
        }
        func next() {
            guard received < UInt64(PairingProtocol.maxRequestsPerSession) else { return finish() }
            connection.receiveLine(maxLength: PairingProtocol.maxRequestBytes, timeout: PairingProtocol.idleTimeout) {
                [weak self] line in
                guard let self, case .success(let bytes) = line else { return finish() }
                switch PairingProtocol.open(bytes, expecting: received + 1, session: session, key: keys.toPeer) {
                case .failure(let r):
                    if !authenticated && r.code == "unauthenticated" {
                        self.wrongGuess()
                        self.log?("\(partner.ip): a wrong pairing code")
                        // Unauthenticated, since the two sides share no key: the words only.
                        refuse(.init("wrong-code", "the code does not match the one portdoctor listen shows now (a code works once: after each pairing, listen shows a new one)"))
                        if !authenticated { self.openSessions -= 1 }
                        return
                    }
                    // A replayed or garbled message in a paired session ends it, answered with nothing.
                    self.log?("\(partner.ip): \(r.message); session closed")
                    return finish()
                case .success(let body):
                    received += 1
                    if !authenticated {
                        authenticated = true
                        self.openSessions -= 1
                        self.activeSessions += 1
                        self.consumed()
                        self.paired?(partner)
                        self.log?("\(partner.ip): paired (session \(session))")
                    }
                    switch PairingProtocol.Request.decode(body) {
                    case .failure(let r): reply(refusal(r), then: next)
                    case .success(let request):
                        switch request.type {
                        case "bye": finish()
                        case "connect-back":
                            // Only to an address this session's partner connected from: never a third one.
                            let target = request.address ?? partner.ip
                            guard partners.contains(target) else {
                                self.log?("\(partner.ip): connect-back to \(target) refused: not the partner's")
                                return reply(
                                    refusal(
                                        .init(
                                            "not-partner",
                                            "connect-back goes only to addresses this session's partner connected from")),
                                    then: next)
                            }
                            self.connectBack(request, to: PairingProtocol.canonical(target) ?? target) { body in
                                reply(body, then: next)
                            }
                        case "addresses":
                            // One ticket per session: asking again replaces it.
                            if let old = ticket { self.tickets[old] = nil }
                            let fresh = PairingProtocol.randomBytes(PairingProtocol.ticketBytes)
                            ticket = fresh
                            self.tickets[fresh] = partners
                            let answer = PairingProtocol.Addresses(
                                seen: partner.description,
                                addresses: Array(self.ownAddresses().prefix(PairingProtocol.maxAnnouncedAddresses)),
                                ticket: PairingProtocol.hex(fresh))
                            reply(Array((try? JSONEncoder().encode(answer)) ?? Data()), then: next)
                        default:
                            self.log?("\(partner.ip): run \(request.pack ?? "?") as \(request.role ?? "?")")
                            reply(self.run(request, partner), then: next)
                        }
                    }
                }
            }
        }
        connection.send(open(.init(session: session, nonce: PairingProtocol.hex(nonce))), timeout: .seconds(5)) {
            r in
            if case .success = r { next() } else { finish() }
        }
    }

    /// Connects to the partner, only ever at an address it connected from (the caller checked).
    private func connectBack(
        _ request: PairingProtocol.Request, to partnerIP: String, _ done: @escaping ([UInt8]) -> Void
    ) {
        let port = UInt16(request.port ?? 0)
        let timeout = min(request.timeout ?? 3, ReflectorProtocol.maxConnectBackTimeout)
        TCPProbe.connect(
            host: partnerIP, port: port, options: .init(timeout: .milliseconds(Int64(timeout * 1000))), on: loop
        ) { result, _ in
            let reply = PairConnectBack(
                port: Int(port), status: result.status.rawValue,
                rtt_ms: result.rttMilliseconds.map { ($0 * 10).rounded() / 10 }, errno: result.errno,
                error: result.error, address: SocketAddress.text(host: partnerIP, port: Int(port)))
            done(Array((try? JSONEncoder().encode(reply)) ?? Data()))
        }
    }
}

/// A refusal inside a paired session (authenticated, so the client can trust it).
public struct PairReplyError: Codable, Sendable {
    public var type = "error"
    public var error: String
    public var message: String
}

/// The peer's connect to its partner: the reflector's words.
public struct PairConnectBack: Codable, Sendable, Equatable {
    public var type = "connect-back"
    public var port: Int
    public var status: String
    public var rtt_ms: Double?
    public var errno: Int32?
    public var error: String?
    public var address: String?
}
