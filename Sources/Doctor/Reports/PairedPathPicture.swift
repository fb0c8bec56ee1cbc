/// The pictures a report draws, and a paired report's (`run --with`): both computers on one path,
/// source on the left, destination on the right, each hop on its own computer, one row per direction
/// the evidence tested. Still a function of the report's JSON alone.
extension PathPicture {
    /// None when the report holds no network evidence (a pack that only checks a service: there is no
    /// path to draw); one for a one-ended run; one per tested direction for a paired run.
    public static func pictures(report: JSONValue) -> [PathPicture] {
        if isPaired(report) { return paired(report) }
        let picture = PathPicture(report: report)
        guard picture.stops.contains(where: { $0.hop != nil }) || hasNetworkEvidence(report) else { return [] }
        return [picture]
    }

    /// `portdoctor report FILE --format path`: the first picture's JSON as before (a paired report's
    /// source → destination), with `drawn` (false: the text and HTML draw nothing), `paired`, and
    /// every direction drawn under `directions`.
    public static func pathJSON(report: JSONValue) -> JSONValue {
        let drawn = pictures(report: report)
        guard case .object(var o) = (drawn.first ?? PathPicture(report: report)).json else { return .null }
        o["drawn"] = .bool(!drawn.isEmpty)
        o["paired"] = .bool(isPaired(report))
        o["directions"] = .array(drawn.map(\.json))
        return .object(o)
    }

    /// Schema 4's paired run: a `pairing` verdict, or checks from both computers.
    public static func isPaired(_ report: JSONValue) -> Bool {
        if report.member("pairing") != nil { return true }
        let sides = Set((report.member("checks")?.items ?? []).compactMap { $0.member("side")?.text })
        return sides.contains("source") && sides.contains("destination")
    }

    /// Evidence of the way the connection takes: a firewall's verdict, a NAT survey, a connect's
    /// outcome, or a listening socket.
    static func hasNetworkEvidence(_ report: JSONValue) -> Bool {
        let evidence = (report.member("checks")?.items ?? []).compactMap { $0.member("evidence") }.flatMap(objects)
        return evidence.contains { e in
            (e.member("decision") != nil && e.member("tool") != nil) || isSurvey(e) || isConnectOutcome(e)
                || (e.member("local") != nil && e.member("state")?.text == "LISTEN")
        }
    }

    static func isSurvey(_ e: JSONValue) -> Bool {
        e.member("hops") != nil || e.member("router_wan") != nil || e.member("default_gateway") != nil
            || e.member("public_address") != nil
    }

    // MARK: - Paired

    /// One computer's side of the path as its own one-ended run would see it: [computer, firewall,
    /// NATs nearest first, the middle, the other computer], as indices into the paired hops. A cause
    /// is placed on this view (`place`), so both kinds of report place causes the same way.
    struct SideView {
        var hops: [Hop]
        var index: [Int]
    }

