/// One HTML file a person can mail to support: the verdict, the path as an inline SVG, what to do in
/// order, every check with its evidence folded under it, the platform and the parameters. Self-
/// contained (no script, no stylesheet or font from elsewhere, nothing fetched), well-formed (it
/// parses as XML too), every piece of text escaped, and no secret in it.
public enum HTMLReporter {
    /// `json`: the report's JSON when it is a saved one (`portdoctor report`), so that the picture and
    /// the version are the saved run's; nil: this run's.
    public static func render(_ report: Report, json: JSONValue? = nil) -> String {
        let json = json ?? JSONReporter.object(report)
        let pictures = PathPicture.pictures(report: json)
        var h: [String] = []
        h.append("<!DOCTYPE html>")
        h.append("<html lang=\"en\">")
        h.append("<head>")
        h.append("<meta charset=\"utf-8\"/>")
        h.append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>")
        // No request of any kind may leave the page: it is read offline, in a mail client, by support.
        h.append(
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\"/>"
        )
        h.append("<title>portdoctor: \(esc(report.packTitle.isEmpty ? report.packID : report.packTitle))</title>")
        h.append("<style>\(style)</style>")
        h.append("</head>")
        h.append("<body>")
        h.append("<h1>portdoctor: \(esc(report.packTitle.isEmpty ? report.packID : report.packTitle))</h1>")
        let started = json.member("started_at")?.text ?? ""
        h.append(
            "<p class=\"meta\">\(esc(report.packID)) \(esc(report.packVersion)) · \(esc(report.platform))"
                + (started.isEmpty ? "" : " · \(esc(started))") + "</p>")
        h += verdict(report)
        // No network evidence, no picture; a paired run draws a figure per direction it tested.
        for picture in pictures {
            h.append("<figure>")
            h.append(svg(picture))
            let way =
                picture.title
                ?? (picture.direction == .inbound
                    ? "the other computer connecting to this one" : "this computer connecting to the other one")
            h.append(
                "<figcaption>The path of the connection (\(esc(way))): green got through, red stops it, grey dashed is not known.</figcaption>"
            )
            h.append("</figure>")
        }
        h += fixes(report)
        h.append("<h2>Checks</h2>")
        for f in report.findings { h += finding(f, report) }
        h += platform(report, json: json)
        h += recording(report)
        h.append("</body>")
        h.append("</html>")
        return h.joined(separator: "\n") + "\n"
    }

    static let style = """
        body{font-family:system-ui,sans-serif;max-width:60em;margin:1.5em auto;padding:0 1em;color:#222;line-height:1.4}\
        h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.6em}.meta{color:#666}\
        .verdict{font-weight:bold;font-size:1.1em}.fail{color:#b71c1c}.warn{color:#8a5a00}.error{color:#6a1b9a}\
        .pass{color:#1b5e20}.skip{color:#777}figure{margin:1em 0}figure svg{max-width:100%;height:auto}figcaption{color:#666;font-size:.9em}\
        details{border:1px solid #ddd;border-radius:4px;margin:.4em 0;padding:.3em .6em}summary{cursor:pointer}\
        .badge{display:inline-block;min-width:3.5em;font-weight:bold}pre{background:#f6f6f6;padding:.5em;overflow-x:auto;font-size:.85em}\
        table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}
        """

    // MARK: the sections

    /// The recording, whole, for support to replay: copied out of the page into a file (secrets are
    /// already out of it: the recorder never writes them).
    static func recording(_ report: Report) -> [String] {
        guard let text = report.recording else { return [] }
        return [
            "<h2>Recording</h2>",
            "<p>Every primitive call this run made, with its answer (<code>run --record</code>). To see the same diagnosis"
                + " elsewhere, copy it into a file and run <code>portdoctor run --replay FILE</code>.</p>",
            "<details><summary>The recording (\(text.utf8.count) bytes)</summary>",
            "<pre class=\"recording\">\(esc(text))</pre>",
            "</details>",
        ]
    }

