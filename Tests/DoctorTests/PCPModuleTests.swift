import Foundation
import Testing

@testable import Doctor

#if canImport(Glibc)
    import Glibc
#endif

/// The `pcp` module as checks use it: MAP changes the router, so only a repair may send it;
/// ANNOUNCE is free and its outcome is a table.
@Suite struct PCPModuleTests {
    @Test func mappingIsOnlyForRepairs() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["sneaky"]),
                "sneaky.lua": passing(body: "pcp.map(4242, { server = '127.0.0.1' }) return pass('mapped')"),
            ]))
        let f = try #require(out.finding("sneaky"))
        #expect(f.status == .error)
        #expect(f.summary.contains("pcp.map changes the router: call it only from a repair's apply function"))
    }

    @Test func announceToASilentServerIsATimeoutTable() throws {
        // Bound, never read: the request is swallowed.
        let s = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(s) }
        var sin = sockaddr_in()
        sin.sin_family = sa_family_t(AF_INET)
        sin.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(16)
        _ = withUnsafeMutablePointer(to: &sin) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(s, $0, 16) == 0 && getsockname(s, $0, &length) == 0
            }
        }
        let port = Int(UInt16(bigEndian: sin.sin_port))
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["ask"]),
                "ask.lua": passing(
                    body: """
                        local a = pcp.announce("127.0.0.1", { port = \(port), tries = 1 })
                        return pass("%s %s %d %s", a.status, a.opcode, a.tries, tostring(a.result))
                        """),
            ]))
        #expect(out.finding("ask")?.summary == "timeout announce 1 nil")
    }

    @Test func badQuestionsRaise() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a"]),
                "a.lua": passing(body: "pcp.announce('router.example', {}) return pass('x')"),
            ]))
        #expect(
            out.finding("a")?.summary.contains(
                "bad argument #1 to 'pcp.announce' (a numeric IPv4 or IPv6 address expected)")
                == true)
    }
}
