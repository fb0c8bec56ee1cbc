import Foundation
import TestSupport
import Testing

/// `pack lint` on the release binary: a misspelt module function is an error (exit 2) with its
/// line and a suggestion; a stray global write alone is a warning (exit 0).
@Suite struct PackLintGlobalsCommandTests {
    let cli = CommandLineTests()

    static func pack(_ body: String) -> [String: String] {
        [
            "pack.lua": #"return pack { id = "demo", version = "1.0.0", title = "Demo", steps = { "a" } }"#,
            "a.lua": """
            return check { title = "A", run = function(ctx)
              \(body)
              return pass("fine")
            end }
            """,
        ]
    }

    @Test func aMisspeltModuleFunctionFailsLintAndAGlobalWriteWarns() throws {
        #expect(ReleaseBinary.problem == nil, "\(ReleaseBinary.problem ?? "")")
        let broken = try cli.pack(Self.pack(#"local r = socket.conect("127.0.0.1", 4242)"#))
        defer { try? FileManager.default.removeItem(at: broken.deletingLastPathComponent()) }
        let r = try cli.portdoctor(["pack", "lint", broken.path])
        #expect(r.status == 2, "\(r.stdout) \(r.stderr)")
        #expect(r.stdout.contains("demo/a.lua:2: error: 'socket' has no field 'conect' (did you mean 'connect'?)"), "\(r.stdout)")

        let stray = try cli.pack(Self.pack("last = 1"))
        defer { try? FileManager.default.removeItem(at: stray.deletingLastPathComponent()) }
        let w = try cli.portdoctor(["pack", "lint", stray.path])
        #expect(w.status == 0, "\(w.stdout) \(w.stderr)")
        #expect(w.stdout.contains("demo/a.lua:2: warning: global 'last' is set"), "\(w.stdout)")
    }
}
