import Doctor
import LuaHost
import Testing

/// The backup service runs, but no service manager has it under the names the pack looks for
/// (started by hand, or registered under another name): the service step warns, naming what
/// listens, and the listener step still runs. Nothing listening and nothing installed stays a fail.
struct UnmanagedServiceTests {
    /// What service.status answers for a name no manager has.
    static let notInstalled: LuaValue = [
        "manager": "systemd", "name": "crashplan", "installed": false, "running": false,
    ]

    static func crashplan(_ w: SharedStepTests.World, params: [(String, String)] = []) throws -> [String: Finding] {
        try SharedStepTests.run(
            [("service", "crashplan/service.lua"), ("listener", "crashplan/listener.lua")], world: w, params: params)
    }

    @Test func anUnknownProgramOnThePortIsAWarnAndTheListenerStepRuns() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = [SharedStepTests.holder(["program": "java", "pid": 4711])]
        let found = try Self.crashplan(w)
        let service = try #require(found["service"])
        #expect(service.status == .warn, "\(service.summary)")
        #expect(service.cause == nil, "the service may well run: no root cause")
        #expect(service.summary.contains("java (pid 4711) listens on TCP 4242"), "\(service.summary)")
        #expect(service.summary.contains("crashplan, code42"), "\(service.summary)")
        #expect(service.advice.contains { $0.contains("--param service=NAME") }, "\(service.advice)")
        let listener = try #require(found["listener"])
        #expect(listener.status != .skip, "not skipped because 'service' failed: \(listener.summary)")
        #expect(listener.status == .warn, "cannot tell whether java is the service: \(listener.summary)")
    }

    @Test func theAppsOwnProgramOnThePortIsTheServiceRunningUnmanaged() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = [SharedStepTests.holder(["program": "CrashPlanService", "pid": 900])]
        w.processes[900] = ["pid": 900, "program": "CrashPlanService", "ancestors": [1]]
        let found = try Self.crashplan(w)
        let service = try #require(found["service"])
        #expect(service.status == .warn, "\(service.summary)")
        #expect(service.summary.hasPrefix("the backup service runs (CrashPlanService (pid 900) listens on TCP 4242"))
        #expect(service.summary.contains("no service manager has it under crashplan, code42"), "\(service.summary)")
        #expect(try #require(found["listener"]).status == .pass)
    }

    /// Without the rights to see who owns it, the socket table still lists the listener.
    @Test func aListenerOfAnotherUserIsNamedAsSuchWithTheCommandToSeeWho() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = [
            [
                "proto": "tcp", "family": "ipv4", "state": "LISTEN", "scope": "wildcard",
                "local": ["text": "0.0.0.0:4242"], "access": "no-permission",
            ]
        ]
        let service = try #require(try Self.crashplan(w)["service"])
        #expect(service.status == .warn, "\(service.summary)")
        #expect(service.summary.hasPrefix("another user's program listens on TCP 4242"), "\(service.summary)")
        #expect(service.advice.contains { $0.contains("ss -ltnp") }, "\(service.advice)")
    }

    @Test func nothingListeningAndNothingInstalledStaysAFail() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = []
        let found = try Self.crashplan(w)
        let service = try #require(found["service"])
        #expect(service.status == .fail)
        #expect(service.cause == "service-not-installed")
        #expect(service.summary == "the backup service is not installed (looked for crashplan, code42)")
        #expect(try #require(found["listener"]).status == .skip)
    }

    /// The person named the program, and what listens is another: the service is not installed.
    @Test func aListenerKnownToBeAnotherProgramDoesNotCount() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = [SharedStepTests.holder(["program": "python3", "pid": 77])]
        let service = try #require(try Self.crashplan(w, params: [("program", "CrashPlanDesktop")])["service"])
        #expect(service.status == .fail)
        #expect(service.cause == "service-not-installed")
    }

    /// The source does not listen on the port: a missing service there is not excused by a listener.
    @Test func onTheSourceAMissingServiceStaysAFail() throws {
        let w = SharedStepTests.World()
        w.service = Self.notInstalled
        w.listeners = [SharedStepTests.holder(["program": "java", "pid": 4711])]
        let service = try #require(try Self.crashplan(w, params: [("role", "source")])["service"])
        #expect(service.status == .fail)
        #expect(service.cause == "service-not-installed")
    }
}
