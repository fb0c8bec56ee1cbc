import Bindings
import BundledChecks
import LuaHost
import Probes

/// The NAT/forward rules of the bundled tcp-service pack (lib/nat.lua), run on a survey's evidence
/// outside a diagnosis: `probe nat` concludes with the same rules as the port-forward step.
public enum NATRules {
    public static let file = "tcp-service/lib/nat.lua"

    /// The verdict on a survey, as JSON (the report's and `probe --format json`'s shape).
    public static func verdict(for survey: NATSurvey.Result) throws -> JSONValue {
        JSONValue(try decide(survey.observed))
    }

    /// The verdict table (kind, status, cause, explanation, advice, notes, rule) for `evidence`.
    public static func decide(_ evidence: LuaValue, rules source: String? = nil) throws -> LuaValue {
        guard let text = source ?? BundledChecks.files[file] else { throw DiagnosisError("\(file) is not bundled") }
        let runtime = try LuaRuntime()
        // The library as a function of its own, so that its locals and `return` stay inside it.
        let chunk = try runtime.load(
            "local nat = (function()\n\(text)\nend)()\nreturn nat.decide(evidence)", name: file,
            globals: ["evidence": evidence])
        let task = runtime.spawn(chunk, name: file)
        runtime.run()
        switch task.outcome {
        case .success(let values)?: return values.first ?? .nil
        case .failure(let error)?: throw error
        case nil: throw DiagnosisError("the NAT rules did not finish")
        }
    }
}
