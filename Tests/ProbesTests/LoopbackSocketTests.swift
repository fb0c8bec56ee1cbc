import Foundation
import Probes
import Reactor
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A listening socket made by the test itself (closed when the value goes away).
final class Listener {
    let fd: Int32
    let port: UInt16

    struct SetupError: Error, CustomStringConvertible { var description: String }

    init(_ ip: String, v6only: Bool = false, backlog: Int32 = 128) throws {
        guard let address = SocketAddress(numeric: ip, port: 0) else {
            throw SetupError(description: "bad address \(ip)")
        }
        let s = socket(address.family == .ipv4 ? AF_INET : AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        var one: Int32 = 1
        var flag: Int32 = v6only ? 1 : 0
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, 4)
        if address.family == .ipv6 { setsockopt(s, Int32(IPPROTO_IPV6), IPV6_V6ONLY, &flag, 4) }
        guard address.withSockaddr({ bind(s, $0, $1) }) == 0, listen(s, backlog) == 0 else {
            let why = String(cString: strerror(errno))
            close(s)
            throw SetupError(description: "listen on \(ip): \(why)")
        }
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(s, $0, &length) }
        }
        fd = s
        port = withUnsafePointer(to: &storage) { SocketAddress(storage: UnsafeRawPointer($0))!.port }
    }

    deinit { close(fd) }
}

func connectAndWait(_ host: String, _ port: UInt16, timeout: Duration = .seconds(2), keep: Bool = false)
    -> (ConnectResult, Connection?)
{
    let loop = EventLoop()
    var outcome: (ConnectResult, Connection?)?
    TCPProbe.connect(host: host, port: port, options: .init(timeout: timeout, keepOpen: keep), on: loop) {
        outcome = ($0, $1)
    }
    while outcome == nil { loop.turn(until: nil) }
    return outcome!
}

func openDescriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1 }

/// The descriptor count once it is back to `expected` or below, or the last one seen. Other suites
/// run in this process at the same time and open and close descriptors of their own (one open at
/// the start may be closed by the end); a leak never goes away, so waiting (bounded) for theirs to
/// settle and asking for no more than before keeps the comparison a leak test.
func openDescriptors(settlingAt expected: Int) -> Int {
    var n = openDescriptors()
    for _ in 0..<100 where n > expected {
        usleep(20_000)
        n = openDescriptors()
    }
    return n
}

@Suite(.serialized) struct LoopbackSocketTests {
    @Test func wildcardListenerIsReachableOnLoopback() throws {
        let l = try Listener("0.0.0.0")
        let (r, _) = connectAndWait("127.0.0.1", l.port)
        #expect(r.status == .connected)
        #expect(r.remote?.description == "127.0.0.1:\(l.port)")
        #expect(r.local?.ip == "127.0.0.1")
        #expect((r.rttMilliseconds ?? -1) >= 0)
        #expect(r.attempts.count == 1)
        let table = SocketTable.list(.listening(port: l.port))
        #expect(table.first?.scope == .wildcard)
        #expect(table.first?.owner?.pid == getpid())
    }

    @Test func loopbackOnlyListenerIsNamedSo() throws {
        let l = try Listener("127.0.0.1")
        #expect(connectAndWait("127.0.0.1", l.port).0.status == .connected)
        #expect(SocketTable.list(.listening(port: l.port)).first?.scope == .loopbackOnly)
    }

    @Test func ipv6OnlyListenerRefusesIPv4() throws {
        let l = try Listener("::1", v6only: true)
        #expect(connectAndWait("::1", l.port).0.status == .connected)
        #expect(connectAndWait("127.0.0.1", l.port).0.status == .refused)
        let entry = try #require(SocketTable.list(.listening(port: l.port)).first)
        #expect(entry.family == .ipv6 && entry.scope == .loopbackOnly)
    }

    @Test func aClosedPortIsRefusedWithItsErrno() throws {
        let port = try { () throws -> UInt16 in
            let l = try Listener("127.0.0.1"); return l.port
        }()
        let (r, _) = connectAndWait("127.0.0.1", port)
        #expect(r.status == .refused)
        #expect(r.errno == ECONNREFUSED)
        #expect(r.error == "Connection refused")
    }

    @Test func namesThatDoNotExistAreDNSNotFound() {
        let (r, _) = connectAndWait("no-such-host.invalid", 80)
        #expect(r.status == .dnsNotFound)
        #expect(r.attempts.isEmpty)
    }

