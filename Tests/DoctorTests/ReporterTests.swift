import Foundation
import Testing

@testable import Doctor

#if canImport(FoundationXML)
    import FoundationXML
#endif

@Suite struct ReporterTests {
    static func sampleReport() throws -> Report {
        try diagnose(
            folder([
                "pack.lua": manifest(
                    steps: ["listener", "firewall", "forward", "broken"],
                    params: "port = { type = 'port', default = 4242, doc = 'p' }"),
                "listener.lua": passing(
                    "Listener",
                    body:
                        "return pass { summary = 'listening on 0.0.0.0:4242', evidence = { address = '0.0.0.0', port = 4242 } }"
                ),
                "firewall.lua": passing(
                    "Firewall",
                    body: """
                        return fail {
                          summary = 'incoming TCP 4242 is dropped <by> "nftables" & co',
                          cause = 'firewall-blocks-inbound',
                          advice = { 'sudo nft add rule inet filter input tcp dport 4242 accept', 'run portdoctor again' },
                          evidence = { rule = 'inet filter input handle 7: drop', counters = { 1, 2, 3 } },
                        }
                        """),
                "forward.lua": passing("Forward", needs: ["firewall"]),
                "broken.lua": passing("Broken", body: "error('boom')"),
            ])
        ).report
    }

