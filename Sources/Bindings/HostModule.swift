import LuaHost
import Probes

/// `host`: this computer's own addresses, with the kind of each IPv6 one (stable, temporary,
/// deprecated) — what a pinhole or a DNS name should point at.
enum HostModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "host",
            [
                "addresses": HostFunction { call in
                    let family = try call.optionalString(1)
                    guard family == nil || family == "ipv4" || family == "ipv6" else {
                        throw call.argumentError(1, "'ipv4' or 'ipv6' expected")
                    }
                    let all = HostAddresses.list().filter { family == nil || $0.family.rawValue == family }
                    return call.returning(.table(LuaTable(sequence: all.map(table))))
                },
                // Whether this computer has a way out at all: without a default route nothing beyond
                // its own networks can be reached, whatever the other computer or the router do.
                "default_route": HostFunction { call in
                    var t = LuaTable()
                    if let v4 = Gateway.hasDefaultIPv4Route() { t["ipv4"] = .boolean(v4) }
                    if let g = Gateway.defaultIPv4() { t["gateway"] = .text(g) }
                    if let g6 = Gateway.defaultIPv6() { t["ipv6_gateway"] = .text(g6) }
                    return call.returning(.table(t))
                },
                "stable_ipv6": HostFunction { call in
                    call.returning(HostAddresses.stableGlobalIPv6().map(LuaValue.text) ?? .nil)
                },
            ])
    }

    static func table(_ a: HostAddress) -> LuaValue {
        var t = LuaTable()
        t["interface"] = .text(a.interface)
        t["ip"] = .text(a.ip)
        t["family"] = .text(a.family.rawValue)
        t["prefix_length"] = .integer(Int64(a.prefixLength))
        t["scope"] = .text(a.scope)
        if let k = a.kind { t["kind"] = .text(k) }
        t["temporary"] = .boolean(a.temporary)
        t["deprecated"] = .boolean(a.deprecated)
        t["unique_local"] = .boolean(a.uniqueLocal)
        return .table(t)
    }
}
