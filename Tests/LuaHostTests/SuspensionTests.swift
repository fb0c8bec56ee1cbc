import Foundation
import LuaHost
import Testing

/// Host calls suspend the calling check and the loop resumes it later, with results.
@Suite struct SuspensionTests {
    @Test func aSuspendedCallReturnsTheValuesItIsResumedWith() throws {
        let runtime = try makeRuntime()
        let result = runtime.run("local slept = clock.sleep(0.01) return slept, 'after'", name: "s.lua")
        #expect(result.values == [.number(0.01), "after"])
    }

    @Test func checksWaitConcurrentlyNotOneAfterAnother() throws {
        let runtime = try makeRuntime()
        let slow = runtime.spawn(try runtime.load("clock.sleep(0.3) return 'slow'", name: "slow.lua"), name: "slow")
        let fast = runtime.spawn(try runtime.load("clock.sleep(0.1) return 'fast'", name: "fast.lua"), name: "fast")
        var order: [String] = []
        slow.onFinish = { order.append($0.name) }
        fast.onFinish = { order.append($0.name) }
        runtime.run()
        // Started first, finished last: the fast check ran while the slow one waited.
        #expect(order == ["fast", "slow"])
        #expect(slow.outcome?.values == ["slow"])
        #expect(fast.outcome?.values == ["fast"])
    }

    @Test func suspensionWorksInsidePcall() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            """
            local ok, v = pcall(clock.sleep, 0.01)
            local ok2, v2 = pcall(function() return clock.sleep(0.02) end)
            local ok3, v3 = xpcall(function() return clock.sleep(0.03) end, function(e) return e end)
            return ok, v, ok2, v2, ok3, v3
            """, name: "pcall.lua")
        #expect(result.values == [true, 0.01, true, 0.02, true, 0.03])
    }

    @Test func suspensionWorksInsideTheChecksOwnCoroutines() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            """
            local co = coroutine.create(function(a)
              local b = coroutine.yield(a + clock.sleep(0.01))
              return b * clock.sleep(0.02)
            end)
            local _, first = coroutine.resume(co, 1)
            local _, second = coroutine.resume(co, 100)
            local gen = coroutine.wrap(function()
              for i = 1, 3 do coroutine.yield(i + clock.sleep(0)) end
            end)
            return first, second, gen(), gen(), gen(), coroutine.status(co)
            """, name: "co.lua")
        #expect(result.values == [1.01, 2.0, 1.0, 2.0, 3.0, "dead"])
    }

    @Test func fileDescriptorReadinessResumesTheCheck() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer {
            close(fds[0])
            close(fds[1])
        }
        let runtime = try makeRuntime()
        let writer = fds[1]
        runtime.loop.schedule(after: .milliseconds(20)) {
            _ = write(writer, "x", 1)
        }
        let result = runtime.run("return fd.wait_readable(\(fds[0]))", name: "fd.lua")
        let revents = try #require(result.values?.first?.intValue)
        #expect(revents & Int64(POLLIN) != 0)
    }

    @Test func waitingInsideAMetamethodCalledFromCIsAClearError() throws {
        let runtime = try makeRuntime()
        let result = runtime.run(
            """
            local t = setmetatable({}, { __tostring = function() clock.sleep(0.01) return 'x' end })
            return tostring(t)
            """, name: "meta.lua")
        #expect(result.error?.message.contains("'clock.sleep' cannot wait here") == true)
    }

    @Test func timeLimitEndsAWaitingCheckAndCancelsItsHostCall() throws {
        let runtime = try makeRuntime()
        var limits = LuaLimits.default
        limits.wallClock = .milliseconds(100)
        let result = runtime.run("clock.sleep(60) return 'woke'", name: "wait.lua", limits: limits)
        let error = try #require(result.error)
        #expect(error.kind == .timeLimit)
        #expect(
            error.description == "wait.lua:1: time limit exceeded (100 ms wall clock) while waiting in 'clock.sleep'")
        #expect(runtime.loop.isIdle)  // the 60 s timer was cancelled
        #expect(runtime.run("return 'next'", name: "next.lua").values == ["next"])
    }

    @Test func aYieldToTheHostOutsideACoroutineFailsTheCheckOnly() throws {
        let runtime = try makeRuntime()
        let result = runtime.run("coroutine.yield('hello host')", name: "y.lua")
        #expect(result.error?.message.contains("coroutine.yield() was called outside a coroutine") == true)
        #expect(runtime.run("return 1", name: "after.lua").values == [1])
    }

    @Test func manyChecksShareOneLoop() throws {
        let runtime = try makeRuntime()
        let chunk = try runtime.load("local n = ... clock.sleep(0.05) return n * 2", name: "many.lua")
        let tasks = (1...200).map { runtime.spawn(chunk, arguments: [.integer(Int64($0))], name: "t\($0)") }
        runtime.run()
        #expect(tasks.map { $0.outcome?.values?.first } == (1...200).map { LuaValue.integer(Int64($0 * 2)) })
    }
}
