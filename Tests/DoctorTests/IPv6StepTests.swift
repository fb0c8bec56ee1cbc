import Doctor
import LuaHost
import Testing

/// The IPv6 causes the tcp-service steps name, from recorded evidence: the firewall's IPv6 verdict
/// asked on its own, a listener on IPv4 only while the other computer has only IPv6, and a name
/// whose addresses of one family do not answer.
struct IPv6StepTests {
    typealias World = SharedStepTests.World

    /// This computer's addresses as host.addresses("ipv6") gives them on a dual-stack LAN.
    static let globalIPv6: LuaValue = [
        [
            "interface": "eth0", "ip": "2001:db8:1::20", "family": "ipv6", "prefix_length": 64, "scope": "global",
            "kind": "stable", "temporary": false, "deprecated": false, "unique_local": false,
        ],
        [
            "interface": "eth0", "ip": "fe80::20", "family": "ipv6", "prefix_length": 64, "scope": "link",
            "kind": "stable", "temporary": false, "deprecated": false, "unique_local": false,
        ],
    ]

    /// Only unique-local and link-local IPv6: not reachable from the internet.
    static let localIPv6Only: LuaValue = [
        [
            "interface": "eth0", "ip": "fd00::20", "family": "ipv6", "prefix_length": 64, "scope": "global",
            "kind": "stable", "temporary": false, "deprecated": false, "unique_local": true,
        ]
    ]

    static func listener(family: String, text: String, dualStack: Bool = false) -> LuaValue {
        var t: [LuaValue: LuaValue] = [
            "proto": "tcp", "family": .text(family), "state": "LISTEN", "scope": "wildcard",
            "local": ["text": .text(text)], "owner": ["program": "portdoctor", "pid": 2690],
        ]
        if family == "ipv6" { t["dual_stack"] = .boolean(dualStack) }
        return .table(LuaTable(fields: t))
    }

    static let dualStackListener = listener(family: "ipv6", text: "[::]:4242", dualStack: true)
    static let ipv4Listener = listener(family: "ipv4", text: "0.0.0.0:4242")

    static let allowed: LuaValue = [
        "decision": "allow", "tool": "nftables", "rule": "inet filter input handle 4: tcp dport 4242 accept",
    ]
    /// What the evaluator answers for an `ip6 filter input` table that drops TCP 4242.
    static let droppedIPv6: LuaValue = [
        "decision": "drop", "tool": "nftables", "rule": "ip6 filter input handle 3: tcp dport 4242 drop",
        "fix": "sudo nft insert rule ip6 filter input tcp dport 4242 accept",
    ]

    static func firewall(_ w: World, peer: String? = "198.51.100.7") throws -> Finding {
        try #require(SharedStepTests.run([("firewall", "tcp-service/firewall.lua")], world: w, peer: peer)["firewall"])
    }

    // MARK: the firewall's IPv6 verdict

