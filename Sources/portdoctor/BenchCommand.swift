import ArgumentParser
import CLua
import LuaHost

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure portdoctor's own speed (build with -c release for meaningful numbers).",
        subcommands: [
            BridgeBench.self, RunBench.self, EveryBench.self, SocketBench.self, HoldSockets.self, FanOut.self,
            HoldListener.self,
        ]
    )
}

struct BridgeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bridge",
        abstract: "ns per call from Lua of a no-op Swift host function vs a no-op C function.",
        discussion: """
            Both functions are registered in the same module table and called from the same Lua loop, \
            alternating rounds, in one run; the figure is the median round after subtracting the cost \
            of an empty loop. Target: Swift/C ratio at most 1.5.
            """
    )

    @Option(help: "Calls per round.") var calls = 5_000_000
    @Option(help: "Rounds (the median is reported).") var rounds = 9

    func run() throws {
        let result = try BridgeBenchmark(calls: calls, rounds: rounds).measure()
        print(result.report)
    }
}
