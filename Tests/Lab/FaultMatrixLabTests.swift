import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The fault matrix: how often the crashplan pack names the true cause, measured on situations
/// built from a catalogue of faults rather than on the handful of scenarios the pack was written
/// against. Each fault says how it is injected (a real nftables rule, a real process, a real router
/// state), which cause a correct diagnosis names and which computer's run sees it; the scenarios are
/// every single fault on each topology where it means something, compatible pairs (both causes must
/// be named) and healthy variants (nothing may fail). Every scenario's ground truth comes from a
/// real connect, and the diagnosis from the release binary run as a person would run it.
enum FaultMatrix {
    enum Role: String, Sendable { case destination, source }

    /// single: LAN → home router → outside. double: a second, private NAT above the home router (the
    /// person owns both). cgnat: the provider's NAT in 100.64.0.0/10 (nobody here can forward on it).
    enum Topology: String, Sendable, CaseIterable { case single, double, cgnat }

    enum Forward: Sendable {
        case none
        /// A forward made in the router's admin page: a DNAT rule to `address` (this computer when nil).
        case manual(address: String? = nil, port: Int? = nil)
        /// A UPnP mapping asked of miniupnpd, to `address` (this computer when nil).
        case upnp(address: String? = nil)
    }

    /// What a scenario's world is made of; faults and healthy variants change it.
    struct Setup: Sendable {
        var topology: Topology
        var role: Role
        /// The port the pack is told about (`--param port`, 4242 by default) and the forwards use.
        var port = 4242
        /// Where the backup service really listens.
        var servicePort = 4242
        /// "0.0.0.0", "127.0.0.1", "::" or "lan" (the LAN computer's own address).
        var serviceAddress = "0.0.0.0"
        var serviceUp = true
        /// net.ipv6.bindv6only on the LAN computer: a listener on :: takes no IPv4 connection.
        var v6only = false
        /// Single NAT only: the router runs miniupnpd, with UPnP and NAT-PMP `upnp`.
        var miniupnpd = true
        var upnp = true
        var secure = true
        /// The destination's forward on its home router.
        var forward = Forward.manual()
        /// Double NAT: the upstream router forwards the port to the home router too.
        var outerForward = true
        /// `--peer` by name: nil for the address; the name resolves only when `peerResolves`.
        var peerName: String?
        var peerResolves = true
        /// Source role: the other computer (outside) listens on the port.
        var peerListening = true
        /// Changes made once the world runs (rules, squatters, routes).
        var after: [@Sendable (World) throws -> Void] = []
        /// The IPv6 scenarios (FaultMatrixIPv6.swift): the address the other computer connects to for
        /// the ground truth (nil: the router's public IPv4 address), and parameters the run adds.
        var truthAddress: (@Sendable (World) -> String)?
        var extraArguments: [String] = []

        init(topology: Topology, role: Role) {
            self.topology = topology
            self.role = role
            // Nobody can forward on the provider's NAT, and the layered networks have no miniupnpd.
            if topology != .single { miniupnpd = false }
            if topology == .cgnat { outerForward = false }
        }
    }

    /// One entry of the catalogue. `causes` are the causes a correct diagnosis may name for it (the
    /// first is the usual one; more than one only where the evidence cannot tell them apart).
    struct Fault: Sendable {
        var id: String
        var role: Role
        var causes: [String]
        /// How it is injected, in words (it is printed with a confusion).
        var how: String
        var topologies: Set<Topology>
        /// Faults in the same slot change the same thing, so they do not combine.
        var slot: String
        /// Whether the real connect still succeeds with this fault alone.
        var connects = false
        /// Part of the pairs.
        var pairs = false
        var apply: @Sendable (inout Setup) -> Void
        /// Paired (PairedFaultMatrixLabTests): the computer to fix, when not the one whose run sees it
        /// single-ended (a fault on the other computer is that computer's to fix).
        var fix: Role? = nil
        /// Paired: the causes a right diagnosis names when both computers' evidence is there, when
        /// sharper than `causes` (the other computer's own firewall, not "something upstream").
        var pairedCauses: [String]? = nil
    }

    /// A healthy variant: must pass, and its real connect must succeed.
    struct Healthy: Sendable {
        var id: String
        var role: Role
        var topology: Topology
        var how: String
        var apply: @Sendable (inout Setup) -> Void = { _ in }
    }

    enum Kind: String, Sendable { case single, pair, healthy }

    struct Scenario: Sendable {
        var id: String
        var kind: Kind
        var setup: Setup
        /// One entry per injected fault: the causes that count as naming it.
        var expected: [[String]]
        var how: String
        /// Whether the real connect should succeed; when it does not agree, the lab is wrong.
        var connects: Bool
        /// The catalogue entries injected (none for a healthy variant).
        var faults: [Fault] = []
    }

    static let all = [Topology.single, .double, .cgnat]
    static let homeTopologies: Set<Topology> = [.single, .double]

    static func rule(_ ns: @escaping @Sendable (World) -> String, _ ruleset: @escaping @Sendable (World) -> String)
        -> @Sendable (World) throws -> Void
    {
        { w in try w.lab.nft(ns(w), ruleset(w)) }
    }

    static func hostRule(hook: String, policy: String = "accept", _ body: String) -> String {
        """
        table inet pdhost {
          chain \(hook) {
            type filter hook \(hook) priority 0; policy \(policy);
            ct state established,related accept
            \(body)
          }
        }

        """
    }

    static func forwardRule(_ body: String) -> String {
        "table inet pdrouter {\n  chain forward {\n    type filter hook forward priority -10; policy accept;\n    \(body)\n  }\n}\n"
    }

    // MARK: the catalogue

