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
