import Testing

@testable import Doctor

/// The pieces of the monitoring formats that the CLI tests cannot reach with every odd input.
@Suite struct MonitoringReportTests {
    static func report(_ findings: [(String, CheckStatus, String?)]) -> Report {
        Report(
            packID: "demo", packVersion: "1", packTitle: "Demo", platform: "linux", vendor: nil, parameters: [:],
            findings: findings.map {
                Finding(id: $0.0, title: $0.0, status: $0.1, summary: "s", cause: $0.2, origin: "demo")
            },
            durationMilliseconds: 1)
    }

    @Test func changesBetweenRuns() {
        let a = Self.report([("x", .pass, nil), ("y", .fail, "no-listener"), ("gone", .pass, nil)])
        #expect(ReportChange.between(a, a).isEmpty)
        let b = Self.report([("x", .fail, "cgnat"), ("y", .fail, "no-listener")])
        let changes = ReportChange.between(a, b)
        #expect(changes.map(\.kind) == [.status, .status, .causeAppeared])
        #expect(changes[0].check == "x" && changes[0].from == .pass && changes[0].to == .fail)
        #expect(changes[1].check == "gone" && changes[1].to == nil)
        #expect(changes[2].cause == "cgnat")
        // The same cause moving from one check to another is no change of cause.
        let c = Self.report([("x", .fail, "no-listener"), ("y", .pass, nil)])
        #expect(ReportChange.between(a, c).filter { $0.kind != .status }.isEmpty)
        let cleared = ReportChange.between(
            a, Self.report([("x", .pass, nil), ("y", .pass, nil), ("gone", .pass, nil)]))
        #expect(cleared.map(\.kind) == [.status, .causeCleared])
        #expect(
            cleared[1].line(at: 0, pack: "demo")
                == "1970-01-01T00:00:00Z demo cause cleared: no-listener, which y had found")
    }

    @Test func nagiosLabelsAreQuotedOnlyWhenNeeded() {
        #expect(NagiosReporter.label("reach.rtt") == "reach.rtt")
        #expect(NagiosReporter.label("reach-peer.rtt") == "'reach-peer.rtt'")
        #expect(NagiosReporter.label("it's a=b") == "'it''s a_b'")
        #expect(NagiosReporter.text("a|b\nc") == "a/b c")
    }

    @Test func numbersHaveNoExponent() {
        #expect(plainNumber(0.0000001) == "0")
        #expect(plainNumber(0.000012) == "0.000012")
        #expect(plainNumber(1_234_567.5) == "1234567.5")
        #expect(plainNumber(-2.25) == "-2.25")
        #expect(plainNumber(3) == "3")
    }

    @Test func prometheusEscapesLabelValuesAndHelp() {
        #expect(PrometheusReporter.escapeLabel("a\"b\\c\nd") == #"a\"b\\c\nd"#)
        #expect(PrometheusReporter.escapeHelp("a\"b\\c\nd") == #"a"b\\c\nd"#)
    }

    @Test func yamlishQuotesEverythingOdd() {
        #expect(YAMLish.quoted("tab\there \"q\" \u{1}") == #""tab\there \"q\" \x01""#)
        #expect(YAMLish.key("plain_key1") == "plain_key1")
        #expect(YAMLish.key("with space") == #""with space""#)
        var out = ""
        YAMLish.entry(
            "list", .array([.object(["a": .int(1), "b": .array([])]), .array([.bool(true)])]), indent: "  ", into: &out)
        #expect(out == "  list:\n    - a: 1\n      b: []\n    -\n      - true\n")
    }
}
