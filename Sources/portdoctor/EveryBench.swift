import ArgumentParser
import Probes

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Memory and descriptors of a long `portdoctor run --every`: a monitor must stay flat.
struct EveryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "every",
        abstract: "Peak memory and open descriptors of `portdoctor run --every` at its start and end.",
        discussion: """
            Runs `portdoctor run <pack> --every <interval> --format json` (the network-free example pack by \
            default) for the given time, reads the process's peak resident set (VmHWM) and open descriptors \
            from /proc after its first run and again at the end, then stops it with SIGTERM. \
            Target: the same descriptors at the end as at the start, and peak memory within 10% of the start.
            """
    )

    @Option(help: "How long to let it run, in seconds.") var seconds = 60
    @Option(help: "The --every interval.") var interval = "1s"
    @Option(help: "The pack (an id or a folder); default: the listen-port example next to the binary's sources.")
    var pack: String?

    struct Sample {
        var peakKiB: Int
        var residentKiB: Int
        var descriptors: Int
    }

    func validate() throws {
        guard seconds >= 3 else { throw ValidationError("--seconds must be at least 3") }
    }

    func run() throws {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
        let pack = try self.pack ?? Self.examplePack()
        // The report goes to a file (rewritten every run) so the pipe cannot fill; standard output gets the changes.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("portdoctor-every-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let output = folder.appendingPathComponent("report.json").path
        let child = try ChildProcess.start([
            me, "run", pack, "--every", interval, "--format", "json", "--output", output,
            "--output", "prometheus:" + folder.appendingPathComponent("portdoctor.prom").path,
        ])
        var stopped = false
        defer { if !stopped { kill(child.pid, SIGKILL); _ = child.wait() } }
        // The first run is done when its report file appears.
        var waited = 0
        while !FileManager.default.fileExists(atPath: output) {
            guard waited < 300 else { throw Failure("the first run did not finish within 30 s") }
            usleep(100_000)
            waited += 1
        }
        let start = try Self.sample(child.pid)
        let began = ContinuousClock.now
        usleep(UInt32(max(0, seconds - 1)) * 1_000_000)
        let end = try Self.sample(child.pid)
        let elapsed = ContinuousClock.now - began
        kill(child.pid, SIGTERM)
        let (status, _) = child.wait()
        stopped = true
        let runs = try Self.runs(in: String(contentsOfFile: output, encoding: .utf8))
        print(
            """
            portdoctor run \(pack) --every \(interval), \(elapsed.components.seconds + 1) s
                           peak RSS     RSS now     open descriptors
              start        \(Self.mib(start.peakKiB)) MiB   \(Self.mib(start.residentKiB)) MiB   \(start.descriptors)
              end          \(Self.mib(end.peakKiB)) MiB   \(Self.mib(end.residentKiB)) MiB   \(end.descriptors)
              growth       \(Self.mib(end.peakKiB - start.peakKiB)) MiB   \(Self.mib(end.residentKiB - start.residentKiB)) MiB   \(end.descriptors - start.descriptors)
              last report started at \(runs); exit status after SIGTERM: \(status) (the last run's code)
            """)
    }

    static func mib(_ kib: Int) -> String {
        let s = fixed(Double(kib) / 1024, 1)
        return String(repeating: " ", count: max(0, 6 - s.count)) + s
    }

    static func runs(in json: String) throws -> String {
        // `"started_at" : "2026-…Z",` on a line of its own (the report is indented JSON).
        guard let line = json.split(separator: "\n").first(where: { $0.contains("\"started_at\"") }) else { return "?" }
        return line.split(separator: "\"").dropFirst(3).first.map(String.init) ?? "?"
    }

    static func sample(_ pid: pid_t) throws -> Sample {
        let status = try String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)
        func kib(_ field: String) -> Int {
            guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }) else { return 0 }
            return Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0
        }
        let fds = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count
        return Sample(peakKiB: kib("VmHWM"), residentKiB: kib("VmRSS"), descriptors: fds)
    }

    /// Docs/examples/listen-port, found from the binary (.build/<config>/portdoctor) or the working folder.
    static func examplePack() throws -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        for _ in 0..<5 {
            let candidate = dir.appendingPathComponent("Docs/examples/listen-port")
            if FileManager.default.fileExists(atPath: candidate.path + "/pack.lua") { return candidate.path }
            dir = dir.deletingLastPathComponent()
        }
        let here = FileManager.default.currentDirectoryPath + "/Docs/examples/listen-port"
        if FileManager.default.fileExists(atPath: here + "/pack.lua") { return here }
        throw Failure("cannot find Docs/examples/listen-port: give a pack with --pack")
    }
}