    static let faults: [Fault] = [
        // The destination (this computer receives backups; the other one is outside).
        Fault(
            id: "inbound-drop", role: .destination, causes: ["firewall-blocks-inbound"],
            how: "nftables on the destination drops incoming TCP 4242", topologies: homeTopologies, slot: "firewall",
            pairs: true,
            apply: { $0.after.append(rule({ $0.home.lan }, { _ in hostRule(hook: "input", "tcp dport 4242 drop") })) }),
        Fault(
            id: "inbound-reject", role: .destination, causes: ["firewall-blocks-inbound"],
            how: "nftables on the destination rejects incoming TCP 4242", topologies: homeTopologies,
            slot: "firewall",
            apply: { $0.after.append(rule({ $0.home.lan }, { _ in hostRule(hook: "input", "tcp dport 4242 reject") })) }
        ),
        Fault(
            id: "service-stopped", role: .destination, causes: ["service-not-running"],
            how: "the runit service is down", topologies: homeTopologies, slot: "listener", pairs: true,
            apply: { $0.serviceUp = false }),
        Fault(
            id: "loopback-only", role: .destination, causes: ["listener-loopback-only"],
            how: "the service listens on 127.0.0.1:4242", topologies: homeTopologies, slot: "listener", pairs: true,
            apply: { $0.serviceAddress = "127.0.0.1" }),
        Fault(
            id: "squatter-listen-port", role: .destination, causes: ["port-in-use"],
            how: "the service is down and python3 holds 0.0.0.0:4242", topologies: homeTopologies, slot: "listener",
            connects: true,
            apply: {
                $0.serviceUp = false
                $0.after.append { w in try w.squat("0.0.0.0", 4242) }
            }),
        Fault(
            id: "squatter-engine-port", role: .destination, causes: ["port-in-use"],
            how: "python3 holds 127.0.0.1:4243 (the engine port)", topologies: homeTopologies, slot: "engine",
            connects: true, pairs: true,
            apply: { $0.after.append { w in try w.squat("127.0.0.1", 4243) } }),
        Fault(
            id: "no-forward", role: .destination, causes: ["port-forward-missing"],
            how: "no forward on the home router (miniupnpd running where there is one)", topologies: homeTopologies,
            slot: "forward", pairs: true,
            apply: { $0.forward = .none }),
        Fault(
            id: "upnp-off-no-forward", role: .destination, causes: ["port-forward-missing"],
            how: "no forward, and the router runs no miniupnpd", topologies: [.single], slot: "forward",
            apply: {
                $0.forward = .none
                $0.miniupnpd = false
            }),
        Fault(
            id: "upnp-disabled-no-forward", role: .destination, causes: ["port-forward-missing"],
            how: "no forward, miniupnpd runs with UPnP and NAT-PMP disabled", topologies: [.single], slot: "forward",
            apply: {
                $0.forward = .none
                $0.upnp = false
            }),
        Fault(
            id: "upnp-stale-address", role: .destination, causes: ["port-forward-wrong-target"],
            how: "a UPnP mapping of 4242 to 10.231.60.99 (a stale DHCP address)", topologies: [.single],
            slot: "forward",
            apply: {
                $0.secure = false
                $0.forward = .upnp(address: "10.231.60.99")
            }),
        Fault(
            id: "manual-stale-address", role: .destination, causes: ["port-forward-wrong-target"],
            how: "the router's DNAT sends 4242 to 10.231.60.99 (a stale DHCP address)", topologies: homeTopologies,
            slot: "forward", pairs: true,
            apply: { $0.forward = .manual(address: "10.231.60.99") }),
        Fault(
            id: "manual-wrong-port", role: .destination, causes: ["port-forward-wrong-target"],
            how: "the router's DNAT sends 4242 to this computer's port 4243", topologies: homeTopologies,
            slot: "forward",
            apply: { $0.forward = .manual(port: 4243) }),
        Fault(
            id: "router-forward-drop", role: .destination, causes: ["filtered-upstream", "port-forward-missing"],
            how: "the home router's forward chain drops the 4242 its DNAT lets in", topologies: homeTopologies,
            slot: "router-filter",
            apply: {
                $0.after.append(
                    rule({ $0.home.router }, { forwardRule("iifname \"\($0.home.routerWANIf)\" tcp dport 4242 drop") }))
            }),
        Fault(
            id: "upstream-drop", role: .destination, causes: ["filtered-upstream"],
            how: "the upstream router (forwarding on both) drops TCP 4242", topologies: [.double],
            slot: "router-filter",
            apply: { $0.after.append(rule({ $0.isp }, { _ in forwardRule("tcp dport 4242 drop") })) }),
        Fault(
            id: "no-default-route", role: .destination, causes: ["no-default-route"],
            how: "the destination has no default route", topologies: homeTopologies, slot: "route",
            apply: { $0.after.append { w in try w.lab.ip("-n", w.home.lan, "route", "del", "default") } }),
        Fault(
            id: "peer-unresolvable", role: .destination, causes: ["peer-unresolvable"],
            how: "--peer names a host this computer cannot resolve", topologies: homeTopologies, slot: "peer",
            connects: true,
            apply: {
                $0.peerName = "nowhere.lab.test"
                $0.peerResolves = false
            }),
        Fault(
            id: "service-other-port", role: .destination, causes: ["no-listener"],
            how: "the service listens on 4244, the configured port is 4242", topologies: homeTopologies,
            slot: "listener",
            apply: { $0.servicePort = 4244 }),
        Fault(
            id: "ipv6-only-listener", role: .destination, causes: ["no-listener"],
            how: "the service listens on [::]:4242 with bindv6only (no IPv4)", topologies: homeTopologies,
            slot: "listener",
            apply: {
                $0.serviceAddress = "::"
                $0.v6only = true
            }),
        Fault(
            id: "double-nat", role: .destination, causes: ["double-nat"],
            how: "a forward on the home router only, none on the upstream router", topologies: [.double], slot: "nat",
            pairs: true,
            apply: { $0.outerForward = false }),
        Fault(
            id: "cgnat", role: .destination, causes: ["cgnat"],
            how: "the home router's WAN is in 100.64.0.0/10 behind the provider's NAT", topologies: [.cgnat],
            slot: "nat", pairs: true,
            apply: { _ in }),

        // The source (this computer sends its backup to the other one, outside, which listens on 4242).
        Fault(
            id: "outbound-reject", role: .source, causes: ["firewall-blocks-outbound"],
            how: "nftables on the source rejects outgoing TCP 4242", topologies: Set(all), slot: "firewall",
            pairs: true,
            apply: {
                $0.after.append(rule({ $0.home.lan }, { _ in hostRule(hook: "output", "tcp dport 4242 reject") }))
            }),
        Fault(
            id: "outbound-drop", role: .source, causes: ["firewall-blocks-outbound"],
            how: "nftables on the source drops outgoing TCP 4242", topologies: Set(all), slot: "firewall",
            apply: { $0.after.append(rule({ $0.home.lan }, { _ in hostRule(hook: "output", "tcp dport 4242 drop") })) }
        ),
        Fault(
            id: "router-blocks-outbound", role: .source, causes: ["filtered-upstream"],
            how: "the home router's forward chain drops TCP 4242 going out", topologies: Set(all),
            slot: "router-filter",
            apply: {
                $0.after.append(
                    rule({ $0.home.router }, { forwardRule("iifname \"\($0.home.routerLANIf)\" tcp dport 4242 drop") }))
            }),
        Fault(
            id: "no-default-route", role: .source, causes: ["no-default-route"],
            how: "the source has no default route", topologies: Set(all), slot: "route",
            apply: { $0.after.append { w in try w.lab.ip("-n", w.home.lan, "route", "del", "default") } }),
        Fault(
            id: "peer-unresolvable", role: .source, causes: ["peer-unresolvable"],
            how: "--peer names a host this computer cannot resolve", topologies: Set(all), slot: "peer",
            apply: {
                $0.peerName = "nowhere.lab.test"
                $0.peerResolves = false
            }),
        Fault(
            id: "peer-refuses", role: .source, causes: ["no-listener"],
            how: "nothing listens on 4242 at the other computer", topologies: Set(all), slot: "peer-side",
            apply: { $0.peerListening = false }, fix: .destination, pairedCauses: ["service-not-running"]),
        Fault(
            id: "peer-drops", role: .source, causes: ["filtered-upstream"],
            how: "the other computer's nftables drops incoming TCP 4242", topologies: Set(all), slot: "peer-side",
            apply: { $0.after.append(rule({ $0.home.wan }, { _ in hostRule(hook: "input", "tcp dport 4242 drop") })) },
            fix: .destination, pairedCauses: ["firewall-blocks-inbound"]),
        Fault(
            id: "service-stopped", role: .source, causes: ["service-not-running"],
            how: "the source's own runit service is down", topologies: Set(all), slot: "listener", connects: true,
            pairs: true,
            apply: { $0.serviceUp = false }),
        Fault(
            id: "squatter-engine-port", role: .source, causes: ["port-in-use"],
            how: "python3 holds 127.0.0.1:4243 on the source", topologies: Set(all), slot: "engine", connects: true,
            pairs: true,
            apply: { $0.after.append { w in try w.squat("127.0.0.1", 4243) } }),
    ]

