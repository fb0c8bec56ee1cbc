/// The one port-range rule: every place that takes a port (the CLI's options, the Lua modules' arguments,
/// pack parameters, the reflector's and the pairing peer's requests) asks here, so they agree on the
/// range and say it in the same words.
public enum PortNumber {
    /// A port to connect to or listen on.
    public static let range: ClosedRange<Int64> = 1...65535
    /// 0 too: "any port" (an ephemeral bind, a PCP suggestion that leaves the choice to the server).
    public static let rangeOrAny: ClosedRange<Int64> = 0...65535

    /// The port, when `value` is one; nil when it is out of range.
    public static func from(_ value: some BinaryInteger, orAny: Bool = false) -> UInt16? {
        guard let v = Int64(exactly: value), (orAny ? rangeOrAny : range).contains(v) else { return nil }
        return UInt16(v)
    }

    /// "port must be 1 to 65535, got 70000": what to say when `value` is not a port (`name` as the
    /// caller calls it: "port", "--map", "'reflector_port'").
    public static func problem(_ name: String, got value: Int64? = nil, orAny: Bool = false) -> String {
        "\(name) must be \(words(orAny: orAny))" + (value.map { ", got \($0)" } ?? "")
    }

    /// "1 to 65535" (or "0 to 65535"), for messages phrased otherwise.
    public static func words(orAny: Bool = false) -> String {
        let r = orAny ? rangeOrAny : range
        return "\(r.lowerBound) to \(r.upperBound)"
    }
}
