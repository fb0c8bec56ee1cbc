import Testing

@testable import Probes

/// /proc/net/if_inet6 as the kernel writes it: the flags say which address is temporary or deprecated.
@Suite struct HostAddressTests {
    static let fixture = """
        20010db8000000000000000000000001 02 40 00 80     eth0
        20010db8000000001c2a3b4c5d6e7f80 02 40 00 01     eth0
        20010db800000000aaaaaaaaaaaaaaaa 02 40 00 21     eth0
        20010db800000000bbbbbbbbbbbbbbbb 02 40 00 20     eth0
        fd000000000000000000000000000002 02 40 00 80     eth0
        fe8000000000000000fc00fffe000001 02 40 20 80     eth0
        00000000000000000000000000000001 01 80 10 80       lo
        20010db800000000cccccccccccccccc 02 40 00 c0     eth0
        garbage line
        """

    @Test func kindsComeFromTheFlags() {
        let all = HostAddresses.parseIfInet6(Self.fixture)
        #expect(all.count == 8)
        func of(_ ip: String) -> HostAddress? { all.first { $0.ip == ip } }
        #expect(of("2001:db8::1")?.kind == "stable")
        #expect(of("2001:db8::1c2a:3b4c:5d6e:7f80")?.kind == "temporary")
        #expect(of("2001:db8::aaaa:aaaa:aaaa:aaaa")?.kind == "deprecated")
        #expect(of("2001:db8::aaaa:aaaa:aaaa:aaaa")?.temporary == true)
        #expect(of("2001:db8::bbbb:bbbb:bbbb:bbbb")?.temporary == false)
        #expect(of("2001:db8::cccc:cccc:cccc:cccc")?.kind == "tentative")
        #expect(of("fd00::2")?.uniqueLocal == true && of("fd00::2")?.scope == "global")
        #expect(of("fe80::fc:ff:fe00:1")?.scope == "link")
        #expect(of("::1")?.scope == "host" && of("::1")?.interface == "lo")
        #expect(of("2001:db8::1")?.prefixLength == 64)
    }

    @Test func theStableGlobalAddressIsTheOneToPointAt() {
        let all = HostAddresses.parseIfInet6(Self.fixture)
        #expect(HostAddresses.stableGlobalIPv6(in: all) == "2001:db8::1")
        let onlyULA = all.filter { $0.ip != "2001:db8::1" }
        #expect(HostAddresses.stableGlobalIPv6(in: onlyULA) == "fd00::2")
        #expect(HostAddresses.stableGlobalIPv6(in: []) == nil)
    }

    @Test func theRealListHasLoopback() {
        let all = HostAddresses.list()
        #expect(all.contains { $0.ip == "127.0.0.1" && $0.scope == "host" && $0.kind == nil })
    }
}