    static let healthy: [Healthy] = [
        Healthy(id: "manual-forward", role: .destination, topology: .single, how: "a forward in the admin page"),
        Healthy(
            id: "upnp-forward", role: .destination, topology: .single, how: "a UPnP forward",
            apply: { $0.forward = .upnp() }),
        Healthy(
            id: "manual-forward-no-upnp", role: .destination, topology: .single,
            how: "a forward in the admin page, no miniupnpd", apply: { $0.miniupnpd = false }),
        Healthy(
            id: "manual-forward-upnp-disabled", role: .destination, topology: .single,
            how: "a forward in the admin page, miniupnpd with UPnP and NAT-PMP off", apply: { $0.upnp = false }),
        Healthy(
            id: "non-default-port", role: .destination, topology: .single, how: "the service and forward on 4300",
            apply: {
                $0.port = 4300
                $0.servicePort = 4300
            }),
        Healthy(
            id: "lan-address-listener", role: .destination, topology: .single, how: "the service on 10.231.60.2 only",
            apply: { $0.serviceAddress = "lan" }),
        Healthy(
            id: "strict-firewall", role: .destination, topology: .single,
            how: "input policy drop with an explicit accept for 4242",
            apply: {
                $0.after.append(
                    rule(
                        { $0.home.lan },
                        { _ in
                            hostRule(
                                hook: "input", policy: "drop",
                                "iif lo accept\n    meta l4proto { icmp, ipv6-icmp } accept\n    tcp dport 4242 accept")
                        }))
            }),
        Healthy(
            id: "peer-by-name", role: .destination, topology: .single, how: "--peer given as a name that resolves",
            apply: { $0.peerName = "backup.lab.test" }),
        Healthy(
            id: "forwards-on-both", role: .destination, topology: .double,
            how: "double NAT with a forward on each router"),
        Healthy(
            id: "forwards-on-both-strict-firewall", role: .destination, topology: .double,
            how: "double NAT, forwards on both, input policy drop with an explicit accept",
            apply: {
                $0.after.append(
                    rule(
                        { $0.home.lan },
                        { _ in
                            hostRule(
                                hook: "input", policy: "drop",
                                "iif lo accept\n    meta l4proto { icmp, ipv6-icmp } accept\n    tcp dport 4242 accept")
                        }))
            }),
        Healthy(id: "sends", role: .source, topology: .single, how: "the source sends through its router"),
        Healthy(id: "sends", role: .source, topology: .double, how: "the source sends through two NATs"),
        Healthy(id: "sends", role: .source, topology: .cgnat, how: "the source sends through the provider's NAT"),
        Healthy(
            id: "strict-outbound", role: .source, topology: .single,
            how: "output policy drop with an explicit accept for 4242",
            apply: {
                $0.after.append(
                    rule(
                        { $0.home.lan },
                        { _ in
                            hostRule(
                                hook: "output", policy: "drop",
                                "oif lo accept\n    meta l4proto { icmp, ipv6-icmp } accept\n    tcp dport 4242 accept")
                        }))
            }),
    ]

