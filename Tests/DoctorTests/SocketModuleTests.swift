import Foundation
import Testing

@testable import Doctor

#if canImport(Glibc)
    import Glibc
#endif

/// The `socket` and `netstat` modules as checks use them: misuse raises, outcomes are tables.
@Suite struct SocketModuleTests {
    /// A loopback listener on an ephemeral port; closed at deinit.
    final class Listening {
        let fd: Int32
        let port: Int
        init() {
            let s = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var sin = sockaddr_in()
            sin.sin_family = sa_family_t(AF_INET)
            sin.sin_addr.s_addr = inet_addr("127.0.0.1")
            _ = withUnsafePointer(to: &sin) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(s, $0, 16) } }
            listen(s, 16)
            var length = socklen_t(16)
            _ = withUnsafeMutablePointer(to: &sin) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) }
            }
            fd = s
            port = Int(UInt16(bigEndian: sin.sin_port))
        }
        deinit { close(fd) }
    }

    func run(_ body: String, port: Int) throws -> Finding {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(
                    steps: ["probe"], params: "port = { type = 'port', default = \(port), doc = 'p' }"),
                "probe.lua": passing(body: body),
            ]))
        return try #require(out.finding("probe"))
    }

    @Test func connectReturnsATableNeverRaisesForOutcomes() throws {
        let l = Listening()
        let ok = try run(
            """
            local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 1 })
            return pass("%s %s %s %d", r.status, r.remote.text, r["local"].ip, #r.attempts)
            """, port: l.port)
        #expect(ok.summary == "connected 127.0.0.1:\(l.port) 127.0.0.1 1")
        let refused = try run(
            """
            local r = socket.connect("127.0.0.1", 1, { timeout = 1 })
            return pass("%s %d %s", r.status, r.errno, r.error)
            """, port: l.port)
        #expect(refused.summary == "refused 111 Connection refused")
    }

    /// Names this computer knows without asking DNS (no query leaves it), and numeric addresses.
    @Test func resolveReturnsTheAddresses() throws {
        let numeric = try run(
            """
            local r = socket.resolve("127.0.0.1")
            return pass("%s %s %d", r.status, r.addresses[1], #r.addresses)
            """, port: 1)
        #expect(numeric.summary == "resolved 127.0.0.1 1")
        let name = try run(
            """
            local r = socket.resolve("localhost")
            local seen = {}
            for _, a in ipairs(r.addresses) do seen[#seen + 1] = a end
            return pass("%s %s", r.status, table.concat(seen, " "))
            """, port: 1)
        #expect(name.summary.hasPrefix("resolved "), "\(name.summary)")
        #expect(name.summary.contains("127.0.0.1") || name.summary.contains("::1"), "\(name.summary)")
    }

    static let misuse: [(String, String)] = [
        (
            "socket.connect('127.0.0.1', 70000)",
            "bad argument #2 to 'socket.connect' (port must be 1 to 65535, got 70000)"
        ),
        ("socket.connect('', 22)", "bad argument #1 to 'socket.connect' (host name is empty)"),
        ("socket.connect(nil, 22)", "bad argument #1 to 'socket.connect' (string expected, got nil)"),
        (
            "socket.connect('h', 22, { timeout = -1 })",
            "bad argument #3 to 'socket.connect' (timeout must be a number of seconds, more than 0 and at most 300)"
        ),
        ("socket.bind_test(0)", "bad argument #1 to 'socket.bind_test' (port must be 1 to 65535, got 0)"),
        ("netstat.list({ proto = 'sctp' })", "bad argument #1 to 'netstat.list' (proto must be 'tcp' or 'udp')"),
    ]

    @Test func misuseRaisesAtTheCallersLine() throws {
        for (code, message) in Self.misuse { try misuse(code, message) }
    }

    func misuse(_ code: String, _ message: String) throws {
        let f = try run("\(code) return pass('no')", port: 4242)
        #expect(f.status == .error)
        #expect(f.summary.contains("demo/probe.lua:5: \(message)"), "\(f.summary)")
    }

    @Test func keptConnectionsSendAndReceive() throws {
        let l = Listening()
        let f = try run(
            """
            local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 1, keep = true })
            local n = r.conn:send("ping")
            local data, err = r.conn:receive(10, 0.2)
            r.conn:close()
            local _, closed = r.conn:send("x")
            return pass("%d %s %s %s", n, tostring(data), err, closed)
            """, port: l.port)
        #expect(f.summary == "4 nil timeout closed")
    }

    @Test func bindTestAndNetstatNameTheHolder() throws {
        let l = Listening()
        let f = try run(
            """
            local b = socket.bind_test(ctx.params.port, "127.0.0.1")
            local h = b.holders[1]
            local ls = netstat.listeners(ctx.params.port)
            return pass("%s %s %s %s", b.status, h.scope, ls[1].state, tostring(ls[1].owner.pid))
            """, port: l.port)
        #expect(f.summary == "in-use loopback-only LISTEN \(getpid())")
    }
}

@Suite struct UDPModuleTests {
    @Test func datagramsGoBothWaysOnLoopbackWithATTL() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["udp"]),
                "udp.lua": passing(
                    body: """
                        local a = socket.udp({ bind = "127.0.0.1" })
                        local b = socket.udp({ bind = "127.0.0.1" })
                        local to, from = b:getsockname(), a:getsockname()
                        local n = a:sendto("\\0hello", "127.0.0.1", to.port, { ttl = 2 })
                        local data, ip, port = b:receivefrom(100, 1)
                        local none, err = b:receivefrom(100, 0.1)
                        a:close() b:close()
                        return pass("%d %q %s %s %s %s", n, data, ip, tostring(port == from.port), tostring(none), err)
                        """),
            ]))
        #expect(
            out.finding("udp")?.summary == "6 \"\\0hello\" 127.0.0.1 true nil timeout",
            "\(out.finding("udp")?.summary ?? "")")
    }

    @Test func misuseRaises() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b"]),
                "a.lua": passing(body: "local u = socket.udp() u:sendto('x', 'example.net', 53) return pass('no')"),
                "b.lua": passing(
                    body: "local u = socket.udp() u:sendto('x', '127.0.0.1', 53, { ttl = 300 }) return pass('no')"),
            ]))
        #expect(
            out.finding("a")?.summary.contains(
                "bad argument #3 to 'sendto' (sendto needs a numeric IPv4 or IPv6 address, got 'example.net')") == true)
        #expect(out.finding("b")?.summary.contains("bad argument #5 to 'sendto' (ttl must be 1 to 255)") == true)
    }
}

@Suite struct FirewallModuleTests {
    @Test func openingThePortIsOnlyForRepairs() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["sneaky"]),
                "sneaky.lua": passing(body: "firewall.open { port = 4242 } return pass('opened')"),
            ]))
        let f = try #require(out.finding("sneaky"))
        #expect(f.status == .error)
        #expect(f.summary.contains("firewall.open changes this computer: call it only from a repair's apply function"))
    }

    @Test func badQuestionsRaise() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a"]),
                "a.lua": passing(body: "firewall.check { port = 70000 } return pass('x')"),
            ]))
        #expect(
            out.finding("a")?.summary.contains("bad argument #1 to 'firewall.check' ('port' must be 1 to 65535, got 70000)")
                == true)
    }
}
