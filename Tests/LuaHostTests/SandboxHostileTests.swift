import Foundation
import LuaHost
import Testing

/// Check code is untrusted. Each script below tries to get out of the sandbox, break the host or
/// spoil the state for later checks. For each: the attempt fails, the host survives, the file the
/// script aims at (global `TARGET`) never appears, and a well-behaved check run afterwards in the
/// same state still passes and sees the API intact.
@Suite struct SandboxHostileTests {
    enum Expect: Sendable {
        /// The check fails with an error whose text contains this.
        case error(String)
        /// The check is stopped by this limit.
        case limit(LuaError.Kind)
        /// The check runs to the end and returns this (its own proof that the trick failed).
        case returns([LuaValue])
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var script: String
        var expect: Expect
        var memory = SandboxHostileTests.small.memoryBytes
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Every removed library and function.
        Case(
            name: "io is gone", script: "local f = io.open(TARGET, 'w') f:write('x') f:close()",
            expect: .error("unknown global 'io'")),
        Case(
            name: "os.execute is gone", script: "os.execute('touch ' .. TARGET)",
            expect: .error("attempt to call a nil value (field 'execute')")),
        Case(
            name: "io.popen through a saved reference", script: "local p = _G['io'] p.popen('touch ' .. TARGET)",
            expect: .error("unknown global 'io'")),
        Case(
            name: "os.remove, rename, tmpname, getenv and exit are gone",
            script: "return os.remove, os.rename, os.tmpname, os.getenv, os.exit, os.setlocale",
            expect: .returns([nil, nil, nil, nil, nil, nil])),
        Case(name: "debug is gone", script: "return debug.getregistry()", expect: .error("unknown global 'debug'")),
        Case(
            name: "package and C loaders are gone", script: "return package.loadlib('libc.so.6', 'system')",
            expect: .error("unknown global 'package'")),
        Case(name: "require is gone", script: "return require('io')", expect: .error("unknown global 'require'")),
        Case(name: "dofile is gone", script: "dofile('/etc/passwd')", expect: .error("unknown global 'dofile'")),
        Case(
            name: "loadfile is gone", script: "return loadfile('/etc/passwd')",
            expect: .error("unknown global 'loadfile'")),
        Case(
            name: "string.dump is gone", script: "return string.dump(function() end)",
            expect: .error("attempt to call a nil value (field 'dump')")),

        // load.
        Case(
            name: "binary chunks are refused",
            script: """
                local ok, err = load("\\27LuaT\\0\\25\\147\\r\\n\\26\\n\\4\\8\\8xV\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0\\0(w@")
                return ok, err
                """, expect: .returns([nil, "attempt to load a binary chunk (mode is 't')"])),
        Case(
            name: "binary mode cannot be asked for", script: "return load('return 1', 'x', 'b')",
            expect: .error("only text chunks can be loaded")),
        Case(
            name: "a reader function cannot smuggle in a binary chunk",
            script: """
                local parts = { "\\27Lua", "T\\0" }
                local i = 0
                local f, err = load(function() i = i + 1 return parts[i] end)
                return f, err
                """, expect: .returns([nil, "attempt to load a binary chunk (mode is 't')"])),
        Case(
            name: "load with an empty environment reaches nothing",
            script: """
                local f = load("return io, os, string, print", "x", "t", {})
                return f()
                """, expect: .returns([nil, nil, nil, nil])),
        Case(
            name: "load with a nil environment reaches nothing",
            script: """
                local f = load("return io", "x", "t", nil)
                return pcall(f)
                """, expect: .returns([false, "[string \"x\"]:1: attempt to index a nil value (upvalue '_ENV')"])),
        Case(
            name: "loaded code shares the check's sandbox, not the real globals",
            script: "return load('return io')()", expect: .error("unknown global 'io'")),

