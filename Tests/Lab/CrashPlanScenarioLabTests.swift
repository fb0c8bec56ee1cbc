import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// The bundled crashplan pack end to end: a destination computer on a home LAN whose backup service
/// is supervised by runit, a router running miniupnpd, and the other computer on the WAN side
/// running `portdoctor listen`. Each scenario injects one real fault and expects its cause.
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables, runit and miniupnpd (always required under CI)")
)
struct CrashPlanScenarioLabTests {
    /// One scenario's world. `run` is `portdoctor run crashplan` from the destination (or the source).
    final class Scenario {
        let lab = NetworkLab()
        var home: NetworkLab.HomeNetwork!
        let serviceDir: URL
        /// `--peer` for `run`: the WAN computer's address unless a scenario names it otherwise.
        var peer: String?
        /// Per-namespace /etc files made by `names`, removed by `tearDown`.
        var etcDirs: [URL] = []

        init() {
            serviceDir = FileManager.default.temporaryDirectory.appendingPathComponent(
                "pd-crashplan-\(UUID().uuidString)/crashplan")
        }

        /// Builds the network, the supervised backup service (listening on `address`), the reflector.
        func build(
            network: (NetworkLab) throws -> NetworkLab.HomeNetwork = { try $0.homeNetwork(miniupnpd: true) },
            address: String = "0.0.0.0", serviceUp: Bool = true, reflectorPort: Int = 4250, port: Int = 4242
        ) throws {
            try NetworkLab.requireAvailable()
            home = try network(lab)
            let runsv = try #require(
                ["/usr/bin/runsv", "/usr/sbin/runsv", "/sbin/runsv"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                },
                "runit is missing: run .ci/install-deps --test")
            try FileManager.default.createDirectory(at: serviceDir, withIntermediateDirectories: true)
            let run = serviceDir.appendingPathComponent("run")
            try "#!/bin/sh\nexec \(portdoctorBinary) bench hold-listener --port \(port) --address \(address)\n"
                .write(to: run, atomically: true, encoding: .utf8)
            chmod(run.path, 0o755)
            if !serviceUp {
                _ = FileManager.default.createFile(
                    atPath: serviceDir.appendingPathComponent("down").path, contents: nil)
            }
            try lab.start(home.lan, [runsv, serviceDir.path])
            try lab.start(home.wan, [portdoctorBinary, "listen", "--per-minute", "1000", "--port", "\(reflectorPort)"])
            try waitFor {
                (try? self.lab.exec(self.home.lan, ["/usr/bin/sv", "status", self.serviceDir.path]))?.output.hasPrefix(
                    serviceUp ? "run:" : "down:") == true
            }
            if serviceUp { try waitFor { self.listening(port) } }
        }

        func tearDown() {
            lab.tearDown()
            try? FileManager.default.removeItem(at: serviceDir.deletingLastPathComponent())
            for dir in etcDirs { try? FileManager.default.removeItem(at: dir) }
            if !etcDirs.isEmpty { rmdir("/etc/netns") }  // only when empty: another lab may be using it
        }

        /// Host names known inside `ns`, from its own hosts file and nothing else (no DNS query leaves
        /// the lab): `ip netns exec` bind-mounts /etc/netns/NS/FILE over /etc/FILE.
        func names(_ ns: String, _ entries: [(address: String, name: String)]) throws {
            let dir = URL(fileURLWithPath: "/etc/netns/\(ns)")
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            etcDirs.append(dir)
            let hosts = (["127.0.0.1 localhost"] + entries.map { "\($0.address) \($0.name)" }).joined(separator: "\n")
            try (hosts + "\n").write(to: dir.appendingPathComponent("hosts"), atomically: true, encoding: .utf8)
            try "hosts: files\n".write(
                to: dir.appendingPathComponent("nsswitch.conf"), atomically: true, encoding: .utf8)
        }

        func listening(_ port: Int) -> Bool { lab.isListening(home.lan, port) }

        func waitFor(_ condition: () throws -> Bool) throws { try NetworkLab.waitFor("the lab's world", condition) }

