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

/// Wall time and peak memory of a whole `portdoctor run` process on a pack of checks that do no
/// I/O, against the same binary only starting up (`run --help`), measured in the same session.
struct RunBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Wall time and peak memory of `portdoctor run` on a 10-check pack with no I/O.",
        discussion:
            "Targets: under 0.05 s and 20 MiB (for reference, nmap running one NSE script against one port on loopback took 0.44 s and 30 MiB on this kind of machine)."
    )

    @Option(help: "Runs of each (the median is reported).") var runs = 21
    @Option(help: "Checks in the generated pack.") var checks = 10

    struct Sample {
        var seconds: Double
        var maxRSSKiB: Int
    }

    func run() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("portdoctor-bench-\(getpid())/bench")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir.deletingLastPathComponent()) }
        let ids = (1...checks).map { "check\($0)" }
        try """
        return pack { id = "bench", version = "1", title = "Bench", steps = { \(ids.map { "\"\($0)\"" }.joined(separator: ", ")) },
                      params = { port = { type = "port", default = 4242, doc = "a port" } } }
        """.write(to: dir.appendingPathComponent("pack.lua"), atomically: true, encoding: .utf8)
        for id in ids {
            try """
            return check {
              title = "\(id)",
              run = function(ctx)
                local sum = 0
                for i = 1, 1000 do sum = sum + (i % ctx.params.port) end
                return pass { summary = "sum " .. sum, evidence = { sum = sum } }
              end,
            }
            """.write(to: dir.appendingPathComponent("\(id).lua"), atomically: true, encoding: .utf8)
        }
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).path
        var startup: [Sample] = []
        var full: [Sample] = []
        for _ in 0..<runs {
            startup.append(try measure([me, "run", "--help"]))
            full.append(try measure([me, "run", dir.path, "--format", "json"]))
        }
        func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }
        let s = median(startup.map(\.seconds)), f = median(full.map(\.seconds))
        let sm = median(startup.map { Double($0.maxRSSKiB) }) / 1024,
            fm = median(full.map { Double($0.maxRSSKiB) }) / 1024
        print(
            """
            portdoctor run, \(checks) checks without I/O (median of \(runs) runs)
              run                 \(fixed(f, 4)) s   \(fixed(fm, 1)) MiB peak   (target < 0.05 s, < 20 MiB)
              start-up baseline   \(fixed(s, 4)) s   \(fixed(sm, 1)) MiB peak   (`portdoctor run --help`)
              ratio run/start-up  \(fixed(f / s, 2))× time, \(fixed(fm / sm, 2))× memory
            """)
    }

    /// Runs a command to completion; its wall time and maximum resident set size.
    func measure(_ argv: [String]) throws -> Sample {
        let clock = ContinuousClock()
        let start = clock.now
        let (_, usage) = try ChildProcess.start(argv).wait()
        let elapsed = clock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        return Sample(seconds: seconds, maxRSSKiB: usage.ru_maxrss)
    }
}

/// `x` with `digits` decimals, without Foundation's String(format:).
func fixed(_ x: Double, _ digits: Int) -> String {
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = Int((x * scale).rounded())
    let whole = String(n / Int(scale))
    guard digits > 0 else { return whole }
    let frac = String(abs(n) % Int(scale))
    return whole + "." + String(repeating: "0", count: digits - frac.count) + frac
}
