import BundledChecks
import Doctor
import LuaHost
import Testing

/// The bundled steps that reach a verdict from what the primitives say (listen-port, restart-service,
/// port-forward), run with the primitives answering each way they can: every answer must lead to a
/// verdict that rests on it, and "cannot tell" when it tells nothing.
struct SharedStepTests {
    /// What the primitives answer, and what the port-forward step asked the survey.
    final class World {
        var bindTest: LuaValue = ["status": "free", "holders": []]
        var connect: LuaValue = ["status": "connected", "rtt_ms": 1, "remote": ["ip": "192.0.2.7", "text": "192.0.2.7:4242"]]
        /// socket.connect's answers by host (others: `connect`).
        var connects: [String: LuaValue] = [:]
        /// socket.connect's answers by "host:port", before `connects`.
        var connectsByPort: [String: LuaValue] = [:]
        var defaultRoute: LuaValue = ["ipv4": true, "gateway": "192.168.1.1"]
        /// host.addresses' answer (IPv6 only: the steps ask for that family).
        var addresses: LuaValue = []
        var stableIPv6: LuaValue = .nil
        var listeners: LuaValue = []
        var service: LuaValue = [
            "manager": "runit", "name": "crashplan", "installed": true, "running": true, "pid": 2690, "seconds": 3600,
            "state": "run",
        ]
        /// What `portforward.survey` saw (evidence only: the NAT rules decide). By default a forward
        /// that works from outside.
        var survey: LuaValue = [
            "local_addresses": ["192.168.1.20"], "default_route": true, "upnp": true, "router_wan": "203.0.113.5",
            "public_address": "203.0.113.5:40112", "connect_back": "connected",
        ]
        var surveyOptions: LuaTable?
        /// socket.resolve's answers by name (others: dns-not-found).
        var names: [String: [LuaValue]] = [:]
        var firewallQuestion: LuaTable?
        var firewall: LuaValue = ["decision": "allow", "tool": "nftables"]
        /// The answer to questions about IPv6 (a family or a remote address of it); nil: `firewall`.
        var firewallIPv6: LuaValue?
        var firewallQuestions: [LuaTable?] = []
        /// process.info's answers by pid (others: no such process).
        var processes: [Int64: LuaValue] = [:]
        /// The pinhole step (PinholeStepTests): portforward.reflect's answer and its options, the
        /// routers upnp.discover { ipv6 = true } finds, their IGD:2 firewall status, PCP's answer.
        var reflect: LuaValue = ["reached": false, "ok": false, "error": "cannot reach the reflector: refused"]
        var reflectOptions: LuaTable?
        var gateways6: LuaValue = []
        var firewallStatus: LuaValue = .nil
        var pcpServer: LuaValue = .nil
        var pcpAnnounce: LuaValue = ["status": "timeout", "tries": 1]
    }

    static let params = """
        port = { type = "port", default = 4242, doc = "p" }, program = { type = "string", doc = "p" },
        service = { type = "string", doc = "s" }, peer = { type = "endpoint", doc = "p" },
        reflector = { type = "endpoint", doc = "r" }, public_name = { type = "string", doc = "n" },
        role = { type = "choice", choices = { "destination", "source" }, default = "destination", doc = "r" }
        """

