import Doctor
import Foundation
import LuaHost
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A loopback peer for one exchange: a TCP listener that answers one line with it in capitals, and
/// a UDP socket that answers one datagram with "PONG". Both on 127.0.0.1, ephemeral ports; every
/// socket is closed once the exchange is over (or by `close()`), so that afterwards only a
/// recording can answer.
private final class EchoPeers: @unchecked Sendable {
    let tcp: Int32
    let udp: Int32
    let tcpPort: Int
    let udpPort: Int
    private let done = DispatchGroup()

    init() throws {
        tcp = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        udp = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
        tcpPort = try EchoPeers.bind(tcp, listening: true)
        udpPort = try EchoPeers.bind(udp, listening: false)
        let (tcp, udp) = (tcp, udp)
        done.enter()
        Thread {
            defer { self.done.leave() }
            let c = accept(tcp, nil, nil)
            guard c >= 0 else { return }
            defer { _ = Glibc.close(c) }
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while read(c, &byte, 1) == 1, byte != 10 { line.append(byte) }
            let reply = Array(String(decoding: line, as: UTF8.self).uppercased().utf8) + [10]
            _ = reply.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
        }.start()
        done.enter()
        Thread {
            defer { self.done.leave() }
            var buffer = [UInt8](repeating: 0, count: 512)
            var from = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let n = withUnsafeMutablePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(udp, &buffer, buffer.count, 0, $0, &length) }
            }
            guard n >= 0 else { return }
            let reply = Array("PONG".utf8)
            _ = withUnsafePointer(to: &from) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { sendto(udp, reply, reply.count, 0, $0, length) }
            }
        }.start()
    }

    private static func bind(_ fd: Int32, listening: Bool) throws -> Int {
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, length) == 0 && (!listening || listen(fd, 4) == 0) && getsockname(fd, $0, &length) == 0
            }
        }
        guard ok else { throw POSIXError(.EADDRNOTAVAIL) }
        return Int(UInt16(bigEndian: a.sin_port))
    }

    /// Waits for the exchange to end, then closes both sockets.
    func close() {
        _ = shutdown(tcp, Int32(SHUT_RDWR))
        _ = shutdown(udp, Int32(SHUT_RDWR))
        done.wait()
        _ = Glibc.close(tcp)
        _ = Glibc.close(udp)
    }
}

/// Replay of primitives that hand out objects (a kept TCP connection, a UDP socket), and the
/// tolerant matching that lets one edited answer change a finding without a second edit.
@Suite struct ReplayObjectsTests {
    /// Talks over a kept connection, then sends what it heard over UDP: the UDP datagram's bytes
    /// depend on the TCP answer, as a real check's next question depends on the last answer.
    static let pack = folder([
        "pack.lua": manifest(
            steps: ["talk"],
            params: "port = { type = 'integer', default = 1, doc = 'p' }, uport = { type = 'integer', default = 1, doc = 'u' }"),
        "talk.lua": """
        return check { title = "Talk", run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 2, keep = true })
          if r.status ~= "connected" then return fail { summary = "not connected: " .. r.status, cause = "no-listener" } end
          local conn = r.conn
          assert(conn:send("hello\\n"))
          local line, err = conn:receiveline(2)
          conn:close()
          local udp = assert(socket.udp())
          assert(udp:sendto("ping " .. tostring(line), "127.0.0.1", ctx.params.uport))
          local data, from = udp:receivefrom(100, 2)
          udp:close()
          local said = "heard " .. tostring(line or err) .. " then " .. tostring(data or from)
          if line == "HELLO" and data == "PONG" then return pass(said) end
          return fail { summary = said, cause = "no-listener" }
        end }
        """,
    ])

    private func run(_ parameters: [(String, String)], hooks: [any PrimitiveHook]) throws -> Finding {
        let report = try diagnose(Self.pack) { request in
            request.parameters.commandLine = parameters
            request.primitiveHooks = hooks
        }.report
        return try #require(report.findings.first)
    }

