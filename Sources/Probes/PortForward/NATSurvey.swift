import Reactor

/// What a survey of the way in from outside saw, raw: the pack's NAT rules (Checks/tcp-service/lib/nat.lua)
/// decide from it where a connection stops. Nothing here concludes.
public struct NATEvidence: Sendable, Encodable {
    /// The port surveyed (the one the outside connects to).
    public var port: Int?
    /// This computer's IPv4 addresses.
    public var localAddresses: [String] = []
    /// Whether it has an IPv4 default route (nil: unknown), and the gateway that route goes through.
    public var defaultRoute: Bool?
    public var defaultGateway: String?
    /// The router's WAN address: UPnP's answer, else NAT-PMP's.
    public var routerWAN: String?
    /// Why the router did not give it (miniupnpd refuses to serve on a reserved WAN address — itself a sign).
    public var routerWANRefused: String?
    /// This computer's address as seen from outside (the reflector's `seen`).
    public var publicAddress: String?
    /// Whether the router answered UPnP (with a WAN connection service) and NAT-PMP.
    public var upnpAnswered: Bool?
    public var natpmpAnswered: Bool?
    /// NAT-PMP's answer as it came: "answered", "timeout", "garbled", with its result code.
    public var natpmpStatus: String?
    public var natpmpResult: Int?
    /// The router's UPnP forward for the port, as its table says (nil: none, or not asked).
    public var mapping: UPnP.Mapping?
    /// Why the table gave none ("UPnP error 714: no such port mapping").
    public var mappingError: String?
    /// The reflector's connect-back to the port: status, connect(2)'s errno and words, the address it
    /// connected to (a reset came from there), and how long it took.
    public var connectBack: String?
    public var connectBackErrno: Int32?
    public var connectBackError: String?
    public var connectBackTo: String?
    public var connectBackRTT: Double?
    /// When refused: the connect-back with growing TTLs, up to the first refusal (which box refused).
    public var connectBackTrace: [ConnectTrace.Hop]?
    /// What reached this computer's network during the connect-back (its SYNs, and on which port; the
    /// gateway's ARP requests for other addresses): nil when there was no connect-back to watch.
    public var arrivals: ArrivalWatch.Seen?
    /// The routers on the way out, nearest first (TTL-limited probes), and each probe's outcome.
    public var hops: [String] = []
    public var hopProbes: [HopProbe.Hop] = []
    /// The reflector asked, as given ("backup.example.net:4250").
    public var reflector: String?
    /// The address it was asked at, once resolved ("198.51.100.7:4250").
    public var reflectorAddress: String?
    /// Why the reflector's name did not resolve ("dns-not-found: Name or service not known").
    public var reflectorUnresolved: String?
    /// Why the reflector gave no usable answer (could not be reached, refused the request, not a reflector).
    public var reflectorError: String?
    /// The UPnP gateway that answered (the one with a WAN connection service).
    public var gateway: UPnP.Gateway?

    public var mappingClient: String? { mapping?.internalClient }

    public init() {}
}

/// Gathers the NAT evidence for a port: the router (UPnP and NAT-PMP), the reflector's view and
/// connect-back, and the first hops toward the reflector — all at once, each waiting on its own.
/// The reflector may be given by name: it is resolved here, and a name that does not resolve is
/// evidence of its own.
public enum NATSurvey {
    public struct Result: Sendable {
        public var evidence: NATEvidence
    }

