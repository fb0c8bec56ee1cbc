import ArgumentParser
import LuaHost

/// The per-check limits a user can change. A pack may lower them further, never raise them.
struct LimitOptions: ParsableArguments {
    @Option(
        name: .customLong("max-instructions"),
        help: "Lua instructions one check may execute (the default is about a second of CPU).")
    var instructions: Int64 = LuaLimits.default.instructions

    @Option(name: .customLong("max-memory"), help: "MiB of Lua memory one check may hold.")
    var memoryMiB: Int = LuaLimits.default.memoryBytes >> 20

    @Option(
        name: .customLong("check-timeout"),
        help: "Seconds of wall-clock time one check may take, waiting included.")
    var timeoutSeconds: Double = 30

    func validate() throws {
        guard instructions >= 1_000 else { throw ValidationError("--max-instructions must be at least 1000") }
        guard (1...4096).contains(memoryMiB) else { throw ValidationError("--max-memory must be 1 to 4096 MiB") }
        guard timeoutSeconds > 0, timeoutSeconds <= 86_400 else {
            throw ValidationError("--check-timeout must be more than 0 and at most 86400 seconds")
        }
    }

    var limits: LuaLimits {
        LuaLimits(
            instructions: instructions, memoryBytes: memoryMiB << 20,
            wallClock: .milliseconds(Int64(timeoutSeconds * 1000)))
    }
}
