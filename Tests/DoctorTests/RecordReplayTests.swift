import Doctor
import Foundation
import LuaHost
import Logging
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// A TCP listener on 127.0.0.1 (an ephemeral port), closed by `close()`.
private final class LoopbackListener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        self.fd = fd
        var a = sockaddr_in()
        a.sin_family = sa_family_t(AF_INET)
        a.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &a) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && listen(fd, 8) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRNOTAVAIL) }
        port = Int(UInt16(bigEndian: a.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}

/// A recording test double: `fake.hello(options)` answers with what it was given and a token.
private func installFake(_ runtime: LuaRuntime) {
    runtime.register(
        module: "fake",
        [
            "hello": HostFunction { call in
                var t = try call.table(1)
                t["token"] = .text("router-secret-42")
                t["greeting"] = .text("hello \(t["name"].stringValue ?? "")")
                return call.returning(.table(t))
            },
            // Suspends, and has its answer at hand: resumed before the host function returns
            // (as upnp.discover with the run's cached answer, or a connect with no route).
            "at_once": HostFunction { call in try call.suspend { $0.resume(with: [.text("at once")]) } },
        ])
}

/// Collects swift-log messages (the trace's handler, in a test).
private final class CollectedLog: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [String] = []
    var lines: [String] { lock.withLock { storage } }
    func append(_ s: String) { lock.withLock { storage.append(s) } }
}

private struct CollectingHandler: LogHandler {
    let log: CollectedLog
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(event: LogEvent) { log.append("\(event.message)") }
}

@Suite struct RecordReplayTests {
    /// Connects to a real listener and a closed port, binds, and reads the clock: every kind of answer.
    static let loopbackPack = folder([
        "pack.lua": manifest(
            steps: ["open", "closed", "when"],
            params: "port = { type = 'integer', default = 1, doc = 'p' }, closed = { type = 'integer', default = 1, doc = 'c' }"),
        "open.lua": """
        return check { title = "Open", run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.port, { timeout = 2 })
          if r.status == "connected" then return pass { summary = "open", evidence = { status = r.status, port = r.port } } end
          return fail { summary = "not open: " .. r.status, cause = "no-listener" }
        end }
        """,
        "closed.lua": """
        return check { title = "Closed", after = { "open" }, run = function(ctx)
          local r = socket.connect("127.0.0.1", ctx.params.closed, { timeout = 2 })
          local seen = ctx.results.open.evidence and ctx.results.open.evidence.status or "nothing"
          if r.status == "connected" then return pass("open (open saw " .. seen .. ")") end
          return fail { summary = r.status .. " (open saw " .. seen .. ")", cause = "no-listener" }
        end }
        """,
        "when.lua": """
        return check { title = "When", run = function()
          return pass("at " .. os.date("!%Y-%m-%d %H:%M:%S") .. " / " .. os.time())
        end }
        """,
    ])

    private func run(_ pack: PackFolder, parameters: [(String, String)] = [], hooks: [any PrimitiveHook]) throws
        -> Report
    {
        try diagnose(pack) { request in
            request.parameters.commandLine = parameters
            request.primitiveHooks = hooks
        }.report
    }

    @Test func aReplayGivesTheLiveRunsFindingsWithoutTheNetwork() throws {
        let listener = try LoopbackListener()
        let closed = try LoopbackListener()
        closed.close()
        let parameters = [("port", "\(listener.port)"), ("closed", "\(closed.port)")]
        let recorder = Recorder()
        let live = try run(Self.loopbackPack, parameters: parameters, hooks: [recorder])
        #expect(live.findings.map(\.status) == [.pass, .fail, .pass], "\(live.findings.map(\.summary))")
        var recording = Recording()
        recording.calls = recorder.calls
        #expect(recording.calls.map(\.name).sorted() == ["os.time", "os.time", "socket.connect", "socket.connect"])

        // Through the file format, with the listener gone: only the recording can say "open".
        listener.close()
        let reread = try Recording.parse(recording.encoded(), source: "test")
        let replayer = Replayer(reread)
        let replayed = try run(Self.loopbackPack, parameters: parameters, hooks: [replayer])
        #expect(replayer.unmatched.isEmpty)
        #expect(replayed.findings.map(\.status) == live.findings.map(\.status))
        #expect(replayed.findings.map(\.summary) == live.findings.map(\.summary))
        #expect(replayed.findings.map(\.cause) == live.findings.map(\.cause))
        #expect(replayed.findings.map(\.evidence) == live.findings.map(\.evidence))
    }

