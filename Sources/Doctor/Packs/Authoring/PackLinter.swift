import LuaHost

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// One thing `pack lint` found.
public struct LintProblem: Sendable, Equatable, CustomStringConvertible {
    public enum Severity: String, Sendable { case error, warning }
    public var severity: Severity
    public var file: String
    public var line: Int?
    public var message: String

    public var description: String {
        "\(file)\(line.map { ":\($0)" } ?? ""): \(severity.rawValue): \(message)"
    }
}

/// `portdoctor pack lint PATH`: everything loading and planning find (as `show` does), for every
/// platform and every router vendor the pack's overlays name, plus what only a reading of the source
/// finds — `ctx.params` fields no parameter declares, causes the pack does not declare, check files
/// no step or overlay uses, overlays that can never apply or change nothing.
public enum PackLinter {
    public static func lint(path: String, environment: [String: String]) -> [LintProblem] {
        var problems: [LintProblem] = []
        var seen: Set<String> = []
        func add(_ p: LintProblem) {
            if seen.insert(p.description).inserted { problems.append(p) }
        }
        func add(_ d: PackDiagnostic, _ severity: LintProblem.Severity = .error) {
            add(LintProblem(severity: severity, file: d.file, line: d.line, message: d.description.afterPosition(d)))
        }

        let folder: PackFolder
        do { folder = try PackCatalog.folder(atPath: path) } catch {
            return [LintProblem(severity: .error, file: path, line: nil, message: "\(error)")]
        }
        guard folder.isPack else {
            return [
                LintProblem(
                    severity: .error, file: path, line: nil,
                    message: "is an overlay, not a pack: lint the pack it extends, with the overlay in its overlays/ folder")
            ]
        }
        let catalog = PackCatalog.discover(environment: environment)

        // Load and plan as `show` does, for each platform, then for each vendor an overlay names.
        var loaded: LoadedPack?
        var runtime: LuaRuntime?
        var libraries: [String: PackFolder] = [:]
        var vendors: [[String: String]?] = [nil]
        var plannedVendors = 0
        while plannedVendors < vendors.count {
            let vendor = vendors[plannedVendors]
            plannedVendors += 1
            for platform in Platform.allCases {
                var request = DiagnosisRequest(pack: path.contains("/") ? path : "./" + path)
                request.planOnly = true
                request.platform = platform
                request.vendor = vendor
                let prepared: Prepared
                do { prepared = try Diagnosis.prepare(request, catalog: catalog) } catch {
                    add(LintProblem(severity: .error, file: folder.displayName("pack.lua"), line: nil, message: "\(error)"))
                    return problems
                }
                switch prepared {
                case .unloadable(let report):
                    for f in report.findings {
                        if let e = f.error {
                            add(LintProblem(severity: .error, file: e.chunk ?? folder.name, line: e.line, message: e.message))
                        } else {
                            add(LintProblem(severity: .error, file: folder.name, line: nil, message: f.summary))
                        }
                    }
                    return problems
                case .ready(let diagnosis):
                    for step in diagnosis.plan.steps { if let d = step.diagnostic { add(d) } }
                    for d in diagnosis.plan.diagnostics { add(d) }
                    if loaded == nil {
                        runtime = diagnosis.runtime
                        libraries = diagnosis.loader.libraries
                        let pack = diagnosis.loader.loadPack(diagnosis.plan.folder)
                        loaded = pack
                        for d in pack.diagnostics { add(d) }
                        for o in pack.overlays { if let v = o.vendor, !vendors.contains(where: { $0 == v }) { vendors.append(v) } }
                    }
                }
            }
        }
        guard let pack = loaded, let manifest = pack.manifest else { return problems }
        for p in sourceProblems(pack, manifest) { add(p) }
        if let runtime { for p in globalProblems(pack.folder, runtime: runtime, libraries: libraries) { add(p) } }
        return problems
    }