    @Test func objectsAndTheirMethodCallsReplayInOrderWithNoPeer() throws {
        let peers = try EchoPeers()
        let parameters = [("port", "\(peers.tcpPort)"), ("uport", "\(peers.udpPort)")]
        let recorder = Recorder()
        let live = try run(parameters, hooks: [recorder])
        peers.close()
        #expect(live.status == .pass, "\(live.summary)")
        #expect(live.summary == "heard HELLO then PONG")
        var recording = Recording()
        recording.calls = recorder.calls
        #expect(
            recording.calls.map(\.name) == [
                "socket.connect", "Connection.send", "Connection.receiveline", "Connection.close", "socket.udp",
                "UDPSocket.sendto", "UDPSocket.receivefrom", "UDPSocket.close",
            ])
        let text = recording.encoded()
        // Objects are written with their type and number, and their method calls name them.
        #expect(text.contains(#"{"$opaque":"Connection#1"}"#) || text.contains(#""$opaque": "Connection#1""#), "\(text)")
        #expect(text.contains("UDPSocket#1"))

        // Both peers are closed: a live connect would be refused, so only the recording can answer.
        let replayer = Replayer(try Recording.parse(text, source: "test"))
        let replayed = try run(parameters, hooks: [replayer])
        #expect(replayer.unmatched.isEmpty, "\(replayer.unmatched)")
        #expect(replayer.looselyMatched.isEmpty)
        #expect(replayed.status == live.status)
        #expect(replayed.summary == live.summary)

        // Deterministic: a second replay of the same file says the same.
        let again = try run(parameters, hooks: [Replayer(try Recording.parse(text, source: "test"))])
        #expect(again.summary == live.summary)

        // One edited answer changes the finding; the UDP datagram it changes ("ping BYE") still
        // finds its recorded answer, by its target (the same socket).
        let edited = text.replacingOccurrences(of: #""HELLO""#, with: #""BYE""#)
        #expect(edited != text)
        let tolerant = Replayer(try Recording.parse(edited, source: "test"))
        let changed = try run(parameters, hooks: [tolerant])
        #expect(changed.status == .fail, "\(changed.summary)")
        #expect(changed.summary == "heard BYE then PONG")
        #expect(tolerant.unmatched.isEmpty, "\(tolerant.unmatched)")
        #expect(tolerant.looselyMatched.count == 1 && tolerant.looselyMatched[0].hasPrefix("UDPSocket.sendto("))
    }

    @Test func aStandInIsNoRealObjectWithoutTheRecording() throws {
        // A recording whose connect hands out a connection but has none of its method calls: the
        // first method call is an error naming what is missing, never a call on a real socket.
        var recording = Recording()
        recording.calls = [
            .init(
                name: "socket.connect", arguments: ["127.0.0.1", 9, ["timeout": 2, "keep": true]],
                outcome: .results([["status": "connected", "conn": .opaque(typeName: "Connection#1")]]))
        ]
        let finding = try run([("port", "9")], hooks: [Replayer(recording)])
        #expect(finding.status == .error)
        #expect(
            finding.summary.contains(
                #"replay: no recorded answer for Connection.send({"$opaque":"Connection#1"},"hello\n"): the recording has no call of Connection.send"#
            ), "\(finding.summary)")
    }

    @Test func noMatchNamesTheClosestRecordedCall() throws {
        var recording = Recording()
        recording.calls = [
            .init(
                name: "socket.connect", arguments: ["127.0.0.1", 4242, ["timeout": 2, "keep": true]],
                outcome: .results([["status": "refused"]])),
            .init(
                name: "socket.connect", arguments: ["10.9.9.9", 22, ["timeout": 2, "keep": true]],
                outcome: .results([["status": "refused"]])),
        ]
        let finding = try run([("port", "4243")], hooks: [Replayer(recording)])
        #expect(finding.status == .error)
        #expect(
            finding.summary.contains(
                #"the closest recorded call is socket.connect("127.0.0.1",4242,{"keep":true,"timeout":2}), for another target (2 recorded calls of socket.connect)"#
            ), "\(finding.summary)")
    }
}
