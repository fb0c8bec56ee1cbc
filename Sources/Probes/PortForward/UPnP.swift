import Reactor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// UPnP Internet Gateway Device: SSDP discovery, the device description, and the
/// WANIPConnection / WANPPPConnection actions.
public enum UPnP {
    public struct Gateway: Sendable, Encodable, Equatable {
        public var location: String
        public var server: String?
        public var manufacturer: String?
        public var model: String?
        public var friendlyName: String?
        /// The WAN connection service: its type and control URL.
        public var serviceType: String?
        public var controlURL: String?
        /// IGD:2's WANIPv6FirewallControl (IPv6 pinholes), when the router offers it.
        public var firewallServiceType: String?
        public var firewallControlURL: String?

        public init(
            location: String, server: String? = nil, manufacturer: String? = nil, model: String? = nil,
            friendlyName: String? = nil, serviceType: String? = nil, controlURL: String? = nil,
            firewallServiceType: String? = nil, firewallControlURL: String? = nil
        ) {
            self.firewallServiceType = firewallServiceType
            self.firewallControlURL = firewallControlURL
            self.location = location
            self.server = server
            self.manufacturer = manufacturer
            self.model = model
            self.friendlyName = friendlyName
            self.serviceType = serviceType
            self.controlURL = controlURL
        }
    }

    public struct Mapping: Sendable, Encodable, Equatable {
        public var externalPort: Int
        public var proto: String
        public var internalClient: String
        public var internalPort: Int
        public var enabled: Bool
        public var description: String
        public var lease: Int
    }

    /// A UPnP error (from a SOAP fault) or a transport failure, in words.
    public struct Failure: Error, Sendable, Encodable, Equatable, CustomStringConvertible {
        public var code: Int?
        public var message: String
        public var description: String { code.map { "UPnP error \($0): \(message)" } ?? message }

        /// `firewall`: an error of WANIPv6FirewallControl, whose 7xx codes mean other things.
        static func named(_ code: Int, _ given: String?, firewall: Bool = false) -> Failure {
            if firewall, let words = pinholeWords[code] { return Failure(code: code, message: words) }
            let words: String =
                switch code {
                case 401: "invalid action"
                case 402: "invalid arguments"
                case 501: "action failed"
                case 606: "not authorised (the router refuses changes from this computer)"
                case 714: "no such port mapping"
                case 715: "wildcard not permitted in the source address"
                case 716: "wildcard not permitted in the external port"
                case 718: "the port is already mapped to another computer"
                case 724: "the external and internal ports must be the same"
                case 725: "the router only supports permanent leases"
                case 726: "the remote host must be a wildcard"
                case 727: "the external port must be a wildcard"
                case 728: "no more port mappings available"
                default: given ?? "error \(code)"
                }
            return Failure(code: code, message: words)
        }
    }

    /// WANIPv6FirewallControl:1's own errors (IGD:2).
    static let pinholeWords: [Int: String] = [
        606: "not authorised (the router takes pinholes only from the computer they are for, over IPv6)",
        701: "no more pinholes available (PinholeSpaceExhausted)",
        702: "the router's IPv6 firewall is off (FirewallDisabled)",
        703: "the router does not allow inbound pinholes (InboundPinholeNotAllowed)",
        704: "no such pinhole (NoSuchEntry)",
        705: "protocol not supported (ProtocolNotSupported)",
        706: "the internal port may not be a wildcard (InternalPortWildcardingNotAllowed)",
        707: "the protocol may not be a wildcard (ProtocolWildcardingNotAllowed)",
        708: "the source address may not be a wildcard (WildCardNotPermittedInSrcIP)",
        709: "no packet has gone through the pinhole yet (NoPacketSent)",
    ]

    // MARK: discovery

    static let searchTarget = "urn:schemas-upnp-org:device:InternetGatewayDevice:1"

