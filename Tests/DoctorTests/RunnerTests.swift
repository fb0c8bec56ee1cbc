import LuaHost
import Testing

@testable import Doctor

@Suite struct RunnerTests {
    @Test func checksThatWaitRunAtTheSameTime() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b"]),
                "a.lua": passing(body: "trace.mark('a waits') clock.sleep(1) trace.mark('a done') return pass('a')"),
                "b.lua": passing(body: "trace.mark('b waits') clock.sleep(1) trace.mark('b done') return pass('b')"),
            ]))
        // Both were waiting before either finished: the two 1 s waits overlapped.
        #expect(out.host.marks == ["a waits", "b waits", "a done", "b done"])
        #expect(out.report.exitCode == 0)
    }

    @Test func slowChecksReportWhatTheyAreWaitingFor() throws {
        var seen: [RunningCheck] = []
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["slow"]),
                "slow.lua": passing(body: "clock.sleep(1.6) return pass('done')"),
            ])
        ) { $0.options.progress = { seen += $0 } }
        #expect(out.status("slow") == .pass)
        let first = try #require(seen.first)
        #expect(first.id == "slow")
        #expect(first.waitingFor == "a 1.6 s timer")
        #expect(first.seconds >= 0.9)
    }

    @Test func aCheckThatNeedsAnotherWaitsForIt() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["service", "listener"]),
                "service.lua": passing(body: "clock.sleep(0.1) trace.mark('service') return pass('running')"),
                "listener.lua": passing(
                    needs: ["service"],
                    body: """
                        trace.mark('listener sees ' .. ctx.results.service.status)
                        return pass('listening')
                        """),
            ]))
        #expect(out.host.marks == ["service", "listener sees pass"])
    }

    /// `after` orders without hiding: the check runs once the other finished, even when it failed,
    /// and reads its whole result (evidence too) in ctx.results.
    @Test func aCheckThatRunsAfterAnotherStillRunsWhenItFails() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["firewall", "forward"]),
                "firewall.lua": passing(
                    body: """
                        clock.sleep(0.1) trace.mark('firewall')
                        return fail { summary = 'dropped', evidence = { decision = 'drop' } }
                        """),
                "forward.lua": """
                return check { title = "Forward", after = { "firewall" }, run = function(ctx)
                  local fw = ctx.results.firewall
                  trace.mark('forward sees ' .. fw.status .. ' ' .. fw.evidence.decision)
                  return pass('fine')
                end }
                """,
            ]))
        #expect(out.host.marks == ["firewall", "forward sees fail drop"])
        #expect(out.status("forward") == .pass)
        let plan = try #require(out.plan)
        #expect(FlowGraph.dot(plan).contains("\"firewall\" -> \"forward\" [style=dotted, label=\"read by\"];"))
        #expect(FlowGraph.mermaid(plan).contains("s1 -. read by .-> s2"))
    }

    @Test func anAfterThatNamesNoCheckIsAProblemOfThePack() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["forward"]),
                "forward.lua":
                    "return check { title = 'F', after = { 'firewal' }, run = function() return pass('x') end }",
            ]))
        #expect(out.status("forward") == .error)
        #expect(out.finding("forward")?.summary.contains("'after' names unknown check 'firewal'") == true)
    }

    @Test func theCheckTimeoutEndsASlowCheckOnly() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["slow", "next"]),
                "slow.lua":
                    "return check { title = 'Slow', timeout = 0.2, run = function() clock.sleep(30) return pass('woke') end }",
                "next.lua": passing(),
            ]))
        let slow = try #require(out.finding("slow"))
        #expect(slow.status == .error)
        #expect(
            slow.summary
                == "the check was stopped: demo/slow.lua:1: time limit exceeded (200 ms wall clock) while waiting in 'clock.sleep'"
        )
        #expect(out.status("next") == .pass)
    }

    @Test func packLimitsOnlyLowerTheUsers() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["spin"], extra: "limits = { instructions = 100000 },"),
            "spin.lua": passing(body: "while true do end"),
        ])
        let out = try diagnose(pack)
        #expect(out.finding("spin")?.summary.contains("instruction limit exceeded (100000 instructions)") == true)
        let user = try diagnose(pack) { $0.options.limits.instructions = 50_000 }
        #expect(user.finding("spin")?.summary.contains("instruction limit exceeded (50000 instructions)") == true)
    }

    // MARK: repairs

    /// A "service" that is down until its repair starts it (state kept by the host, as a real service would be).
    static let service = folder([
        "pack.lua": manifest(steps: ["service", "after"]),
        "service.lua": """
        return check {
          title = "Backup service",
          repairs = {
            start = {
              title = "Start the backup service",
              changes = "starts the service",
              privileged = true,
              apply = function(ctx, id)
                trace.mark("repair " .. id)
                if state.get("broken-repair") then return false, "sv: unable to start" end
                if not state.get("stubborn") then state.set("running", true) end
              end,
            },
          },
          run = function(ctx)
            trace.mark("check")
            if state.get("running") then return pass("the service is running") end
            return fail { summary = "the service is stopped", cause = "service-not-running", repairs = { "start" },
                          advice = { "start it" } }
          end,
        }
        """,
        "after.lua": passing(needs: ["service"]),
    ])

    @Test func withoutFixRepairsAreOnlyOffered() throws {
        let out = try diagnose(Self.service)
        let f = try #require(out.finding("service"))
        #expect(f.status == .fail)
        #expect(f.repairs.map(\.outcome) == [.offered])
        #expect(f.repairs.first?.privileged == true)
        #expect(out.host.marks == ["check"])
        #expect(out.status("after") == .skip)
    }

    @Test func fixWithYesAppliesTheRepairAndRunsTheCheckAgain() throws {
        let out = try diagnose(Self.service) {
            $0.options.fix = true
            $0.options.assumeYes = true
        }
        let f = try #require(out.finding("service"))
        // The check, the repair, the check again; then the whole plan once more without repairs.
        #expect(out.host.marks == ["check", "repair start", "check", "check"])
        #expect(f.status == .pass)
        #expect(f.summary == "the service is running (after repair 'start')")
        #expect(f.repairs.map(\.outcome) == [.fixed])
        #expect(out.status("after") == .pass)  // the step that needed it runs after the repair
        #expect(out.report.exitCode == 0)
    }

    @Test func fixAsksFirstAndANoIsRespected() throws {
        var asked: [String] = []
        let out = try diagnose(Self.service) {
            $0.options.fix = true
            $0.options.confirm = { step, repair in
                asked.append("\(step): \(repair.title)")
                return false
            }
        }
        #expect(asked == ["service: Start the backup service"])
        #expect(out.finding("service")?.repairs.map(\.outcome) == [.declined])
        #expect(out.host.marks == ["check"])
        #expect(out.report.exitCode == 1)
    }

    @Test func withNobodyToAskAndNoYesNothingIsApplied() throws {
        let out = try diagnose(Self.service) { $0.options.fix = true }
        let repair = try #require(out.finding("service")?.repairs.first)
        #expect(repair.outcome == .declined)
        #expect(repair.detail == "not confirmed: run with --fix --yes to apply it without asking")
        #expect(out.host.marks == ["check"])
    }

    @Test func aRepairThatFailsOrDoesNotHelpIsReportedSo() throws {
        let failing = try diagnose(Self.service, host: TestHost(state: ["broken-repair": true])) { r in
            r.options.fix = true
            r.options.assumeYes = true
        }
        #expect(failing.finding("service")?.repairs.first?.outcome == .failed)
        #expect(failing.finding("service")?.repairs.first?.detail == "sv: unable to start")
        #expect(failing.status("service") == .fail)

        let stubborn = try diagnose(Self.service, host: TestHost(state: ["stubborn": true])) { r in
            r.options.fix = true
            r.options.assumeYes = true
        }
        let f = try #require(stubborn.finding("service"))
        #expect(stubborn.host.marks == ["check", "repair start", "check", "check"])
        #expect(f.status == .fail)
        #expect(f.repairs.first?.outcome == .notFixed)
        #expect(f.repairs.first?.detail == "the check still reports: the service is stopped")
    }

    @Test func whatARepairSaysItDidIsKeptInTheReport() throws {
        let pack = folder([
            "pack.lua": manifest(steps: ["forward"]),
            "forward.lua": """
            return check {
              title = "Forward",
              repairs = { add = { title = "Add the forward", changes = "adds a forward",
                                  apply = function() state.set("added", true)
                                    return true, "the router keeps it for 1 day only" end } },
              run = function(ctx)
                if state.get("added") then return pass("forwarded") end
                return fail { summary = "no forward", cause = "port-forward-missing", repairs = { "add" } }
              end,
            }
            """,
        ])
        let out = try diagnose(pack) {
            $0.options.fix = true
            $0.options.assumeYes = true
        }
        let repair = try #require(out.finding("forward")?.repairs.first)
        #expect(repair.outcome == .fixed)
        #expect(repair.detail == "the check passes now; the router keeps it for 1 day only")
    }

    // MARK: print

    static let chatty = folder([
        "pack.lua": "print('loading the pack')\n" + manifest(steps: ["a", "b"]),
        "a.lua": "print('defining a')\n"
            + passing(body: "print('hello', 42) trace.mark('printed') print('two\\nlines') error('boom')"),
        "b.lua": passing(body: "return pass('quiet')"),
    ])

    @Test func printGoesOutAtOnceNamingTheCheckOrTheFile() throws {
        let host = TestHost()
        final class Lines: @unchecked Sendable { var lines: [String] = [] }
        let printed = Lines()
        let out = try diagnose(Self.chatty, host: host) {
            $0.options.printed = { line in printed.lines.append("\(line) (marks: \(host.marks.count))") }
        }
        #expect(
            printed.lines == [
                "[demo/pack.lua] loading the pack (marks: 0)", "[demo/a.lua] defining a (marks: 0)",
                "[a] hello\t42 (marks: 0)",  // before the check went on
                "[a] two (marks: 1)", "[a] lines (marks: 1)",
            ])
        #expect(out.status("a") == .error)
        #expect(out.finding("a")?.output == nil)  // kept only with debug
    }

    @Test func withDebugEachFindingKeepsWhatItsCheckPrinted() throws {
        let out = try diagnose(Self.chatty) {
            $0.options.printed = { _ in }
            $0.options.debug = true
        }
        #expect(out.finding("a")?.output == ["hello\t42", "two", "lines"])  // the check crashed: nothing lost
        #expect(out.finding("b")?.output == [])
        let json = JSONReporter.object(out.report)
        guard case .object(let root) = json, case .array(let checks)? = root["checks"],
            case .object(let a)? = checks.first
        else {
            Issue.record("unexpected report shape \(json)")
            return
        }
        #expect(a["output"] == .array([.string("hello\t42"), .string("two"), .string("lines")]))
    }
}