    /// Globals no check can have: reads of names the check environment does not offer (a typo,
    /// `tiemout` for a local `timeout`, fails at run time with "unknown global"), fields a
    /// portdoctor module or library table does not have (`socket.conect`), writes into those
    /// read-only tables (errors), and global writes (warnings: they live in that file's own
    /// globals only, and a later typo of them is not seen). Compared with the environment of the
    /// live runtime `run` uses, so that the list cannot drift from the real API.
    static func globalProblems(
        _ folder: PackFolder, runtime: LuaRuntime, libraries: [String: PackFolder] = [:]
    ) -> [LintProblem] {
        let api = runtime.apiGlobals()
        var out: [LintProblem] = []
        for (path, text) in folder.files.sorted(by: { $0.key < $1.key })
        where path.hasSuffix(".lua") && !path.hasPrefix("tests/") && !path.hasPrefix(".luals/") {
            let file = folder.displayName(path)
            // A file that does not compile is reported by loading it.
            guard let chunk = try? ChunkGlobals(source: text, name: file, runtime: runtime) else { continue }
            for r in chunk.requires {
                if let problem = requireProblem(r.name, from: path, in: folder, libraries: libraries) {
                    out.append(LintProblem(severity: .error, file: file, line: r.line, message: problem))
                }
            }
            let written = Set(chunk.uses.filter(\.isWrite).map(\.name))
            var warnedWrite: Set<String> = []
            for use in chunk.uses {
                if use.isWrite {
                    guard warnedWrite.insert(use.name).inserted else { continue }
                    let shadows = api[use.name] != nil ? " (it hides the API's '\(use.name)' in this file)" : ""
                    out.append(
                        LintProblem(
                            severity: .warning, file: file, line: use.line,
                            message: "global '\(use.name)' is set: it is seen in this file only\(shadows); "
                                + "write 'local \(use.name)'\(Suggest.hint(use.name, Array(chunk.locals)))"))
                    continue
                }
                guard let global = api[use.name] else {
                    if written.contains(use.name) { continue }
                    let candidates = Array(api.keys) + Array(chunk.locals) + Array(written)
                    out.append(
                        LintProblem(
                            severity: .error, file: file, line: use.line,
                            message: "unknown global '\(use.name)'\(Suggest.hint(use.name, candidates)): "
                                + "no local, parameter or portdoctor global has this name"))
                    continue
                }
                guard let field = use.field, global.kind == "table", !global.fields.isEmpty, use.name != "_G" else {
                    continue
                }
                if use.fieldIsWrite {
                    out.append(
                        LintProblem(
                            severity: .error, file: file, line: use.line,
                            message: "cannot set '\(use.name).\(field)': '\(use.name)' is read-only"))
                } else if global.fields[field] == nil {
                    out.append(
                        LintProblem(
                            severity: .error, file: file, line: use.line,
                            message: "'\(use.name)' has no field '\(field)'"
                                + "\(Suggest.hint(field, Array(global.fields.keys))); it has "
                                + global.fields.keys.sorted().joined(separator: ", ")))
                }
            }
        }
        return out
    }