    /// M-SEARCH on every IPv4 interface (TTL 2), gathering answers for `wait`, then reading each
    /// distinct gateway's description. An answer from `gateway` (this computer's default gateway: the
    /// router that matters) ends the wait early, so a healthy network costs a round trip, not `wait`.
    ///
    /// `ipv6`: M-SEARCH to ff02::c on every IPv6 interface instead, so that the description and the
    /// control URLs are the router's IPv6 ones — IGD:2 routers take pinhole requests only over
    /// IPv6, from the address the pinhole is for.
    public static func discover(
        wait: Duration = .seconds(2), gateway: String? = nil, ipv6: Bool = false, on loop: EventLoop,
        _ completion: @escaping ([Gateway]) -> Void
    ) {
        guard let socket = try? UDPSocket(family: ipv6 ? .ipv6 : .ipv4, on: loop) else { return completion([]) }
        let request = Array(
            """
            M-SEARCH * HTTP/1.1\r
            HOST: \(ipv6 ? "[FF02::C]" : "239.255.255.250"):1900\r
            MAN: "ssdp:discover"\r
            MX: 2\r
            ST: \(searchTarget)\r
            \r

            """.utf8)
        if ipv6 {
            for index in ipv6InterfaceIndexes() {
                var i = index
                setsockopt(socket.fd, Int32(IPPROTO_IPV6), IPV6_MULTICAST_IF, &i, socklen_t(MemoryLayout<UInt32>.size))
                _ = socket.send(request, to: SocketAddress(family: .ipv6, ip: "ff02::c", port: 1900), ttl: 2)
            }
        } else {
            let group = SocketAddress(family: .ipv4, ip: "239.255.255.250", port: 1900)
            for address in interfaceAddresses() {
                var iface = in_addr()
                inet_pton(AF_INET, address, &iface)
                setsockopt(
                    socket.fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &iface, socklen_t(MemoryLayout<in_addr>.size))
                _ = socket.send(request, to: group, ttl: 2)
            }
        }
        var locations: [(String, String?)] = []
        let deadline = EventLoop.now() + nanoseconds(wait)
        func listen() {
            let left = deadline - EventLoop.now()
            guard left > 0 else { return finish() }
            socket.receive(max: 2048, timeout: .nanoseconds(left)) { result in
                if case .success(let (bytes, from)) = result {
                    let headers = ssdpHeaders(String(decoding: bytes, as: UTF8.self))
                    if let location = headers["location"], location.hasPrefix("http://"),
                        !locations.contains(where: { $0.0 == location })
                    {
                        locations.append((location, headers["server"]))
                        if let gateway, from.ip == gateway { return finish() }
                    }
                    listen()
                } else {
                    finish()
                }
            }
        }
        func finish() {
            socket.close()
            var gateways: [Gateway] = []
            var left = locations.count
            guard left > 0 else { return completion([]) }
            for (location, server) in locations {
                describe(location, server: server, on: loop) { g in
                    if let g { gateways.append(g) }
                    left -= 1
                    if left == 0 { completion(gateways.sorted { $0.location < $1.location }) }
                }
            }
        }
        listen()
    }

    /// UPnP discovery done once and shared: vendor selection, the NAT survey and checks calling
    /// `upnp.discover` all get the first discovery's answer, instead of each waiting for routers again.
    /// Callers that come while it runs wait for the same answer. Used from one thread at a time.
    public final class Discovery {
        public private(set) var gateways: [Gateway]?
        private var waiting: [([Gateway]) -> Void] = []
        /// Where it was started, when it is under way on a loop: another loop cannot wait for it.
        private var loop: EventLoop?

        public init() {}

        public func discover(
            wait: Duration = .seconds(1), on loop: EventLoop, _ completion: @escaping ([Gateway]) -> Void
        ) {
            if let gateways { return completion(gateways) }
            if let running = self.loop, running !== loop {
                return UPnP.discover(wait: wait, gateway: Probes.Gateway.defaultIPv4(), on: loop, completion)
            }
            waiting.append(completion)
            guard waiting.count == 1 else { return }
            self.loop = loop
            UPnP.discover(wait: wait, gateway: Probes.Gateway.defaultIPv4(), on: loop) { found in
                self.gateways = found
                self.loop = nil
                let all = self.waiting
                self.waiting = []
                for c in all { c(found) }
            }
        }
    }

