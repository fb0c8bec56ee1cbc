import Foundation
import Reactor
import Testing

@testable import Probes

#if canImport(Glibc)
    import Glibc
#endif

/// What reached this network during a connect-back: real packets on loopback (needs root, as the
/// watch itself does), and the gateway's ARP requests from packets as they come off the wire.
@Suite struct ArrivalWatchTests {
    @Test(.enabled(if: getuid() == 0, "a packet socket needs root"))
    func aSYNFromTheWatchedAddressIsSeenWithItsPort() throws {
        let loop = EventLoop()
        let closedPort = try { () throws -> UInt16 in
            let l = try Listener("127.0.0.1"); return l.port
        }()
        let watch = ArrivalWatch(from: "127.0.0.1", gateway: nil, localAddresses: [], on: loop)
        var done = false
        TCPProbe.connect(host: "127.0.0.1", port: closedPort, on: loop) { _, _ in done = true }
        while !done { loop.turn(until: nil) }
        // The SYN went out and came back in on lo before the reset: it is in the socket's queue.
        let seen = watch.stop()
        #expect(seen.error == nil)
        #expect(seen.synPorts.contains(Int(closedPort)), "\(seen)")  // other tests run meanwhile
    }

    /// An ARP request: Ethernet/IPv4, operation 1, sender `from` asking for `target`.
    static func arp(from sender: [UInt8], asking target: [UInt8]) -> [UInt8] {
        [0, 1, 0x08, 0x00, 6, 4, 0, 1] + [2, 0, 0, 0, 0, 1] + sender + [0, 0, 0, 0, 0, 0] + target
    }

    @Test func theGatewaysRequestsForOtherAddressesAreKept() {
        let watch = ArrivalWatch(
            from: "198.51.100.7", gateway: "192.168.1.1", localAddresses: ["192.168.1.20"], on: EventLoop())
        watch.arp(Self.arp(from: [192, 168, 1, 1], asking: [192, 168, 1, 99]))
        watch.arp(Self.arp(from: [192, 168, 1, 1], asking: [192, 168, 1, 99]))  // asked again: once
        watch.arp(Self.arp(from: [192, 168, 1, 1], asking: [192, 168, 1, 20]))  // this computer
        watch.arp(Self.arp(from: [192, 168, 1, 30], asking: [192, 168, 1, 98]))  // not the gateway
        var reply = Self.arp(from: [192, 168, 1, 1], asking: [192, 168, 1, 97])
        reply[7] = 2  // a reply, not a request
        watch.arp(reply)
        #expect(watch.stop().gatewayAsked == ["192.168.1.99"])
    }

    /// Only SYNs from the watched address, without ACK, count.
    @Test func onlyConnectionAttemptsFromTheReflectorCount() {
        func tcp(from source: [UInt8], port: UInt16, flags: UInt8) -> [UInt8] {
            var ip: [UInt8] = [0x45, 0, 0, 40, 0, 0, 0, 0, 64, 6, 0, 0] + source + [192, 168, 1, 20]
            ip += [0xC3, 0x50, UInt8(port >> 8), UInt8(port & 0xFF), 0, 0, 0, 0, 0, 0, 0, 0, 0x50, flags, 0, 0, 0, 0, 0, 0]
            return ip
        }
        let watch = ArrivalWatch(from: "198.51.100.7", gateway: nil, localAddresses: [], on: EventLoop())
        watch.ipv4(tcp(from: [198, 51, 100, 7], port: 4243, flags: 0x02))
        watch.ipv4(tcp(from: [198, 51, 100, 7], port: 4244, flags: 0x12))  // SYN-ACK: not an attempt
        watch.ipv4(tcp(from: [198, 51, 100, 8], port: 4245, flags: 0x02))  // someone else
        #expect(watch.stop().synPorts == [4243])
    }
}
