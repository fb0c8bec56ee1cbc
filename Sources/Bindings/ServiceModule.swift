import LuaHost
import Probes

/// `service`: is a service installed and running; the exact restart command; restarting (repairs only).
enum ServiceModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "service",
            [
                "status": HostFunction { call in
                    let name = try serviceName(call)
                    let manager = try managerOption(call)
                    let config = try configOption(call)
                    return try call.offload(waitingFor: "the status of \(name)") {
                        Services.status(name, manager: manager, config: config)
                    } results: {
                        $0.map { [table($0)] } ?? [.nil, .text("no service manager found on this computer")]
                    }
                },
                "restart_command": HostFunction { call in
                    let name = try serviceName(call)
                    guard let manager = try managerOption(call) ?? Services.detect().first else {
                        return call.returning(.nil, .text("no service manager found on this computer"))
                    }
                    // Only supervisord's command names its config file; only then is the process table read.
                    let config =
                        manager == .supervisord ? try configOption(call) ?? Services.runningSupervisordConfig() : nil
                    return call.returning(
                        .text(
                            Services.restartCommands(name, manager, config: config).map { $0.joined(separator: " ") }
                                .joined(separator: " && ")))
                },
                "restart": HostFunction { call in
                    guard call.runtime.currentTask?.mayChangeSystem == true else {
                        throw LuaScriptError(
                            "service.restart changes this computer: call it only from a repair's apply function, "
                                + "which runs with the person's consent (--fix)")
                    }
                    let name = try serviceName(call)
                    let options = try call.optionalTable(2) ?? LuaTable()
                    let port = try call.port("port", of: options, argument: 2)
                    let timeout = try SocketModule.seconds(options["timeout"], call: call, index: 2, default: 30)
                    let config = try configOption(call)
                    guard
                        let manager = try managerOption(call) ?? Services.status(name, config: config)?.manager
                            ?? Services.detect().first
                    else {
                        return call.returning(.nil, .text("no service manager found on this computer"))
                    }
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "\(name) to come back"
                        Services.restart(
                            name, manager: manager, port: port, timeout: timeout, config: config, on: loop
                        ) { r in
                            var t = LuaTable()
                            t["seconds"] = .number((r.seconds * 100).rounded() / 100)
                            if let l = r.listening { t["listening"] = .boolean(l) }
                            if let s = r.status { t["status"] = table(s) }
                            // `nil, why` on failure, as every action; `if not ok` reads both.
                            pending.resume(with: [r.ok ? .boolean(true) : .nil, .text(r.detail), .table(t)])
                        }
                    }
                },
            ])
    }

    static func serviceName(_ call: LuaCall) throws -> String {
        let name = try call.string(1)
        guard !name.isEmpty, !name.contains(where: { $0 == "\n" || $0 == "\0" }) else {
            throw call.argumentError(1, "a service name is one line of text")
        }
        return name
    }

    static func managerOption(_ call: LuaCall) throws -> ServiceManager? {
        guard let options = try call.optionalTable(2), let text = options["manager"].stringValue else { return nil }
        guard let m = ServiceManager(rawValue: text) else {
            throw call.argumentError(
                2, "'manager' must be one of \(ServiceManager.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        return m
    }

    /// `config`: supervisord's config file (supervisorctl -c FILE), when a person keeps it elsewhere.
    static func configOption(_ call: LuaCall) throws -> String? {
        guard let options = try call.optionalTable(2), options["config"] != .nil else { return nil }
        guard let text = options["config"].stringValue, !text.isEmpty, !text.contains("\0") else {
            throw call.argumentError(2, "'config' must be a file's path")
        }
        return text
    }

    static func table(_ s: ServiceStatus) -> LuaValue {
        var t = LuaTable()
        t["manager"] = .text(s.manager.rawValue)
        t["name"] = .text(s.name)
        t["installed"] = .boolean(s.installed)
        t["running"] = .boolean(s.running)
        t["state"] = .text(s.state)
        if let p = s.pid { t["pid"] = .integer(Int64(p)) }
        if let x = s.seconds { t["seconds"] = .integer(Int64(x)) }
        if let e = s.enabled { t["enabled"] = .boolean(e) }
        if let g = s.cgroup { t["cgroup"] = .text(g) }
        if let a = s.access { t["access"] = .text(a) }
        if let e = s.accessError { t["access_error"] = .text(e) }
        return .table(t)
    }
}