    static func ssdpHeaders(_ text: String) -> [String: String] {
        var h: [String: String] = [:]
        for line in text.split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            h[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].trimmingWhitespace)
        }
        return h
    }

    /// The device description: who made it, and where its WAN connection service is controlled.
    static func describe(
        _ location: String, server: String?, on loop: EventLoop, _ completion: @escaping (Gateway?) -> Void
    ) {
        MiniHTTP.request("GET", url: location, maxBytes: 128 << 10, timeout: .seconds(3), on: loop) { result in
            guard case .success(let r) = result, r.status == 200 else { return completion(nil) }
            completion(parseDescription(r.text, location: location, server: server))
        }
    }

    public static func parseDescription(_ xml: String, location: String, server: String?) -> Gateway {
        var g = Gateway(
            location: location, server: server, manufacturer: MiniXML.value("manufacturer", in: xml),
            model: MiniXML.value("modelName", in: xml), friendlyName: MiniXML.value("friendlyName", in: xml))
        for service in MiniXML.blocks("service", in: xml) {
            guard let type = MiniXML.value("serviceType", in: service), type.contains("WANIPv6FirewallControl"),
                let control = MiniXML.value("controlURL", in: service)
            else { continue }
            g.firewallServiceType = type
            g.firewallControlURL = absolute(control, base: location)
            break
        }
        for service in MiniXML.blocks("service", in: xml) {
            guard let type = MiniXML.value("serviceType", in: service),
                type.contains("WANIPConnection") || type.contains("WANPPPConnection"),
                let control = MiniXML.value("controlURL", in: service)
            else { continue }
            g.serviceType = type
            g.controlURL = absolute(control, base: location)
            break
        }
        return g
    }

    static func absolute(_ path: String, base: String) -> String {
        if path.hasPrefix("http://") { return path }
        guard let (host, port, _) = MiniHTTP.split(base) else { return path }
        let h = host.contains(":") ? "[\(host)]" : host
        return "http://\(h):\(port)" + (path.hasPrefix("/") ? path : "/" + path)
    }

    /// The IPv4 addresses of this computer's interfaces (not loopback), for per-interface M-SEARCH.
    static func interfaceAddresses() -> [String] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var out: [String] = []
        var node = list
        while let n = node {
            if let a = n.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET),
                let s = SocketAddress(storage: UnsafeRawPointer(a)), !s.ip.hasPrefix("127.")
            {
                out.append(s.ip)
            }
            node = n.pointee.ifa_next
        }
        return out
    }

    /// The indexes of the interfaces with IPv6 (not loopback), for per-interface M-SEARCH.
    static func ipv6InterfaceIndexes() -> [UInt32] {
        var list: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&list) == 0 else { return [] }
        defer { freeifaddrs(list) }
        var out: [UInt32] = []
        var node = list
        while let n = node {
            if let a = n.pointee.ifa_addr, a.pointee.sa_family == sa_family_t(AF_INET6),
                n.pointee.ifa_flags & UInt32(IFF_LOOPBACK) == 0
            {
                let index = if_nametoindex(n.pointee.ifa_name)
                if index != 0 && !out.contains(index) { out.append(index) }
            }
            node = n.pointee.ifa_next
        }
        return out
    }

    /// The address this computer uses toward the gateway: the internal client a new mapping should name.
    public static func localAddress(toward g: Gateway) -> String? {
        guard let control = g.controlURL, let (host, port, _) = MiniHTTP.split(control),
            let to = SocketAddress(numeric: host, port: port)
        else { return nil }
        let s = socket(to.posixFamily, Int32(SOCK_DGRAM.rawValue), 0)
        defer { close(s) }
        guard to.withSockaddr({ connect(s, $0, $1) }) == 0 else { return nil }
        return SocketAddress.of(s, peer: false)?.ip
    }

    // MARK: actions

    /// Calls `action` with `arguments` (in order); the answer's fields by name, or why it failed.
    public static func call(
        _ gateway: Gateway, _ action: String, _ arguments: [(String, String)] = [], on loop: EventLoop,
        _ completion: @escaping (Result<[String: String], Failure>) -> Void
    ) {
        guard let control = gateway.controlURL, let type = gateway.serviceType else {
            return completion(.failure(Failure(code: nil, message: "the gateway has no WAN connection service")))
        }
        soap(control: control, type: type, action, arguments, firewall: false, on: loop, completion)
    }

    static func soap(
        control: String, type: String, _ action: String, _ arguments: [(String, String)], firewall: Bool,
        on loop: EventLoop, _ completion: @escaping (Result<[String: String], Failure>) -> Void
    ) {
        let args = arguments.map { "<\($0.0)>\(MiniXML.escape($0.1))</\($0.0)>" }.joined()
        let body = Array(
            """
            <?xml version="1.0"?>
            <s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" s:encodingStyle="http://schemas.xmlsoap.org/soap/encoding/">
            <s:Body><u:\(action) xmlns:u="\(type)">\(args)</u:\(action)></s:Body>
            </s:Envelope>
            """.utf8)
        let headers = [("Content-Type", "text/xml; charset=\"utf-8\""), ("SOAPAction", "\"\(type)#\(action)\"")]
        MiniHTTP.request(
            "POST", url: control, headers: headers, body: body, maxBytes: 64 << 10, timeout: .seconds(5), on: loop
        ) {
            result in
            switch result {
            case .failure(let f): completion(.failure(Failure(code: nil, message: "\(f)")))
            case .success(let r): completion(answer(to: action, status: r.status, xml: r.text, firewall: firewall))
            }
        }
    }

    /// The fields of a SOAP answer to `action` that the client reads, or the router's named refusal.
    static func answer(
        to action: String, status: Int, xml: String, firewall: Bool
    ) -> Result<[String: String], Failure> {
        if let code = MiniXML.value("errorCode", in: xml).flatMap({ Int($0) }) {
            return .failure(.named(code, MiniXML.value("errorDescription", in: xml), firewall: firewall))
        }
        guard status == 200, let answer = MiniXML.blocks("\(action)Response", in: xml).first else {
            return .failure(Failure(code: nil, message: "HTTP \(status) without an answer to \(action)"))
        }
        var fields: [String: String] = [:]
        for name in answerFields {
            if let v = MiniXML.value(name, in: answer) { fields[name] = v }
        }
        return .success(fields)
    }

    static let answerFields = [
        "NewExternalIPAddress", "NewInternalClient", "NewInternalPort", "NewEnabled", "NewPortMappingDescription",
        "NewLeaseDuration", "NewExternalPort", "NewProtocol", "NewRemoteHost",
        "FirewallEnabled", "InboundPinholeAllowed", "UniqueID", "IsWorking", "PinholePackets",
    ]

    public static func externalAddress(
        _ g: Gateway, on loop: EventLoop, _ completion: @escaping (Result<String, Failure>) -> Void
    ) {
        call(g, "GetExternalIPAddress", on: loop) { r in
            completion(
                r.flatMap { f in
                    f["NewExternalIPAddress"].map { .success($0) }
                        ?? .failure(Failure(code: nil, message: "no address in the answer"))
                })
        }
    }

    /// The mapping for one external port (error 714 means there is none).
    public static func mapping(
        _ g: Gateway, externalPort: UInt16, proto: String = "TCP", on loop: EventLoop,
        _ completion: @escaping (Result<Mapping, Failure>) -> Void
    ) {
        call(
            g, "GetSpecificPortMappingEntry",
            [("NewRemoteHost", ""), ("NewExternalPort", String(externalPort)), ("NewProtocol", proto)],
            on: loop
        ) { r in
            completion(r.map { mapping(from: $0, externalPort: Int(externalPort), proto: proto) })
        }
    }

    static func mapping(from f: [String: String], externalPort: Int, proto: String) -> Mapping {
        Mapping(
            externalPort: Int(f["NewExternalPort"] ?? "") ?? externalPort, proto: f["NewProtocol"] ?? proto,
            internalClient: f["NewInternalClient"] ?? "", internalPort: Int(f["NewInternalPort"] ?? "") ?? 0,
            enabled: f["NewEnabled"] == "1", description: f["NewPortMappingDescription"] ?? "",
            lease: Int(f["NewLeaseDuration"] ?? "") ?? 0)
    }

    /// The whole table, walked by index until the router says there are no more (713) — at most `limit`.
    public static func mappings(
        _ g: Gateway, limit: Int = 256, on loop: EventLoop,
        _ completion: @escaping (Result<[Mapping], Failure>) -> Void
    ) {
        var found: [Mapping] = []
        func next(_ i: Int) {
            guard i < limit else { return completion(.success(found)) }
            call(g, "GetGenericPortMappingEntry", [("NewPortMappingIndex", String(i))], on: loop) { r in
                switch r {
                case .success(let f):
                    found.append(mapping(from: f, externalPort: 0, proto: "TCP"))
                    next(i + 1)
                case .failure(let e) where e.code == 713 || e.code == 714 || e.code == 402 || e.code == 501:
                    completion(.success(found))
                case .failure(let e):
                    completion(found.isEmpty ? .failure(e) : .success(found))
                }
            }
        }
        next(0)
    }

    /// The leases `addMapping` asks for, in order: permanent (0) first, then the longest a router
    /// may grant (IGD:2 caps leases at 604800 s), then shorter ones.
    public static let preferredLeases = [0, 604_800, 86_400, 3_600]

    /// Whether a refused AddPortMapping may be about the lease: IGD:1 has no error of its own for
    /// "this lease is not acceptable" (725 is the opposite case), so routers that take no permanent
    /// (or no long) lease answer the generic 402 Invalid Args or 501 Action Failed — or a bare
    /// HTTP error without a UPnP error code. The other errors name something else (the ports,
    /// the remote host, consent) that another lease would not change.
    static func mayBeAboutTheLease(_ e: Failure) -> Bool {
        e.code == 402 || e.code == 501 || (e.code == nil && e.message.hasPrefix("HTTP "))
    }

    /// Adds a mapping (a change to the router: repairs only), asking for each of `leases` in turn
    /// while the router refuses one in a way that may be about the lease (and for a permanent one
    /// on error 725). Then reads the mapping back, so that its `lease` is what the router granted
    /// (0: permanent) — when the router will not say, the lease it accepted.
    public static func addMapping(
        _ g: Gateway, externalPort: UInt16, internalClient: String, internalPort: UInt16,
        proto: String = "TCP", description: String = "portdoctor", leases: [Int] = preferredLeases,
        on loop: EventLoop, _ completion: @escaping (Result<Mapping, Failure>) -> Void
    ) {
        var tried: [Int] = []
        func attempt(_ lease: Int, rest: [Int]) {
            tried.append(lease)
            call(
                g, "AddPortMapping",
                [
                    ("NewRemoteHost", ""), ("NewExternalPort", String(externalPort)), ("NewProtocol", proto),
                    ("NewInternalPort", String(internalPort)), ("NewInternalClient", internalClient),
                    ("NewEnabled", "1"),
                    ("NewPortMappingDescription", description), ("NewLeaseDuration", String(lease)),
                ], on: loop
            ) { r in
                switch r {
                case .failure(let e) where e.code == 725 && !tried.contains(0): attempt(0, rest: [])
                case .failure(let e) where mayBeAboutTheLease(e) && !rest.isEmpty:
                    attempt(rest[0], rest: Array(rest.dropFirst()))
                case .failure(let e): completion(.failure(e))
                case .success: readBack(granted: lease)
                }
            }
        }
        func readBack(granted lease: Int) {
            mapping(g, externalPort: externalPort, proto: proto, on: loop) { r in
                if case .success(let m) = r, m.internalClient == internalClient || internalClient.isEmpty {
                    return completion(.success(m))
                }
                completion(
                    .success(
                        Mapping(
                            externalPort: Int(externalPort), proto: proto, internalClient: internalClient,
                            internalPort: Int(internalPort), enabled: true, description: description, lease: lease)))
            }
        }
        guard let first = leases.first else {
            return completion(.failure(Failure(code: nil, message: "no lease to ask for")))
        }
        attempt(first, rest: Array(leases.dropFirst()))
    }

    public static func deleteMapping(
        _ g: Gateway, externalPort: UInt16, proto: String = "TCP", on loop: EventLoop,
        _ completion: @escaping (Result<Void, Failure>) -> Void
    ) {
        call(
            g, "DeletePortMapping",
            [("NewRemoteHost", ""), ("NewExternalPort", String(externalPort)), ("NewProtocol", proto)],
            on: loop
        ) { completion($0.map { _ in () }) }
    }
}

