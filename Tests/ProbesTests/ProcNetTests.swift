import Foundation
import Testing

@testable import Probes

/// Parsers on /proc/net text recorded on this machine (see Fixtures/), plus odd lines.
@Suite struct ProcNetTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "txt"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test func ipv4ListenersAndTheirScope() throws {
        let entries = ProcNet.parse(try Self.fixture("proc-net-tcp"), proto: .tcp, family: .ipv4)
        let engine = try #require(entries.first { $0.local.port == 4243 })
        #expect(engine.state == "LISTEN")
        #expect(engine.local.ip == "127.0.0.1")
        #expect(engine.scope == .loopbackOnly)
        #expect(engine.remote == nil)
        #expect((engine.inode ?? 0) > 0)
        #expect(entries.contains { $0.local.port == 40123 && $0.state == "ESTABLISHED" } == false)  // that one is IPv6
    }

    @Test func ipv6WildcardLoopbackAndMappedAddresses() throws {
        let entries = ProcNet.parse(try Self.fixture("proc-net-tcp6"), proto: .tcp, family: .ipv6, dualStack: true)
        let v6only = try #require(entries.first { $0.local.port == 4242 })
        #expect(v6only.local.ip == "::1")
        #expect(v6only.scope == .loopbackOnly)
        let wildcard = try #require(entries.first { $0.local.port == 40123 && $0.state == "LISTEN" })
        #expect(wildcard.local.ip == "::")
        #expect(wildcard.scope == .wildcard)
        #expect(wildcard.dualStack == true)
        let mapped = try #require(entries.first { $0.state == "ESTABLISHED" && $0.local.port == 40123 })
        #expect(mapped.local.ip == "::ffff:127.0.0.1")
        #expect(mapped.scope == .loopbackOnly)
        #expect(mapped.remote?.ip == "::ffff:127.0.0.1")
    }

    @Test func udpSockets() throws {
        let entries = ProcNet.parse(try Self.fixture("proc-net-udp"), proto: .udp, family: .ipv4)
        let natpmp = try #require(entries.first { $0.local.port == 5351 })
        #expect(natpmp.state == "UNCONN")
        #expect(natpmp.scope == .wildcard)
    }

    @Test func oddLinesAreSkippedNotFatal() {
        let text = """
              sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
               0: 0100007F:10F2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 23456 1
               1: 0100007F:10F2 00000000:0000 0A 00000000:000
               2: XYZ:10F2 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1
               3: 0100007F:10F2 00000000:0000 FF 00000000:00000000 00:00000000 00000000     0        0 7 1
            garbage
            """
        let entries = ProcNet.parse(text, proto: .tcp, family: .ipv4)
        #expect(entries.count == 1)
        #expect(entries.first?.local.description == "127.0.0.1:4338")
    }

    @Test func queriesFilterByProtocolStateAndPort() {
        let e = SocketEntry(
            proto: .tcp, family: .ipv4, state: "LISTEN",
            local: SocketAddress(family: .ipv4, ip: "0.0.0.0", port: 4242), remote: nil)
        #expect(SocketQuery.listening(port: 4242).admits(e))
        #expect(!SocketQuery.listening(port: 4243).admits(e))
        #expect(!SocketQuery(protocols: [.udp]).admits(e))
        #expect(!SocketQuery(states: ["ESTABLISHED"]).admits(e))
    }
}