    /// Runs bundled check files as the steps of a pack (with crashplan's lib/app.lua, which they may
    /// require), next to the bundled packs; `files` maps step → bundled file, or → Lua source.
    static func run(
        _ files: [(step: String, file: String)], world: World, params: [(String, String)] = [], peer: String? = nil,
        command: [String] = []
    ) throws -> [String: Finding] {
        var sources = ["pack.lua": manifest(steps: files.map(\.step), params: Self.params)]
        for (step, file) in files + [("lib/app", "crashplan/lib/app.lua"), ("lib/engine", "crashplan/lib/engine.lua")] {
            sources["\(step).lua"] =
                file.hasPrefix("return") ? file : try #require(BundledChecks.files[file], "\(file)")
        }
        var request = DiagnosisRequest(pack: "demo")
        request.platform = .linux
        request.parameters.commandLine = params
        request.parameters.peer = peer
        // As a person runs it, without administrator rights (the tests themselves run as root).
        request.options.privileged = false
        request.options.command = command
        let catalog = PackCatalog(packs: PackCatalog.discover(environment: [:]).packs + [folder(sources)])
        let prepared = try Diagnosis.prepare(request, catalog: catalog) { runtime in
            runtime.register(
                module: "socket",
                [
                    "bind_test": HostFunction { call in call.returning(world.bindTest) },
                    "connect": HostFunction { call in
                        let host = try call.string(1)
                        let port = (try? call.optionalInteger(2)).flatMap { $0 }.map { "\(host):\($0)" }
                        return call.returning(
                            port.flatMap { world.connectsByPort[$0] } ?? world.connects[host] ?? world.connect)
                    },
                    "resolve": HostFunction { call in
                        guard let a = world.names[try call.string(1)] else {
                            return call.returning(["status": "dns-not-found", "addresses": [], "error": "not known"])
                        }
                        return call.returning(["status": "resolved", "addresses": .table(LuaTable(sequence: a))])
                    },
                ])
            runtime.register(
                module: "firewall",
                [
                    "check": HostFunction { call in
                        let q = try call.optionalTable(1)
                        world.firewallQuestion = q
                        world.firewallQuestions.append(q)
                        if q?["family"] == "ipv6" || (q?["remote"].stringValue?.contains(":") ?? false),
                            let v6 = world.firewallIPv6
                        {
                            return call.returning(v6)
                        }
                        return call.returning(world.firewall)
                    }
                ])
            runtime.register(module: "netstat", ["listeners": HostFunction { call in call.returning(world.listeners) }])
            runtime.register(
                module: "host",
                [
                    "default_route": HostFunction { call in call.returning(world.defaultRoute) },
                    "addresses": HostFunction { call in call.returning(world.addresses) },
                    "stable_ipv6": HostFunction { call in call.returning(world.stableIPv6) },
                ])
            runtime.register(
                module: "process",
                ["info": HostFunction { call in call.returning(world.processes[try call.integer(1)] ?? .nil) }])
            runtime.register(
                module: "service",
                [
                    "status": HostFunction { call in call.returning(world.service) },
                    "restart_command": HostFunction { call in call.returning(.text("sv restart \(try call.string(1))"))
                    },
                ])
            runtime.register(
                module: "portforward",
                [
                    "survey": HostFunction { call in
                        world.surveyOptions = try call.optionalTable(2)
                        return call.returning(world.survey)
                    },
                    "reflect": HostFunction { call in
                        world.reflectOptions = try call.optionalTable(2)
                        return call.returning(world.reflect)
                    },
                ])
            runtime.register(
                module: "upnp",
                [
                    "discover": HostFunction { call in call.returning(world.gateways6) },
                    "firewall_status": HostFunction { call in call.returning(world.firewallStatus) },
                ])
            runtime.register(
                module: "pcp",
                [
                    "server": HostFunction { call in call.returning(world.pcpServer) },
                    "announce": HostFunction { call in call.returning(world.pcpAnnounce) },
                ])
        }
        guard case .ready(let diagnosis) = prepared else { throw PlatformOverlayTests.Failure("the pack did not load") }
        return Dictionary(uniqueKeysWithValues: diagnosis.run().findings.map { ($0.id, $0) })
    }

