/// The way the connection takes, hop by hop, and where it stops: this computer, its firewall, each NAT
/// the evidence found, the outside, the other computer. Built from a report's JSON only (never from
/// the run), so that a saved report draws the same picture as the run that made it.
///
/// Where a cause stops the path comes from the cause vocabulary (design.md) and the finding's
/// evidence, never from the pack's check ids: a cause the table does not know stays unplaced.
public struct PathPicture: Equatable, Sendable {
    public enum HopKind: String, Sendable { case computer, firewall, nat, internet, peer }

    /// What the evidence says about one link: the connection got through, stopped there, or no one knows.
    public enum LinkState: String, Sendable { case passed, blocked, unknown }

    /// `inbound`: the other computer connects to this one (role destination); `outbound`: this one connects out.
    public enum Direction: String, Sendable { case inbound, outbound }

    public struct Hop: Equatable, Sendable {
        public var kind: HopKind
        /// "this computer", "firewall", "router", "router 2", "provider NAT", "internet", "peer".
        public var name: String
        /// Its addresses (or the firewall's tool) as the evidence gives them; nil when it says nothing.
        public var detail: String?
        /// A paired report's: `source` or `destination`, the computer whose hop it is (nil in the middle).
        public var side: String? = nil
        /// A paired report's: that computer, as the report names it ("nas (192.168.1.20)").
        public var computer: String? = nil
    }

    /// A cause placed on the path: the primary one is *the* stop, the others are marked too.
    public struct Stop: Equatable, Sendable {
        public var cause: String
        public var check: String
        /// Index into `hops`; nil when the cause names no place on the path (`manual-step`, a pack's own).
        public var hop: Int?
        public var primary: Bool
        /// The finding only warned: the evidence points there but cannot prove it.
        public var likely: Bool
    }

    public var direction: Direction
    public var hops: [Hop]
    /// `links[i]` joins `hops[i]` and `hops[i + 1]`.
    public var links: [LinkState]
    public var stops: [Stop]
    /// A paired report's: which way this picture goes ("source → destination"); nil for a one-ended run.
    public var title: String? = nil

    /// Where the connection stops: the primary finding's cause, when it names a place.
    public var stop: Stop? { stops.first { $0.primary } }
}

// MARK: - From the report's JSON

extension PathPicture {
    public init(report: JSONValue) {
        let checks = report.member("checks")?.items ?? []
        let evidence = checks.compactMap { $0.member("evidence") }.flatMap(Self.objects)
        let role = report.member("parameters")?.member("role")?.text
        direction = role == "source" ? .outbound : .inbound
        let parameters = report.member("parameters")
        let port = parameters?.member("port")?.text

        // NAT-side evidence: the survey's table (portforward.survey), wherever a check put it.
        let survey = evidence.first {
            $0.member("hops") != nil || $0.member("router_wan") != nil || $0.member("default_gateway") != nil
                || $0.member("public_address") != nil
        }
        let localAddresses = survey?.member("local_addresses")?.items.compactMap(\.text) ?? []
        let seen = survey?.member("public_address")?.text.map(Self.host)

        // This computer: its address (the survey's, else the one an outbound connect used).
        var here = localAddresses.first
        if here == nil {
            here = evidence.compactMap { $0.member("local")?.member("ip")?.text }.first
        }
        if direction == .inbound, let p = port { here = here.map { "\($0):\(p)" } }
        hops = [Hop(kind: .computer, name: "this computer", detail: here)]

        let firewall = evidence.first { $0.member("decision") != nil && $0.member("tool") != nil }
        hops.append(Hop(kind: .firewall, name: "firewall", detail: firewall?.member("tool")?.text))

        hops += Self.nats(survey: survey, causes: Self.namedCauses(report))
        hops.append(Hop(kind: .internet, name: "internet", detail: seen))
        var peer = parameters?.member("peer")?.text
        if direction == .outbound, let p = peer, let port, !p.contains(":") {
            peer = "\(p):\(port)"
        }
        hops.append(Hop(kind: .peer, name: "peer", detail: peer))

        // The causes: the primary finding's, then the others the report lists (`also`).
        stops = []
        let primaryCheck = report.member("primary")?.member("check")?.text
        let byID = Dictionary(
            checks.compactMap { c in c.member("id")?.text.map { ($0, c) } }, uniquingKeysWith: { a, _ in a })
        var placed: [(check: String, cause: String?)] = []
        if let p = primaryCheck { placed.append((p, report.member("primary")?.member("cause")?.text)) }
        for a in report.member("also")?.items ?? [] {
            if let c = a.member("check")?.text { placed.append((c, a.member("cause")?.text)) }
        }
        for (i, entry) in placed.enumerated() {
            guard let cause = entry.cause else { continue }
            let finding = byID[entry.check]
            let status = finding?.member("status")?.text
            stops.append(
                Stop(
                    cause: cause, check: entry.check,
                    hop: Self.place(cause, evidence: finding?.member("evidence"), hops: hops), primary: i == 0,
                    likely: status == "warn"))
        }
        links = Array(repeating: .unknown, count: hops.count - 1)
        fillLinks(evidence: evidence, survey: survey, checks: checks)
    }

