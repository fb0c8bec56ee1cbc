/// Prometheus text exposition (format 0.0.4), for node_exporter's textfile collector: every family
/// has HELP and TYPE lines and is labelled by pack (and check). Times are in seconds, as Prometheus
/// wants base units.
public enum PrometheusReporter {
    public static func render(_ report: Report) -> String {
        var out = ""
        let pack = [("pack", report.packID)]
        func family(_ name: String, _ help: String, _ samples: [([(String, String)], Double)]) {
            guard !samples.isEmpty else { return }
            out += "# HELP \(name) \(escapeHelp(help))\n# TYPE \(name) gauge\n"
            for (labels, value) in samples {
                let text = labels.map { "\($0.0)=\"\(escapeLabel($0.1))\"" }.joined(separator: ",")
                out += "\(name){\(text)} \(plainNumber(value))\n"
            }
        }
        family(
            "portdoctor_info", "The pack and program that made these metrics (always 1).",
            [
                (
                    pack + [
                        ("version", report.packVersion), ("portdoctor_version", portdoctorVersion),
                        ("platform", report.platform),
                    ], 1
                )
            ])
        family(
            "portdoctor_exit_code",
            "The run's exit code: 0 nothing failed, 1 a problem was found, 2 the diagnosis could not be made.",
            [(pack, Double(report.exitCode))])
        family(
            "portdoctor_last_run_timestamp_seconds", "When the run started, in seconds since 1970 (UTC).",
            [(pack, report.startedAt.rounded())])
        family(
            "portdoctor_run_duration_seconds", "How long the whole run took.",
            [(pack, report.durationMilliseconds / 1000)])
        family(
            "portdoctor_checks", "How many checks ended with each status.",
            CheckStatus.allCases.map { (pack + [("status", $0.rawValue)], Double(report.count($0))) })
        family(
            "portdoctor_check_status",
            "1 for the status the check ended with (pass, warn, fail, error, skip), 0 for the others.",
            report.findings.flatMap { f in
                CheckStatus.allCases.map { s in
                    (pack + [("check", f.id), ("status", s.rawValue)], f.status == s ? 1.0 : 0.0)
                }
            })
        // Every known cause is always present, so an alert on a cause appearing has a series that goes 0 → 1.
        let found = Set(report.findings.compactMap(\.cause))
        let causes = Set(RootCause.vocabulary.keys).union(found).sorted()
        family(
            "portdoctor_cause", "1 when a check found this root cause, 0 otherwise.",
            causes.map { (pack + [("cause", $0)], found.contains($0) ? 1.0 : 0.0) })
        family(
            "portdoctor_check_cause", "The root cause a check reported (1), for checks that reported one.",
            report.findings.compactMap { f in f.cause.map { (pack + [("check", f.id), ("cause", $0)], 1.0) } })
        family(
            "portdoctor_check_duration_seconds", "How long each check took (0 for checks that did not run).",
            report.findings.map { (pack + [("check", $0.id)], $0.durationMilliseconds / 1000) })
        family(
            "portdoctor_connect_rtt_seconds",
            "TCP connect times found in the checks' evidence; path says where (empty: the check's own connect).",
            report.findings.flatMap { f in
                f.connectRTTs.map { (pack + [("check", f.id), ("path", $0.path)], $0.milliseconds / 1000) }
            })
        return out
    }

    /// Label values: backslash, double quote and line feed are escaped, everything else is literal UTF-8.
    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// HELP text: backslash and line feed are escaped.
    static func escapeHelp(_ s: String) -> String {
        var out = ""
        for c in s.unicodeScalars {
            switch c {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }
}
