import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The command line is a contract: these run the built `portdoctor` as a person or a script would.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: URL { ReleaseBinary.url }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// Runs the release binary (or, for tests that change the user, `executable` with the binary
    /// among `arguments`) with a fresh HOME.
    func portdoctor(
        _ arguments: [String], environment: [String: String] = [:], input: String? = nil, executable: String? = nil
    ) throws -> Run {
        let process = Process()
        process.executableURL = executable.map { URL(fileURLWithPath: $0) } ?? Self.binary
        process.arguments = executable == nil ? arguments : Array(arguments.dropFirst())
        var env = ProcessInfo.processInfo.environment
        env["HOME"] = NSTemporaryDirectory() + "portdoctor-home-\(UUID().uuidString)"  // no user config or packs
        env["XDG_CONFIG_HOME"] = nil
        env["PORTDOCTOR_PATH"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe(), err = Pipe(), inp = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = inp
        try process.run()
        if let input { inp.fileHandleForWriting.write(Data(input.utf8)) }
        try inp.fileHandleForWriting.close()
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Run(
            status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
            stderr: String(decoding: stderr, as: UTF8.self))
    }

    func pack(_ files: [String: String]) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-cli-\(UUID().uuidString)/demo")
        for (path, text) in files {
            let url = dir.appendingPathComponent(path)
            try FileManager.default.createDirectory(
                at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    static let manifest = """
        return pack { id = "demo", version = "1.0.0", title = "Demo", steps = { "a" },
                      params = { port = { type = "port", default = 4242, doc = "the port to check" } } }
        """
    static func check(_ body: String) -> String { "return check { title = 'A', run = function(ctx) \(body) end }" }

    @Test func theReleaseBinaryIsBuiltAndCurrent() {
        #expect(ReleaseBinary.problem == nil, "\(ReleaseBinary.problem ?? "")")
    }

    @Test func exitCodeZeroOneTwo() throws {
        let ok = try pack(["pack.lua": Self.manifest, "a.lua": Self.check("return pass('ok')")])
        let bad = try pack([
            "pack.lua": Self.manifest, "a.lua": Self.check("return fail { summary = 'closed', cause = 'no-listener' }"),
        ])
        let broken = try pack(["pack.lua": Self.manifest, "a.lua": Self.check("return pass(")])
        defer { for d in [ok, bad, broken] { try? FileManager.default.removeItem(at: d.deletingLastPathComponent()) } }
        #expect(try portdoctor(["run", ok.path]).status == 0)
        let failing = try portdoctor(["run", bad.path])
        #expect(failing.status == 1)
        #expect(failing.stdout.contains("Most likely cause: nothing is listening on the port."))
        let error = try portdoctor(["run", broken.path])
        #expect(error.status == 2)
        #expect(error.stdout.contains("demo/a.lua:1:"))
    }

    @Test func printGoesToStandardErrorAndWithDebugIntoTheReport() throws {
        let dir = try pack([
            "pack.lua": "print('loading')\n" + Self.manifest,
            "a.lua": Self.check("print('hello') print('two\\nlines') return pass('ok')"),
        ])
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let plain = try portdoctor(["run", dir.path])
        #expect(plain.status == 0, "\(plain.stderr)")
        #expect(plain.stderr.contains("[a] hello\n"), "\(plain.stderr)")
        #expect(plain.stderr.contains("[a] two\n[a] lines\n") && plain.stderr.contains("[demo/pack.lua] loading\n"))
        #expect(!plain.stdout.contains("hello"))

        for (flags, expected) in [([], nil), (["--debug"], ["hello", "two", "lines"])] as [([String], [String]?)] {
            let run = try portdoctor(["run", dir.path, "--format", "json"] + flags)
            #expect(run.status == 0 && run.stderr.contains("[a] hello\n"), "\(run.stderr)")
            let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let check = try #require((root["checks"] as? [[String: Any]])?.first)
            #expect(check.keys.contains("output"))
            #expect(check["output"] as? [String] == expected, "\(flags): \(check["output"] ?? "missing")")
        }
    }

    @Test func usageErrorsExitTwoWithAMessage() throws {
        let unknownPack = try portdoctor(["run", "crashplna"])
        #expect(unknownPack.status == 2)
        #expect(unknownPack.stderr.contains("no pack named 'crashplna' (did you mean 'crashplan'?)"))
        let badPort = try portdoctor(["run", "crashplan", "--param", "port=70000"])
        #expect(badPort.status == 2)
        #expect(badPort.stderr.contains("'70000' is not a TCP port (a number from 1 to 65535)"))
        let badFlag = try portdoctor(["run", "--frobnicate"])
        #expect(badFlag.status == 2)
        #expect(try portdoctor(["run", "--format", "yaml"]).status == 2)
        #expect(try portdoctor(["run", "--yes"]).status == 2)
    }

    /// The worked example: a real pack that needs no network (crashplan's steps talk to routers,
    /// so they run only in the lab's namespaces).
    static let example = repository.appendingPathComponent("Docs/examples/listen-port").path

    @Test func jsonGoesToStdoutAndParses() throws {
        let run = try portdoctor(["run", Self.example, "--format", "json", "--param", "port=4243"])
        #expect(run.status == 1)
        let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        #expect(root["pack"] as? String == "listen-port")
        #expect((root["parameters"] as? [String: String])?["port"] == "4243")
    }

    @Test func everyFormatRuns() throws {
        for format in ["text", "json", "junit", "markdown"] {
            let run = try portdoctor(["run", Self.example, "--format", format])
            #expect(run.status == 0, "\(format): \(run.stderr)")
            #expect(!run.stdout.isEmpty)
        }
    }

    @Test func noColourWhenNotATerminal() throws {
        let run = try portdoctor(["run", Self.example])
        #expect(!run.stdout.contains("\u{1B}["))
    }

    @Test func listSaysWherePacksCameFromAndTheSearchPathWins() throws {
        let mine = try pack([
            "pack.lua": Self.manifest.replacingOccurrences(of: "\"demo\"", with: "\"crashplan\"")
                .replacingOccurrences(of: "1.0.0", with: "9.9.9"),
            "a.lua": Self.check("return pass('mine')"),
        ])
        defer { try? FileManager.default.removeItem(at: mine.deletingLastPathComponent()) }
        let before = try portdoctor(["list"])
        #expect(before.stdout.contains("crashplan") && before.stdout.contains("[bundled]"))
        // The folder is named demo/ but its manifest says crashplan: only folder names count on the search path.
        let renamed = mine.deletingLastPathComponent().appendingPathComponent("crashplan")
        try FileManager.default.moveItem(at: mine, to: renamed)
        let after = try portdoctor(["list"], environment: ["PORTDOCTOR_PATH": renamed.deletingLastPathComponent().path])
        #expect(after.stdout.contains("9.9.9"))
        #expect(after.stdout.contains("[\(renamed.deletingLastPathComponent().path)]"))
        let crashplanLines = after.stdout.split(separator: "\n").filter { $0.contains("crashplan ") }
        #expect(crashplanLines.count == 1 && !crashplanLines[0].contains("[bundled]"), "\(after.stdout)")
        #expect(after.stdout.contains("tcp-service"))
        let run = try portdoctor(
            ["run", "crashplan"], environment: ["PORTDOCTOR_PATH": renamed.deletingLastPathComponent().path])
        #expect(run.stdout.contains("mine"))
    }

    /// Every bundled overlay loads (its checks run their top level, `require`s included) and lands
    /// on the step it is for.
    @Test(arguments: [
        (["--platform", "windows"], "listen-port", "overlay 'windows'"),
        (["--platform", "macos"], "engine-port", "overlay 'macos'"),
        (["--platform", "linux", "--vendor", "OpenWrt"], "port-forward", "overlay 'openwrt'"),
        (["--vendor", "NETGEAR, Inc."], "port-forward", "overlay 'netgear'"),
        (["--vendor", "TP-LINK Technologies"], "port-forward", "overlay 'tp-link'"),
    ])
    func bundledOverlaysApply(selection: [String], step: String, origin: String) throws {
        let show = try portdoctor(["show", "crashplan"] + selection)
        #expect(show.status == 0, "\(show.stdout)")
        let line = show.stdout.split(separator: "\n").first { $0.contains(" \(step) ") }
        #expect(line?.contains(origin) == true, "\(show.stdout)")
        #expect(!show.stdout.contains("BROKEN") && !show.stdout.contains("PROBLEM"), "\(show.stdout)")
    }

    @Test func showPrintsThePlanAndGraphs() throws {
        let show = try portdoctor(["show", "crashplan"])
        #expect(show.status == 0)
        #expect(show.stdout.contains("reauthenticate"))
        #expect(show.stdout.contains("Parameters (--param key=value):"))
        #expect(try portdoctor(["show", "crashplan", "--graph", "dot"]).stdout.hasPrefix("digraph \"crashplan\""))
        #expect(try portdoctor(["show", "crashplan", "--graph", "mermaid"]).stdout.hasPrefix("flowchart TD"))
        #expect(try portdoctor(["show", "crashplan", "--platform", "beos"]).status == 2)
    }

    @Test func fixAsksOnlyWhenSomeoneCanAnswer() throws {
        let dir = try pack([
            "pack.lua": Self.manifest,
            "a.lua": """
            return check {
              title = "A",
              repairs = { touch = { title = "Touch", changes = "does nothing", apply = function() end } },
              run = function(ctx) return fail { summary = "broken", repairs = { "touch" } } end,
            }
            """,
        ])
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        // Standard input is a pipe, not a terminal: nothing is asked and nothing applied without --yes.
        let run = try portdoctor(["run", dir.path, "--fix", "--format", "json"], input: "y\n")
        let root = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
        let repair = try #require(((root["checks"] as? [[String: Any]])?.first?["repairs"] as? [[String: Any]])?.first)
        #expect(repair["outcome"] as? String == "declined")
        let yes = try portdoctor(["run", dir.path, "--fix", "--yes", "--format", "json"])
        #expect(yes.stdout.contains("\"outcome\": \"not-fixed\""))
    }

    @Test func probesPrintJSONAndExitByOutcome() throws {
        let refused = try portdoctor(["probe", "connect", "127.0.0.1", "1", "--json"])
        #expect(refused.status == 1)
        let r = try #require(try JSONSerialization.jsonObject(with: Data(refused.stdout.utf8)) as? [String: Any])
        #expect(r["status"] as? String == "refused")
        #expect(try portdoctor(["probe", "connect", "127.0.0.1", "1"]).stdout.contains("127.0.0.1:1: refused"))
        #expect(try portdoctor(["probe", "connect", "127.0.0.1", "70000"]).status == 2)
        let quiet = try portdoctor([
            "probe", "udp", "127.0.0.1", "9", "--send", "\\x00\\x00", "--timeout", "0.2", "--json",
        ])
        #expect(quiet.status == 1)
        #expect(try Self.json(quiet)["status"] as? String == "timeout")
        #expect(try portdoctor(["probe", "udp", "example.net", "53"]).status == 2)
        let table = try portdoctor(["probe", "netstat", "--state", "listen", "--json"])
        #expect(table.status == 0)
        #expect(try JSONSerialization.jsonObject(with: Data(table.stdout.utf8)) is [Any])
        #expect(try portdoctor(["probe", "bind", "0"]).status == 2)
    }

    static func json(_ run: Run) throws -> [String: Any] {
        try #require(
            try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any],
            "not a JSON object: \(run.stdout) \(run.stderr)")
    }

    /// Every key of a JSON document, with its path; a report's `evidence` is the check's own data.
    static func keys(_ value: Any, path: String = "") -> [String] {
        if let object = value as? [String: Any] {
            return object.flatMap { k, v in [path + k] + (k == "evidence" ? [] : keys(v, path: path + k + ".")) }
        }
        if let array = value as? [Any] { return array.flatMap { keys($0, path: path) } }
        return []
    }

    static func isSnakeCase(_ path: String) -> Bool {
        let key = path.split(separator: ".").last.map(String.init) ?? path
        return !key.isEmpty && key.first!.isLetter
            && key.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "_" }
    }

    /// Values that differ from one run to the next (times, counters), left out when comparing two runs.
    static func stable(_ value: Any) -> Any {
        if let object = value as? [String: Any] {
            return object.filter { !["duration_ms", "started_at", "rtt_ms", "seconds"].contains($0.key) }
                .mapValues(stable)
        }
        if let array = value as? [Any] { return array.map(stable) }
        return value
    }

    /// `--format json` everywhere: one JSON document with snake_case keys, and `--json` (the older
    /// spelling) prints the same document.
    @Test func formatJSONOnEveryCommand() throws {
        // A port this test holds, so the socket table and the bind test have something fixed to say.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #expect(holder >= 0)
        defer { close(holder) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(holder, $0, length) == 0 && listen(holder, 1) == 0 && getsockname(holder, $0, &length) == 0
            }
        }
        try #require(bound)
        let held = String(UInt16(bigEndian: address.sin_port))
        // A port that was free a moment ago: nothing listens there.
        let closed = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var free = sockaddr_in()
        free.sin_family = sa_family_t(AF_INET)
        free.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        var freeLength = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &free) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(closed, $0, freeLength) == 0 && getsockname(closed, $0, &freeLength) == 0
            }
        }
        close(closed)
        let closedPort = String(UInt16(bigEndian: free.sin_port))

        let commands: [[String]] = [
            ["run", Self.example],
            ["list"],
            ["show", "crashplan"],
            ["probe", "connect", "127.0.0.1", closedPort, "--timeout", "2"],
            ["probe", "bind", held, "--address", "127.0.0.1"],
            ["probe", "netstat", "--port", held, "--proto", "tcp"],
            ["probe", "firewall", "--port", "4242"],
            ["probe", "service", "portdoctor-no-such-service"],
            ["probe", "service", "portdoctor-no-such-service", "--restart-command", "--manager", "systemd"],
            ["probe", "udp", "127.0.0.1", closedPort, "--timeout", "0.2"],
        ]
        for command in commands {
            let formatted = try portdoctor(command + ["--format", "json"])
            let document = try #require(
                try? JSONSerialization.jsonObject(with: Data(formatted.stdout.utf8)),
                "\(command): \(formatted.stdout) \(formatted.stderr)")
            let keys = Self.keys(document)
            #expect(!keys.isEmpty, "\(command)")
            #expect(keys.filter { !Self.isSnakeCase($0) } == [], "\(command)")
            let alias = try portdoctor(command + ["--json"])
            #expect(alias.status == formatted.status, "\(command)")
            let again = try JSONSerialization.jsonObject(with: Data(alias.stdout.utf8))
            #expect(
                NSDictionary(dictionary: ["v": Self.stable(again)])
                    == NSDictionary(dictionary: ["v": Self.stable(document)]),
                "\(command): --json and --format json differ")
            #expect(try portdoctor(command).stdout != formatted.stdout, "\(command): text by default")
        }
        let bindResult = try Self.json(
            try portdoctor(["probe", "bind", held, "--address", "127.0.0.1", "--format", "json"]))
        #expect(bindResult["status"] as? String == "in-use", "\(bindResult)")
        let entries = try #require(
            try JSONSerialization.jsonObject(
                with: Data(try portdoctor(["probe", "netstat", "--port", held, "--format", "json"]).stdout.utf8))
                as? [[String: Any]])
        #expect(entries.count == 1)
        // The same table a check gets from netstat.list: `local` is an address table, the owner is this test.
        #expect((entries.first?["local"] as? [String: Any])?["port"] as? Int == Int(held))
        #expect((entries.first?["owner"] as? [String: Any])?["pid"] as? Int == Int(getpid()))
        #expect(try portdoctor(["probe", "connect", "127.0.0.1", "1", "--format", "yaml"]).status == 2)
        #expect(try portdoctor(["show", "crashplan", "--graph", "dot", "--format", "json"]).status == 2)
    }

    /// `show` is how a person learns a pack's parameters: it needs no values for them.
    @Test func showListsRequiredParametersWithoutValues() throws {
        let show = try portdoctor(["show", "tcp-service"])
        #expect(show.status == 0, "\(show.stderr)")
        let port = show.stdout.split(separator: "\n").first { $0.hasPrefix("  port ") }
        #expect(port?.contains("[required]") == true, "\(show.stdout)")
        let json = try portdoctor(["show", "tcp-service", "--format", "json"])
        #expect(json.status == 0)
        let root = try Self.json(json)
        #expect(root["pack"] as? String == "tcp-service")
        let parameters = try #require(root["parameters"] as? [String: [String: Any]])
        #expect(parameters["port"]?["required"] as? Bool == true)
        #expect(parameters["port"]?["type"] as? String == "port")
        #expect(parameters["port"]?["default"] is NSNull)
        #expect(parameters["role"]?["default"] as? String == "destination")
        #expect(parameters["role"]?["choices"] as? [String] == ["destination", "source"])
        #expect((parameters["port"]?["doc"] as? String)?.isEmpty == false)
        let steps = try #require(root["steps"] as? [[String: Any]])
        #expect(
            steps.map { $0["id"] as? String } == [
                "service", "listener", "address", "firewall", "reach-peer", "pinhole", "port-forward", "listen-port",
            ])
        // A run still needs the value.
        let run = try portdoctor(["run", "tcp-service"])
        #expect(run.status == 2)
        #expect(run.stderr.contains("parameter 'port' is required"))
    }

    /// Docs/report-format.md, schema 2: the run's context at the top, load errors with kind, file and line.
    @Test func jsonReportCarriesItsContextAndLoadErrors() throws {
        let broken = try pack([
            "pack.lua": """
            return pack { id = "demo", version = "1.0.0", title = "Demo", steps = { "a" },
                          params = { port = { type = "port", default = 4242, doc = "the port" },
                                     token = { type = "string", secret = true, doc = "a shared token" } } }
            """,
            "a.lua": "return check { title = 'A',\n  run = function(ctx) return pass( end }\n",
        ])
        defer { try? FileManager.default.removeItem(at: broken.deletingLastPathComponent()) }
        let run = try portdoctor(
            ["run", broken.path, "--format", "json", "--param", "port=4243"],
            environment: ["PORTDOCTOR_PARAM_TOKEN": "hunter2"])
        #expect(run.status == 2)
        #expect(!run.stdout.contains("hunter2"))
        let root = try Self.json(run)
        let check = try #require((root["checks"] as? [[String: Any]])?.first)
        let error = try #require(check["error"] as? [String: Any], "\(check)")
        #expect(error["kind"] as? String == "syntax")
        #expect(error["file"] as? String == "demo/a.lua")
        #expect(error["line"] as? Int == 2)
        #expect((error["message"] as? String)?.contains("near 'end'") == true)

        #expect(root["schema"] as? Int == 4)
        let version = try portdoctor(["--version"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(!version.isEmpty && root["portdoctor_version"] as? String == version)
        let started = try #require(root["started_at"] as? String)
        #expect(started.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil, "\(started)")
        let system = try #require(root["system"] as? [String: Any])
        #expect(system["os"] as? String == "linux")
        #expect(root["parameters"] as? [String: String] == ["port": "4243", "token": "(secret)"])
        #expect(root["parameter_sources"] as? [String: String] == ["port": "command-line", "token": "environment"])

        // A broken definition (not a Lua error) is a `load` error, with the file.
        let wrong = try pack(["pack.lua": Self.manifest, "a.lua": "return check { title = 'A' }"])
        defer { try? FileManager.default.removeItem(at: wrong.deletingLastPathComponent()) }
        let load = try Self.json(try portdoctor(["run", wrong.path, "--format", "json"]))
        let loadError = try #require((load["checks"] as? [[String: Any]])?.first?["error"] as? [String: Any])
        #expect(loadError["kind"] as? String == "load")
        #expect(loadError["file"] as? String == "demo/a.lua")
    }

    @Test func selfTestPasses() throws {
        let run = try portdoctor(["self-test"])
        #expect(run.status == 0, "\(run.stdout)")
        #expect(run.stdout.contains("ok   limits: a runaway loop was stopped"))
    }

    @Test func helpTeaches() throws {
        let help = try portdoctor(["run", "--help"])
        #expect(help.status == 0)
        #expect(help.stdout.contains("Exit status: 0 nothing failed, 1 a problem was found, 2 the diagnosis could not"))
        #expect(help.stdout.contains("--peer <host[:port]>"))
    }
}
