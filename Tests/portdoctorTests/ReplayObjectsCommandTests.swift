import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `run --record` of a check that keeps a TCP connection and opens a UDP socket, then `run
/// --replay` of it inside a network namespace this test creates and leaves empty (its loopback
/// is down: any socket the replay tried would fail), on the release binary. Root only (namespaces).
@Suite(.serialized) struct ReplayObjectsCommandTests {
    let cli = CommandLineTests()

    static let pack = [
        "pack.lua": """
        return pack { id = "demo", version = "1.0.0", title = "Demo",
          params = { port = { type = "integer", doc = "tcp" }, uport = { type = "integer", doc = "udp" } },
          steps = { "talk" } }
        """,
        "talk.lua": """
        return check { title = "Talk", run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 2, keep = true })
          if r.status ~= "connected" then return fail { summary = "not connected: " .. r.status, cause = "no-listener" } end
          assert(r.conn:send("hello\\n"))
          local line, err = r.conn:receiveline(2)
          r.conn:close()
          local udp = assert(socket.udp())
          assert(udp:sendto("ping " .. tostring(line), "127.0.0.1", ctx.params.uport))
          local data, from = udp:receivefrom(100, 2)
          udp:close()
          local said = "heard " .. tostring(line or err) .. " then " .. tostring(data or from)
          if line == "HELLO" and data == "PONG" then return pass(said) end
          return fail { summary = said, cause = "no-listener" }
        end }
        """,
    ]

    private func summary(_ json: String) throws -> (status: String, summary: String) {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        let check = try #require((object["checks"] as? [[String: Any]])?.first)
        return (check["status"] as? String ?? "", check["summary"] as? String ?? "")
    }

    @Test func aRecordingWithObjectsReplaysInAnEmptyNetworkNamespace() throws {
        #expect(ReleaseBinary.problem == nil, "\(ReleaseBinary.problem ?? "")")
        guard getuid() == 0 else { return }  // namespaces need root (CI's lab job runs as root)
        let pack = try cli.pack(Self.pack)
        let folder = pack.deletingLastPathComponent()
        defer { try? FileManager.default.removeItem(at: folder) }

        // The peers: a TCP listener answering one line in capitals, a UDP one answering PONG.
        let listener = try Loopback.tcpListener()
        let served = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            defer { served.signal() }
            let c = accept(listener.fd, nil, nil)
            guard c >= 0 else { return }
            var line: [UInt8] = []
            var byte: UInt8 = 0
            while read(c, &byte, 1) == 1, byte != 10 { line.append(byte) }
            let reply = Array(String(decoding: line, as: UTF8.self).uppercased().utf8) + [10]
            _ = reply.withUnsafeBytes { write(c, $0.baseAddress, $0.count) }
            close(c)
        }
        let udp = try UDPResponder { _ in [Array("PONG".utf8)] }
        let file = folder.appendingPathComponent("talk.json").path
        let live = try cli.portdoctor([
            "run", pack.path, "--param", "port=\(listener.port)", "--param", "uport=\(udp.port)", "--format", "json",
            "--record", file,
        ])
        served.wait()
        close(listener.fd)
        udp.stop()
        #expect(live.status == 0, "\(live.stderr)")
        #expect(try summary(live.stdout).summary == "heard HELLO then PONG")
        let recording = try String(contentsOfFile: file, encoding: .utf8)
        #expect(recording.contains("Connection#1") && recording.contains("UDPSocket#1"), "\(recording)")

        let namespace = "pdreplay\(getpid() % 100000)"
        _ = try cli.portdoctor(["ip", "netns", "add", namespace], executable: "/usr/sbin/ip")
        defer { _ = try? cli.portdoctor(["ip", "netns", "del", namespace], executable: "/usr/sbin/ip") }
        func replay(_ path: String) throws -> CommandLineTests.Run {
            try cli.portdoctor(
                [
                    "ip", "netns", "exec", namespace, ReleaseBinary.path, "run", pack.path, "--replay", path,
                    "--format", "json",
                ], executable: "/usr/sbin/ip")
        }
        // The namespace has no network at all: a live run there cannot connect.
        let cut = try cli.portdoctor(
            [
                "ip", "netns", "exec", namespace, ReleaseBinary.path, "run", pack.path, "--param",
                "port=\(listener.port)", "--param", "uport=\(udp.port)", "--format", "json",
            ], executable: "/usr/sbin/ip")
        #expect(try summary(cut.stdout).summary.hasPrefix("not connected"), "\(cut.stdout) \(cut.stderr)")

        let replayed = try replay(file)
        #expect(replayed.status == 0, "\(replayed.stdout) \(replayed.stderr)")
        let (replayedStatus, replayedSummary) = try summary(replayed.stdout)
        #expect(replayedStatus == "pass" && replayedSummary == "heard HELLO then PONG")

        // One answer edited by hand changes the finding; the datagram it changes still finds its answer.
        let edited = folder.appendingPathComponent("edited.json").path
        try recording.replacingOccurrences(of: #""HELLO""#, with: #""BYE""#).write(
            toFile: edited, atomically: true, encoding: .utf8)
        let changed = try replay(edited)
        #expect(changed.status == 1, "\(changed.stdout) \(changed.stderr)")
        let (changedStatus, changedSummary) = try summary(changed.stdout)
        #expect(changedStatus == "fail" && changedSummary == "heard BYE then PONG", "\(changed.stdout)")
    }
}
