import LuaHost
import Probes

/// `portforward`: the tests only the outside can do. `reflect` asks a reflector (`portdoctor listen`
/// on the other computer) what address it sees and, optionally, to connect back to a port here.
enum PortForwardModule {
    /// `discovery`: the run's UPnP discovery, shared with vendor selection and `upnp.discover`.
    static func install(_ runtime: LuaRuntime, discovery: UPnP.Discovery = UPnP.Discovery()) {
        runtime.register(
            module: "portforward",
            [
                "reflect": HostFunction { call in
                    let host = try call.string(1)
                    guard !host.isEmpty else { throw call.argumentError(1, "host name is empty") }
                    let o = try call.optionalTable(2) ?? LuaTable()
                    let reflectorPort = try call.port("port", of: o, argument: 2) ?? ReflectorProtocol.defaultPort
                    let connectBack = try call.port("connect_back", of: o, argument: 2)
                    let timeout = try SocketModule.seconds(o["timeout"], call: call, index: 2, default: 5)
                    let token = o["token"].stringValue
                    let from = o["from"].stringValue  // the connect-back then goes to this address
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the reflector at \(SocketAddress.text(host: host, port: Int(reflectorPort)))"
                        ReflectorClient.ask(
                            host: host, port: reflectorPort, connectBack: connectBack, token: token, timeout: timeout,
                            source: from, on: loop
                        ) { outcome in pending.resume(with: [table(outcome)]) }
                    }
                },
                "survey": HostFunction { call in
                    let port = try call.port(1)
                    let o = try call.optionalTable(2) ?? LuaTable()
                    let reflector = o["reflector"].stringValue
                    let reflectorPort =
                        try call.port("reflector_port", of: o, argument: 2) ?? ReflectorProtocol.defaultPort
                    let token = o["token"].stringValue
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the router, the reflector and the first hops"
                        NATSurvey.run(
                            port: port, reflector: reflector, reflectorPort: reflectorPort, token: token,
                            discovery: discovery, on: loop
                        ) { r in
                            pending.resume(with: [survey(r)])
                        }
                    }
                },
            ])
    }

    /// The survey's evidence, as checks get it (and `probe nat` prints it): what was seen, no verdict.
    static func survey(_ r: NATSurvey.Result) -> LuaValue {
        var ev = LuaTable()
        let e = r.evidence
        ev["local_addresses"] = .table(LuaTable(sequence: e.localAddresses.map(LuaValue.text)))
        ev["hops"] = .table(LuaTable(sequence: e.hops.map(LuaValue.text)))
        ev["hop_probes"] = .table(
            LuaTable(
                sequence: e.hopProbes.map { h in
                    var t = LuaTable()
                    t["ttl"] = .integer(Int64(h.ttl))
                    if let a = h.address { t["address"] = .text(a) }
                    if let k = h.kind { t["kind"] = .text(k) }
                    return .table(t)
                }))
        for (k, v) in [
            ("router_wan", e.routerWAN), ("router_wan_refused", e.routerWANRefused),
            ("public_address", e.publicAddress), ("mapping_client", e.mappingClient),
            ("mapping_error", e.mappingError), ("connect_back", e.connectBack),
            ("connect_back_error", e.connectBackError), ("connect_back_to", e.connectBackTo),
            ("default_gateway", e.defaultGateway), ("natpmp_status", e.natpmpStatus),
            ("reflector", e.reflector), ("reflector_address", e.reflectorAddress),
            ("reflector_unresolved", e.reflectorUnresolved), ("reflector_error", e.reflectorError),
        ] {
            if let v { ev[k] = .text(v) }
        }
        if let m = e.mapping {
            ev["mapping_port"] = .integer(Int64(m.internalPort))
            ev["mapping"] = RouterModules.table(m)
        }
        if let p = e.port { ev["port"] = .integer(Int64(p)) }
        if let a = e.arrivals { ev["arrivals"] = arrivals(a) }
        if let t = e.connectBackTrace {
            ev["connect_back_trace"] = .table(
                LuaTable(
                    sequence: t.map { h in
                        var row = LuaTable()
                        row["ttl"] = .integer(Int64(h.ttl))
                        row["status"] = .text(h.status)
                        if let from = h.from { row["from"] = .text(from) }
                        return .table(row)
                    }))
        }
        if let n = e.connectBackErrno { ev["connect_back_errno"] = .integer(Int64(n)) }
        if let t = e.connectBackRTT { ev["connect_back_rtt_ms"] = .number(t) }
        if let n = e.natpmpResult { ev["natpmp_result"] = .integer(Int64(n)) }
        if let d = e.defaultRoute { ev["default_route"] = .boolean(d) }
        if let u = e.upnpAnswered { ev["upnp"] = .boolean(u) }
        if let n = e.natpmpAnswered { ev["natpmp"] = .boolean(n) }
        if let g = e.gateway { ev["gateway"] = RouterModules.table(g) }
        return .table(ev)
    }

    /// `arrivals`: { syn_ports = { … }, gateway_asked = { … }, error = "…" } (error: nothing was watched).
    static func arrivals(_ a: ArrivalWatch.Seen) -> LuaValue {
        var t = LuaTable()
        t["syn_ports"] = .table(LuaTable(sequence: a.synPorts.map { .integer(Int64($0)) }))
        t["gateway_asked"] = .table(LuaTable(sequence: a.gatewayAsked.map(LuaValue.text)))
        if let error = a.error { t["error"] = .text(error) }
        return .table(t)
    }

    static func table(_ o: ReflectorClient.Outcome) -> LuaValue {
        var t = LuaTable()
        switch o {
        case .reply(let r):
            t["reached"] = true
            t["ok"] = .boolean(r.ok)
            // The probe's one status word (reached/ok stay for the packs that read them).
            t["status"] = r.ok ? "answered" : "refused"
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
            t["status"] = "unreachable"
            t["reached"] = false
            t["ok"] = false
            t["connect"] = Convert.table(c)
            t["error"] = .text("cannot reach the reflector: \(c.status.rawValue)")
        case .garbled(let text):
            t["status"] = "garbled"
            t["reached"] = true
            t["ok"] = false
            t["error"] = .text("not a portdoctor reflector: \(text)")
        }
        return .table(t)
    }
}

