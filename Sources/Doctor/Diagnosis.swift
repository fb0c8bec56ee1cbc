import Bindings
import LuaHost
import Probes

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// What the person asked for.
public struct DiagnosisRequest {
    /// A pack id from the catalog, or a path to a pack folder.
    public var pack: String
    /// The pack folder already read (`pack test` reads it once for all its cases); then `pack` is not looked up.
    public var folder: PackFolder?
    public var parameters = ParameterSources()
    public var platform: Platform = .current
    /// What router discovery reported, or `--vendor`.
    public var vendor: [String: String]?
    /// Ask the router (UPnP) who made it when `vendor` is not given and a vendor overlay could apply.
    public var discoverVendor = false
    /// Overlay folders (or overlay.lua files) the person gave.
    public var userOverlays: [String] = []
    public var options = RunOptions()
    /// Told what slow work happens before the checks start ("asking the router …"), for a status line.
    public var announce: ((String) -> Void)?
    /// Only the plan is wanted (`show`): a required parameter without a value is not an error.
    public var planOnly = false
    /// `--only` / `--skip`: the checks to run.
    public var selection = CheckSelection()
    /// Run only those of these steps the pack has (a paired partner's request: `Paired.localSteps`).
    public var restrictTo: [String]?
    /// A paired run's tests between the two computers (`pairing.paths()`); nil in a run on one computer.
    public var pairedPaths: PairedPaths?
    /// See (record, trace) or answer (replay) every primitive call the run makes.
    public var primitiveHooks: [any PrimitiveHook] = []

    public init(pack: String) { self.pack = pack }
}

/// A reason the diagnosis cannot even start (unknown pack, a bad parameter): exit code 2.
public struct DiagnosisError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum Prepared {
    case ready(Diagnosis)
    /// The pack's manifest could not be read: this report says why.
    case unloadable(Report)
}

/// A pack loaded and planned for this computer, ready to run.
public final class Diagnosis {
    public let runtime: LuaRuntime
    public let plan: Plan
    public let parameters: ResolvedParameters
    public let origin: PackOrigin
    let options: RunOptions
    /// Checks call back into the loader (`require`) while they run: it lives as long as the diagnosis.
    let loader: PackLoader

    init(
        runtime: LuaRuntime, loader: PackLoader, plan: Plan, parameters: ResolvedParameters, origin: PackOrigin,
        options: RunOptions
    ) {
        self.runtime = runtime
        self.loader = loader
        self.plan = plan
        self.parameters = parameters
        self.origin = origin
        self.options = options
    }

    /// Loads and plans. A pack whose manifest cannot be read yields a report with that error instead.
    public static func prepare(
        _ request: DiagnosisRequest, catalog: PackCatalog,
        configure: (LuaRuntime) -> Void = { _ in }
    ) throws -> Prepared {
        let folder: PackFolder
        if let given = request.folder {
            folder = given
        } else if request.pack.contains("/") || request.pack.hasSuffix(".lua") || request.pack == "." {
            folder = try PackCatalog.folder(atPath: request.pack)
        } else if let found = catalog.pack(named: request.pack) {
            folder = found
        } else {
            let names = catalog.packs.map { $0.name.split(separator: "/").last.map(String.init) ?? $0.name }
            throw DiagnosisError(
                "no pack named '\(request.pack)'\(Suggest.hint(request.pack, names)); "
                    + (names.isEmpty ? "no packs are installed" : "packs: \(names.sorted().joined(separator: ", "))")
                    + " (or give a path to a pack folder)")
        }

        var runtimeOptions = LuaRuntime.Options()
        runtimeOptions.limits = request.options.limits
        runtimeOptions.print = { [printed = request.options.printed] text, task in
            let who = task?.name ?? "portdoctor"
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) { printed("[\(who)] \(line)") }
        }
        runtimeOptions.keepPrinted = request.options.debug ? RunOptions.keptLines : 0
        let runtime = try LuaRuntime(options: runtimeOptions)
        // The router is asked once per run: vendor selection, the survey and checks share the answer.
        let discovery = UPnP.Discovery()
        PrimitiveBindings.install(runtime, discovery: discovery)
        PairingModule.install(runtime, paths: request.pairedPaths)
        runtime.primitiveHooks = request.primitiveHooks
        configure(runtime)
        let loader = try PackLoader(runtime: runtime)
        for other in catalog.packs {
            loader.libraries[other.name.split(separator: "/").last.map(String.init) ?? other.name] = other
        }
        let pack = loader.loadPack(folder)
        guard let manifest = pack.manifest,
            !pack.diagnostics.contains(where: { $0.file.hasSuffix("/pack.lua") && $0.step == nil })
        else {
            let findings = pack.diagnostics.filter { $0.step == nil }.map { d in
                Finding(
                    id: "load:\(d.file)", title: "Load \(d.file)", status: .error, summary: d.description,
                    origin: d.file, error: d.error)
            }
            return .unloadable(
                Report(
                    packID: folder.name, packVersion: "?", packTitle: "pack that could not be loaded",
                    platform: request.platform.rawValue, vendor: request.vendor?["manufacturer"],
                    parameters: [:], findings: findings, durationMilliseconds: 0,
                    startedAt: WallClock.secondsSince1970()))
        }

