import LuaHost

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Lua data in a recording, as JSON a person can read and edit, and back.
///
/// nil is `null`, booleans and strings are themselves, an integer is a JSON integer and a float
/// keeps its decimal point (`1.0`); a table that is only a sequence is an array, any other table
/// an object (an integer key written as its digits reads back as an integer). Bytes that are not
/// UTF-8 are `{"$bytes": "<hex>"}`; what cannot leave Lua (a socket object) is `{"$opaque": "userdata"}`.
enum RecordedValue {
    static func json(_ value: LuaValue) -> JSONValue {
        switch value {
        case .nil: return .null
        case .boolean(let b): return .bool(b)
        case .integer(let i): return .int(i)
        case .number(let d): return d.isFinite ? .double(d) : .object(["$number": .string("\(d)")])
        case .string(let s):
            if let text = s.text { return .string(text) }
            return .object(["$bytes": .string(s.bytes.map { hex($0) }.joined())])
        case .opaque(let type): return .object(["$opaque": .string(type)])
        case .table(let t):
            if t.fields.isEmpty { return .array(t.sequence.map(json)) }
            var object: [String: JSONValue] = [:]
            for (i, v) in t.sequence.enumerated() { object[String(i + 1)] = json(v) }
            for (k, v) in t.fields { object[key(k)] = json(v) }
            return .object(object)
        }
    }

    static func lua(_ json: RecordingJSON) -> LuaValue {
        switch json {
        case .null: return .nil
        case .bool(let b): return .boolean(b)
        case .int(let i): return .integer(i)
        case .double(let d): return .number(d)
        case .string(let s): return .text(s)
        case .array(let a): return .table(LuaTable(sequence: a.map(lua)))
        case .object(let o):
            if o.count == 1, let (k, v) = o.first, case .string(let s) = v {
                switch k {
                case "$bytes": return .string(LuaString(bytes: bytes(hex: s)))
                case "$opaque": return .opaque(typeName: s)
                case "$number": return .number(Double(s) ?? .nan)
                default: break
                }
            }
            var t = LuaTable()
            for (k, v) in o {
                let key: LuaValue = Int64(k).map { String($0) == k ? .integer($0) : .text(k) } ?? .text(k)
                t.fields[key] = lua(v)
            }
            // Keys 1…n are the sequence part, as Lua itself keeps them.
            var n: Int64 = 1
            while let element = t.fields.removeValue(forKey: .integer(n)) {
                t.sequence.append(element)
                n += 1
            }
            return .table(t)
        }
    }

    /// One line of canonical JSON: two argument lists match when these are equal (1 and 1.0 differ
    /// in Lua but not to a person editing a file, so numbers are compared by value).
    static func canonical(_ values: [LuaValue]) -> String {
        JSONValue.array(values.map { json(normalized($0)) }).encoded(pretty: false)
    }

    private static func normalized(_ v: LuaValue) -> LuaValue {
        switch v {
        case .number(let d): if let i = Int64(exactly: d) { return .integer(i) } else { return v }
        case .table(let t):
            return .table(
                LuaTable(
                    sequence: t.sequence.map(normalized),
                    fields: Dictionary(uniqueKeysWithValues: t.fields.map { ($0.key, normalized($0.value)) })))
        default: return v
        }
    }

    private static func key(_ k: LuaValue) -> String {
        switch k {
        case .string(let s): s.description
        case .integer(let i): String(i)
        case .number(let d): String(d)
        case .boolean(let b): String(b)
        default: k.typeName
        }
    }

    private static func hex(_ b: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
    }

    private static func bytes(hex: String) -> [UInt8] {
        let nibbles = hex.utf8.compactMap { c -> UInt8? in
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        return stride(from: 0, to: nibbles.count - 1, by: 2).map { nibbles[$0] << 4 | nibbles[$0 + 1] }
    }
}

/// JSON as read from a recording or a test case: integers stay integers (unlike `Probes.JSON`).
public enum RecordingJSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([RecordingJSON])
    case object([String: RecordingJSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let d = try? c.decode(Double.self) {
            // An integer is a number without fraction that fits: JSON does not tell "1.0" from "1".
            if let i = Int64(exactly: d), d.rounded() == d, abs(d) < 9e15 { self = .int(i) } else { self = .double(d) }
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([RecordingJSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: RecordingJSON].self))
        }
    }

    /// Parses `text`; the error says where it stops being JSON.
    public static func parse(_ text: String) throws -> RecordingJSON {
        try JSONDecoder().decode(RecordingJSON.self, from: Data(text.utf8))
    }

    public subscript(key: String) -> RecordingJSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var array: [RecordingJSON]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: RecordingJSON]? { if case .object(let o) = self { o } else { nil } }
    public var double: Double? {
        switch self {
        case .int(let i): Double(i)
        case .double(let d): d
        default: nil
        }
    }
}
