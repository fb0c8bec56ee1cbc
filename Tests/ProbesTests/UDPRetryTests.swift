import Foundation
import Reactor
import TestSupport
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// STUN and NAT-PMP retransmit on their schedule only: whatever else answers on the port (a UDP
/// echo, another service) must neither make them send again nor keep them going.
@Suite struct UDPRetryTests {
    /// Runs the loop until `done`, or a bound far past the longest retry schedule (which would be a hang).
    func drive(_ loop: EventLoop, until done: () -> Bool) {
        let limit = EventLoop.now() + 30_000_000_000
        while !done(), EventLoop.now() < limit { loop.turn(until: limit) }
    }

    @Test(arguments: [UDPStranger.Reply.garbage, .echo])
    func stunSendsOnlyItsRetriesToAServiceThatIsNotSTUN(_ reply: UDPStranger.Reply) throws {
        let stranger = try UDPStranger(reply)
        defer { stranger.stop() }
        let loop = EventLoop()
        var answer: STUN.Answer?
        STUN.binding(server: "127.0.0.1", port: stranger.port, tries: 3, on: loop) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "garbled", "\(String(describing: answer))")
        #expect(answer?.mapped == nil)
        #expect(stranger.count >= 1 && stranger.count <= 3, "datagrams sent: \(stranger.count)")
    }

    @Test(arguments: [UDPStranger.Reply.garbage, .echo])
    func natpmpSendsOnlyItsRetriesToAServiceThatIsNotNATPMP(_ reply: UDPStranger.Reply) throws {
        let stranger = try UDPStranger(reply)
        defer { stranger.stop() }
        let loop = EventLoop()
        var answer: NATPMP.Answer?
        NATPMP.externalAddress(gateway: "127.0.0.1", gatewayPort: stranger.port, tries: 3, on: loop) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "garbled", "\(String(describing: answer))")
        #expect(answer?.externalAddress == nil)
        #expect(stranger.count >= 1 && stranger.count <= 3, "datagrams sent: \(stranger.count)")

        var mapped: NATPMP.Answer?
        let before = stranger.count
        NATPMP.map(
            internalPort: 4242, externalPort: 4242, gateway: "127.0.0.1", gatewayPort: stranger.port, tries: 2, on: loop
        ) {
            mapped = $0
        }
        drive(loop) { mapped != nil }
        #expect(mapped?.status == "garbled")
        #expect(
            stranger.count - before >= 1 && stranger.count - before <= 2, "datagrams sent: \(stranger.count - before)")
    }

    @Test func silenceIsATimeoutAfterTheRetries() throws {
        // Bound but never read: every request is swallowed.
        let loop = EventLoop()
        let quiet = try UDPSocket(family: .ipv4, address: "127.0.0.1", on: loop)
        defer { quiet.close() }
        let port = try #require(quiet.localAddress?.port)
        var answer: NATPMP.Answer?
        NATPMP.externalAddress(gateway: "127.0.0.1", gatewayPort: port, tries: 2, on: loop) { answer = $0 }
        drive(loop) { answer != nil }
        #expect(answer?.status == "timeout")
    }
}