    @Test func aCallTheRecordingDoesNotHaveIsAnErrorThatNamesIt() throws {
        var recording = Recording()
        recording.calls = [
            .init(
                name: "socket.connect", arguments: ["127.0.0.1", 1, ["timeout": 2]],
                outcome: .results([["status": "connected"]]))
        ]
        let report = try run(
            Self.loopbackPack, parameters: [("port", "1"), ("closed", "9")], hooks: [Replayer(recording)])
        #expect(report.findings.first { $0.id == "open" }?.status == .pass)
        let closed = try #require(report.findings.first { $0.id == "closed" })
        #expect(closed.status == .error)
        #expect(
            closed.summary.contains(
                #"replay: no recorded answer for socket.connect("127.0.0.1",9,{"timeout":2}): the closest recorded call is socket.connect("127.0.0.1",1,{"timeout":2}), its answer used up"#
            ), "\(closed.summary)")
    }

    @Test func repeatedCallsTakeTheRecordedAnswersInOrder() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["twice"]),
            "twice.lua": """
            return check { title = "Twice", run = function()
              local a = socket.connect("127.0.0.1", 7).status
              local b = socket.connect("127.0.0.1", 7).status
              return pass(a .. " then " .. b)
            end }
            """,
        ])
        var recording = Recording()
        recording.calls = [
            .init(name: "socket.connect", arguments: ["127.0.0.1", 7], outcome: .results([["status": "refused"]])),
            .init(name: "socket.connect", arguments: ["127.0.0.1", 7], outcome: .results([["status": "open"]])),
        ]
        let report = try run(pack, hooks: [Replayer(recording)])
        #expect(report.findings.first?.summary == "refused then open")
        let again = try run(pack, hooks: [Replayer(Recording())])
        #expect(again.findings.first?.summary.contains("the recording has no call of socket.connect") == true)
    }

    @Test func theClockReplaysToo() throws {
        var recording = Recording()
        recording.calls = [.init(name: "os.time", arguments: [], outcome: .results([.integer(1_700_000_000)]))]
        let pack = folder([
            "pack.lua": manifest(steps: ["when"]),
            "when.lua": "return check { title = 'W', run = function() return pass(os.date('!%Y-%m-%d', os.time())) end }",
        ])
        let report = try run(pack, hooks: [Replayer(recording)])
        #expect(report.findings.first?.summary == "2023-11-14")
        // Nothing recorded: the recording's own time, so a hand-written case needs no clock.
        var empty = Recording()
        empty.recordedAt = 86_400
        #expect(try run(pack, hooks: [Replayer(empty)]).findings.first?.summary == "1970-01-02")
    }

    /// What a paired run measured (`pairing.paths()`) is recorded, so that a paired run replays
    /// into a pack test; a recording without it (a single-ended run's) replays it as "not paired".
    @Test func aPairedRunsPathsAreRecordedAndReplayed() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["paths"]),
            "paths.lua": """
            return check { title = "Paths", run = function()
              local p = pairing.paths()
              if not p then return skip("not paired") end
              local t = p.tests[1]
              return pass(string.format("%s %s %s", t.family, t.address, t.outcome))
            end }
            """,
        ])
        let paths = PairedPaths()
        paths.tests = [
            PathTest(
                from: "source", to: "destination", how: "connect", address: "192.0.2.7", port: 4242, family: "ipv4",
                via: "lan", status: "connected", milliseconds: 0.5)
        ]
        let recorder = Recorder()
        let live = try diagnose(pack) { request in
            request.pairedPaths = paths
            request.primitiveHooks = [recorder]
        }.report
        #expect(live.findings.first?.summary == "ipv4 192.0.2.7 connected")
        #expect(recorder.calls.map(\.name) == ["pairing.paths"])
        var recording = Recording()
        recording.calls = recorder.calls
        let reread = try Recording.parse(recording.encoded(), source: "test")
        let replayer = Replayer(reread)
        #expect(try run(pack, hooks: [replayer]).findings.first?.summary == "ipv4 192.0.2.7 connected")
        #expect(replayer.unmatched.isEmpty)
        // A recording without the call: not paired, and no error.
        let single = Replayer(Recording())
        #expect(try run(pack, hooks: [single]).findings.first?.status == .skip)
        #expect(single.unmatched.isEmpty)
    }

    @Test func secretsAreNeverWritten() throws {
        let pack = folder([
            "pack.lua": manifest(
                steps: ["hello"], params: "key = { type = 'string', secret = true, doc = 'k' }"),
            "hello.lua": """
            return check { title = "Hello", run = function(ctx)
              local r = fake.hello({ name = "x-" .. ctx.params.key, token = ctx.params.key, pairing_code = "1234" })
              return pass(r.greeting)
            end }
            """,
        ])
        let recorder = Recorder()
        var request = DiagnosisRequest(pack: pack.name)
        request.parameters.commandLine = [("key", "hunter2-pass")]
        request.primitiveHooks = [recorder]
        guard case .ready(let diagnosis) = try Diagnosis.prepare(
            request, catalog: PackCatalog(packs: [pack]), configure: installFake)
        else { throw POSIXError(.EINVAL) }
        // The check got the secret (it echoes it), and the report masks it where the check quoted it.
        #expect(diagnosis.run().findings.first?.summary == "hello x-(secret)")
        var recording = Recording()
        recording.calls = recorder.calls
        let text = recording.encoded()
        #expect(text.contains("fake.hello"))
        #expect(!text.contains("router-secret-42"), "a result's token field")
        #expect(!text.contains("1234"), "a pairing code")
        #expect(!text.contains("hunter2-pass"), "a secret parameter's value")
        #expect(text.contains("\"token\": \"(secret)\""))
    }

    @Test func aCallResumedBeforeItsFunctionReturnedIsRecordedToo() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["quick"]),
            "quick.lua": "return check { title = 'Q', run = function() return pass(fake.at_once()) end }",
        ])
        let recorder = Recorder()
        var request = DiagnosisRequest(pack: pack.name)
        request.primitiveHooks = [recorder]
        guard case .ready(let diagnosis) = try Diagnosis.prepare(
            request, catalog: PackCatalog(packs: [pack]), configure: installFake)
        else { throw POSIXError(.EINVAL) }
        #expect(diagnosis.run().findings.first?.summary == "at once")
        #expect(recorder.calls.map(\.name) == ["fake.at_once"])
        #expect(recorder.calls.first?.outcome == .results(["at once"]))
    }

    @Test func traceLogsEachCallThroughSwiftLog() throws {
        let collected = CollectedLog()
        let tracer = Tracer(logger: Logger(label: "portdoctor.trace") { _ in CollectingHandler(log: collected) })
        var recording = Recording()
        recording.calls = [
            .init(
                name: "socket.connect", arguments: ["127.0.0.1", 1, ["timeout": 2]],
                outcome: .results([["status": "connected", "port": 1]]))
        ]
        _ = try run(Self.loopbackPack, parameters: [("port", "1"), ("closed", "1")], hooks: [Replayer(recording), tracer])
        let lines = collected.lines
        #expect(
            lines.contains {
                $0.hasPrefix(#"open: socket.connect("127.0.0.1", 1, {timeout=2}) -> {port=1, status="connected"} ("#)
            }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("closed: socket.connect(") && $0.contains("-> error: replay:") })
        #expect(lines.contains { $0.hasPrefix("when: os.time() -> ") })
    }

    @Test func packTestCountsPassesAndFailures() throws {
        let dir = try writeFolder([
            "pack.lua": manifest("demo", steps: ["reach"], params: "port = { type = 'integer', default = 4242, doc = 'p' }"),
            "reach.lua": """
            return check { title = "Reach", run = function(ctx)
              local r = socket.connect("192.0.2.1", ctx.params.port)
              if r.status == "open" then return pass("open") end
              return fail { summary = r.status, cause = "no-listener" }
            end }
            """,
            "tests/refused.json": """
            { "description": "a refused connect names no-listener",
              "calls": [ { "call": "socket.connect", "arguments": ["192.0.2.1", 4242], "results": [ { "status": "refused" } ] } ],
              "expect": { "cause": "no-listener", "checks": { "reach": { "status": "fail", "cause": "no-listener" } } } }
            """,
            "tests/open.json": """
            { "replay": "recordings/open.json", "expect": { "cause": null, "checks": { "reach": "pass" } } }
            """,
            "tests/recordings/open.json": """
            { "format": "portdoctor-recording/1", "parameters": { "port": "4242" },
              "calls": [ { "call": "socket.connect", "arguments": ["192.0.2.1", 4242], "results": [ { "status": "open" } ] } ] }
            """,
            "tests/wrong.json": """
            { "calls": [ { "call": "socket.connect", "arguments": ["192.0.2.1", 4242], "results": [ { "status": "open" } ] } ],
              "expect": { "checks": { "reach": { "status": "fail", "cause": "no-listener" } } } }
            """,
            "tests/unanswered.json": """
            { "parameters": { "port": "80" }, "expect": { "checks": { "reach": "fail" } } }
            """,
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let cases = try PackTests.cases(inPack: dir.path)
        #expect(cases.map(\.name) == ["open", "refused", "unanswered", "wrong"])
        let results = cases.map { PackTests.run($0, pack: dir.path, catalog: PackCatalog(packs: [])) }
        #expect(results.filter(\.passed).map(\.name) == ["open", "refused"])
        let wrong = try #require(results.first { $0.name == "wrong" })
        #expect(wrong.failures == ["check 'reach': expected fail, got pass: open"])
        let unanswered = try #require(results.first { $0.name == "unanswered" })
        #expect(unanswered.failures.first?.contains("no recorded answer for socket.connect(\"192.0.2.1\",80)") == true)
    }
}
