/// The path picture for a terminal: hop names joined by links on one line, their addresses under
/// them, the stop marked under its hop with the cause's name. Wraps to more rows when the width asks.
extension PathPicture {
    /// Box-drawing characters and arrows for UTF-8 terminals, or plain ASCII.
    struct Glyphs {
        var unicode: Bool

        /// Five columns; the arrow points the way the connection goes.
        func link(_ state: LinkState, _ direction: Direction) -> String {
            let body: String
            switch (state, unicode) {
            case (.passed, true): body = "────"
            case (.blocked, true): body = "─✘──"
            case (.unknown, true): body = "╌?╌╌"
            case (.passed, false): body = "----"
            case (.blocked, false): body = "-X--"
            case (.unknown, false): body = ".?.."
            }
            switch direction {
            case .inbound: return (unicode ? "◀" : "<") + body
            case .outbound: return String(body.reversed()) + (unicode ? "▶" : ">")
            }
        }

        var mark: String { unicode ? "▲" : "^" }
        var ellipsis: String { unicode ? "…" : "..." }
    }

    static let indent = 2
    static let linkColumns = 7

    /// The picture's lines, none wider than `width` columns (colour escapes take no room).
    public func lines(width: Int = 80, unicode: Bool, color: Bool) -> [String] {
        let glyphs = Glyphs(unicode: unicode)
        func paint(_ s: String, _ code: String) -> String { color && !s.isEmpty ? "\u{1B}[\(code)m\(s)\u{1B}[0m" : s }
        let room = max(12, width - Self.indent)
        // A detail wider than the room is cut, so that one hop always fits.
        let details: [String] = hops.map { h in
            guard let d = h.detail else { return "" }
            let clean = unicode ? Self.printable(d) : Self.ascii(d)
            return clean.count <= room ? clean : String(clean.prefix(room - glyphs.ellipsis.count)) + glyphs.ellipsis
        }
        let names = hops.map { unicode ? $0.name : Self.ascii($0.name) }
        let cells = hops.indices.map { max(names[$0].count, details[$0].count) }

        // Rows: as many hops as fit, each row but the last ending in the link to the next row.
        var rows: [[Int]] = [[]]
        var used = Self.indent
        for i in hops.indices {
            let need = cells[i] + (i < hops.count - 1 ? Self.linkColumns : 0)
            if !rows[rows.count - 1].isEmpty && used + need > width {
                rows.append([])
                used = Self.indent
            }
            rows[rows.count - 1].append(i)
            used += need
        }

        let primaryHop = stop?.hop
        var out: [String] = []
        // A paired report's direction heads its rows.
        if let title {
            let words = unicode ? Self.printable(title) : Self.ascii(title)
            out.append(String(repeating: " ", count: Self.indent) + paint(words, "1"))
        }
        for row in rows {
            var top = String(repeating: " ", count: Self.indent)
            var under = top
            var start: [Int: Int] = [:]
            var column = Self.indent
            for i in row {
                start[i] = column
                let pad = String(repeating: " ", count: cells[i] - names[i].count)
                let nameCode = i == primaryHop ? (stop?.likely == true ? "1;33" : "1;31") : "1"
                top += paint(names[i], nameCode) + pad
                under += details[i] + String(repeating: " ", count: cells[i] - details[i].count)
                column += cells[i]
                if i < hops.count - 1 {
                    let state = links[i]
                    let code = state == .passed ? "32" : state == .blocked ? "1;31" : "2"
                    top += " " + paint(glyphs.link(state, direction), code) + " "
                    under += String(repeating: " ", count: Self.linkColumns)
                    column += Self.linkColumns
                }
            }
            out.append(Self.trimmed(top))
            if row.contains(where: { !details[$0].isEmpty }) { out.append(Self.trimmed(under)) }
            out += markLines(row: row, start: start, width: width, glyphs: glyphs, paint: paint)
        }
        for s in stops where s.hop == nil {
            let text =
                "\(glyphs.mark) \(s.cause)\(s.likely ? "?" : "")\(s.primary ? "" : " (also)"): no place on the path"
            out.append(String(repeating: " ", count: Self.indent) + paint(text, s.primary ? "1;31" : "33"))
        }
        return out
    }

    /// "▲ cause" under each marked hop of a row (left of the mark when it would run past the width);
    /// marks that would overlap go on a line of their own.
    private func markLines(
        row: [Int], start: [Int: Int], width: Int, glyphs: Glyphs, paint: (String, String) -> String
    ) -> [String] {
        var lines: [[(column: Int, text: String, code: String)]] = []
        for s in stops {
            guard let hop = s.hop, let column = start[hop] else { continue }
            // One mark per hop: the first cause placed there speaks for it.
            if stops.first(where: { $0.hop == hop }) != s { continue }
            let words = s.cause + (s.likely ? "?" : "") + (s.primary ? "" : " (also)")
            var text = glyphs.mark + " " + words
            var at = column
            if column + text.count > width {
                text = words + " " + glyphs.mark
                at = max(0, column - words.count - 1)
            }
            let code = s.primary ? (s.likely ? "1;33" : "1;31") : "33"
            if let n = lines.firstIndex(where: { line in
                line.allSatisfy { at >= $0.column + $0.text.count + 1 || at + text.count + 1 <= $0.column }
            }) {
                lines[n].append((at, text, code))
            } else {
                lines.append([(at, text, code)])
            }
        }
        return lines.map { marks in
            var line = ""
            var used = 0
            for m in marks.sorted(by: { $0.column < $1.column }) {
                line += String(repeating: " ", count: max(0, m.column - used)) + paint(m.text, m.code)
                used = max(used, m.column) + m.text.count
            }
            return line
        }
    }

    static func trimmed(_ s: String) -> String {
        var s = s
        while s.last == " " { s.removeLast() }
        return s
    }

    /// For terminals that cannot show more than ASCII: arrows become "->", anything else "?".
    static func ascii(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            if c == "→" {
                out += "->"
            } else {
                out.unicodeScalars.append(c.isASCII && c.value >= 0x20 && c.value != 0x7F ? c : "?")
            }
        }
        return out
    }

    /// Evidence is untrusted text: a control character must not move the terminal's cursor.
    static func printable(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars { out.unicodeScalars.append(c.value < 0x20 || c.value == 0x7F ? "?" : c) }
        return out
    }
}
