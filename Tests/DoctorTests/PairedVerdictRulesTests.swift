import BundledChecks
import Testing

@testable import Doctor

/// The paired verdict is the pack's Lua (lib/verdict.lua): an overlay's or the pack's own wins over
/// tcp-service's, and one that fails keeps both computers' findings and says where it failed.
@Suite struct PairedVerdictRulesTests {
    static let test = Paired.ConnectTest(from: "the source", to: "10.0.0.2:4242", status: "timeout")

    /// A verdict module whose summary says which file it is, built on tcp-service's.
    static func named(_ who: String) -> String {
        """
        local base = require("tcp-service:verdict")
        local M = {}
        function M.decide(findings, connect)
          local v = base.decide(findings, connect)
          v.summary = "\(who): " .. v.summary
          return v
        end
        return M
        """
    }

    static let failing =
        "local M = {}\nfunction M.decide(findings, connect)\n  local n = #findings\n  error(\"boom after \" .. n)\nend\nreturn M\n"

    static func findings() -> [Finding] {
        ["service", "listener", "firewall"].flatMap { id in
            ["source", "destination"].map { side in
                var f = Finding(
                    id: side == "source" ? id : "destination:\(id)", title: id, status: .pass, summary: "\(id) fine",
                    origin: "test")
                f.side = side
                f.computer = side == "source" ? "a (10.0.0.1)" : "b (10.0.0.2)"
                return f
            }
        }
    }

    /// The bundled packs, and `extra` overlays, as a catalog; `pack` in place of the bundled one of its name.
    static func rules(pack: PackFolder? = nil, overlays: [PackFolder] = [], id: String = "crashplan") throws
        -> VerdictRules
    {
        let bundled = PackCatalog.folders(in: BundledChecks.files, origin: .bundled)
        var packs = bundled.filter(\.isPack)
        if let pack { packs.append(pack) }
        var request = DiagnosisRequest(pack: id)
        request.planOnly = true
        request.platform = .linux
        guard
            case .ready(let diagnosis) = try Diagnosis.prepare(
                request, catalog: PackCatalog(packs: packs, overlays: bundled.filter(\.isOverlay) + overlays))
        else { throw DiagnosisError("\(id) did not load") }
        return try #require(diagnosis.verdictRules)
    }

    @Test func aPackWithoutItsOwnUsesTCPServices() throws {
        let rules = try Self.rules()
        #expect(rules.file == "tcp-service/lib/verdict.lua")
        let v = try rules.decide(Self.findings(), test: Self.test).get()
        #expect(v.fix == "destination" && v.cause == "port-forward-missing", "\(v)")
    }

    @Test func anOverlaysVerdictIsTheOneUsed() throws {
        let overlay = PackFolder(
            name: "mine", origin: .path("/test/mine"),
            files: ["overlay.lua": "return overlay { extends = \"crashplan\" }", "lib/verdict.lua": Self.named("mine")])
        let rules = try Self.rules(overlays: [overlay])
        #expect(rules.file == "mine/lib/verdict.lua")
        let v = try rules.decide(Self.findings(), test: Self.test).get()
        #expect(v.summary.hasPrefix("mine: the source → 10.0.0.2:4242 gets no answer"), "\(v.summary)")
        #expect(v.fix == "destination" && v.connect.status == "timeout")
    }

    @Test func aCustomPacksOwnVerdictIsTheOneUsed() throws {
        let pack = folder(
            [
                "pack.lua": manifest("custom", steps: ["hello"]), "hello.lua": passing(),
                "lib/verdict.lua": Self.named("custom"),
            ], name: "custom")
        let rules = try Self.rules(pack: pack, id: "custom")
        #expect(rules.file == "custom/lib/verdict.lua")
        #expect(try rules.decide(Self.findings(), test: Self.test).get().summary.hasPrefix("custom: "))
        // Without one, tcp-service's.
        var plain = pack
        plain.files["lib/verdict.lua"] = nil
        #expect(try Self.rules(pack: plain, id: "custom").file == "tcp-service/lib/verdict.lua")
    }

    /// A verdict that raises: the report keeps both computers' findings, has no `pairing`, and
    /// gains an error check `pairing` naming the file and line (exit code 2).
    @Test func aFailingVerdictIsAnErrorCheckAndTheFindingsStay() throws {
        let overlay = PackFolder(
            name: "broken", origin: .path("/test/broken"),
            files: ["overlay.lua": "return overlay { extends = \"crashplan\" }", "lib/verdict.lua": Self.failing])
        let rules = try Self.rules(overlays: [overlay])
        let all = Self.findings()
        let local = Report(
            packID: "crashplan", packVersion: "1", packTitle: "t", platform: "linux", vendor: nil,
            parameters: ["role": "source"], findings: all.filter { $0.side == "source" }, durationMilliseconds: 1)
        let peer = all.filter { $0.side == "destination" }.map { f in
            var f = f
            f.id = String(f.id.dropFirst("destination:".count))
            return f
        }
        let merged = Paired.merge(
            local: local, localComputer: "a (10.0.0.1)", peerComputer: "b (10.0.0.2)", peerFindings: peer,
            test: Self.test, rules: rules)
        #expect(merged.pairing == nil)
        #expect(merged.findings.count == all.count + 1)
        #expect(merged.findings.filter { $0.side == "destination" }.count == 3)
        let error = try #require(merged.findings.last)
        #expect(error.id == "pairing" && error.status == .error)
        #expect(error.summary.contains("broken/lib/verdict.lua:4: boom after 6"), "\(error.summary)")
        #expect(error.error?.chunk == "broken/lib/verdict.lua" && error.error?.line == 4)
        #expect(merged.exitCode == 2)
        #expect(TextReporter(color: false).render(merged).contains("broken/lib/verdict.lua:4"))
    }

    /// A verdict that returns something else than a verdict is an error too, naming the file.
    @Test func aVerdictOfTheWrongShapeIsAnError() throws {
        for (source, words) in [
            ("return { decide = function() return 42 end }", "must return a table"),
            ("return { decide = function() return { fix = 'router', summary = 'x' } end }", "'fix' must be"),
            ("return { decide = function() return { fix = 'source' } end }", "needs a 'summary'"),
            ("return 7", "must return a table with decide"),
        ] {
            let rules = try VerdictRules.bundled(source: source)
            switch rules.decide(Self.findings(), test: Self.test) {
            case .success(let v): Issue.record("\(source): \(v)")
            case .failure(let e):
                #expect(e.description.contains("tcp-service/lib/verdict.lua") && e.description.contains(words), "\(e)")
            }
        }
    }
}
