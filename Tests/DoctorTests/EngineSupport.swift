import Doctor
import Foundation
import LuaHost

/// Host modules the engine tests use, registered in the run's runtime:
/// `clock.sleep(s)` waits on the loop; `trace.mark(text)` records order; `state.get/set(key[, value])`
/// keeps values across checks and repairs (like a real service being restarted would).
final class TestHost {
    var marks: [String] = []
    var state: [String: LuaValue] = [:]

    init(state: [String: LuaValue] = [:]) { self.state = state }

    func install(_ runtime: LuaRuntime) {
        runtime.register(module: "clock", ["sleep": HostFunction.sleep])
        runtime.register(
            module: "trace",
            [
                "mark": HostFunction { [unowned self] call in
                    self.marks.append(try call.string(1))
                    return .none
                }
            ])
        runtime.register(
            module: "state",
            [
                "get": HostFunction { [unowned self] call in call.returning(self.state[try call.string(1)] ?? .nil) },
                "set": HostFunction { [unowned self] call in
                    self.state[try call.string(1)] = try call.value(2)
                    return .none
                },
            ])
    }
}

/// A pack in memory: file name → Lua source. Manifests default to running every check file in name order.
func folder(_ files: [String: String], name: String = "demo") -> PackFolder {
    PackFolder(name: name, origin: .path("/test/\(name)"), files: files)
}

func manifest(_ id: String = "demo", steps: [String], params: String = "", extra: String = "") -> String {
    """
    return pack {
      id = "\(id)", version = "1.2.3", title = "Demo pack",
      params = { \(params) },
      steps = { \(steps.map { "\"\($0)\"" }.joined(separator: ", ")) },
      \(extra)
    }
    """
}

func passing(_ title: String = "A check", needs: [String] = [], body: String = "return pass('fine')") -> String {
    """
    return check {
      title = "\(title)",
      needs = { \(needs.map { "\"\($0)\"" }.joined(separator: ", ")) },
      run = function(ctx)
        \(body)
      end,
    }
    """
}

struct Outcome {
    var report: Report
    var host: TestHost
    var plan: Plan?

    func finding(_ id: String) -> Finding? { report.findings.first { $0.id == id } }
    func status(_ id: String) -> CheckStatus? { finding(id)?.status }
}

/// Loads, plans and runs a pack the way `portdoctor run` does.
func diagnose(
    _ pack: PackFolder, overlays: [PackFolder] = [], userOverlays: [String] = [], host: TestHost = TestHost(),
    configure: (inout DiagnosisRequest) -> Void = { _ in }
) throws -> Outcome {
    var request = DiagnosisRequest(pack: pack.name)
    request.platform = .linux
    request.userOverlays = userOverlays
    configure(&request)

    switch try Diagnosis.prepare(
        request, catalog: PackCatalog(packs: [pack], overlays: overlays), configure: host.install)
    {
    case .unloadable(let report): return Outcome(report: report, host: host, plan: nil)
    case .ready(let diagnosis): return Outcome(report: diagnosis.run(), host: host, plan: diagnosis.plan)
    }
}

/// Writes a pack folder to a fresh temporary directory (removed by the caller).
func writeFolder(_ files: [String: String]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portdoctor-test-\(UUID().uuidString)")
    for (path, text) in files {
        let url = dir.appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try text.write(to: url, atomically: true, encoding: .utf8)
    }
    return dir
}
