import BundledChecks
import Doctor
import Foundation
import LuaHost
import Testing

/// The LuaLS stubs (Docs/lua/portdoctor.lua, carried in the binary for `pack new`) declare
/// exactly what the runtime gives a check: every global, module function and field, and every
/// method of the objects modules hand out — compared both ways with a live runtime set up as
/// `run` sets it up, so that neither can change without the other.
@Suite struct LuaStubsTests {
    /// Lua's own globals the sandbox keeps: LuaLS knows them, the stubs do not repeat them.
    static let standardLua: Set<String> = [
        "assert", "error", "ipairs", "next", "pairs", "select", "tonumber", "tostring", "type", "rawequal", "rawget",
        "rawlen", "rawset", "getmetatable", "setmetatable", "pcall", "xpcall", "collectgarbage", "print", "string",
        "table", "math", "utf8", "coroutine", "os", "_VERSION", "_G", "load",
    ]

    /// What the stubs declare: globals (a table's fields as its value), and object types' methods.
    struct Declared {
        var functions: Set<String> = []
        var modules: [String: Set<String>] = [:]
        var methods: [String: Set<String>] = [:]
    }

    static func declared(_ stubs: String) -> Declared {
        var d = Declared()
        var classOfLocal: [String: String] = [:]
        var lastClass: String?
        for raw in stubs.split(separator: "\n") {
            let line = String(raw)
            if let m = line.firstMatch(of: #/^---@class portdoctor\.([A-Za-z_]+)/#) {
                lastClass = String(m.1)
            } else if let m = line.firstMatch(of: #/^local ([A-Za-z_]+) = \{\}/#) {
                classOfLocal[String(m.1)] = lastClass ?? String(m.1)
            } else if let m = line.firstMatch(of: #/^([a-z_]+) = \{\}/#) {
                d.modules[String(m.1), default: []] = d.modules[String(m.1)] ?? []
            } else if let m = line.firstMatch(of: #/^function ([a-z_]+)\.([a-z_0-9]+)\(/#) {
                d.modules[String(m.1), default: []].insert(String(m.2))
            } else if let m = line.firstMatch(of: #/^([a-z_]+)\.([a-zA-Z_0-9]+) = /#) {
                d.modules[String(m.1), default: []].insert(String(m.2))
            } else if let m = line.firstMatch(of: #/^function ([A-Za-z_]+):([a-z_]+)\(/#) {
                d.methods[classOfLocal[String(m.1)] ?? String(m.1), default: []].insert(String(m.2))
            } else if let m = line.firstMatch(of: #/^function ([a-z_]+)\(/#) {
                d.functions.insert(String(m.1))
            }
        }
        return d
    }

    /// The runtime a check runs in, with every module `run` installs.
    static func liveRuntime() throws -> LuaRuntime {
        let pack = folder(["pack.lua": manifest(steps: ["a"]), "a.lua": passing()])
        var request = DiagnosisRequest(pack: pack.name)
        request.platform = .linux
        request.planOnly = true
        guard case .ready(let diagnosis) = try Diagnosis.prepare(request, catalog: PackCatalog(packs: [pack])) else {
            throw LuaScriptError("the API pack does not load")
        }
        return diagnosis.runtime
    }

    @Test func theStubsDeclareExactlyTheRealAPI() throws {
        let stubs = try #require(BundledChecks.supportFiles["portdoctor.lua"])
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Docs/lua/portdoctor.lua")
        #expect(try String(contentsOf: docs, encoding: .utf8) == stubs, "the binary carries another copy of the stubs")
        let declared = Self.declared(stubs)
        let runtime = try Self.liveRuntime()
        let api = runtime.apiGlobals().filter { !Self.standardLua.contains($0.key) }

        var real = Declared()
        for (name, global) in api {
            if global.kind == "table" { real.modules[name] = Set(global.fields.keys) } else { real.functions.insert(name) }
        }
        real.methods = runtime.definedTypes.mapValues(Set.init)

        #expect(real.functions.subtracting(declared.functions).sorted() == [], "functions missing from the stubs")
        #expect(declared.functions.subtracting(real.functions).sorted() == [], "functions the runtime does not have")
        #expect(Set(real.modules.keys).subtracting(declared.modules.keys).sorted() == [], "modules missing from the stubs")
        #expect(Set(declared.modules.keys).subtracting(real.modules.keys).sorted() == [], "modules the runtime does not have")
        for (module, fields) in real.modules {
            let stubbed = declared.modules[module] ?? []
            #expect(fields.subtracting(stubbed).sorted() == [], "\(module): fields missing from the stubs")
            #expect(stubbed.subtracting(fields).sorted() == [], "\(module): fields the runtime does not have")
        }
        #expect(real.methods == declared.methods, "object methods: runtime \(real.methods), stubs \(declared.methods)")
    }

    @Test func theComparisonSeesADifferenceBothWays() {
        // The parser is what the test above trusts: a stub line more or less must show.
        let d = Self.declared(
            """
            ---@class portdoctor.Connection
            local Connection = {}
            function Connection:send(data) end
            socket = {}
            function socket.connect(host, port) end
            socket.VERSION = "1"
            function pass(summary) end
            """)
        #expect(d.functions == ["pass"])
        #expect(d.modules == ["socket": ["connect", "VERSION"]])
        #expect(d.methods == ["Connection": ["send"]])
    }
}
