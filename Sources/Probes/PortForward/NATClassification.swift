/// Where a connection from outside stops, concluded from what could be learned. Every conclusion
/// keeps the evidence it rests on.
public struct NATEvidence: Sendable, Encodable {
    /// This computer's IPv4 addresses.
    public var localAddresses: [String] = []
    /// Whether it has an IPv4 default route (nil: unknown), and the gateway that route goes through.
    public var defaultRoute: Bool?
    public var defaultGateway: String?
    /// The router's WAN address, from UPnP or NAT-PMP.
    public var routerWAN: String?
    /// Why the router did not give it (miniupnpd refuses to serve on a reserved WAN address — itself a sign).
    public var routerWANRefused: String?
    /// This computer's address as seen from outside (reflector `seen`, STUN `mapped`).
    public var publicAddress: String?
    public var upnpAnswered: Bool?
    public var natpmpAnswered: Bool?
    /// The router's forward for the port: who it points at.
    public var mappingClient: String?
    public var mappingPort: Int?
    /// The reflector's connect-back to the port.
    public var connectBack: String?
    /// The routers on the way out, nearest first (TTL-limited probes).
    public var hops: [String] = []
    /// The reflector asked, as given ("backup.example.net:4250").
    public var reflector: String?
    /// The address it was asked at, once resolved ("198.51.100.7:4250").
    public var reflectorAddress: String?
    /// Why the reflector's name did not resolve ("dns-not-found: Name or service not known").
    public var reflectorUnresolved: String?

    public init() {}
}

public struct NATVerdict: Sendable, Encodable, Equatable {
    public enum Kind: String, Sendable, Encodable {
        case noNAT = "no-nat"
        case forwardOK = "forward-ok"
        case forwardMissing = "forward-missing"
        case forwardWrongTarget = "forward-wrong-target"
        case doubleNAT = "double-nat"
        case cgnat
        case upnpUnavailable = "upnp-unavailable"
        case filteredUpstream = "filtered-upstream"
        case noDefaultRoute = "no-default-route"
        /// The reflector was given by a name that does not resolve: the outside test could not be made.
        case peerUnresolvable = "peer-unresolvable"
        case unknown
    }

    public var kind: Kind
    /// The root cause in portdoctor's vocabulary, when something is wrong.
    public var cause: String?
    public var explanation: String
}

public enum NATClassifier {
    static func isCGNAT(_ ip: String) -> Bool { NFTRuleset.inPrefix(ip, "100.64.0.0", 10) }

    static func isPrivate(_ ip: String) -> Bool {
        NFTRuleset.inPrefix(ip, "10.0.0.0", 8) || NFTRuleset.inPrefix(ip, "172.16.0.0", 12)
            || NFTRuleset.inPrefix(ip, "192.168.0.0", 16)
    }

    public static func classify(_ e: NATEvidence) -> NATVerdict {
        func v(_ k: NATVerdict.Kind, _ cause: String?, _ why: String) -> NATVerdict {
            NATVerdict(kind: k, cause: cause, explanation: why)
        }
        let ip = { (address: String?) in address?.split(separator: ":").first.map(String.init) }
        let seen = ip(e.publicAddress)

        if let seen, e.localAddresses.contains(seen) {
            return e.connectBack == nil || e.connectBack == "connected"
                ? v(
                    .noNAT, nil,
                    "this computer's own address \(seen) is what the outside sees: there is no NAT in the way")
                : v(
                    .filteredUpstream, "filtered-upstream",
                    "there is no NAT, yet the outside cannot connect (\(e.connectBack!)): something upstream filters the port"
                )
        }
        // Without a default route no answer leaves the local network, and there is no router to ask.
        if e.defaultRoute == false {
            return v(
                .noDefaultRoute, "no-default-route",
                "this computer has no default route: it cannot answer anything beyond its own network, and there is no router to ask about forwarding. Check its network settings (DHCP, or the gateway address)"
            )
        }
        // Beyond the home router: the provider's CGNAT or a second router.
        if let wan = e.routerWAN, isCGNAT(wan) {
            return v(
                .cgnat, "cgnat",
                "the router's WAN address \(wan) is in 100.64.0.0/10: the provider shares one public address, and forwarding on the home router cannot help"
            )
        }
        if let hop = e.hops.dropFirst().first(where: isCGNAT) {
            return v(
                .cgnat, "cgnat", "a router past yours (\(hop)) is in 100.64.0.0/10: carrier-grade NAT at the provider")
        }
        if let wan = e.routerWAN, isPrivate(wan) {
            return v(
                .doubleNAT, "double-nat",
                "the router's WAN address \(wan) is private: another router sits in front of it (put that one in bridge mode, or forward on both)"
            )
        }
        if let wan = e.routerWAN, let seen, wan != seen {
            return v(
                .doubleNAT, "double-nat",
                "the router says its address is \(wan) but the outside sees \(seen): another NAT is upstream")
        }
        if e.routerWAN == nil, let hop = e.hops.dropFirst().first(where: isPrivate) {
            return v(.doubleNAT, "double-nat", "the next router past yours (\(hop)) has a private address: double NAT")
        }
        // Everything below rests on the outside test, which a reflector name that does not resolve
        // prevents: without it a forward made in the router's admin page (invisible to UPnP) would
        // be reported missing.
        if let why = e.reflectorUnresolved {
            return v(
                .peerUnresolvable, "peer-unresolvable",
                "the reflector's name \(e.reflector ?? "?") does not resolve (\(why)): the test from outside could not be made"
            )
        }
        // One NAT: the forward.
        if let client = e.mappingClient, !e.localAddresses.contains(client) {
            return v(
                .forwardWrongTarget, "port-forward-wrong-target",
                "the router forwards the port to \(client), which is not this computer (\(e.localAddresses.joined(separator: ", "))) — an old address after a DHCP change?"
            )
        }
        if e.connectBack == "connected" {
            return v(.forwardOK, nil, "the port is forwarded to this computer and reachable from outside")
        }
        if e.mappingClient != nil, let cb = e.connectBack {
            return v(
                .filteredUpstream, "filtered-upstream",
                "the router forwards the port here, yet the outside cannot connect (\(cb)): something upstream filters it"
            )
        }
        if e.upnpAnswered == false && e.natpmpAnswered == false && e.mappingClient == nil {
            return v(
                .upnpUnavailable, "upnp-unavailable",
                "the router answers neither UPnP nor NAT-PMP: set the forward up by hand in its admin page")
        }
        if e.connectBack != nil || e.mappingClient == nil && (e.upnpAnswered == true || e.natpmpAnswered == true) {
            return v(.forwardMissing, "port-forward-missing", "the router does not forward the port to this computer")
        }
        return v(.unknown, nil, "not enough evidence: run the reflector (portdoctor listen) on the other computer")
    }
}
