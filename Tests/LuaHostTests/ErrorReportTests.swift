import LuaHost
import Testing

@Suite struct ErrorReportTests {
    @Test func syntaxErrorsNameChunkAndLine() throws {
        let runtime = try LuaRuntime()
        #expect {
            _ = try runtime.load("local x = 1\nlocal y = = 2\n", name: "crashplan/listener.lua")
        } throws: { error in
            guard let e = error as? LuaError else { return false }
            return e.kind == .syntax && e.chunk == "crashplan/listener.lua" && e.line == 2
                && e.message.hasPrefix("crashplan/listener.lua:2:")
        }
    }

    @Test func runtimeErrorsCarryChunkLineAndATraceback() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run(
            """
            local function inner() local t = nil; return t.field end
            local function outer() return 1 + inner() end
            return outer()
            """, name: "pack/check.lua")
        let error = try #require(result.error)
        #expect(error.kind == .runtime)
        #expect(error.message == "pack/check.lua:1: attempt to index a nil value (local 't')")
        #expect(error.chunk == "pack/check.lua")
        #expect(error.line == 1)
        let traceback = try #require(error.traceback)
        #expect(
            traceback.contains("in upvalue 'inner'") || traceback.contains("in local 'inner'")
                || traceback.contains("inner"))
        #expect(traceback.contains("pack/check.lua:2"))
        #expect(!error.description.contains("stack traceback"))  // only when asked
        #expect(error.detailedDescription.contains("stack traceback"))
    }

    @Test func errorsWithTableValuesAreDescribedWithoutRunningTheirCode() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run(
            "error(setmetatable({}, { __tostring = function() error('boom') end }))", name: "t.lua")
        #expect(result.error?.message == "(error object is a table value)")
        #expect(result.error?.line == 1)
    }

    @Test func errorLevelTwoPointsAtTheCaller() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run(
            "local function need(x) if not x then error('x is required', 2) end end\n\nneed(nil)", name: "lvl.lua")
        #expect(result.error?.message == "lvl.lua:3: x is required")
    }

    @Test func unknownGlobalsAreErrorsThatNameThem() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run("local p = 4242\nif socket_timeout then return 1 end", name: "g.lua")
        #expect(result.error?.message == "g.lua:2: unknown global 'socket_timeout'")
    }
}
