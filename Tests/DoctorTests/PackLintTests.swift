import Doctor
import Foundation
import Testing

/// `pack lint` and `pack new`: the scaffold lints clean; each kind of problem is found with its line.
@Suite final class PackLintTests {
    let root: String

    init() throws {
        root = NSTemporaryDirectory() + "pd-lint-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    /// The temporary folders go, whatever the outcome.
    deinit { try? FileManager.default.removeItem(atPath: root) }

    func write(_ files: [String: String], id: String = "demo") throws -> String {
        let dir = root + "/" + id
        for (path, text) in files {
            let url = URL(fileURLWithPath: dir + "/" + path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        return dir
    }

    func lint(_ path: String) -> [LintProblem] { PackLinter.lint(path: path, environment: ["HOME": root]) }

    static let manifest = """
        return pack {
          id = "demo", version = "1.0.0", title = "Demo",
          params = { port = { type = "port", default = 4242, doc = "the port" } },
          causes = { ["router-locked"] = "the router's admin page is locked" },
          steps = { "one" },
        }

        """

    @Test func aNewPackLintsClean() throws {
        let dir = try PackScaffold.create(id: "my-router", in: root)
        let problems = lint(dir)
        #expect(problems.isEmpty, "\(problems)")
        #expect(FileManager.default.fileExists(atPath: dir + "/.luals/portdoctor.lua"))
        let stubs = try String(contentsOfFile: dir + "/.luals/portdoctor.lua", encoding: .utf8)
        #expect(stubs.contains("function check(definition)"))
        #expect(throws: PackArchiveError.self) { try PackScaffold.create(id: "my-router", in: root) }
        #expect(throws: PackArchiveError.self) { try PackScaffold.create(id: "../up", in: root) }
    }

    @Test func theBundledPacksLintWithoutErrors() {
        let checks = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Checks").path
        for pack in ["tcp-service", "crashplan"] {
            let errors = lint(checks + "/" + pack).filter { $0.severity == .error }
            #expect(errors.isEmpty, "\(pack): \(errors)")
        }
    }

    @Test func anUndeclaredParameterIsAnErrorWithItsLineAndASuggestion() throws {
        let dir = try write([
            "pack.lua": Self.manifest,
            "one.lua": """
            return check {
              title = "One",
              run = function(ctx)
                local p = ctx.params
                if ctx.params.prot == 1 or ctx.params["peer"] or p.porrt then return fail("x") end
                return pass("port %d", ctx.params.port)
              end,
            }

            """,
        ])
        let problems = lint(dir).filter { $0.severity == .error }
        let messages = problems.map(\.description)
        #expect(problems.count == 3, "\(messages)")
        #expect(messages.contains { $0.hasPrefix("demo/one.lua:5:") && $0.contains("ctx.params.prot") && $0.contains("did you mean 'port'") })
        #expect(messages.contains { $0.contains("ctx.params.peer") })
        #expect(messages.contains { $0.contains("ctx.params.porrt") && $0.contains("did you mean 'port'") })
    }

    @Test func anUndeclaredCauseIsAnErrorAndAnUnusedOneAWarning() throws {
        let dir = try write([
            "pack.lua": Self.manifest,
            "one.lua": """
            return check {
              title = "One",
              run = function(ctx)
                return fail { summary = "x", cause = "firewall-blocks-inbund" }
              end,
            }

            """,
        ])
        let problems = lint(dir)
        let error = try #require(problems.first { $0.severity == .error })
        #expect(error.line == 4 && error.message.contains("did you mean 'firewall-blocks-inbound'"))
        #expect(problems.contains { $0.severity == .warning && $0.message.contains("'router-locked' is declared but") })
    }

    @Test func checkFilesNotInStepsAndUselessOverlaysWarn() throws {
        let dir = try write([
            "pack.lua": Self.manifest,
            "one.lua": "return check { title = \"One\", run = function(ctx) return pass(\"ok\") end }\n",
            "orphan.lua": "return check { title = \"Orphan\", run = function(ctx) return pass(\"ok\") end }\n",
            "overlays/other/overlay.lua": "return overlay { extends = \"crashplan\", skip = { \"one\" } }\n",
            "overlays/idle/overlay.lua": "return overlay { extends = \"demo\", when = { platform = \"macos\" } }\n",
            "overlays/idle/extra.lua": "return check { title = \"Extra\", run = function(ctx) return pass(\"ok\") end }\n",
        ])
        let problems = lint(dir)
        #expect(problems.allSatisfy { $0.severity == .warning }, "\(problems)")
        let text = problems.map(\.description).joined(separator: "\n")
        #expect(text.contains("demo/orphan.lua: warning: check 'orphan' never runs"))
        #expect(text.contains("extends 'crashplan', not 'demo': it never applies"))
        #expect(text.contains("overlay 'idle' changes nothing"))
        #expect(text.contains("check 'extra' never runs: overlay 'idle'"))
    }

    @Test func loadErrorsAndPlanErrorsAreFoundAsShowFindsThem() throws {
        let dir = try write([
            "pack.lua": Self.manifest.replacing("steps = { \"one\" }", with: "steps = { \"one\", \"two\" }"),
            "one.lua": "return check { title = \"One\", nedds = { \"x\" }, run = function(ctx) return pass(\"ok\") end }\n",
        ])
        let text = lint(dir).map(\.description).joined(separator: "\n")
        #expect(text.contains("demo/one.lua:1: error:") && text.contains("'nedds' is not a field") && text.contains("did you mean 'needs'"))
        #expect(text.contains("two"))
    }

    @Test func unknownKeysInOptionTablesAreErrors() throws {
        let dir = try write([
            "pack.lua": """
            return pack {
              id = "demo", version = "1.0.0", title = "Demo",
              params = { port = { type = "port", defualt = 4242, doc = "the port" } },
              limits = { timout = 5 },
              steps = { "one" },
            }

            """,
            "one.lua": "return check { title = \"One\", run = function(ctx) return pass(\"ok\") end }\n",
        ])
        let text = lint(dir).map(\.description).joined(separator: "\n")
        #expect(text.contains("demo/pack.lua:3:") && text.contains("'defualt'") && text.contains("did you mean 'default'"), "\(text)")
        #expect(text.contains("demo/pack.lua:4:") && text.contains("'timout'") && text.contains("did you mean 'timeout'"), "\(text)")
    }

    /// The typos that passed lint and failed at run time: a misspelt local read as a global, a
    /// misspelt module function, a global read no one defines; and a stray global write.
    @Test func unknownGlobalsAndModuleFieldsAreFoundWithTheirLines() throws {
        let dir = try write([
            "pack.lua": Self.manifest,
            "one.lua": """
            local timeout = 3
            return check { title = "One", run = function(ctx)
              local r = socket.conect("127.0.0.1", ctx.params.port, { timeout = tiemout })
              helper = string.fromat("%d", 1)
              local s = service.status("x")
              local w = netstat.listeners(ctx.params.port)
              if undefined_thing then return fail { summary = "no", cause = "router-locked" } end
              return pass(helper .. tostring(s) .. tostring(w) .. r.status .. os.tiem())
            end }

            """,
            "lib/util.lua": "socket.connect = nil\nreturn { }\n",
        ])
        let problems = lint(dir)
        let text = problems.map(\.description).joined(separator: "\n")
        func has(_ severity: LintProblem.Severity, _ line: Int, _ words: String) -> Bool {
            problems.contains { $0.severity == severity && $0.line == line && $0.message.contains(words) }
        }
        #expect(has(.error, 3, "'socket' has no field 'conect' (did you mean 'connect'?)"), "\(text)")
        #expect(has(.error, 3, "unknown global 'tiemout' (did you mean 'timeout'?)"), "\(text)")
        #expect(has(.error, 4, "'string' has no field 'fromat' (did you mean 'format'?)"), "\(text)")
        #expect(has(.warning, 4, "global 'helper' is set"), "\(text)")
        #expect(has(.error, 7, "unknown global 'undefined_thing'"), "\(text)")
        #expect(has(.error, 8, "'os' has no field 'tiem' (did you mean 'time'?)"), "\(text)")
        #expect(has(.error, 1, "cannot set 'socket.connect'"), "\(text)")
        // Real names are no problem: service.status, netstat.listeners, pass, fail, tostring, ctx.
        #expect(!text.contains("'service'") && !text.contains("'netstat'") && !text.contains("'pass'"), "\(text)")
        #expect(!problems.contains { $0.message.contains("'helper'") && $0.severity == .error }, "\(text)")
        #expect(problems.first { $0.message.contains("tiemout") }?.file == "demo/one.lua")
    }

    /// A require inside `run` is only tried when the check runs: lint resolves it as the loader would.
    @Test func aRequireThatFindsNothingIsAnError() throws {
        let dir = try write([
            "pack.lua": Self.manifest,
            "lib/util.lua": "return { x = 1 }\n",
            "one.lua": """
            local util = require("util")
            return check { title = "One", run = function(ctx)
              local u = require("uitl")
              local s = require("tcp-service:steps")
              local t = require("tcp-servce:steps")
              return fail { summary = "ok " .. (util.x + ctx.params.port), cause = "router-locked" }
            end }

            """,
        ])
        let problems = lint(dir)
        let text = problems.map(\.description).joined(separator: "\n")
        #expect(problems.contains { $0.line == 3 && $0.message.contains("module 'uitl' not found (did you mean 'util'?)") }, "\(text)")
        #expect(problems.contains { $0.line == 5 && $0.message.contains("there is no pack 'tcp-servce' (did you mean 'tcp-service'?)") }, "\(text)")
        #expect(!problems.contains { $0.line == 1 || $0.line == 4 }, "\(text)")
    }
}

/// At run time, ctx.params is strict too: a misspelt field is an error finding, not a silent nil.
@Suite struct StrictParamsTests {
    @Test func aMisspeltParameterIsAnErrorWithASuggestionAndAnUnsetOneIsNil() throws {
        let pack = folder([
            "pack.lua": """
            return pack { id = "demo", version = "1", title = "Demo",
              params = { port = { type = "port", default = 4242, doc = "p" }, peer = { type = "host", doc = "h" } },
              steps = { "typo", "unset", "shared" } }
            """,
            "lib/util.lua": "return { optional = function(ctx) return ctx.params.service end }",
            "shared.lua": "local util = require(\"util\")\nreturn check { title = \"S\", run = function(ctx) return pass(\"%s\", tostring(util.optional(ctx))) end }",
            "typo.lua": "return check { title = \"T\", run = function(ctx) return pass(\"%s\", tostring(ctx.params.prot)) end }",
            "unset.lua": "return check { title = \"U\", run = function(ctx) return pass(\"%s %d\", tostring(ctx.params.peer), ctx.params.port) end }",
        ])
        var request = DiagnosisRequest(pack: "demo")
        request.platform = .linux
        guard case .ready(let diagnosis) = try Diagnosis.prepare(request, catalog: PackCatalog(packs: [pack])) else {
            Issue.record("the pack does not load")
            return
        }
        let report = diagnosis.run()
        let typo = try #require(report.findings.first { $0.id == "typo" })
        #expect(typo.status == .error)
        #expect(typo.summary.contains("ctx.params.prot is not a parameter of pack 'demo' (did you mean 'port'?)"), "\(typo.summary)")
        #expect(typo.error?.line == 1)
        let unset = try #require(report.findings.first { $0.id == "unset" })
        #expect(unset.status == .pass && unset.summary == "nil 4242", "\(unset.summary)")
        // lib/ modules serve packs with different parameters: an undeclared one reads as nil there.
        let shared = try #require(report.findings.first { $0.id == "shared" })
        #expect(shared.status == .pass && shared.summary == "nil", "\(shared.summary)")
    }
}
