import CLua
import LuaShim

/// A Swift function callable from Lua. It reads its arguments from `call`, pushes results and
/// returns how many; errors it throws become Lua errors raised (by C) at the caller's line.
///
/// A named type rather than a bare closure type on purpose: closures kept in a dictionary are
/// stored generically and every call would go through a reabstraction thunk. Inside this struct
/// the closure keeps its natural form, which measurably shortens the path from Lua.
public struct HostFunction {
    public let body: (LuaCall) throws -> LuaReturn

    public init(_ body: @escaping (LuaCall) throws -> LuaReturn) { self.body = body }
}

/// What a host function hands back to the C trampoline.
public struct LuaReturn: Sendable {
    let code: Int32

    /// `n` results are on top of the stack.
    public static func values(_ n: Int32) -> LuaReturn { LuaReturn(code: n) }
    public static let none = LuaReturn(code: 0)
    /// The calling check is suspended; its `LuaPendingCall` resumes it later with the results.
    public static let suspended = LuaReturn(code: Int32(PD_SUSPEND))
}

/// An error a host function throws to raise a Lua error in the calling check.
public struct LuaScriptError: Error, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Holds a host function alive while Lua can reach it; released by the userdata's `__gc`.
final class HostFunctionBox {
    let function: (LuaCall) throws -> LuaReturn
    let name: String
    /// The name primitive hooks see ("socket.connect", "Connection.send"); nil for the host's own
    /// functions (`print`, `require`, …), which are never recorded or replayed.
    let primitive: String?
    unowned(unsafe) let runtime: LuaRuntime

    init(function: HostFunction, name: String, primitive: String?, runtime: LuaRuntime) {
        self.function = function.body
        self.name = name
        self.primitive = primitive
        self.runtime = runtime
    }

}

/// The one Swift entry point from Lua. Returns a count or a PD_* code; never raises.
/// The box is borrowed, not retained (Lua keeps it alive for the call), and the error path is
/// out of line: together that keeps a call across the bridge close to the cost of a C function.
@_cdecl("portdoctor_host_dispatch")
func hostDispatch(_ state: OpaquePointer?, _ boxPointer: UnsafeMutableRawPointer?) -> Int32 {
    Unmanaged<HostFunctionBox>.fromOpaque(boxPointer.unsafelyUnwrapped)._withUnsafeGuaranteedRef { box in
        do {
            // The one place every primitive call passes: hooks (record, replay, trace) see it here.
            if box.runtime.hasPrimitiveHooks, let primitive = box.primitive {
                return try LuaRuntime.intercept(
                    LuaCall(state: state.unsafelyUnwrapped, box: box), name: primitive,
                    hooks: box.runtime.primitiveHooks, body: box.function
                ).code
            }
            return try box.function(LuaCall(state: state.unsafelyUnwrapped, box: box)).code
        } catch {
            return raise(error, on: state.unsafelyUnwrapped)
        }
    }
}

@inline(never)
private func raise(_ error: any Error, on state: OpaquePointer) -> Int32 {
    LuaStack(state).push((error as? LuaScriptError)?.message ?? "\(error)")
    return Int32(PD_RAISE_WITH_POSITION)
}

@_cdecl("portdoctor_host_release")
func hostRelease(_ pointer: UnsafeMutableRawPointer?) {
    Unmanaged<AnyObject>.fromOpaque(pointer.unsafelyUnwrapped).release()
}

/// One call of a host function: its arguments, its results, and suspension.
public struct LuaCall {
    public let stack: LuaStack
    private unowned(unsafe) let box: HostFunctionBox

    init(state: OpaquePointer, box: HostFunctionBox) {
        self.stack = LuaStack(state)
        self.box = box
    }

    /// The name the function was registered under, for error messages.
    public var name: String { box.name }
    public var runtime: LuaRuntime { box.runtime }

    public var argumentCount: Int32 { stack.top }

    // MARK: arguments (1-based, like Lua)

    public func argumentError(_ index: Int32, _ problem: String) -> LuaScriptError {
        LuaScriptError("bad argument #\(index) to '\(name)' (\(problem))")
    }

    private func expected(_ what: String, _ index: Int32) -> LuaScriptError {
        let got = index > stack.top ? "no value" : stack.typeName(at: index)
        return argumentError(index, "\(what) expected, got \(got)")
    }

    public func isNil(_ index: Int32) -> Bool { lua_type(stack.state, index) <= LUA_TNIL }

    public func value(_ index: Int32) throws -> LuaValue {
        do { return try stack.value(at: index) } catch { throw argumentError(index, error.description) }
    }

    public func string(_ index: Int32) throws -> String {
        guard let bytes = stack.bytes(at: index) else { throw expected("string", index) }
        return String(decoding: bytes, as: UTF8.self)
    }

