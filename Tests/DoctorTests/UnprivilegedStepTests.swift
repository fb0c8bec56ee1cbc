import Doctor
import LuaHost
import Testing

/// The bundled steps run by a person without administrator rights: what a primitive could not see
/// (`no-permission`) is a warning with the exact command to run again with sudo — never "stopped",
/// "another program", "blocked", nor a reason to blame the router — and what can be seen without
/// rights (the socket table's listeners, the connect-back, the router's answers) still decides.
struct UnprivilegedStepTests {
    typealias World = SharedStepTests.World
    static let command = ["portdoctor", "run", "crashplan", "--peer", "198.51.100.7"]
    static let hint = "run `sudo portdoctor run crashplan --peer 198.51.100.7` to check this step"

    static let hiddenService: LuaValue = [
        "manager": "runit", "name": "crashplan", "installed": true, "running": false, "state": "no-permission",
        "access": "no-permission",
        "access_error": "warning: /etc/service/crashplan: unable to open supervise/ok: access denied",
    ]

    /// A listener of root's: the socket table lists it, its owner is hidden.
    static func hiddenListener(_ address: String = "0.0.0.0:4242", scope: String = "wildcard") -> LuaValue {
        [
            "proto": "tcp", "family": "ipv4", "state": "LISTEN", "scope": .text(scope), "uid": 0,
            "local": ["text": .text(address)], "access": "no-permission",
            "access_error": "the program is another user's (uid 0): only the administrator may see which one",
        ]
    }

    static func run(_ files: [(String, String)], _ w: World, params: [(String, String)] = []) throws
        -> [String: Finding]
    {
        try SharedStepTests.run(files, world: w, params: params, peer: "198.51.100.7", command: command)
    }

    @Test func aServiceStatusTheManagerWouldNotTellIsNotAStoppedService() throws {
        let w = World()
        w.service = Self.hiddenService
        w.listeners = [Self.hiddenListener()]
        let f = try #require(Self.run([("service", "crashplan/service.lua")], w)["service"])
        #expect(f.status == .warn, "not service-not-running: \(f.summary)")
        #expect(f.cause == nil)
        #expect(f.summary.hasPrefix("cannot tell whether crashplan runs without administrator rights — " + Self.hint))
        #expect(f.summary.contains("unable to open supervise/ok: access denied"))
        #expect(f.advice.contains { $0.contains("something listens on TCP 4242") }, "what is seen without rights: \(f.advice)")
        #expect("\(f.evidence)".contains("no-permission"))
    }

    @Test func aListenerWhoseOwnerIsAnotherUsersIsNeitherTheServiceNorAnotherProgram() throws {
        let w = World()
        w.service = Self.hiddenService
        w.listeners = [Self.hiddenListener()]
        let f = try #require(Self.run([("listener", "tcp-service/listener.lua")], w)["listener"])
        #expect(f.status == .warn, "not port-in-use: \(f.summary)")
        #expect(f.summary.contains(Self.hint), "\(f.summary)")
        #expect(f.advice.contains { $0.contains("sudo ss -ltnp") })
    }

    @Test func nothingListeningIsSeenWithoutRights() throws {
        let w = World()
        w.service = Self.hiddenService
        w.listeners = []
        let f = try #require(Self.run([("listener", "tcp-service/listener.lua")], w)["listener"])
        #expect(f.status == .fail && f.cause == "no-listener", "\(f.summary)")
    }

    @Test func aLoopbackListenerIsSeenWithoutRights() throws {
        let w = World()
        w.service = Self.hiddenService
        w.listeners = [Self.hiddenListener("127.0.0.1:4242", scope: "loopback-only")]
        let f = try #require(Self.run([("listener", "tcp-service/listener.lua")], w)["listener"])
        #expect(f.status == .fail && f.cause == "listener-loopback-only", "\(f.summary)")
    }

