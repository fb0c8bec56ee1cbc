import LuaHost

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
            for (k, v) in t.fields { object[JSONValue.key(k)] = json(v) }
            return .object(object)
        }
    }

    static func lua(_ json: JSONValue) -> LuaValue {
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

/// Reading JSON text: recordings, test cases and saved reports are read into the report's own
/// JSON value. Numbers keep their kind as written: `1` is an integer and `1.0` a float, as Lua
/// tells them apart (JSONDecoder does not).
extension JSONValue {
    public struct SyntaxError: Error, CustomStringConvertible {
        public var offset: Int
        public var problem: String
        public var description: String { "\(problem) at byte \(offset + 1)" }
    }

    /// Parses `text` (RFC 8259); the error says where it stops being JSON.
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
        var p = JSONReader(bytes: Array(text.utf8))
        let value = try p.value(depth: 0)
        p.space()
        guard p.i == p.bytes.count else { throw SyntaxError(offset: p.i, problem: "text after the JSON value") }
        return value
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var array: [JSONValue]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSONValue]? { if case .object(let o) = self { o } else { nil } }
    public var double: Double? { number }
}

/// A small strict JSON reader (RFC 8259), nesting capped so that a hostile file cannot exhaust the stack.
private struct JSONReader {
    let bytes: [UInt8]
    var i = 0
    static let maxDepth = 200

    init(bytes: [UInt8]) { self.bytes = bytes }

    func fail(_ problem: String) -> JSONValue.SyntaxError { .init(offset: i, problem: problem) }

    mutating func space() { while i < bytes.count, [32, 9, 10, 13].contains(bytes[i]) { i += 1 } }

    mutating func literal(_ word: String, _ value: JSONValue) throws(JSONValue.SyntaxError) -> JSONValue {
        let w = Array(word.utf8)
        guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("expected \(word)") }
        i += w.count
        return value
    }

    mutating func value(depth: Int) throws(JSONValue.SyntaxError) -> JSONValue {
        guard depth < JSONReader.maxDepth else { throw fail("nested too deeply") }
        space()
        guard i < bytes.count else { throw fail("unexpected end") }
        switch bytes[i] {
        case UInt8(ascii: "n"): return try literal("null", .null)
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "["):
            i += 1
            var items: [JSONValue] = []
            space()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                i += 1
                return .array(items)
            }
            while true {
                items.append(try value(depth: depth + 1))
                space()
                guard i < bytes.count else { throw fail("unexpected end in an array") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw fail("expected , or ]")
            }
        case UInt8(ascii: "{"):
            i += 1
            var members: [String: JSONValue] = [:]
            space()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                i += 1
                return .object(members)
            }
            while true {
                space()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a key in quotes") }
                let key = try string()
                space()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected :") }
                i += 1
                members[key] = try value(depth: depth + 1)
                space()
                guard i < bytes.count else { throw fail("unexpected end in an object") }
                if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                throw fail("expected , or }")
            }
        default: return try number()
        }
    }

    mutating func number() throws(JSONValue.SyntaxError) -> JSONValue {
        let start = i
        var isFloat = false
        while i < bytes.count {
            let c = bytes[i]
            if (48...57).contains(c) || c == UInt8(ascii: "-") || c == UInt8(ascii: "+") {
                i += 1
            } else if c == UInt8(ascii: ".") || c == UInt8(ascii: "e") || c == UInt8(ascii: "E") {
                isFloat = true
                i += 1
            } else {
                break
            }
        }
        let text = String(decoding: bytes[start..<i], as: UTF8.self)
        guard !text.isEmpty else { throw fail("unexpected character") }
        if !isFloat, let n = Int64(text) { return .int(n) }
        guard let d = Double(text) else { throw JSONValue.SyntaxError(offset: start, problem: "bad number '\(text)'") }
        return .double(d)
    }

    mutating func string() throws(JSONValue.SyntaxError) -> String {
        i += 1  // the opening quote
        var out: [UInt8] = []
        while i < bytes.count {
            let c = bytes[i]
            i += 1
            switch c {
            case UInt8(ascii: "\""): return String(decoding: out, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard i < bytes.count else { throw fail("unexpected end in a string") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "n"): out.append(10)
                case UInt8(ascii: "t"): out.append(9)
                case UInt8(ascii: "r"): out.append(13)
                case UInt8(ascii: "b"): out.append(8)
                case UInt8(ascii: "f"): out.append(12)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), i + 1 < bytes.count, bytes[i] == UInt8(ascii: "\\"),
                        bytes[i + 1] == UInt8(ascii: "u")
                    {
                        i += 2
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out += Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8)
                default: out.append(e)
                }
            default: out.append(c)
            }
        }
        throw fail("unterminated string")
    }

    mutating func hex4() throws(JSONValue.SyntaxError) -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
            throw fail("bad \\u escape")
        }
        i += 4
        return v
    }
}