        // Metatables and the read-only API.
        Case(name: "the string metatable is hidden", script: "return getmetatable('')", expect: .returns(["locked"])),
        Case(
            name: "the string metatable cannot be replaced",
            script: "setmetatable('', {})",
            expect: .error("bad argument #1 to 'setmetatable' (table expected, got string)")),
        Case(
            name: "library functions cannot be replaced",
            script: "string.rep = function() return 'pwned' end",
            expect: .error("cannot set 'string.rep': 'string' is read-only")),
        Case(
            name: "rawset on the read-only API is refused",
            script: "rawset(string, 'rep', function() return 'pwned' end)",
            expect: .error("cannot modify a read-only table")),
        Case(
            name: "table functions cannot write into the API",
            script: "table.insert(math, 'x')", expect: .error("'math' is read-only")),
        Case(
            name: "the API's metatables are locked",
            script: """
                local ok1 = pcall(setmetatable, os, {})
                return getmetatable(string), getmetatable(coroutine), ok1
                """, expect: .returns(["read-only", "read-only", false])),
        Case(
            name: "pairs over the API never hands out the real table",
            script: """
                local iter, state = pairs(string)
                local names = 0
                for k in pairs(string) do names = names + 1 end
                return state, rawget(string, 'rep'), next(string), names > 10
                """, expect: .returns([nil, nil, nil, true])),
        Case(
            name: "setmetatable(_G) is refused", script: "setmetatable(_G, { __index = function() return os end })",
            expect: .error("cannot change a protected metatable")),
        Case(
            name: "globals a check sets stay in that check",
            script: """
                print = nil; string = nil; tostring = function() return 'pwned' end; shared_state = 'left behind'
                return type(print), type(string), tostring(1)
                """, expect: .returns(["function", "table", "pwned"])),
        Case(
            name: "_ENV swapping reaches nothing",
            script: """
                local real = _ENV
                local _ENV = setmetatable({}, { __index = real })
                return pcall(function() return io end)
                """, expect: .returns([false, "hostile.lua:3: unknown global 'io'"])),

        // Coroutines.
        Case(
            name: "yielding to the host from the check body",
            script: "coroutine.yield('give me the host')",
            expect: .error("coroutine.yield() was called outside a coroutine")),
        Case(
            name: "resuming the check's own thread", script: "return coroutine.resume(coroutine.running())",
            expect: .returns([false, "cannot resume non-suspended coroutine"])),
        Case(
            name: "a runaway loop inside a nested coroutine",
            script: """
                local co = coroutine.wrap(function()
                  return coroutine.wrap(function() while true do end end)()
                end)
                co()
                """, expect: .limit(.instructionLimit)),
        Case(
            name: "yielding across a metamethod called from C",
            script: """
                local t = setmetatable({}, { __tostring = function() return coroutine.yield() end })
                return tostring(t)
                """, expect: .error("attempt to yield across a C-call boundary")),
        Case(
            name: "host waiting across a metamethod called from C",
            script: """
                local ok, err = pcall(table.sort, { 3, 1, 2 }, function(a, b) clock.sleep(0) return a < b end)
                return ok, err:match("cannot wait here") ~= nil
                """, expect: .returns([false, true])),

        // The collector.
        Case(
            name: "collectgarbage cannot stop the collector",
            script: "collectgarbage('stop')", expect: .error("collectgarbage('stop') is not available")),
        Case(
            name: "collectgarbage cannot retune the collector",
            script: "collectgarbage('incremental', 1000, 0)", expect: .error("is not available to checks")),
        Case(
            name: "__gc finalisers are refused",
            script: "setmetatable({}, { __gc = function() while true do end end })",
            expect: .error("'__gc' metamethods are not available to checks")),
        Case(
            name: "__gc added after setmetatable never runs",
            script: """
                local mt = {}
                local t = setmetatable({}, mt)
                mt.__gc = function() while true do end end
                t = nil
                collectgarbage() collectgarbage()
                return 'done'
                """, expect: .returns(["done"])),