    @Test func ipv4AllowedAndIPv6DroppedIsNamedWithTheIPv6Rule() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        w.firewallIPv6 = Self.droppedIPv6
        let f = try Self.firewall(w)
        #expect(w.firewallQuestions.count == 2, "asked for IPv4, then IPv6")
        #expect(w.firewallQuestions.last??["family"] == "ipv6")
        #expect(f.cause == "firewall-blocks-inbound-ipv6", "\(f.summary)")
        // The peer is an IPv4 address: it still gets in over IPv4, so a warning.
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.summary.contains("allowed over IPv4 but dropped over IPv6"), "\(f.summary)")
        #expect(f.summary.contains("ip6 filter input handle 3"), "\(f.summary)")
        #expect(
            f.advice.first?.contains("nft insert rule ip6 filter input tcp dport 4242 accept") == true, "\(f.advice)")
        #expect(f.repairs.map(\.id) == ["open-port"])
    }

    @Test func aPeerWithOnlyIPv6AddressesMakesTheIPv6BlockAFailure() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        w.firewallIPv6 = Self.droppedIPv6
        w.names["backup.example.net"] = ["2001:db8:2::7"]
        let f = try Self.firewall(w, peer: "backup.example.net")
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "firewall-blocks-inbound-ipv6")
        #expect(f.summary.contains("backup.example.net has only IPv6 to come in on"), "\(f.summary)")
        #expect(w.firewallQuestions.last??["remote"] == "2001:db8:2::7", "rules on the peer's IPv6 address apply")
    }

    @Test func bothFamiliesAllowedPassesSayingSo() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        let f = try Self.firewall(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "incoming TCP 4242 is allowed over IPv4 and IPv6 (nftables)")
    }

    @Test func ipv6IsNotAskedWhenItCannotComeIn() throws {
        // No global IPv6 address: a dropping IPv6 ruleset is no fault.
        let w = World()
        w.addresses = Self.localIPv6Only
        w.listeners = [Self.dualStackListener]
        w.firewallIPv6 = Self.droppedIPv6
        #expect(try Self.firewall(w).status == .pass)
        #expect(w.firewallQuestions.count == 1)
        // A global address, but the service listens on IPv4 only.
        let v4 = World()
        v4.addresses = Self.globalIPv6
        v4.listeners = [Self.ipv4Listener]
        v4.firewallIPv6 = Self.droppedIPv6
        #expect(try Self.firewall(v4).status == .pass)
        #expect(v4.firewallQuestions.count == 1)
    }

    @Test func ipv4DroppedNamesTheOldCauseAndSaysIPv6IsAllowed() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = [
            "decision": "drop", "tool": "nftables", "rule": "ip filter input handle 2: tcp dport 4242 drop",
            "fix": "sudo nft insert rule ip filter input tcp dport 4242 accept",
        ]
        w.firewallIPv6 = Self.allowed
        let f = try Self.firewall(w)
        #expect(f.cause == "firewall-blocks-inbound")
        #expect(f.summary.contains("dropped over IPv4 (IPv6 is allowed)"), "\(f.summary)")
    }

    /// TCP allowed over IPv6, but incoming ICMPv6 neighbour discovery refused (what the evaluator
    /// answers for `policy drop` with no ICMPv6 rule).
    static func allowedWithoutNeighbourDiscovery(_ packet: String = "neighbour-solicitation") -> LuaValue {
        [
            "decision": "allow", "tool": "nftables", "rule": "inet filter input handle 4: tcp dport 4242 accept",
            "neighbour_discovery": [
                "decision": "drop", "packet": .text(packet), "rule": "inet filter input: policy drop",
                "fix": "sudo nft insert rule inet filter input icmpv6 type 133-137 accept",
            ],
        ]
    }

    @Test func neighbourDiscoveryRefusedMeansNothingGetsInOverIPv6() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        w.firewallIPv6 = Self.allowedWithoutNeighbourDiscovery()
        let f = try Self.firewall(w)
        #expect(f.cause == "firewall-blocks-inbound-ipv6", "\(f.summary)")
        #expect(f.status == .warn, "the IPv4 peer still gets in over IPv4: \(f.summary)")
        #expect(
            f.summary
                == "nothing gets in over IPv6: the firewall drops ICMPv6 neighbour discovery (neighbour solicitations), by nftables (inet filter input: policy drop); TCP 4242 gets in over IPv4 only"
        )
        #expect(
            f.advice.first
                == "Allow ICMPv6 types 133–137 (neighbour discovery: router and neighbour solicitations and advertisements, redirects) in: sudo nft insert rule inet filter input icmpv6 type 133-137 accept"
        )
        #expect(f.advice.contains { $0.contains("as IPv4 needs ARP") }, "\(f.advice)")
        // The repair lets neighbour discovery in (firewall.open runs the verdict's fix for it too).
        #expect(f.repairs.map(\.id) == ["open-port"])

        w.names["backup.example.net"] = ["2001:db8:2::7"]
        let only6 = try Self.firewall(w, peer: "backup.example.net")
        #expect(only6.status == .fail, "\(only6.summary)")
        #expect(only6.summary.hasSuffix("backup.example.net has only IPv6 to come in on"), "\(only6.summary)")
    }

    @Test func anAdvertisementRefusedAloneWarnsOfStalls() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        w.firewallIPv6 = Self.allowedWithoutNeighbourDiscovery("neighbour-advertisement")
        w.names["backup.example.net"] = ["2001:db8:2::7"]
        let f = try Self.firewall(w, peer: "backup.example.net")
        #expect(f.status == .warn, "a connection starts: \(f.summary)")
        #expect(f.cause == "firewall-blocks-inbound-ipv6")
        #expect(f.summary.hasPrefix("connections over IPv6 may stall"), "\(f.summary)")
    }

    @Test func neighbourDiscoveryAllowedChangesNothing() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = Self.allowed
        w.firewallIPv6 = [
            "decision": "allow", "tool": "nftables", "rule": "inet filter input handle 4: tcp dport 4242 accept",
            "neighbour_discovery": [
                "decision": "allow", "packet": "neighbour-advertisement", "rule": "inet filter input handle 3: …",
            ],
        ]
        let f = try Self.firewall(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "incoming TCP 4242 is allowed over IPv4 and IPv6 (nftables)")
    }

    @Test func ipv4DroppedAndNeighbourDiscoveryRefusedNamesBoth() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewall = [
            "decision": "drop", "tool": "nftables", "rule": "ip filter input handle 2: tcp dport 4242 drop",
            "fix": "sudo nft insert rule ip filter input tcp dport 4242 accept",
        ]
        w.firewallIPv6 = Self.allowedWithoutNeighbourDiscovery()
        let f = try Self.firewall(w)
        #expect(f.cause == "firewall-blocks-inbound")
        #expect(f.summary.contains("over IPv4 (over IPv6 ICMPv6 neighbour discovery is refused)"), "\(f.summary)")
        #expect(f.advice.contains { $0.hasPrefix("And over IPv6: Allow ICMPv6 types 133–137") }, "\(f.advice)")
    }

    @Test func anUnknownIPv6VerdictWarns() throws {
        let w = World()
        w.addresses = Self.globalIPv6
        w.listeners = [Self.dualStackListener]
        w.firewallIPv6 = ["decision": "unknown", "tool": "nftables", "note": "a rule portdoctor cannot evaluate"]
        let f = try Self.firewall(w)
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.cause == nil)
        #expect(f.summary.contains("cannot tell over IPv6"), "\(f.summary)")
    }

    // MARK: the listener on IPv4 only while the other computer has only IPv6

    static func listener(_ w: World, peer: String?) throws -> Finding {
        try #require(
            SharedStepTests.run(
                [("service", SharedStepTests.passingStep), ("listener", "crashplan/listener.lua")], world: w, peer: peer
            )["listener"])
    }

    @Test func anIPv4ListenerAndAPeerNameWithOnlyAAAAIsNamed() throws {
        let w = World()
        w.listeners = [Self.ipv4Listener]
        w.names["backup.example.net"] = ["2001:db8:2::7"]
        let f = try Self.listener(w, peer: "backup.example.net")
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "listener-ipv4-only")
        #expect(f.summary.contains("backup.example.net has only IPv6 addresses"), "\(f.summary)")
        // The same name with an A record too: IPv4 is a way in.
        w.names["backup.example.net"] = ["2001:db8:2::7", "198.51.100.7"]
        #expect(try Self.listener(w, peer: "backup.example.net").status == .pass)
        // A dual-stack listener takes the IPv6-only peer.
        w.names["backup.example.net"] = ["2001:db8:2::7"]
        w.listeners = [Self.dualStackListener]
        #expect(try Self.listener(w, peer: "backup.example.net").status == .pass)
    }

    @Test func anIPv4ListenerOnAComputerWithoutIPv4RouteIsNamed() throws {
        let w = World()
        w.listeners = [Self.ipv4Listener]
        w.defaultRoute = ["ipv4": false, "ipv6_gateway": "fe80::1%eth0"]
        let f = try Self.listener(w, peer: nil)
        #expect(f.cause == "listener-ipv4-only", "\(f.summary)")
        #expect(f.summary.contains("no IPv4 route"), "\(f.summary)")
        let numeric = World()
        numeric.listeners = [Self.ipv4Listener]
        #expect(try Self.listener(numeric, peer: "[2001:db8:2::7]:4242").cause == "listener-ipv4-only")
        #expect(try Self.listener(numeric, peer: "198.51.100.7").status == .pass)
    }

    // MARK: the peer's A and AAAA records against what answers

    static func reach(_ w: World, peer: String) throws -> Finding {
        try #require(
            SharedStepTests.run(
                [
                    ("reach-peer", "crashplan/reach-peer.lua"),
                    ("port-forward", "return check { title = 'P', run = function() return skip('-') end }"),
                    ("restart-service", "return check { title = 'R', run = function() return skip('-') end }"),
                ], world: w, params: [("role", "source")], peer: peer
            )["reach-peer"])
    }

    @Test func theNamesIPv6AddressSilentWhileIPv4AnswersIsNamed() throws {
        let w = World()
        w.names["backup.example.net"] = ["2001:db8:2::7", "198.51.100.7"]
        // The connect by name: IPv6 first, silent; then IPv4, connected.
        w.connect = [
            "status": "connected", "rtt_ms": 2,
            "remote": ["ip": "198.51.100.7", "family": "ipv4", "text": "198.51.100.7:4242"],
            "attempts": [
                ["remote": ["ip": "2001:db8:2::7"], "status": "timeout"],
                ["remote": ["ip": "198.51.100.7"], "status": "connected"],
            ],
        ]
        let f = try Self.reach(w, peer: "backup.example.net")
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.cause == "peer-ipv6-unreachable")
        #expect(
            f.summary.contains("backup.example.net's IPv6 address 2001:db8:2::7 does not answer (timeout)"),
            "\(f.summary)")
    }

    @Test func theOtherFamilyNotTriedIsAskedOnItsOwn() throws {
        let w = World()
        w.names["backup.example.net"] = ["2001:db8:2::7", "198.51.100.7"]
        w.connect = [
            "status": "connected", "rtt_ms": 2,
            "remote": ["ip": "2001:db8:2::7", "family": "ipv6", "text": "[2001:db8:2::7]:4242"],
            "attempts": [["remote": ["ip": "2001:db8:2::7"], "status": "connected"]],
        ]
        w.connects["198.51.100.7"] = ["status": "refused", "attempts": []]
        let f = try Self.reach(w, peer: "backup.example.net")
        #expect(f.cause == "peer-ipv4-unreachable", "\(f.summary)")
        // Both answer: a plain pass.
        w.connects["198.51.100.7"] = ["status": "connected", "remote": ["ip": "198.51.100.7", "family": "ipv4"]]
        #expect(try Self.reach(w, peer: "backup.example.net").status == .pass)
        // One family only: nothing more to ask.
        w.names["backup.example.net"] = ["2001:db8:2::7"]
        #expect(try Self.reach(w, peer: "backup.example.net").status == .pass)
    }

    // MARK: the name the other computer uses, against this computer's addresses

    /// A LAN computer with a stable address, a temporary one and a deprecated one.
    static let withPrivacy: LuaValue = [
        [
            "interface": "eth0", "ip": "2001:db8:1::20", "family": "ipv6", "prefix_length": 64, "scope": "global",
            "kind": "stable", "temporary": false, "deprecated": false, "unique_local": false,
        ],
        [
            "interface": "eth0", "ip": "2001:db8:1:0:5d1e:a3b:77c2:9f01", "family": "ipv6", "prefix_length": 64,
            "scope": "global", "kind": "temporary", "temporary": true, "deprecated": false, "unique_local": false,
        ],
        [
            "interface": "eth0", "ip": "2001:db8:1:0:e4c0:1f2:3a4b:5c6d", "family": "ipv6", "prefix_length": 64,
            "scope": "global", "kind": "deprecated", "temporary": true, "deprecated": true, "unique_local": false,
        ],
    ]

    static func address(_ w: World, name: String?) throws -> Finding {
        try #require(
            SharedStepTests.run(
                [("address", "tcp-service/address.lua")], world: w,
                params: name.map { [("public_name", $0)] } ?? [])["address"])
    }

    @Test func aNamePointingAtATemporaryAddressIsNamed() throws {
        let w = World()
        w.addresses = Self.withPrivacy
        w.stableIPv6 = "2001:db8:1::20"
        w.names["home.example.net"] = ["2001:db8:1:0:5d1e:a3b:77c2:9f01", "203.0.113.5"]
        let f = try Self.address(w, name: "home.example.net")
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "ipv6-address-temporary")
        #expect(f.summary.contains("a temporary (privacy) address"), "\(f.summary)")
        #expect(f.advice.first?.contains("at 2001:db8:1::20, this computer's stable address") == true, "\(f.advice)")
        // Deprecated, written another way (leading zeros, upper case): the same address.
        w.names["home.example.net"] = ["2001:DB8:1:0:E4C0:01F2:3A4B:5C6D"]
        let d = try Self.address(w, name: "home.example.net")
        #expect(d.cause == "ipv6-address-temporary", "\(d.summary)")
        #expect(d.summary.contains("deprecated"), "\(d.summary)")
    }

    @Test func aNamePointingAtAnAddressThatRotatedAwayIsNamed() throws {
        let w = World()
        w.addresses = Self.withPrivacy
        w.names["home.example.net"] = ["2001:db8:1:0:1111:2222:3333:4444"]
        let f = try Self.address(w, name: "home.example.net")
        #expect(f.cause == "ipv6-address-temporary", "\(f.summary)")
        #expect(f.summary.contains("no longer one of its addresses"), "\(f.summary)")
    }

    @Test func aNamePointingAtTheStableAddressPasses() throws {
        let w = World()
        w.addresses = Self.withPrivacy
        w.names["home.example.net"] = ["2001:db8:1:0::20"]
        #expect(try Self.address(w, name: "home.example.net").status == .pass)
        // Elsewhere: not this computer, and not a rotation either.
        w.names["home.example.net"] = ["2001:db8:99::20"]
        let elsewhere = try Self.address(w, name: "home.example.net")
        #expect(elsewhere.status == .warn, "\(elsewhere.summary)")
        #expect(elsewhere.cause == nil)
        // IPv4 only, or no name: nothing to check.
        w.names["home.example.net"] = ["203.0.113.5"]
        #expect(try Self.address(w, name: "home.example.net").status == .skip)
        #expect(try Self.address(w, name: nil).status == .skip)
    }

    // MARK: behind the provider's NAT, IPv6 is the way in

    @Test func carrierGradeNATWithGlobalIPv6AdvisesThePinholeAndTheIPv6Listener() throws {
        let w = World()
        w.survey = SharedStepTests.seen(["router_wan": "100.64.3.9", "connect_back": "refused"])
        w.stableIPv6 = "2001:db8:1::20"
        w.listeners = [Self.ipv4Listener]
        let f = try SharedStepTests.portForward(w)
        #expect(f.cause == "cgnat", "\(f.summary)")
        let advice = f.advice.joined(separator: "\n")
        #expect(advice.contains("Open a pinhole for TCP 4242 to 2001:db8:1::20"), "\(advice)")
        #expect(advice.contains("listens on IPv4 only"), "\(advice)")
        // A dual-stack listener: only the pinhole is left to do.
        w.listeners = [Self.dualStackListener]
        #expect(try !SharedStepTests.portForward(w).advice.joined().contains("listens on IPv4 only"))
        // No global IPv6: nothing said about it.
        w.stableIPv6 = .nil
        #expect(try !SharedStepTests.portForward(w).advice.joined().contains("pinhole"))
    }
}
