import Doctor
import LuaHost
import Testing

/// The pinhole step (tcp-service's lib/pinhole.lua) from recorded evidence: the reflector's
/// connect-back over IPv6, asked from the stable address; when it gets no answer, the router's
/// answers tell a router that can be asked for a pinhole from one only its admin page can open.
struct PinholeStepTests {
    typealias World = SharedStepTests.World

    static let stable = "2001:db8:1::20"

    /// A dual-stack computer whose service listens on [::]:4242, the reflector at an IPv6 address.
    static func world(connectBack: String = "timeout") -> World {
        let w = World()
        w.addresses = IPv6StepTests.globalIPv6
        w.stableIPv6 = .text(stable)
        w.listeners = [IPv6StepTests.dualStackListener]
        w.reflect = [
            "reached": true, "ok": true, "seen": .text("[\(stable)]:50123"),
            "connect_back": ["port": 4242, "status": .text(connectBack)],
        ]
        return w
    }

    static func pinhole(_ w: World, peer: String = "2001:db8:99::7") throws -> Finding {
        try #require(
            SharedStepTests.run(
                [
                    ("listener", "tcp-service/listener.lua"), ("firewall", "tcp-service/firewall.lua"),
                    ("pinhole", "tcp-service/pinhole.lua"),
                ], world: w, params: [("program", "portdoctor")], peer: peer)["pinhole"])
    }

    @Test func aConnectBackOverIPv6PassesAndIsAskedFromTheStableAddress() throws {
        let w = Self.world(connectBack: "connected")
        let f = try Self.pinhole(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(w.reflectOptions?["from"] == .text(Self.stable), "the connect-back must test the stable address")
        #expect(w.reflectOptions?["connect_back"] == 4242)
    }

    @Test func noAnswerWithARouterThatTakesPinholesOffersTheRepair() throws {
        let w = Self.world()
        w.gateways6 = [["location": "http://[2001:db8:1::1]:5000/rootDesc.xml"]]
        w.firewallStatus = ["enabled": true, "inbound_pinhole_allowed": true]
        let f = try Self.pinhole(w)
        #expect(f.cause == "ipv6-pinhole-missing", "\(f.summary)")
        #expect(f.status == .fail, "an IPv6 peer has no other way in: \(f.summary)")
        #expect(f.repairs.map(\.id) == ["open-pinhole"])
        #expect(f.summary.contains("can be asked"), "\(f.summary)")
        #expect(f.advice.first?.contains("--fix") == true, "\(f.advice)")
    }

    @Test func aPCPServerAloneMakesTheRouterAskable() throws {
        let w = Self.world()
        w.pcpServer = "2001:db8:1::1"
        w.pcpAnnounce = ["status": "answered", "result_name": "SUCCESS", "tries": 1]
        let f = try Self.pinhole(w)
        #expect(f.cause == "ipv6-pinhole-missing")
        #expect(f.repairs.map(\.id) == ["open-pinhole"])
    }

    @Test func aRouterThatCannotBeAskedGetsTheAdminPageAndNoRepair() throws {
        let w = Self.world()
        // IGD:2 answers, but inbound pinholes are not allowed; PCP is silent.
        w.gateways6 = [["location": "http://[2001:db8:1::1]:5000/rootDesc.xml"]]
        w.firewallStatus = ["enabled": true, "inbound_pinhole_allowed": false]
        w.pcpServer = "2001:db8:1::1"
        let f = try Self.pinhole(w)
        #expect(f.cause == "ipv6-pinhole-missing")
        #expect(f.repairs.isEmpty, "nothing to ask: \(f.repairs)")
        #expect(f.summary.contains("only its admin page"), "\(f.summary)")
        #expect(f.advice.first?.contains(Self.stable) == true, "\(f.advice)")
    }

    @Test func aPeerWithIPv4TooMakesItAWarning() throws {
        let w = Self.world()
        w.names["peer.example"] = ["2001:db8:99::7", "198.51.100.7"]
        let f = try Self.pinhole(w, peer: "peer.example")
        #expect(f.cause == "ipv6-pinhole-missing")
        #expect(f.status == .warn, "\(f.summary)")
    }

    @Test func anIPv4ReflectorAsksNothing() throws {
        let w = Self.world()
        let f = try Self.pinhole(w, peer: "198.51.100.7")
        #expect(f.status == .skip, "\(f.summary)")
        #expect(w.reflectOptions == nil, "no connect-back asked")
    }

    @Test func theComputersOwnIPv6FirewallIsNamedByItsStepNotHere() throws {
        let w = Self.world()
        w.firewallIPv6 = IPv6StepTests.droppedIPv6
        let f = try Self.pinhole(w)
        #expect(f.status == .skip, "\(f.summary)")
        #expect(w.reflectOptions == nil)
    }

    /// Neighbour discovery refused here: the router cannot find this computer, pinhole or not.
    @Test func neighbourDiscoveryRefusedHereIsNamedByTheFirewallStepNotHere() throws {
        let w = Self.world()
        w.firewallIPv6 = IPv6StepTests.allowedWithoutNeighbourDiscovery()
        let f = try Self.pinhole(w)
        #expect(f.status == .skip, "\(f.summary)")
        #expect(w.reflectOptions == nil)
    }
}
