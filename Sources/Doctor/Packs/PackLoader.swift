import LuaHost

/// A pack after loading: its manifest, its checks, and every problem found on the way.
public struct LoadedPack {
    public var folder: PackFolder
    public var manifest: PackManifest?
    public var checks: [String: CheckDefinition]
    public var overlays: [OverlayDefinition]
    public var diagnostics: [PackDiagnostic]
}

/// Evaluates pack, check and overlay files in a runtime and turns them into definitions.
/// Definition files run as sandboxed checks of their own, under tight limits.
public final class PackLoader {
    static let definitionLimits = LuaLimits(instructions: 20_000_000, memoryBytes: 32 << 20, wallClock: .seconds(5))

    let runtime: LuaRuntime
    /// Folders whose `lib/` modules `require` can load, by name.
    private var folders: [String: PackFolder] = [:]
    /// Other packs whose `lib/` modules can be required as "pack:module", by pack id.
    public var libraries: [String: PackFolder] = [:]

    /// The files being evaluated, by the task that runs each: the DSL functions find their file's
    /// definitions through the calling task, so no file's parse state lives in the loader itself.
    private var evaluating: [ObjectIdentifier: FileDefinitions] = [:]
    /// The engine prelude's strict-params wrapper, its table of check functions by key, and its
    /// table of declared parameter names by pack id (see `enginePrelude`).
    private var strictCall: LuaRef?
    private var strictFunctions: LuaRef?
    private var declaredParams: LuaRef?
    private var strictKeys = 0

    public init(runtime: LuaRuntime) throws(LuaError) {
        self.runtime = runtime
        try runtime.extendAPI(
            lua: enginePrelude, name: "engine",
            hostFunctions: [
                "pack": HostFunction { [unowned self] call in try self.definePack(call) },
                "check": HostFunction { [unowned self] call in try self.defineCheck(call) },
                "overlay": HostFunction { [unowned self] call in try self.defineOverlay(call) },
                "find_module": HostFunction { [unowned self] call in try self.findModule(call) },
                "share": HostFunction { [unowned self] call in
                    self.strictFunctions = call.reference(1)
                    self.strictCall = call.reference(2)
                    self.declaredParams = call.reference(3)
                    return .none
                },
                // The file of the Lua code that called the function calling this (skipping the engine's own).
                "caller_chunk": HostFunction { call in call.returning(call.callerPosition.map { .text($0.chunk) } ?? .nil) },
                // " (did you mean 'port'?)" for a misspelt ctx.params field, or "".
                "suggest": HostFunction { call in
                    let names = try call.string(2).split(separator: " ").map(String.init)
                    return call.returning(.text(Suggest.hint(try call.string(1), names)))
                },
            ])
    }

    // MARK: loading folders

    public func loadPack(_ folder: PackFolder) -> LoadedPack {
        folders[folder.name] = folder
        let defined = evaluate(folder, "pack.lua")
        var diagnostics = defined.diagnostics
        if defined.manifest == nil && diagnostics.isEmpty {
            diagnostics.append(
                PackDiagnostic(
                    file: folder.displayName("pack.lua"), line: nil, subject: nil,
                    message: "does not define a pack: end it with `return pack { id = …, steps = { … } }`"))
        }
        let loadedManifest = defined.manifest
        var packDiagnostics = diagnostics
        let found = loadChecks(of: folder, into: &packDiagnostics)

        var overlays: [OverlayDefinition] = []
        for sub in folder.subfolders(under: "overlays") where sub.isOverlay {
            let (o, d) = loadOverlayFolder(sub, isUserOverlay: false)
            packDiagnostics += d
            if let o { overlays.append(o) }
        }
        return LoadedPack(
            folder: folder, manifest: loadedManifest, checks: found, overlays: overlays,
            diagnostics: packDiagnostics)
    }

    /// Only a pack's manifest (its pack.lua), for what other packs declare; nil if it does not load.
    public func loadManifest(_ folder: PackFolder) -> PackManifest? {
        folders[folder.name] = folder
        let defined = evaluate(folder, "pack.lua")
        return defined.diagnostics.isEmpty ? defined.manifest : nil
    }

    /// An overlay folder (overlay.lua plus the checks it brings).
    public func loadOverlay(_ folder: PackFolder, isUserOverlay: Bool) -> (OverlayDefinition?, [PackDiagnostic]) {
        loadOverlayFolder(folder, isUserOverlay: isUserOverlay)
    }

