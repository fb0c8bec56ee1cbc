import Foundation
import Testing

/// The command line is a contract: these run the built `portdoctor` as a person or a script would.
@Suite struct CommandLineTests {
    struct Run {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static var binary: URL {
        URL(fileURLWithPath: ProcessInfo.processInfo.arguments[0]).deletingLastPathComponent().appendingPathComponent(
            "portdoctor")
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    func portdoctor(_ arguments: [String], environment: [String: String] = [:], input: String? = nil) throws -> Run {
        let process = Process()
        process.executableURL = Self.binary
        process.arguments = arguments
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

    @Test func theBinaryWasBuilt() {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary.path), "expected \(Self.binary.path)")
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
        #expect(quiet.stdout.contains("\"status\" : \"timeout\""))
        #expect(try portdoctor(["probe", "udp", "example.net", "53"]).status == 2)
        let table = try portdoctor(["probe", "netstat", "--state", "listen", "--json"])
        #expect(table.status == 0)
        #expect(try JSONSerialization.jsonObject(with: Data(table.stdout.utf8)) is [Any])
        #expect(try portdoctor(["probe", "bind", "0"]).status == 2)
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
