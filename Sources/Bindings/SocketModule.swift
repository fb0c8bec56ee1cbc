import LuaHost
import Probes
import Reactor

/// `socket`: the connection test, connected-socket I/O and the bind test, for checks.
/// Misuse raises; every network outcome is a result table.
enum SocketModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.defineType(
            Connection.self, name: "Connection",
            methods: [
                "send": { conn, call in
                    let data = try call.bytes(2)
                    let timeout = try seconds(call, 3, default: 5)
                    return try call.suspend { pending in
                        conn.send(data, timeout: timeout) { result in
                            switch result {
                            case .success(let n): pending.resume(with: [.integer(Int64(n))])
                            case .failure(let f): pending.resume(with: [.nil, .text(f.rawValue)])
                            }
                        }
                    }
                },
                "receive": { conn, call in
                    let max = try call.optionalInteger(2) ?? 65536
                    guard (1...(16 << 20)).contains(max) else {
                        throw call.argumentError(2, "byte limit must be 1 to 16777216")
                    }
                    let timeout = try seconds(call, 3, default: 5)
                    return try call.suspend { pending in
                        pending.waitingFor = "data"
                        conn.receive(max: Int(max), timeout: timeout) { resume(pending, $0) }
                    }
                },
                "receiveline": { conn, call in
                    let timeout = try seconds(call, 2, default: 5)
                    let max = try call.optionalInteger(3) ?? 8192
                    guard (1...(1 << 20)).contains(max) else {
                        throw call.argumentError(3, "line limit must be 1 to 1048576")
                    }
                    return try call.suspend { pending in
                        pending.waitingFor = "a line"
                        conn.receiveLine(maxLength: Int(max), timeout: timeout) { resume(pending, $0) }
                    }
                },
                "close": { conn, _ in
                    conn.close()
                    return .none
                },
            ])
        runtime.defineType(
            UDPSocket.self, name: "UDPSocket",
            methods: [
                "sendto": { udp, call in
                    let data = try call.bytes(2)
                    let host = try call.string(3)
                    let port = try call.port(4)
                    let options = try call.optionalTable(5) ?? LuaTable()
                    guard let to = SocketAddress(numeric: host, port: port) else {
                        throw call.argumentError(3, "sendto needs a numeric IPv4 or IPv6 address, got '\(host)'")
                    }
                    guard to.family == udp.family else {
                        throw call.argumentError(3, "this socket is \(udp.family.rawValue), '\(host)' is not")
                    }
                    var ttl: Int?
                    if options["ttl"] != .nil {
                        guard let t = options["ttl"].intValue, (1...255).contains(t) else {
                            throw call.argumentError(5, "ttl must be 1 to 255")
                        }
                        ttl = Int(t)
                    }
                    switch udp.send(data, to: to, ttl: ttl) {
                    case .success(let n): return call.returning(.integer(Int64(n)))
                    case .failure(let f): return call.returning(.nil, .text(f.rawValue))
                    }
                },
                "receivefrom": { udp, call in
                    let max = try call.optionalInteger(2) ?? 8192
                    guard (1...65536).contains(max) else {
                        throw call.argumentError(2, "byte limit must be 1 to 65536")
                    }
                    let timeout = try seconds(call, 3, default: 5)
                    return try call.suspend { pending in
                        pending.waitingFor = "a datagram"
                        udp.receive(max: Int(max), timeout: timeout) { result in
                            switch result {
                            case .success(let (bytes, from)):
                                pending.resume(with: [
                                    .string(LuaString(bytes: bytes)), .text(from.ip), .integer(Int64(from.port)),
                                ])
                            case .failure(let f): pending.resume(with: [.nil, .text(f.rawValue)])
                            }
                        }
                    }
                },
                "getsockname": { udp, call in call.returning(Convert.address(udp.localAddress)) },
                "close": { udp, _ in
                    udp.close()
                    return .none
                },
            ])
        runtime.register(
            module: "socket",
            [
                "udp": HostFunction { call in
                    let options = try call.optionalTable(1) ?? LuaTable()
                    let family: SocketAddress.Family
                    switch options["family"].stringValue ?? "ipv4" {
                    case "ipv4": family = .ipv4
                    case "ipv6": family = .ipv6
                    default: throw call.argumentError(1, "family must be 'ipv4' or 'ipv6'")
                    }
                    let port = try call.port("port", of: options, argument: 1, orAny: true) ?? 0
                    do {
                        let udp = try UDPSocket(
                            family: family, address: options["bind"].stringValue, port: port, on: call.runtime.loop)
                        call.push(object: udp)
                        return .values(1)
                    } catch {
                        return call.returning(
                            .nil,
                            .text("cannot open a UDP socket: \((error as? UDPSocket.Failure)?.rawValue ?? "failed")"))
                    }
                },
                "connect": HostFunction { call in
                    let host = try call.string(1)
                    guard !host.isEmpty else { throw call.argumentError(1, "host name is empty") }
                    let port = try call.port(2)
                    let options = try call.optionalTable(3) ?? LuaTable()
                    let timeout = try seconds(options["timeout"], call: call, default: 3)
                    let keep = options["keep"].isTruthy
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = SocketAddress.text(host: host, port: Int(port))
                        let cancellation = TCPProbe.connect(
                            host: host, port: port, options: .init(timeout: timeout, keepOpen: keep), on: loop
                        ) { result, connection in
                            let runtime = pending.runtime
                            pending.resume { stack in
                                stack.push(Convert.table(result))
                                if let connection {
                                    runtime.push(object: connection, on: stack)
                                    stack.setField("conn", ofTableAt: -2)
                                }
                                return 1
                            }
                        }
                        pending.onCancel { cancellation.cancel() }
                    }
                },
                "resolve": HostFunction { call in
                    let host = try call.string(1)
                    guard !host.isEmpty else { throw call.argumentError(1, "host name is empty") }
                    let loop = call.runtime.loop
                    return try call.suspend { pending in
                        pending.waitingFor = "the addresses of \(host)"
                        Resolver.resolve(host, port: 0, on: loop) { resolution in
                            var t = LuaTable()
                            switch resolution {
                            case .addresses(let a):
                                t["status"] = "resolved"
                                t["addresses"] = .table(LuaTable(sequence: a.map { .text($0.ip) }))
                            case .failure(let status, let words):
                                t["status"] = .text(status.rawValue)
                                t["addresses"] = .table(LuaTable())
                                t["error"] = .text(words)
                            }
                            pending.resume(with: [.table(t)])
                        }
                    }
                },
                "bind_test": HostFunction { call in
                    let port = try call.port(1)
                    let address = try call.optionalString(2) ?? "0.0.0.0"
                    let proto = try protoArgument(call, 3)
                    return try call.offload(waitingFor: "a bind test of port \(port)") {
                        BindProbe.test(port: port, address: address, proto: proto)
                    } results: {
                        [Convert.table($0)]
                    }
                },
            ])
    }

    static func protoArgument(_ call: LuaCall, _ index: Int32) throws -> SocketEntry.Proto {
        guard let text = try call.optionalString(index) else { return .tcp }
        guard let p = SocketEntry.Proto(rawValue: text) else {
            throw call.argumentError(index, "protocol must be 'tcp' or 'udp'")
        }
        return p
    }

    static func seconds(_ call: LuaCall, _ index: Int32, default d: Double) throws -> Duration {
        try seconds(call.isNil(index) ? .nil : call.value(index), call: call, index: index, default: d)
    }

    static func seconds(_ value: LuaValue, call: LuaCall, index: Int32 = 3, default d: Double) throws -> Duration {
        guard value != .nil else { return .milliseconds(Int64(d * 1000)) }
        guard let s = value.doubleValue, s > 0, s <= 300 else {
            throw call.argumentError(index, "timeout must be a number of seconds, more than 0 and at most 300")
        }
        return .milliseconds(Int64(s * 1000))
    }

    static func resume(_ pending: LuaPendingCall, _ result: Result<[UInt8], Connection.Failure>) {
        switch result {
        case .success(let bytes): pending.resume(with: [.string(LuaString(bytes: bytes))])
        case .failure(let f): pending.resume(with: [.nil, .text(f.rawValue)])
        }
    }
}

