/// Per-check resource limits. A pack may lower them; a user flag may change them.
public struct LuaLimits: Sendable, Equatable {
    /// Lua VM instructions (counted in steps of 1,000). The default is about one second of CPU.
    public var instructions: Int64
    /// Bytes the check may hold on the Lua heap at once.
    public var memoryBytes: Int
    /// Wall-clock time from the check's start, waiting for I/O included.
    public var wallClock: Duration

    public init(instructions: Int64, memoryBytes: Int, wallClock: Duration) {
        self.instructions = instructions
        self.memoryBytes = memoryBytes
        self.wallClock = wallClock
    }

    public static let `default` = LuaLimits(
        instructions: 200_000_000, memoryBytes: 64 << 20, wallClock: .seconds(30))

    /// Each limit the tighter of the two: packs can only lower what the user allows.
    public func tightened(by other: LuaLimits) -> LuaLimits {
        LuaLimits(
            instructions: min(instructions, other.instructions),
            memoryBytes: min(memoryBytes, other.memoryBytes),
            wallClock: min(wallClock, other.wallClock))
    }

    var wallClockNanoseconds: Int64 {
        let (seconds, attoseconds) = wallClock.components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