    private func loadOverlayFolder(_ folder: PackFolder, isUserOverlay: Bool) -> (OverlayDefinition?, [PackDiagnostic])
    {
        folders[folder.name] = folder
        let defined = evaluate(folder, "overlay.lua")
        var diagnostics = defined.diagnostics
        if defined.overlay == nil && diagnostics.isEmpty {
            diagnostics.append(
                PackDiagnostic(
                    file: folder.displayName("overlay.lua"), line: nil, subject: nil,
                    message: "does not define an overlay: end it with `return overlay { extends = …, … }`"))
        }
        var result = defined.overlay
        var found = diagnostics
        let checks = loadChecks(of: folder, into: &found)
        result?.checks = checks
        result?.isUserOverlay = isUserOverlay
        result?.diagnostics = found
        return (result, found)
    }

    private func loadChecks(of folder: PackFolder, into allDiagnostics: inout [PackDiagnostic]) -> [String:
        CheckDefinition]
    {
        var found: [String: CheckDefinition] = [:]
        for name in folder.checkFiles {
            let defined = evaluate(folder, name)
            var diagnostics = defined.diagnostics
            let checks = defined.checks
            let stepName = String(name.dropLast(4))
            if checks.isEmpty && diagnostics.isEmpty {
                diagnostics.append(
                    PackDiagnostic(
                        file: folder.displayName(name), line: nil, subject: nil,
                        message:
                            "does not define a check: end it with `return check { title = …, run = function(ctx) … end }`",
                        step: stepName))
            }
            if checks.count > 1 {
                diagnostics.append(
                    PackDiagnostic(
                        file: folder.displayName(name), line: checks[1].line, subject: nil,
                        message: "defines \(checks.count) checks; put each check in a file of its own", step: stepName))
            }
            // Diagnostics of a check file belong to its step, so a broken check becomes that step's error.
            allDiagnostics += diagnostics.map {
                var d = $0; d.step = d.step ?? stepName; return d
            }
            if diagnostics.isEmpty, let check = checks.first { found[check.id] = check }
        }
        return found
    }

    /// Runs one definition file as a sandboxed task; what it defines arrives through the DSL functions.
    private func evaluate(_ folder: PackFolder, _ name: String) -> FileDefinitions {
        let defined = FileDefinitions(
            file: folder.displayName(name), source: folder.files[name] ?? "", stem: String(name.dropLast(4)))
        let file = defined.file
        let chunk: LuaRef
        do {
            chunk = try runtime.load(defined.source, name: file)
        } catch {
            defined.diagnostics.append(
                PackDiagnostic(
                    file: file, line: error.line, subject: nil,
                    message: LuaRuntime.stripPosition(error.message, chunk: file), kind: error.kind))
            return defined
        }
        let task = runtime.spawn(chunk, name: file, limits: PackLoader.definitionLimits)
        let key = ObjectIdentifier(task)
        evaluating[key] = defined
        defer { evaluating[key] = nil }
        runtime.run()
        if case .failure(let error)? = task.outcome {
            defined.diagnostics.append(
                PackDiagnostic(
                    file: file, line: error.line, subject: nil,
                    message: LuaRuntime.stripPosition(error.message, chunk: file), kind: error.kind))
        }
        return defined
    }

    /// The definitions of the file whose task is calling: `pack`, `check` and `overlay` work only
    /// while their file is evaluated.
    private func defining(_ call: LuaCall) throws -> FileDefinitions {
        guard let task = call.runtime.currentTask, let defined = evaluating[ObjectIdentifier(task)] else {
            throw LuaScriptError("\(call.name) { … } defines a pack: it works only in a pack's own files, as they load")
        }
        return defined
    }

    // MARK: the DSL

    private func reader(_ call: LuaCall, _ defined: FileDefinitions, kind: String, subject: String, step: String?)
        throws -> DefinitionReader
    {
        guard call.stack.luaType(at: 1) == .table else {
            throw LuaScriptError("\(kind) { … } takes a table of fields, got \(call.stack.luaType(at: 1).name)")
        }
        let line = call.callerPosition?.line
        return DefinitionReader(
            call: call, table: 1, file: defined.file, source: defined.source, line: line, subject: subject, step: step)
    }

