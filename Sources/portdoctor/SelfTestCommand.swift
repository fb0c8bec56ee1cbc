import ArgumentParser
import LuaHost

struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "self-test",
        abstract: "Check that the Lua host works on this computer: sandbox, suspension, limits."
    )

    @OptionGroup(title: "Limits per check") var limits: LimitOptions

    func run() throws {
        let status = HostSelfTest.run(limits: limits.limits)
        print(status.report)
        if !status.passed { throw ExitCode(2) }
    }
}