    /// The documented shape (Docs/report-format.md), checked key by key and type by type.
    @Test func jsonFollowsTheContract() throws {
        let report = try Self.sampleReport()
        let data = Data(JSONReporter.render(report).utf8)
        let root = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let top: [String: (Any) -> Bool] = [
            "schema": { $0 as? Int == 4 }, "portdoctor_version": { $0 as? String == portdoctorVersion },
            "started_at": { ($0 as? String)?.wholeMatch(of: /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/) != nil },
            "system": { ($0 as? [String: Any])?["os"] as? String == Platform.current.rawValue },
            "pack": { $0 is String }, "version": { $0 is String }, "title": { $0 is String },
            "platform": { $0 is String }, "vendor": { $0 is String || $0 is NSNull },
            "parameters": { $0 as? [String: String] == ["port": "4242"] },
            "parameter_sources": { $0 as? [String: String] == ["port": "default"] },
            "checks": { $0 is [Any] }, "summary": { $0 is [String: Int] }, "exit_code": { $0 is Int },
            "primary": { $0 is [String: Any] || $0 is NSNull }, "duration_ms": { $0 is Int },
            "also": { $0 is [[String: Any]] }, "pairing": { $0 is [String: Any] || $0 is NSNull },
        ]
        #expect(Set(root.keys) == Set(top.keys), "\(root.keys.sorted())")
        for (key, valid) in top { #expect(valid(root[key] as Any), "\(key): \(root[key] ?? "missing")") }
        #expect(root["pack"] as? String == "demo")
        #expect(root["version"] as? String == "1.2.3")
        #expect(root["exit_code"] as? Int == 2)
        let summary = try #require(root["summary"] as? [String: Int])
        #expect(summary == ["pass": 1, "warn": 0, "fail": 1, "error": 1, "skip": 1])
        let checks = try #require(root["checks"] as? [[String: Any]])
        #expect(checks.map { $0["id"] as? String } == ["listener", "firewall", "forward", "broken"])
        let required: [String: (Any) -> Bool] = [
            "id": { $0 is String }, "title": { $0 is String }, "status": { $0 is String }, "summary": { $0 is String },
            "cause": { $0 is String || $0 is NSNull }, "advice": { $0 is [String] }, "evidence": { _ in true },
            "repairs": { $0 is [Any] }, "duration_ms": { $0 is Int }, "next": { $0 is String || $0 is NSNull },
            "origin": { $0 is String }, "error": { $0 is [String: Any] || $0 is NSNull },
            "output": { $0 is [String] || $0 is NSNull },
            "computer": { $0 is String || $0 is NSNull }, "side": { $0 is String || $0 is NSNull },
        ]
        for check in checks {
            #expect(Set(check.keys) == Set(required.keys), "\(check.keys.sorted())")
            for (key, valid) in required { #expect(valid(check[key] as Any), "\(key) in \(check["id"] ?? "?")") }
            #expect(["pass", "warn", "fail", "error", "skip"].contains(check["status"] as? String ?? ""))
        }
        let firewall = checks[1]
        #expect(firewall["cause"] as? String == "firewall-blocks-inbound")
        #expect((firewall["evidence"] as? [String: Any])?["counters"] as? [Int] == [1, 2, 3])
        let error = try #require(checks[3]["error"] as? [String: Any])
        #expect(error["kind"] as? String == "runtime")
        #expect(error["line"] as? Int == 5)
        #expect((root["primary"] as? [String: Any])?["cause"] as? String == "firewall-blocks-inbound")
    }

    @Test func startedAtIsISO8601InUTC() {
        #expect(Timestamp.iso8601(0) == "1970-01-01T00:00:00Z")
        #expect(Timestamp.iso8601(951_782_400) == "2000-02-29T00:00:00Z")
        #expect(Timestamp.iso8601(1_795_664_529.9) == "2026-11-26T03:42:09Z")
        #expect(Timestamp.iso8601(-1) == "1969-12-31T23:59:59Z")
    }

    /// A check file that does not compile, and one that defines something wrong: both become error
    /// findings whose `error` says what kind of problem, in which file, on which line.
    @Test func loadProblemsCarryKindFileAndLine() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["syntax", "wrong"]),
                "syntax.lua": "return check { title = 'S',\n  run = function(ctx) return pass( end }\n",
                "wrong.lua": "return check {\n  title = 'W',\n  needs = 'x',\n  run = function(ctx) end }\n",
            ]))
        let syntax = try #require(out.finding("syntax")?.error)
        #expect(syntax.kind == .syntax)
        #expect(syntax.chunk == "demo/syntax.lua" && syntax.line == 2)
        let wrong = try #require(out.finding("wrong")?.error)
        #expect(wrong.kind == .load)
        #expect(wrong.chunk == "demo/wrong.lua")
        let json = try #require(
            try JSONSerialization.jsonObject(with: Data(JSONReporter.render(out.report).utf8)) as? [String: Any])
        let errors = (json["checks"] as? [[String: Any]])?.map { $0["error"] as? [String: Any] }
        #expect(errors?.map { $0?["kind"] as? String } == ["syntax", "load"])
        #expect(errors?.first??["line"] as? Int == 2)
    }

    @Test func textStartsWithTheCauseAndTheFirstThingToDo() throws {
        let text = TextReporter(color: false).render(try Self.sampleReport())
        let lines = text.split(separator: "\n")
        #expect(
            lines[2]
                == "Most likely cause: a firewall blocks incoming connections. First: sudo nft add rule inet filter input tcp dport 4242 accept"
        )
        #expect(text.contains("✘ FAIL  firewall"))
        #expect(text.contains("cause: a firewall blocks incoming connections (firewall-blocks-inbound)"))
        #expect(text.contains("2. run portdoctor again"))
        #expect(lines.last?.hasPrefix("1 passed, 1 failed, 1 could not run, 1 skipped in ") == true)
        #expect(text.contains("– skip  forward"))
        #expect(!text.contains("\u{1B}["))  // no colour unless asked
        #expect(TextReporter(color: true).render(try Self.sampleReport()).contains("\u{1B}[1;31m"))
    }

    /// Every independent cause in one run: the primary first, then each other cause once, in plan order.
    @Test func everyOtherIndependentCauseIsListedAfterThePrimary() throws {
        func failing(_ cause: String, _ advice: String) -> String {
            passing(body: "return fail { summary = 'it failed', cause = '\(cause)', advice = { '\(advice)' } }")
        }
        let report = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["service", "firewall", "forward", "listen"]),
                "service.lua": passing(),
                "firewall.lua": failing("firewall-blocks-inbound", "open it"),
                "forward.lua": failing("port-forward-missing", "forward it"),
                "listen.lua": failing("firewall-blocks-inbound", "the same cause again"),
            ])
        ).report
        #expect(report.primary?.id == "firewall")
        #expect(report.also.map(\.id) == ["forward"], "a cause already named is not repeated")
        let lines = TextReporter(color: false).render(report).split(separator: "\n").map(String.init)
        #expect(lines[2] == "Most likely cause: a firewall blocks incoming connections. First: open it")
        #expect(lines[3] == "Also found: the router does not forward the port (forward). First: forward it")
        let root = try #require(
            try JSONSerialization.jsonObject(with: Data(JSONReporter.render(report).utf8)) as? [String: Any])
        let also = try #require(root["also"] as? [[String: Any]])
        #expect(also.count == 1)
        #expect(also.first?["check"] as? String == "forward")
        #expect(also.first?["cause"] as? String == "port-forward-missing")
        #expect(also.first?["first_step"] as? String == "forward it")
        let md = MarkdownReporter.render(report, plan: [])
        #expect(
            md.contains("\n- Also found: the router does not forward the port (forward). First: forward it\n"), "\(md)")
        // A run whose worst finding is a warning lists nothing else.
        let warned = try diagnose(
            folder(["pack.lua": manifest(steps: ["a"]), "a.lua": passing(body: "return warn('hmm')")])
        ).report
        #expect(warned.also.isEmpty)
    }

    @Test func junitIsWellFormedAndCounts() throws {
        let xml = JUnitReporter.render(try Self.sampleReport())
        final class Counter: NSObject, XMLParserDelegate {
            var elements: [String: Int] = [:]
            var suite: [String: String] = [:]
            func parser(
                _ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]
            ) {
                elements[name, default: 0] += 1
                if name == "testsuite" { suite = attributes }
            }
        }
        let counter = Counter()
        let parser = XMLParser(data: Data(xml.utf8))
        parser.delegate = counter
        #expect(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
        #expect(counter.elements["testcase"] == 4)
        #expect(counter.elements["failure"] == 1)
        #expect(counter.elements["error"] == 1)
        #expect(counter.elements["skipped"] == 1)
        #expect(counter.suite["failures"] == "1" && counter.suite["errors"] == "1" && counter.suite["tests"] == "4")
        #expect(xml.contains("dropped &lt;by&gt; &quot;nftables&quot; &amp; co"))
    }

    @Test func markdownIsSomethingToPasteIntoATicket() throws {
        let md = MarkdownReporter.render(try Self.sampleReport(), plan: [("listener", "Listener", "demo")])
        #expect(md.hasPrefix("# portdoctor report: demo 1.2.3"))
        #expect(md.contains("## Environment"))
        #expect(md.contains("| platform | linux |"))
        #expect(md.contains("| portdoctor | \(portdoctorVersion) |"))
        #expect(md.contains("| port | `4242` (default) |"))
        #expect(md.contains("## Plan\n\n1. `listener` — Listener _(demo)_"))
        #expect(md.contains("| `firewall` | fail | incoming TCP 4242 is dropped <by> \"nftables\" & co |"))
        #expect(md.contains("```json\n{\n  \"counters\": [\n    1,\n    2,\n    3\n  ],"))
    }

    @Test func exitCodes() throws {
        #expect(try Self.sampleReport().exitCode == 2)
        let failing = try diagnose(
            folder(["pack.lua": manifest(steps: ["a"]), "a.lua": passing(body: "return fail('x')")]))
        #expect(failing.report.exitCode == 1)
        let fine = try diagnose(
            folder(["pack.lua": manifest(steps: ["a"]), "a.lua": passing(body: "return warn('x')")]))
        #expect(fine.report.exitCode == 0)
    }
}