    public func optionalString(_ index: Int32) throws -> String? {
        isNil(index) ? nil : try string(index)
    }

    public func bytes(_ index: Int32) throws -> [UInt8] {
        guard let bytes = stack.bytes(at: index) else { throw expected("string", index) }
        return bytes
    }

    public func integer(_ index: Int32) throws -> Int64 {
        var isInteger: Int32 = 0
        let i = lua_tointegerx(stack.state, index, &isInteger)
        guard isInteger != 0, lua_type(stack.state, index) == LUA_TNUMBER else {
            if lua_type(stack.state, index) == LUA_TNUMBER {
                throw argumentError(index, "number has no integer representation")
            }
            throw expected("integer", index)
        }
        return i
    }

    public func optionalInteger(_ index: Int32) throws -> Int64? {
        isNil(index) ? nil : try integer(index)
    }

    public func number(_ index: Int32) throws -> Double {
        guard lua_type(stack.state, index) == LUA_TNUMBER else { throw expected("number", index) }
        return lua_tonumberx(stack.state, index, nil)
    }

    public func optionalNumber(_ index: Int32) throws -> Double? {
        isNil(index) ? nil : try number(index)
    }

    public func boolean(_ index: Int32) -> Bool { lua_toboolean(stack.state, index) != 0 }

    public func table(_ index: Int32) throws -> LuaTable {
        guard lua_type(stack.state, index) == LUA_TTABLE else { throw expected("table", index) }
        guard case .table(let t) = try value(index) else { throw expected("table", index) }
        return t
    }

    public func optionalTable(_ index: Int32) throws -> LuaTable? {
        isNil(index) ? nil : try table(index)
    }

    /// The Swift object of type `T` at `index` (a userdata made by `push(object:)`).
    public func object<T: AnyObject>(_ type: T.Type, _ index: Int32) throws -> T {
        guard let object = runtime.object(type, at: index, in: stack) else {
            throw expected(runtime.typeName(of: type) ?? "\(type)", index)
        }
        return object
    }

    /// Runs `body` with the raw value of `table[key]` pushed (its stack index is passed), then pops it.
    /// No metamethods run. Returns nil when the value at `table` is not a table.
    public func withField<R>(_ table: Int32, _ key: String, _ body: (Int32) throws -> R) rethrows -> R? {
        try stack.withField(table, .text(key), body)
    }

    /// Keeps the value at `index` alive in the registry (a function to call later, a table to read).
    public func reference(_ index: Int32) -> LuaRef {
        lua_pushvalue(stack.state, index)
        return LuaRef(ref: luaL_ref(stack.state, pd_registry_index()), runtime: runtime)
    }

    /// Chunk and line of the Lua code that called this function, for messages about definitions.
    /// The host's own trusted Lua wrappers (like `require`) are skipped.
    public var callerPosition: (chunk: String, line: Int)? {
        var chunk = [CChar](repeating: 0, count: 256)
        let line = pd_caller_position(stack.state, &chunk, chunk.count)
        guard line > 0 else { return nil }
        return (chunk.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }, Int(line))
    }

    // MARK: results

    /// Pushes argument `index` again (to return it).
    public func pushArgument(_ index: Int32) { lua_pushvalue(stack.state, index) }

    /// Pushes the value a reference holds.
    public func push(_ ref: LuaRef) {
        lua_rawgeti(stack.state, pd_registry_index(), lua_Integer(ref.ref))
    }

    public func push(_ value: LuaValue) { stack.push(value) }
    public func push(_ text: String) { stack.push(text) }

    /// Pushes a Swift object as a userdata with the methods defined by `LuaRuntime.defineType`.
    public func push<T: AnyObject>(object: T) { runtime.push(object: object, on: stack) }

    /// Pushes `values` and returns them as the call's results.
    public func returning(_ values: LuaValue...) -> LuaReturn { returning(values) }

    public func returning(_ values: [LuaValue]) -> LuaReturn {
        for v in values { stack.push(v) }
        return .values(Int32(values.count))
    }

    // MARK: suspension

    /// Suspends the calling check until `start`'s pending call is resumed. Throws where Lua cannot
    /// yield (inside a metamethod or callback called from C), before anything has started.
    public func suspend(_ start: (LuaPendingCall) -> Void) throws -> LuaReturn {
        guard lua_isyieldable(stack.state) != 0 else {
            throw LuaScriptError(
                "'\(name)' cannot wait here: it was called from inside a metamethod, iterator or "
                    + "callback that Lua runs from C (call it from the check's own code)")
        }
        let pending = try runtime.beginSuspension(of: name)
        start(pending)
        return .suspended
    }
}
