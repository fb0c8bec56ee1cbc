import Probes
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

@Suite struct UDPSocketTests {
    @Test func sendSetsTheTTLAndReceiveGetsTheSender() throws {
        let loop = EventLoop()
        let a = try UDPSocket(family: .ipv4, address: "127.0.0.1", on: loop)
        let b = try UDPSocket(family: .ipv4, address: "127.0.0.1", on: loop)
        let to = try #require(b.localAddress)
        #expect(try a.send([1, 2, 3], to: to, ttl: 7).get() == 3)
        var ttl: Int32 = 0
        var size = socklen_t(4)
        getsockopt(a.fd, Int32(IPPROTO_IP), IP_TTL, &ttl, &size)
        #expect(ttl == 7)
        var got: Result<([UInt8], SocketAddress), UDPSocket.Failure>?
        b.receive(max: 2, timeout: .seconds(1)) { got = $0 }
        while got == nil { loop.turn(until: nil) }
        let (bytes, from) = try #require(try got?.get())
        #expect(bytes == [1, 2])  // cut to the byte limit
        #expect(from == a.localAddress)
    }

    @Test func multicastAddressesAreRecognised() {
        #expect(SocketAddress(family: .ipv4, ip: "239.255.255.250", port: 1900).isMulticast)
        #expect(SocketAddress(family: .ipv6, ip: "ff02::c", port: 1900).isMulticast)
        #expect(!SocketAddress(family: .ipv4, ip: "192.0.2.1", port: 1900).isMulticast)
    }
}