    /// What reading the Lua source finds.
    static func sourceProblems(_ pack: LoadedPack, _ manifest: PackManifest) -> [LintProblem] {
        var out: [LintProblem] = []
        let folder = pack.folder
        let params = manifest.parameters.map(\.name)
        let causes = Array(RootCause.vocabulary.keys) + Array(manifest.causes.keys)
        var usedCauses: Set<String> = []

        for (path, text) in folder.files.sorted(by: { $0.key < $1.key }) where path.hasSuffix(".lua") {
            let file = folder.displayName(path)
            guard path != "pack.lua", !path.hasSuffix("/overlay.lua") else { continue }
            for use in SourceScan.paramUses(text) where !params.contains(use.name) {
                out.append(
                    LintProblem(
                        severity: .error, file: file, line: use.line,
                        message: "ctx.params.\(use.name) is not a parameter of pack '\(manifest.id)'"
                            + "\(Suggest.hint(use.name, params))"
                            + (params.isEmpty ? "; it declares none" : "; it declares \(params.sorted().joined(separator: ", "))")
                    ))
            }
            for use in SourceScan.causeUses(text) {
                usedCauses.insert(use.name)
                guard !causes.contains(use.name) else { continue }
                out.append(
                    LintProblem(
                        severity: .error, file: file, line: use.line,
                        message: "cause '\(use.name)' is neither in the shared vocabulary nor in the pack's causes"
                            + "\(Suggest.hint(use.name, causes)); declare it in pack.lua: causes = { [\"\(use.name)\"] = \"…\" }"
                    ))
            }
        }
        let manifestFile = folder.displayName("pack.lua")
        let source = folder.files["pack.lua"] ?? ""
        // Causes may be named by modules of other packs this one requires, so an unused one only warns.
        for cause in manifest.causes.keys.sorted() where !usedCauses.contains(cause) {
            out.append(
                LintProblem(
                    severity: .warning, file: manifestFile, line: SourceScan.line(of: cause, in: source),
                    message: "cause '\(cause)' is declared but no check of this pack names it"))
        }

        // Check files that nothing runs.
        var usedByOverlays: Set<String> = []
        for o in pack.overlays {
            for i in o.insertions { usedByOverlays.formUnion(i.checks) }
            usedByOverlays.formUnion(o.replacements.values)
        }
        for file in folder.checkFiles {
            let stem = String(file.dropLast(4))
            if !manifest.steps.contains(stem) && !usedByOverlays.contains(stem) {
                out.append(
                    LintProblem(
                        severity: .warning, file: folder.displayName(file), line: nil,
                        message: "check '\(stem)' never runs: it is not in the pack's steps"
                            + "\(Suggest.hint(stem, manifest.steps.filter { s in !folder.checkFiles.contains(s + ".lua") }))"
                    ))
            }
        }

        // Overlays that can never apply, change nothing, or carry checks they never use.
        for sub in folder.subfolders(under: "overlays") {
            let overlayFile = sub.displayName("overlay.lua")
            guard let o = pack.overlays.first(where: { $0.file == overlayFile }) else {
                if !sub.isOverlay {
                    out.append(
                        LintProblem(
                            severity: .warning, file: sub.name, line: nil,
                            message: "has no overlay.lua: nothing in it is used"))
                }
                continue
            }
            if o.extends != manifest.id {
                out.append(
                    LintProblem(
                        severity: .warning, file: overlayFile, line: SourceScan.line(of: "extends", in: sub.files["overlay.lua"] ?? ""),
                        message: "overlay '\(o.id)' extends '\(o.extends)', not '\(manifest.id)': it never applies"))
            }
            if o.insertions.isEmpty && o.replacements.isEmpty && o.skips.isEmpty && o.moves.isEmpty {
                out.append(
                    LintProblem(
                        severity: .warning, file: overlayFile, line: nil,
                        message: "overlay '\(o.id)' changes nothing (no insert, replace, skip or move)"))
            }
            let inserted = Set(o.insertions.flatMap(\.checks)).union(o.replacements.values)
            for file in sub.checkFiles where !inserted.contains(String(file.dropLast(4))) {
                out.append(
                    LintProblem(
                        severity: .warning, file: sub.displayName(file), line: nil,
                        message: "check '\(file.dropLast(4))' never runs: overlay '\(o.id)' neither inserts it nor replaces a step with it"
                    ))
            }
        }
        return out
    }
}

