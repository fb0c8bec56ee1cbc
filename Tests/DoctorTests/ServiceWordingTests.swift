import Doctor
import LuaHost
import Testing

/// The service step says what its manager's word means, in plain English ("the crashplan service is
/// stopped (runit)"), never the bare word ("crashplan is fail (runit)"); the cause stays the same.
struct ServiceWordingTests {
    @Test(arguments: [
        ("runit", "down", "the crashplan service is stopped (runit)"),
        ("runit", "fail", "the crashplan service has failed (runit)"),
        ("runit", "finish", "the crashplan service is stopping (runit)"),
        ("systemd", "inactive (dead)", "the crashplan service is stopped (systemd)"),
        ("systemd", "failed (failed)", "the crashplan service has failed (systemd)"),
        ("systemd", "activating (auto-restart)", "the crashplan service keeps restarting (systemd)"),
        ("windows", "STOPPED", "the crashplan service is stopped (windows)"),
        ("windows", "START_PENDING", "the crashplan service is starting (windows)"),
        ("openrc", "crashed", "the crashplan service has crashed (openrc)"),
        ("launchd", "waiting", "the crashplan service is not running (launchd says \"waiting\")"),
    ])
    func aStoppedServiceIsSaidPlainly(_ manager: String, _ state: String, _ summary: String) throws {
        let w = SharedStepTests.World()
        w.service = [
            "manager": .string(LuaString(manager)), "name": "crashplan", "installed": true, "running": false,
            "state": .string(LuaString(state)),
        ]
        let f = try #require(SharedStepTests.run([("service", "crashplan/service.lua")], world: w)["service"])
        #expect(f.status == .fail)
        #expect(f.cause == "service-not-running")
        #expect(f.summary == summary)
    }

    /// systemd's unit names end in ".service": not "the crashplan.service service".
    @Test func aUnitNameIsNotSaidTwice() throws {
        let w = SharedStepTests.World()
        w.service = [
            "manager": "systemd", "name": "crashplan.service", "installed": true, "running": false,
            "state": "inactive (dead)",
        ]
        let f = try #require(SharedStepTests.run([("service", "crashplan/service.lua")], world: w)["service"])
        #expect(f.summary == "the crashplan service is stopped (systemd)")
    }
}
