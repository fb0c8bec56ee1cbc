import ArgumentParser
import LuaHost

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a check pack against this computer.",
        discussion: "The check engine (packs, flow, findings) is not built yet: for now this reports the state "
            + "of the Lua host the checks will run in, by running its self-test through the sandbox."
    )

    @Argument(help: "The pack to run.") var pack = "crashplan"
    @OptionGroup(title: "Limits per check") var limits: LimitOptions

    func run() throws {
        let status = HostSelfTest.run(limits: limits.limits)
        print(status.report)
        print("\nThe check engine that runs pack '\(pack)' is not built yet; only the Lua host is.")
        if !status.passed { throw ExitCode(2) }
    }
}
