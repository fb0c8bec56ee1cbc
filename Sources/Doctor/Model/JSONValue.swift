import LuaHost

/// JSON as data, encoded deterministically (object keys sorted) so reports diff cleanly.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Lua data as JSON: sequences become arrays, other tables objects (keys as strings),
    /// a table with both keeps its sequence under the integer keys.
    public init(_ lua: LuaValue) {
        switch lua {
        case .nil: self = .null
        case .boolean(let b): self = .bool(b)
        case .integer(let i): self = .int(i)
        case .number(let d): self = d.isFinite ? .double(d) : .string("\(d)")
        case .string(let s): self = .string(s.description)
        case .opaque(let type): self = .string("<\(type)>")
        case .table(let t):
            if t.fields.isEmpty {
                self = .array(t.sequence.map(JSONValue.init))
            } else {
                var object: [String: JSONValue] = [:]
                for (i, v) in t.sequence.enumerated() { object[String(i + 1)] = JSONValue(v) }
                for (k, v) in t.fields { object[JSONValue.key(k)] = JSONValue(v) }
                self = .object(object)
            }
        }
    }

    /// A Lua table key as a JSON object key (also the recorder's).
    static func key(_ k: LuaValue) -> String {
        switch k {
        case .string(let s): s.description
        case .integer(let i): String(i)
        case .number(let d): String(d)
        case .boolean(let b): String(b)
        default: k.typeName
        }
    }

    public var isEmpty: Bool {
        switch self {
        case .null: true
        case .array(let a): a.isEmpty
        case .object(let o): o.isEmpty
        default: false
        }
    }

    /// Compact (one line) or indented by two spaces per level.
    public func encoded(pretty: Bool = true) -> String {
        var out = ""
        write(to: &out, indent: pretty ? "" : nil)
        return out
    }

    private func write(to out: inout String, indent: String?) {
        let inner = indent.map { $0 + "  " }
        let newline = indent == nil ? "" : "\n"
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .int(let i): out += String(i)
        case .double(let d):
            out += d == d.rounded() && abs(d) < 1e15 ? String(format: d) : "\(d)"
        case .string(let s): JSONValue.quote(s, into: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "[" + newline
            for (i, v) in a.enumerated() {
                out += inner ?? ""
                v.write(to: &out, indent: inner)
                out += (i < a.count - 1 ? "," : "") + newline
            }
            out += (indent ?? "") + "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{" + newline
            let keys = o.keys.sorted()
            for (i, k) in keys.enumerated() {
                out += inner ?? ""
                JSONValue.quote(k, into: &out)
                out += indent == nil ? ":" : ": "
                o[k]!.write(to: &out, indent: inner)
                out += (i < keys.count - 1 ? "," : "") + newline
            }
            out += (indent ?? "") + "}"
        }
    }

    static func quote(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case let c where c.value < 0x20:
                let hex = String(c.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
    }
}

extension String {
    /// A whole double without the trailing ".0" Swift prints, as JSON readers expect "1.0" or "1" alike.
    fileprivate init(format d: Double) { self = "\(d)" }
}