    static func paired(_ report: JSONValue) -> [PathPicture] {
        let checks = report.member("checks")?.items ?? []
        let pairing = report.member("pairing")
        func on(_ side: String) -> [JSONValue] { checks.filter { $0.member("side")?.text == side } }
        func evidence(_ side: String) -> [JSONValue] { on(side).compactMap { $0.member("evidence") }.flatMap(objects) }
        func computer(_ side: String) -> String? { on(side).lazy.compactMap { $0.member("computer")?.text }.first }
        func firewall(_ side: String) -> String? {
            evidence(side).first { $0.member("decision") != nil && $0.member("tool") != nil }?.member("tool")?.text
        }
        func causes(_ side: String) -> Set<String> { Set(on(side).compactMap { $0.member("cause")?.text }) }
        func nats(_ side: String) -> [Hop] {
            // No survey from that computer (the partner runs only its local steps): no router is drawn.
            guard let survey = evidence(side).first(where: isSurvey) else { return [] }
            return Self.nats(survey: survey, causes: causes(side)).map {
                Hop(kind: .nat, name: "\(side) \($0.name)", detail: $0.detail, side: side, computer: computer(side))
            }
        }
        let verdictCause = pairing?.member("cause")?.text
        let verdictCheck = pairing?.member("check")?.text
        let fix = pairing?.member("fix")?.text

        var sourceNATs = nats("source")
        var destinationNATs = nats("destination")
        // The verdict names the router in front of the destination though no survey found its address.
        if destinationNATs.isEmpty, fix == "destination",
            let c = verdictCause, ["port-forward-missing", "port-forward-wrong-target", "upnp-unavailable"].contains(c)
        {
            destinationNATs = [
                Hop(
                    kind: .nat, name: "destination router", detail: nil, side: "destination",
                    computer: computer("destination"))
            ]
        }
        if sourceNATs.isEmpty, fix == "source", let c = verdictCause, ["cgnat", "double-nat"].contains(c) {
            sourceNATs = [
                Hop(kind: .nat, name: "source router", detail: nil, side: "source", computer: computer("source"))
            ]
        }
        let s = "source", d = "destination"
        var hops = [
            Hop(kind: .computer, name: "source computer", detail: computer(s), side: s, computer: computer(s)),
            Hop(kind: .firewall, name: "source firewall", detail: firewall(s), side: s, computer: computer(s)),
        ]
        hops += sourceNATs
        let middle = hops.count
        hops.append(
            Hop(
                kind: .internet, name: sourceNATs.isEmpty && destinationNATs.isEmpty ? "network" : "internet",
                detail: nil))
        hops += destinationNATs.reversed()
        hops.append(
            Hop(kind: .firewall, name: "destination firewall", detail: firewall(d), side: d, computer: computer(d)))
        hops.append(
            Hop(kind: .computer, name: "destination computer", detail: computer(d), side: d, computer: computer(d)))
        let last = hops.count - 1

        // Each side's own view, for placing its causes.
        func view(_ side: String) -> SideView {
            var index: [Int]
            if side == "source" {
                index = [0, 1] + Array(2..<middle) + [middle, last]
            } else {
                index = [last, last - 1] + Array((middle + 1)..<(last - 1)).reversed() + [middle, 0]
            }
            var hops = index.map { hops[$0] }
            // `place` knows the one-ended names: "router", "router 2", "provider NAT", "peer".
            for i in hops.indices where hops[i].kind == .nat {
                hops[i].name = String(hops[i].name.dropFirst(side.count + 1))
            }
            hops[0].kind = .computer
            hops[hops.count - 1].kind = .peer
            return SideView(hops: hops, index: index)
        }
        let byID = Dictionary(
            checks.compactMap { c in c.member("id")?.text.map { ($0, c) } }, uniquingKeysWith: { a, _ in a })
        func placed(_ cause: String, check: String, side: String?) -> Int? {
            let finding = byID[check]
            guard let side = finding?.member("side")?.text ?? side else { return nil }
            let v = view(side)
            return place(cause, evidence: finding?.member("evidence"), hops: v.hops).map { v.index[$0] }
        }

        // The stop: the verdict's (which computer to fix, from that computer's own evidence). The
        // report's other causes are marked too, but not what the verdict explains: a connect's
        // symptom (a timeout, a refusal, "filtered upstream") that the other computer's evidence resolved.
        var stops: [Stop] = []
        if let cause = verdictCause {
            let check = verdictCheck ?? ""
            stops.append(
                Stop(
                    cause: cause, check: check, hop: placed(cause, check: check, side: fix), primary: true,
                    likely: false))
        }
        var others: [(check: String, cause: String?)] = []
        if let p = report.member("primary")?.member("check")?.text {
            others.append((p, report.member("primary")?.member("cause")?.text))
        }
        for a in report.member("also")?.items ?? [] {
            if let c = a.member("check")?.text { others.append((c, a.member("cause")?.text)) }
        }
        let symptoms: Set<String> = [
            "peer-unreachable", "peer-unresolvable", "peer-ipv4-unreachable", "peer-ipv6-unreachable",
            "filtered-upstream",
        ]
        for entry in others {
            guard let cause = entry.cause, entry.check != verdictCheck else { continue }
            let finding = byID[entry.check]
            if verdictCause != nil,
                symptoms.contains(cause) || finding?.member("evidence").map(isConnectOutcome) == true
            {
                continue
            }
            let hop = placed(cause, check: entry.check, side: nil)
            if stops.contains(where: { $0.cause == cause && $0.hop == hop }) { continue }
            stops.append(
                Stop(
                    cause: cause, check: entry.check, hop: hop, primary: stops.isEmpty,
                    likely: finding?.member("status")?.text == "warn"))
        }

        // Source → destination: the connect the pair tested.
        let status = pairing?.member("connect")?.member("status")?.text
        var links = Array(repeating: LinkState.unknown, count: hops.count - 1)
        if status == "connected" {
            links = links.map { _ in .passed }
        } else {
            func allows(_ side: String) -> Bool {
                on(side).contains { c in
                    c.member("status")?.text == "pass"
                        && c.member("evidence").map { $0.member("decision")?.text == "allow" } == true
                }
            }
            if allows("source") { links[0] = .passed }
            if allows("destination") { links[last - 1] = .passed }
            // The link into the first stop on the way; with an answer (refused, reset), every link before it carried.
            if let s = stops.compactMap(\.hop).filter({ $0 > 0 }).min() {
                if status == "refused" || status == "reset" { for i in 0..<(s - 1) { links[i] = .passed } }
                links[s - 1] = .blocked
            }
        }
        let port = report.member("parameters")?.member("port")?.text
        let tcp = port.map { ", TCP \($0)" } ?? ""
        var out = [
            PathPicture(
                direction: .outbound, hops: hops, links: links, stops: stops,
                title: "source → destination\(tcp): \(status ?? "not tried")")
        ]

        // Destination → source, where the evidence tested it: the source's own survey had the destination's
        // reflector connect back, or the destination connected to the source.
        let back =
            evidence("source").first(where: isSurvey)?.member("connect_back")?.text
            ?? evidence("destination").first { isConnectOutcome($0) && $0.member("connect") == nil }?.member("status")?
            .text
        if let back {
            var links = Array(repeating: LinkState.unknown, count: hops.count - 1)
            switch back {
            case "connected": links = links.map { _ in .passed }
            case "refused", "reset":
                links = links.map { _ in .passed }
                links[0] = .blocked
            default: break
            }
            out.append(
                PathPicture(
                    direction: .inbound, hops: hops, links: links, stops: [],
                    title: "destination → source\(tcp) (connect-back): \(back)"))
        }
        return out
    }
}