    private func definePack(_ call: LuaCall) throws -> LuaReturn {
        let defined = try defining(call)
        let file = defined.file
        guard file.hasSuffix("/pack.lua") else {
            throw LuaScriptError("pack { … } belongs in pack.lua, not in \(file)")
        }
        var r = try reader(call, defined, kind: "pack", subject: "pack", step: nil)
        let id = r.string("id", required: true) ?? ""
        r.subject = "pack '\(id)'"
        r.rejectUnknownFields(["id", "version", "title", "description", "params", "steps", "causes", "limits"])
        let version = r.string("version", required: true) ?? "0"
        let title = r.string("title", required: true) ?? id
        let description = r.string("description") ?? ""
        let steps = r.strings("steps", what: "check ids")
        if steps.isEmpty { r.problem("steps", "must list the checks to run, in order") }
        for (i, step) in steps.enumerated() where steps[..<i].contains(step) {
            r.problem("steps", "lists '\(step)' twice")
        }
        var parameters: [ParameterSpec] = []
        r.entries("params") { name, p in
            if let spec = Self.parameter(name, &p) { parameters.append(spec) }
        }
        var causes: [String: String] = [:]
        if case .table(let t) = r.data("causes") {
            for (k, v) in t.fields {
                guard let key = k.stringValue, let doc = v.stringValue else {
                    r.problem("causes", "must map cause names to a sentence describing them")
                    continue
                }
                causes[key] = doc
            }
        }
        let limits =
            r.nested("limits") { l in
                l.subject = "pack '\(id)': limits"
                l.rejectUnknownFields(["timeout", "instructions", "memory"])
                return l.limits()
            } ?? LimitRequest()
        defined.diagnostics += r.diagnostics
        if let declaredParams {
            call.push(declaredParams)
            call.push(.table(LuaTable(fields: Dictionary(uniqueKeysWithValues: parameters.map { (.text($0.name), .boolean(true)) }))))
            call.stack.setField(id, ofTableAt: -2)
            call.stack.pop()
        }
        defined.manifest = PackManifest(
            id: id, version: version, title: title, description: description,
            parameters: parameters.sorted { $0.name < $1.name }, steps: steps,
            causes: causes, limits: limits, file: file)
        call.pushArgument(1)
        return .values(1)
    }

    static func parameter(_ name: String, _ p: inout DefinitionReader) -> ParameterSpec? {
        let before = p.diagnostics.count
        p.subject = p.subject + ": parameter '\(name)'"
        p.rejectUnknownFields(["type", "default", "doc", "choices", "required", "secret"])
        let typeName = p.string("type", required: true) ?? "string"
        var type: ParameterType
        switch typeName {
        case "port": type = .port
        case "endpoint": type = .endpoint
        case "host": type = .host
        case "integer": type = .integer
        case "boolean": type = .boolean
        case "string": type = .string
        case "choice":
            let choices = p.strings("choices", what: "choices")
            if choices.isEmpty { p.problem("choices", "must list the allowed values of a choice parameter") }
            type = .choice(choices)
        default:
            p.problem(
                "type",
                "must be one of \(ParameterType.names.joined(separator: ", ")), not '\(typeName)'\(Suggest.hint(typeName, ParameterType.names))"
            )
            type = .string
        }
        let doc = p.string("doc", required: true) ?? ""
        var defaultText: String?
        switch p.data("default") {
        case .nil: break
        case .integer(let i): defaultText = String(i)
        case .number(let d): defaultText = String(d)
        case .boolean(let b): defaultText = String(b)
        case .string(let s): defaultText = s.description
        default: p.problem("default", "must be a string, number or boolean")
        }
        let spec = ParameterSpec(
            name: name, type: type, defaultText: defaultText, doc: doc,
            required: p.boolean("required") ?? false, secret: p.boolean("secret") ?? false)
        if let defaultText, case .failure(let e) = ParameterValue.parse(defaultText, as: spec) {
            p.problem("default", "is not a valid \(type): \(e.reason)")
        }
        return p.diagnostics.count == before ? spec : nil
    }

