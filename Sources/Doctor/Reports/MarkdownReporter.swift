/// A report a person can paste into a support ticket: environment, plan, results, evidence.
public enum MarkdownReporter {
    public static func render(_ report: Report, plan: [(id: String, title: String, origin: String)]) -> String {
        var md: [String] = []
        md.append("# portdoctor report: \(report.packID) \(report.packVersion)")
        md.append("")
        md.append("**\(report.packTitle)**")
        md.append("")
        md.append("**Result:** " + TextReporter(color: false).verdict(report))
        md.append("")
        let also = TextReporter(color: false).alsoFound(report)
        if !also.isEmpty {
            md += also.map { "- " + $0 }
            md.append("")
        }
        md.append("## Environment")
        md.append("")
        md.append("| | |")
        md.append("| --- | --- |")
        md.append("| portdoctor | \(cell(portdoctorVersion)) |")
        md.append("| started | \(Timestamp.iso8601(report.startedAt)) |")
        let system = [report.system.os, report.system.version, report.system.architecture].compactMap { $0 }
        md.append("| system | \(cell(system.joined(separator: " "))) |")
        md.append("| platform | \(cell(report.platform)) |")
        if let vendor = report.vendor { md.append("| router | \(cell(vendor)) |") }
        for key in report.parameters.keys.sorted() {
            let source = report.parameterSources[key].map { " (\($0))" } ?? ""
            md.append("| \(cell(key)) | `\(cell(report.parameters[key]!))`\(source) |")
        }
        md.append("| took | \(Int(report.durationMilliseconds.rounded())) ms |")
        md.append("")
        md.append("## Plan")
        md.append("")
        for (i, step) in plan.enumerated() { md.append("\(i + 1). `\(step.id)` — \(step.title) _(\(step.origin))_") }
        md.append("")
        md.append("## Results")
        md.append("")
        // A paired report says which computer each check ran on.
        let paired = report.findings.contains { $0.onComputer != nil }
        md.append(paired ? "| check | computer | status | summary |" : "| check | status | summary |")
        md.append(paired ? "| --- | --- | --- | --- |" : "| --- | --- | --- |")
        for f in report.findings {
            let on = paired ? " \(cell(f.onComputer ?? "")) |" : ""
            md.append("| `\(cell(f.id))` |\(on) \(f.status.rawValue) | \(cell(f.summary)) |")
        }
        for f in report.findings where f.status != .pass && f.status != .skip {
            md.append("")
            md.append("### \(f.id): \(f.status.rawValue)" + (f.onComputer.map { " (on \($0))" } ?? ""))
            md.append("")
            md.append(f.summary)
            if let cause = f.cause {
                md.append("")
                md.append("Cause: \(report.causeWords[cause] ?? cause) (`\(cause)`)")
            }
            if !f.advice.isEmpty {
                md.append("")
                for (i, a) in f.advice.enumerated() { md.append("\(i + 1). \(a)") }
            }
            for r in f.repairs {
                md.append("")
                md.append(
                    "Repair `\(r.id)` (\(r.outcome.rawValue)): \(r.title) — \(r.changes)"
                        + (r.detail.map { ". \($0)" } ?? ""))
            }
            if let tb = f.error?.traceback {
                md.append("")
                md.append("```\n\(tb)\n```")
            }
            if !f.evidence.isEmpty {
                md.append("")
                md.append("Evidence:")
                md.append("")
                md.append("```json\n\(f.evidence.encoded(pretty: true))\n```")
            }
        }
        return md.joined(separator: "\n") + "\n"
    }

    static func cell(_ s: String) -> String {
        s.replacing("|", with: "\\|").replacing("\n", with: " ")
    }
}