    /// Every scenario, generated from the catalogue.
    static let scenarios: [Scenario] = {
        var out: [Scenario] = []
        func id(_ role: Role, _ t: Topology, _ name: String) -> String { "\(role.rawValue)/\(t.rawValue)/\(name)" }
        func isNAT(_ f: Fault) -> Bool { f.slot == "nat" }
        // Single faults. The destination behind CGNAT always has the CGNAT fault: anything else there is a pair.
        for f in faults {
            for t in all where f.topologies.contains(t) {
                if f.role == .destination && t == .cgnat && !isNAT(f) { continue }
                var s = Setup(topology: t, role: f.role)
                f.apply(&s)
                out.append(
                    Scenario(
                        id: id(f.role, t, f.id), kind: .single, setup: s, expected: [f.causes], how: f.how,
                        connects: f.connects, faults: [f]))
            }
        }
        // Pairs: on single NAT, and on the layered topologies with their own NAT fault as one of the two
        // (a forward fault there cannot be seen: the layered networks have no UPnP to ask).
        let pairable = faults.filter(\.pairs)
        for (i, a) in pairable.enumerated() {
            for b in pairable[(i + 1)...] where a.role == b.role && a.slot != b.slot {
                let topologies: [Topology]
                if isNAT(a) || isNAT(b) {
                    if a.slot == "forward" || b.slot == "forward" { continue }
                    topologies = all.filter { (isNAT(a) ? a : b).topologies.contains($0) }
                } else {
                    topologies = [.single]
                }
                for t in topologies {
                    var s = Setup(topology: t, role: a.role)
                    a.apply(&s)
                    b.apply(&s)
                    out.append(
                        Scenario(
                            id: id(a.role, t, "\(a.id)+\(b.id)"), kind: .pair, setup: s,
                            expected: [a.causes, b.causes], how: "\(a.how); \(b.how)",
                            connects: a.connects && b.connects, faults: [a, b]))
                }
            }
        }
        for h in healthy {
            var s = Setup(topology: h.topology, role: h.role)
            h.apply(&s)
            out.append(
                Scenario(
                    id: id(h.role, h.topology, "healthy-\(h.id)"), kind: .healthy, setup: s, expected: [], how: h.how,
                    connects: true))
        }
        return out + FaultMatrixIPv6.scenarios
    }()

    static func scenario(_ id: String) -> Scenario? { scenarios.first { $0.id == id } }

    // MARK: the bounded sample CI runs

    /// Picked by hand, once: each topology, each role, the common single faults, a few pairs and
    /// healthy variants; about 16 runs, a few seconds each.
    static let sample = [
        "destination/single/inbound-drop",
        "destination/single/service-stopped",
        "destination/single/no-forward",
        "destination/single/upnp-off-no-forward",
        "destination/double/double-nat",
        // Which router refused (the connect-back's trace), and what reached this network (the watch).
        "destination/double/no-forward",
        "destination/single/manual-wrong-port",
        "destination/single/inbound-drop+manual-stale-address",
        "destination/cgnat/cgnat",
        "source/single/outbound-reject",
        "source/cgnat/no-default-route",
        "destination/single/inbound-drop+no-forward",
        "destination/cgnat/service-stopped+cgnat",
        "destination/single/healthy-manual-forward",
        "destination/double/healthy-forwards-on-both",
        "source/cgnat/healthy-sends",
        // IPv6 (FaultMatrixIPv6.swift): the router's missing pinhole, and a healthy dual-stack line.
        "destination/dual-stack/pinhole-missing",
        "destination/dual-stack/healthy-admin-pinhole",
        // DS-Lite-like with IPv6 working: the provider's NAT alone is no failure.
        "destination/ds-lite/healthy-admin-pinhole",
    ]

    /// What today's packs name instead, for the sample scenarios they get wrong: each is expected to
    /// fail (`withKnownIssue`), so the test says so when a fix makes it pass and the entry must go.
    static let knownIssues: [String: String] = [:]

    // MARK: running a scenario

    struct Verdict: Sendable {
        var scenario: Scenario
        /// The real connect's outcome ("connected" or the error).
        var connect = ""
        var connected = false
        var exitCode: Int32 = -1
        var primary: String?
        /// Every cause the report names: the primary, each failing check's, and any others it lists.
        var named: [String] = []
        var error: String?
        var seconds = 0.0
        /// The run's JSON report, as the binary printed it (for the path picture's check).
        var reportJSON = ""
        /// Checks whose evidence says `no-permission` (they could not see something), and those of
        /// them that do not say so with the sudo hint (see FaultMatrixUnprivilegedLabTests).
        var unseen: [String] = []
        var unseenWithoutHint: [String] = []