// MARK: IPv6 pinholes (IGD:2 WANIPv6FirewallControl)

extension UPnP {
    public struct FirewallStatus: Sendable, Encodable, Equatable {
        public var enabled: Bool
        public var inboundPinholeAllowed: Bool

        enum CodingKeys: String, CodingKey {
            case enabled
            case inboundPinholeAllowed = "inbound_pinhole_allowed"
        }
    }

    public struct Pinhole: Sendable, Encodable, Equatable {
        public var id: Int
        public var internalClient: String
        public var internalPort: Int
        public var proto: String
        public var lease: Int
    }

    static func firewallCall(
        _ g: Gateway, _ action: String, _ arguments: [(String, String)] = [], on loop: EventLoop,
        _ completion: @escaping (Result<[String: String], Failure>) -> Void
    ) {
        guard let control = g.firewallControlURL, let type = g.firewallServiceType else {
            return completion(
                .failure(
                    Failure(
                        code: nil, message: "the gateway has no IPv6 firewall control (IGD:2 WANIPv6FirewallControl)"))
            )
        }
        soap(control: control, type: type, action, arguments, firewall: true, on: loop, completion)
    }

    /// Whether the router's IPv6 firewall is on, and whether it lets control points open pinholes.
    public static func firewallStatus(
        _ g: Gateway, on loop: EventLoop, _ completion: @escaping (Result<FirewallStatus, Failure>) -> Void
    ) {
        firewallCall(g, "GetFirewallStatus", on: loop) { r in
            completion(
                r.flatMap { f in
                    guard let e = f["FirewallEnabled"], let i = f["InboundPinholeAllowed"] else {
                        return .failure(Failure(code: nil, message: "no firewall status in the answer"))
                    }
                    return .success(FirewallStatus(enabled: e == "1", inboundPinholeAllowed: i == "1"))
                })
        }
    }