    static func verdict(_ report: Report) -> [String] {
        var h: [String] = []
        // A paired run opens with which computer to fix, as the text report does.
        if let v = report.pairing {
            if let side = v.fix {
                let who = PairedVerdict.whatToFix(side: side, computer: v.computer)
                h.append("<p class=\"verdict fail\">Fix \(esc(who)): \(esc(v.summary)).</p>")
                if let first = v.advice.first {
                    h.append("<p>\(esc(PairedVerdict.firstStep(first, side: side)))</p>")
                }
            } else {
                h.append("<p class=\"verdict pass\">Both computers: \(esc(v.summary)).</p>")
            }
        }
        guard let p = report.primary else {
            h.append("<p class=\"verdict pass\">No problem found.</p>")
            return h
        }
        let what: String
        switch p.status {
        case .fail, .warn:
            what =
                p.cause.flatMap { report.causeWords[$0] }.map { "Most likely cause: \($0)." }
                ?? "Problem: \(p.summary)."
        default: what = "The diagnosis is incomplete: check '\(p.id)' could not run. \(p.summary)"
        }
        h.append("<p class=\"verdict \(p.status.rawValue)\">\(esc(what))</p>")
        if let first = p.advice.first { h.append("<p>First: \(esc(first))</p>") }
        let also = report.also
        if !also.isEmpty {
            h.append("<ul>")
            for f in also {
                let words = f.cause.flatMap { report.causeWords[$0] } ?? f.summary
                h.append(
                    "<li class=\"\(f.status.rawValue)\">\(f.status == .warn ? "Maybe also" : "Also found"): \(esc(words)) (\(esc(f.id)))</li>"
                )
            }
            h.append("</ul>")
        }
        return h
    }

    /// What to do, in the order to do it: the primary problem, then the others, each with its steps
    /// and the repair portdoctor can make.
    static func fixes(_ report: Report) -> [String] {
        guard let p = report.primary, p.status == .fail || p.status == .warn else { return [] }
        let problems = [p] + report.also
        var h = ["<h2>What to do, in order</h2>", "<ol>"]
        for f in problems {
            let words = f.cause.map { c in report.causeWords[c].map { "\($0) (\(c))" } ?? c } ?? f.summary
            h.append("<li><strong>\(esc(words))</strong> — \(esc(f.id))")
            if !f.advice.isEmpty {
                h.append("<ol>")
                for step in f.advice { h.append("<li>\(esc(step))</li>") }
                h.append("</ol>")
            }
            for r in f.repairs where r.outcome == .offered {
                h.append("<p>portdoctor can do this with <code>--fix</code>: \(esc(r.title)) — \(esc(r.changes))</p>")
            }
            h.append("</li>")
        }
        h.append("</ol>")
        return h
    }

    static func finding(_ f: Finding, _ report: Report) -> [String] {
        let open = f.status == .fail || f.status == .error ? " open=\"open\"" : ""
        var h = [
            "<details\(open)>",
            "<summary><span class=\"badge \(f.status.rawValue)\">\(f.status.rawValue)</span> <strong>\(esc(f.id))</strong> — \(esc(f.summary))</summary>",
            "<p>\(esc(f.title))</p>",
        ]
        if let c = f.cause {
            h.append("<p>Cause: \(esc(report.causeWords[c].map { "\($0) (\(c))" } ?? c))</p>")
        }
        if !f.advice.isEmpty {
            h.append("<ol>")
            for step in f.advice { h.append("<li>\(esc(step))</li>") }
            h.append("</ol>")
        }
        for r in f.repairs {
            h.append(
                "<p>Repair: \(esc(r.title)) — \(esc(r.changes)) (\(esc(r.outcome.rawValue))\(r.detail.map { ": " + esc($0) } ?? ""))</p>"
            )
        }
        if let e = f.error { h.append("<p class=\"error\">\(esc(e.kind.rawValue)): \(esc(e.description))</p>") }
        if !f.evidence.isEmpty {
            h.append("<p>Evidence:</p>")
            h.append("<pre>\(esc(scrubbed(f.evidence).encoded(pretty: true)))</pre>")
        }
        if let output = f.output, !output.isEmpty {
            h.append("<p>Printed:</p>")
            h.append("<pre>\(esc(output.joined(separator: "\n")))</pre>")
        }
        h.append("</details>")
        return h
    }

    static func platform(_ report: Report, json: JSONValue) -> [String] {
        var rows: [(String, String)] = [
            ("pack", "\(report.packID) \(report.packVersion)"), ("planned for", report.platform),
            (
                "ran on",
                [report.system.os, report.system.version, report.system.architecture].compactMap { $0 }.joined(
                    separator: " ")
            ),
        ]
        if let v = report.vendor { rows.append(("router", v)) }
        if let v = json.member("portdoctor_version")?.text { rows.append(("portdoctor", v)) }
        var h = ["<h2>Platform and parameters</h2>", "<table>"]
        for (k, v) in rows { h.append("<tr><th>\(esc(k))</th><td>\(esc(v))</td></tr>") }
        for k in report.parameters.keys.sorted() {
            let source = report.parameterSources[k].map { " (\($0))" } ?? ""
            h.append("<tr><th>\(esc(k))</th><td>\(esc(report.parameters[k]!))\(esc(source))</td></tr>")
        }
        h.append("</table>")
        return h
    }

    // MARK: the path as SVG