        /// The scenario's ground truth disagrees with what the lab meant to build.
        var labBug: String? {
            guard error == nil, connected != scenario.connects else { return nil }
            return "\(scenario.id): the real connect \(connected ? "succeeds" : "fails (\(connect))")"
                + ", the lab meant it to \(scenario.connects ? "succeed" : "fail")"
        }

        var falseAlarm: Bool { error == nil && scenario.kind == .healthy && exitCode != 0 }

        var diagnosed: Bool {
            guard error == nil else { return false }
            switch scenario.kind {
            case .healthy: return exitCode == 0
            case .single: return primary.map { scenario.expected[0].contains($0) } ?? false
            case .pair: return scenario.expected.allSatisfy { causes in causes.contains { named.contains($0) } }
            }
        }

        var expectedText: String {
            scenario.kind == .healthy
                ? "pass" : scenario.expected.map { $0.joined(separator: "|") }.joined(separator: " + ")
        }

        var namedText: String {
            if let error { return "error: \(error)" }
            if exitCode == 0 { return "nothing (exit 0)" }
            let others = named.filter { $0 != primary }
            return (primary ?? "no primary") + (others.isEmpty ? "" : " (also \(others.joined(separator: ", ")))")
                + " [exit \(exitCode)]"
        }

        var line: String {
            let mark = error != nil ? "ERROR" : diagnosed ? "ok" : scenario.kind == .healthy ? "FALSE-ALARM" : "WRONG"
            let padded = mark.padding(toLength: 11, withPad: " ", startingAt: 0)
            return "\(padded) \(scenario.id) — expected \(expectedText), named \(namedText); connect "
                + "\(connected ? "works" : "fails") (\(String(format: "%.1f", seconds)) s)"
        }
    }

    /// `user`: run the diagnosis as this unprivileged user (uid:gid), as most people first run it.
    static func run(_ scenario: Scenario, user: String? = nil) -> Verdict {
        let started = Date()
        let world = World()
        world.user = user
        world.recordAs = scenario.id
        defer { world.tearDown() }
        var v = diagnose(scenario, in: world)
        v.seconds = Date().timeIntervalSince(started)
        LabRecordings.keep(scenario.id, description: scenario.how, report: v.reportJSON, correct: v.diagnosed && v.labBug == nil)
        return v
    }

