import Foundation
import TestSupport
import Testing

/// `portdoctor report FILE.json`: a saved report drawn again, by the release binary.
@Suite struct ReportCommandTests {
    /// The release binary (or, `executable`, the first argument with the others).
    func portdoctor(_ arguments: [String], environment: [String: String] = [:], executable: Bool = false) throws -> (
        status: Int32, stdout: String
    ) {
        let process = Process()
        process.executableURL = executable ? URL(fileURLWithPath: arguments[0]) : ReleaseBinary.url
        process.arguments = executable ? Array(arguments.dropFirst()) : arguments
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test func drawsASavedReportAgain() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved.json")
        try HTMLReportBrowserTests.report.write(to: saved, atomically: true, encoding: .utf8)

        // Text: the verdict, then the picture (ASCII: standard output is a pipe), 80 columns at most.
        let text = try portdoctor(["report", saved.path])
        #expect(text.status == 0)
        #expect(text.stdout.contains("Most likely cause: a firewall blocks incoming connections."))
        #expect(text.stdout.contains("^ firewall-blocks-inbound"))
        #expect(text.stdout.contains("<-X--"))
        let picture = text.stdout.split(separator: "\n").filter { $0.hasPrefix("  ") && !$0.hasPrefix("   ") }
        #expect(picture.allSatisfy { $0.count <= 80 && $0.unicodeScalars.allSatisfy(\.isASCII) }, "\(picture)")

        // The picture as JSON: the stop on the firewall, the forward marked as likely too.
        let path = try portdoctor(["report", saved.path, "--format", "path"])
        #expect(path.status == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(path.stdout.utf8)) as? [String: Any])
        let stop = try #require(json["stop"] as? [String: Any])
        #expect(stop["kind"] as? String == "firewall" && stop["cause"] as? String == "firewall-blocks-inbound")
        let stops = try #require(json["stops"] as? [[String: Any]])
        #expect(stops.map { $0["name"] as? String } == ["firewall", "router"])
        #expect(stops.last?["likely"] as? Bool == true)

        // --output FILE.html means HTML; JSON comes back as it was.
        let html = dir.appendingPathComponent("r.html")
        #expect(try portdoctor(["report", saved.path, "--output", html.path]).status == 0)
        #expect(try String(contentsOf: html, encoding: .utf8).hasPrefix("<!DOCTYPE html>"))
        let again = try portdoctor(["report", saved.path, "--format", "json"])
        let a = try JSONSerialization.jsonObject(with: Data(again.stdout.utf8)) as? NSDictionary
        let b = try JSONSerialization.jsonObject(with: Data(HTMLReportBrowserTests.report.utf8)) as? NSDictionary
        #expect(a == b)
    }

    /// The recording goes with the HTML report (support replays it): from `run --record` (a replayed
    /// run here, so nothing touches the network), and from `report --recording` when drawn again.
    @Test func theHTMLReportCarriesTheRecording() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let replay = ReleaseBinary.repository.appendingPathComponent("Checks/crashplan/tests/recordings/empty-namespace.json")
        let recorded = dir.appendingPathComponent("run.json")
        let html = dir.appendingPathComponent("r.html")
        let saved = dir.appendingPathComponent("saved.json")
        let run = try portdoctor([
            "run", "crashplan", "--replay", replay.path, "--record", recorded.path, "--output", html.path,
            "--output", "json:" + saved.path,
        ])
        #expect(run.status == 1)
        let page = try String(contentsOf: html, encoding: .utf8)
        let recording = try String(contentsOf: recorded, encoding: .utf8)
        #expect(page.contains("<h2>Recording</h2>"))
        #expect(page.contains("portdoctor-recording/1"))
        #expect(page.contains(recording.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;").prefix(200)))
        // The JSON report stays without it; `report --recording` attaches it when drawing HTML again.
        #expect(!(try String(contentsOf: saved, encoding: .utf8)).contains("portdoctor-recording/1"))
        let again = dir.appendingPathComponent("again.html")
        #expect(try portdoctor(["report", saved.path, "--recording", recorded.path, "--output", again.path]).status == 0)
        #expect(try String(contentsOf: again, encoding: .utf8).contains("portdoctor-recording/1"))
        #expect(try portdoctor(["report", saved.path, "--recording", recorded.path]).status == 2)
    }

    @Test func refusesWhatIsNotAReport() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let garbage = dir.appendingPathComponent("g.json")
        try "{\"checks\": [".write(to: garbage, atomically: true, encoding: .utf8)
        #expect(try portdoctor(["report", garbage.path]).status == 2)
        try "{\"pack\": \"x\"}".write(to: garbage, atomically: true, encoding: .utf8)
        #expect(try portdoctor(["report", garbage.path]).status == 2)
        #expect(try portdoctor(["report", dir.appendingPathComponent("missing.json").path]).status == 2)
    }

    /// On a terminal (a real pty from `script`): box-drawing and colour in a UTF-8 locale; plain
    /// ASCII with LANG=C, with LC_ALL=C over a UTF-8 LANG, and with NO_COLOR.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "script (util-linux) is missing"))
    func unicodeOnlyOnAUTF8Terminal() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pd-report-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let saved = dir.appendingPathComponent("saved.json")
        try HTMLReportBrowserTests.report.write(to: saved, atomically: true, encoding: .utf8)
        func onTerminal(_ environment: [String: String]) throws -> String {
            let command = "stty cols 100; '\(ReleaseBinary.path)' report '\(saved.path)'"
            var env = ["LANG": "", "LC_ALL": "", "LC_CTYPE": "", "NO_COLOR": "", "TERM": "xterm"]
            for (k, v) in environment { env[k] = v }
            return try portdoctor(["/usr/bin/script", "-qec", command, "/dev/null"], environment: env, executable: true)
                .stdout
        }
        let utf8 = try onTerminal(["LANG": "C.UTF-8"])
        #expect(utf8.contains("◀─✘──") && utf8.contains("▲ firewall-blocks-inbound") && utf8.contains("\u{1B}["), "\(utf8)")
        for env in [["LANG": "C"], ["LANG": "en_US.UTF-8", "LC_ALL": "C"], ["LANG": "C.UTF-8", "NO_COLOR": "1"]] {
            let plain = try onTerminal(env)
            #expect(plain.contains("<-X--") && plain.contains("^ firewall-blocks-inbound"), "\(env): \(plain)")
            #expect(!plain.contains("◀") && !plain.contains("▲"), "\(env): \(plain)")
        }
    }
}
