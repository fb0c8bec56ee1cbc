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
                        let v = Firewall.verdict(for: q)
                        var ok = v.decision == .allow
                        var detail = ok ? "already allowed" : (v.note ?? "no command to open it with \(v.tool)")
                        if !ok, let commands = v.fixCommands {
                            ok = true
                            for argv in commands where ok {
                                ok = Services.tool(argv[0]).map { ChildProcess.run([$0] + argv.dropFirst()) } ?? false
                                detail = ok ? argv.joined(separator: " ") : "failed: \(argv.joined(separator: " "))"
                            }
                        }
                        return (ok, detail)
                    } results: {
                        // `nil, why` on failure, as every action (Docs/lua-api.md); `if not ok` reads both.
                        [$0.0 ? .boolean(true) : .nil, .text($0.1)]
                    }
                },
            ])
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