    static func svg(_ p: PathPicture) -> String {
        let charWidth = 7.5
        let boxWidths = p.hops.map { h in
            max(96, Int((Double(max(h.name.count, (h.detail ?? "").count)) * charWidth).rounded()) + 20)
        }
        let gap = 64
        let margin = 10
        let width = boxWidths.reduce(0, +) + gap * (p.hops.count - 1) + 2 * margin
        let markRows = max(1, p.stops.filter { $0.hop != nil }.count)
        let height = 96 + 18 * markRows
        var s = [
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\" aria-label=\"the path of the connection\" font-family=\"system-ui,sans-serif\" font-size=\"13\">"
        ]
        var x = margin
        var lefts: [Int] = []
        for (i, hop) in p.hops.enumerated() {
            lefts.append(x)
            let stop = p.stop?.hop == i
            let marked = p.stops.contains { $0.hop == i }
            let stroke = stop ? "#c62828" : marked ? "#b26a00" : "#555"
            let fill = stop ? "#fdecea" : "#f5f5f5"
            s.append(
                "<rect x=\"\(x)\" y=\"16\" width=\"\(boxWidths[i])\" height=\"52\" rx=\"6\" fill=\"\(fill)\" stroke=\"\(stroke)\" stroke-width=\"\(stop ? 3 : 1.5)\"/>"
            )
            let mid = x + boxWidths[i] / 2
            s.append("<text x=\"\(mid)\" y=\"38\" text-anchor=\"middle\" font-weight=\"bold\">\(esc(hop.name))</text>")
            if let d = hop.detail {
                s.append(
                    "<text x=\"\(mid)\" y=\"57\" text-anchor=\"middle\" fill=\"#444\" font-size=\"11\">\(esc(d))</text>"
                )
            }
            if i < p.links.count {
                let a = x + boxWidths[i] + 4
                let b = a + gap - 8
                s += link(p.links[i], from: a, to: b, y: 42, inbound: p.direction == .inbound)
            }
            x += boxWidths[i] + gap
        }
        var row = 0
        for stop in p.stops {
            guard let hop = stop.hop else { continue }
            let colour = stop.primary ? "#c62828" : "#b26a00"
            let words = stop.cause + (stop.likely ? "?" : "") + (stop.primary ? "" : " (also)")
            s.append(
                "<text x=\"\(lefts[hop] + 4)\" y=\"\(88 + 18 * row)\" fill=\"\(colour)\" font-weight=\"bold\">▲ \(esc(words))</text>"
            )
            row += 1
        }
        s.append("</svg>")
        return s.joined(separator: "\n")
    }

    static func link(_ state: PathPicture.LinkState, from a: Int, to b: Int, y: Int, inbound: Bool) -> [String] {
        let colour = state == .passed ? "#2e7d32" : state == .blocked ? "#c62828" : "#9e9e9e"
        let dash = state == .unknown ? " stroke-dasharray=\"5 4\"" : ""
        var s = [
            "<line x1=\"\(a)\" y1=\"\(y)\" x2=\"\(b)\" y2=\"\(y)\" stroke=\"\(colour)\" stroke-width=\"3\"\(dash)/>"
        ]
        // The arrowhead points the way the connection goes.
        let tip = inbound ? a : b
        let back = inbound ? a + 9 : b - 9
        s.append("<polygon points=\"\(tip),\(y) \(back),\(y - 6) \(back),\(y + 6)\" fill=\"\(colour)\"/>")
        let mid = (a + b) / 2
        switch state {
        case .blocked:
            s.append(
                "<path d=\"M\(mid - 7) \(y - 7) L\(mid + 7) \(y + 7) M\(mid + 7) \(y - 7) L\(mid - 7) \(y + 7)\" stroke=\"#c62828\" stroke-width=\"3\"/>"
            )
        case .unknown:
            s.append("<text x=\"\(mid)\" y=\"\(y - 6)\" text-anchor=\"middle\" fill=\"#777\">?</text>")
        case .passed: break
        }
        return s
    }

    // MARK: text

    static func esc(_ s: String) -> String { MarkupText.escaped(s) }

    /// Evidence with anything that looks like a credential masked: the report is mailed around.
    static func scrubbed(_ v: JSONValue) -> JSONValue {
        switch v {
        case .object(let o):
            var out: [String: JSONValue] = [:]
            for (k, value) in o {
                let key = k.lowercased()
                let secret = ["token", "password", "passwd", "secret", "credential"].contains { key.contains($0) }
                out[k] = secret && value != .null ? .string("(secret)") : scrubbed(value)
            }
            return .object(out)
        case .array(let a): return .array(a.map(scrubbed))
        default: return v
        }
    }
}