    @Test func sendReceiveAndLinesOverAKeptConnection() throws {
        let l = try Listener("127.0.0.1")
        let listenFD = l.fd
        let server = Thread {
            let c = accept(listenFD, nil, nil)
            var buffer = [UInt8](repeating: 0, count: 256)
            let n = recv(c, &buffer, 256, 0)
            let reply = Array("hello \(String(decoding: buffer[0..<max(0, n)], as: UTF8.self))\r\nsecond line\n".utf8)
            _ = send(c, reply, reply.count, 0)
            close(c)
        }
        server.start()
        let (r, conn) = connectAndWait("127.0.0.1", l.port, keep: true)
        let connection = try #require(conn)
        #expect(r.status == .connected)
        let loop = connection.loopForTests
        var steps: [String] = []
        var finished = false
        connection.send(Array("you".utf8), timeout: .seconds(2)) { sent in
            steps.append("sent \((try? sent.get()) ?? -1)")
            connection.receiveLine(maxLength: 100, timeout: .seconds(2)) { line in
                steps.append(String(decoding: (try? line.get()) ?? [], as: UTF8.self))
                connection.receiveLine(maxLength: 100, timeout: .seconds(2)) { line in
                    steps.append(String(decoding: (try? line.get()) ?? [], as: UTF8.self))
                    connection.receive(max: 10, timeout: .seconds(2)) { rest in
                        if case .failure(let f) = rest { steps.append(f.rawValue) }
                        finished = true
                    }
                }
            }
        }
        while !finished { loop.turn(until: nil) }
        #expect(steps == ["sent 3", "hello you", "second line", "closed"])
        connection.close()
    }

    @Test func aReceiveTimesOutWhenNothingComes() throws {
        let l = try Listener("127.0.0.1")
        let (_, conn) = connectAndWait("127.0.0.1", l.port, keep: true)
        let connection = try #require(conn)
        var result: Result<[UInt8], Connection.Failure>?
        connection.receive(max: 10, timeout: .milliseconds(100)) { result = $0 }
        while result == nil { connection.loopForTests.turn(until: nil) }
        #expect(result == .failure(.timeout))
    }

    @Test func aPortHeldByAnotherProcessIsNamedWithItsOwner() throws {
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        holder.arguments = [
            "python3", "-c",
            """
            import socket, sys, time
            s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("0.0.0.0", 0)); s.listen(); print(s.getsockname()[1], flush=True); time.sleep(10)
            """,
        ]
        let out = Pipe()
        holder.standardOutput = out
        try holder.run()
        defer {
            // SIGTERM may be blocked: children inherit the test runner's signal mask.
            kill(holder.processIdentifier, SIGKILL)
            holder.waitUntilExit()
        }
        let line = String(decoding: out.fileHandleForReading.availableData, as: UTF8.self)
        let port = try #require(UInt16(line.trimmingCharacters(in: .whitespacesAndNewlines)))
        let r = BindProbe.test(port: port)
        #expect(r.status == .inUse)
        let h = try #require(r.holders.first)
        #expect(h.owner?.pid == holder.processIdentifier)
        #expect(h.owner?.program == "python3")
        #expect(BindProbe.test(port: port, address: "127.0.0.1").status == .inUse)
    }

    @Test func aFreePortIsFreeAndSystemPortsNeedPrivilege() throws {
        let port = try { () throws -> UInt16 in
            let l = try Listener("0.0.0.0"); return l.port
        }()
        #expect(BindProbe.test(port: port).status == .free)
        #expect(BindProbe.test(port: port, address: "192.0.2.1").status == .unavailable)
        if geteuid() != 0 { #expect(BindProbe.test(port: 80).status == .denied) }
    }

    @Test func netlinkAndProcAgree() throws {
        let listeners = try [Listener("127.0.0.1"), Listener("0.0.0.0"), Listener("::", v6only: true)]
        for l in listeners {
            let query = SocketQuery.listening(port: l.port)
            let fromKernel = SocketTable.list(query, source: .netlink)
            let fromProc = SocketTable.listFromProc(query, procRoot: "/proc")
            #expect(fromKernel.count == 1)
            #expect(fromKernel.map(\.local) == fromProc.map(\.local))
            #expect(fromKernel.map(\.state) == fromProc.map(\.state))
            #expect(fromKernel.first?.owner?.pid == getpid())
        }
    }

    @Test func dualStackComesFromTheKernel() throws {
        let both = try Listener("::", v6only: false)
        let v6 = try Listener("::", v6only: true)
        #expect(SocketTable.list(.listening(port: both.port), source: .netlink).first?.dualStack == true)
        #expect(SocketTable.list(.listening(port: v6.port), source: .netlink).first?.dualStack == false)
        #expect(connectAndWait("127.0.0.1", both.port).0.status == .connected)
        #expect(connectAndWait("127.0.0.1", v6.port).0.status == .refused)
    }

    @Test func aThousandConcurrentConnectsLeaveNoDescriptorBehind() throws {
        let listeners = try (0..<4).map { _ in try Listener("127.0.0.1", backlog: 1024) }
        let before = openDescriptors()
        var results: [ConnectStatus] = []
        do {
            let loop = EventLoop()
            for i in 0..<1000 {
                TCPProbe.connect(
                    host: "127.0.0.1", port: listeners[i % 4].port, options: .init(timeout: .seconds(5)), on: loop
                ) {
                    r, _ in results.append(r.status)
                }
            }
            while results.count < 1000 { loop.turn(until: nil) }
        }
        #expect(results.count == 1000)
        #expect(results.allSatisfy { $0 == .connected })
        #expect(openDescriptors(settlingAt: before) <= before)
    }
}
