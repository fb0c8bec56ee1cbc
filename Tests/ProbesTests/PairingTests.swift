import Foundation
import Reactor
import Testing

@testable import Probes

/// The pairing protocol on real loopback sockets (Docs/pairing-protocol.md): what a paired partner
/// gets, and what a stranger, a wrong code, a replay or a flood does not.
@Suite(.serialized) struct PairingTests {
    /// A reflector that pairs, with a run handler that records what it was asked.
    final class Peer {
        let loop = EventLoop()
        let reflector: Reflector
        let pairing: PairingPeer
        var runs: [(PairingProtocol.Request, SocketAddress)] = []

        init(secret: PairingPeer.Secret = .oneTimeCode, perMinute: Int = 1000, address: String = "127.0.0.1") throws {
            reflector = try Reflector(
                address: address, port: 0, options: .init(perMinute: perMinute), on: loop)
            var record: ((PairingProtocol.Request, SocketAddress) -> Void)?
            pairing = PairingPeer(secret: secret, on: loop) { request, partner in
                record?(request, partner)
                return Array(#"{"type":"findings","checks":[]}"#.utf8)
            }
            reflector.pairing = pairing
            record = { [unowned self] in self.runs.append(($0, $1)) }
        }

        func open(_ secret: String) -> Result<PairingSession, PairingProtocol.Refusal> {
            PairingSession.wait(on: loop) { done in
                PairingSession.open(host: "127.0.0.1", port: reflector.address.port, secret: secret, on: loop, done)
            }
        }

        func ask(_ s: PairingSession, _ r: PairingProtocol.Request) -> Result<[UInt8], PairingProtocol.Refusal> {
            PairingSession.wait(on: loop) { done in s.request(r, timeout: .seconds(2), done) }
        }

        func raw(_ s: PairingSession, _ line: [UInt8]) -> Result<[UInt8], PairingProtocol.Refusal> {
            PairingSession.wait(on: loop) { done in s.sendRaw(line, timeout: .seconds(2), done) }
        }

        /// Turns the loop until the peer has let go of every session.
        func settle() {
            let deadline = EventLoop.now() + 2_000_000_000
            while (pairing.openSessions > 0 || pairing.activeSessions > 0) && EventLoop.now() < deadline {
                loop.turn(until: EventLoop.now() + 10_000_000)
            }
        }
    }

    static let run = PairingProtocol.Request(type: "run", pack: "crashplan", version: "1.0.0", role: "source")

    @Test func theRightCodeRunsThePeersSideAndTheReplyIsAuthenticated() throws {
        let peer = try Peer()
        let code = try #require(peer.pairing.code)
        let session = try peer.open(code.lowercased()).get()  // case and dashes do not matter
        let body = try peer.ask(session, Self.run).get()
        #expect(String(decoding: body, as: UTF8.self).contains("findings"))
        #expect(peer.runs.count == 1)
        #expect(peer.runs.first?.0 == Self.run)
        #expect(peer.runs.first?.1.ip == "127.0.0.1")
        // Used once, the code is void: a new one is shown.
        #expect(peer.pairing.code != code)
        session.close()
        peer.settle()
        #expect(peer.pairing.activeSessions == 0)
    }

    @Test func aWrongCodeGetsNothingAndRunsNothing() throws {
        let peer = try Peer()
        let session = try peer.open("AAAA-AAAA").get()
        let answer = peer.ask(session, Self.run)
        #expect(answer.failureCode == "wrong-code")
        #expect(peer.runs.isEmpty)
        #expect(peer.pairing.wrongInAll == 1)
        peer.settle()
        #expect(peer.pairing.openSessions == 0)
    }

    @Test func aUsedCodeCannotPairAgain() throws {
        let peer = try Peer()
        let code = try #require(peer.pairing.code)
        let first = try peer.open(code).get()
        _ = try peer.ask(first, Self.run).get()
        first.close()
        let second = try peer.open(code).get()
        #expect(peer.ask(second, Self.run).failureCode == "wrong-code")
        #expect(peer.runs.count == 1)
    }

