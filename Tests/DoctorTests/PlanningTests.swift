import Foundation
import Testing

@testable import Doctor

@Suite struct PlanningTests {
    /// The vendor article's flow: the connection test decides whether port forwarding or a restart comes next.
    static let articleFlow: [String: String] = [
        "pack.lua": manifest(
            steps: ["firewall", "reach-peer", "port-forward", "restart-service", "listen-port"],
            params:
                "outcome = { type = 'choice', choices = { 'connects', 'blocked' }, default = 'blocked', doc = 'what the test finds' }"
        ),
        "firewall.lua": passing("Firewall"),
        "reach-peer.lua": """
        return check {
          title = "Connect to the other computer",
          next = { "port-forward", "restart-service" },
          run = function(ctx)
            if ctx.params.outcome == "blocked" then
              return fail { summary = "could not connect", cause = "port-forward-missing", next = "port-forward" }
            end
            return pass { summary = "connected", next = "restart-service" }
          end,
        }
        """,
        "port-forward.lua": passing(
            "Port forwarding", body: "return fail { summary = 'no forward', cause = 'port-forward-missing' }"),
        "restart-service.lua": passing("Restart"),
        "listen-port.lua": passing("Listen port", needs: ["port-forward"]),
    ]

    @Test func flowGoesToPortForwardingWhenTheConnectionFails() throws {
        let out = try diagnose(folder(Self.articleFlow))
        #expect(
            out.report.findings.map(\.id) == [
                "firewall", "reach-peer", "port-forward", "restart-service", "listen-port",
            ])
        #expect(out.status("reach-peer") == .fail)
        #expect(out.status("port-forward") == .fail)
        #expect(out.status("restart-service") == .pass)
        #expect(out.finding("listen-port")?.summary == "skipped because 'port-forward' failed")
    }

    @Test func flowSkipsPortForwardingWhenTheConnectionWorks() throws {
        let out = try diagnose(folder(Self.articleFlow)) { $0.parameters.commandLine = [("outcome", "connects")] }
        #expect(out.status("reach-peer") == .pass)
        #expect(out.finding("port-forward")?.summary == "skipped: 'reach-peer' went on to 'restart-service'")
        #expect(out.status("restart-service") == .pass)
        // listen-port needs the skipped step
        #expect(out.finding("listen-port")?.summary == "skipped because 'port-forward' was skipped")
        #expect(out.report.exitCode == 0)
    }

    @Test func aNeedsCycleIsALoadErrorThatPrintsTheChain() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["a", "b", "c"]),
                "a.lua": passing(needs: ["c"]),
                "b.lua": passing(needs: ["a"]),
                "c.lua": passing(needs: ["b"]),
            ]))
        for id in ["a", "b", "c"] {
            let f = try #require(out.finding(id))
            #expect(f.status == .error)
            #expect(f.summary.contains("'needs' forms a cycle: "), "\(f.summary)")
        }
        #expect(out.finding("a")?.summary.contains("a → c → b → a") == true, "\(out.finding("a")?.summary ?? "")")
    }

    @Test func aFlowThatGoesBackIsALoadError() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["listener", "reach", "restart"]),
                "listener.lua": passing(),
                "reach.lua": passing(),
                "restart.lua":
                    "return check {\n  title = 'R',\n  next = { 'listener' },\n  run = function() return pass('x') end,\n}",
            ]))
        #expect(
            out.finding("restart")?.summary
                == "demo/restart.lua:3: check 'restart': 'next' goes back to 'listener', which runs earlier: the flow would loop (listener → reach → restart → listener)"
        )
    }

    @Test func resultsComeOutInPlanOrderWhateverOrderTheyFinish() throws {
        let out = try diagnose(
            folder([
                "pack.lua": manifest(steps: ["slow", "fast"]),
                "slow.lua": passing(body: "clock.sleep(0.2) trace.mark('slow done') return pass('slow')"),
                "fast.lua": passing(body: "trace.mark('fast done') return pass('fast')"),
            ]))
        #expect(out.host.marks == ["fast done", "slow done"])
        #expect(out.report.findings.map(\.id) == ["slow", "fast"])
    }

    // MARK: overlays

    static let base: [String: String] = [
        "pack.lua": manifest(steps: ["listener", "firewall", "port-forward"]),
        "listener.lua": passing("Listener"),
        "firewall.lua": passing("Firewall (nftables)"),
        "port-forward.lua": passing("Port forwarding"),
    ]

    static func overlayFolder(_ name: String, _ overlay: String, checks: [String: String] = [:]) -> PackFolder {
        var files = checks
        files["overlay.lua"] = overlay
        return folder(files, name: "vendors/\(name)")
    }

    @Test func insertBeforeAndAfter() throws {
        let o = Self.overlayFolder(
            "openwrt",
            """
            return overlay {
              extends = "demo",
              when = { vendor = { manufacturer = "OpenWrt" } },
              insert = { { after = "port-forward", checks = { "openwrt-redirect" } },
                         { before = "listener", checks = { "uci-check" } } },
            }
            """, checks: ["openwrt-redirect.lua": passing("Redirect rule"), "uci-check.lua": passing("uci")])
        let out = try diagnose(folder(Self.base), overlays: [o]) { $0.vendor = ["manufacturer": "OpenWrt"] }
        #expect(
            out.report.findings.map(\.id) == ["uci-check", "listener", "firewall", "port-forward", "openwrt-redirect"])
        #expect(out.finding("openwrt-redirect")?.origin == "overlay 'openwrt' (vendors/openwrt/overlay.lua)")
        #expect(out.finding("listener")?.origin == "demo")

        let other = try diagnose(folder(Self.base), overlays: [o]) { $0.vendor = ["manufacturer": "NETGEAR"] }
        #expect(other.report.findings.map(\.id) == ["listener", "firewall", "port-forward"])
    }

    @Test func replaceSkipAndMovePerPlatform() throws {
        let o = Self.overlayFolder(
            "macos",
            """
            return overlay {
              extends = "demo",
              when = { platform = "macos" },
              replace = { firewall = "app-firewall" },
              skip = { "port-forward" },
              move = { { step = "listener", after = "app-firewall" } },
            }
            """, checks: ["app-firewall.lua": passing("Application firewall")])
        let mac = try diagnose(folder(Self.base), overlays: [o]) { $0.platform = .macos }
        #expect(mac.report.findings.map(\.id) == ["app-firewall", "listener", "port-forward"])
        #expect(mac.finding("port-forward")?.status == .skip)
        #expect(mac.finding("port-forward")?.summary.contains("taken out by overlay 'macos'") == true)
        #expect(mac.finding("listener")?.origin == "demo, moved by overlay 'macos' (vendors/macos/overlay.lua)")

        let linux = try diagnose(folder(Self.base), overlays: [o]) { $0.platform = .linux }
        #expect(linux.report.findings.map(\.id) == ["listener", "firewall", "port-forward"])
    }

    @Test func needsOfAReplacedStepFollowTheReplacement() throws {
        var files = Self.base
        files["port-forward.lua"] = passing("Port forwarding", needs: ["firewall"])
        let o = Self.overlayFolder(
            "pf", "return overlay { extends = 'demo', replace = { firewall = 'pf' } }",
            checks: ["pf.lua": passing(body: "return fail('pf blocks it')")])
        let out = try diagnose(folder(files), overlays: [o])
        #expect(out.finding("port-forward")?.summary == "skipped because 'pf' failed")
    }

    /// A check reading `ctx.results.firewall` still finds it when an overlay replaced the step
    /// under another id, evidence included.
    @Test func resultsOfAReplacedStepAreFoundByTheOldId() throws {
        var files = Self.base
        files["port-forward.lua"] = """
        return check { title = "PF", after = { "firewall" }, run = function(ctx)
          local fw = ctx.results.firewall
          return pass("firewall said " .. fw.status .. " " .. fw.evidence.decision)
        end }
        """
        let o = Self.overlayFolder(
            "pf", "return overlay { extends = 'demo', replace = { firewall = 'pf' } }",
            checks: ["pf.lua": passing(body: "return warn { summary = 'pf', evidence = { decision = 'allow' } }")])
        let out = try diagnose(folder(files), overlays: [o])
        #expect(out.finding("port-forward")?.summary == "firewall said warn allow")
    }

    @Test func aUsersOverlayFileTakesEffectWithoutARebuild() throws {
        let dir = try writeFolder([
            "overlay.lua": "return overlay { extends = 'demo', insert = { after = 'listener', checks = { 'mine' } } }",
            "mine.lua": passing("My own check", body: "return warn('my router needs a reboot')"),
        ])
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = try diagnose(folder(Self.base), userOverlays: [dir.path])
        #expect(out.report.findings.map(\.id) == ["listener", "mine", "firewall", "port-forward"])
        #expect(out.status("mine") == .warn)
    }

    @Test func aBrokenOverlayIsAnErrorFindingAndTheRestRuns() throws {
        let o = Self.overlayFolder(
            "broken",
            """
            return overlay {
              extends = "demo",
              insert = { after = "lisener", checks = { "extra" } },
            }
            """, checks: ["extra.lua": passing()])
        let out = try diagnose(folder(Self.base), overlays: [o])
        let problem = try #require(out.report.findings.first { $0.id.hasPrefix("load:") })
        #expect(
            problem.summary
                == "vendors/broken/overlay.lua: overlay 'broken': 'insert' places checks relative to step 'lisener', which is not in the plan (did you mean 'listener'?)"
        )
        #expect(out.status("listener") == .pass)
        #expect(out.report.exitCode == 2)
    }

    @Test func checksLimitedToAPlatformAreSkippedElsewhere() throws {
        var files = Self.base
        files["firewall.lua"] =
            "return check { title = 'pf', platforms = { 'macos' }, run = function() return pass('x') end }"
        let out = try diagnose(folder(files))
        #expect(out.finding("firewall")?.summary == "does not apply on linux")
    }

    @Test func graphsDrawOrderNeedsAndFlow() throws {
        let out = try diagnose(folder(Self.articleFlow))
        let plan = try #require(out.plan)
        let dot = FlowGraph.dot(plan)
        #expect(dot.contains("\"reach-peer\" -> \"restart-service\" [color=blue, label=\"may go on to\"];"))
        #expect(dot.contains("\"port-forward\" -> \"listen-port\" [style=dashed, label=\"needed by\"];"))
        #expect(dot.hasPrefix("digraph \"demo\" {"))
        let mermaid = FlowGraph.mermaid(plan)
        #expect(mermaid.contains("s2 == may go on to ==> s4"))
        #expect(mermaid.contains("s3 -. needed by .-> s5"))
    }
}
