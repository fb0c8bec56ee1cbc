import ArgumentParser
import Doctor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

enum GraphFormat: String, ExpressibleByArgument, CaseIterable {
    case dot, mermaid
}

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Show a pack's plan for this computer: steps in order, where each came from, and the flow.",
        discussion: """
            Examples:
              portdoctor show crashplan
              portdoctor show crashplan --platform macos --vendor OpenWrt
              portdoctor show crashplan --graph dot | dot -Tsvg > crashplan.svg
              portdoctor show tcp-service --format json

            Parameters a run needs (those marked required) are listed, not asked for: show only plans.
            """
    )

    @OptionGroup var selection: PackSelection

    @Option(help: ArgumentHelp("Draw the flow as a graph instead: Graphviz dot or Mermaid.", valueName: "dot|mermaid"))
    var graph: GraphFormat?

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if graph != nil && output.isJSON { throw ValidationError("--graph and --format json do not go together") }
    }

    func run() throws {
        let environment = ProcessInfo.processInfo.environment
        let diagnosis: Diagnosis
        var request = selection.request()
        request.planOnly = true
        do {
            switch try Diagnosis.prepare(request, catalog: PackCatalog.discover(environment: environment)) {
            case .unloadable(let report):
                output.print(
                    .object([
                        "pack": .string(report.packID),
                        "problems": .array(report.findings.compactMap { $0.error.map(JSONReporter.error) }),
                    ])
                ) { report.findings.map(\.summary).joined(separator: "\n") }
                throw ExitCode(2)
            case .ready(let d): diagnosis = d
            }
        } catch let error as DiagnosisError {
            throw Failure(error.description)
        }
        let plan = diagnosis.plan
        switch graph {
        case .dot?: print(FlowGraph.dot(plan), terminator: "")
        case .mermaid?: print(FlowGraph.mermaid(plan), terminator: "")
        case nil:
            output.print(PlanJSON.object(plan, origin: diagnosis.origin)) {
                PlanText.render(plan, origin: diagnosis.origin).dropLast().description
            }
        }
        if plan.steps.contains(where: { $0.diagnostic != nil }) || !plan.diagnostics.isEmpty { throw ExitCode(2) }
    }
}

enum PlanText {
    static func render(_ plan: Plan, origin: PackOrigin) -> String {
        let m = plan.manifest
        var out = ["\(m.id) \(m.version) — \(m.title)  [\(origin)]"]
        out.append("for \(plan.platform.rawValue), router: \(plan.vendor?["manufacturer"] ?? "any")")
        if !m.description.isEmpty { out.append(m.description) }
        out.append("")
        let width = (plan.steps.map(\.id.count).max() ?? 4) + 2
        for (i, s) in plan.steps.enumerated() {
            var line = "\(String(i + 1).padding(3)) \(s.id.padding(width)) \(s.title)"
            line += "   — \(s.origin)"
            out.append(line)
            if !s.needs.isEmpty {
                out.append("    " + String(repeating: " ", count: width) + "needs: \(s.needs.joined(separator: ", "))")
            }
            if !s.next.isEmpty {
                out.append(
                    "    " + String(repeating: " ", count: width) + "may go on to: \(s.next.joined(separator: ", "))")
            }
            if let r = s.skipReason { out.append("    " + String(repeating: " ", count: width) + "skipped: \(r)") }
            if let d = s.diagnostic { out.append("    " + String(repeating: " ", count: width) + "BROKEN: \(d)") }
        }
        if !m.parameters.isEmpty {
            out.append("")
            out.append("Parameters (--param key=value):")
            for p in m.parameters {
                var line = "  \(p.name.padding(12)) \(p.type.description.padding(9)) \(p.doc)"
                if case .choice(let c) = p.type { line += " (one of \(c.joined(separator: ", ")))" }
                if let d = p.defaultText { line += " [default \(d)]" }
                if p.required { line += " [required]" }
                out.append(line)
            }
        }
        if !plan.overlays.isEmpty {
            out.append("")
            out.append("Overlays applied: " + plan.overlays.map { "\($0.id) (\($0.file))" }.joined(separator: ", "))
        }
        for d in plan.diagnostics { out.append("PROBLEM: \(d)") }
        return out.joined(separator: "\n") + "\n"
    }
}

/// `show --format json`: the plan and the parameters a run takes.
enum PlanJSON {
    static func object(_ plan: Plan, origin: PackOrigin) -> JSONValue {
        let m = plan.manifest
        func strings(_ a: [String]) -> JSONValue { .array(a.map(JSONValue.string)) }
        func text(_ s: String?) -> JSONValue { s.map(JSONValue.string) ?? .null }
        let steps: [JSONValue] = plan.steps.map { s in
            .object([
                "id": .string(s.id), "title": .string(s.title), "origin": .string(s.origin),
                "needs": strings(s.needs), "next": strings(s.next), "skipped": text(s.skipReason),
                "replaces": text(s.replaces), "error": s.diagnostic.map { JSONReporter.error($0.error) } ?? .null,
            ])
        }
        var parameters: [String: JSONValue] = [:]
        for p in m.parameters {
            var choices: JSONValue = .null
            if case .choice(let c) = p.type { choices = strings(c) }
            parameters[p.name] = .object([
                "type": .string(p.type.description), "choices": choices, "default": text(p.defaultText),
                "required": .bool(p.required), "secret": .bool(p.secret), "doc": .string(p.doc),
            ])
        }
        return .object([
            "pack": .string(m.id), "version": .string(m.version), "title": .string(m.title),
            "description": .string(m.description), "origin": .string(origin.description),
            "platform": .string(plan.platform.rawValue), "vendor": text(plan.vendor?["manufacturer"]),
            "steps": .array(steps), "parameters": .object(parameters),
            "overlays": .array(plan.overlays.map { .object(["id": .string($0.id), "file": .string($0.file)]) }),
            "problems": .array(plan.diagnostics.map { JSONReporter.error($0.error) }),
        ])
    }
}
