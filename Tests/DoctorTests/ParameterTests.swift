import LuaHost
import Testing

@testable import Doctor

@Suite struct ParameterTests {
    static let pack = folder([
        "pack.lua": manifest(
            steps: ["echo"],
            params: """
                port = { type = "port", default = 4242, doc = "the TCP port the backup service listens on" },
                peer = { type = "endpoint", doc = "the other computer, as host or host:port" },
                role = { type = "choice", choices = { "source", "destination" }, default = "destination", doc = "which side this is" },
                verbose = { type = "boolean", default = false, doc = "say more" },
                retries = { type = "integer", default = 3, doc = "how often to retry" },
                """),
        "echo.lua": passing(
            body: """
                local p = ctx.params
                local peer = p.peer and (p.peer.host .. ":" .. tostring(p.peer.port)) or "none"
                return pass("%d %s %s %s %d", p.port, peer, p.role, tostring(p.verbose), p.retries)
                """),
    ])

    private func summary(_ configure: (inout DiagnosisRequest) -> Void) throws -> String? {
        try diagnose(Self.pack, configure: configure).finding("echo")?.summary
    }

    private func rejection(_ configure: (inout DiagnosisRequest) -> Void) -> String? {
        do {
            _ = try diagnose(Self.pack, configure: configure)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func defaultsApply() throws {
        #expect(try summary { _ in } == "4242 none destination false 3")
    }

    @Test func commandLineBeatsEnvironmentBeatsConfigBeatsDefault() throws {
        #expect(
            try summary { r in
                r.parameters.config = try! config("port = 1000\nrole = source\nretries = 7")
                r.parameters.environment = ["PORTDOCTOR_PARAM_PORT": "2000", "PORTDOCTOR_PARAM_RETRIES": "8"]
                r.parameters.commandLine = [("port", "3000")]
            } == "3000 none source false 8")
    }

    @Test func peerSetsTheEndpoint() throws {
        #expect(
            try summary { $0.parameters.peer = "backup.example.net:4243" }
                == "4242 backup.example.net:4243 destination false 3")
        #expect(
            try summary { $0.parameters.peer = "[2001:db8::7]:4242" } == "4242 2001:db8::7:4242 destination false 3")
        #expect(
            try summary { $0.parameters.peer = "backup.example.net" }
                == "4242 backup.example.net:nil destination false 3")
    }

    @Test func aPortOf70000IsRejectedWithTheParametersDoc() {
        #expect(
            rejection { $0.parameters.commandLine = [("port", "70000")] }
                == "--param port=70000: '70000' is not a TCP port (a number from 1 to 65535). 'port' (port): the TCP port the backup service listens on (default 4242)"
        )
    }

    @Test(arguments: [
        ("peer", "bad host!:22", "'bad host!' is not a host name or address"),
        ("peer", "example.net:0", "'0' is not a TCP port"),
        ("peer", "[2001:db8::1", "opens '[' without closing it"),
        ("role", "sourc", "'sourc' is not one of source, destination (did you mean 'source'?)"),
        ("verbose", "maybe", "'maybe' is not true or false"),
        ("retries", "three", "'three' is not a whole number"),
    ])
    func badValuesAreRejectedBeforeAnythingRuns(_ key: String, _ value: String, _ expected: String) {
        let message = rejection { $0.parameters.commandLine = [(key, value)] }
        #expect(message?.contains(expected) == true, "\(message ?? "accepted")")
    }

    @Test func unknownParametersGetASuggestion() {
        #expect(
            rejection { $0.parameters.commandLine = [("prot", "22")] }
                == "pack 'demo' has no parameter 'prot' (did you mean 'port'?); its parameters are peer, port, retries, role, verbose"
        )
    }

    @Test func requiredParametersMustBeGiven() throws {
        let pack = folder([
            "pack.lua": manifest(
                steps: ["a"], params: "service = { type = 'string', required = true, doc = 'the service to check' }"),
            "a.lua": passing(),
        ])
        #expect {
            _ = try diagnose(pack)
        } throws: {
            "\($0)" == "parameter 'service' is required: the service to check (give it with --param service=…)"
        }
    }

    private func config(_ text: String) throws -> ConfigFile {
        try ConfigFile.parse(text, path: "/home/me/.config/portdoctor/config").get()
    }

    @Test func configFileLinesCanBeScopedToAPack() throws {
        let text = """
            # settings
            peer = a.example
            demo.port = 4243
            other.port = 1
            other.nonsense = 1
            """
        #expect(
            try summary {
                $0.parameters.config = try! config(text)
                $0.parameters.otherPacks = ["other": ["port", "nonsense"]]
            } == "4243 a.example:nil destination false 3")
    }

    @Test func linesForOtherPacksAreCheckedAgainstThemAndSkippedHere() throws {
        let others: [String: Set<String>] = ["crashplan": ["port", "peer", "reflector"], "lab": ["router"]]
        #expect(
            try summary {
                $0.parameters.config = try! config("router = 192.0.2.1\ncrashplan.reflector = a.example\nport = 4300")
                $0.parameters.environment = ["PORTDOCTOR_PARAM_ROUTER": "192.0.2.1"]
                $0.parameters.otherPacks = others
            } == "4300 none destination false 3")
        let typoInThePack = rejection {
            $0.parameters.config = try! config("crashpaln.port = 4243")
            $0.parameters.otherPacks = others
        }
        #expect(typoInThePack?.hasSuffix("config:1: there is no pack named 'crashpaln' (did you mean 'crashplan'?)") == true)
        let typoInTheirKey = rejection {
            $0.parameters.config = try! config("crashplan.reflecter = x")
            $0.parameters.otherPacks = others
        }
        #expect(typoInTheirKey?.contains("pack 'crashplan' has no parameter 'reflecter' (did you mean 'reflector'?)") == true)
        let nobodysKey = rejection {
            $0.parameters.config = try! config("routr = 192.0.2.1")
            $0.parameters.otherPacks = others
        }
        #expect(nobodysKey?.contains("has no parameter 'routr' (did you mean 'router'?)") == true, "\(nobodysKey ?? "")")
    }

    @Test func aCommentMayFollowAValue() throws {
        #expect(
            try summary {
                $0.parameters.config = try! config("port = 4300  # the new one\nrole = 'source' # quoted\nretries = \"#1\"")
                $0.parameters.commandLine = [("retries", "4")]
            } == "4300 none source false 4")
        #expect(ConfigFile.withoutComment("\"a # b\"  # c") == "\"a # b\"")
        #expect(ConfigFile.withoutComment("a#b # c") == "a#b")
    }

    @Test func valuesAreTrimmedAndUnquoted() throws {
        #expect(
            try summary {
                $0.parameters.config = try! config("  port =  \" 4243 \"  \r\nrole\t=\t'source'\t")
                $0.parameters.commandLine = [(" retries ", " 5 ")]
            } == "4243 none source false 5")
    }

    @Test(arguments: [
        ("prot = 5", "/home/me/.config/portdoctor/config:2: pack 'demo' has no parameter 'prot' (did you mean 'port'?)"),
        ("demo.rol = source", "config:2: pack 'demo' has no parameter 'rol' (a line for pack 'demo') (did you mean 'role'?)"),
        ("port 4243", "config:2: expected 'key = value' (or 'pack.key = value'), got 'port 4243'"),
        ("= 4243", "config:2: '' is not a parameter name"),
        ("port = http", "config:2: 'http' is not a TCP port"),
    ])
    func aBadConfigLineNamesTheFileAndLine(_ line: String, _ expected: String) {
        let message: String? = {
            switch ConfigFile.parse("# mine\n\(line)\n", path: "/home/me/.config/portdoctor/config") {
            case .failure(let e): return e.reason
            case .success(let file): return rejection { $0.parameters.config = file }
            }
        }()
        #expect(message?.contains(expected) == true, "\(message ?? "accepted")")
    }

    @Test func anUnknownEnvironmentParameterIsAnError() {
        #expect(
            rejection { $0.parameters.environment = ["PORTDOCTOR_PARAM_PROT": "22", "HOME": "/root"] }?
                .hasPrefix(
                    "environment variable PORTDOCTOR_PARAM_PROT: no pack takes such a parameter (did you mean 'PORTDOCTOR_PARAM_PORT'?)"
                ) == true)
    }

    @Test(arguments: ["::::", ":::1::", "1.2.3.256", "999.1.1.1", "fe80::1%", "[::::]:4242", "g::1"])
    func malformedAddressesAreRejected(_ peer: String) {
        let message = rejection { $0.parameters.peer = peer }
        #expect(message?.contains("is not a valid IPv") == true, "\(message ?? "accepted")")
    }

    @Test func endpointsPrintIPv6InBrackets() {
        #expect(ParameterValue.endpointText(host: "::1", port: 4242) == "[::1]:4242")
        #expect(ParameterValue.endpointText(host: "192.0.2.1", port: 4242) == "192.0.2.1:4242")
        #expect(ParameterValue.endpointText(host: "fe80::1%eth0", port: nil) == "fe80::1%eth0")
        guard case .success(let v) = ParameterValue.parse("[2001:db8::7]:4243", as: ParameterSpec(name: "peer", type: .endpoint, defaultText: nil, doc: "", required: false))
        else { Issue.record("rejected"); return }
        guard case .table(let t) = v else { Issue.record("not a table"); return }
        #expect(t["text"] == .text("[2001:db8::7]:4243"))
    }

    @Test func aBadValueInTheEnvironmentNamesTheVariable() {
        #expect(
            rejection { $0.parameters.environment = ["PORTDOCTOR_PARAM_PORT": "http"] }?
                .hasPrefix("PORTDOCTOR_PARAM_PORT: 'http' is not a TCP port") == true)
    }

    /// Reports say where each value came from (schema 2's `parameter_sources`).
    @Test func theReportSaysWhereEachValueCameFrom() throws {
        let out = try diagnose(Self.pack) { r in
            r.parameters.config = try! self.config("role = source\nretries = 7")
            r.parameters.environment = ["PORTDOCTOR_PARAM_RETRIES": "8"]
            r.parameters.commandLine = [("port", "3000")]
            r.parameters.peer = "a.example"
        }
        #expect(
            out.report.parameterSources == [
                "port": "command-line", "peer": "command-line", "role": "config", "retries": "environment",
                "verbose": "default",
            ])
        #expect(out.report.parameters["retries"] == "8")
    }

    /// A secret's value reaches the check, and no report or message.
    @Test func secretValuesStayOutOfReportsAndMessages() throws {
        let pack = folder([
            "pack.lua": manifest(
                steps: ["a"],
                params:
                    "token = { type = 'string', secret = true, doc = 't' }, pin = { type = 'integer', secret = true, doc = 'p' }"
            ),
            "a.lua": passing(body: "return pass(ctx.params.token == 'hunter2' and 'got it' or 'missing')"),
        ])
        let out = try diagnose(pack) { $0.parameters.commandLine = [("token", "hunter2")] }
        #expect(out.finding("a")?.summary == "got it")
        #expect(out.report.parameters == ["token": "(secret)"])
        for render in [JSONReporter.render, { TextReporter(color: false).render($0) }] {
            #expect(!render(out.report).contains("hunter2"))
        }
        #expect {
            _ = try diagnose(pack) { $0.parameters.commandLine = [("pin", "hunter2")] }
        } throws: { !"\($0)".contains("hunter2") && "\($0)".contains("'pin'") }
    }

    /// A check that quotes a secret (in its summary, advice or evidence, or under a field named like
    /// one) does not put it in the report: a newcomer's report carried `"password": "HUNTER2"`.
    @Test func aCheckThatQuotesASecretDoesNotLeakIt() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["a"], params: "api = { type = 'string', secret = true, doc = 'k' }"),
            "a.lua": passing(
                body: """
                    return fail { summary = 'key ' .. ctx.params.api, cause = 'no-listener',
                      advice = { 'try ' .. ctx.params.api }, evidence = { password = ctx.params.api, note = 'was ' .. ctx.params.api } }
                    """),
        ])
        let out = try diagnose(pack) { $0.parameters.commandLine = [("api", "HUNTER2")] }
        #expect(out.finding("a")?.summary == "key (secret)")
        for render in [JSONReporter.render, { TextReporter(color: false).render($0) }] {
            let text = render(out.report)
            #expect(!text.contains("HUNTER2"), "\(text)")
        }
    }

    /// `show` plans without values: a required parameter is listed as missing, not an error.
    @Test func planningNeedsNoRequiredValues() throws {
        let pack = folder([
            "pack.lua": manifest(
                steps: ["a"], params: "service = { type = 'string', required = true, doc = 'the service to check' }"),
            "a.lua": passing(),
        ])
        var request = DiagnosisRequest(pack: pack.name)
        request.planOnly = true
        let catalog = PackCatalog(packs: [pack], overlays: [])
        guard case .ready(let d) = try Diagnosis.prepare(request, catalog: catalog) else {
            Issue.record("the pack did not load")
            return
        }
        #expect(d.parameters.missing == ["service"])
    }
}
