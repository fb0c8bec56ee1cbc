import Foundation
import Reactor
import Testing

@testable import Probes

@Suite(.serialized) struct ReflectorTests {
    func ask(
        _ reflector: Reflector, loop: EventLoop, host: String = "127.0.0.1", connectBack: UInt16? = nil,
        trace: Bool = false, token: String? = nil
    ) -> ReflectorClient.Outcome {
        var outcome: ReflectorClient.Outcome?
        ReflectorClient.ask(
            host: host, port: reflector.address.port, connectBack: connectBack, trace: trace, token: token,
            timeout: .seconds(1), on: loop
        ) { outcome = $0 }
        while outcome == nil { loop.turn(until: nil) }
        return outcome!
    }

    func reply(_ o: ReflectorClient.Outcome) -> ReflectorProtocol.Reply? {
        if case .reply(let r) = o { return r }
        return nil
    }

    /// Sends raw bytes and reads the one-line answer.
    func raw(_ reflector: Reflector, loop: EventLoop, _ bytes: [UInt8]) throws -> ReflectorProtocol.Reply? {
        var line: [UInt8]?
        TCPProbe.connect(host: "127.0.0.1", port: reflector.address.port, options: .init(keepOpen: true), on: loop) {
            _, conn in
            conn?.send(bytes, timeout: .seconds(1)) { _ in
                conn?.receiveLine(maxLength: 4096, timeout: .seconds(7)) { r in
                    line = (try? r.get()) ?? []
                    conn?.close()
                }
            }
        }
        while line == nil { loop.turn(until: nil) }
        return try? JSONDecoder().decode(ReflectorProtocol.Reply.self, from: Data(line!))
    }

