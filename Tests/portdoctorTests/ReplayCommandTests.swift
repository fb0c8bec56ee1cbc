import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// `run --record/--replay/--trace` and `pack test`, on the release binary. Network traffic goes to
/// loopback only (a listener this test opens); the bundled packs' tests replay and touch nothing.
@Suite struct ReplayCommandTests {
    let cli = CommandLineTests()

    /// Connects to a port and reads the clock: what a replay must reproduce.
    static let loopbackPack = [
        "pack.lua": """
        return pack { id = "demo", version = "1.0.0", title = "Demo",
          params = { port = { type = "integer", doc = "the port" },
                     token = { type = "string", secret = true, default = "none", doc = "a secret" } },
          steps = { "reach", "when" } }
        """,
        "reach.lua": """
        return check { title = "Reach", run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 2 })
          if r.status == "connected" then return pass { summary = "connected", evidence = { status = r.status } } end
          return fail { summary = "not connected: " .. r.status .. " " .. ctx.params.token, cause = "no-listener" }
        end }
        """,
        "when.lua": "return check { title = 'When', run = function() return pass('at ' .. os.time()) end }",
    ]

    private func checks(_ json: String) throws -> [[String: String]] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
        return (object["checks"] as? [[String: Any]] ?? []).map { c in
            ["id": c["id"] as? String ?? "", "status": c["status"] as? String ?? "",
             "summary": c["summary"] as? String ?? "", "cause": c["cause"] as? String ?? ""]
        }
    }

    @Test func aRecordedRunReplaysToTheSameFindingsWithoutTheListener() throws {
        #expect(ReleaseBinary.problem == nil, "\(ReleaseBinary.problem ?? "")")
        let pack = try cli.pack(Self.loopbackPack)
        defer { try? FileManager.default.removeItem(at: pack.deletingLastPathComponent()) }
        let listener = try Loopback.tcpListener()
        let file = pack.deletingLastPathComponent().appendingPathComponent("run.json").path
        let live = try cli.portdoctor([
            "run", pack.path, "--param", "port=\(listener.port)", "--param", "token=s3cret-value", "--format", "json",
            "--record", file, "--trace",
        ])
        close(listener.fd)
        #expect(live.status == 0, "\(live.stderr)")
        #expect(live.stderr.contains("trace: reach: socket.connect(\"127.0.0.1\", \(listener.port), {timeout=2}) -> {"))
        #expect(live.stderr.contains("trace: when: os.time() -> "))
        let recording = try String(contentsOfFile: file, encoding: .utf8)
        #expect(recording.contains("\"call\": \"socket.connect\""))
        #expect(!recording.contains("s3cret-value"), "a secret parameter is never written")

        // The listener is gone: only the recording can say "connected".
        let replayed = try cli.portdoctor(["run", pack.path, "--replay", file, "--format", "json"])
        #expect(replayed.status == 0, "\(replayed.stderr)")
        #expect(try checks(replayed.stdout) == checks(live.stdout))

        // Edited by hand: another port has no answer, and the error names the call.
        let other = try cli.portdoctor(["run", pack.path, "--replay", file, "--param", "port=9", "--format", "json"])
        #expect(other.status == 2)
        #expect(other.stdout.contains(#"replay: no recorded answer for socket.connect(\"127.0.0.1\",9,{\"timeout\":2})"#))
    }

    @Test func packTestCountsAndExitsOneOnAFailure() throws {
        var files = Self.loopbackPack
        files["tests/refused.json"] = """
        { "parameters": { "port": "4242" },
          "calls": [ { "call": "socket.connect", "arguments": ["127.0.0.1", 4242, { "timeout": 2 }], "results": [ { "status": "refused" } ] } ],
          "expect": { "cause": "no-listener", "checks": { "reach": { "status": "fail", "cause": "no-listener" }, "when": "pass" } } }
        """
        let pack = try cli.pack(files)
        defer { try? FileManager.default.removeItem(at: pack.deletingLastPathComponent()) }
        let ok = try cli.portdoctor(["pack", "test", pack.path])
        #expect(ok.status == 0, "\(ok.stdout)\(ok.stderr)")
        #expect(ok.stdout == "1 passed, 0 failed\n")

        try """
        { "parameters": { "port": "4242" },
          "calls": [ { "call": "socket.connect", "arguments": ["127.0.0.1", 4242, { "timeout": 2 }], "results": [ { "status": "connected" } ] } ],
          "expect": { "cause": "no-listener" } }
        """.write(to: pack.appendingPathComponent("tests/wrong.json"), atomically: true, encoding: .utf8)
        let failing = try cli.portdoctor(["pack", "test", pack.path])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("FAIL  wrong\n      opening cause: expected no-listener, got none"))
        #expect(failing.stdout.hasSuffix("1 passed, 1 failed\n"))

        let none = try cli.portdoctor(["pack", "test", pack.deletingLastPathComponent().path])
        #expect(none.status == 2)
        #expect(none.stderr.contains("has no tests/ folder"))
    }

    /// CI: every bundled pack's tests pass on the release binary.
    @Test(arguments: ["crashplan", "tcp-service"])
    func theBundledPacksTestsPass(_ pack: String) throws {
        let path = ReleaseBinary.repository.appendingPathComponent("Checks/\(pack)").path
        let r = try cli.portdoctor(["pack", "test", path])
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        #expect(r.stdout.hasSuffix(" 0 failed\n"))
        #expect(!r.stdout.hasPrefix("0 passed"), "the pack ships tests")
    }
}
