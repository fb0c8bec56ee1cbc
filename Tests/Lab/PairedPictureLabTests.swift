import Foundation
import Testing

/// The paired picture against the paired lab's truth: in every world of PairedLabTests, from either
/// side, the stop of the source → destination row sits on the hop of the faulty computer, taken from
/// the run's JSON through `portdoctor report FILE --format path` (the release binary).
///
/// `PD_PAIRED_REPORTS_OUT=DIR` also writes each world's report there (`FAULT-from-SIDE.json`): the
/// fixtures in Tests/PairedReports are recorded that way.
@Suite(
    .serialized,
    .enabled(if: NetworkLab.shouldRun, "needs root, iproute2, nftables and runit (always required under CI)")
)
struct PairedPictureLabTests {
    /// The hop the fault is on: its kind and its computer (nil: a healthy pair has no stop).
    static func truth(_ fault: PairedLabTests.Fault) -> (kind: String, side: String)? {
        switch fault {
        case .healthy: nil
        case .destinationServiceStopped, .destinationNothingListening: ("computer", "destination")
        case .destinationFirewallDrop: ("firewall", "destination")
        case .sourceOutboundDrop: ("firewall", "source")
        }
    }

    /// `portdoctor run crashplan --with THE-OTHER --format json` on one side: the report as written.
    static func diagnose(_ world: PairedLabTests.PairWorld, from side: String) throws -> String {
        let ns = side == "source" ? world.source : world.destination
        var argv = [
            "/usr/bin/timeout", "120", portdoctorBinary, "run", "crashplan", "--with",
            side == "source" ? world.destinationAddress : world.sourceAddress, "--token-file", world.token, "--param",
            "service=\(world.serviceDir(side).path)", "--format", "json",
        ]
        if side == "source" { argv += ["--param", "role=source"] }
        return try world.lab.exec(ns, argv).output
    }

    /// The picture's JSON for a saved report, by the release binary.
    static func path(_ report: String) throws -> [String: Any] {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pd-pairpath-\(UUID().uuidString).json")
        try report.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: portdoctorBinary)
        process.arguments = ["report", file.path, "--format", "path"]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try #require(
            try JSONSerialization.jsonObject(with: data) as? [String: Any],
            "report --format path: exit \(process.terminationStatus): \(String(decoding: data, as: UTF8.self))")
    }

    @Test(arguments: PairedLabTests.Fault.allCases)
    func theStopIsOnTheFaultyComputer(_ fault: PairedLabTests.Fault) throws {
        let world = PairedLabTests.PairWorld()
        defer { world.tearDown() }
        try world.build(fault)
        for side in ["source", "destination"] {
            let text = try Self.diagnose(world, from: side)
            if let dir = ProcessInfo.processInfo.environment["PD_PAIRED_REPORTS_OUT"] {
                try text.write(toFile: "\(dir)/\(fault.rawValue)-from-\(side).json", atomically: true, encoding: .utf8)
            }
            let report = try #require(
                try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any],
                "\(fault) from the \(side): \(text)")
            let checks = (report["checks"] as? [[String: Any]]) ?? []
            let picture = try Self.path(text)
            #expect(picture["paired"] as? Bool == true)
            let rows = (picture["directions"] as? [[String: Any]]) ?? []
            let forward = try #require(rows.first, "\(fault) from the \(side): no picture")
            #expect((forward["title"] as? String)?.hasPrefix("source → destination") == true)
            let stop = forward["stop"] as? [String: Any]
            print(
                "paired picture \(fault) from the \(side): stop \(stop?["name"] ?? "-") (\(stop?["computer"] ?? "-"))")
            guard let truth = Self.truth(fault) else {
                #expect(
                    stop == nil,
                    "\(fault) from the \(side): a healthy pair's picture stops: \(String(describing: stop))")
                continue
            }
            let where_ = "\(fault) from the \(side): \(String(describing: stop))"
            #expect(stop?["kind"] as? String == truth.kind, "\(where_)")
            #expect(stop?["side"] as? String == truth.side, "\(where_)")
            #expect(
                stop?["cause"] as? String == (report["pairing"] as? [String: Any])?["cause"] as? String, "\(where_)")
            // The computer is the one the report names for that side, at that side's lab address.
            let computer = checks.first { $0["side"] as? String == truth.side }?["computer"] as? String
            #expect(computer != nil && stop?["computer"] as? String == computer, "\(where_)")
            let address = truth.side == "source" ? world.sourceAddress : world.destinationAddress
            #expect((stop?["computer"] as? String)?.contains(address) == true, "\(where_)")
        }
    }

    /// Behind a router that forwards nothing: the stop is the router in front of the destination.
    @Test func aMissingForwardStopsAtTheDestinationsRouter() throws {
        let world = PairedLabTests.PairWorld()
        defer { world.tearDown() }
        try world.build(.healthy, behindRouter: true)
        let text = try Self.diagnose(world, from: "destination")
        if let dir = ProcessInfo.processInfo.environment["PD_PAIRED_REPORTS_OUT"] {
            try text.write(toFile: "\(dir)/missing-forward-from-destination.json", atomically: true, encoding: .utf8)
        }
        let forward = try #require((try Self.path(text)["directions"] as? [[String: Any]])?.first)
        let stop = forward["stop"] as? [String: Any]
        print("paired picture missing forward: stop \(stop?["name"] ?? "-")")
        #expect(stop?["kind"] as? String == "nat", "\(String(describing: stop))")
        #expect(stop?["side"] as? String == "destination", "\(String(describing: stop))")
        #expect(stop?["cause"] as? String == "port-forward-missing", "\(String(describing: stop))")
    }
}
