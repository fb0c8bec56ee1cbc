import LuaHost
import Probes

/// `upnp`'s IPv6 pinhole functions (IGD:2 WANIPv6FirewallControl). Reading the firewall's status
/// and whether a pinhole works is free; opening or closing one changes the router: repairs only.
enum PinholeFunctions {
    static var all: [String: HostFunction] {
        [
            "firewall_status": HostFunction { call in
                let g = try RouterModules.gateway(call, 1)
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    pending.waitingFor = "the router's IPv6 firewall (UPnP)"
                    UPnP.firewallStatus(g, on: loop) { r in
                        switch r {
                        case .success(let s): pending.resume(with: [table(s)])
                        case .failure(let e): pending.resume(with: RouterModules.failure(e))
                        }
                    }
                }
            },
            "add_pinhole": HostFunction { call in
                try RouterModules.requireRepair(call, "upnp.add_pinhole")
                let g = try RouterModules.gateway(call, 1)
                let port = try call.port(2)
                let o = try call.optionalTable(3) ?? LuaTable()
                guard let address = o["address"].stringValue ?? HostAddresses.stableGlobalIPv6() else {
                    return call.returning(.nil, .text("this computer has no stable global IPv6 address"))
                }
                guard SocketAddress(numeric: address, port: 1)?.family == .ipv6 else {
                    throw call.argumentError(3, "'address' must be an IPv6 address")
                }
                let lease = Int(o["lease"].intValue ?? 7200)
                guard (1...86400).contains(lease) else {
                    throw call.argumentError(3, "'lease' must be 1 to 86400 seconds")
                }
                let proto = (o["proto"].stringValue ?? "tcp").uppercased()
                guard proto == "TCP" || proto == "UDP" else {
                    throw call.argumentError(3, "'proto' must be tcp or udp")
                }
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    UPnP.addPinhole(
                        g, internalClient: address, internalPort: port, proto: proto, lease: lease, on: loop
                    ) {
                        r in
                        switch r {
                        case .success(let p):
                            pending.resume(with: [
                                true, .text("\(proto) [\(address)]:\(port) open from anywhere for \(lease) s"),
                                table(p),
                            ])
                        case .failure(let e): pending.resume(with: RouterModules.failure(e))
                        }
                    }
                }
            },
            "check_pinhole": HostFunction { call in
                let g = try RouterModules.gateway(call, 1)
                let id = try call.integer(2)
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    UPnP.checkPinholeWorking(g, id: Int(id), on: loop) { r in
                        switch r {
                        case .success(let w): pending.resume(with: [.boolean(w)])
                        case .failure(let e): pending.resume(with: RouterModules.failure(e))
                        }
                    }
                }
            },
            "delete_pinhole": HostFunction { call in
                try RouterModules.requireRepair(call, "upnp.delete_pinhole")
                let g = try RouterModules.gateway(call, 1)
                let id = try call.integer(2)
                let loop = call.runtime.loop
                return try call.suspend { pending in
                    UPnP.deletePinhole(g, id: Int(id), on: loop) { r in
                        switch r {
                        case .success: pending.resume(with: [true])
                        case .failure(let e): pending.resume(with: RouterModules.failure(e))
                        }
                    }
                }
            },
        ]
    }

    static func table(_ s: UPnP.FirewallStatus) -> LuaValue {
        ["enabled": .boolean(s.enabled), "inbound_pinhole_allowed": .boolean(s.inboundPinholeAllowed)]
    }

    static func table(_ p: UPnP.Pinhole) -> LuaValue {
        [
            "id": .integer(Int64(p.id)), "internal_client": .text(p.internalClient),
            "internal_port": .integer(Int64(p.internalPort)), "proto": .text(p.proto),
            "lease": .integer(Int64(p.lease)),
        ]
    }
}