    @Test func aReplayedMessageGetsNoAnswerAndEndsTheSession() throws {
        let peer = try Peer()
        let session = try peer.open(try #require(peer.pairing.code)).get()
        _ = try peer.ask(session, Self.run).get()
        // The same request, with the same number, again: a recorded message played back.
        let replayed = peer.raw(session, session.seal(Self.run, seq: 1))
        #expect(replayed.failureCode == "closed")
        #expect(peer.runs.count == 1)
        peer.settle()
        #expect(peer.pairing.activeSessions == 0)
    }

    @Test func aForgedBodyUnderAValidNumberIsRefused() throws {
        let peer = try Peer()
        let session = try peer.open(try #require(peer.pairing.code)).get()
        _ = try peer.ask(session, Self.run).get()
        var line = session.seal(Self.run, seq: 2)
        // Change "source" to "sourcX" after signing.
        let i = try #require(line.lastIndex(of: UInt8(ascii: "e")))
        line[i] = UInt8(ascii: "X")
        #expect(peer.raw(session, line).failureCode == "closed")
        #expect(peer.runs.count == 1)
    }

    @Test func connectBackGoesOnlyToThePartnersAddress() throws {
        let peer = try Peer()
        let listener = try Listener("127.0.0.1")
        let third = try Listener("127.0.0.3")
        let session = try peer.open(try #require(peer.pairing.code)).get()
        // Without an address: the session's own.
        let reply = try peer.ask(session, .init(type: "connect-back", port: Int(listener.port), timeout: 2)).get()
        let back = try JSONDecoder().decode(PairConnectBack.self, from: Data(reply))
        #expect(back.address == "127.0.0.1:\(listener.port)")
        #expect(back.status == "connected")
        // A field naming a third address is not followed: `host` is no field at all, and `address`
        // (version 2) may only name an address the partner connected from.
        let body = Array(
            #"{"type":"connect-back","port":\#(third.port),"host":"127.0.0.3","address":"127.0.0.3"}"#.utf8)
        let line = PairingProtocol.seal(body, seq: 2, session: session.session, key: session.keys.toPeer)
        let refused = String(decoding: try peer.raw(session, line).get(), as: UTF8.self)
        #expect(refused.contains("not-partner"), "\(refused)")
        #expect(third.pending() == 0)
        #expect(peer.runs.isEmpty)
    }

    /// Version 2: the partner attaches its other addresses (here ::1) with the session's ticket;
    /// connect-back goes to those and to nothing else, and a ticket dies with its session.
    @Test func connectBackGoesOnlyToAddressesThePartnerAttachedFrom() throws {
        let peer = try Peer(address: "::")
        peer.pairing.ownAddresses = { [.init(ip: "::1", family: "ipv6", via: "lan")] }
        let v4 = try Listener("127.0.0.1")
        let v6 = try Listener("::1", v6only: true)
        let third = try Listener("127.0.0.2")
        let port = peer.reflector.address.port
        let session = try peer.open(try #require(peer.pairing.code)).get()
        let addresses = try #require(
            PairingProtocol.Addresses.decode(try peer.ask(session, .init(type: "addresses")).get()))
        #expect(addresses.addresses == [.init(ip: "::1", family: "ipv6", via: "lan")])
        #expect(PairingSession.address(of: addresses.seen)?.ip == "127.0.0.1", "\(addresses.seen)")
        #expect(peer.pairing.ticketCount == 1)
        // Before attaching, ::1 is not the partner's.
        let early = try peer.ask(session, .init(type: "connect-back", port: Int(v6.port), timeout: 2, address: "::1")).get()
        #expect(String(decoding: early, as: UTF8.self).contains("not-partner"))
        // A stranger's ticket attaches nothing.
        let stranger = PairingSession.wait(on: peer.loop) { done in
            PairingSession.attach(host: "::1", port: port, ticket: String(repeating: "ab", count: 16), on: peer.loop, done)
        }
        #expect(stranger.failureCode == "unknown-ticket")
        let attached = try PairingSession.wait(on: peer.loop) { done in
            PairingSession.attach(host: "::1", port: port, ticket: addresses.ticket, on: peer.loop, done)
        }.get()
        #expect(attached.ip == "::1")
        for (address, listener) in [("::1", v6), ("0:0::1", v6), ("127.0.0.1", v4)] {
            let reply = try peer.ask(
                session, .init(type: "connect-back", port: Int(listener.port), timeout: 2, address: address)
            ).get()
            let back = try JSONDecoder().decode(PairConnectBack.self, from: Data(reply))
            #expect(back.status == "connected", "\(address): \(back)")
        }
        for address in ["127.0.0.2", "::ffff:127.0.0.2", "10.9.8.7"] {
            let reply = try peer.ask(
                session, .init(type: "connect-back", port: Int(third.port), timeout: 2, address: address)
            ).get()
            #expect(String(decoding: reply, as: UTF8.self).contains("not-partner"), "\(address)")
        }
        // A name is no address: refused before anything is resolved.
        let named = try peer.ask(
            session, .init(type: "connect-back", port: Int(third.port), timeout: 2, address: "localhost")
        ).get()
        #expect(String(decoding: named, as: UTF8.self).contains("bad-request"))
        #expect(third.pending() == 0)
        session.close()
        peer.settle()
        #expect(peer.pairing.ticketCount == 0)
        let late = PairingSession.wait(on: peer.loop) { done in
            PairingSession.attach(host: "::1", port: port, ticket: addresses.ticket, on: peer.loop, done)
        }
        #expect(late.failureCode == "unknown-ticket")
    }

    @Test func unpairedRequestsGetTheHelloAndNothingElse() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, on: loop)
        let opened = PairingSession.wait(on: loop) { done in
            PairingSession.open(host: "127.0.0.1", port: reflector.address.port, secret: "X", on: loop, done)
        }
        #expect(opened.failureCode == "not-pairing")
        // A paired message without a PAIR first is not a request at all.
        var hello: ReflectorClient.Outcome?
        ReflectorClient.ask(host: "127.0.0.1", port: reflector.address.port, on: loop) { hello = $0 }
        while hello == nil { loop.turn(until: nil) }
        guard case .reply(let r)? = hello else { Issue.record("no HELLO"); return }
        #expect(r.ok && r.pair == nil)
    }

    @Test func aFloodOfWrongCodesIsBoundedAndLeavesNothingBehind() throws {
        let peer = try Peer()
        let first = try #require(peer.pairing.code)
        var codes = Set([first])
        var refusals: [String] = []
        for _ in 0..<30 {
            switch peer.open("ZZZZ-ZZZZ") {
            case .failure(let r): refusals.append(r.code)
            case .success(let s):
                refusals.append(peer.ask(s, Self.run).failureCode ?? "answered")
                s.close()
            }
            if let c = peer.pairing.code { codes.insert(c) }
        }
        peer.settle()
        #expect(peer.runs.isEmpty)
        #expect(refusals.filter { $0 == "wrong-code" }.count == PairingProtocol.maxWrongGuessesInAll)
        #expect(refusals.filter { $0 == "pairing-closed" }.count == 30 - PairingProtocol.maxWrongGuessesInAll)
        // A new code after each 5 wrong guesses; none once pairing closed.
        #expect(codes.count == PairingProtocol.maxWrongGuessesInAll / PairingProtocol.maxWrongGuessesPerCode)
        #expect(peer.pairing.code == nil)
        #expect(peer.pairing.openSessions == 0 && peer.pairing.activeSessions == 0)
        // Closed means closed: the right code of before does not open it again.
        let late = try? peer.open(first).get()
        #expect(late == nil)
    }

    @Test func sessionsWaitingForTheirFirstMessageAreBounded() throws {
        let peer = try Peer()
        let code = try #require(peer.pairing.code)
        var idle: [PairingSession] = []
        for _ in 0..<PairingProtocol.maxOpenSessions { idle.append(try peer.open(code).get()) }
        #expect(peer.pairing.openSessions == PairingProtocol.maxOpenSessions)
        #expect(peer.open(code).failureCode == "busy")
        for s in idle { s.close() }
        peer.settle()
        #expect(peer.pairing.openSessions == 0)
        #expect(try peer.open(code).get().session.count == 16)
    }

    @Test func framesBindSessionNumberAndDirection() {
        let keys = PairingProtocol.deriveKeys(
            secret: "7QK2-M9XD", clientNonce: [1, 2], peerNonce: [3, 4], session: "s")
        let body = Array(#"{"type":"bye"}"#.utf8)
        let line = PairingProtocol.seal(body, seq: 3, session: "s", key: keys.toPeer)
        #expect(PairingProtocol.open(line, expecting: 3, session: "s", key: keys.toPeer) == .success(body))
        #expect(PairingProtocol.open(line, expecting: 4, session: "s", key: keys.toPeer).failureCode == "replayed")
        #expect(PairingProtocol.open(line, expecting: 3, session: "t", key: keys.toPeer).failureCode == "unauthenticated")
        #expect(PairingProtocol.open(line, expecting: 3, session: "s", key: keys.toClient).failureCode == "unauthenticated")
        // The code as typed: case, dashes, spaces and O/0, I/1 do not matter.
        let typed = PairingProtocol.deriveKeys(
            secret: "7qk2 m9xd", clientNonce: [1, 2], peerNonce: [3, 4], session: "s")
        #expect(PairingProtocol.open(line, expecting: 3, session: "s", key: typed.toPeer) == .success(body))
        #expect(PairingProtocol.normalize("o1l-I") == "0111")
        let other = PairingProtocol.deriveKeys(
            secret: "7QK2-M9XE", clientNonce: [1, 2], peerNonce: [3, 4], session: "s")
        #expect(PairingProtocol.open(line, expecting: 3, session: "s", key: other.toPeer).failureCode == "unauthenticated")
    }

    @Test func codesAreEightBase32Characters() {
        let codes = (0..<50).map { _ in PairingProtocol.newCode() }
        for c in codes {
            #expect(c.count == 9 && c.dropFirst(4).first == "-")
            #expect(PairingProtocol.normalize(c).allSatisfy { PairingProtocol.alphabet.contains($0) })
        }
        #expect(Set(codes).count == codes.count)
    }

    @Test func requestsAreBoundedAndNamed() {
        #expect(PairingProtocol.Request.decode(Array(#"{"type":"run","pack":"../x","role":"source"}"#.utf8)).failureCode == "bad-request")
        #expect(PairingProtocol.Request.decode(Array(#"{"type":"run","pack":"crashplan","role":"admin"}"#.utf8)).failureCode == "bad-request")
        #expect(PairingProtocol.Request.decode(Array(#"{"type":"connect-back","port":0}"#.utf8)).failureCode == "bad-request")
        #expect(PairingProtocol.Request.decode(Array(#"{"type":"scan","port":22}"#.utf8)).failureCode == "bad-request")
        #expect((try? PairingProtocol.Request.decode(Array(#"{"type":"connect-back","port":4242}"#.utf8)).get())?.port == 4242)
    }

    /// The fuzzer's find (CI, stop 21): a `bye` or `run` carrying a name as its address was let
    /// through because only connect-back's address was checked.
    @Test func anAddressIsNumericOnEveryRequestType() {
        for type in PairingProtocol.Request.types {
            let body = #"{"type":"\#(type)","pack":"crashplan","role":"source","port":4242,"address":"20bccddeeff"}"#
            #expect(PairingProtocol.Request.decode(Array(body.utf8)).failureCode == "bad-request", "\(type)")
        }
        let numeric = #"{"type":"connect-back","port":4242,"address":"0:0::1"}"#
        #expect((try? PairingProtocol.Request.decode(Array(numeric.utf8)).get())?.address == "0:0::1")
    }
}

extension Result where Failure == PairingProtocol.Refusal {
    var failureCode: String? {
        if case .failure(let r) = self { return r.code }
        return nil
    }
}

/// A flood of pairing requests from more source addresses than the reflector remembers.
@Suite(.serialized) struct PairingFloodTests {
    /// Connects from `source` (any 127/8 address), sends `line`, and closes: the kernel queues it
    /// until the reflector's loop accepts.
    static func send(from source: String, to port: UInt16, _ line: String) -> Bool {
        let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard s >= 0 else { return false }
        defer { close(s) }
        var local = sockaddr_in()
        local.sin_family = sa_family_t(AF_INET)
        inet_pton(AF_INET, source, &local.sin_addr)
        var remote = sockaddr_in()
        remote.sin_family = sa_family_t(AF_INET)
        remote.sin_port = port.bigEndian
        inet_pton(AF_INET, "127.0.0.1", &remote.sin_addr)
        let bound = withUnsafePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        let connected = withUnsafePointer(to: &remote) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(s, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, connected == 0 else { return false }
        return line.utf8CString.withUnsafeBufferPointer { write(s, $0.baseAddress, $0.count - 1) } > 0
    }

    @Test func addressesRememberedForTheRateLimitStayBounded() throws {
        let peer = try PairingTests.Peer(perMinute: 1000)
        let count = Reflector.maxTrackedAddresses + 300
        let nonce = String(repeating: "ab", count: 16)
        var sent = 0
        for i in 0..<count {
            if Self.send(from: "127.0.\(2 + i / 250).\(1 + i % 250)", to: peer.reflector.address.port, "PORTDOCTOR/1 PAIR \(nonce)\n") {
                sent += 1
            }
            // Let the reflector accept before the listen backlog (64) fills.
            if i % 32 == 31 { for _ in 0..<8 { peer.loop.turn(until: EventLoop.now() + 1_000_000) } }
        }
        for _ in 0..<50 { peer.loop.turn(until: EventLoop.now() + 2_000_000) }
        #expect(sent == count)
        #expect(peer.reflector.recent.count <= Reflector.maxTrackedAddresses)
        #expect(peer.reflector.recent.count > 0)
        peer.settle()
        // Every one of them closed before saying anything: no session is left.
        #expect(peer.pairing.openSessions == 0 && peer.pairing.activeSessions == 0)
        #expect(peer.runs.isEmpty && peer.pairing.wrongInAll == 0)
    }
}

extension Listener {
    /// Connections that reached this listener so far (accepted here and closed): 0 means nobody
    /// was made to connect to it.
    func pending() -> Int {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        var n = 0
        while true {
            let c = accept(fd, nil, nil)
            if c < 0 { return n }
            close(c)
            n += 1
        }
    }
}

/// The reflector's per-address limit bounds addresses that cannot pair, not a paired partner
/// re-running its diagnosis after each change (Docs/pairing-protocol.md, "Limits").
@Suite(.serialized) struct PairedRateLimitTests {
    static func hello(_ peer: PairingTests.Peer, from source: String) -> ReflectorProtocol.Reply? {
        let outcome = PairingSession.wait(on: peer.loop) { done in
            ReflectorClient.ask(
                host: "127.0.0.1", port: peer.reflector.address.port, timeout: .seconds(2), source: source,
                on: peer.loop, done)
        }
        if case .reply(let r) = outcome { return r }
        return nil
    }

    @Test func pairedRunsInARowAllPairWhileAStrangerIsStillLimited() throws {
        let token = String(repeating: "T", count: 32)
        let peer = try PairingTests.Peer(secret: .token(token), perMinute: 3)
        // Eight paired runs within the minute, each with two more connections to the reflector's
        // port than its pairing (a run's trace to this port does that): 24 connections, limit 3.
        for run in 1...8 {
            let session = try peer.open(token).get()
            #expect(peer.ask(session, PairingTests.run).failureCode == nil, "run \(run)")
            session.close()
            peer.settle()
            #expect(Self.hello(peer, from: "127.0.0.1")?.ok == true, "run \(run)")
            #expect(Self.hello(peer, from: "127.0.0.1")?.ok == true, "run \(run)")
        }
        #expect(peer.runs.count == 8)
        // A flood from an address that never pairs: limited as before, and named as such.
        for _ in 0..<3 { #expect(Self.hello(peer, from: "127.0.0.2")?.ok == true) }
        let limited = try #require(Self.hello(peer, from: "127.0.0.2"))
        #expect(!limited.ok && limited.code == "rate-limited")
        // Wrong guesses from the partner's own address still count: pairing with the wrong token
        // starts nothing over.
        for _ in 0..<3 {
            let s = peer.open(String(repeating: "W", count: 32))
            if case .success(let s) = s { _ = peer.ask(s, PairingTests.run) }
        }
        #expect(peer.open(token).failureCode == "rate-limited")
        peer.settle()
        #expect(peer.pairing.openSessions == 0 && peer.pairing.activeSessions == 0)
    }

    @Test func sessionsRunningAtOnceAreBounded() throws {
        let token = String(repeating: "T", count: 32)
        let peer = try PairingTests.Peer(secret: .token(token), perMinute: 1000)
        var sessions: [PairingSession] = []
        for _ in 0..<PairingProtocol.maxActiveSessions {
            let s = try peer.open(token).get()
            _ = try peer.ask(s, PairingTests.run).get()
            sessions.append(s)
        }
        #expect(peer.pairing.activeSessions == PairingProtocol.maxActiveSessions)
        #expect(peer.open(token).failureCode == "busy")
        for s in sessions { s.close() }
        peer.settle()
        #expect(peer.pairing.activeSessions == 0)
    }
}
