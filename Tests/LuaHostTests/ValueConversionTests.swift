import LuaHost
import Testing

/// Values cross the bridge both ways: Swift → Lua through a host function's results,
/// Lua → Swift through its arguments and a chunk's return values.
@Suite struct ValueConversionTests {
    private func roundTrip(_ value: LuaValue) throws -> LuaValue {
        let runtime = try LuaRuntime()
        runtime.register(
            module: "t",
            [
                "give": HostFunction { call in call.returning(value) },
                "take": HostFunction { call in call.returning(try call.value(1)) },
            ])
        let result = runtime.run("return t.take(t.give())", name: "roundtrip.lua")
        return try #require(result.values?.first)
    }

    @Test(arguments: [
        LuaValue.nil, true, false, 0, 42, -7, .integer(.max), .integer(.min), 1.5, -0.25, .number(1e300),
        "", "plain text", "naïve ünïcode", .string(LuaString(bytes: [0, 1, 0, 255, 0])),
    ])
    func scalarsSurviveARoundTrip(_ value: LuaValue) throws {
        #expect(try roundTrip(value) == value)
    }

    @Test func integersAndFloatsStayDistinct() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run("return 3, 3.0, math.type(3), math.type(3.0), 2^53", name: "num.lua")
        #expect(result.values == [.integer(3), .number(3.0), "integer", "float", .number(9007199254740992)])
    }

    @Test func stringsWithEmbeddedZerosKeepTheirLength() throws {
        let runtime = try LuaRuntime()
        runtime.register(
            module: "t", ["len": HostFunction { call in call.returning(.integer(Int64(try call.bytes(1).count))) }])
        let result = runtime.run(#"local s = "a\0b\0\0c" return #s, t.len(s), s"#, name: "nul.lua")
        #expect(result.values == [6, 6, .string(LuaString(bytes: [97, 0, 98, 0, 0, 99]))])
    }

    @Test func nestedTablesAndArrays() throws {
        let value: LuaValue = [
            "name": "listener", "port": 4242, "ok": true,
            "addresses": ["0.0.0.0", "::"],
            "owner": ["pid": 123, "program": "backupd", "args": [1, 2.5, ["deep": ["deeper": "yes"]]]],
        ]
        #expect(try roundTrip(value) == value)
    }

    @Test func arraysWithHolesKeepTheRestAsFields() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run("return { 'a', 'b', nil, 'd', x = 1 }", name: "holes.lua")
        let table = try #require(result.values?.first?.tableValue)
        #expect(table.sequence == ["a", "b"])
        #expect(table.fields == [.integer(4): "d", "x": 1])
    }

    @Test func luaSeesSwiftTablesAsRealTables() throws {
        let runtime = try LuaRuntime()
        runtime.register(
            module: "t", ["give": HostFunction { call in call.returning(["list": [10, 20, 30], "k": "v"]) }])
        let result = runtime.run(
            "local v = t.give() local sum = 0 for _, x in ipairs(v.list) do sum = sum + x end return #v.list, sum, v.k",
            name: "tables.lua")
        #expect(result.values == [3, 60, "v"])
    }

    @Test func cyclesAreRefusedNotFollowedForever() throws {
        let runtime = try LuaRuntime()
        runtime.register(module: "t", ["take": HostFunction { call in call.returning(try call.value(1)) }])
        let result = runtime.run("local a = {} a.self = a return t.take(a)", name: "cycle.lua")
        #expect(result.error?.message.contains("bad argument #1 to 't.take'") == true)
        #expect(result.error?.message.contains("cycle") == true)
    }

    @Test func tooDeepNestingIsRefused() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run("local t = {} for i = 1, 200 do t = { t } end return t", name: "deep.lua")
        #expect(result.error?.message.contains("nested deeper than 64") == true)
    }

    @Test func functionsComeOutAsOpaqueValues() throws {
        let runtime = try LuaRuntime()
        let result = runtime.run("return print, coroutine.create(print)", name: "opaque.lua")
        #expect(result.values == [.opaque(typeName: "function"), .opaque(typeName: "thread")])
    }
}
