import Foundation
import Reactor
import Synchronization
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// A UDP service on loopback that answers every datagram with something that is not the answer
/// a STUN or NAT-PMP client waits for, and counts what it received.
final class UDPStranger: Sendable {
    enum Reply: Sendable { case garbage, echo }

    let fd: Int32
    let port: UInt16
    private let received = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let stopped = Atomic<Bool>(false)

    var count: Int { received.load(ordering: .sequentiallyConsistent) }

    init(_ reply: Reply) throws {
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        let local = SocketAddress(family: .ipv4, ip: "127.0.0.1", port: 0)
        guard s >= 0, local.withSockaddr({ bind(s, $0, $1) }) == 0, let bound = SocketAddress.of(s, peer: false)
        else {
            if s >= 0 { close(s) }
            throw Listener.SetupError(description: "cannot bind a UDP socket on loopback")
        }
        fd = s
        port = bound.port
        Thread.detachNewThread { [self] in
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
                received.add(1, ordering: .sequentiallyConsistent)
                let answer: [UInt8] =
                    switch reply {
                    case .garbage: Array("\u{1}\u{2}not what you asked for".utf8)
                    case .echo: Array(buffer.prefix(n))
                    }
                _ = withUnsafePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                        sendto(fd, answer, answer.count, 0, $0, length)
                    }
                }
            }
            close(fd)
            stopped.store(true, ordering: .sequentiallyConsistent)
        }
    }

    func stop() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        for _ in 0..<200 where !stopped.load(ordering: .sequentiallyConsistent) { usleep(10_000) }
    }
}

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