/// `netstat`: the socket table.
enum NetstatModule {
    static func install(_ runtime: LuaRuntime) {
        runtime.register(
            module: "netstat",
            [
                "list": HostFunction { call in
                    let filter = try call.optionalTable(1) ?? LuaTable()
                    var query = SocketQuery()
                    if let p = filter["proto"].stringValue {
                        guard let proto = SocketEntry.Proto(rawValue: p) else {
                            throw call.argumentError(1, "proto must be 'tcp' or 'udp'")
                        }
                        query.protocols = [proto]
                    }
                    if let s = filter["state"].stringValue { query.states = [s.uppercased()] }
                    query.port = try call.port("port", of: filter, argument: 1)
                    query.withOwners = filter["owners"] != .boolean(false)
                    return try entries(call, query)
                },
                "listeners": HostFunction { call in
                    let port = try call.port(1)
                    let proto = try SocketModule.protoArgument(call, 2)
                    return try entries(call, .listening(port: port, proto: proto))
                },
            ])
    }
}

extension NetstatModule {
    /// Reading the table (and finding owners) takes milliseconds of file I/O: it runs on a worker
    /// thread so the checks waiting on the network keep their timing.
    static func entries(_ call: LuaCall, _ query: SocketQuery) throws -> LuaReturn {
        try call.offload(waitingFor: "the socket table") {
            SocketTable.list(query)
        } results: {
            [.table(LuaTable(sequence: $0.map(Convert.table)))]
        }
    }
}

