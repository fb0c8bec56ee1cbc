import LuaHost
import Testing

@testable import Doctor

/// The loader keeps no file's parse state between files: each file's definitions belong to the task
/// that evaluates it, so loading one pack between another's files changes nothing, and a check that
/// calls `check { … }` while it runs is told so instead of adding to whatever was loaded last.
@Suite struct PackLoaderStateTests {
    func summary(_ p: LoadedPack) -> String {
        "\(p.manifest?.id ?? "-") \(p.checks.keys.sorted()) \(p.diagnostics.map(\.message))"
    }

    @Test func packsLoadedInAnyOrderLoadTheSame() throws {
        let a = folder(["pack.lua": manifest("a", steps: ["one", "two"]), "one.lua": passing(), "two.lua": passing()], name: "a")
        let b = folder(["pack.lua": manifest("b", steps: ["three"]), "three.lua": "return check { title = 'x' }"], name: "b")
        let loader = try PackLoader(runtime: try LuaRuntime())
        let first = summary(loader.loadPack(a))
        let other = summary(loader.loadPack(b))
        _ = loader.loadManifest(b)
        #expect(summary(loader.loadPack(a)) == first)
        #expect(summary(try PackLoader(runtime: try LuaRuntime()).loadPack(b)) == other)
        #expect(other.contains("run"))  // b's broken check is b's alone
        #expect(!first.contains("run"))
    }

    @Test func definingAtRunTimeIsRefused() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a"]),
                "a.lua": passing(body: "check { title = 'late', run = function() end } return pass('x')"),
            ]))
        let f = try #require(out.finding("a"))
        #expect(f.status == .error)
        #expect(f.summary.contains("works only in a pack's own files"))
    }
}
