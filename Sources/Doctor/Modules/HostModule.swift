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
