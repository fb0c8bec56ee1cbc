import LuaHost
import Testing

/// Every limit ends only the offending check, with a message naming the limit, and the state
/// stays usable for the next check.
@Suite struct LimitTests {
    static let small = LuaLimits(instructions: 2_000_000, memoryBytes: 8 << 20, wallClock: .seconds(10))

    private func expectLimit(
        _ kind: LuaError.Kind, _ source: String, limits: LuaLimits = small,
        message: String, sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let runtime = try makeRuntime()
        let result = runtime.run(source, name: "limit.lua", limits: limits)
        let error = try #require(result.error, sourceLocation: sourceLocation)
        #expect(error.kind == kind, sourceLocation: sourceLocation)
        #expect(error.description.contains(message), "\(error.description)", sourceLocation: sourceLocation)
        let after = runtime.run("local t = {} for i = 1, 1000 do t[i] = i end return #t", name: "after.lua")
        #expect(after.values == [1000], sourceLocation: sourceLocation)
    }

    @Test func instructionLimit() throws {
        try expectLimit(
            .instructionLimit, "local n = 0\nwhile true do n = n + 1 end",
            message: "limit.lua:2: instruction limit exceeded (2000000 instructions)")
    }

    @Test func instructionLimitCannotBeSwallowedByPcall() throws {
        try expectLimit(
            .instructionLimit,
            """
            local caught = 0
            while true do
              local ok = pcall(function() while true do end end)
              if not ok then caught = caught + 1 end
            end
            """, message: "instruction limit exceeded")
    }

    @Test func instructionLimitCannotBeSwallowedByXpcallHandlers() throws {
        try expectLimit(
            .instructionLimit,
            """
            for i = 1, 100 do
              xpcall(function() while true do end end, function(e) while true do end end)
            end
            return "escaped"
            """, message: "instruction limit exceeded")
    }

    @Test func instructionLimitReachesIntoTheChecksCoroutines() throws {
        try expectLimit(
            .instructionLimit,
            """
            local co = coroutine.wrap(function() while true do end end)
            pcall(co)
            return "escaped"
            """, message: "instruction limit exceeded")
    }

    @Test func memoryLimitOnTableGrowth() throws {
        try expectLimit(
            .memoryLimit, "local t = {} for i = 1, 1e9 do t[i] = { i } end",
            message: "memory limit exceeded (8192 KiB)")
    }

    @Test func memoryLimitOnOneHugeString() throws {
        try expectLimit(.memoryLimit, "local s = string.rep('x', 1 << 30) return #s", message: "memory limit exceeded")
    }

    @Test func memoryLimitCannotBeSwallowedByPcall() throws {
        try expectLimit(
            .memoryLimit,
            """
            for i = 1, 1000 do pcall(string.rep, 'x', 100 << 20) end
            return "escaped"
            """, message: "memory limit exceeded")
    }

    @Test func memoryIsGivenBackAfterALimitEndsACheck() throws {
        let runtime = try makeRuntime()
        _ = runtime.run("return 1", name: "warm.lua")
        let baseline = runtime.memoryInUse
        let result = runtime.run("local t = {} for i = 1, 1e9 do t[i] = { i } end", name: "hog.lua", limits: Self.small)
        #expect(result.error?.kind == .memoryLimit)
        _ = runtime.run("collectgarbage() collectgarbage() return 1", name: "gc.lua")
        #expect(runtime.memoryInUse < baseline + (1 << 20))
    }

    @Test func garbageDoesNotCountAgainstTheLimit() throws {
        let runtime = try makeRuntime()
        // 10 × 2 MiB of short-lived strings (20 MiB in all) under an 8 MiB limit.
        let result = runtime.run(
            """
            local n = 0
            for i = 1, 10 do local s = string.rep('x', 2 << 20) n = n + #s // (2 << 20) end
            return n
            """, name: "garbage.lua", limits: Self.small)
        #expect(result.values == [10])
    }

    @Test func wallClockLimitOnBusyCode() throws {
        var limits = Self.small
        limits.instructions = .max / 2
        limits.wallClock = .milliseconds(200)
        try expectLimit(
            .timeLimit, "while true do end", limits: limits, message: "time limit exceeded (200 ms wall clock)")
    }

    @Test func packLimitsCanOnlyTighten() {
        let user = LuaLimits(instructions: 1_000, memoryBytes: 1 << 20, wallClock: .seconds(5))
        let pack = LuaLimits(instructions: 5_000, memoryBytes: 512 << 10, wallClock: .seconds(60))
        #expect(
            user.tightened(by: pack) == LuaLimits(instructions: 1_000, memoryBytes: 512 << 10, wallClock: .seconds(5)))
    }

    @Test func eachCheckHasItsOwnBudget() throws {
        let runtime = try makeRuntime(limits: Self.small)
        // Each uses ~60% of the instruction budget; sequential or interleaved, none should trip.
        let chunk = try runtime.load(
            """
            local n = 0
            for i = 1, 300000 do n = n + i end
            clock.sleep(0.01)
            for i = 1, 300000 do n = n + i end
            return n
            """, name: "share.lua")
        let tasks = (1...5).map { runtime.spawn(chunk, name: "t\($0)") }
        runtime.run()
        for task in tasks { #expect(task.outcome?.values == [.integer(90_000_300_000)]) }
    }

    @Test func runawayPatternsAreRefusedBeforeTheyRun() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            """
            local s = string.rep('a', 100000)
            local found = s:find('.-.-.-b')
            return found
            """, name: "pattern.lua")
        let error = try #require(result.error)
        #expect(
            error.message.hasPrefix(
                "pattern.lua:2: string.find: pattern '.-.-.-b' could take too long on a 100000-byte subject"))
        for source in [
            "return ('a'):rep(1e5):match('(.-)*(.-)*b')", "return ('<'):rep(1e5):gsub('<.-<x', '')",
            "for w in ('a'):rep(1e5):gmatch('a*a*a*b') do end",
        ] {
            #expect(
                runtime.run(source, name: "p.lua").error?.message.contains("could take too long") == true, "\(source)")
        }
    }

    @Test func ordinaryPatternsOnLargeTextStillRun() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            #"""
            local lines = {}
            for i = 1, 20000 do
              lines[#lines + 1] = string.format("tcp   LISTEN 0 128 127.0.0.1:%d 0.0.0.0:* users:((\"svc\",pid=%d,fd=3))", 1000 + i % 60000, i)
            end
            local text = table.concat(lines, "\n")
            local count, last = 0
            for line in text:gmatch("[^\n]+") do
              local port, pid = line:match("^tcp%s+LISTEN%s+%d+%s+%d+%s+[%d%.]+:(%d+)%s.-pid=(%d+)")
              if port then count = count + 1 last = pid end
            end
            local xml = string.rep("<service><serviceType>x</serviceType></service>", 2000)
              .. "<controlURL>/ctl/IPConn</controlURL>" .. string.rep("<x/>", 2000)
            return #text > 1000000, count, last, xml:match("<controlURL>(.-)</controlURL>")
            """#, name: "big.lua")
        #expect(result.values == [true, 20000, "20000", "/ctl/IPConn"], "\(String(describing: result.error))")
    }
}
