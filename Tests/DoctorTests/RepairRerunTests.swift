import Testing

@testable import Doctor

/// A repair changes the computer: the report must describe the computer after it, not a mix of
/// before and after (a port reported free next to the service that now listens on it).
@Suite struct RepairRerunTests {
    static let pack = folder([
        "pack.lua": manifest(steps: ["service", "port"]),
        "service.lua": """
        return check {
          title = "Service",
          repairs = { start = { title = "Start it", changes = "starts it",
                                apply = function() state.set("running", true) end } },
          run = function(ctx)
            if state.get("running") then return pass("running") end
            return fail { summary = "stopped", cause = "service-not-running", repairs = { "start" } }
          end,
        }
        """,
        // Independent of the service step, so it runs alongside it, before the repair.
        "port.lua": passing(
            "Port", body: "return pass(state.get('running') and 'held by the service' or 'free')"),
    ])

    @Test func afterARepairEveryCheckDescribesTheRepairedComputer() throws {
        let out = try diagnose(Self.pack) {
            $0.options.fix = true
            $0.options.assumeYes = true
        }
        #expect(out.finding("service")?.status == .pass)
        #expect(out.finding("service")?.repairs.map(\.outcome) == [.fixed])
        #expect(out.finding("port")?.summary == "held by the service")
        #expect(out.report.findings.map(\.id) == ["service", "port"])
    }

    @Test func withoutARepairNothingRunsTwice() throws {
        let host = TestHost()
        let marked = folder([
            "pack.lua": manifest(steps: ["a"]),
            "a.lua": passing(body: "trace.mark('ran') return fail { summary = 'broken', cause = 'no-listener' }"),
        ])
        let out = try diagnose(marked, host: host) { $0.options.fix = true; $0.options.assumeYes = true }
        #expect(out.finding("a")?.status == .fail)
        #expect(host.marks == ["ran"])
    }
}