/// Probe results as the Lua tables checks see (snake_case, like the JSON).
enum Convert {
    static func address(_ a: SocketAddress?) -> LuaValue {
        guard let a else { return .nil }
        return [
            "ip": .text(a.ip), "port": .integer(Int64(a.port)), "family": .text(a.family.rawValue),
            "text": .text(a.description),
        ]
    }

    static func table(_ r: ConnectResult) -> LuaValue {
        var t = LuaTable()
        t["status"] = .text(r.status.rawValue)
        t["host"] = .text(r.host)
        t["port"] = .integer(Int64(r.port))
        t["local"] = address(r.local)
        t["remote"] = address(r.remote)
        if let rtt = r.rttMilliseconds { t["rtt_ms"] = .number((rtt * 10).rounded() / 10) }
        t["errno"] = .integer(Int64(r.errno))
        if let e = r.error { t["error"] = .text(e) }
        t["attempts"] = .table(
            LuaTable(
                sequence: r.attempts.map { a in
                    var x = LuaTable()
                    x["remote"] = address(a.remote)
                    x["status"] = .text(a.status.rawValue)
                    x["errno"] = .integer(Int64(a.errno))
                    if let e = a.error { x["error"] = .text(e) }
                    x["rtt_ms"] = .number((a.rttMilliseconds * 10).rounded() / 10)
                    return .table(x)
                }))
        return .table(t)
    }

    static func table(_ e: SocketEntry) -> LuaValue {
        var t = LuaTable()
        t["proto"] = .text(e.proto.rawValue)
        t["family"] = .text(e.family.rawValue)
        t["state"] = .text(e.state)
        t["local"] = address(e.local)
        t["remote"] = address(e.remote)
        t["scope"] = .text(e.scope.rawValue)
        if let d = e.dualStack { t["dual_stack"] = .boolean(d) }
        if let o = e.owner {
            var owner = LuaTable()
            owner["pid"] = .integer(Int64(o.pid))
            owner["program"] = .text(o.program)
            if let c = o.comm { owner["comm"] = .text(c) }
            t["owner"] = .table(owner)
        }
        if let u = e.uid { t["uid"] = .integer(Int64(u)) }
        if let a = e.access { t["access"] = .text(a) }
        if let w = e.accessError { t["access_error"] = .text(w) }
        return .table(t)
    }

    static func table(_ r: BindProbe.Result) -> LuaValue {
        var t = LuaTable()
        t["status"] = .text(r.status.rawValue)
        t["address"] = address(r.address)
        t["proto"] = .text(r.proto.rawValue)
        t["errno"] = .integer(Int64(r.errno))
        if let e = r.error { t["error"] = .text(e) }
        t["holders"] = .table(LuaTable(sequence: r.holders.map(table)))
        return .table(t)
    }
}