        // Stack and recursion.
        Case(
            name: "deep Lua recursion runs into the memory limit",
            script: "local function f(n) return 1 + f(n + 1) end return f(1)", expect: .limit(.memoryLimit)),
        Case(
            name: "deep recursion in a short stack",
            script: "local function f(n) return 1 + f(n + 1) end return f(1)", expect: .error("stack overflow"),
            memory: 64 << 20),
        Case(
            name: "C stack overflow through metamethods",
            script: """
                local t = setmetatable({}, {}); getmetatable(t).__index = function(t, k) return t[k] end
                return t.x
                """, expect: .error("stack overflow")),
        Case(
            name: "C stack overflow through nested pcall",
            script: "local function f() local ok, e = pcall(f) return e end return f()",
            expect: .returns(["hostile.lua:1: C stack overflow"])),

        // Errors that fight back.
        Case(
            name: "an error object whose __tostring errors",
            script: "error(setmetatable({}, { __tostring = function() error('gotcha') end }))",
            expect: .error("(error object is a table value)")),
        Case(
            name: "an error object whose __tostring loops",
            script: "error(setmetatable({}, { __tostring = function() while true do end end }))",
            expect: .error("(error object is a table value)")),
        Case(
            name: "a __close handler that loops after an error",
            script: """
                local guard <close> = setmetatable({}, { __close = function() while true do end end })
                error('first')
                """, expect: .error("hostile.lua:2: first")),

        // Swallowing limits.
        Case(
            name: "pcall swallowing the instruction limit",
            script: "while true do pcall(function() while true do end end) end", expect: .limit(.instructionLimit)),
        Case(
            name: "xpcall whose handler loops",
            script: """
                xpcall(function() while true do end end, function() while true do end end)
                return 'escaped'
                """, expect: .limit(.instructionLimit)),
        Case(
            name: "error() inside the xpcall handler of a limit",
            script: """
                for i = 1, 10 do xpcall(function() while true do end end, function() error('again') end) end
                return 'escaped'
                """, expect: .limit(.instructionLimit)),
        Case(
            name: "pcall swallowing the memory limit",
            script: "local t = {} while true do pcall(function() t[#t + 1] = string.rep('x', 1 << 20) end) end",
            expect: .limit(.memoryLimit)),
        Case(
            name: "a runaway loop inside a __tostring called from C",
            script: "return string.format('%s', setmetatable({}, { __tostring = function() while true do end end }))",
            expect: .limit(.instructionLimit)),
        Case(
            name: "a runaway loop inside a gsub callback",
            script: "return ('aaa'):gsub('a', function() while true do end end)", expect: .limit(.instructionLimit)),
        Case(
            name: "a pathological pattern",
            script: "local s = ('a'):rep(50000) local r = s:match('(.-)(.-)(.-)(.-)x') return r",
            expect: .error("could take too long")),
    ]

    static let small = LuaLimits(instructions: 5_000_000, memoryBytes: 16 << 20, wallClock: .seconds(20))

    @Test(arguments: cases)
    func hostileScriptIsContained(_ hostile: Case) throws {
        var limits = Self.small
        limits.memoryBytes = hostile.memory
        let runtime = try makeRuntime(limits: limits)
        let target = untouchablePath(hostile.name.filter(\.isLetter))
        let chunk = try runtime.load(hostile.script, name: "hostile.lua", globals: ["TARGET": .text(target)])
        let task = runtime.spawn(chunk, name: hostile.name)
        runtime.run()
        let outcome = try #require(task.outcome)

        switch hostile.expect {
        case .error(let text):
            let error = try #require(outcome.error, "expected an error, got \(outcome)")
            #expect(error.description.contains(text), "\(error.description)")
        case .limit(let kind):
            let error = try #require(outcome.error, "expected the \(kind) limit, got \(outcome)")
            #expect(error.kind == kind, "\(error.description)")
        case .returns(let values):
            #expect(outcome.values == values, "\(outcome)")
        }
        #expect(!FileManager.default.fileExists(atPath: target))

        let next = runtime.run(
            """
            return string.rep('ab', 2), type(print), type(tostring(1)), math.floor(2.5),
              select('#', pcall(error)), getmetatable(''), (pcall(function() return shared_state end))
            """, name: "next.lua")
        #expect(next.values == ["abab", "function", "string", 2, 2, "locked", false], "\(next)")
    }

    @Test func theSuiteIsLargeEnough() {
        #expect(Self.cases.count >= 30)
    }
}
