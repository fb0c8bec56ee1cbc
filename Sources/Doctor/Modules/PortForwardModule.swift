import LuaHost
import Probes

/// `portforward`: the tests only the outside can do. `reflect` asks a reflector (`portdoctor listen`
/// on the other computer) what address it sees and, optionally, to connect back to a port here.
enum PortForwardModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "portforward",
            [
                "reflect": HostFunction { call in
                    let host = try call.string(1)
                    guard !host.isEmpty else { throw call.argumentError(1, "host name is empty") }
                    let o = try call.optionalTable(2) ?? LuaTable()
                    func port(_ key: String) throws -> UInt16? {
                        guard o[key] != .nil else { return nil }
                        guard let p = o[key].intValue, (1...65535).contains(p) else {
                            throw call.argumentError(2, "'\(key)' must be 1 to 65535")
                        }
                        return UInt16(p)
                    }
                    let reflectorPort = try port("port") ?? ReflectorProtocol.defaultPort
                    let connectBack = try port("connect_back")
                    let timeout = try SocketModule.seconds(o["timeout"], call: call, index: 2, default: 5)
                    let token = o["token"].stringValue
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the reflector at \(host):\(reflectorPort)"
                        ReflectorClient.ask(
                            host: host, port: reflectorPort, connectBack: connectBack, token: token, timeout: timeout,
                            on: loop
                        ) { outcome in pending.resume(with: [table(outcome)]) }
                    }
                }
            ])
    }

    static func table(_ o: ReflectorClient.Outcome) -> LuaValue {
        var t = LuaTable()
        switch o {
        case .reply(let r):
            t["reached"] = true
            t["ok"] = .boolean(r.ok)
            if let seen = r.seen { t["seen"] = .text(seen) }
            if let e = r.error { t["error"] = .text(e) }
            if let cb = r.connect_back {
                var c = LuaTable()
                c["port"] = .integer(Int64(cb.port))
                c["status"] = .text(cb.status)
                if let rtt = cb.rtt_ms { c["rtt_ms"] = .number(rtt) }
                if let e = cb.error { c["error"] = .text(e) }
                t["connect_back"] = .table(c)
            }
        case .unreachable(let c):
            t["reached"] = false
            t["ok"] = false
            t["connect"] = Convert.table(c)
            t["error"] = .text("cannot reach the reflector: \(c.status.rawValue)")
        case .garbled(let text):
            t["reached"] = true
            t["ok"] = false
            t["error"] = .text("not a portdoctor reflector: \(text)")
        }
        return .table(t)
    }
}
