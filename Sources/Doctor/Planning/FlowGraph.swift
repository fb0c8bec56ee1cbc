/// The plan drawn as a graph: order (solid), `needs` (dashed), `after` (dotted), and where results
/// may send the flow.
public enum FlowGraph {
    public static func dot(_ plan: Plan) -> String {
        var out = ["digraph \"\(plan.manifest.id)\" {", "  rankdir=TB;", "  node [shape=box, fontname=\"Helvetica\"];"]
        for (i, s) in plan.steps.enumerated() {
            var attrs = "label=\"\(i + 1). \(s.id)\\n\(escape(s.title))\""
            if s.skipReason != nil { attrs += ", style=dashed" }
            if s.diagnostic != nil { attrs += ", color=red" }
            out.append("  \"\(s.id)\" [\(attrs)];")
        }
        for (a, b) in zip(plan.steps, plan.steps.dropFirst()) { out.append("  \"\(a.id)\" -> \"\(b.id)\";") }
        for s in plan.steps {
            for n in s.needs { out.append("  \"\(n)\" -> \"\(s.id)\" [style=dashed, label=\"needed by\"];") }
            for n in s.after { out.append("  \"\(n)\" -> \"\(s.id)\" [style=dotted, label=\"read by\"];") }
            for t in s.next { out.append("  \"\(s.id)\" -> \"\(t)\" [color=blue, label=\"may go on to\"];") }
        }
        out.append("}")
        return out.joined(separator: "\n") + "\n"
    }

    public static func mermaid(_ plan: Plan) -> String {
        var out = ["flowchart TD"]
        let key = Dictionary(uniqueKeysWithValues: plan.steps.enumerated().map { ($1.id, "s\($0 + 1)") })
        for (i, s) in plan.steps.enumerated() {
            out.append("  s\(i + 1)[\"\(i + 1). \(s.id): \(escape(s.title))\"]")
        }
        for (a, b) in zip(plan.steps, plan.steps.dropFirst()) { out.append("  \(key[a.id]!) --> \(key[b.id]!)") }
        for s in plan.steps {
            for n in s.needs { if let k = key[n] { out.append("  \(k) -. needed by .-> \(key[s.id]!)") } }
            for n in s.after { if let k = key[n] { out.append("  \(k) -. read by .-> \(key[s.id]!)") } }
            for t in s.next { if let k = key[t] { out.append("  \(key[s.id]!) == may go on to ==> \(k)") } }
        }
        return out.joined(separator: "\n") + "\n"
    }

    static func escape(_ s: String) -> String { s.replacing("\"", with: "'") }
}