    private func defineCheck(_ call: LuaCall) throws -> LuaReturn {
        let defined = try defining(call)
        let (file, stem) = (defined.file, defined.stem)
        var r = try reader(call, defined, kind: "check", subject: "check '\(stem)'", step: stem)
        r.rejectUnknownFields([
            "id", "title", "needs", "after", "next", "run", "timeout", "instructions", "memory",
            "repairs", "platforms",
        ])
        if let id = r.string("id"), id != stem {
            r.problem("id", "is '\(id)' but the file is \(stem).lua: a check's id is its file name (leave 'id' out)")
        }
        let title = r.string("title", required: true) ?? stem
        let needs = r.strings("needs", what: "check ids")
        let after = r.strings("after", what: "check ids")
        let next = r.strings("next", what: "check ids")
        let run = r.function("run", required: true)
        let limits = r.limits()
        var platforms: [Platform]?
        let platformNames = r.strings("platforms", what: "platform names")
        if !platformNames.isEmpty {
            platforms = []
            for name in platformNames {
                if let p = Platform(rawValue: name) {
                    platforms?.append(p)
                } else {
                    let all = Platform.allCases.map(\.rawValue)
                    r.problem(
                        "platforms",
                        "names unknown platform '\(name)' (one of \(all.joined(separator: ", ")))\(Suggest.hint(name, all))"
                    )
                }
            }
        }
        var repairs: [String: RepairDefinition] = [:]
        r.entries("repairs") { id, rep in
            rep.subject = "check '\(stem)': repair '\(id)'"
            rep.rejectUnknownFields(["title", "changes", "privileged", "apply"])
            let title = rep.string("title", required: true) ?? id
            let changes = rep.string("changes", required: true) ?? ""
            let privileged = rep.boolean("privileged") ?? false
            if let apply = rep.function("apply", required: true) {
                repairs[id] = RepairDefinition(
                    id: id, title: title, changes: changes, privileged: privileged, apply: apply,
                    strict: strictEntry(apply, call))
            }
        }
        defined.diagnostics += r.diagnostics
        if r.diagnostics.isEmpty, let run {
            defined.checks.append(
                CheckDefinition(
                    id: stem, title: title, file: file, line: r.line, needs: needs, after: after, next: next,
                    platforms: platforms, limits: limits, repairs: repairs,
                    fieldLines: r.fieldLines(["needs", "after", "next"]), run: run, strict: strictEntry(run, call)))
        }
        call.pushArgument(1)
        return .values(1)
    }

    /// Files `function` in the prelude's table under a new key: the runner starts it through the
    /// strict-params wrapper with that key.
    private func strictEntry(_ function: LuaRef, _ call: LuaCall) -> StrictEntry? {
        guard let strictCall, let strictFunctions else { return nil }
        strictKeys += 1
        let key = "f\(strictKeys)"
        call.push(strictFunctions)
        call.push(function)
        call.stack.setField(key, ofTableAt: -2)
        call.stack.pop()
        return StrictEntry(wrapper: strictCall, key: key)
    }

