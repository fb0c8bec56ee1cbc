/// A Lua string: bytes, not necessarily UTF-8, possibly with embedded NULs.
public struct LuaString: Hashable, Sendable, ExpressibleByStringLiteral, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ text: String) { self.bytes = Array(text.utf8) }
    public init(stringLiteral value: String) { self.init(value) }

    /// The text, when the bytes are valid UTF-8.
    public var text: String? { String(validating: bytes, as: UTF8.self) }
    public var description: String { String(decoding: bytes, as: UTF8.self) }
}

/// A Lua table converted to plain data: the sequence part (keys 1...n) and every other entry.
public struct LuaTable: Hashable, Sendable {
    public var sequence: [LuaValue]
    public var fields: [LuaValue: LuaValue]

    public init(sequence: [LuaValue] = [], fields: [LuaValue: LuaValue] = [:]) {
        self.sequence = sequence
        self.fields = fields
    }

    public subscript(key: String) -> LuaValue {
        get { fields[.string(LuaString(key))] ?? .nil }
        // Setting nil removes the key, as in Lua. (Not `newValue == .nil ? nil : newValue`: LuaValue is
        // ExpressibleByNilLiteral, so that `nil` was LuaValue.nil and the key stayed, printing
        // `"local": null` in probe JSON where the check's table had no key.)
        set {
            if newValue == .nil {
                fields[.string(LuaString(key))] = Optional<LuaValue>.none
            } else {
                fields[.string(LuaString(key))] = newValue
            }
        }
    }
}

/// A Lua value as plain, sendable data. Functions, threads and userdata cannot be copied out of
/// the state; they appear as `.opaque` with their type name.
public enum LuaValue: Hashable, Sendable {
    case `nil`
    case boolean(Bool)
    case integer(Int64)
    case number(Double)
    case string(LuaString)
    case table(LuaTable)
    case opaque(typeName: String)

    public static func text(_ s: String) -> LuaValue { .string(LuaString(s)) }

    public var typeName: String {
        switch self {
        case .nil: "nil"
        case .boolean: "boolean"
        case .integer, .number: "number"
        case .string: "string"
        case .table: "table"
        case .opaque(let name): name
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s.description }
        return nil
    }

    public var intValue: Int64? {
        switch self {
        case .integer(let i): i
        case .number(let d): Int64(exactly: d)
        default: nil
        }
    }

    public var doubleValue: Double? {
        switch self {
        case .integer(let i): Double(i)
        case .number(let d): d
        default: nil
        }
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    public var tableValue: LuaTable? {
        if case .table(let t) = self { return t }
        return nil
    }

    /// Lua truthiness: everything but nil and false.
    public var isTruthy: Bool { self != .nil && self != .boolean(false) }
}

extension LuaValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(nilLiteral: ()) { self = .nil }
    public init(booleanLiteral value: Bool) { self = .boolean(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .text(value) }
    public init(arrayLiteral elements: LuaValue...) { self = .table(LuaTable(sequence: elements)) }
    public init(dictionaryLiteral elements: (String, LuaValue)...) {
        var table = LuaTable()
        for (k, v) in elements { table[k] = v }
        self = .table(table)
    }
}
