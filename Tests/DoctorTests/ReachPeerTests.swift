import LuaHost
import Testing

@testable import Doctor

/// The telnet test from the computer that sends: what a failed connect says depends on how it
/// failed and where the other computer is.
struct ReachPeerTests {
    func reach(
        _ connect: LuaValue, peer: String, route: LuaValue? = nil, byPort: [String: LuaValue] = [:],
        params: [(String, String)] = []
    ) throws -> Finding {
        let world = SharedStepTests.World()
        world.connect = connect
        world.connectsByPort = byPort
        if let route { world.defaultRoute = route }
        return try #require(
            SharedStepTests.run(
                [
                    ("reach-peer", "crashplan/reach-peer.lua"),
                    ("port-forward", "return check { title = 'P', run = function() return skip('-') end }"),
                    ("restart-service", "return check { title = 'R', run = function() return skip('-') end }"),
                ], world: world, params: [("role", "source")] + params, peer: peer
            )["reach-peer"])
    }

    @Test func silenceFromALocalAddressIsTheOtherComputerNotARouter() throws {
        let f = try reach(
            ["status": "timeout", "attempts": [["remote": ["ip": "192.168.1.50"], "status": "timeout"]]],
            peer: "192.168.1.50")
        #expect(f.status == .fail)
        #expect(f.cause == "peer-unreachable")
        #expect(f.advice.first?.contains("off or asleep") == true, "\(f.advice)")
        #expect(f.advice.first?.contains("forward") == false, "\(f.advice)")
    }

    @Test func silenceFromAPublicAddressMayBeItsRouter() throws {
        let f = try reach(
            ["status": "timeout", "attempts": [["remote": ["ip": "198.51.100.7"], "status": "timeout"]]],
            peer: "198.51.100.7")
        #expect(f.cause == "filtered-upstream")
        #expect(f.advice.first?.contains("does not forward") == true, "\(f.advice)")
    }

    @Test func aNameThatCouldNotBeLookedUpIsADNSProblemNotAMisspelling() throws {
        let f = try reach(["status": "dns-temporary", "attempts": []], peer: "backup.example.net")
        #expect(f.cause == "peer-unresolvable")
        #expect(f.advice.first?.contains("no DNS server answered") == true, "\(f.advice)")
        #expect(f.summary == "could not connect to backup.example.net:4242: dns-temporary")
    }

    @Test func noDefaultRouteHereIsTheCauseNotTheOtherComputer() throws {
        let unreachable: LuaValue = [
            "status": "net-unreachable", "attempts": [["remote": ["ip": "198.51.100.7"], "status": "net-unreachable"]],
        ]
        let f = try reach(unreachable, peer: "198.51.100.7", route: ["ipv4": false])
        #expect(f.cause == "no-default-route", "\(f.summary)")
        #expect(f.summary == "could not connect to 198.51.100.7:4242: this computer has no default route")
        // With a way out, an unreachable network is somewhere else's doing.
        #expect(try reach(unreachable, peer: "198.51.100.7").cause == "peer-unreachable")
    }

    @Test func anIPv6PeerIsWrittenInBrackets() throws {
        let f = try reach(["status": "refused", "attempts": []], peer: "[2001:db8::7]:4243")
        #expect(f.summary == "could not connect to [2001:db8::7]:4243: refused")
    }

    // The newcomer's lab: the other computer's firewall drops incoming 4242, while its
    // `portdoctor listen` answers on 4250. On, reachable, one port dropped: not "off or asleep".
    static let silence: LuaValue = [
        "status": "timeout", "attempts": [["remote": ["ip": "10.9.0.2"], "status": "timeout"]],
    ]
    static let listenAnswers: LuaValue = [
        "status": "connected", "rtt_ms": 0.2, "remote": ["ip": "10.9.0.2", "text": "10.9.0.2:4250"],
    ]

    @Test func silenceOnTheServicePortWhileTheReflectorAnswersIsTheOtherComputersFirewall() throws {
        let f = try reach(Self.silence, peer: "10.9.0.2", byPort: ["10.9.0.2:4250": Self.listenAnswers])
        #expect(f.status == .fail)
        #expect(f.cause == "firewall-blocks-inbound", "\(f.summary)")
        #expect(f.advice.first?.contains("Check the other computer's firewall for incoming TCP 4242") == true, "\(f.advice)")
        #expect(f.advice.joined().contains("off or asleep") == false, "\(f.advice)")
        #expect(f.evidence.member("control")?.member("port")?.text == "4250")
        #expect(f.evidence.member("connect")?.member("status")?.text == "timeout")
    }

    @Test func aRefusalOnTheOtherPortAlsoShowsTheComputerIsOn() throws {
        // Nothing runs on 4250 there: its kernel answered with a reset, so it is on all the same.
        let refused: LuaValue = ["status": "refused", "remote": ["ip": "10.9.0.2", "text": "10.9.0.2:4250"]]
        let f = try reach(Self.silence, peer: "10.9.0.2", byPort: ["10.9.0.2:4250": refused])
        #expect(f.cause == "firewall-blocks-inbound", "\(f.summary)")
    }

    @Test func theReflectorParameterNamesThePortToAsk() throws {
        let f = try reach(
            Self.silence, peer: "10.9.0.2", byPort: ["10.9.0.2:4999": Self.listenAnswers],
            params: [("reflector", "10.9.0.2:4999")])
        #expect(f.cause == "firewall-blocks-inbound", "\(f.summary)")
        #expect(f.evidence.member("control")?.member("port")?.text == "4999")
    }

    @Test func silenceOnBothPortsIsStillTheComputerUnreachable() throws {
        let f = try reach(Self.silence, peer: "10.9.0.2")
        #expect(f.cause == "peer-unreachable")
        #expect(f.evidence.member("control") == nil)
    }

    @Test func aPublicAddressAnsweringElsewhereNamesTheForwardAndTheFirewallNotSilence() throws {
        let silence: LuaValue = [
            "status": "timeout", "attempts": [["remote": ["ip": "198.51.100.7"], "status": "timeout"]],
        ]
        let f = try reach(silence, peer: "198.51.100.7", byPort: ["198.51.100.7:4250": Self.listenAnswers])
        #expect(f.cause == "filtered-upstream")
        #expect(f.advice.first?.contains("answers on TCP 4250") == true, "\(f.advice)")
    }
}