    private func defineOverlay(_ call: LuaCall) throws -> LuaReturn {
        let defined = try defining(call)
        let file = defined.file
        guard file.hasSuffix("/overlay.lua") else {
            throw LuaScriptError("overlay { … } belongs in overlay.lua, not in \(file)")
        }
        let folderName = String(file.dropLast("/overlay.lua".count))
        let defaultID = folderName.split(separator: "/").last.map(String.init) ?? folderName
        var r = try reader(call, defined, kind: "overlay", subject: "overlay '\(defaultID)'", step: nil)
        r.rejectUnknownFields(["id", "title", "extends", "when", "insert", "replace", "skip", "move"])
        let id = r.string("id") ?? defaultID
        r.subject = "overlay '\(id)'"
        let extends = r.string("extends", required: true) ?? ""
        let title = r.string("title") ?? id
        var platforms: [Platform]?
        var vendor: [String: String]?
        _ = r.nested("when") { w in
            w.rejectUnknownFields(["platform", "vendor"])
            let names = w.strings("platform", what: "platform names")
            if !names.isEmpty {
                platforms = names.compactMap { name in
                    let p = Platform(rawValue: name)
                    if p == nil { w.problem("platform", "names unknown platform '\(name)'") }
                    return p
                }
            }
            _ = w.nested("vendor") { v in
                v.rejectUnknownFields(["manufacturer", "model"])
                var match: [String: String] = [:]
                if let m = v.string("manufacturer") { match["manufacturer"] = m }
                if let m = v.string("model") { match["model"] = m }
                vendor = match
            }
        }
        var insertions: [OverlayDefinition.Insertion] = []
        func placement(_ r: inout DefinitionReader) -> OverlayDefinition.Placement? {
            let before = r.string("before"), after = r.string("after")
            switch (before, after) {
            case (let b?, nil): return .before(b)
            case (nil, let a?): return .after(a)
            default:
                r.problem(nil, "needs exactly one of 'before' or 'after'")
                return nil
            }
        }
        func readInsertion(_ i: inout DefinitionReader) {
            i.rejectUnknownFields(["before", "after", "checks"])
            let checks = i.strings("checks", what: "check ids")
            if checks.isEmpty { i.problem("checks", "must list the overlay's checks to insert") }
            if let p = placement(&i) { insertions.append(.init(placement: p, checks: checks)) }
        }
        _ = r.nested("insert") { ins in
            let keys = ins.call.stack.keys(of: ins.table)
            if keys.contains(where: { $0.intValue != nil }) {
                for k in keys {
                    guard let idx = k.intValue else { continue }
                    _ = ins.call.stack.withField(ins.table, .integer(idx)) { index -> Void in
                        var one = DefinitionReader(
                            call: ins.call, table: index, file: ins.file, source: ins.source,
                            line: ins.line, subject: ins.subject, step: nil)
                        readInsertion(&one)
                        ins.absorb(one)
                    }
                }
            } else {
                readInsertion(&ins)
            }
        }
        var replacements: [String: String] = [:]
        if case .table(let t) = r.data("replace") {
            for (k, v) in t.fields {
                if let from = k.stringValue, let to = v.stringValue {
                    replacements[from] = to
                } else {
                    r.problem(
                        "replace",
                        "must map a step to the overlay check that replaces it, like { firewall = \"pf-firewall\" }")
                }
            }
        }
        let skips = r.strings("skip", what: "check ids")
        var moves: [OverlayDefinition.Move] = []
        _ = r.nested("move") { m in
            for k in m.call.stack.keys(of: m.table) {
                guard let idx = k.intValue else {
                    m.problem(nil, "'move' must be a list like { { step = \"a\", after = \"b\" } }")
                    continue
                }
                _ = m.call.stack.withField(m.table, .integer(idx)) { index -> Void in
                    var one = DefinitionReader(
                        call: m.call, table: index, file: m.file, source: m.source,
                        line: m.line, subject: m.subject, step: nil)
                    one.rejectUnknownFields(["step", "before", "after"])
                    if let step = one.string("step", required: true), let p = placement(&one) {
                        moves.append(.init(step: step, placement: p))
                    }
                    m.absorb(one)
                }
            }
        }
        defined.diagnostics += r.diagnostics
        defined.overlay = OverlayDefinition(
            id: id, title: title, file: file, extends: extends, platforms: platforms,
            vendor: vendor, insertions: insertions, replacements: replacements, skips: skips,
            moves: moves, checks: [:], diagnostics: [])
        call.pushArgument(1)
        return .values(1)
    }

    /// The folder whose `lib/<module>.lua` decides for a whole run (the paired verdict), by the
    /// order `require` resolves in: the last applied overlay that has one (a user's overlay comes
    /// last), else the pack's own, else that of the pack `shared`, as `require("shared:module")`
    /// finds it (a pack on the search path replaces the bundled one). Nil when none has it.
    /// The folder is registered, so that code named inside it can `require(module)`.
    func deciding(_ module: String, plan: Plan, shared: String) -> PackFolder? {
        let path = "lib/" + module.replacing(".", with: "/") + ".lua"
        let overlays = plan.overlays.reversed().compactMap { folders[String($0.file.dropLast("/overlay.lua".count))] }
        let candidates = overlays + [plan.folder] + [libraries[shared] ?? folders[shared]].compactMap { $0 }
        guard let folder = candidates.first(where: { $0.files[path] != nil }) else { return nil }
        folders[folder.name] = folders[folder.name] ?? folder
        return folder
    }

