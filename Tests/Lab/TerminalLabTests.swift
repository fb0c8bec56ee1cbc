import Foundation
import Testing

/// What a person at a terminal sees from the release binary: a status line while the router is
/// asked who made it (instead of a silent pause), the report wrapped to the terminal's width, and
/// the footer timing the whole run. Run under `script`, which gives the program a real pty.
@Suite(.enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)"))
struct TerminalLabTests {
    @Test func routerDiscoveryShowsAStatusLineOnATerminal() throws {
        let s = CrashPlanScenarioLabTests.Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.staticForward()
        let script = try #require(
            ["/usr/bin/script", "/bin/script"].first { FileManager.default.isExecutableFile(atPath: $0) },
            "script (util-linux) is missing")
        let command = "stty cols 60; " + s.arguments().map { "'\($0)'" }.joined(separator: " ")
        let r = try s.lab.exec(s.home.lan, [script, "-qec", command, "/dev/null"])
        #expect(r.output.contains("asking the router who made it"), "\(r.output)")
        #expect(r.status == 0, "\(r.output)")
        // The report after the status line: every line fits the 60 columns the terminal has, but for
        // a word too long to fit any line (the service's folder here).
        let report = r.output.components(separatedBy: "\u{1B}[K").last ?? ""
        let visible = report.replacing(/\u{1B}\[[0-9;]*m/, with: "").split(separator: "\r\n")
        #expect(visible.contains { $0.hasPrefix("No problem found.") }, "\(report)")
        let fits = { (line: Substring) in line.count <= 60 || line.split(separator: " ").contains { $0.count > 35 } }
        #expect(visible.allSatisfy(fits), "\(visible.joined(separator: "\n"))")
        #expect(visible.contains { $0.hasPrefix("                         ") }, "some lines wrapped: \(report)")
    }
}
