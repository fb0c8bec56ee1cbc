import LuaHost
import Probes

/// `firewall`: what this computer's firewall does with a connection, and (in repairs only) opening a port.
enum FirewallModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "firewall",
            [
                "check": HostFunction { call in
                    let q = try question(call)
                    return try call.offload(waitingFor: "the firewall rules") {
                        Firewall.verdict(for: q)
                    } results: {
                        [table($0, family: q.isIPv6 ? .ipv6 : .ipv4)]
                    }
                },
                "open": HostFunction { call in
                    guard call.runtime.currentTask?.mayChangeSystem == true else {
                        throw LuaScriptError(
                            "firewall.open changes this computer: call it only from a repair's apply function, "
                                + "which runs with the person's consent (--fix)")
                    }
                    let q = try question(call)
                    return try call.offload(waitingFor: "the firewall change") { () -> (Bool, String) in
                        open(Firewall.verdict(for: q))
                    } results: {
                        // `nil, why` on failure, as every action (Docs/lua-api.md); `if not ok` reads both.
                        [$0.0 ? .boolean(true) : .nil, .text($0.1)]
                    }
                },
            ])
    }

    /// Runs the verdict's fix: the port's, then over IPv6 neighbour discovery's when it is refused
    /// (without it nothing arrives over IPv6, the port open or not). (done, what was run or why not)
    static func open(_ v: FirewallVerdict) -> (Bool, String) {
        let nd = v.neighbourDiscovery
        let ndRefused = nd.map { $0.decision == .drop || $0.decision == .reject } ?? false
        if v.decision == .allow && !ndRefused { return (true, "already allowed") }
        var commands: [[String]] = []
        if v.decision != .allow {
            guard let port = v.fixCommands else { return (false, v.note ?? "no command to open it with \(v.tool)") }
            commands += port
        }
        if ndRefused {
            guard let allow = nd?.fixCommands else {
                return (false, "no command to let ICMPv6 neighbour discovery in with \(v.tool)")
            }
            commands += allow
        }
        var detail = ""
        for argv in commands {
            guard Services.tool(argv[0]).map({ ChildProcess.run([$0] + argv.dropFirst()) }) ?? false else {
                return (false, "failed: \(argv.joined(separator: " "))")
            }
            detail = argv.joined(separator: " ")
        }
        return (true, detail)
    }

    /// `{ port =, direction = "in"|"out", proto = "tcp"|"udp", remote =, interface =, program =,
    /// family = "ipv4"|"ipv6" }` (family: when no remote says it; default IPv4)
    static func question(_ call: LuaCall) throws -> FirewallQuestion {
        let t = try call.table(1)
        guard let port = try call.port("port", of: t, argument: 1) else {
            throw call.argumentError(1, "'port' is missing: the port asked about")
        }
        let direction = t["direction"].stringValue ?? "in"
        guard direction == "in" || direction == "out" else {
            throw call.argumentError(1, "'direction' must be 'in' or 'out'")
        }
        guard let proto = SocketEntry.Proto(rawValue: t["proto"].stringValue ?? "tcp") else {
            throw call.argumentError(1, "'proto' must be 'tcp' or 'udp'")
        }
        var family: FirewallQuestion.Family?
        if let f = t["family"].stringValue {
            guard let known = FirewallQuestion.Family(rawValue: f) else {
                throw call.argumentError(1, "'family' must be 'ipv4' or 'ipv6'")
            }
            family = known
        }
        return FirewallQuestion(
            direction: direction == "in" ? .inbound : .outbound, proto: proto, port: port,
            remote: t["remote"].stringValue, interface: t["interface"].stringValue,
            program: t["program"].stringValue, family: family)
    }

    /// The verdict as Lua sees it, with the family it is for (a step that asks for both keeps both).
    static func table(_ v: FirewallVerdict, family: FirewallQuestion.Family) -> LuaValue {
        var t = LuaTable()
        t["family"] = .text(family.rawValue)
        t["decision"] = .text(v.decision.rawValue)
        t["tool"] = .text(v.tool)
        if let r = v.rule { t["rule"] = .text(r) }
        if let n = v.note { t["note"] = .text(n) }
        if let f = v.fix { t["fix"] = .text(f) }
        if let nd = v.neighbourDiscovery { t["neighbour_discovery"] = table(nd) }
        return .table(t)
    }

    /// `neighbour_discovery`: whether incoming ICMPv6 neighbour discovery gets in (IPv6 only).
    static func table(_ nd: NeighbourDiscoveryVerdict) -> LuaValue {
        var t = LuaTable()
        t["decision"] = .text(nd.decision.rawValue)
        t["packet"] = .text(nd.packet.rawValue)
        if let r = nd.rule { t["rule"] = .text(r) }
        if let n = nd.note { t["note"] = .text(n) }
        if let f = nd.fix { t["fix"] = .text(f) }
        return .table(t)
    }
}
