import Foundation
import TestSupport
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The promises a person or a script relies on: one error style and exit code 2 whenever no
/// diagnosis could be made, settings that are never silently ignored, packs under development
/// linked into the search path, and text that fits the terminal.
@Suite struct ContractTests {
    let cli = CommandLineTests()

    private func temporaryFolder() throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-contract-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return dir
    }

    private func expectCouldNotDiagnose(_ run: CommandLineTests.Run, saying expected: String) {
        #expect(run.status == 2, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.isEmpty, "\(run.stdout)")
        let lines = run.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("portdoctor: "), "\(run.stderr)")
        #expect(run.stderr.contains(expected), "\(run.stderr)")
    }

    @Test func everyCouldNotDiagnosePathExitsTwoInOneStyle() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let notAPack = dir.appendingPathComponent("photos")
        try FileManager.default.createDirectory(at: notAPack, withIntermediateDirectories: true)
        expectCouldNotDiagnose(try cli.portdoctor(["run", notAPack.path]), saying: "is not a pack: it has no pack.lua")
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", dir.path + "/missing"]), saying: "no pack folder at \(dir.path)/missing")
        let binary = try cli.pack(["pack.lua": CommandLineTests.manifest, "a.lua": CommandLineTests.check("return pass('ok')")])
        defer { try? FileManager.default.removeItem(at: binary.deletingLastPathComponent()) }
        try Data([0x72, 0x65, 0xFF, 0xFE, 0x00]).write(to: binary.appendingPathComponent("a.lua"))
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", binary.path]), saying: "cannot read \(binary.path)/a.lua: not UTF-8 text")
        expectCouldNotDiagnose(
            try cli.portdoctor(["show", notAPack.path]), saying: "is not a pack: it has no pack.lua")
    }

    /// Root reads every file, so the unreadable pack is tried as an ordinary user when there is one.
    @Test(.enabled(if: geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anUnreadablePackFileIsNamed() throws {
        let pack = try cli.pack(["pack.lua": CommandLineTests.manifest, "a.lua": CommandLineTests.check("return pass('ok')")])
        defer { try? FileManager.default.removeItem(at: pack.deletingLastPathComponent()) }
        for url in [pack.deletingLastPathComponent(), pack] {
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: url.path)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o644], ofItemAtPath: pack.appendingPathComponent("pack.lua").path)
        try FileManager.default.setAttributes([.posixPermissions: 0o000], ofItemAtPath: pack.appendingPathComponent("a.lua").path)
        let run = try cli.portdoctor(
            ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", ReleaseBinary.path, "run", pack.path],
            executable: "/usr/bin/setpriv")
        expectCouldNotDiagnose(run, saying: "cannot read \(pack.path)/a.lua: permission denied")
    }

    @Test func theConfigFileIsNeverSilentlyIgnored() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let config = dir.appendingPathComponent("config")
        let example = CommandLineTests.example
        try "# mine\nprot = 4243\n".write(to: config, atomically: true, encoding: .utf8)
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", example, "--config", config.path]),
            saying: "\(config.path):2: pack 'listen-port' has no parameter 'prot' (did you mean 'port'?)")
        try "port 4243\n".write(to: config, atomically: true, encoding: .utf8)
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", example, "--config", config.path]),
            saying: "\(config.path):1: expected 'key = value'")
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", example, "--config", dir.path + "/nope"]), saying: "no config file at")
        // The default file is found through XDG_CONFIG_HOME, and its values are trimmed and unquoted.
        try FileManager.default.createDirectory(
            at: dir.appendingPathComponent("portdoctor"), withIntermediateDirectories: true)
        try "listen-port.port =  \"4300\"  \ncrashplan.reflector = 198.51.100.7\n".write(
            to: dir.appendingPathComponent("portdoctor/config"), atomically: true, encoding: .utf8)
        let run = try cli.portdoctor(["run", example, "--format", "json"], environment: ["XDG_CONFIG_HOME": dir.path])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout.contains("port 4300 is in the recommended range"), "\(run.stdout)")
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", example], environment: ["PORTDOCTOR_PARAM_PROT": "4243"]),
            saying: "environment variable PORTDOCTOR_PARAM_PROT: no pack takes such a parameter")
        // What other packs take is for them: `peer` (crashplan's) does not stop a pack without one.
        try "peer = backup.example.net\nport = 4300   # my port\ncrashplan.port = 4243\n".write(
            to: config, atomically: true, encoding: .utf8)
        let shared = try cli.portdoctor(["run", example, "--config", config.path])
        #expect(shared.status == 0, "\(shared.stderr)")
        #expect(shared.stdout.contains("port=4300"), "\(shared.stdout)")
        try "crashpaln.port = 4243\n".write(to: config, atomically: true, encoding: .utf8)
        expectCouldNotDiagnose(
            try cli.portdoctor(["run", example, "--config", config.path]),
            saying: "\(config.path):1: there is no pack named 'crashpaln' (did you mean 'crashplan'?)")
    }

    @Test(arguments: ["::::", "[::::]:4242", "300.1.2.3", "[::1"])
    func aMalformedPeerIsAUsageError(_ peer: String) throws {
        let run = try cli.portdoctor(["run", "crashplan", "--peer", peer, "--platform", "linux"])
        #expect(run.status == 2)
        #expect(run.stdout.isEmpty)
        #expect(run.stderr.hasPrefix("portdoctor: --peer \(peer): "), "\(run.stderr)")
    }

    @Test func aBrokenManifestIsSaidAsSuch() throws {
        let pack = try cli.pack(["pack.lua": "return pack {", "a.lua": CommandLineTests.check("return pass('ok')")])
        defer { try? FileManager.default.removeItem(at: pack.deletingLastPathComponent()) }
        let run = try cli.portdoctor(["run", pack.path])
        #expect(run.status == 2)
        let verdict = run.stdout.split(separator: "\n").dropFirst(2).first ?? ""
        #expect(verdict.hasPrefix("The pack could not be loaded. demo/pack.lua:1:"), "\(run.stdout)")
    }

    @Test func debugKeepsWhatChecksPrintInTheTextReportToo() throws {
        let pack = try cli.pack([
            "pack.lua": CommandLineTests.manifest,
            "a.lua": CommandLineTests.check("print('trying', ctx.params.port) return pass('ok')"),
        ])
        defer { try? FileManager.default.removeItem(at: pack.deletingLastPathComponent()) }
        let plain = try cli.portdoctor(["run", pack.path])
        #expect(plain.stderr.contains("[a] trying\t4242"))
        #expect(!plain.stdout.contains("printed:"))
        let debug = try cli.portdoctor(["run", pack.path, "--debug"])
        #expect(debug.stdout.contains("printed: trying\t4242"), "\(debug.stdout)")
    }

    @Test func aRestartCommandForAServiceThatIsNotInstalledSaysSo() throws {
        let run = try cli.portdoctor(
            ["probe", "service", "portdoctor-no-such-service", "--restart-command", "--manager", "runit"])
        #expect(run.status == 2)
        #expect(run.stdout.contains("portdoctor-no-such-service is not installed (runit)"), "\(run.stdout)")
    }

    @Test func refusalsShareOneStyleAndNameTheSubcommand() throws {
        for args in [["probe", "reflect", "127.0.0.1:70000"], ["probe", "stun", "192.0.2.1:99999"], ["run", "--frob"]] {
            let run = try cli.portdoctor(args)
            #expect(run.status == 2)
            #expect(run.stderr.hasPrefix("portdoctor: "), "\(run.stderr)")
            #expect(run.stderr.contains("Usage: portdoctor \(args[0] == "probe" ? "probe \(args[1])" : args[0])"), "\(run.stderr)")
        }
    }

    @Test func ipv6EndpointsPrintInBrackets() throws {
        let run = try cli.portdoctor(["probe", "connect", "::1", "1"])
        #expect(run.stdout.hasPrefix("[::1]:1: "), "\(run.stdout)")
    }

    @Test func packsOnTheSearchPathMayBeSymlinks() throws {
        let dir = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let work = dir.appendingPathComponent("work/mypack")
        let shared = dir.appendingPathComponent("work/shared-lib")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: shared, withIntermediateDirectories: true)
        try CommandLineTests.manifest.replacingOccurrences(of: "\"demo\"", with: "\"mypack\"").write(
            to: work.appendingPathComponent("pack.lua"), atomically: true, encoding: .utf8)
        try "return check { title = 'A', run = function(ctx) return pass(require('words').hello) end }".write(
            to: work.appendingPathComponent("a.lua"), atomically: true, encoding: .utf8)
        try "return { hello = 'linked library' }".write(
            to: shared.appendingPathComponent("words.lua"), atomically: true, encoding: .utf8)
        // The pack's lib/ is itself a link, and the lib links back up (a cycle must not hang the reader).
        try FileManager.default.createSymbolicLink(at: work.appendingPathComponent("lib"), withDestinationURL: shared)
        try FileManager.default.createSymbolicLink(at: shared.appendingPathComponent("up"), withDestinationURL: work)
        let path = dir.appendingPathComponent("packs")
        try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: path.appendingPathComponent("mypack"), withDestinationURL: work)

        let list = try cli.portdoctor(["list"], environment: ["PORTDOCTOR_PATH": path.path])
        #expect(list.stdout.contains("mypack"), "\(list.stdout)\(list.stderr)")
        let run = try cli.portdoctor(["run", "mypack"], environment: ["PORTDOCTOR_PATH": path.path])
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("linked library"))
    }

    @Test func textWrapsToTheTerminalWidthUnderItsOwnText() throws {
        let args = ["run", CommandLineTests.example, "--param", "port=80"]
        let wide = try cli.portdoctor(args)
        let advice = try #require(wide.stdout.split(separator: "\n").first { $0.contains("1. Choose a port") })
        #expect(advice.count > 40, "a line long enough to wrap: \(advice)")
        let narrow = try cli.portdoctor(args, environment: ["COLUMNS": "50"])
        #expect(narrow.status == 1)
        let lines = narrow.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.allSatisfy { $0.count <= 50 }, "\(narrow.stdout)")
        let step = try #require(lines.firstIndex { $0.contains("1. Choose") })
        let textColumn = lines[step].distance(from: lines[step].startIndex, to: lines[step].firstIndex(of: "C")!)
        #expect(lines[step + 1].prefix(textColumn).allSatisfy { $0 == " " } && lines[step + 1].count > textColumn)
        // The words are all still there, in order (the footer's time aside).
        let words = { (s: String) in s.split(whereSeparator: { $0 == " " || $0 == "\n" }).dropLast(2) }
        #expect(words(narrow.stdout) == words(wide.stdout))
    }
}
