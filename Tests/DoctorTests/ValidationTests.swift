import Testing

@testable import Doctor

/// Load-time problems name the file, the line, the check and the field, and never take the rest down.
@Suite struct ValidationTests {
    @Test func unknownNeedIsNamedWithFileLineCheckFieldAndSuggestion() throws {
        let out = try diagnose(
            folder(
                [
                    "pack.lua": manifest("crashplan", steps: ["listener", "reach-peer"]),
                    "listener.lua": passing(),
                    "reach-peer.lua": """
                    -- Connect to the other computer.
                    local timeout = 3

                    return check {
                      title = "Connect to the other computer on the backup port",
                      needs = { "listner" },
                      run = function(ctx) return pass("connected") end,
                    }
                    """,
                ], name: "crashplan"))
        let f = try #require(out.finding("reach-peer"))
        #expect(f.status == .error)
        #expect(
            f.summary
                == "crashplan/reach-peer.lua:6: check 'reach-peer': 'needs' names unknown check 'listner' (did you mean 'listener'?)"
        )
        #expect(out.status("listener") == .pass)
        #expect(out.report.exitCode == 2)
    }

    @Test func aSyntaxErrorBreaksOnlyThatCheck() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b", "c"]),
                "a.lua": passing(),
                "b.lua": "return check {\n  title = 'B',\n  run = function(ctx) return pass('x' end,\n}\n",
                "c.lua": passing(),
            ]))
        #expect(out.status("a") == .pass)
        #expect(out.status("c") == .pass)
        let b = try #require(out.finding("b"))
        #expect(b.status == .error)
        #expect(b.summary.hasPrefix("demo/b.lua:3: "))
        #expect(b.summary.contains("')' expected"))
        #expect(out.report.exitCode == 2)
    }

    @Test func misspeltFieldsGetSuggestions() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a"]),
                "a.lua":
                    "return check {\n  title = 'A',\n  neds = { 'x' },\n  run = function() return pass('ok') end,\n}\n",
            ]))
        #expect(
            out.finding("a")?.summary
                == "demo/a.lua:3: check 'a': 'neds' is not a field of this definition (did you mean 'needs'?)")
    }

    @Test func missingAndMistypedFields() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b", "c"]),
                "a.lua": "return check { title = 'A' }",
                "b.lua": "return check { title = 42, run = function() end }",
                "c.lua": "local x = 1",
            ]))
        #expect(out.finding("a")?.summary == "demo/a.lua:1: check 'a': 'run' is required (a function)")
        #expect(out.finding("b")?.summary == "demo/b.lua:1: check 'b': 'title' must be a string, got number")
        #expect(out.finding("c")?.summary.contains("does not define a check") == true)
    }

    @Test func stepsNamingAMissingFile() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["listener", "firewal"]),
                "listener.lua": passing(),
                "firewall.lua": passing(),
            ]))
        let f = try #require(out.finding("firewal"))
        #expect(f.summary.contains("'steps' names unknown check 'firewal' (did you mean 'firewall'?)"))
    }

    @Test func aBrokenManifestIsOneErrorFinding() throws {
        let out = try diagnose(folder(["pack.lua": "return pack { id = 'demo', steps = 'nope' ", "a.lua": passing()]))
        #expect(out.report.exitCode == 2)
        #expect(out.report.findings.count == 1)
        #expect(out.report.findings[0].summary.hasPrefix("demo/pack.lua:1:"))
    }

    @Test func badParameterSpecsAreCaughtAtLoad() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(
                    steps: ["a"],
                    params:
                        "port = { type = 'prot', doc = 'the port' }, n = { type = 'port', default = 70000, doc = 'x' }"),
                "a.lua": passing(),
            ]))
        let summaries = out.report.findings.map(\.summary).joined(separator: "\n")
        #expect(
            summaries.contains(
                "parameter 'port': 'type' must be one of port, endpoint, host, integer, boolean, string, choice, not 'prot' (did you mean 'port'?)"
            ))
        #expect(summaries.contains("parameter 'n': 'default' is not a valid port: '70000' is not a TCP port"))
    }

    @Test func runtimeErrorsInChecksBecomeErrorFindingsWithPosition() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b"]),
                "a.lua": "return check { title = 'A', run = function(ctx)\n  local t = nil\n  return t.x\nend }",
                "b.lua": passing(),
            ]))
        let a = try #require(out.finding("a"))
        #expect(a.status == .error)
        #expect(a.summary == "the check failed: demo/a.lua:3: attempt to index a nil value (local 't')")
        #expect(a.error?.line == 3)
        #expect(out.status("b") == .pass)
    }

    struct ResultCase: Sendable, CustomTestStringConvertible {
        var body: String
        var expected: String
        init(_ body: String, _ expected: String) {
            self.body = body
            self.expected = expected
        }
        var testDescription: String { body }
    }

    @Test(arguments: [
        ResultCase("return { status = 'pass', summary = 'x' }", "pass"),
        ResultCase("return 42", "run must return pass(…), warn(…), fail(…) or skip(…), got number"),
        ResultCase(
            "return fail { summary = 'x', cause = 'firewall-blocks' }",
            "'cause' 'firewall-blocks' is not a known cause (did you mean 'firewall-blocks-inbound'?)"),
        ResultCase(
            "return pass { summary = 'x', advise = 'y' }",
            "the result has an unknown field 'advise' (did you mean 'advice'?)"),
        ResultCase("return fail {}", "the fail result needs a summary"),
        ResultCase(
            "return fail { summary = 'x', next = 'b' }",
            "the result goes on to 'b', which is not in the check's 'next' list"),
        ResultCase(
            "return fail { summary = 'x', repairs = { 'restart' } }",
            "'repairs' names 'restart', which the check does not declare"),
    ])
    func resultsAreValidated(_ c: ResultCase) throws {
        let body = c.body, expected = c.expected
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b"]),
                "a.lua": passing(body: body),
                "b.lua": passing(),
            ]))
        let a = try #require(out.finding("a"))
        if expected == "pass" {
            #expect(a.status == .pass)
        } else {
            #expect(a.status == .error)
            #expect(a.summary.contains(expected), "\(a.summary)")
        }
    }

    @Test func packsCanAddCauses() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(
                    steps: ["a"], extra: "causes = { ['router-locked'] = 'the router admin page is locked' },"),
                "a.lua": passing(body: "return fail { summary = 'locked', cause = 'router-locked' }"),
            ]))
        #expect(out.finding("a")?.cause == "router-locked")
        #expect(out.report.exitCode == 1)
    }

    @Test func requireFindsThePacksLibFirstAndSaysWhereItLooked() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b"]),
                "lib/ports.lua": "return { backup = 4242 }",
                "lib/net/util.lua":
                    "local ports = require('ports') return { double = function() return ports.backup * 2 end }",
                "a.lua": passing(body: "return pass('%d', require('net.util').double())"),
                "b.lua": passing(body: "return pass(require('nope'))"),
            ]))
        #expect(out.finding("a")?.summary == "8484")
        #expect(
            out.finding("b")?.summary.contains(
                "module 'nope' not found: checks can require modules from their pack's lib/ folder (looked for demo/lib/nope.lua)"
            ) == true)
        #expect(out.finding("b")?.summary.contains("demo/b.lua:5:") == true, "\(out.finding("b")?.summary ?? "")")
    }
}