    private static func diagnose(_ scenario: Scenario, in world: World) -> Verdict {
        var v = Verdict(scenario: scenario)
        do {
            try world.build(scenario.setup)
            (v.connected, v.connect) = try world.groundTruth()
            let r = try world.diagnose()
            v.exitCode = r.status
            v.reportJSON = r.output
            guard r.status == 0 || r.status == 1 else {
                v.error = "exit \(r.status): \(r.output.prefix(300))"
                return v
            }
            guard let json = try? JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any] else {
                v.error = "not JSON: \(r.output.prefix(300))"
                return v
            }
            let checks = json["checks"] as? [[String: Any]] ?? []
            // PD_FAULT_MATRIX_VERBOSE=1: the port-forward step's summary and evidence, to see why.
            if ProcessInfo.processInfo.environment["PD_FAULT_MATRIX_VERBOSE"] != nil,
                let step = checks.first(where: { $0["id"] as? String == "port-forward" }),
                let text = try? JSONSerialization.data(withJSONObject: step, options: [.sortedKeys])
            {
                print("\(scenario.id) port-forward: \(String(decoding: text, as: UTF8.self))")
            }
            let failing = checks.filter { $0["status"] as? String == "fail" }.compactMap { $0["cause"] as? String }
            v.primary = (json["primary"] as? [String: Any])?["cause"] as? String ?? failing.first
            var named = [v.primary].compactMap { $0 } + failing
            // Keys a report may add to list further findings ("others", …): any cause outside the checks.
            for (key, value) in json where key != "checks" { named += causes(in: value) }
            v.named = named.reduce(into: []) { if !$0.contains($1) { $0.append($1) } }
            for c in checks where unseen(c["evidence"] as Any) {
                let id = c["id"] as? String ?? "?"
                v.unseen.append(id)
                let words = [c["summary"] as? String ?? ""] + (c["advice"] as? [String] ?? [])
                // A failure decided on what it could see (a loopback-only listener, whoever owns it) needs no hint.
                if c["status"] as? String != "fail", !words.contains(where: { $0.contains("sudo ") }) {
                    v.unseenWithoutHint.append(id)
                }
            }
        } catch {
            v.error = "\(error)"
        }
        return v
    }

    /// Whether evidence holds a primitive's answer that it could not see (`no-permission` as a
    /// firewall decision, a service state or an access).
    static func unseen(_ value: Any) -> Bool {
        if let d = value as? [String: Any] {
            if ["access", "decision", "state"].contains(where: { d[$0] as? String == "no-permission" }) { return true }
            return d.values.contains { unseen($0) }
        }
        if let a = value as? [Any] { return a.contains { unseen($0) } }
        return false
    }

    static func causes(in value: Any) -> [String] {
        if let d = value as? [String: Any] {
            let own = (d["cause"] as? String).map { [$0] } ?? []
            return own + d.filter { $0.key != "cause" }.flatMap { causes(in: $0.value) }
        }
        if let a = value as? [Any] { return a.flatMap { causes(in: $0) } }
        return []
    }

    static func report(_ verdicts: [Verdict], seconds: Double) -> String {
        let n = verdicts.count
        let k = verdicts.filter(\.diagnosed).count
        let falseAlarms = verdicts.filter(\.falseAlarm).count
        let errors = verdicts.filter { $0.error != nil }.count
        func count(_ kind: Kind) -> String {
            let of = verdicts.filter { $0.scenario.kind == kind }
            return "\(of.filter(\.diagnosed).count)/\(of.count)"
        }
        let extra = verdicts.filter { $0.scenario.kind == .single && $0.diagnosed && $0.named.count > 1 }
        var lines = [
            "fault matrix: \(n) scenarios, release binary \(portdoctorBinary), \(String(format: "%.0f", seconds)) s",
            "diagnosed \(k)/\(n), false alarms \(falseAlarms), errors \(errors)",
            "  single faults named first \(count(.single)), pairs with both named \(count(.pair)), healthy passing \(count(.healthy))",
        ]
        lines.append("  single faults named right but with another cause besides: \(extra.count)")
        lines += extra.map { "    \($0.scenario.id): \($0.namedText)" }
        let wrong = verdicts.filter { !$0.diagnosed }
        lines.append("confusions (\(wrong.count)):")
        lines += wrong.map {
            "  \($0.scenario.id): expected \($0.expectedText), named \($0.namedText) — \($0.scenario.how)"
        }
        let bugs = verdicts.compactMap(\.labBug)
        lines.append("lab bugs (ground truth not what the lab meant) (\(bugs.count)):")
        lines += bugs.map { "  " + $0 }
        lines.append("every scenario:")
        lines += verdicts.map { "  " + $0.line }
        return lines.joined(separator: "\n") + "\n"
    }

    // MARK: a scenario's world

    final class World {
        let lab = NetworkLab()
        var home: NetworkLab.HomeNetwork!
        /// The upstream router's namespace (double NAT, CGNAT).
        var isp = ""
        var setup: Setup!
        /// The scenario's id, when its run is recorded (`LabRecordings`).
        var recordAs: String?
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pd-matrix-\(UUID().uuidString)")
        var serviceDir: URL { root.appendingPathComponent("crashplan") }
        private var etcDirs: [URL] = []
        /// "uid:gid" to run the diagnosis as (nil: root).
        var user: String?

        func build(_ s: Setup) throws {
            setup = s
            try NetworkLab.requireAvailable()
            switch s.topology {
            case .single:
                home = try lab.homeNetwork(miniupnpd: s.miniupnpd, upnp: s.upnp, natpmp: s.upnp, secure: s.secure)
            case .double, .cgnat:
                home = try lab.layeredNetwork(upstreamNet: s.topology == .double ? "10.231.63" : "100.64.63")
                isp = lab.name("i")
            }
            let runsv = try #require(
                ["/usr/bin/runsv", "/usr/sbin/runsv", "/sbin/runsv"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                },
                "runit is missing: run .ci/install-deps --test")
            if s.v6only { _ = try lab.exec(home.lan, ["/usr/sbin/sysctl", "-qw", "net.ipv6.bindv6only=1"]) }
            try FileManager.default.createDirectory(at: serviceDir, withIntermediateDirectories: true)
            let run = serviceDir.appendingPathComponent("run")
            let address = s.serviceAddress == "lan" ? home.lanAddress : s.serviceAddress
            try "#!/bin/sh\nexec \(portdoctorBinary) bench hold-listener --port \(s.servicePort) --address \(address)\n"
                .write(to: run, atomically: true, encoding: .utf8)
            chmod(run.path, 0o755)
            if !s.serviceUp {
                _ = FileManager.default.createFile(
                    atPath: serviceDir.appendingPathComponent("down").path, contents: nil)
            }
            try lab.start(home.lan, [runsv, serviceDir.path])
            if let token = pairToken {
                try buildPairedOtherComputer(s, runsv: runsv, token: token)
            } else {
                // The other computer: the reflector, and for a source its backup service on the port.
                try lab.start(home.wan, [portdoctorBinary, "listen", "--per-minute", "1000", "--port", "4250"])
                if s.role == .source && s.peerListening {
                    try lab.start(home.wan, [portdoctorBinary, "bench", "hold-listener", "--port", "\(s.port)"])
                    try waitFor { self.listening(self.home.wan, s.port) }
                }
            }
            try waitFor {
                (try? self.lab.exec(self.home.lan, ["/usr/bin/sv", "status", self.serviceDir.path]))?.output.hasPrefix(
                    s.serviceUp ? "run:" : "down:") == true
            }
            if s.serviceUp { try waitFor { self.listening(self.home.lan, s.servicePort) } }
            try waitFor { self.listening(self.home.wan, 4250) }
            if s.role == .destination { try makeForwards(s) }
            if pairToken != nil { try forwardPairingPort(s) }
            if let name = s.peerName {
                try names(home.lan, s.peerResolves ? [(home.wanAddress, name)] : [])
            }
            for change in s.after { try change(self) }
            if pairToken != nil { try openPairingPort() }
        }

        private func makeForwards(_ s: Setup) throws {
            switch s.forward {
            case .none: break
            case .manual(let address, let port):
                try dnat(
                    home.router, match: "iifname \"\(home.routerWANIf)\" tcp dport \(s.port)",
                    to: "\(address ?? home.lanAddress):\(port ?? s.port)")
            case .upnp(let address):
                let r = try lab.exec(
                    home.lan,
                    [portdoctorBinary, "probe", "upnp", "--add", "\(s.port)"] + (address.map { ["--to", $0] } ?? []))
                guard r.status == 0 else { throw NetworkLab.Failure(description: "probe upnp --add: \(r.output)") }
            }
            if s.topology == .double && s.outerForward {
                // The home router's address on the upstream network (see `layeredNetwork`).
                try dnat(isp, match: "ip daddr \(home.routerWAN) tcp dport \(s.port)", to: "10.231.63.2:\(s.port)")
            }
        }

        /// A forward made in a router's admin page: a permanent DNAT rule.
        private func dnat(_ ns: String, match: String, to: String, table: String = "pdforward") throws {
            try lab.nft(
                ns,
                "table ip \(table) {\n  chain prerouting {\n    type nat hook prerouting priority -90; policy accept;\n    \(match) dnat to \(to)\n  }\n}\n"
            )
        }

        // MARK: paired (PairedFaultMatrixLabTests)

        /// Set before `build`: both computers run portdoctor, paired by this token file. The LAN
        /// computer is the scenario's role; the outside one (`home.wan`) takes the other role, with its
        /// own runit backup service (down when `peerListening` is false).
        var pairToken: String?
        var otherServiceDir: URL { root.appendingPathComponent("other/crashplan") }

        private func buildPairedOtherComputer(_ s: Setup, runsv: String, token: String) throws {
            let dir = otherServiceDir
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            try "#!/bin/sh\nexec \(portdoctorBinary) bench hold-listener --port \(s.port)\n".write(
                to: dir.appendingPathComponent("run"), atomically: true, encoding: .utf8)
            chmod(dir.appendingPathComponent("run").path, 0o755)
            let up = s.role == .destination || s.peerListening
            if !up { _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("down").path, contents: nil) }
            try lab.start(home.wan, [runsv, dir.path])
            try lab.ip("-n", home.wan, "route", "add", "default", "via", home.routerWAN)
            // Each computer's `listen` answers its partner with its own parameters, from its environment.
            for (ns, service) in [(home.lan, serviceDir), (home.wan, dir)] {
                var env = ["/usr/bin/env", "PORTDOCTOR_PARAM_SERVICE=\(service.path)"]
                if s.port != 4242 { env.append("PORTDOCTOR_PARAM_PORT=\(s.port)") }
                try lab.start(ns, env + [portdoctorBinary, "listen", "--per-minute", "1000", "--token-file", token])
            }
            try waitFor {
                (try? self.lab.exec(self.home.wan, ["/usr/bin/sv", "status", dir.path]))?.output.hasPrefix(
                    up ? "run:" : "down:") == true
            }
            if up { try waitFor { self.listening(self.home.wan, s.port) } }
            try waitFor { self.listening(self.home.lan, 4250) }
        }

        /// Both computers run portdoctor as a person pairing them would: each one's own host
        /// firewall lets the pairing port (4250) through, in and out, and the one outside has a
        /// default route (a server on the internet has one; its port-forward step looks for it).
        private func openPairingPort() throws {
            for (ns, chain, match) in [
                (home.lan, "input", "dport"), (home.lan, "output", "dport"), (home.wan, "input", "dport"),
            ] {
                // Only where a scenario made that chain (a strict policy, a fault's rule); none: nothing to open.
                _ = try lab.exec(
                    ns, [NetworkLab.nft!, "insert", "rule", "inet", "pdhost", chain, "tcp", match, "4250", "accept"])
            }
        }

        /// The LAN computer's `listen` is reachable from outside: the person forwarded the pairing port
        /// on the router(s) in front of it. Not possible behind the provider's NAT.
        private func forwardPairingPort(_ s: Setup) throws {
            let port = 4250
            try dnat(
                home.router, match: "iifname \"\(home.routerWANIf)\" tcp dport \(port)", to: "\(home.lanAddress):\(port)",
                table: "pdpairing")
            if s.topology == .double {
                try dnat(isp, match: "ip daddr \(home.routerWAN) tcp dport \(port)", to: "10.231.63.2:\(port)", table: "pdpairing")
            }
        }

        /// `portdoctor run crashplan --with THE-OTHER --token-file … --format json`, from the LAN
        /// computer (`fromLAN`) or the outside one, each with its own role and service.
        func diagnosePaired(fromLAN: Bool) throws -> (status: Int32, output: String) {
            let role = fromLAN ? setup.role : (setup.role == .source ? Role.destination : .source)
            var argv = [
                "/usr/bin/timeout", "120", portdoctorBinary, "run", LabRecordings.pack, "--with",
                fromLAN ? (setup.peerName ?? home.wanAddress) : home.routerWAN, "--token-file", pairToken ?? "",
                "--param", "service=\((fromLAN ? serviceDir : otherServiceDir).path)", "--format", "json",
            ]
            if setup.port != 4242 { argv += ["--param", "port=\(setup.port)"] }
            if role == .source { argv += ["--param", "role=source"] }
            return try lab.exec(fromLAN ? home.lan : home.wan, argv)
        }

        /// Whether the connection really works: the other computer connecting to the destination's
        /// public address, or the source connecting to the other computer.
        func groundTruth() throws -> (Bool, String) {
            let (ns, host) =
                setup.role == .destination
                ? (home.wan, setup.truthAddress?(self) ?? home.routerWAN) : (home.lan, setup.peerName ?? home.wanAddress)
            let r = try lab.exec(
                ns,
                [
                    "/usr/bin/env", "python3", "-c",
                    "import socket,sys\ntry:\n s=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=3);print('connected')\n"
                        + "except Exception as e:\n print(type(e).__name__+': '+str(e))",
                    host, "\(setup.port)",
                ])
            let out = r.output.trimmingCharacters(in: .whitespacesAndNewlines)
            return (out == "connected", out)
        }

        /// `portdoctor run crashplan` as a person runs it: the peer, the service, JSON out; no
        /// `program`. `timeout` bounds a run that hangs, so that the matrix still ends.
        func diagnose() throws -> (status: Int32, output: String) {
            var argv = [
                "/usr/bin/timeout", "120", portdoctorBinary, "run", LabRecordings.pack, "--peer",
                setup.peerName ?? home.wanAddress, "--param", "service=\(serviceDir.path)",
            ]
            if setup.port != 4242 || LabRecordings.pack != "crashplan" { argv += ["--param", "port=\(setup.port)"] }
            if setup.role == .source { argv += ["--param", "role=source"] }
            argv += setup.extraArguments
            if let user {
                // As a person without sudo: another uid, no groups, no root's HOME (setpriv, like
                // runuser, changes only the credentials; the lab's namespaces stay).
                let ids = user.split(separator: ":")
                argv =
                    [
                        "/usr/bin/setpriv", "--reuid=\(ids[0])", "--regid=\(ids.count > 1 ? ids[1] : ids[0])",
                        "--clear-groups", "/usr/bin/env", "HOME=/nonexistent",
                    ] + argv
            }
            return try lab.exec(home.lan, argv + ["--format", "json"] + LabRecordings.arguments(for: recordAs ?? ""))
        }

        func squat(_ address: String, _ port: Int) throws {
            try lab.listener(home.lan, address: address, port: port)
            try waitFor { self.listening(self.home.lan, port) }
        }

        func listening(_ ns: String, _ port: Int) -> Bool { lab.isListening(ns, port) }

        func waitFor(_ condition: () throws -> Bool) throws { try NetworkLab.waitFor("the lab's world", condition) }

        /// Host names known inside `ns`, from its own hosts file only (no DNS query leaves the lab).
        func names(_ ns: String, _ entries: [(address: String, name: String)]) throws {
            let dir = URL(fileURLWithPath: "/etc/netns/\(ns)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            etcDirs.append(dir)
            let hosts = (["127.0.0.1 localhost"] + entries.map { "\($0.address) \($0.name)" }).joined(separator: "\n")
            try (hosts + "\n").write(to: dir.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
            try "hosts: files\n".write(
                to: dir.appendingPathComponent("nsswitch.conf"), atomically: true, encoding: .utf8)
        }

        func tearDown() {
            lab.tearDown()
            try? FileManager.default.removeItem(at: root)
            for dir in etcDirs { try? FileManager.default.removeItem(at: dir) }
            if !etcDirs.isEmpty { rmdir("/etc/netns") }  // only when empty: another lab may be using it
        }
    }
}

