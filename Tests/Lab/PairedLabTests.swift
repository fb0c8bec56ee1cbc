import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Both computers run portdoctor (Docs/pairing-protocol.md): the source and the destination on one
/// network, each with its runit backup service and `portdoctor listen --token-file`. Every fault
/// that lives on one side must be named, from either side, with the right computer; the healthy
/// pair with nothing.
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables and runit (always required under CI)")
)
struct PairedLabTests {
    enum Fault: String, CaseIterable, Sendable {
        case healthy
        /// The destination's runit service is down.
        case destinationServiceStopped
        /// The destination's service listens on 4244; the pack is told 4242.
        case destinationNothingListening
        /// The destination's firewall drops incoming TCP 4242.
        case destinationFirewallDrop
        /// The source's firewall drops outgoing TCP 4242.
        case sourceOutboundDrop

        /// Which computer to fix, and the causes a right diagnosis may name.
        var expected: (fix: String?, causes: Set<String>) {
            switch self {
            case .healthy: (nil, [])
            case .destinationServiceStopped: ("destination", ["service-not-running"])
            case .destinationNothingListening: ("destination", ["no-listener"])
            case .destinationFirewallDrop: ("destination", ["firewall-blocks-inbound"])
            case .sourceOutboundDrop: ("source", ["firewall-blocks-outbound"])
            }
        }
    }

    final class PairWorld {
        let lab = NetworkLab()
        var source = "", destination = ""
        var sourceAddress = "10.231.70.1", destinationAddress = "10.231.70.2"
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pd-pair-\(UUID().uuidString)")
        var token: String { root.appendingPathComponent("pair.token").path }
        func serviceDir(_ side: String) -> URL { root.appendingPathComponent("\(side)/crashplan") }

        /// `behindRouter`: the destination on a home LAN behind a router that forwards nothing (no
        /// UPnP either), the source outside; otherwise both on one network.
        /// `routed`: the two on two networks joined by a plain router (no NAT), `router` its namespace.
        var router = ""
        /// false: the destination's `portdoctor listen` is not told the service's name (the pack
        /// looks for it under its own names, and finds none: a service registered under another one).
        var destinationKnowsService = true
        /// `sourceListens: false`: only the destination runs `portdoctor listen` (the documented flow).
        func build(_ fault: Fault, behindRouter: Bool = false, routed: Bool = false, sourceListens: Bool = true) throws {
            try NetworkLab.requireAvailable()
            if routed {
                source = try lab.namespace("s")
                destination = try lab.namespace("d")
                router = try lab.namespace("r")
                (sourceAddress, destinationAddress) = ("10.231.72.1", "10.231.73.2")
                try lab.link(source, "10.231.72.1/24", router, "10.231.72.254/24")
                try lab.link(router, "10.231.73.254/24", destination, "10.231.73.2/24")
                _ = try lab.exec(router, ["/usr/sbin/sysctl", "-qw", "net.ipv4.ip_forward=1"])
                _ = try lab.exec(source, [NetworkLab.ip!, "route", "add", "default", "via", "10.231.72.254"])
                _ = try lab.exec(destination, [NetworkLab.ip!, "route", "add", "default", "via", "10.231.73.254"])
            } else if behindRouter {
                let home = try lab.homeNetwork(miniupnpd: false)
                (source, destination) = (home.wan, home.lan)
                (sourceAddress, destinationAddress) = (home.wanAddress, home.lanAddress)
            } else {
                source = try lab.namespace("s")
                destination = try lab.namespace("d")
                try lab.link(source, "\(sourceAddress)/24", destination, "\(destinationAddress)/24")
            }
            let runsv = try #require(
                ["/usr/bin/runsv", "/usr/sbin/runsv", "/sbin/runsv"].first {
                    FileManager.default.isExecutableFile(atPath: $0)
                }, "runit is missing: run .ci/install-deps --test")
            try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
            try "MZXW6YTBOI2GKZLOMF2GS33OOVRGK3TUNFXGOZLSMVZXI\n".write(
                toFile: token, atomically: true, encoding: .utf8)
            for (side, ns) in [("source", source), ("destination", destination)] {
                let dir = serviceDir(side)
                try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
                let port = side == "destination" && fault == .destinationNothingListening ? 4244 : 4242
                try "#!/bin/sh\nexec \(portdoctorBinary) bench hold-listener --port \(port)\n".write(
                    to: dir.appendingPathComponent("run"), atomically: true, encoding: .utf8)
                chmod(dir.appendingPathComponent("run").path, 0o755)
                let down = side == "destination" && fault == .destinationServiceStopped
                if down { _ = FileManager.default.createFile(atPath: dir.appendingPathComponent("down").path, contents: nil) }
                try lab.start(ns, [runsv, dir.path])
                let listens = side == "destination" || sourceListens
                // The peer's own parameters: its service, from its own environment.
                if listens {
                    let told = side == "source" || destinationKnowsService
                    try lab.start(
                        ns,
                        (told ? ["/usr/bin/env", "PORTDOCTOR_PARAM_SERVICE=\(dir.path)"] : []) + [
                            portdoctorBinary, "listen", "--per-minute", "1000", "--token-file", token,
                        ])
                }
                try waitFor {
                    (try? self.lab.exec(ns, ["/usr/bin/sv", "status", dir.path]))?.output.hasPrefix(down ? "down:" : "run:")
                        == true
                }
                if !down { try waitFor { self.listening(ns, port) } }
                if listens { try waitFor { self.listening(ns, 4250) } }
            }
            switch fault {
            case .destinationFirewallDrop:
                try lab.nft(
                    destination,
                    "table inet pdfault {\n chain input {\n  type filter hook input priority 0; policy accept;\n  tcp dport 4242 drop\n }\n}\n"
                )
            case .sourceOutboundDrop:
                try lab.nft(
                    source,
                    "table inet pdfault {\n chain output {\n  type filter hook output priority 0; policy accept;\n  tcp dport 4242 drop\n }\n}\n"
                )
            default: break
            }
        }

