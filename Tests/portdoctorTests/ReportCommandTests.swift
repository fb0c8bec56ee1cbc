import Foundation
import TestSupport
import Testing

/// `portdoctor report FILE.json`: a saved report drawn again, by the release binary.
@Suite struct ReportCommandTests {
    func portdoctor(_ arguments: [String], environment: [String: String] = [:]) throws -> (
        status: Int32, stdout: String
    ) {
        let process = Process()
        process.executableURL = ReleaseBinary.url
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["COLUMNS"] = nil
        for (k, v) in environment { env[k] = v }
        process.environment = env
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
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
}
