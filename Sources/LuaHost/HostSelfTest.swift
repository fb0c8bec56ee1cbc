import Reactor

/// A short proof that the host works on this machine: runs a few checks through the real sandbox,
/// scheduler and limits (`portdoctor self-test`).
public struct HostSelfTest {
    public struct Line: Sendable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    public var lines: [Line]
    public var limits: LuaLimits
    public var passed: Bool { lines.allSatisfy(\.passed) }

    public var report: String {
        var out = [
            "portdoctor Lua host: \(LuaRuntime.luaVersion), limits per check: "
                + "\(limits.instructions) instructions, \(limits.memoryBytes >> 20) MiB, "
                + "\(limits.wallClock) wall clock"
        ]
        for line in lines {
            out.append("  \(line.passed ? "ok  " : "FAIL") \(line.name): \(line.detail)")
        }
        return out.joined(separator: "\n")
    }

    public static func run(limits userLimits: LuaLimits = .default) -> HostSelfTest {
        var lines: [Line] = []
        func record(_ name: String, _ body: () throws -> (Bool, String)) {
            do {
                let (ok, detail) = try body()
                lines.append(Line(name: name, passed: ok, detail: detail))
            } catch {
                lines.append(Line(name: name, passed: false, detail: "\(error)"))
            }
        }
        var options = LuaRuntime.Options()
        options.limits = userLimits
        let runaway = userLimits.tightened(
            by: LuaLimits(instructions: 1_000_000, memoryBytes: .max, wallClock: .seconds(5)))

        record("sandbox") {
            let runtime = try LuaRuntime(options: options)
            let result = runtime.run("return io == nil", name: "self-test/sandbox.lua")
            if case .failure(let e) = result, e.message.contains("unknown global 'io'") {
                return (true, "io, os.execute, debug and package are out of reach")
            }
            return (false, "io was reachable: \(result)")
        }
        record("suspension") {
            let runtime = try LuaRuntime(options: options)
            runtime.register(
                module: "clock",
                [
                    "sleep": HostFunction.sleep
                ])
            let chunk = try runtime.load("return clock.sleep(0.05)", name: "self-test/sleep.lua")
            let tasks = (1...3).map { runtime.spawn(chunk, name: "sleep \($0)") }
            let start = EventLoop.now()
            runtime.run()
            let ms = Double(EventLoop.now() - start) / 1e6
            let ok = tasks.allSatisfy { $0.outcome == .success([0.05]) } && ms < 1000
            return (ok, "3 checks each waiting 50 ms finished together in \(Int(ms)) ms")
        }
        record("limits") {
            let runtime = try LuaRuntime(options: options)
            let result = runtime.run("while true do end", name: "self-test/loop.lua", limits: runaway)
            if case .failure(let e) = result, e.kind == .instructionLimit {
                let after = runtime.run("return 1 + 1", name: "self-test/after.lua")
                return (after == .success([2]), "a runaway loop was stopped: \(e.description)")
            }
            return (false, "a runaway loop was not stopped: \(result)")
        }
        return HostSelfTest(lines: lines, limits: userLimits)
    }
}