@Suite struct SharedLibraryTests {
    @Test func aPackCanUseAnotherPacksLibrary() throws {
        let base = folder(
            [
                "pack.lua": manifest("base", steps: ["a"]), "a.lua": passing(),
                "lib/steps.lua": "return { answer = 42 }",
            ],
            name: "base")
        let derived = folder(
            [
                "pack.lua": manifest("derived", steps: ["b"]),
                "b.lua": passing(body: "return pass('%d', require('base:steps').answer)"),
            ], name: "derived")
        var request = DiagnosisRequest(pack: "derived")
        request.platform = .linux
        guard case .ready(let d) = try Diagnosis.prepare(request, catalog: PackCatalog(packs: [base, derived])) else {
            Issue.record("not ready")
            return
        }
        #expect(d.run().findings.first?.summary == "42")
        var missing = DiagnosisRequest(pack: "derived")
        missing.platform = .linux
        let other = folder(
            [
                "pack.lua": manifest("derived", steps: ["b"]),
                "b.lua": passing(body: "return pass(require('bse:steps'))"),
            ],
            name: "derived")
        guard case .ready(let e) = try Diagnosis.prepare(missing, catalog: PackCatalog(packs: [base, other])) else {
            return
        }
        #expect(e.run().findings.first?.summary.contains("there is no pack 'bse' (did you mean 'base'?)") == true)
    }
}
