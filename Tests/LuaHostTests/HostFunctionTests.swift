import LuaHost
import Testing

final class Counter {
    var value = 0
    nonisolated(unsafe) static var alive = 0
    init() { Counter.alive += 1 }
    deinit { Counter.alive -= 1 }
}

final class Other {}

@Suite(.serialized) struct HostFunctionTests {
    @Test func argumentErrorsNameTheFunctionAndTheCallersLine() throws {
        let runtime = try LuaRuntime()
        runtime.register(
            module: "socket",
            [
                "connect": HostFunction { call in
                    _ = try call.string(1)
                    _ = try call.integer(2)
                    return .none
                }
            ])
        let result = runtime.run("local x = 1\nsocket.connect('host', 'port')\n", name: "pack/reach.lua")
        let error = try #require(result.error)
        #expect(error.message == "pack/reach.lua:2: bad argument #2 to 'socket.connect' (integer expected, got string)")
        #expect(error.chunk == "pack/reach.lua")
        #expect(error.line == 2)
    }

    @Test func floatsWithoutIntegerValueAreRejectedForIntegers() throws {
        let runtime = try LuaRuntime()
        runtime.register(module: "m", ["f": HostFunction { call in call.returning(.integer(try call.integer(1))) }])
        #expect(runtime.run("return m.f(4.0)", name: "a.lua").values == [4])
        #expect(
            runtime.run("return m.f(4.5)", name: "b.lua").error?.message.contains("no integer representation") == true)
    }

    @Test func thrownSwiftErrorsBecomeLuaErrorsThatPcallCatches() throws {
        struct Refused: Error, CustomStringConvertible { var description: String { "refused by host" } }
        let runtime = try LuaRuntime()
        runtime.register(module: "m", ["fail": HostFunction { _ in throw Refused() }])
        let result = runtime.run("local ok, e = pcall(function() m.fail() end) return ok, e", name: "e.lua")
        #expect(result.values == [false, "e.lua:1: refused by host"])
    }

    @Test func swiftObjectsAreUserdataWithMethods() throws {
        let runtime = try LuaRuntime()
        runtime.defineType(
            Counter.self, name: "Counter",
            methods: [
                "add": { counter, call in
                    counter.value += Int(try call.integer(2))
                    return call.returning(.integer(Int64(counter.value)))
                },
                "get": { counter, call in call.returning(.integer(Int64(counter.value))) },
            ])
        let shared = Counter()
        runtime.register(
            module: "counters",
            [
                "shared": HostFunction { call in
                    call.push(object: shared); return .values(1)
                },
                "new": HostFunction { call in
                    call.push(object: Counter()); return .values(1)
                },
            ])
        let result = runtime.run(
            """
            local c = counters.shared()
            c:add(2); c:add(3)
            local d = counters.new()
            d:add(10)
            return c:get(), d:get(), type(c), tostring(c):match('^Counter'), getmetatable(c)
            """, name: "objects.lua")
        #expect(result.values == [5, 10, "userdata", "Counter", "locked"])
        #expect(shared.value == 5)
    }

    @Test func methodsCheckTheirSelf() throws {
        let runtime = try LuaRuntime()
        runtime.defineType(
            Counter.self, name: "Counter", methods: ["get": { c, call in call.returning(.integer(Int64(c.value))) }])
        runtime.defineType(Other.self, name: "Other", methods: ["noop": { _, _ in .none }])
        runtime.register(
            module: "m",
            [
                "counter": HostFunction { call in
                    call.push(object: Counter()); return .values(1)
                },
                "other": HostFunction { call in
                    call.push(object: Other()); return .values(1)
                },
            ])
        let dot = runtime.run("local c = m.counter() return c.get()", name: "dot.lua")
        #expect(dot.error?.message == "dot.lua:1: bad argument #1 to 'get' (Counter expected, got no value)")
        let wrong = runtime.run("local c, o = m.counter(), m.other() return c.get(o)", name: "wrong.lua")
        #expect(wrong.error?.message == "wrong.lua:1: bad argument #1 to 'get' (Counter expected, got userdata)")
    }

    @Test func objectsAndFunctionsAreReleasedByTheCollector() throws {
        let before = Counter.alive
        do {
            let runtime = try LuaRuntime()
            runtime.defineType(Counter.self, name: "Counter", methods: [:])
            runtime.register(
                module: "m",
                [
                    "new": HostFunction { call in
                        call.push(object: Counter()); return .values(1)
                    }
                ])
            let result = runtime.run(
                "for i = 1, 1000 do m.new() end collectgarbage() collectgarbage() return 1", name: "gc.lua")
            #expect(result.values == [1])
            #expect(Counter.alive - before < 1000)  // collected while the state is alive
            _ = runtime.run("local keep = m.new() return 1", name: "keep.lua")
        }
        #expect(Counter.alive == before)  // and everything at close
    }

    @Test func printGoesToTheHost() throws {
        let printed = PrintedLines()
        let runtime = try makeRuntime(printed: printed)
        _ = runtime.run("print('listener', 4242, nil, true)", name: "p.lua")
        #expect(printed.lines == ["listener\t4242\tnil\ttrue"])
    }

    @Test func printNamesTheTaskAndKeepsItsLinesWhenAsked() throws {
        let seen = PrintedLines()
        var options = LuaRuntime.Options()
        options.print = { text, task in seen.lines.append("\(task?.name ?? "-"): \(text)") }
        options.keepPrinted = 3
        let runtime = try LuaRuntime(options: options)
        let chunk = try runtime.load("print('one\\ntwo') error('boom')", name: "c.lua")
        let failing = runtime.spawn(chunk, name: "listener")
        let chatty = runtime.spawn(try runtime.load("for i = 1, 5 do print(i) end", name: "d.lua"), name: "chatty")
        runtime.run()
        #expect(seen.lines.first == "listener: one\ntwo")
        #expect(failing.outcome?.error != nil && failing.printed == ["one", "two"])
        #expect(chatty.printed == ["1", "2", "3"] && chatty.printedDropped == 2)
    }
}
