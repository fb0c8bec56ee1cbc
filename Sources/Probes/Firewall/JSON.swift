/// Any JSON value, for tools whose JSON is heterogeneous (nft's expressions).
public enum JSON: Decodable, Equatable, Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([String: JSON])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let n = try? c.decode(Double.self) {
            self = .number(n)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSON].self) {
            self = .array(a)
        } else {
            self = .object(try c.decode([String: JSON].self))
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    public var string: String? { if case .string(let s) = self { s } else { nil } }
    public var number: Double? { if case .number(let n) = self { n } else { nil } }
    /// nil for what no Int holds (1e300 from a tool is not a reason to trap).
    public var int: Int? { number.flatMap { Int(exactly: $0.rounded(.towardZero)) } }
    public var array: [JSON]? { if case .array(let a) = self { a } else { nil } }
    public var object: [String: JSON]? { if case .object(let o) = self { o } else { nil } }

    /// The single key of a one-key object ({"accept": null} → "accept").
    public var tag: (String, JSON)? {
        guard case .object(let o) = self, o.count == 1, let (k, v) = o.first else { return nil }
        return (k, v)
    }
}

extension JSON {
    /// Where `b` stops being JSON syntax (1-based line and column of the first byte that cannot
    /// continue it), or nil when the syntax holds. Iterative, so deep nesting cannot exhaust the stack.
    static func syntaxError(in b: [UInt8]) -> (line: Int, column: Int)? {
        var i = 0
        var open: [UInt8] = []  // "{" or "[" for each container not yet closed
        func place(_ at: Int) -> (line: Int, column: Int) {
            let before = b[..<min(at, b.count)]
            let line = before.reduce(1) { $1 == 10 ? $0 + 1 : $0 }
            return (line, at - (before.lastIndex(of: 10).map { $0 + 1 } ?? 0) + 1)
        }
        func space() { while i < b.count, [32, 9, 10, 13].contains(b[i]) { i += 1 } }
        func string() -> Bool {  // at a quote
            guard i < b.count, b[i] == 34 else { return false }
            i += 1
            while i < b.count, b[i] != 34 {
                guard b[i] >= 32 else { return false }
                i += b[i] == 92 ? 2 : 1
            }
            guard i < b.count else { return false }
            i += 1
            return true
        }
        func key() -> Bool {
            space()
            guard string() else { return false }
            space()
            guard i < b.count, b[i] == 58 else { return false }
            i += 1
            return true
        }
        var wantValue = true
        while true {
            space()
            if wantValue {
                guard i < b.count else { return place(i) }
                switch b[i] {
                case 123:  // {
                    open.append(123)
                    i += 1
                    space()
                    if i < b.count, b[i] == 125 {
                        open.removeLast()
                        i += 1
                        wantValue = false
                    } else if !key() {
                        return place(i)
                    }
                case 91:  // [
                    open.append(91)
                    i += 1
                    space()
                    if i < b.count, b[i] == 93 {
                        open.removeLast()
                        i += 1
                        wantValue = false
                    }
                case 34:
                    guard string() else { return place(i) }
                    wantValue = false
                case 45, 48...57:
                    while i < b.count, [43, 45, 46, 69, 101].contains(b[i]) || (48...57).contains(b[i]) { i += 1 }
                    wantValue = false
                default:
                    guard
                        let word = [Array("true".utf8), Array("false".utf8), Array("null".utf8)].first(where: {
                            b[i...].starts(with: $0)
                        })
                    else { return place(i) }
                    i += word.count
                    wantValue = false
                }
            } else {
                guard let container = open.last else { return i == b.count ? nil : place(i) }
                guard i < b.count else { return place(i) }
                let close: UInt8 = container == 123 ? 125 : 93
                if b[i] == close {
                    open.removeLast()
                    i += 1
                } else if b[i] == 44 {
                    i += 1
                    if container == 123, !key() { return place(i) }
                    wantValue = true
                } else {
                    return place(i)
                }
            }
        }
    }
}
