/// JUnit XML, for CI systems: one testcase per check; fail → failure, error → error, skip → skipped.
public enum JUnitReporter {
    public static func render(_ report: Report) -> String {
        let tests = report.findings.count
        let failures = report.count(.fail), errors = report.count(.error), skipped = report.count(.skip)
        let time = seconds(report.durationMilliseconds)
        var x = #"<?xml version="1.0" encoding="UTF-8"?>"# + "\n"
        x +=
            #"<testsuites name="portdoctor" tests="\#(tests)" failures="\#(failures)" errors="\#(errors)" skipped="\#(skipped)" time="\#(time)">"#
            + "\n"
        x +=
            #"  <testsuite name="\#(escape(report.packID))" tests="\#(tests)" failures="\#(failures)" errors="\#(errors)" skipped="\#(skipped)" time="\#(time)">"#
            + "\n"
        x += "    <properties>\n"
        x += #"      <property name="version" value="\#(escape(report.packVersion))"/>"# + "\n"
        x += #"      <property name="platform" value="\#(escape(report.platform))"/>"# + "\n"
        for key in report.parameters.keys.sorted() {
            x += #"      <property name="param.\#(escape(key))" value="\#(escape(report.parameters[key]!))"/>"# + "\n"
        }
        x += "    </properties>\n"
        for f in report.findings {
            // A paired report's checks are grouped by computer (`crashplan.destination`), and each
            // names its computer in the properties CI systems show (JUnit 5, Jenkins, GitLab).
            let classname = report.packID + (f.side.map { ".\($0)" } ?? "")
            x +=
                #"    <testcase classname="\#(escape(classname))" name="\#(escape(f.id))" time="\#(seconds(f.durationMilliseconds))">"#
                + "\n"
            if f.side != nil || f.computer != nil {
                x += "      <properties>\n"
                if let s = f.side { x += #"        <property name="side" value="\#(escape(s))"/>"# + "\n" }
                if let c = f.computer { x += #"        <property name="computer" value="\#(escape(c))"/>"# + "\n" }
                x += "      </properties>\n"
            }
            let body =
                ([f.cause.map { "cause: \($0)" }].compactMap { $0 } + f.advice.enumerated().map { "\($0 + 1). \($1)" })
                .joined(separator: "\n")
            switch f.status {
            case .fail:
                x +=
                    #"      <failure message="\#(escape(f.summary))" type="\#(escape(f.cause ?? "fail"))">\#(escape(body))</failure>"#
                    + "\n"
            case .error:
                x +=
                    #"      <error message="\#(escape(f.summary))" type="\#(escape(f.error?.kind.rawValue ?? "error"))">\#(escape(f.error?.traceback ?? body))</error>"#
                    + "\n"
            case .skip:
                x += #"      <skipped message="\#(escape(f.summary))"/>"# + "\n"
            case .warn, .pass:
                break
            }
            var out = f.status == .warn ? "warning: \(f.summary)\n\(body)\n" : ""
            if !f.evidence.isEmpty { out += "evidence: " + f.evidence.encoded(pretty: false) }
            if !out.isEmpty { x += "      <system-out>\(escape(out))</system-out>\n" }
            x += "    </testcase>\n"
        }
        x += "  </testsuite>\n</testsuites>\n"
        return x
    }

    static func seconds(_ ms: Double) -> String { String((ms).rounded() / 1000) }

    static func escape(_ s: String) -> String { MarkupText.escaped(s) }
}