/// `upnp` and `natpmp`: asking the router. Reading is free; adding or removing a forward changes
/// the router, so it works only inside a repair's apply.
enum RouterModules {
    static func install(_ runtime: LuaRuntime, discovery: UPnP.Discovery = UPnP.Discovery()) {
        runtime.register(
            module: "upnp",
            [
                "discover": HostFunction { call in
                    let wait = try SocketModule.seconds(call, 1, default: 2)
                    let ipv6 = try call.optionalTable(2)?["ipv6"].boolValue ?? false
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "routers to answer (UPnP)"
                        // IPv4: asked once per run, later calls get the first answer at once. IPv6
                        // (for IGD:2 pinholes) is asked when a check wants it.
                        let done: ([UPnP.Gateway]) -> Void = { gateways in
                            pending.resume(with: [.table(LuaTable(sequence: gateways.map(table)))])
                        }
                        if ipv6 {
                            UPnP.discover(wait: wait, ipv6: true, on: loop, done)
                        } else {
                            discovery.discover(wait: wait, on: loop, done)
                        }
                    }
                },
                "external_address": HostFunction { call in
                    let g = try gateway(call, 1)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        UPnP.externalAddress(g, on: loop) { r in
                            switch r {
                            case .success(let a): pending.resume(with: [.text(a)])
                            case .failure(let e): pending.resume(with: failure(e))
                            }
                        }
                    }
                },
                "mapping": HostFunction { call in
                    let g = try gateway(call, 1)
                    let port = try call.port(2)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        UPnP.mapping(g, externalPort: port, on: loop) { r in
                            switch r {
                            case .success(let m): pending.resume(with: [table(m)])
                            case .failure(let e): pending.resume(with: failure(e))
                            }
                        }
                    }
                },
                "mappings": HostFunction { call in
                    let g = try gateway(call, 1)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        UPnP.mappings(g, on: loop) { r in
                            switch r {
                            case .success(let all): pending.resume(with: [.table(LuaTable(sequence: all.map(table)))])
                            case .failure(let e): pending.resume(with: failure(e))
                            }
                        }
                    }
                },
                "add_mapping": HostFunction { call in
                    try requireRepair(call, "upnp.add_mapping")
                    let g = try gateway(call, 1)
                    let port = try call.port(2)
                    let me = UPnP.localAddress(toward: g) ?? ""
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        UPnP.addMapping(g, externalPort: port, internalClient: me, internalPort: port, on: loop) { r in
                            switch r {
                            case .success(let m):
                                let how = m.lease == 0 ? "permanent" : "lease \(m.lease) s"
                                pending.resume(with: [true, .text("TCP \(port) → \(me):\(port) (\(how))"), table(m)])
                            case .failure(let e): pending.resume(with: failure(e))
                            }
                        }
                    }
                },
                "delete_mapping": HostFunction { call in
                    try requireRepair(call, "upnp.delete_mapping")
                    let g = try gateway(call, 1)
                    let port = try call.port(2)
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        UPnP.deleteMapping(g, externalPort: port, on: loop) { r in
                            switch r {
                            case .success: pending.resume(with: [true])
                            case .failure(let e): pending.resume(with: failure(e))
                            }
                        }
                    }
                },
            ].merging(PinholeFunctions.all) { a, _ in a })
        runtime.register(
            module: "natpmp",
            [
                "gateway": HostFunction { call in call.returning(Gateway.defaultIPv4().map(LuaValue.text) ?? .nil) },
                "external_address": HostFunction { call in
                    let gw = try call.optionalString(1) ?? Gateway.defaultIPv4() ?? ""
                    guard SocketAddress(numeric: gw, port: 1)?.family == .ipv4 else {
                        return call.returning(.nil, .text("no default IPv4 gateway"))
                    }
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the router (NAT-PMP)"
                        NATPMP.externalAddress(gateway: gw, on: loop) { pending.resume(with: [table($0)]) }
                    }
                },
                "map": HostFunction { call in
                    try requireRepair(call, "natpmp.map")
                    let port = try call.port(1)
                    let lifetime = UInt32(clamping: try call.optionalInteger(2) ?? 7200)
                    guard let gw = Gateway.defaultIPv4() else {
                        return call.returning(.nil, .text("no default IPv4 gateway"))
                    }
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        NATPMP.map(internalPort: port, externalPort: port, lifetime: lifetime, gateway: gw, on: loop) {
                            pending.resume(with: [table($0)])
                        }
                    }
                },
            ])
    }

    static func requireRepair(_ call: LuaCall, _ name: String) throws {
        guard call.runtime.currentTask?.mayChangeSystem == true else {
            throw LuaScriptError(
                "\(name) changes the router: call it only from a repair's apply function, "
                    + "which runs with the person's consent (--fix)")
        }
    }

    static func failure(_ e: UPnP.Failure) -> [LuaValue] {
        [.nil, .text(e.description), e.code.map { .integer(Int64($0)) } ?? .nil]
    }

    /// A gateway table from `upnp.discover`, back into the probe's type.
    static func gateway(_ call: LuaCall, _ index: Int32) throws -> UPnP.Gateway {
        let t = try call.table(index)
        guard let location = t["location"].stringValue else {
            throw call.argumentError(index, "a gateway from upnp.discover() expected")
        }
        return UPnP.Gateway(
            location: location, server: t["server"].stringValue, manufacturer: t["manufacturer"].stringValue,
            model: t["model"].stringValue, friendlyName: t["friendly_name"].stringValue,
            serviceType: t["service_type"].stringValue, controlURL: t["control_url"].stringValue,
            firewallServiceType: t["firewall_service_type"].stringValue,
            firewallControlURL: t["firewall_control_url"].stringValue)
    }

    static func table(_ g: UPnP.Gateway) -> LuaValue {
        var t = LuaTable()
        t["location"] = .text(g.location)
        for (k, v) in [
            ("server", g.server), ("manufacturer", g.manufacturer), ("model", g.model),
            ("friendly_name", g.friendlyName), ("service_type", g.serviceType), ("control_url", g.controlURL),
            ("firewall_service_type", g.firewallServiceType), ("firewall_control_url", g.firewallControlURL),
        ] {
            if let v { t[k] = .text(v) }
        }
        return .table(t)
    }

    static func table(_ m: UPnP.Mapping) -> LuaValue {
        [
            "external_port": .integer(Int64(m.externalPort)), "proto": .text(m.proto),
            "internal_client": .text(m.internalClient),
            "internal_port": .integer(Int64(m.internalPort)), "enabled": .boolean(m.enabled),
            "description": .text(m.description),
            "lease": .integer(Int64(m.lease)),
        ]
    }

    static func table(_ a: NATPMP.Answer) -> LuaValue {
        var t = LuaTable()
        t["status"] = .text(a.status)
        t["gateway"] = .text(a.gateway)
        if let r = a.result { t["result"] = .integer(Int64(r)) }
        if let w = a.resultWords { t["result_words"] = .text(w) }
        if let e = a.externalAddress { t["external_address"] = .text(e) }
        if let p = a.externalPort { t["external_port"] = .integer(Int64(p)) }
        if let p = a.internalPort { t["internal_port"] = .integer(Int64(p)) }
        if let l = a.lifetime { t["lifetime"] = .integer(Int64(l)) }
        return .table(t)
    }
}