        /// A forward made in the router's admin page: a permanent DNAT rule, not a UPnP mapping.
        func staticForward(port: Int = 4242) throws {
            _ = try lab.exec(
                home.router,
                [
                    NetworkLab.nft!, "add", "rule", "inet", "nat", "prerouting", "iifname", home.routerWANIf, "tcp",
                    "dport",
                    "\(port)", "dnat", "ip", "to", home.lanAddress,
                ])
        }

        /// Asks the router (miniupnpd, over UPnP) to forward 4242 to `to` (this LAN host by default).
        func forward(to: String? = nil) throws {
            let args = [portdoctorBinary, "probe", "upnp", "--add", "4242"] + (to.map { ["--to", $0] } ?? [])
            let r = try lab.exec(home.lan, args)
            #expect(r.status == 0, "probe upnp --add: \(r.output)")
        }

        /// `portdoctor run PACK` for this LAN computer, its runit service and the reflector outside.
        /// No `program`: who owns a listener is told from runit's supervised pid, as for a person who
        /// does not know the flag.
        func arguments(_ pack: String = "crashplan") -> [String] {
            [
                portdoctorBinary, "run", pack, "--peer", peer ?? home.wanAddress, "--param",
                "service=\(serviceDir.path)",
            ]
        }

        /// Runs the pack and returns the exit status and the JSON report's checks by id.
        /// `record`: the name of a pack test to make of this run when `PD_LAB_RECORD` is set (`LabRecordings`).
        func run(_ extra: [String] = [], environment: [String] = [], pack: String = "crashplan", record: String? = nil)
            throws -> Outcome
        {
            try report(
                in: home.lan,
                (environment.isEmpty ? [] : ["/usr/bin/env"] + environment) + arguments(pack) + ["--format", "json"]
                    + extra + (record.map { LabRecordings.arguments(for: $0) } ?? []))
        }

