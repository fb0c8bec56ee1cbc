import Reactor

/// Gathers the NAT evidence for a port: the router (UPnP, then NAT-PMP), the reflector's view and
/// connect-back, and the first hops toward the reflector — then classifies. The reflector may be
/// given by name: it is resolved here, and a name that does not resolve is evidence of its own.
public enum NATSurvey {
    public struct Result: Sendable, Encodable {
        public var evidence: NATEvidence
        public var verdict: NATVerdict
        public var gateway: UPnP.Gateway?
        public var hops: [HopProbe.Hop]
    }

    public static func run(
        port: UInt16, reflector: String?, reflectorPort: UInt16 = ReflectorProtocol.defaultPort,
        token: String? = nil, on loop: EventLoop, _ completion: @escaping (Result) -> Void
    ) {
        var e = NATEvidence()
        e.localAddresses = UPnP.interfaceAddresses()
        e.defaultRoute = Gateway.hasDefaultIPv4Route()
        e.defaultGateway = Gateway.defaultIPv4()
        var gateway: UPnP.Gateway?
        var hops: [HopProbe.Hop] = []
        func finish() {
            completion(Result(evidence: e, verdict: NATClassifier.classify(e), gateway: gateway, hops: hops))
        }
        func outside() {
            guard let reflector, !reflector.isEmpty else { return finish() }
            e.reflector = reflector.contains(":") ? "[\(reflector)]:\(reflectorPort)" : "\(reflector):\(reflectorPort)"
            Resolver.resolve(reflector, port: reflectorPort, on: loop) { resolution in
                let addresses: [SocketAddress]
                switch resolution {
                case .addresses(let a): addresses = a
                case .failure(let status, let words):
                    e.reflectorUnresolved = "\(status.rawValue): \(words)"
                    return finish()
                }
                // Port forwarding is an IPv4 matter: ask over IPv4 when the name has such an address, so the
                // reflector sees the router's public address and its connect-back goes through the forward.
                let address = addresses.first { $0.family == .ipv4 } ?? addresses[0]
                e.reflectorAddress = address.description
                ask(address)
            }
        }
        func ask(_ address: SocketAddress) {
            ReflectorClient.ask(
                host: address.ip, port: reflectorPort, connectBack: port, token: token, timeout: .seconds(3),
                on: loop
            ) { outcome in
                if case .reply(let r) = outcome, r.ok {
                    e.publicAddress = r.seen
                    e.connectBack = r.connect_back?.status
                }
                guard address.family == .ipv4 else { return finish() }
                HopProbe.hops(toward: address.ip, count: 3, timeout: .milliseconds(800), on: loop) { h in
                    hops = h
                    e.hops = h.compactMap(\.address)
                    finish()
                }
            }
        }
        UPnP.discover(wait: .seconds(1), on: loop) { gateways in
            gateway = gateways.first { $0.controlURL != nil }
            e.upnpAnswered = gateway != nil
            func natpmp() {
                guard let gw = e.defaultGateway else {
                    e.natpmpAnswered = false
                    return outside()
                }
                NATPMP.externalAddress(gateway: gw, tries: 3, on: loop) { a in
                    e.natpmpAnswered = a.status == "answered"
                    if let ext = a.externalAddress, e.routerWAN == nil { e.routerWAN = ext }
                    if a.status == "answered", a.result != 0, e.routerWAN == nil { e.routerWANRefused = a.resultWords }
                    outside()
                }
            }
            guard let g = gateway else { return natpmp() }
            UPnP.externalAddress(g, on: loop) { ext in
                switch ext {
                case .success(let a): e.routerWAN = a
                case .failure(let f): e.routerWANRefused = f.description
                }
                UPnP.mapping(g, externalPort: port, on: loop) { m in
                    if case .success(let mapping) = m {
                        e.mappingClient = mapping.internalClient
                        e.mappingPort = mapping.internalPort
                    }
                    natpmp()
                }
            }
        }
    }
}