        /// `portdoctor run crashplan --with THE-OTHER` on one side, JSON out.
        func diagnose(from side: String) throws -> [String: Any] {
            let ns = side == "source" ? source : destination
            var argv = [
                "/usr/bin/timeout", "120", portdoctorBinary, "run", "crashplan", "--with",
                side == "source" ? destinationAddress : sourceAddress, "--token-file", token, "--param",
                "service=\(serviceDir(side).path)", "--format", "json",
            ]
            if side == "source" { argv += ["--param", "role=source"] }
            let r = try lab.exec(ns, argv)
            return try #require(
                try JSONSerialization.jsonObject(with: Data(r.output.utf8)) as? [String: Any],
                "no JSON report (exit \(r.status)): \(r.output)")
        }

        func listening(_ ns: String, _ port: Int) -> Bool { lab.isListening(ns, port) }

        func waitFor(_ condition: () throws -> Bool) throws { try NetworkLab.waitFor("the lab's world", condition) }

        func tearDown() {
            lab.tearDown()
            try? FileManager.default.removeItem(at: root)
        }
    }

    @Test(arguments: Fault.allCases)
    func faultIsNamedWithItsComputerFromEitherSide(_ fault: Fault) throws {
        let world = PairWorld()
        defer { world.tearDown() }
        try world.build(fault)
        for side in ["source", "destination"] {
            let report = try world.diagnose(from: side)
            let pairing = try #require(report["pairing"] as? [String: Any], "\(fault) from the \(side): no pairing")
            print(
                "paired \(fault) from the \(side): fix \(pairing["fix"] ?? "-"), cause \(pairing["cause"] ?? "-"), "
                    + "connect \((pairing["connect"] as? [String: Any])?["status"] ?? "-"), \(report["duration_ms"] ?? "?") ms")
            let (fix, causes) = fault.expected
            let checks = (report["checks"] as? [[String: Any]]) ?? []
            let failed = checks.filter { $0["status"] as? String == "fail" }.map {
                "\($0["side"] ?? "?")/\($0["id"] ?? "?"): \($0["cause"] ?? "-")"
            }
            #expect(
                pairing["fix"] as? String == fix, "\(fault) from the \(side): \(pairing) — failed: \(failed)")
            if let cause = pairing["cause"] as? String {
                let all = checks.map { "\($0["side"] ?? "?")/\($0["id"] ?? "?"): \($0["status"] ?? "?") \($0["cause"] ?? "-") \($0["summary"] ?? "")" }
                #expect(causes.contains(cause), "\(fault) from the \(side): cause \(cause) — checks: \(all)")
            } else {
                #expect(causes.isEmpty, "\(fault) from the \(side): no cause named — failed: \(failed)")
            }
            // Each check says which computer it ran on; the report holds both sides.
            #expect(Set(checks.compactMap { $0["side"] as? String }) == ["source", "destination"])
            if fault == .healthy { #expect(report["exit_code"] as? Int == 0, "healthy from the \(side): \(failed)") }
        }
    }

    /// A newcomer's case: the destination's backup service runs and listens on 4242, but under a name
    /// the pack does not look for (its `listen` was not told it). The connect works: the service step
    /// warns naming what listens, the listener step runs, and the verdict is no "service is down" —
    /// its advice says how to give the peer the name.
    @Test func aServiceUnderAnotherNameIsNoServiceDown() throws {
        let world = PairWorld()
        defer { world.tearDown() }
        world.destinationKnowsService = false
        try world.build(.healthy)
        let report = try world.diagnose(from: "source")
        let pairing = try #require(report["pairing"] as? [String: Any], "no pairing")
        let checks = (report["checks"] as? [[String: Any]]) ?? []
        func check(_ id: String) -> [String: Any]? { checks.first { $0["id"] as? String == id } }
        let service = try #require(check("destination:service"), "\(checks.map { $0["id"] ?? "?" })")
        #expect(service["status"] as? String == "warn", "\(service)")
        #expect((service["summary"] as? String ?? "").contains("listens on TCP 4242"), "\(service)")
        let listener = try #require(check("destination:listener"))
        #expect(listener["status"] as? String != "skip", "\(listener)")
        #expect((pairing["connect"] as? [String: Any])?["status"] as? String == "connected", "\(pairing)")
        #expect(pairing["fix"] == nil || pairing["fix"] is NSNull, "\(pairing)")
        #expect(!(pairing["summary"] as? String ?? "").contains("service is down"), "\(pairing)")
        let advice = (pairing["advice"] as? [String]) ?? []
        #expect(advice.contains { $0.contains("PORTDOCTOR_PARAM_SERVICE=NAME portdoctor listen") }, "\(advice)")
    }

    /// Both computers clean, but the router in front of the destination forwards nothing: told from
    /// the destination (the source cannot reach the destination's `listen` through that router either).
    @Test func aMissingForwardIsTheRouterInFrontOfTheDestination() throws {
        let world = PairWorld()
        defer { world.tearDown() }
        try world.build(.healthy, behindRouter: true)
        let report = try world.diagnose(from: "destination")
        let pairing = try #require(report["pairing"] as? [String: Any])
        print("paired missing forward from the destination: \(pairing)")
        #expect(pairing["fix"] as? String == "destination", "\(pairing)")
        #expect(pairing["cause"] as? String == "port-forward-missing", "\(pairing)")
        #expect((pairing["summary"] as? String)?.contains("router") == true, "\(pairing)")
    }

    /// A plain router (no NAT) between the two drops TCP 4242, and only the destination runs `listen`
    /// (so nothing traces the way back): both computers are clean and the source reached the
    /// destination at the destination's own address, so no forward is missing — the paired verdict
    /// names the network between them, not the destination's router (a newcomer's finding).
    @Test func aFilterOnAPlainRouterBetweenIsNeitherComputer() throws {
        let world = PairWorld()
        defer { world.tearDown() }
        try world.build(.healthy, routed: true, sourceListens: false)
        try world.lab.nft(
            world.router,
            "table inet pdfault {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  tcp dport 4242 drop\n }\n}\n"
        )
        let report = try world.diagnose(from: "source")
        let pairing = try #require(report["pairing"] as? [String: Any])
        print("paired filter between from the source: \(pairing)")
        #expect(pairing["fix"] as? String == "between", "\(pairing)")
        #expect(pairing["cause"] as? String == "filtered-upstream", "\(pairing)")
        #expect(report["exit_code"] as? Int == 1)
    }

    /// The same filter with both computers running `listen`, diagnosed from each end. From the
    /// destination, its survey's connect-back (from the source) stops right past the source's first
    /// router — which is the one router between the two: the destination's hop probes toward the
    /// source meet one router, then the source, and nothing translates the destination's address.
    /// Neither computer from either end (it was "the source's own router" from the destination).
    @Test func aFilterOnAPlainRouterBetweenIsNeitherComputerFromEitherEnd() throws {
        let world = PairWorld()
        defer { world.tearDown() }
        try world.build(.healthy, routed: true)
        try world.lab.nft(
            world.router,
            "table inet pdfault {\n chain forward {\n  type filter hook forward priority 0; policy accept;\n  tcp dport 4242 drop\n }\n}\n"
        )
        for side in ["source", "destination"] {
            let report = try world.diagnose(from: side)
            let pairing = try #require(report["pairing"] as? [String: Any], "from the \(side): no pairing")
            let failed = ((report["checks"] as? [[String: Any]]) ?? []).filter { $0["status"] as? String == "fail" }.map {
                "\($0["side"] ?? "?")/\($0["id"] ?? "?"): \($0["cause"] ?? "-") \($0["summary"] ?? "")"
            }
            print("paired filter between from the \(side): \(pairing)")
            #expect(pairing["fix"] as? String == "between", "from the \(side): \(pairing) — failed: \(failed)")
            #expect(pairing["cause"] as? String == "filtered-upstream", "from the \(side): \(pairing)")
            #expect(report["exit_code"] as? Int == 1)
        }
    }
}
