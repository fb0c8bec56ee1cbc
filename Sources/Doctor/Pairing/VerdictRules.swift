import BundledChecks
import LuaHost

/// The paired verdict is the pack's to decide (Docs/pairing-protocol.md, "The verdict"): the
/// `decide(findings, connect)` of `lib/verdict.lua` — an applied overlay's, else the pack's own,
/// else tcp-service's — found as `require` finds modules (`PackLoader.deciding`) and run in the
/// diagnosis's own Lua state, so that a paired run costs no second state.
public struct VerdictRules {
    public static let module = "verdict"
    /// The pack whose verdict serves a pack without one of its own.
    public static let sharedPack = "tcp-service"
    /// Enough for a verdict over two computers' findings; a runaway one is stopped, not waited for.
    static let limits = LuaLimits(instructions: 20_000_000, memoryBytes: 32 << 20, wallClock: .seconds(5))

    let runtime: LuaRuntime
    let folder: PackFolder
    /// Keeps `require` working while the verdict runs (it calls back into the loader).
    let loader: PackLoader

    /// The file that decides, as errors name it ("crashplan/lib/verdict.lua").
    public var file: String { folder.displayName(Self.path) }
    static var path: String { "lib/\(module).lua" }

    init?(runtime: LuaRuntime, loader: PackLoader, plan: Plan) {
        guard let folder = loader.deciding(Self.module, plan: plan, shared: Self.sharedPack) else { return nil }
        self.runtime = runtime
        self.loader = loader
        self.folder = folder
    }

    /// tcp-service's verdict (the bundled one, or `source` in its place), in a Lua state of its own:
    /// for a merge without a diagnosis at hand (tests).
    public static func bundled(source: String? = nil) throws -> VerdictRules {
        var files =
            PackCatalog.folders(in: BundledChecks.files, origin: .bundled).first { $0.name == sharedPack }?.files ?? [:]
        if let source { files[path] = source }
        let folder = PackFolder(name: sharedPack, origin: .bundled, files: files)
        let runtime = try LuaRuntime()
        let loader = try PackLoader(runtime: runtime)
        loader.libraries[sharedPack] = folder
        let plan = Plan(
            manifest: PackManifest(
                id: sharedPack, version: "0", title: sharedPack, description: "", parameters: [], steps: [],
                causes: [:],
                limits: LimitRequest(), file: folder.displayName("pack.lua")),
            folder: folder, steps: [], platform: .current, vendor: nil, overlays: [], diagnostics: [])
        guard let rules = VerdictRules(runtime: runtime, loader: loader, plan: plan) else {
            throw DiagnosisError("\(sharedPack)/\(path) is not bundled")
        }
        return rules
    }

    /// The verdict on both computers' findings, or the Lua error that stopped it (file and line).
    public func decide(_ findings: [Finding], test: Paired.ConnectTest) -> Result<PairedVerdict, LuaError> {
        let file = self.file
        var connect = LuaTable()
        connect["from"] = .text(test.from)
        connect["to"] = .text(test.to)
        if let status = test.status { connect["status"] = .text(status) }
        // The findings as the report has them (JSON), as Lua tables: the one conversion both ways.
        let tables = LuaValue.table(LuaTable(sequence: findings.map { RecordedValue.lua(JSONReporter.check($0)) }))
        // Named inside the deciding folder, so that `require` finds that folder's lib/ first.
        let chunk: LuaRef
        do {
            chunk = try runtime.load(
                """
                local m = require("\(Self.module)")
                if type(m) ~= "table" or type(m.decide) ~= "function" then
                  error("\(file) must return a table with decide(findings, connect), got " .. type(m), 0)
                end
                return m.decide(findings, connect)
                """, name: folder.displayName("(paired verdict)"),
                globals: ["findings": tables, "connect": .table(connect)])
        } catch { return .failure(error) }
        let task = runtime.spawn(chunk, name: file, limits: Self.limits)
        runtime.run()
        switch task.outcome {
        case .failure(let error)?: return .failure(error)
        case nil: return .failure(LuaError(kind: .runtime, message: "\(file): the verdict did not finish", chunk: file))
        case .success(let values)?:
            guard case .table = values.first else {
                return .failure(
                    invalid(
                        "decide must return a table { fix =, cause =, summary =, advice =, check = }, got \(values.first?.typeName ?? "nothing")"
                    ))
            }
            let json = JSONValue(values[0])
            if let fix = json.member("fix"), fix != .null,
                !["source", "destination", "between"].contains(fix.text ?? "")
            {
                return .failure(
                    invalid(
                        "'fix' must be \"source\", \"destination\", \"between\" or nil, got \(fix.encoded(pretty: false))"
                    ))
            }
            guard case .string(let summary)? = json.member("summary"), !summary.isEmpty else {
                return .failure(
                    invalid("the verdict needs a 'summary' (a sentence saying what to fix, or that nothing needs it)"))
            }
            var verdict = Report.pairing(json)
            verdict.connect = test
            return .success(verdict)
        }
    }

    private func invalid(_ message: String) -> LuaError {
        LuaError(kind: .runtime, message: "\(file): \(message)", chunk: file)
    }

    /// A verdict that could not be decided, as a report's `error` check (exit code 2): the file and
    /// line, and that both computers' findings are still there.
    public static func failure(_ error: LuaError, file: String) -> Finding {
        let place = error.chunk.map { c in error.line.map { "\(c) line \($0)" } ?? c } ?? file
        var evidence: [String: JSONValue] = ["stage": .string("verdict"), "file": .string(error.chunk ?? file)]
        if let line = error.line { evidence["line"] = .int(Int64(line)) }
        return Finding(
            id: "pairing", title: "Decide which computer to fix", status: .error,
            summary:
                "the paired verdict could not be decided: \(error.description) — both computers' findings are below, without a verdict",
            advice: [
                "Fix \(place) (the pack's paired verdict), or take that file away to use \(sharedPack)'s; run with --traceback for where it failed."
            ],
            evidence: .object(evidence), origin: error.chunk ?? file, error: error)
    }
}
