import Foundation
import Testing

@testable import Probes

/// macOS and Windows socket tables from their tools' output. There is no such machine here: the
/// fixtures follow the tools' documented formats (two macOS netstat column layouts, lsof's field
/// output, English and German Windows netstat), including odd lines.
@Suite struct ForeignFormatTests {
    static func fixture(_ name: String) throws -> String {
        let url = try #require(Bundle.module.url(forResource: "Fixtures/\(name)", withExtension: "txt"))
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test func macNetstatWithTheNewerColumns() throws {
        let e = NetstatParsers.macNetstat(try Self.fixture("macos-netstat-anv-tcp"))
        #expect(e.count == 6)  // the garbled line is skipped
        let dual = try #require(e.first { $0.local.port == 4242 && $0.state == "LISTEN" })
        #expect(dual.scope == .wildcard && dual.dualStack == true)
        #expect(dual.owner?.pid == 612)
        let engine = try #require(e.first { $0.local.port == 4243 })
        #expect(engine.scope == .loopbackOnly && engine.local.ip == "127.0.0.1")
        let cups = try #require(e.first { $0.local.port == 631 })
        #expect(cups.family == .ipv6 && cups.local.ip == "::1" && cups.scope == .loopbackOnly)
        let scoped = try #require(e.first { $0.local.port == 5000 })
        #expect(scoped.local.ip == "fe80::1%lo0" && scoped.owner == nil)
        let established = try #require(e.first { $0.state == "ESTABLISHED" })
        #expect(established.remote?.description == "17.57.146.20:5223")
        #expect(established.owner?.pid == 407)
    }

    @Test func macNetstatWithTheOlderColumns() throws {
        let e = NetstatParsers.macNetstat(try Self.fixture("macos-netstat-anv-tcp-catalina"))
        #expect(e.map(\.local.port) == [4242, 4243])
        #expect(e.allSatisfy { $0.owner?.pid == 612 && $0.state == "LISTEN" })
    }

    @Test func macNetstatUDPRowsHaveNoStateColumn() throws {
        let e = NetstatParsers.macNetstat(try Self.fixture("macos-netstat-anv-udp"))
        #expect(e.map(\.state) == ["UNCONN", "ESTABLISHED"])
        #expect(e.map { $0.owner?.pid } == [318, 401])
        #expect(e[0].scope == .wildcard)
    }

    @Test func lsofFieldOutputNamesOwners() throws {
        let e = NetstatParsers.lsofFields(try Self.fixture("macos-lsof-F"))
        #expect(e.count == 4)
        #expect(e[0].owner == .init(pid: 612, program: "CrashPlanService"))
        #expect(e[0].scope == .wildcard && e[0].local.port == 4242 && e[0].state == "LISTEN")
        #expect(e[1].scope == .loopbackOnly)
        #expect(e[2].local.ip == "::1" && e[2].owner?.program == "cupsd")
        #expect(e[3].state == "ESTABLISHED" && e[3].remote?.description == "17.57.146.20:5223")
    }

    @Test func windowsNetstatInEnglish() throws {
        let e = NetstatParsers.windowsNetstat(try Self.fixture("windows-netstat-ano-en"))
        #expect(e.count == 11)
        let listen = e.filter { $0.state == "LISTEN" }
        #expect(listen.count == 6)
        let v6 = try #require(e.first { $0.local.ip == "::" && $0.proto == .tcp })
        #expect(v6.dualStack == false)  // Windows does not take IPv4 on [::] by default
        let scoped = try #require(e.first { $0.local.port == 139 })
        #expect(scoped.local.ip == "fe80::8d4:1b2c:3e4f:5a6b%12")
        #expect(e.first { $0.local.port == 4243 && $0.family == .ipv4 }?.owner?.pid == 3320)
        #expect(e.filter { $0.proto == .udp }.map(\.state) == ["UNCONN", "UNCONN", "ESTABLISHED"])
        #expect(e.first { $0.state == "TIME_WAIT" }?.owner?.pid == 0)
    }

    @Test func windowsNetstatInGermanMeansTheSame() throws {
        let e = NetstatParsers.windowsNetstat(try Self.fixture("windows-netstat-ano-de"))
        #expect(e.map(\.state) == ["LISTEN", "LISTEN", "ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT", "UNCONN"])
        #expect(e[0].scope == .wildcard && e[1].scope == .loopbackOnly)
    }

    @Test func anUnknownLanguageStillFindsListeners() {
        let text =
            "  TCP    0.0.0.0:4242   0.0.0.0:0   NASŁUCHIWANIE   3320\n  TCP    10.0.0.2:5000   10.0.0.9:4242   USTANOWIONO   12\n"
        let e = NetstatParsers.windowsNetstat(text)
        #expect(e.map(\.state) == ["LISTEN", "USTANOWIONO"])
    }
}