    static func listenPort(_ world: World, program: String? = "CrashPlanService") throws -> Finding {
        try #require(
            run(
                [("listen-port", "crashplan/listen-port.lua")], world: world,
                params: program.map { [("program", $0)] } ?? [])["listen-port"])
    }

    static func holder(_ owner: LuaValue) -> LuaValue {
        var t: [LuaValue: LuaValue] = [
            "proto": "tcp", "family": "ipv4", "state": "LISTEN", "scope": "wildcard", "local": ["text": "0.0.0.0:4242"],
        ]
        if owner != .nil { t["owner"] = owner }
        return .table(LuaTable(fields: t))
    }

    static func inUse(_ holders: [LuaValue]) -> LuaValue {
        [
            "status": "in-use", "errno": 98, "error": "Address already in use",
            "holders": .table(LuaTable(sequence: holders)),
        ]
    }

    // MARK: listen-port, one test per answer of socket.bind_test

    @Test func aFreePortPassesWithTheTestAsEvidence() throws {
        let f = try Self.listenPort(World())
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "TCP 4242 is free (the service can listen on it)")
        #expect(f.evidence["status"] == .string("free"))
    }

    @Test func aDeniedTestCannotTellWhetherThePortIsFree() throws {
        let w = World()
        w.bindTest = ["status": "denied", "errno": 13, "error": "Permission denied", "holders": []]
        let f = try Self.listenPort(w)
        #expect(f.status == .warn, "a denied test is no evidence that the port is free: \(f.summary)")
        #expect(
            f.summary
                == "cannot tell whether TCP 4242 is free without administrator rights — run `sudo portdoctor` to check this step (this computer denied the test: Permission denied)"
        )
        #expect(f.advice.first?.contains("sudo") == true)
    }

    @Test(arguments: [
        ("failed", "Too many open files"), ("unavailable", "Cannot assign requested address"),
    ])
    func aTestThatFailedCannotTell(status: String, error: String) throws {
        let w = World()
        w.bindTest = ["status": .text(status), "errno": 24, "error": .text(error), "holders": []]
        let f = try Self.listenPort(w)
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.summary == "cannot tell whether TCP 4242 is free: the test failed (\(error))")
        #expect(f.advice.first == "See who listens on it yourself: sudo ss -ltnp 'sport = :4242'")
    }

    @Test func aPortInUseWithNoHolderNamedCannotTellWho() throws {
        let w = World()
        w.bindTest = Self.inUse([])
        let f = try Self.listenPort(w)
        #expect(f.status == .warn, "an unknown holder is not the service itself: \(f.summary)")
        #expect(f.summary == "TCP 4242 is in use, and this computer does not say by which program")
        #expect(f.advice.first?.hasPrefix("Run portdoctor again with sudo to see who holds it") == true)
    }

    @Test func aHolderWhoseOwnerIsHiddenCannotBeTakenForTheService() throws {
        let w = World()
        w.bindTest = Self.inUse([Self.holder(.nil)])
        let f = try Self.listenPort(w)
        #expect(f.status == .warn, "\(f.summary)")
        #expect(f.summary == "TCP 4242 is in use, and this computer does not say by which program")
        let bare = try Self.listenPort(w, program: nil)
        #expect(bare.status == .warn, "without --param program too: \(bare.summary)")
    }

    @Test func anotherProgramHoldingThePortFails() throws {
        let w = World()
        w.bindTest = Self.inUse([Self.holder(["program": "python3", "pid": 77])])
        let f = try Self.listenPort(w)
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "port-in-use")
        #expect(f.summary == "TCP 4242 is taken by python3 (pid 77)")
    }

    @Test func theServiceItselfHoldingThePortPassesNamingIt() throws {
        let w = World()
        w.bindTest = Self.inUse([Self.holder(["program": "CrashPlanService", "pid": 2690])])
        let f = try Self.listenPort(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "TCP 4242 is used by the service itself, CrashPlanService (pid 2690)")
        // Without --param program: the holder is the service manager's main process, so the service's.
        let bare = try Self.listenPort(w, program: nil)
        #expect(bare.status == .pass)
        #expect(bare.summary == "TCP 4242 is used by the service itself, CrashPlanService (pid 2690)")
    }

    // MARK: restart-service

    static let passingStep = "return check { title = 'stub', run = function() return pass('fine') end }"
    /// A pinhole step that tested nothing (an IPv4 reflector): the port-forward step runs after it.
    static let skippingPinhole = "return check { title = 'stub', run = function() return skip('no IPv6 reflector') end }"

    static func restart(_ world: World, service: String = passingStep, params: [(String, String)] = []) throws
        -> Finding
    {
        try #require(
            run(
                [("service", service), ("restart-service", "crashplan/restart-service.lua")], world: world,
                params: params)["restart-service"])
    }

    @Test func aSettledServiceThatListensPassesOnThatEvidence() throws {
        let w = World()
        w.listeners = [Self.holder(["program": "CrashPlanService", "pid": 2690])]
        let f = try Self.restart(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(
            f.summary
                == "crashplan has run for 60 min (pid 2690), and something listens on TCP 4242; if CrashPlan still cannot connect, restart it"
        )
        #expect(f.evidence["service"]?["seconds"] == .int(3600))
    }

    @Test func aServiceThatRunsButDoesNotListenFailsAndOffersTheRestart() throws {
        let f = try Self.restart(World())
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "no-listener")
        #expect(f.summary == "crashplan has run for 60 min (pid 2690) but nothing listens on TCP 4242: it is stuck")
        #expect(f.repairs.map(\.id) == ["restart"])
        #expect(f.advice.first == "Restart it: sv restart crashplan")
    }

    @Test func aServiceJustStartedThatDoesNotListenYetCannotBeJudged() throws {
        let w = World()
        w.service = [
            "manager": "runit", "name": "crashplan", "installed": true, "running": true, "pid": 9, "seconds": 2,
            "state": "run",
        ]
        let f = try Self.restart(w)
        #expect(f.status == .warn, "\(f.summary)")
        #expect(
            f.summary.hasPrefix("crashplan has run only for 2 s and does not listen on TCP 4242 yet"), "\(f.summary)")
        // On the computer that sends, a short life is the only sign there is.
        let source = try Self.restart(w, params: [("role", "source")])
        #expect(source.status == .warn, "\(source.summary)")
        #expect(
            source.summary.hasPrefix("crashplan has run only for 2 s: it may still be starting"), "\(source.summary)")
    }

    @Test func anotherProgramOnThePortLeavesTheRestartToTheListenerStep() throws {
        let w = World()
        w.listeners = [Self.holder(["program": "python3", "pid": 77])]
        let f = try Self.restart(w, params: [("program", "CrashPlanService")])
        #expect(f.status == .skip, "\(f.summary)")
        #expect(f.summary.hasPrefix("TCP 4242 is held by python3 (pid 77)"), "\(f.summary)")
    }

    @Test func noServiceStepNoRestartVerdict() throws {
        let failing = "return check { title = 'service', run = function() return fail('stopped') end }"
        let f = try Self.restart(World(), service: failing)
        #expect(f.status == .skip)
        #expect(f.summary == "skipped because 'service' failed")
        let w = World()
        w.service = ["manager": "runit", "name": "crashplan", "installed": true, "running": false, "state": "down"]
        let stopped = try Self.restart(w)
        #expect(stopped.status == .skip, "stopped after the service step looked: \(stopped.summary)")
    }

    // MARK: port-forward: the reflector asked

    static func portForward(_ world: World, params: [(String, String)] = [], peer: String? = nil) throws -> Finding {
        try #require(
            run(
                [
                    ("listener", passingStep), ("firewall", passingStep), ("pinhole", skippingPinhole),
                    ("port-forward", "tcp-service/port-forward.lua"),
                ],
                world: world, params: params, peer: peer)[
                    "port-forward"])
    }

    @Test func aPeerGivenByNameIsAskedForTheOutsideTest() throws {
        let w = World()
        w.survey = [
            "local_addresses": ["192.168.1.20"], "default_route": true, "upnp": true, "router_wan": "203.0.113.5",
            "public_address": "203.0.113.5:40112", "connect_back": "connected",
            "reflector": "backup.example.net:4250", "reflector_address": "198.51.100.7:4250",
        ]
        let f = try Self.portForward(w, peer: "backup.example.net")
        #expect(w.surveyOptions?["reflector"] == "backup.example.net", "the name goes to the survey")
        #expect(w.surveyOptions?["reflector_port"] == .integer(4250))
        #expect(f.status == .pass, "\(f.summary)")
        #expect(
            f.summary
                == "the port is forwarded to this computer and reachable from outside (asked the reflector at backup.example.net:4250, 198.51.100.7:4250)"
        )
    }

    @Test func thePeersPortIsItsServicePortNotTheReflectors() throws {
        let w = World()
        let f = try Self.portForward(w, peer: "198.51.100.7:4300")
        #expect(w.surveyOptions?["reflector"] == "198.51.100.7")
        #expect(w.surveyOptions?["reflector_port"] == .integer(4250))
        #expect(f.summary.hasSuffix("(asked the reflector at 198.51.100.7:4250)"), "\(f.summary)")
    }

    @Test func theReflectorParameterSaysWhereItRuns() throws {
        let w = World()
        let f = try Self.portForward(w, params: [("reflector", "198.51.100.9:4999")], peer: "198.51.100.7")
        #expect(w.surveyOptions?["reflector"] == "198.51.100.9")
        #expect(w.surveyOptions?["reflector_port"] == .integer(4999))
        #expect(f.summary.hasSuffix("(asked the reflector at 198.51.100.9:4999)"), "\(f.summary)")
        let noPort = World()
        _ = try Self.portForward(noPort, params: [("reflector", "reflector.example.net")])
        #expect(noPort.surveyOptions?["reflector"] == "reflector.example.net")
        #expect(noPort.surveyOptions?["reflector_port"] == .integer(4250))
    }

    @Test func aNameThatDoesNotResolveIsReportedAsSuch() throws {
        let w = World()
        w.survey = [
            "local_addresses": ["192.168.1.20"], "default_route": true, "upnp": true, "router_wan": "203.0.113.5",
            "reflector": "backup.example.invalid:4250",
            "reflector_unresolved": "dns-not-found: Name or service not known",
        ]
        let f = try Self.portForward(w, peer: "backup.example.invalid")
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "peer-unresolvable")
        #expect(f.advice.first?.contains("Check the name backup.example.invalid") == true, "\(f.advice)")
        #expect(f.evidence["reflector_unresolved"] == .string("dns-not-found: Name or service not known"))
    }

    // MARK: listener

    @Test func aListenerWhoseOwnerIsHiddenIsNotCalledAnotherProgram() throws {
        let w = World()
        w.listeners = [Self.holder(.nil)]
        let f = try #require(Self.run([("listener", "tcp-service/listener.lua")], world: w)["listener"])
        #expect(f.status == .warn, "neither another program nor known to be the service: \(f.summary)")
        #expect(
            f.summary
                == "a program this computer does not name listens on 0.0.0.0:4242, and cannot tell whether it is the service: this computer does not say which program owns it"
        )
    }

    // MARK: is this the service? From the service manager's process tree, then the program's name

    static func crashplanListener(_ world: World, params: [(String, String)] = []) throws -> Finding {
        try #require(
            run([("service", passingStep), ("listener", "crashplan/listener.lua")], world: world, params: params)[
                "listener"])
    }

    @Test func theServicesMainProcessListeningPassesWithoutFlags() throws {
        let w = World()
        w.listeners = [Self.holder(["program": "portdoctor", "pid": 2690])]
        let f = try Self.crashplanListener(w)
        #expect(f.status == .pass, "\(f.summary)")
        #expect(f.summary == "portdoctor (pid 2690) listens on 0.0.0.0:4242")
    }

    @Test func aChildOfTheServicesMainProcessIsTheService() throws {
        let w = World()
        w.listeners = [Self.holder(["program": "java", "pid": 2701])]
        w.processes[2701] = ["pid": 2701, "ppid": 2695, "program": "java", "ancestors": [2695, 2690, 1]]
        #expect(try Self.crashplanListener(w).status == .pass)
        // Not in the tree, and a name the app does not have: another program, named.
        w.processes[2701] = ["pid": 2701, "ppid": 1, "program": "java", "ancestors": [1]]
        let other = try Self.crashplanListener(w)
        #expect(other.status == .fail, "\(other.summary)")
        #expect(other.cause == "port-in-use")
        #expect(
            other.summary
                == "TCP 4242 is held by java (pid 2701), not by the backup service (it is not crashplan's process (pid 2690) nor one of its children)"
        )
    }

    @Test func aProcessInTheServicesCgroupIsTheService() throws {
        let w = World()
        w.service = [
            "manager": "systemd", "name": "crashplan", "installed": true, "running": true, "pid": 2690,
            "state": "active (running)", "cgroup": "/system.slice/crashplan.service",
        ]
        w.listeners = [Self.holder(["program": "helper", "pid": 3000])]
        w.processes[3000] = [
            "pid": 3000, "ppid": 1, "program": "helper", "ancestors": [1],
            "cgroup": "/system.slice/crashplan.service/worker",
        ]
        #expect(try Self.crashplanListener(w).status == .pass)
        w.processes[3000] = [
            "pid": 3000, "ppid": 1, "program": "helper", "ancestors": [1], "cgroup": "/system.slice/crashplan.service2",
        ]
        #expect(try Self.crashplanListener(w).status == .fail, "a cgroup whose name only begins the same is another")
    }

    /// Linux's comm is cut at 15 bytes: the full name is what is compared.
    @Test func theAppsProgramNamesAreComparedInFull() throws {
        let w = World()
        w.service = ["manager": "openrc", "name": "crashplan", "installed": true, "running": true, "state": "started"]
        w.listeners = [Self.holder(["program": "CrashPlanService", "comm": "CrashPlanServic", "pid": 812])]
        w.processes[812] = ["pid": 812, "program": "CrashPlanService", "comm": "CrashPlanServic", "ancestors": [1]]
        let f = try Self.crashplanListener(w)
        #expect(f.status == .pass, "no pid from the manager, the app's own name: \(f.summary)")
        // Only the cut name known: not the app's name, and no evidence either way.
        w.listeners = [Self.holder(["program": "CrashPlanServic", "pid": 812])]
        w.processes[812] = nil
        let cut = try Self.crashplanListener(w)
        #expect(cut.status == .warn, "cannot tell, never pass: \(cut.summary)")
        #expect(cut.summary.contains("cannot tell whether it is the backup service"), "\(cut.summary)")
        // The person's hint is one more name.
        #expect(try Self.crashplanListener(w, params: [("program", "CrashPlanServic")]).status == .pass)
    }

    @Test func aStoppedServiceAndAnotherProgramOnThePortNamesIt() throws {
        let w = World()
        w.service = ["manager": "runit", "name": "crashplan", "installed": true, "running": false, "state": "down"]
        w.listeners = [Self.holder(["program": "python3", "pid": 77])]
        let f = try #require(Self.run([("service", "crashplan/service.lua")], world: w)["service"])
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "port-in-use", "not service-not-running: \(f.summary)")
        #expect(f.summary.contains("held by python3 (pid 77)"), "\(f.summary)")
    }

    @Test func anotherProgramOnTheEnginePortIsNamedWithoutFlags() throws {
        let w = World()
        var engine = Self.holder(["program": "python3", "pid": 77])
        if case .table(var t) = engine {
            t["local"] = ["text": "127.0.0.1:4243"]
            engine = .table(t)
        }
        w.listeners = [engine]
        let f = try #require(Self.run([("engine-port", "crashplan/engine-port.lua")], world: w)["engine-port"])
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "port-in-use")
        #expect(f.summary.hasPrefix("TCP 4243 is held by python3 (pid 77)"), "\(f.summary)")
        w.listeners = [Self.holder(["program": "CrashPlanService", "pid": 2690])]
        let own = try #require(Self.run([("engine-port", "crashplan/engine-port.lua")], world: w)["engine-port"])
        #expect(own.status == .pass, "\(own.summary)")
    }

    @Test func anIPv6OnlyListenerIsNothingListeningForIPv4() throws {
        let w = World()
        var v6 = Self.holder(["program": "portdoctor", "pid": 2690])
        if case .table(var t) = v6 {
            t["family"] = "ipv6"
            t["dual_stack"] = false
            t["local"] = ["text": "[::]:4242", "ip": "::"]
            v6 = .table(t)
        }
        w.listeners = [v6]
        let f = try Self.crashplanListener(w)
        #expect(f.status == .fail, "\(f.summary)")
        #expect(f.cause == "no-listener")
        #expect(f.summary.contains("listens on IPv6 only ([::]:4242)"), "\(f.summary)")
    }

    @Test func aListenerOnTheLANAddressPasses() throws {
        let w = World()
        var lan = Self.holder(["program": "portdoctor", "pid": 2690])
        if case .table(var t) = lan {
            t["scope"] = "specific"
            t["local"] = ["text": "192.168.1.20:4242", "ip": "192.168.1.20"]
            lan = .table(t)
        }
        w.listeners = [lan]
        let f = try Self.crashplanListener(w)
        #expect(f.status == .pass, "\(f.summary)")
    }

    // MARK: port-forward after a local fault: the router is blamed only on evidence of its own

    static func afterLocalFault(_ world: World, firewall: String, listener: String = passingStep) throws -> Finding {
        try #require(
            run(
                [
                    ("listener", listener), ("firewall", firewall), ("pinhole", skippingPinhole),
                    ("port-forward", "tcp-service/port-forward.lua"),
                ],
                world: world, peer: "198.51.100.7")["port-forward"])
    }

    static func failing(_ cause: String, decision: String) -> String {
        """
        return check { title = 'stub', run = function()
          return fail { summary = 'incoming TCP 4242 is dropped', cause = '\(cause)', evidence = { decision = '\(decision)' } }
        end }
        """
    }

    /// What the survey saw behind a router that answers UPnP, from a LAN computer.
    static func seen(_ extra: [LuaValue: LuaValue]) -> LuaValue {
        var e: [LuaValue: LuaValue] = [
            "local_addresses": ["192.168.1.20"], "router_wan": "203.0.113.9", "upnp": true, "natpmp": true,
            "public_address": "203.0.113.9:50000",
        ]
        for (k, v) in extra { e[k] = v }
        return .table(LuaTable(fields: e))
    }

    @Test func aDroppingFirewallDoesNotHideAMissingForward() throws {
        let w = World()
        // The router's own table has no forward for the port: that does not depend on the firewall.
        w.survey = Self.seen(["connect_back": "timeout"])
        let f = try Self.afterLocalFault(w, firewall: Self.failing("firewall-blocks-inbound", decision: "drop"))
        #expect(f.status == .warn, "named, but not proven while the firewall drops: \(f.summary)")
        #expect(f.cause == "port-forward-missing")
        #expect(f.summary.contains("unless you set one up in its admin page"), "\(f.summary)")
    }

    @Test func anOutcomeTheLocalFaultExplainsCannotBlameTheRouter() throws {
        let w = World()
        // A router that keeps no table to ask: only the connect-back, which the firewall here explains.
        w.survey = Self.seen(["connect_back": "timeout", "upnp": false, "natpmp": false])
        let dropped = try Self.afterLocalFault(w, firewall: Self.failing("firewall-blocks-inbound", decision: "drop"))
        #expect(dropped.status == .skip, "\(dropped.summary)")
        #expect(dropped.summary.contains("cannot tell about the router while the firewall step here fails"), "\(dropped.summary)")
        // Nothing reachable listens: the refusal may be this computer's own.
        w.survey = Self.seen(["connect_back": "refused", "upnp": false, "natpmp": false])
        let noListener = try Self.afterLocalFault(
            w, firewall: Self.passingStep,
            listener:
                "return check { title = 'l', run = function() return fail { summary = 'nothing listens', cause = 'no-listener' } end }"
        )
        #expect(noListener.status == .skip, "\(noListener.summary)")
        // Verdicts that rest on the router's own answers stand.
        w.survey = Self.seen(["connect_back": "timeout", "mapping_client": "10.0.0.9"])
        let wrong = try Self.afterLocalFault(w, firewall: Self.failing("firewall-blocks-inbound", decision: "drop"))
        #expect(wrong.cause == "port-forward-wrong-target", "\(wrong.summary)")
    }

    // MARK: firewall: rules on the other computer's address

    static func firewall(_ world: World, params: [(String, String)] = [], peer: String?) throws -> LuaTable? {
        _ = try run([("firewall", "tcp-service/firewall.lua")], world: world, params: params, peer: peer)
        return world.firewallQuestion
    }

    @Test func aPeerGivenByNameIsAskedAboutByItsAddress() throws {
        let w = World()
        w.names["backup.example.net"] = ["2001:db8::7", "198.51.100.7"]
        let inbound = try Self.firewall(w, peer: "backup.example.net")
        #expect(inbound?["remote"] == "198.51.100.7", "it comes in through the router's IPv4 forward")
        #expect(inbound?["port"] == .integer(4242))
        let outbound = try Self.firewall(w, params: [("role", "source")], peer: "backup.example.net:4300")
        #expect(outbound?["remote"] == "2001:db8::7", "the address a connect tries first")
        #expect(outbound?["port"] == .integer(4300), "the other computer's port")
        let unknown = try Self.firewall(World(), peer: "nowhere.example.net")
        #expect(unknown?["remote"] == .nil)
        let numeric = try Self.firewall(World(), peer: "203.0.113.5")
        #expect(numeric?["remote"] == "203.0.113.5")
    }
}

extension JSONValue {
    fileprivate subscript(_ key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }
}