    public static func run(
        port: UInt16, reflector: String?, reflectorPort: UInt16 = ReflectorProtocol.defaultPort,
        token: String? = nil, discovery: UPnP.Discovery = UPnP.Discovery(), on loop: EventLoop,
        _ completion: @escaping (Result) -> Void
    ) {
        var e = NATEvidence()
        e.port = Int(port)
        e.localAddresses = UPnP.interfaceAddresses()
        e.defaultRoute = Gateway.hasDefaultIPv4Route()
        e.defaultGateway = Gateway.defaultIPv4()
        var upnpWAN: String?
        var natpmpWAN: String?
        var natpmpRefused: String?
        var left = 3
        func done() {
            left -= 1
            guard left == 0 else { return }
            e.routerWAN = upnpWAN ?? natpmpWAN
            if e.routerWAN == nil, e.routerWANRefused == nil { e.routerWANRefused = natpmpRefused }
            completion(Result(evidence: e))
        }

        // UPnP: the run's discovery, then the WAN address and the forward table's entry for the port.
        discovery.discover(wait: .seconds(1), on: loop) { gateways in
            let gateway = gateways.first { $0.controlURL != nil }
            e.gateway = gateway
            e.upnpAnswered = gateway != nil
            guard let g = gateway else { return done() }
            UPnP.externalAddress(g, on: loop) { ext in
                switch ext {
                case .success(let a): upnpWAN = a
                case .failure(let f): e.routerWANRefused = f.description
                }
                UPnP.mapping(g, externalPort: port, on: loop) { m in
                    switch m {
                    case .success(let mapping): e.mapping = mapping
                    case .failure(let f): e.mappingError = f.description
                    }
                    done()
                }
            }
        }

        // NAT-PMP, at the same time.
        if let gw = e.defaultGateway {
            NATPMP.externalAddress(gateway: gw, tries: 3, on: loop) { a in
                e.natpmpAnswered = a.status == "answered"
                e.natpmpStatus = a.status
                e.natpmpResult = a.result
                natpmpWAN = a.externalAddress
                if a.status == "answered", a.result != 0 { natpmpRefused = a.resultWords }
                done()
            }
        } else {
            e.natpmpAnswered = false
            done()
        }

        // The outside: the reflector and the first hops toward it, at the same time.
        guard let reflector, !reflector.isEmpty else { return done() }
        e.reflector = reflector.contains(":") ? "[\(reflector)]:\(reflectorPort)" : "\(reflector):\(reflectorPort)"
        Resolver.resolve(reflector, port: reflectorPort, on: loop) { resolution in
            let addresses: [SocketAddress]
            switch resolution {
            case .addresses(let a): addresses = a
            case .failure(let status, let words):
                e.reflectorUnresolved = "\(status.rawValue): \(words)"
                return done()
            }
            // Port forwarding is an IPv4 matter: ask over IPv4 when the name has such an address, so the
            // reflector sees the router's public address and its connect-back goes through the forward.
            let address = addresses.first { $0.family == .ipv4 } ?? addresses[0]
            e.reflectorAddress = address.description
            var outside = address.family == .ipv4 ? 2 : 1
            func arrived() {
                outside -= 1
                if outside == 0 { done() }
            }
            // Watched while the reflector connects back: whether its SYNs got here, and to which port.
            func ask(again: Bool) {
                let watch =
                    address.family == .ipv4
                    ? ArrivalWatch(
                        from: address.ip, gateway: e.defaultGateway, localAddresses: e.localAddresses, on: loop) : nil
                ReflectorClient.ask(
                    host: address.ip, port: reflectorPort, connectBack: port, trace: true, token: token,
                    timeout: .seconds(3),
                    // A reflector that answers does so within a SYN retransmit (TCP's first one is at 1 s).
                    connectTimeout: .seconds(2), on: loop
                ) { outcome in
                    let seen = watch?.stop()
                    // "Unreachable" at once, and nothing seen here: a router whose forward points at an
                    // address nobody has may answer from a lookup (ARP) it made before the watch began
                    // (for someone else's connect a moment ago). Asked once more, it looks again — now
                    // in front of the watch. Only then: a reflector allows a few requests a minute.
                    if again, case .reply(let r) = outcome, r.ok, let cb = r.connect_back,
                        cb.status == "host-unreachable" || cb.status == "net-unreachable",
                        let seen, seen.error == nil, seen.synPorts.isEmpty, seen.gatewayAsked.isEmpty
                    {
                        return ask(again: false)
                    }
                    answered(outcome, seen)
                }
            }
            func answered(_ outcome: ReflectorClient.Outcome, _ seen: ArrivalWatch.Seen?) {
                switch outcome {
                case .reply(let r) where r.ok:
                    e.publicAddress = r.seen
                    if let cb = r.connect_back {
                        e.connectBack = cb.status
                        e.connectBackErrno = cb.errno
                        e.connectBackError = cb.error
                        e.connectBackTo = cb.address
                        e.connectBackRTT = cb.rtt_ms
                        e.arrivals = seen
                        e.connectBackTrace = cb.trace
                    }
                case .reply(let r): e.reflectorError = "the reflector refused: \(r.error ?? "no reason given")"
                case .unreachable(let c):
                    e.reflectorError =
                        "cannot reach the reflector: \(c.status.rawValue)" + (c.error.map { " (\($0))" } ?? "")
                case .garbled(let text): e.reflectorError = "not a portdoctor reflector: \(text)"
                }
                arrived()
            }
            ask(again: true)
            guard address.family == .ipv4 else { return }
            HopProbe.hopsOverlapped(toward: address.ip, count: 3, timeout: .milliseconds(800), on: loop) { h in
                e.hopProbes = h
                e.hops = h.compactMap(\.address)
                arrived()
            }
        }
    }
}