    @Test func helloSaysWhatAddressItSaw() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, on: loop)
        let r = try #require(reply(ask(reflector, loop: loop)))
        #expect(r.ok && r.v == 1)
        #expect(r.seen?.hasPrefix("127.0.0.1:") == true)
    }

    @Test func connectBackReachesAListenerAndNamesAClosedPort() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, on: loop)
        let open = try Listener("0.0.0.0")
        let reached = try #require(reply(ask(reflector, loop: loop, connectBack: open.port)))
        #expect(reached.connect_back?.status == "connected")
        #expect(reached.connect_back?.port == Int(open.port))
        let closedPort = try { () throws -> UInt16 in
            let l = try Listener("127.0.0.1"); return l.port
        }()
        let refused = try #require(reply(ask(reflector, loop: loop, connectBack: closedPort)))
        #expect(refused.connect_back?.status == "refused")
    }

    /// Asked with trace=1, a refused connect-back comes with its trace (on loopback the refusal is at
    /// TTL 1: no router between); an accepted one, and one asked without the word, come without.
    @Test func aRefusedConnectBackIsTracedWhenAsked() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, on: loop)
        let closedPort = try { () throws -> UInt16 in
            let l = try Listener("127.0.0.1"); return l.port
        }()
        let traced = try #require(reply(ask(reflector, loop: loop, connectBack: closedPort, trace: true)))
        #expect(traced.connect_back?.status == "refused")
        #expect(traced.connect_back?.trace == [ConnectTrace.Hop(ttl: 1, status: "refused")])
        let untraced = try #require(reply(ask(reflector, loop: loop, connectBack: closedPort)))
        #expect(untraced.connect_back?.trace == nil)
        let open = try Listener("127.0.0.1")
        let reached = try #require(reply(ask(reflector, loop: loop, connectBack: open.port, trace: true)))
        #expect(reached.connect_back?.status == "connected")
        #expect(reached.connect_back?.trace == nil, "no trace of a port that accepts: it would open connections")
        #expect(
            ReflectorProtocol.parse("PORTDOCTOR/1 CONNECT-BACK 4242 trace=1")
                == .success(.connectBack(port: 4242, timeout: 3, token: nil, trace: true)))
    }

    /// On "::" one reflector serves both families: an IPv4 peer is seen as the IPv4 address it is
    /// (not ::ffff:127.0.0.1), and an IPv6 peer is connected back to over IPv6.
    @Test func onTheIPv6WildcardBothFamiliesAreServed() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "::", port: 0, on: loop)
        let v4 = try #require(reply(ask(reflector, loop: loop)))
        #expect(v4.seen?.hasPrefix("127.0.0.1:") == true, "\(v4.seen ?? "")")
        let open6 = try Listener("::1", v6only: true)
        let v6 = try #require(reply(ask(reflector, loop: loop, host: "::1", connectBack: open6.port)))
        #expect(v6.seen?.hasPrefix("[::1]:") == true, "\(v6.seen ?? "")")
        #expect(v6.connect_back?.status == "connected")
        let open4 = try Listener("127.0.0.1")
        let back4 = try #require(reply(ask(reflector, loop: loop, connectBack: open4.port)))
        #expect(back4.connect_back?.status == "connected")
    }

    @Test func aTokenCanBeRequired() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, options: .init(token: "s3cret"), on: loop)
        let without = try #require(reply(ask(reflector, loop: loop)))
        #expect(!without.ok && without.error?.hasPrefix("this reflector needs a token: ask with --token") == true)
        let wrong = try #require(reply(ask(reflector, loop: loop, token: "wrong")))
        #expect(!wrong.ok && wrong.error == "the token does not match the one this reflector was started with")
        #expect(reply(ask(reflector, loop: loop, token: "s3cret"))?.ok == true)
    }

    @Test func requestsAreBoundedInSizeAndVersion() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, on: loop)
        let long = try #require(try raw(reflector, loop: loop, Array(repeating: UInt8(ascii: "A"), count: 600)))
        #expect(long.error == "request too long (at most 512 bytes)")
        let v2 = try #require(try raw(reflector, loop: loop, Array("PORTDOCTOR/2 HELLO\n".utf8)))
        #expect(v2.error == "unsupported protocol version 2; this reflector speaks 1")
        let junk = try #require(try raw(reflector, loop: loop, Array("GET / HTTP/1.0\n".utf8)))
        #expect(junk.error == "not a portdoctor request")
    }

    @Test func eachSourceIsRateLimited() throws {
        let loop = EventLoop()
        let reflector = try Reflector(address: "127.0.0.1", port: 0, options: .init(perMinute: 3), on: loop)
        for _ in 0..<3 { #expect(reply(ask(reflector, loop: loop))?.ok == true) }
        let fourth = try #require(reply(ask(reflector, loop: loop)))
        #expect(!fourth.ok && fourth.error == "rate limited: at most 3 requests a minute from one address")
        #expect(fourth.code == "rate-limited")
    }

    @Test func theProtocolNamesNoOtherAddress() {
        #expect(
            ReflectorProtocol.parse("PORTDOCTOR/1 CONNECT-BACK 4242 timeout=99")
                == .success(.connectBack(port: 4242, timeout: 10, token: nil)))
        #expect(
            ReflectorProtocol.parse("PORTDOCTOR/1 CONNECT-BACK 0")
                == .failure(.init(why: "CONNECT-BACK needs a port from 1 to 65535")))
        // An address in the request is just an unknown word: there is nowhere to put one.
        #expect(
            ReflectorProtocol.parse("PORTDOCTOR/1 CONNECT-BACK 4242 host=198.51.100.9")
                == .success(.connectBack(port: 4242, timeout: 3, token: nil)))
    }

    @Test func anUnreachableReflectorIsAConnectOutcome() throws {
        let loop = EventLoop()
        let port = try { () throws -> UInt16 in
            let l = try Listener("127.0.0.1"); return l.port
        }()
        var outcome: ReflectorClient.Outcome?
        ReflectorClient.ask(host: "127.0.0.1", port: port, on: loop) { outcome = $0 }
        while outcome == nil { loop.turn(until: nil) }
        guard case .unreachable(let r)? = outcome else { Issue.record("expected unreachable"); return }
        #expect(r.status == .refused)
    }
}