    @Test func rulesThisUserMayNotReadAreNotABlock() throws {
        let w = World()
        w.firewall = [
            "decision": "no-permission", "tool": "nftables",
            "note": "reading the firewall rules needs administrator rights (nftables says: Operation not permitted (you must be root))",
        ]
        let f = try #require(Self.run([("firewall", "crashplan/firewall.lua")], w)["firewall"])
        #expect(f.status == .warn, "not firewall-blocks-inbound: \(f.summary)")
        #expect(f.cause == nil)
        #expect(
            f.summary
                == "cannot tell what the firewall does with incoming TCP 4242 without administrator rights — " + Self.hint
                + " (nftables says: Operation not permitted (you must be root))")
    }

    static let forwardSteps = [
        ("listener", SharedStepTests.passingStep), ("firewall", "crashplan/firewall.lua"),
        ("pinhole", SharedStepTests.skippingPinhole), ("port-forward", "tcp-service/port-forward.lua"),
    ]

    @Test func anUnreadFirewallKeepsTheRouterFromBeingBlamedForASilentConnectBack() throws {
        let w = World()
        w.firewall = ["decision": "no-permission", "tool": "nftables", "note": "needs administrator rights"]
        // The connect-back times out: this computer's firewall may drop it as much as the router.
        w.survey = SharedStepTests.seen(["connect_back": "timeout", "upnp": false, "natpmp": false])
        let f = try #require(
            Self.run(Self.forwardSteps, w)[
                "port-forward"])
        #expect(f.status == .warn && f.cause == nil, "not port-forward-wrong-target: \(f.summary) \(f.cause ?? "")")
        #expect(f.summary.contains(Self.hint), "\(f.summary)")
        // What the router says of itself still counts: a forward to another computer.
        w.survey = SharedStepTests.seen(["connect_back": "timeout", "mapping_client": "10.0.0.9"])
        let wrong = try #require(
            Self.run(Self.forwardSteps, w)[
                "port-forward"])
        #expect(wrong.cause == "port-forward-wrong-target", "\(wrong.summary)")
        #expect(wrong.advice.contains { $0.contains(Self.hint) }, "\(wrong.advice)")
        // And a connect-back that works proves the way in, firewall included.
        w.survey = SharedStepTests.seen(["connect_back": "connected"])
        let ok = try #require(
            Self.run(Self.forwardSteps, w)[
                "port-forward"])
        #expect(ok.status == .pass, "\(ok.summary)")
    }

    @Test func aRefusedConnectIsNotBlamedOnTheOtherComputerWhileOurFirewallIsUnread() throws {
        let w = World()
        w.connect = [
            "status": "refused", "errno": 111, "error": "Connection refused", "host": "198.51.100.7", "port": 4242,
            "remote": ["ip": "198.51.100.7", "text": "198.51.100.7:4242"], "attempts": [],
        ]
        w.firewall = ["decision": "no-permission", "tool": "nftables", "note": "needs administrator rights"]
        let f = try #require(Self.run([("reach-peer", "tcp-service/reach-peer.lua")], w, params: [("role", "source")])["reach-peer"])
        #expect(f.status == .warn && f.cause == nil, "not no-listener: \(f.summary)")
        #expect(f.summary.contains(Self.hint), "\(f.summary)")
        // Readable rules that let it out: the other computer's doing, as before.
        w.firewall = ["decision": "allow", "tool": "nftables"]
        let seen = try #require(Self.run([("reach-peer", "tcp-service/reach-peer.lua")], w, params: [("role", "source")])["reach-peer"])
        #expect(seen.status == .fail && seen.cause == "no-listener", "\(seen.summary)")
    }

    @Test func theEnginePortHeldByAnotherUsersProgramIsAWarningNotAnError() throws {
        let w = World()
        w.service = Self.hiddenService
        w.listeners = [Self.hiddenListener("127.0.0.1:4243")]
        let f = try #require(Self.run([("engine-port", "crashplan/engine-port.lua")], w)["engine-port"])
        #expect(f.status == .warn, "\(f.status): \(f.summary)")
        #expect(f.summary.contains(Self.hint), "\(f.summary)")
    }

    @Test func aPortHeldByAHiddenProgramSaysHowToSeeIt() throws {
        let w = World()
        w.service = Self.hiddenService
        w.bindTest = SharedStepTests.inUse([Self.hiddenListener()])
        let f = try #require(Self.run([("listen-port", "crashplan/listen-port.lua")], w)["listen-port"])
        #expect(f.status == .warn && f.summary.contains(Self.hint), "\(f.summary)")
    }

    @Test func theRestartStepDoesNotCallAHiddenServiceStopped() throws {
        let w = World()
        w.service = Self.hiddenService
        let f = try #require(
            Self.run([("service", "crashplan/service.lua"), ("restart-service", "crashplan/restart-service.lua")], w)[
                "restart-service"])
        #expect(f.status == .skip && f.summary.contains(Self.hint), "\(f.summary)")
    }
}