extension PackLinter {
    /// Why `require(name)` in the file at `path` would find nothing at run time (a require inside
    /// `run` is only tried when the check runs), as the loader resolves it: "pack:module" from
    /// another pack's lib/, else from the lib/ of the pack or overlay the file belongs to.
    static func requireProblem(
        _ full: String, from path: String, in folder: PackFolder, libraries: [String: PackFolder]
    ) -> String? {
        let parts = full.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
        let name = parts.last ?? full
        var library = folder
        var base = ""
        if parts.count == 2 {
            guard let other = libraries[parts[0]] ?? (parts[0] == folder.name ? folder : nil) else {
                return "module '\(full)' not found: there is no pack '\(parts[0])'\(Suggest.hint(parts[0], Array(libraries.keys)))"
            }
            library = other
        } else if path.hasPrefix("overlays/"), let overlay = path.split(separator: "/").dropFirst().first {
            base = "overlays/\(overlay)/"
        }
        let wanted = base + "lib/" + name.replacing(".", with: "/") + ".lua"
        guard library.files[wanted] == nil else { return nil }
        let modules = library.files.keys.filter { $0.hasPrefix(base + "lib/") && $0.hasSuffix(".lua") }.map {
            String($0.dropFirst(base.count + 4).dropLast(4)).replacing("/", with: ".")
        }
        return "module '\(full)' not found\(Suggest.hint(name, modules)): looked for \(library.displayName(wanted))"
    }
}

/// The static reading: where the source names a parameter or a cause. It sees what is written
/// literally (`ctx.params.port`, `ctx.params["port"]`, a local alias of `ctx.params`, `cause = "x"`),
/// which is how checks are written; a name computed at run time is not seen.
enum SourceScan {
    struct Use: Equatable {
        var name: String
        var line: Int
    }

    static func paramUses(_ text: String) -> [Use] {
        var uses: [Use] = []
        var aliases: Set<String> = ["ctx.params"]
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let alias = /local\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*ctx\.params\s*(?:$|--|;)/
        for (i, raw) in lines.enumerated() {
            let line = String(raw.prefix { _ in true }).withoutLuaComment
            if let m = line.firstMatch(of: alias) { aliases.insert(String(m.1)) }
            for base in aliases {
                let escaped = base.replacing(".", with: "\\.")
                guard let dotted = try? Regex("(?:^|[^A-Za-z0-9_.])\(escaped)\\.([A-Za-z_][A-Za-z0-9_]*)"),
                    let indexed = try? Regex("(?:^|[^A-Za-z0-9_.])\(escaped)\\[\\s*[\"']([^\"']+)[\"']\\s*\\]")
                else { continue }
                for m in line.matches(of: dotted) {
                    if let name = m.output[1].substring { uses.append(Use(name: String(name), line: i + 1)) }
                }
                for m in line.matches(of: indexed) {
                    if let name = m.output[1].substring { uses.append(Use(name: String(name), line: i + 1)) }
                }
            }
        }
        return uses
    }

    static func causeUses(_ text: String) -> [Use] {
        var uses: [Use] = []
        let pattern = /(?:^|[^A-Za-z0-9_])cause\s*=\s*["']([^"']+)["']/
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            for m in String(raw).withoutLuaComment.matches(of: pattern) {
                uses.append(Use(name: String(m.1), line: i + 1))
            }
        }
        return uses
    }

    /// The first line that mentions `word` (for a declaration's line in pack.lua).
    static func line(of word: String, in text: String) -> Int? {
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where line.contains(word) {
            return i + 1
        }
        return nil
    }
}

extension String {
    /// The line without a trailing `--` comment (a `--` inside a string literal is rare enough in checks).
    fileprivate var withoutLuaComment: String {
        guard let r = range(of: "--") else { return self }
        return String(self[..<r.lowerBound])
    }

    /// A diagnostic's text without its "file:line: " prefix.
    fileprivate func afterPosition(_ d: PackDiagnostic) -> String {
        var prefix = d.file
        if let line = d.line { prefix += ":\(line)" }
        prefix += ": "
        return hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}

extension PackLinter {
    /// A pack's manifest alone (id, version), or nil when its pack.lua does not load.
    public static func manifest(_ folder: PackFolder) -> PackManifest? {
        guard let runtime = try? LuaRuntime(), let loader = try? PackLoader(runtime: runtime) else { return nil }
        return loader.loadManifest(folder)
    }

    /// The manifests of the packs built into the binary.
    public static func bundledManifests() -> [PackManifest] {
        PackCatalog.discover(environment: [:]).packs.filter { $0.origin == .bundled }.compactMap(manifest)
            .sorted { $0.id < $1.id }
    }
}
