import LuaHost
import Probes

/// `process`: what this computer says about a process (its parents, cgroup, full program name), so
/// that a pack can tell a service's own listener from another program's.
enum ProcessModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "process",
            [
                "info": HostFunction { call in
                    let n = try call.integer(1)
                    guard n > 0, n <= Int64(Int32.max) else {
                        throw call.argumentError(1, "a pid is a positive integer")
                    }
                    let pid = Int32(n)
                    // The parent chain is one file per ancestor: a worker thread, like the socket table.
                    return try call.offload(waitingFor: "process \(pid)") {
                        ProcessTable.read(pid)
                    } results: {
                        $0.map { [table($0)] } ?? [.nil, .text("no process \(pid) (or this computer does not say)")]
                    }
                }
            ])
    }

    static func table(_ r: ProcessRecord) -> LuaValue {
        var t = LuaTable()
        t["pid"] = .integer(Int64(r.pid))
        if let p = r.ppid { t["ppid"] = .integer(Int64(p)) }
        if let c = r.comm { t["comm"] = .text(c) }
        if let p = r.program { t["program"] = .text(p) }
        if let e = r.exe { t["exe"] = .text(e) }
        if let g = r.cgroup { t["cgroup"] = .text(g) }
        if let a = r.access { t["access"] = .text(a) }
        if let e = r.accessError { t["access_error"] = .text(e) }
        t["arguments"] = .table(LuaTable(sequence: r.arguments.map(LuaValue.text)))
        t["ancestors"] = .table(LuaTable(sequence: r.ancestors.map { .integer(Int64($0)) }))
        return .table(t)
    }
}