        /// Runs `argv` (a `--format json` run) in a namespace and reads its report.
        func report(in ns: String, _ argv: [String]) throws -> Outcome {
            let r = try lab.exec(ns, argv)
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any], "not JSON: \(r.output)")
            let checks = try #require(json["checks"] as? [[String: Any]])
            var o = Outcome(status: r.status, checks: checks, text: r.output)
            o.primary = (json["primary"] as? [String: Any])?["cause"] as? String
            o.also = (json["also"] as? [[String: Any]] ?? []).compactMap { $0["cause"] as? String }
            return o
        }

        /// The same run for a person (`--format text`). With PD_LAB_EXAMPLES=DIR set, it is also saved
        /// there as NAME.txt: that is how the README's example outputs are made.
        func text(_ name: String, _ extra: [String] = []) throws -> [String] {
            let out = try lab.exec(home.lan, arguments() + extra).output
            if let dir = ProcessInfo.processInfo.environment["PD_LAB_EXAMPLES"] {
                try out.write(toFile: "\(dir)/\(name).txt", atomically: true, encoding: .utf8)
            }
            return out.split(separator: "\n").map(String.init)
        }

        /// Another program (python3) listening on the LAN computer.
        func squat(_ address: String, _ port: Int) throws {
            try lab.listener(home.lan, address: address, port: port)
            try waitFor { self.listening(port) }
        }
    }

    struct Outcome: CustomStringConvertible {
        var status: Int32
        var checks: [[String: Any]]
        var text: String
        /// The cause the text report opens with.
        var primary: String?
        /// The other independent causes the report lists after it.
        var also: [String] = []

        func check(_ id: String) -> [String: Any] { checks.first { $0["id"] as? String == id } ?? [:] }
        func status(_ id: String) -> String? { check(id)["status"] as? String }
        func cause(_ id: String) -> String? { check(id)["cause"] as? String }
        /// The failing checks, as "id: cause".
        var failures: [String] {
            checks.filter { $0["status"] as? String == "fail" }.map {
                "\($0["id"] as? String ?? "?"): \($0["cause"] as? String ?? "-")"
            }
        }
        var description: String {
            checks.map { "\($0["id"] ?? "?") \($0["status"] ?? "?") \($0["cause"] ?? "") — \($0["summary"] ?? "")" }
                .joined(separator: "\n")
        }
    }

    static let inboundDrop = """
        table inet pdhost {
          chain input {
            type filter hook input priority 0; policy accept;
            ct state established,related accept
            tcp dport 4242 drop
          }
        }

        """

    @Test func healthy() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.staticForward()
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.failures == [], "\(o)")
        #expect(o.status("service") == "pass")
        #expect(o.status("listener") == "pass")
        #expect(o.status("port-forward") == "pass", "\(o)")
        #expect(o.status("reauthenticate") == "skip")
        #expect(try s.text("healthy")[2] == "No problem found.")
    }

    @Test func aStoppedServiceIsFoundAndRestartedByTheRepair() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(serviceUp: false)
        try s.forward()
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("service") == "service-not-running", "\(o)")
        #expect(o.primary == "service-not-running", "the report opens with it: \(o)")
        #expect(o.status("listener") == "skip", "the listener step needs the service: \(o)")
        let lines = try s.text("service-stopped")
        #expect(
            lines[2].hasPrefix("Most likely cause: the service is not running. First: Start it: sv restart "),
            "\(lines)")
        #expect(lines[3] == "portdoctor can repair this: run it again with --fix.", "\(lines)")

        let fixed = try s.run(["--fix", "--yes"])
        #expect(fixed.status == 0, "\(fixed)")
        #expect(((fixed.check("service")["repairs"] as? [[String: Any]])?.first?["outcome"]) as? String == "fixed")
        #expect(fixed.status("listener") == "pass", "\(fixed)")
    }

    @Test func aListenerOnLoopbackOnly() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(address: "127.0.0.1")
        try s.forward()
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("listener") == "listener-loopback-only", "\(o)")
        #expect(o.primary == "listener-loopback-only", "the report opens with it: \(o)")
        // A person reads the cause and the fix first.
        let lines = try s.text("loopback-only")
        #expect(
            lines[2]
                == "Most likely cause: the service listens on 127.0.0.1 only. First: Set the backup service to listen on all addresses (0.0.0.0) instead of 127.0.0.1, then restart it.",
            "\(lines)")
    }

    @Test func anotherProgramHoldsTheEnginePort() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.forward()
        try s.squat("127.0.0.1", 4243)
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("engine-port") == "port-in-use", "\(o)")
        #expect(o.primary == "port-in-use", "the report opens with it: \(o)")
        #expect((o.check("engine-port")["summary"] as? String)?.contains("python3") == true, "\(o)")
    }

    @Test func anotherProgramHoldsTheListenPort() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(serviceUp: false)
        try s.forward()
        try s.squat("0.0.0.0", 4242)
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("service") == "port-in-use", "the service cannot start: \(o)")
        #expect(o.primary == "port-in-use", "the report opens with it: \(o)")
        #expect((o.check("service")["summary"] as? String)?.contains("held by python3") == true, "\(o)")
        #expect(o.cause("listen-port") == "port-in-use", "\(o)")
        let advice = (o.check("listen-port")["advice"] as? [String])?.joined(separator: " ") ?? ""
        #expect(advice.contains("for example 4"), "a free port is suggested: \(advice)")
    }

    /// Two independent faults: the firewall here drops, and the router forwards nothing (its WAN
    /// answers the outside with a reset, which a silent drop here cannot have sent). Both are named
    /// in one run.
    @Test func aDroppingFirewallAndNoForwardAreBothNamed() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.lab.nft(s.home.lan, Self.inboundDrop)
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("firewall") == "firewall-blocks-inbound", "\(o)")
        // Not hidden behind the firewall, and proven despite it: the refusal came while nothing
        // reached this computer (the watch during the connect-back), so the router itself refused.
        #expect(o.cause("port-forward") == "port-forward-missing", "not hidden behind the firewall: \(o)")
        #expect(o.status("port-forward") == "fail", "\(o)")
        #expect(o.primary == "firewall-blocks-inbound", "\(o)")
        #expect(o.also == ["port-forward-missing"], "\(o)")
        let lines = try s.text("firewall-and-forward")
        #expect(lines[2].hasPrefix("Most likely cause: a firewall blocks incoming connections."), "\(lines)")
        #expect(lines[3].hasPrefix("Also found: the router does not forward the port (port-forward)."), "\(lines)")
    }

    /// No false alarms: a service bound to its LAN address, a strict firewall with an explicit
    /// accept, a port other than the default.
    @Test func aListenerBoundToTheLANAddressPasses() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(address: "10.231.60.2")  // the LAN computer's address (NetworkLab.HomeNetwork)
        try s.staticForward()
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.failures == [], "\(o)")
        #expect(o.status("listener") == "pass", "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
    }

    @Test func aStrictFirewallWithAnExplicitAcceptPasses() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.staticForward()
        try s.lab.nft(
            s.home.lan,
            """
            table inet pdhost {
              chain input {
                type filter hook input priority 0; policy drop;
                ct state established,related accept
                iifname "lo" accept
                tcp dport 4242 accept
              }
            }

            """)
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.status("firewall") == "pass", "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
    }

    @Test func aNonDefaultPortPasses() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(port: 4300)
        try s.staticForward(port: 4300)
        let o = try s.run(["--param", "port=4300"])
        #expect(o.status == 0, "\(o)")
        #expect(o.failures == [], "\(o)")
        #expect(o.status("listener") == "pass", "\(o)")
        #expect(o.status("listen-port") == "pass", "\(o)")
    }

    @Test(arguments: ["drop", "reject"])
    func anInboundFirewallRuleOnTheDestination(verdict: String) throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.forward()
        try s.lab.nft(s.home.lan, Self.inboundDrop.replacingOccurrences(of: "4242 drop", with: "4242 \(verdict)"))
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("firewall") == "firewall-blocks-inbound", "\(o)")
        #expect(o.primary == "firewall-blocks-inbound", "the report opens with it: \(o)")
        #expect(
            (o.check("firewall")["summary"] as? String)?.contains(verdict == "drop" ? "dropped" : "rejected") == true,
            "\(o)")
    }

    @Test func anOutboundBlockOnTheSource() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.forward()
        // The WAN host is the source here, sending its backup to the LAN computer through the forward.
        try s.lab.nft(
            s.home.wan,
            "table inet pdhost {\n  chain output {\n    type filter hook output priority 0; policy accept;\n    tcp dport 4242 reject\n  }\n}\n"
        )
        let o = try s.report(
            in: s.home.wan,
            [
                portdoctorBinary, "run", "crashplan", "--peer", s.home.routerWAN, "--param", "role=source",
                "--param", "service=\(s.serviceDir.path)", "--format", "json",
            ])
        #expect(o.status == 1)
        #expect(o.cause("firewall") == "firewall-blocks-outbound", "\(o)")
        #expect(o.status("listener") == "skip")
    }

    @Test func noForwardOnTheRouterIsAddedByTheRepair() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("port-forward") == "port-forward-missing", "\(o)")
        #expect(o.primary == "port-forward-missing", "the report opens with it: \(o)")

        let fixed = try s.run(["--fix", "--yes"])
        #expect(fixed.status == 0, "\(fixed)")
        // The lab's router says it runs OpenWrt: its overlay warns that a UPnP forward does not last there.
        #expect(fixed.status("port-forward") == "warn", "\(fixed)")
        #expect(
            (fixed.check("port-forward")["summary"] as? String)?.contains("through a UPnP forward") == true, "\(fixed)")
        #expect((fixed.check("port-forward")["origin"] as? String)?.contains("overlay 'openwrt'") == true, "\(fixed)")
        // The repair's outcome says how long the forward lasts and how to make it permanent.
        let repair = (fixed.check("port-forward")["repairs"] as? [[String: Any]])?.first
        let detail = repair?["detail"] as? String ?? ""
        // miniupnpd, an IGD:2 router, keeps a forward asked for without a limit for a week.
        #expect(detail.contains("forwards TCP 4242 here for 7 days only"), "\(String(describing: repair))")
        #expect(detail.contains("a forward set in the router's admin page"), "\(detail)")
    }

    @Test func aNETGEARRouterGetsItsOwnInstructions() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, manufacturer: "NETGEAR, Inc.") })
        let o = try s.run(record: "netgear-no-forward")
        LabRecordings.keep(
            "netgear-no-forward", description: "a NETGEAR router without the forward: its own instructions",
            report: o.text, correct: o.primary == "port-forward-missing")
        #expect(o.cause("port-forward") == "port-forward-missing", "\(o)")
        #expect(o.primary == "port-forward-missing", "the report opens with it: \(o)")
        let advice = (o.check("port-forward")["advice"] as? [String])?.joined(separator: " ") ?? ""
        #expect(advice.contains("routerlogin.net") && advice.contains("not Port Triggering"), "\(advice)")
        #expect((o.check("port-forward")["origin"] as? String)?.contains("overlay 'netgear'") == true, "\(o)")
    }

    /// A person's own vendor overlay, in their own folder on the search path: no rebuild.
    @Test func aUsersOwnVendorOverlayTakesEffect() throws {
        let s = Scenario()
        defer { s.tearDown() }
        let dir = s.serviceDir.deletingLastPathComponent().appendingPathComponent("packs/labrouter")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try """
        return overlay { extends = "crashplan", when = { vendor = { manufacturer = "Lab Router Co" } },
                         insert = { after = "port-forward", checks = { "labrouter-admin" } } }
        """.write(to: dir.appendingPathComponent("overlay.lua"), atomically: true, encoding: .utf8)
        try """
        return check { title = "The Lab Router Co admin page", run = function(ctx)
          return warn("seen a %s %s: open http://admin.lab/ → Forwarding", ctx.vendor.manufacturer, ctx.vendor.model or "")
        end }
        """.write(to: dir.appendingPathComponent("labrouter-admin.lua"), atomically: true, encoding: .utf8)
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, manufacturer: "Lab Router Co") })
        try s.staticForward()
        let o = try s.run(environment: ["PORTDOCTOR_PATH=\(dir.deletingLastPathComponent().path)"])
        #expect(o.status == 0, "\(o)")
        #expect(o.status("labrouter-admin") == "warn", "\(o)")
        #expect(
            (o.check("labrouter-admin")["summary"] as? String)
                == "seen a Lab Router Co lab router: open http://admin.lab/ → Forwarding", "\(o)")
        let without = try s.run()
        #expect(without.check("labrouter-admin").isEmpty, "\(without)")
    }

    @Test func aForwardToAnotherAddress() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, secure: false) })
        try s.forward(to: "10.231.60.99")
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("port-forward") == "port-forward-wrong-target", "\(o)")
        #expect(o.primary == "port-forward-wrong-target", "the report opens with it: \(o)")
    }

    @Test func aRouterWithoutUPnPOrNATPMP() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.homeNetwork(miniupnpd: true, upnp: false, natpmp: false) })
        let o = try s.run(record: "router-without-upnp-or-natpmp")
        LabRecordings.keep(
            "router-without-upnp-or-natpmp", description: "a router that answers neither UPnP nor NAT-PMP, no forward",
            report: o.text, correct: o.primary == "port-forward-missing")
        #expect(o.status == 1)
        // The router's WAN refuses the outside's connect-back: the forward is missing (to be set up by
        // hand, as the router answers neither protocol), not merely "UPnP unavailable".
        #expect(o.cause("port-forward") == "port-forward-missing", "\(o)")
        #expect(o.primary == "port-forward-missing", "the report opens with it: \(o)")
        #expect(
            (o.check("port-forward")["summary"] as? String)?.contains("answers neither UPnP nor NAT-PMP") == true,
            "\(o)")
    }

    @Test(arguments: [("10.231.63", "double-nat"), ("100.64.63", "cgnat")])
    func behindASecondNAT(upstream: String, cause: String) throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(network: { try $0.layeredNetwork(upstreamNet: upstream) })
        let o = try s.run()
        #expect(o.status == 1)
        #expect(o.cause("port-forward") == cause, "\(o)")
        #expect(o.primary == cause, "the report opens with it: \(o)")
    }

    /// `--peer NAME`: the name is resolved (here from the LAN computer's own hosts file) and its
    /// reflector does the connect-back; a name that does not resolve is said to be one.
    @Test func aPeerGivenByName() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build()
        try s.staticForward()
        try s.names(s.home.lan, [(s.home.wanAddress, "backup.lab.test")])
        s.peer = "backup.lab.test"
        let o = try s.run()
        #expect(o.status == 0, "\(o)")
        #expect(o.status("port-forward") == "pass", "the forward made in the admin page is found from outside: \(o)")
        #expect(
            (o.check("port-forward")["summary"] as? String)?.hasSuffix(
                "(asked the reflector at backup.lab.test:4250, \(s.home.wanAddress):4250)") == true, "\(o)")
        let evidence = o.check("port-forward")["evidence"] as? [String: Any] ?? [:]
        #expect(evidence["connect_back"] as? String == "connected", "\(evidence)")

        s.peer = "nowhere.lab.test"
        let unknown = try s.run()
        #expect(unknown.status == 1, "\(unknown)")
        #expect(unknown.cause("port-forward") == "peer-unresolvable", "not a missing forward: \(unknown)")
        #expect(unknown.primary == "peer-unresolvable", "\(unknown)")
        let advice = unknown.check("port-forward")["advice"] as? [String] ?? []
        #expect(
            advice == [
                "Check the name nowhere.lab.test (is it spelt right, does this computer's DNS know it?), or give the other computer's address: --peer ADDRESS"
            ], "not the router's forwarding steps: \(advice)")
    }

    /// `--param reflector=HOST:PORT`: the reflector runs on a port of its own choosing, and the
    /// report says which one was asked; the peer's port stays the other computer's backup port.
    @Test func aReflectorOnAnotherPort() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(reflectorPort: 4999)
        try s.staticForward()
        s.peer = "\(s.home.wanAddress):4242"
        let o = try s.run(["--param", "reflector=\(s.home.wanAddress):4999"])
        #expect(o.status == 0, "\(o)")
        #expect(o.status("port-forward") == "pass", "\(o)")
        #expect(
            (o.check("port-forward")["summary"] as? String)?.hasSuffix(
                "(asked the reflector at \(s.home.wanAddress):4999)") == true, "\(o)")
    }

    /// The same diagnosis for any TCP service, through the steps crashplan shares with tcp-service.
    @Test func theTCPServicePackDiagnosesAnyService() throws {
        let s = Scenario()
        defer { s.tearDown() }
        try s.build(address: "127.0.0.1")
        try s.staticForward()
        let o = try s.run(["--param", "port=4242"], pack: "tcp-service")
        #expect(o.status == 1)
        #expect(o.status("service") == "pass", "\(o)")
        #expect(o.cause("listener") == "listener-loopback-only", "\(o)")
        #expect(o.primary == "listener-loopback-only", "the report opens with it: \(o)")
        // The forward is made in the admin page (invisible to UPnP); nothing reachable listens, yet
        // the outside's connection arrived here on the port (the watch): the forward works.
        #expect(o.status("port-forward") == "pass", "\(o)")
        #expect(
            (o.check("port-forward")["summary"] as? String)?.contains("the connection from outside arrived here") == true,
            "\(o)")
        // Without a service name the service step is skipped, and the port is still checked.
        let bare = try s.report(
            in: s.home.lan, [portdoctorBinary, "run", "tcp-service", "--param", "port=4242", "--format", "json"])
        #expect(bare.status("service") == "skip", "\(bare)")
        #expect(bare.cause("listener") == "listener-loopback-only", "\(bare)")
    }
}