        var overlays: [OverlayDefinition] = []
        var overlayProblems: [PackDiagnostic] = []
        for o in catalog.overlays {
            let (overlay, problems) = loader.loadOverlay(o, isUserOverlay: false)
            if let overlay, overlay.extends == manifest.id {
                overlays.append(overlay)
            } else if overlay == nil, o.files["overlay.lua"]?.contains(manifest.id) == true {
                overlayProblems += problems
            }
        }
        for path in request.userOverlays {
            let o = try PackCatalog.folder(atPath: path)
            let (overlay, problems) = loader.loadOverlay(o, isUserOverlay: true)
            if let overlay {
                guard overlay.extends == manifest.id else {
                    throw DiagnosisError("overlay \(overlay.file) extends '\(overlay.extends)', not '\(manifest.id)'")
                }
                overlays.append(overlay)
            } else {
                overlayProblems += problems
            }
        }
        var vendor = request.vendor
        if vendor == nil, request.discoverVendor, (pack.overlays + overlays).contains(where: { $0.vendor != nil }) {
            request.announce?("asking the router who made it (UPnP discovery, up to 1 s) …")
            vendor = VendorDiscovery.discover(discovery)
        }
        var plan = Planner.plan(
            pack, manifest: manifest, extraOverlays: overlays, platform: request.platform, vendor: vendor)
        plan.diagnostics += overlayProblems
        try plan.choose(request.selection)
        if let allowed = request.restrictTo {
            try plan.choose(CheckSelection(only: plan.steps.map(\.id).filter(allowed.contains)))
        }

        var sources = request.parameters
        // Settings in the config file and the environment may be meant for other packs: which
        // packs exist, and what they take, tells those from typos.
        let settings =
            !(sources.config?.entries.isEmpty ?? true)
            || sources.environment.keys.contains { $0.hasPrefix(ParameterSources.environmentPrefix) }
        if settings {
            for other in catalog.packs {
                let id = other.name.split(separator: "/").last.map(String.init) ?? other.name
                guard id != manifest.id else { continue }
                sources.otherPacks[id] = Set(loader.loadManifest(other)?.parameters.map(\.name) ?? [])
            }
        }
        switch ParameterResolver.resolve(manifest, sources, allowMissing: request.planOnly) {
        case .failure(let e): throw DiagnosisError(e.reason)
        case .success(let parameters):
            let secrets = Secrets(manifest: manifest, parameters: parameters)
            for case let hook as any SecretKeeping in request.primitiveHooks { hook.secrets = secrets }
            return .ready(
                Diagnosis(
                    runtime: runtime, loader: loader, plan: plan, parameters: parameters, origin: folder.origin,
                    options: request.options))
        }
    }

    /// The paired verdict of this pack (an applied overlay's lib/verdict.lua, else the pack's own,
    /// else tcp-service's), run in this diagnosis's Lua state; nil when no pack has one.
    public var verdictRules: VerdictRules? { VerdictRules(runtime: runtime, loader: loader, plan: plan) }

    /// What a recording or a trace of this run must not show: the secret parameters' values.
    public var secrets: Secrets { Secrets(manifest: plan.manifest, parameters: parameters) }

    /// Runs the plan. When a repair changed this computer, the other checks' findings may describe
    /// the computer as it was (a port seen free before the service it belongs to was restarted), so
    /// the whole plan runs once more without repairs, and the report is that second run's, with
    /// what the repairs did kept on their checks.
    public func run() -> Report {
        let first = Runner(runtime: runtime, plan: plan, parameters: parameters, options: options).run()
        let applied = first.findings.filter { f in f.repairs.contains { $0.outcome == .fixed || $0.outcome == .notFixed } }
        guard !applied.isEmpty else { return secrets.scrub(first) }
        var again = options
        again.fix = false
        again.confirm = nil
        var second = Runner(runtime: runtime, plan: plan, parameters: parameters, options: again).run()
        // A repaired check's own finding already is its run after the repair, with what the repair did.
        let repaired = Dictionary(
            first.findings.filter { f in f.repairs.contains { $0.outcome != .offered } }.map { ($0.id, $0) },
            uniquingKeysWith: { a, _ in a })
        for i in second.findings.indices {
            if let before = repaired[second.findings[i].id] { second.findings[i] = before }
        }
        second.durationMilliseconds += first.durationMilliseconds
        second.startedAt = first.startedAt
        return secrets.scrub(second)
    }
}
