import Doctor
import Foundation
import Testing

/// Docs/writing-checks.md walks through Docs/examples/listen-port: it must keep working as written.
@Suite struct WorkedExampleTests {
    static let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Docs/examples/listen-port")

    func run(port: String?) throws -> Report {
        var request = DiagnosisRequest(pack: Self.example.path)
        if let port { request.parameters.commandLine = [("port", port)] }
        guard case .ready(let diagnosis) = try Diagnosis.prepare(request, catalog: PackCatalog(packs: [])) else {
            Issue.record("the example pack did not load")
            throw DiagnosisError("unloadable")
        }
        return diagnosis.run()
    }

    @Test func theDefaultPortPasses() throws {
        let report = try run(port: nil)
        #expect(report.findings.map(\.status) == [.pass, .pass])
        #expect(
            report.findings.map(\.summary) == [
                "port 4242 is in the recommended range",
                "port 4242 is free as far as the app is concerned",
            ])
        #expect(report.exitCode == 0)
    }

    @Test func theEnginePortIsInUse() throws {
        let report = try run(port: "4243")
        #expect(report.findings[1].status == .fail)
        #expect(report.findings[1].cause == "port-in-use")
        #expect(report.findings[1].summary == "port 4243 is already used for the app's own connection to its service")
        #expect(report.exitCode == 1)
    }

    @Test func aSystemPortFailsAndTheNextCheckIsSkipped() throws {
        let report = try run(port: "80")
        #expect(report.findings.map(\.status) == [.fail, .skip])
        #expect(report.findings[1].summary == "skipped because 'range' failed")
    }

    @Test func aHighPortWarnsButStillChecksTheRest() throws {
        let report = try run(port: "40000")
        #expect(report.findings.map(\.status) == [.warn, .pass])
        #expect(report.exitCode == 0)
    }
}