    /// Opens a pinhole from anywhere to `internalClient`:`internalPort` for `lease` seconds (IGD:2
    /// allows 1 to 86400). A change to the router: repairs only. Routers take it only over IPv6 and
    /// from `internalClient` itself: discover with `ipv6: true`.
    public static func addPinhole(
        _ g: Gateway, internalClient: String, internalPort: UInt16, proto: String = "TCP", lease: Int = 7200,
        on loop: EventLoop, _ completion: @escaping (Result<Pinhole, Failure>) -> Void
    ) {
        let number = proto == "UDP" ? "17" : "6"
        firewallCall(
            g, "AddPinhole",
            [
                ("RemoteHost", ""), ("RemotePort", "0"), ("InternalClient", internalClient),
                ("InternalPort", String(internalPort)), ("Protocol", number), ("LeaseTime", String(lease)),
            ], on: loop
        ) { r in
            completion(
                r.flatMap { f in
                    guard let id = f["UniqueID"].flatMap({ Int($0) }) else {
                        return .failure(Failure(code: nil, message: "no pinhole ID in the answer"))
                    }
                    return .success(
                        Pinhole(
                            id: id, internalClient: internalClient, internalPort: Int(internalPort), proto: proto,
                            lease: lease))
                })
        }
    }

    /// Whether traffic has gone through the pinhole (the router's own check; 709: none yet).
    public static func checkPinholeWorking(
        _ g: Gateway, id: Int, on loop: EventLoop, _ completion: @escaping (Result<Bool, Failure>) -> Void
    ) {
        firewallCall(g, "CheckPinholeWorking", [("UniqueID", String(id))], on: loop) { r in
            completion(
                r.flatMap { f in
                    guard let w = f["IsWorking"] else {
                        return .failure(Failure(code: nil, message: "no answer to whether it works"))
                    }
                    return .success(w == "1")
                })
        }
    }

    public static func deletePinhole(
        _ g: Gateway, id: Int, on loop: EventLoop, _ completion: @escaping (Result<Void, Failure>) -> Void
    ) {
        firewallCall(g, "DeletePinhole", [("UniqueID", String(id))], on: loop) { completion($0.map { _ in () }) }
    }
}
