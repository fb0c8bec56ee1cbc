/// One escaping for the HTML report and the JUnit XML report: both are read by tools that stop at
/// the first character they do not accept.
enum MarkupText {
    /// Text for HTML and XML alike: the five special characters as entities, and control characters
    /// (which no HTML or XML text may hold) replaced.
    static func escaped(_ s: String) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for c in s.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            case "\n", "\t", "\r": out.unicodeScalars.append(c)
            default:
                let v = c.value
                let invalid = v < 0x20 || (0x7F...0x9F).contains(v) || v == 0xFFFE || v == 0xFFFF
                out.unicodeScalars.append(invalid ? "\u{FFFD}" : c)
            }
        }
        return out
    }
}
