import CLua
import LuaShim

/// Typed access to one Lua thread's stack. Only Lua API calls that cannot raise are used here
/// (raw table access, no metamethods); allocation is safe because host code runs with the memory
/// limit suspended (see `pd_budget.enforcing`).
public struct LuaStack {
    public let state: OpaquePointer

    public init(_ state: OpaquePointer) { self.state = state }

    /// How deep `value(at:)` follows nested tables before giving up.
    public static let maxTableDepth = 64

    public var top: Int32 { lua_gettop(state) }

    public func pop(_ n: Int32 = 1) { pd_pop(state, n) }

    public func type(at index: Int32) -> Int32 { lua_type(state, index) }

    public func typeName(at index: Int32) -> String {
        String(cString: lua_typename(state, lua_type(state, index)))
    }

    // MARK: pushing

    public func push(_ value: LuaValue) {
        guard lua_checkstack(state, 4) != 0 else { preconditionFailure("Lua stack exhausted") }
        switch value {
        case .nil, .opaque: lua_pushnil(state)
        case .boolean(let b): lua_pushboolean(state, b ? 1 : 0)
        case .integer(let i): lua_pushinteger(state, i)
        case .number(let d): lua_pushnumber(state, d)
        case .string(let s): push(bytes: s.bytes)
        case .table(let t): push(t)
        }
    }

    public func push(_ text: String) {
        var text = text
        text.withUTF8 { buffer in
            _ = lua_pushlstring(
                state, buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buffer.count
            )
        }
    }

    public func push(bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { buffer in
            _ = lua_pushlstring(
                state, buffer.baseAddress.map { UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self) }, buffer.count
            )
        }
    }

    public func push(_ table: LuaTable) {
        lua_createtable(state, Int32(clamping: table.sequence.count), Int32(clamping: table.fields.count))
        for (i, element) in table.sequence.enumerated() {
            push(element)
            lua_rawseti(state, -2, lua_Integer(i + 1))
        }
        for (key, element) in table.fields {
            // Keys Lua cannot store would make rawset raise: skip them.
            switch key {
            case .nil, .opaque: continue
            case .number(let d) where d.isNaN: continue
            default: break
            }
            push(key)
            push(element)
            lua_rawset(state, -3)
        }
    }

    // MARK: reading

    /// The value at `index` as plain data. Throws on cycles and on nesting deeper than `maxTableDepth`.
    public func value(at index: Int32) throws(LuaConversionError) -> LuaValue {
        var path: [UnsafeRawPointer] = []
        return try value(at: lua_absindex(state, index), path: &path, label: { _ in nil })
    }

    /// The same, with objects (userdata) named by `label` where it names them: what primitive
    /// hooks see, so that a recording can tell two connections apart ("Connection#2").
    func value(at index: Int32, labellingObjects label: (Int32) -> String?) throws(LuaConversionError) -> LuaValue {
        var path: [UnsafeRawPointer] = []
        return try value(at: lua_absindex(state, index), path: &path, label: label)
    }

    private func value(
        at index: Int32, path: inout [UnsafeRawPointer], label: (Int32) -> String?
    ) throws(LuaConversionError) -> LuaValue {
        switch lua_type(state, index) {
        case LUA_TNIL, LUA_TNONE: return .nil
        case LUA_TBOOLEAN: return .boolean(lua_toboolean(state, index) != 0)
        case LUA_TNUMBER:
            if lua_isinteger(state, index) != 0 { return .integer(lua_tointegerx(state, index, nil)) }
            return .number(lua_tonumberx(state, index, nil))
        case LUA_TSTRING: return .string(LuaString(bytes: bytes(at: index) ?? []))
        case LUA_TTABLE: return .table(try table(at: index, path: &path, label: label))
        default: return .opaque(typeName: label(index) ?? typeName(at: index))
        }
    }

    /// The bytes of the string at `index` (nil unless it really is a string: numbers are not converted).
    public func bytes(at index: Int32) -> [UInt8]? {
        guard lua_type(state, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = lua_tolstring(state, index, &length) else { return nil }
        return Array(UnsafeRawBufferPointer(start: p, count: length))
    }

    /// Calls `body` with the bytes of the string at `index` without copying them.
    public func withBytes<R>(at index: Int32, _ body: (UnsafeRawBufferPointer) -> R) -> R? {
        guard lua_type(state, index) == LUA_TSTRING else { return nil }
        var length = 0
        guard let p = lua_tolstring(state, index, &length) else { return nil }
        return body(UnsafeRawBufferPointer(start: p, count: length))
    }

    private func table(
        at index: Int32, path: inout [UnsafeRawPointer], label: (Int32) -> String?
    ) throws(LuaConversionError) -> LuaTable {
        guard let identity = lua_topointer(state, index) else { return LuaTable() }
        if path.contains(identity) { throw .cycle }
        if path.count >= LuaStack.maxTableDepth { throw .tooDeep(LuaStack.maxTableDepth) }
        guard lua_checkstack(state, 3) != 0 else { throw .tooDeep(path.count) }
        path.append(identity)
        defer { path.removeLast() }

        var entries: [LuaValue: LuaValue] = [:]
        lua_pushnil(state)
        while lua_next(state, index) != 0 {
            let key = try value(at: lua_absindex(state, -2), path: &path, label: label)
            let element = try value(at: lua_absindex(state, -1), path: &path, label: label)
            entries[key] = element
            pd_pop(state, 1)
        }
        var sequence: [LuaValue] = []
        var n: Int64 = 1
        while let element = entries.removeValue(forKey: .integer(n)) {
            sequence.append(element)
            n += 1
        }
        return LuaTable(sequence: sequence, fields: entries)
    }
}

