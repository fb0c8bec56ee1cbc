import BundledChecks
import Doctor
import LuaHost
import Testing

/// The Windows and macOS overlay checks, whose situations cannot happen on this Linux machine (a
/// bind denied because Windows reserved the port; a listener whose owner macOS hides), run with the
/// socket primitives answering as they do there. The bundled packs themselves are used, unchanged.
struct PlatformOverlayTests {
    /// Runs one bundled overlay check as the only step of a pack, next to the bundled packs it requires.
    static func run(
        _ checkFile: String, step: String, params: [(String, String)] = [],
        bindTest: LuaValue = ["status": "free", "holders": []], listeners: LuaValue = []
    ) throws -> Finding {
        let bundled = PackCatalog.discover(environment: [:])
        let source = try #require(BundledChecks.files[checkFile], "no bundled \(checkFile)")
        let pack = folder([
            "pack.lua": manifest(
                steps: [step],
                params: """
                    port = { type = "port", default = 4242, doc = "p" }, program = { type = "string", doc = "p" },
                    role = { type = "choice", choices = { "destination", "source" }, default = "destination", doc = "r" }
                    """),
            "\(step).lua": source,
        ])
        var request = DiagnosisRequest(pack: "demo")
        request.parameters.commandLine = params
        let catalog = PackCatalog(packs: bundled.packs + [pack])
        let prepared = try Diagnosis.prepare(request, catalog: catalog) { runtime in
            runtime.register(module: "socket", ["bind_test": HostFunction { call in call.returning(bindTest) }])
            runtime.register(module: "netstat", ["listeners": HostFunction { call in call.returning(listeners) }])
        }
        guard case .ready(let diagnosis) = prepared else { throw Failure("the pack did not load") }
        return try #require(diagnosis.run().findings.first)
    }

    struct Failure: Error { var text: String; init(_ t: String) { text = t } }

    @Test func windowsNamesAReservedPortRange() throws {
        let f = try Self.run(
            "crashplan/overlays/windows/listen-port.lua", step: "listen-port",
            bindTest: ["status": "denied", "holders": []])
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "port-in-use")
        #expect(f.summary == "TCP 4242 is in a range Windows reserves for itself (binding it is denied)")
        #expect(f.advice.first == "See the reserved ranges: netsh interface ipv4 show excludedportrange protocol=tcp")
        #expect(f.advice.last?.contains("startport=4242 numberofports=1") == true)
    }

    @Test func windowsLeavesAFreePortToTheSharedStep() throws {
        let f = try Self.run("crashplan/overlays/windows/listen-port.lua", step: "listen-port")
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "TCP 4242 is free (the service can listen on it)")
    }

    static func listener(owner: LuaValue) -> LuaValue {
        var t: [LuaValue: LuaValue] = ["family": "ipv4", "scope": "loopback-only", "local": ["text": "127.0.0.1:4243"]]
        if owner != .nil { t["owner"] = owner }
        return [.table(LuaTable(fields: t))]
    }

    @Test func macOSSaysWhenOnlyAnAdministratorCanSeeTheOwner() throws {
        let f = try Self.run(
            "crashplan/overlays/macos/engine-port.lua", step: "engine-port", listeners: Self.listener(owner: .nil))
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.summary == "something listens on TCP 4243, but macOS only says who with administrator rights")
        #expect(f.advice.first?.contains("sudo lsof -nP -iTCP:4243 -sTCP:LISTEN") == true)
    }

    @Test func macOSNamesAnotherProgramOnTheEnginePort() throws {
        let f = try Self.run(
            "crashplan/overlays/macos/engine-port.lua", step: "engine-port", params: [("program", "CrashPlanService")],
            listeners: Self.listener(owner: ["program": "node", "pid": 812]))
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "port-in-use")
        #expect(
            f.summary
                == "TCP 4243 is held by node (pid 812): the app cannot reach its backup engine (its program is node, not CrashPlanService)"
        )
    }
}