    /// Each NAT the evidence found, nearest first: the default gateway (with its WAN address when it
    /// told), then every private or shared (100.64/10) router past it; none when this computer's own
    /// address is the one the outside sees.
    static func nats(survey: JSONValue?, causes: Set<String>) -> [Hop] {
        let localAddresses = survey?.member("local_addresses")?.items.compactMap(\.text) ?? []
        let seen = survey?.member("public_address")?.text.map(Self.host)
        var nats: [Hop] = []
        let publicHere = seen.map { localAddresses.contains($0) } ?? false
        if !publicHere {
            let path = survey?.member("hops")?.items.compactMap(\.text) ?? []
            let gateway = survey?.member("default_gateway")?.text ?? path.first
            let wan = survey?.member("router_wan")?.text
            let addresses = [gateway, wan].compactMap { $0 }
            nats.append(
                Hop(kind: .nat, name: "router", detail: addresses.isEmpty ? nil : addresses.joined(separator: " → ")))
            for address in path.dropFirst() {
                guard IPv4Kind(address) != .public else { break }
                if address == wan { continue }
                let shared = IPv4Kind(address) == .shared
                nats.append(
                    Hop(kind: .nat, name: shared ? "provider NAT" : "router \(nats.count + 1)", detail: address))
            }
            // A NAT the evidence proves without naming its address: the router's own WAN address is
            // private or shared and the outside sees another one, or a report names the layered cause.
            let wanKind = wan.map(IPv4Kind.init)
            let translatedAgain = wan != nil && seen != nil && wan != seen
            if nats.count == 1 {
                if (wanKind == .shared && translatedAgain) || causes.contains("cgnat") {
                    nats.append(Hop(kind: .nat, name: "provider NAT", detail: nil))
                } else if (wanKind == .private && translatedAgain) || causes.contains("double-nat") {
                    nats.append(Hop(kind: .nat, name: "router 2", detail: nil))
                }
            }
        }
        return nats
    }

    /// The hop a cause stops the path at. Causes about a listener or a service name a computer: the
    /// other one when the finding's evidence is a connect to it, else this one.
    static func place(_ cause: String, evidence: JSONValue?, hops: [Hop]) -> Int? {
        func first(_ kind: HopKind) -> Int? { hops.firstIndex { $0.kind == kind } }
        let nats = hops.indices.filter { hops[$0].kind == .nat }
        switch cause {
        case "firewall-blocks-inbound":
            // From a connect to the other computer (reach-peer: it answers on another port), its
            // firewall, not this one's.
            return evidence.map(isConnectOutcome) == true ? first(.peer) : first(.firewall)
        case "firewall-blocks-outbound", "firewall-blocks-inbound-ipv6":
            return first(.firewall)
        case "no-listener", "listener-loopback-only", "listener-ipv4-only", "port-in-use", "service-not-running",
            "service-not-installed":
            return evidence.map(isConnectOutcome) == true ? first(.peer) : first(.computer)
        case "no-default-route": return first(.computer)
        case "port-forward-missing", "port-forward-wrong-target", "upnp-unavailable", "ipv6-pinhole-missing":
            return nats.first
        case "double-nat": return nats.count > 1 ? nats[1] : nats.first
        case "cgnat": return nats.first { hops[$0].name == "provider NAT" } ?? nats.last
        case "filtered-upstream": return first(.internet)
        case "peer-unresolvable", "peer-unreachable", "peer-ipv6-unreachable", "peer-ipv4-unreachable":
            return first(.peer)
        case "ipv6-address-temporary": return first(.computer)
        default: return nil
        }
    }

    /// A connect's outcome (socket.connect's table), alone or under `connect`.
    static func isConnectOutcome(_ e: JSONValue) -> Bool {
        if e.member("status") != nil && (e.member("remote") != nil || e.member("attempts") != nil) { return true }
        return e.member("connect").map(isConnectOutcome) ?? false
    }

    /// The end-to-end connect in the run's direction: the connect to the peer (outbound) or the
    /// reflector's connect back (inbound).
    static func endToEnd(_ direction: Direction, evidence: [JSONValue], survey: JSONValue?) -> String? {
        switch direction {
        case .inbound: return survey?.member("connect_back")?.text
        case .outbound:
            let connect = evidence.first { isConnectOutcome($0) && $0.member("connect") == nil }
            return connect?.member("status")?.text
        }
    }

