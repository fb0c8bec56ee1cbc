import LuaHost
import Probes

/// `pcp`: the Port Control Protocol (RFC 6887). ANNOUNCE is free; MAP makes, refreshes or deletes a
/// mapping (PCP has no request that only reads), so it works only inside a repair's apply.
enum PCPModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "pcp",
            [
                "server": HostFunction { call in
                    let family = try call.optionalString(1) ?? "ipv4"
                    switch family {
                    case "ipv4": return call.returning(Gateway.defaultIPv4().map(LuaValue.text) ?? .nil)
                    case "ipv6": return call.returning(Gateway.defaultIPv6().map(LuaValue.text) ?? .nil)
                    default: throw call.argumentError(1, "'ipv4' or 'ipv6' expected")
                    }
                },
                "announce": HostFunction { call in
                    let o = try call.optionalTable(2) ?? LuaTable()
                    guard let server = try call.optionalString(1) ?? Gateway.defaultIPv4() else {
                        return call.returning(.nil, .text("no default IPv4 gateway"))
                    }
                    guard SocketAddress(numeric: server, port: 1) != nil else {
                        throw call.argumentError(1, "a numeric IPv4 or IPv6 address expected")
                    }
                    let tries = try self.tries(call, o)
                    let serverPort = try self.serverPort(call, o)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the PCP server at \(server)"
                        PCP.announce(server: server, serverPort: serverPort, tries: tries, on: loop) {
                            pending.resume(with: [table($0)])
                        }
                    }
                },
                "map": HostFunction { call in
                    try RouterModules.requireRepair(call, "pcp.map")
                    let port = try call.port(1)
                    let o = try call.optionalTable(2) ?? LuaTable()
                    let ipv6 = o["ipv6"].boolValue ?? false
                    guard
                        let server = o["server"].stringValue
                            ?? (ipv6 ? Gateway.defaultIPv6() : Gateway.defaultIPv4())
                    else {
                        return call.returning(.nil, .text("no default \(ipv6 ? "IPv6" : "IPv4") gateway"))
                    }
                    guard SocketAddress(numeric: server, port: 1) != nil else {
                        throw call.argumentError(2, "'server' must be a numeric IPv4 or IPv6 address")
                    }
                    let lifetime = Int(o["lifetime"].intValue ?? 7200)
                    guard (0...Int(UInt32.max)).contains(lifetime) else {
                        throw call.argumentError(2, "'lifetime' must be 0 or more seconds")
                    }
                    var nonce = PCP.newNonce()
                    if let text = o["nonce"].stringValue {
                        guard let n = PCP.nonce(hex: text) else {
                            throw call.argumentError(2, "'nonce' must be 24 hex digits (from an earlier pcp.map)")
                        }
                        nonce = n
                    }
                    let proto = o["proto"].stringValue ?? "tcp"
                    guard proto == "tcp" || proto == "udp" else {
                        throw call.argumentError(2, "'proto' must be tcp or udp")
                    }
                    let external = try call.port("external_port", of: o, argument: 2, orAny: true) ?? port
                    let tries = try self.tries(call, o)
                    let serverPort = try self.serverPort(call, o)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the PCP server at \(server)"
                        PCP.map(
                            tcp: proto == "tcp", internalPort: port, suggestedPort: external,
                            lifetime: UInt32(lifetime), nonce: nonce, ipv6: ipv6, server: server,
                            serverPort: serverPort,
                            tries: tries,
                            on: loop
                        ) { pending.resume(with: [table($0)]) }
                    }
                },
            ])
    }

    /// PCP's own port, but for a test's stand-in server.
    static func serverPort(_ call: LuaCall, _ o: LuaTable) throws -> UInt16 {
        try call.port("port", of: o, argument: 2) ?? PCP.port
    }

    static func tries(_ call: LuaCall, _ o: LuaTable) throws -> Int {
        guard o["tries"] != .nil else { return PCP.defaultTries }
        guard let n = o["tries"].intValue, (1...5).contains(n) else {
            throw call.argumentError(2, "'tries' must be 1 to 5")
        }
        return Int(n)
    }

    static func table(_ a: PCP.Answer) -> LuaValue {
        var t = LuaTable()
        for (k, v) in [
            ("status", a.status), ("server", a.server), ("opcode", a.opcode), ("result_name", a.resultName),
            ("result_words", a.resultWords), ("nonce", a.nonce), ("proto", a.proto),
            ("internal_address", a.internalAddress), ("external_address", a.externalAddress),
        ] {
            if let v { t[k] = .text(v) }
        }
        for (k, v) in [
            ("tries", a.tries), ("result", a.result), ("lifetime", a.lifetime), ("epoch", a.epoch),
            ("server_version", a.serverVersion), ("internal_port", a.internalPort), ("external_port", a.externalPort),
        ] {
            if let v { t[k] = .integer(Int64(v)) }
        }
        return .table(t)
    }
}