/// The catalogue itself: no root needed.
@Suite struct FaultMatrixCatalogueTests {
    @Test func theMatrixIsLargeEnough() {
        let s = FaultMatrix.scenarios
        #expect(s.count >= 80, "\(s.count) scenarios")
        #expect(s.filter { $0.kind == .healthy }.count >= 12)
        #expect(Set(s.map(\.id)).count == s.count, "scenario ids are unique")
        for t in FaultMatrix.Topology.allCases {
            for role in [FaultMatrix.Role.destination, .source] {
                #expect(s.contains { $0.kind == .single && $0.setup.topology == t && $0.setup.role == role })
            }
        }
        #expect(s.filter { $0.kind == .pair }.allSatisfy { $0.expected.count == 2 })
    }

    @Test func theSampleNamesScenariosThatExist() {
        for id in FaultMatrix.sample { #expect(FaultMatrix.scenario(id) != nil, "\(id)") }
        for id in FaultMatrix.knownIssues.keys { #expect(FaultMatrix.sample.contains(id), "\(id)") }
        let kinds = Set(FaultMatrix.sample.compactMap { FaultMatrix.scenario($0)?.kind })
        #expect(kinds == [.single, .pair, .healthy])
    }
}

/// The matrix in the lab. CI runs the sample; `PD_FAULT_MATRIX=all` runs every scenario (or
/// `PD_FAULT_MATRIX=TEXT` those whose id contains TEXT) and writes the summary to
/// `PD_FAULT_MATRIX_OUT` (default /tmp/fault-matrix.txt).
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)")
)
struct FaultMatrixLabTests {
    @Test(arguments: FaultMatrix.sample)
    func sample(_ id: String) throws {
        let scenario = try #require(FaultMatrix.scenario(id))
        let v = FaultMatrix.run(scenario)
        print(v.line)
        if let error = v.error { Issue.record("\(id): \(error)") }
        #expect(v.labBug == nil, "the lab is wrong: \(v.labBug ?? "")")
        if v.error != nil { return }
        let message = Comment(rawValue: "\(id): expected \(v.expectedText), named \(v.namedText)")
        let diagnosed = v.diagnosed
        if let known = FaultMatrix.knownIssues[id] {
            withKnownIssue(Comment(rawValue: known)) { #expect(diagnosed, message) }
        } else {
            #expect(diagnosed, message)
        }
        // The path picture drawn from this run's JSON stops on the hop the named cause means.
        if let wrong = PathPictureMatrix.check(v) { Issue.record(Comment(rawValue: wrong)) }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PD_FAULT_MATRIX"] != nil, "set PD_FAULT_MATRIX=all"))
    func wholeMatrix() throws {
        let filter = ProcessInfo.processInfo.environment["PD_FAULT_MATRIX"] ?? "all"
        let chosen = FaultMatrix.scenarios.filter { filter == "all" || $0.id.contains(filter) }
        let started = Date()
        var verdicts: [FaultMatrix.Verdict] = []
        for s in chosen {
            let v = FaultMatrix.run(s)
            print(v.line)
            verdicts.append(v)
        }
        let text = FaultMatrix.report(verdicts, seconds: Date().timeIntervalSince(started))
        print(text)
        let path = ProcessInfo.processInfo.environment["PD_FAULT_MATRIX_OUT"] ?? "/tmp/fault-matrix.txt"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        // Misdiagnoses are the measurement, not a failure of this run; a lab that built the wrong world is.
        for bug in verdicts.compactMap(\.labBug) { Issue.record(Comment(rawValue: bug)) }
        // So is a picture that puts the named cause's stop on the wrong hop.
        for wrong in verdicts.compactMap(PathPictureMatrix.check) { Issue.record(Comment(rawValue: wrong)) }
    }
}