    private mutating func fillLinks(evidence: [JSONValue], survey: JSONValue?, checks: [JSONValue]) {
        let outcome = Self.endToEnd(direction, evidence: evidence, survey: survey)
        if outcome == "connected" {
            links = links.map { _ in .passed }
            return
        }
        // The firewall's own verdict covers the link between it and this computer.
        let firewallPassed = checks.contains { c in
            c.member("status")?.text == "pass"
                && c.member("evidence").map { $0.member("decision")?.text == "allow" } == true
        }
        if firewallPassed { links[0] = .passed }
        // The link the connection reaches a stop through, coming from where it starts: the primary
        // stop's, else the first other cause's that lies on the way (a service down on the computer
        // that connects out is not on its path).
        let (direction, last) = (self.direction, hops.count - 1)
        let entering = stops.compactMap { stop -> Int? in
            guard let s = stop.hop else { return nil }
            switch direction {
            case .inbound: return s < last ? s : nil
            case .outbound: return s > 0 ? s - 1 : (stop.cause == "no-default-route" ? 0 : nil)
            }
        }
        guard let blocked = entering.first else { return }
        // Something answered (a refusal, a reset): every link before the stop carried the connection.
        if outcome == "refused" || outcome == "reset" {
            let before = direction == .inbound ? Array((blocked + 1)..<links.count) : Array(0..<blocked)
            for i in before { links[i] = .passed }
        }
        links[blocked] = .blocked
    }

    static func namedCauses(_ report: JSONValue) -> Set<String> {
        var out: Set<String> = []
        if let c = report.member("primary")?.member("cause")?.text { out.insert(c) }
        for a in report.member("also")?.items ?? [] { if let c = a.member("cause")?.text { out.insert(c) } }
        return out
    }

    /// Evidence is an object, or a list of them (netstat's listeners).
    static func objects(_ e: JSONValue) -> [JSONValue] {
        switch e {
        case .object: [e]
        case .array(let a): a.filter { if case .object = $0 { true } else { false } }
        default: []
        }
    }

    /// "203.0.113.9:40000" → "203.0.113.9"; "[2001:db8::1]:5" → "2001:db8::1"; a bare address stays.
    static func host(_ text: String) -> String {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            return String(text[text.index(after: text.startIndex)..<close])
        }
        if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") { return String(text[..<colon]) }
        return text
    }
}

/// What an IPv4 address says about the router that has it.
enum IPv4Kind: Equatable {
    case `private`, shared, `public`, other

    init(_ text: String) {
        let parts = text.split(separator: ".").compactMap { UInt8($0) }
        guard parts.count == 4 else {
            self = .other
            return
        }
        switch (parts[0], parts[1]) {
        case (10, _), (192, 168), (172, 16...31): self = .private
        case (100, 64...127): self = .shared
        case (127, _), (169, 254), (0, _): self = .other
        default: self = .public
        }
    }
}

// MARK: - As JSON (`portdoctor report FILE --format path`)

extension PathPicture {
    public var json: JSONValue {
        func stopJSON(_ s: Stop) -> JSONValue {
            .object([
                "cause": .string(s.cause), "check": .string(s.check),
                "hop": s.hop.map { .int(Int64($0)) } ?? .null,
                "kind": s.hop.map { .string(hops[$0].kind.rawValue) } ?? .null,
                "name": s.hop.map { .string(hops[$0].name) } ?? .null,
                "primary": .bool(s.primary), "likely": .bool(s.likely),
                "side": s.hop.flatMap { hops[$0].side }.map(JSONValue.string) ?? .null,
                "computer": s.hop.flatMap { hops[$0].computer }.map(JSONValue.string) ?? .null,
            ])
        }
        return .object([
            "title": title.map(JSONValue.string) ?? .null,
            "direction": .string(direction.rawValue),
            "hops": .array(
                hops.map {
                    .object([
                        "kind": .string($0.kind.rawValue), "name": .string($0.name),
                        "detail": $0.detail.map(JSONValue.string) ?? .null,
                        "side": $0.side.map(JSONValue.string) ?? .null,
                        "computer": $0.computer.map(JSONValue.string) ?? .null,
                    ])
                }),
            "links": .array(links.map { .string($0.rawValue) }),
            "stop": stop.map(stopJSON) ?? .null,
            "stops": .array(stops.map(stopJSON)),
        ])
    }
}

// MARK: - Reading JSON

extension JSONValue {
    /// An object's member; nil for anything else.
    func member(_ key: String) -> JSONValue? {
        if case .object(let o) = self, let v = o[key], v != .null { return v }
        return nil
    }

    var items: [JSONValue] { if case .array(let a) = self { a } else { [] } }

    var text: String? {
        switch self {
        case .string(let s): s
        case .int(let i): String(i)
        default: nil
        }
    }
}