    /// `require(name)`: a module from the `lib/` folder of the pack (or overlay) whose code is calling.
    private func findModule(_ call: LuaCall) throws -> LuaReturn {
        let full = try call.string(1)
        guard !full.isEmpty, full.allSatisfy({ $0.isLetter || $0.isNumber || "_-.:".contains($0) }),
            full.filter({ $0 == ":" }).count <= 1
        else {
            throw LuaScriptError(
                "bad argument #1 to 'require' (module names are letters, digits, '_', '-' and '.', optionally after 'pack:')"
            )
        }
        // "tcp-service:steps" is the module `steps` of the pack `tcp-service`: packs share code this way.
        let parts = full.split(separator: ":", maxSplits: 1).map(String.init)
        let name = parts.last!
        let folder: PackFolder
        if parts.count == 2 {
            guard let library = libraries[parts[0]] ?? folders.values.first(where: { $0.name == parts[0] }) else {
                throw LuaScriptError(
                    "module '\(full)' not found: there is no pack '\(parts[0])'\(Suggest.hint(parts[0], Array(libraries.keys)))"
                )
            }
            folders[library.name] = folders[library.name] ?? library
            folder = library
        } else {
            let caller = call.callerPosition?.chunk ?? ""
            guard
                let own = folders.values.filter({ caller.hasPrefix($0.name + "/") }).max(by: {
                    $0.name.count < $1.name.count
                })
            else {
                throw LuaScriptError("module '\(name)' not found: require works in pack and overlay files")
            }
            folder = own
        }
        let path = "lib/" + name.replacing(".", with: "/") + ".lua"
        guard let text = folder.files[path] else {
            throw LuaScriptError(
                "module '\(name)' not found: checks can require modules from their pack's lib/ folder (looked for \(folder.displayName(path)))"
            )
        }
        let chunk: LuaRef
        do { chunk = try runtime.load(text, name: folder.displayName(path)) } catch {
            throw LuaScriptError(error.description)
        }
        call.push(chunk)
        call.push(folder.displayName(path))
        return .values(2)
    }
}

/// What one definition file defines, filled in by the DSL functions while its task runs.
private final class FileDefinitions {
    let file: String
    let source: String
    /// The file's name without ".lua": a check's id.
    let stem: String
    var manifest: PackManifest?
    var checks: [CheckDefinition] = []
    var overlay: OverlayDefinition?
    var diagnostics: [PackDiagnostic] = []

    init(file: String, source: String, stem: String) {
        self.file = file
        self.source = source
        self.stem = stem
    }
}

/// Lua-side API for checks: result constructors and `require`, on top of the DSL host functions.
let enginePrelude = #"""
    local define, host = ...
    local format, type, select, pairs, error = string.format, type, select, pairs, error

    for _, status in ipairs({ "pass", "warn", "fail", "skip" }) do
      define(status, function(spec, ...)
        local r = {}
        if type(spec) == "string" then
          r.summary = select("#", ...) > 0 and format(spec, ...) or spec
        elseif type(spec) == "table" then
          for k, v in pairs(spec) do r[k] = v end
        else
          error(format("%s() takes a summary (with format arguments) or a table of fields, got %s", status, type(spec)), 2)
        end
        r.status = status
        return r
      end)
    end

    -- ctx.params is strict: reading a field the pack does not declare is an error naming it, with a
    -- suggestion, not a silent nil (a declared parameter without a value still reads as nil; so does
    -- any field read by a lib/ module, which serves packs with different parameters). The
    -- runner starts each check's run (and repair's apply) through strict_call; the loader files the
    -- functions in `functions` and each pack's parameter names in `declared`.
    local functions, declared = {}, {}
    local setmetatable, getmetatable, rawget, tostring = setmetatable, getmetatable, rawget, tostring
    local concat, sort = table.concat, table.sort
    local function strict_params(ctx)
      if type(ctx) ~= "table" then return end
      local params, pack = rawget(ctx, "params"), rawget(ctx, "pack")
      local names = type(pack) == "table" and declared[pack.id]
      if type(params) ~= "table" or not names or getmetatable(params) ~= nil then return end
      setmetatable(params, { __index = function(_, k)
        if names[k] then return nil end
        -- Shared modules (lib/) read the optional parameters of whichever pack uses them.
        local chunk = host.caller_chunk()
        if type(chunk) == "string" and chunk:find("/lib/", 1, true) then return nil end
        local list = {}
        for n in pairs(names) do list[#list + 1] = n end
        sort(list)
        error(format("ctx.params.%s is not a parameter of pack '%s'%s; it declares %s", tostring(k), pack.id,
          host.suggest(tostring(k), concat(list, " ")), #list > 0 and concat(list, ", ") or "none"), 2)
      end })
    end
    local function strict_call(key, ctx, ...)
      strict_params(ctx)
      return functions[key](ctx, ...)
    end
    host.share(functions, strict_call, declared)

    define("pack", host.pack)
    define("check", host.check)
    define("overlay", host.overlay)

    local loaded = {}
    define("require", function(name)
      local load_module, key = host.find_module(name)
      local value = loaded[key]
      if value == nil then
        value = load_module(name)
        if value == nil then value = true end
        loaded[key] = value
      end
      return value
    end)
    """#