/// Lua's value types, for code outside LuaHost that inspects arguments.
public enum LuaType: Int32, Sendable {
    case none = -1, `nil` = 0, boolean = 1, lightUserdata = 2, number = 3, string = 4, table = 5, function = 6,
        userdata = 7, thread = 8

    public var name: String {
        switch self {
        case .none: "no value"
        case .nil: "nil"
        case .boolean: "boolean"
        case .lightUserdata, .userdata: "userdata"
        case .number: "number"
        case .string: "string"
        case .table: "table"
        case .function: "function"
        case .thread: "thread"
        }
    }
}

extension LuaStack {
    public func luaType(at index: Int32) -> LuaType { LuaType(rawValue: lua_type(state, index)) ?? .none }

    /// The keys of the table at `index` (raw, no metamethods); non-string keys as their Lua text.
    public func keys(of index: Int32) -> [LuaValue] {
        let t = lua_absindex(state, index)
        guard lua_type(state, t) == LUA_TTABLE, lua_checkstack(state, 3) != 0 else { return [] }
        var keys: [LuaValue] = []
        lua_pushnil(state)
        while lua_next(state, t) != 0 {
            pd_pop(state, 1)
            switch lua_type(state, -1) {
            case LUA_TSTRING: keys.append(.string(LuaString(bytes: bytes(at: -1) ?? [])))
            case LUA_TNUMBER:
                keys.append(
                    lua_isinteger(state, -1) != 0
                        ? .integer(lua_tointegerx(state, -1, nil)) : .number(lua_tonumberx(state, -1, nil)))
            default: keys.append(.opaque(typeName: typeName(at: -1)))
            }
        }
        return keys
    }

    /// Pops the value on top and stores it as `table[key]` (raw: no metamethods run).
    public func setField(_ key: String, ofTableAt index: Int32) {
        let t = lua_absindex(state, index)
        push(key)
        lua_rotate(state, -2, 1)
        lua_rawset(state, t)
    }

    /// Runs `body` with `table[key]` (raw) pushed; pops it afterwards.
    public func withField<R>(_ table: Int32, _ key: LuaValue, _ body: (Int32) throws -> R) rethrows -> R? {
        let t = lua_absindex(state, table)
        guard lua_type(state, t) == LUA_TTABLE else { return nil }
        push(key)
        lua_rawget(state, t)
        defer { pd_pop(state, 1) }
        return try body(lua_gettop(state))
    }
}

public enum LuaConversionError: Error, Equatable, CustomStringConvertible {
    case cycle
    case tooDeep(Int)

    public var description: String {
        switch self {
        case .cycle: "the table refers to itself (a cycle cannot be copied out of Lua)"
        case .tooDeep(let n): "tables nested deeper than \(n) levels"
        }
    }
}
