import Foundation
import TestSupport
import Testing

/// `portdoctor report` on a paired run's saved report (Tests/PairedReports, recorded in the paired
/// lab), and the formats it refuses; by the release binary.
@Suite struct PairedReportCommandTests {
    static let reports = ReleaseBinary.repository.appendingPathComponent("Tests/PairedReports")

    /// The release binary with its standard output and error apart.
    static func portdoctor(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = ReleaseBinary.url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = nil
        process.environment = env
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// A format `report` does not draw (Nagios is `run`'s, as a plugin) is a usage error: exit 2,
    /// naming the formats it has, not a plugin's UNKNOWN (3) on standard output.
    @Test func anUnknownFormatIsAUsageError() throws {
        let saved = Self.reports.appendingPathComponent("healthy.json").path
        for arguments in [["--format", "nagios"], ["--format=nagios"], ["--format", "prometheus"]] {
            let r = try Self.portdoctor(["report", saved] + arguments)
            #expect(r.status == 2, "\(arguments): exit \(r.status): \(r.stdout) \(r.stderr)")
            #expect(!r.stdout.contains("UNKNOWN"), "\(arguments): \(r.stdout)")
            for format in ["text", "html", "json", "markdown", "junit", "tap", "path"] {
                #expect(
                    r.stderr.contains("  - \(format)\n"),
                    "\(arguments): the message does not name \(format): \(r.stderr)")
            }
        }
        // `run` keeps the plugin's UNKNOWN for its own usage errors.
        let run = try Self.portdoctor(["run", "crashplan", "--format", "nagios", "--frobnicate"])
        #expect(run.status == 3 && run.stdout.hasPrefix("PORTDOCTOR UNKNOWN"), "\(run)")
    }

    /// The paired report drawn again: which computer to fix, both computers on the path, the stop
    /// on the source's firewall; as JSON, the stop's computer.
    @Test func aPairedReportIsDrawnWithBothComputers() throws {
        let saved = Self.reports.appendingPathComponent("source-outbound-drop.json").path
        let text = try Self.portdoctor(["report", saved])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("Fix the source"), "\(text.stdout)")
        #expect(text.stdout.contains("source -> destination, TCP 4242: timeout"), "\(text.stdout)")
        #expect(text.stdout.contains("source firewall"), "\(text.stdout)")
        #expect(text.stdout.contains("^ firewall-blocks-outbound"), "\(text.stdout)")
        let path = try Self.portdoctor(["report", saved, "--format", "path"])
        let json = try #require(try JSONSerialization.jsonObject(with: Data(path.stdout.utf8)) as? [String: Any])
        let stop = try #require(json["stop"] as? [String: Any])
        #expect(stop["side"] as? String == "source" && stop["kind"] as? String == "firewall", "\(stop)")
        #expect((stop["computer"] as? String)?.contains("10.231.70.1") == true, "\(stop)")
        let junit = try Self.portdoctor(["report", saved, "--format", "junit"])
        #expect(junit.stdout.contains(#"<property name="side" value="destination"/>"#))
    }

    /// The paired HTML page in a real browser: it draws, with the stop's red, and fetches nothing.
    @Test(.enabled(if: HTMLBrowser.available || ProcessInfo.processInfo.environment["CI"] != nil))
    func thePairedPageOpensInARealBrowser() throws {
        let dir = try HTMLBrowser.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let html = dir.appendingPathComponent("paired.html")
        let saved = Self.reports.appendingPathComponent("destination-firewall-drop.json").path
        let made = try HTMLBrowser.run(ReleaseBinary.path, ["report", saved, "--output", html.path])
        #expect(made.status == 0, "\(made.output)")
        let page = try String(contentsOf: html, encoding: .utf8)
        #expect(page.contains("destination firewall") && page.contains("source computer"))
        #expect(page.contains("source → destination, TCP 4242: timeout"))
        let xml = try HTMLBrowser.run("/usr/bin/xmllint", ["--noout", html.path])
        #expect(xml.status == 0, "xmllint: \(xml.output)")
        let shot = try HTMLBrowser.open(html, in: dir, name: "paired")
        #expect(shot.png.width == HTMLBrowser.window.width && shot.png.height == HTMLBrowser.window.height)
        #expect(shot.png.stopRed > 50, "the SVG's stop is not on the screenshot: \(shot.png)")
        #expect(shot.pageRequests.isEmpty, "the page fetched: \(shot.pageRequests)")
    }
}
