/// Numbers the monitoring formats (Nagios perfdata, Prometheus) publish from a report.
extension Finding {
    /// Every `rtt_ms` number in the evidence, with where it was found: "" for the evidence's own
    /// `rtt_ms` (a `socket.connect` result), else the path to it ("attempts.2", "connect_back").
    /// Primitives put connect times there; packs pass them on as evidence.
    public var connectRTTs: [(path: String, milliseconds: Double)] {
        var found: [(String, Double)] = []
        func walk(_ value: JSONValue, _ path: [String]) {
            switch value {
            case .object(let o):
                for key in o.keys.sorted() {
                    if key == "rtt_ms" {
                        switch o[key]! {
                        case .int(let i): found.append((path.joined(separator: "."), Double(i)))
                        case .double(let d) where d.isFinite: found.append((path.joined(separator: "."), d))
                        default: break
                        }
                    } else {
                        walk(o[key]!, path + [key])
                    }
                }
            case .array(let a):
                for (i, v) in a.enumerated() { walk(v, path + [String(i + 1)]) }
            default: break
            }
        }
        walk(evidence, [])
        return found
    }
}

/// A number as the monitoring formats print it: no exponent, at most `digits` decimals, no trailing zeros.
func plainNumber(_ x: Double, digits: Int = 6) -> String {
    guard x.isFinite else { return x.isNaN ? "NaN" : (x > 0 ? "+Inf" : "-Inf") }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let n = (abs(x) * scale).rounded()
    guard n < 9e18 else { return String(Int64(x.rounded())) }
    let units = Int64(n)
    let whole = units / Int64(scale)
    var frac = String(units % Int64(scale))
    frac = String(repeating: "0", count: digits - frac.count) + frac
    while frac.hasSuffix("0") { frac.removeLast() }
    return (x < 0 && units != 0 ? "-" : "") + String(whole) + (frac.isEmpty ? "" : "." + frac)
}
