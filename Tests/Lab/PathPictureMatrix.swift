import Foundation

/// The path picture against the fault matrix's truth: the hop each expected cause means, written
/// here from the cause vocabulary (design.md) and the lab's topologies, independently of the code that
/// draws the picture; and the stop the picture puts there, from the run's JSON through
/// `portdoctor report FILE --format path`.
enum PathPictureMatrix {
    /// A hop as the picture names it: its kind, and for a NAT which one ("router", "router 2", "provider NAT").
    struct Hop: Equatable, CustomStringConvertible {
        var kind: String
        var name: String?
        var description: String { name.map { "\(kind) (\($0))" } ?? kind }
    }

    /// Where a cause stops the connection, for this role: the truth the picture must match.
    static func expectedHop(cause: String, role: FaultMatrix.Role) -> Hop? {
        switch cause {
        case "firewall-blocks-inbound", "firewall-blocks-outbound", "firewall-blocks-inbound-ipv6":
            return Hop(kind: "firewall")
        case "listener-ipv4-only", "ipv6-address-temporary": return Hop(kind: "computer")
        // Over IPv6 the home router translates nothing, but its firewall is where the pinhole is missing.
        case "ipv6-pinhole-missing": return Hop(kind: "nat", name: "router")
        // The listener that is not there is this computer's when it receives, the other one's when it sends.
        case "no-listener": return role == .destination ? Hop(kind: "computer") : Hop(kind: "peer")
        case "listener-loopback-only", "port-in-use", "service-not-running", "service-not-installed",
            "no-default-route":
            return Hop(kind: "computer")
        case "port-forward-missing", "port-forward-wrong-target", "upnp-unavailable":
            return Hop(kind: "nat", name: "router")
        // The second router (the person's own) and the provider's NAT, past the home router.
        case "double-nat": return Hop(kind: "nat", name: "router 2")
        case "cgnat": return Hop(kind: "nat", name: "provider NAT")
        case "filtered-upstream": return Hop(kind: "internet")
        case "peer-unresolvable", "peer-unreachable": return Hop(kind: "peer")
        default: return nil
        }
    }

    /// The picture's stop for a run's JSON report: nil when it has none (a healthy run).
    static func pictureStop(reportJSON: String) throws -> (hop: Hop?, cause: String?, text: String) {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("pd-path-\(UUID().uuidString).json")
        try reportJSON.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: portdoctorBinary)
        process.arguments = ["report", file.path, "--format", "path"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0, let json = try JSONSerialization.jsonObject(with: data) as? [String: Any]
        else {
            throw NetworkLab.Failure(description: "report --format path: exit \(process.terminationStatus): \(text)")
        }
        guard let stop = json["stop"] as? [String: Any] else { return (nil, nil, text) }
        let hop = (stop["kind"] as? String).map { kind in
            Hop(kind: kind, name: kind == "nat" ? stop["name"] as? String : nil)
        }
        return (hop, stop["cause"] as? String, text)
    }

    /// Checks a finished scenario: the stop sits on the hop the named primary cause means (and, when
    /// that cause is the expected one, on the hop of the truth). nil when right, else what is wrong.
    static func check(_ v: FaultMatrix.Verdict) -> String? {
        guard v.error == nil, !v.reportJSON.isEmpty else { return nil }
        let got: (hop: Hop?, cause: String?, text: String)
        do { got = try pictureStop(reportJSON: v.reportJSON) } catch { return "\(v.scenario.id): \(error)" }
        // A fault named only as a warning (an IPv6 way in missing while IPv4 works) exits 0 and
        // still has its stop; a run that names nothing has none.
        if v.scenario.kind == .healthy || (v.exitCode == 0 && v.primary == nil) {
            return got.hop == nil ? nil : "\(v.scenario.id): a healthy run's picture stops at \(got.hop!)"
        }
        guard let primary = v.primary else { return nil }
        let expected = expectedHop(cause: primary, role: v.scenario.setup.role)
        if got.cause != primary {
            return "\(v.scenario.id): the picture stops for \(got.cause ?? "nothing"), the report names \(primary)"
        }
        if got.hop != expected {
            return
                "\(v.scenario.id): \(primary) stops at \(got.hop?.description ?? "no hop"), the truth is \(expected?.description ?? "no hop")\n\(got.text)"
        }
        return nil
    }
}
