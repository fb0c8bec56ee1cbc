/// Turns a loaded pack and the overlays that match this computer into a plan.
public enum Planner {
    public static func plan(
        _ pack: LoadedPack, manifest: PackManifest, extraOverlays: [OverlayDefinition],
        platform: Platform, vendor: [String: String]?
    ) -> Plan {
        var diagnostics = pack.diagnostics.filter { $0.step == nil }
        let stepProblems = Dictionary(grouping: pack.diagnostics.filter { $0.step != nil }, by: { $0.step! })

        var steps: [PlanStep] = manifest.steps.map { id in
            if let check = pack.checks[id] { return PlanStep(id: id, check: check, origin: manifest.id) }
            let diagnostic =
                stepProblems[id]?.first
                ?? PackDiagnostic(
                    file: manifest.file, line: nil, subject: "pack '\(manifest.id)'",
                    message: "'steps' names unknown check '\(id)'\(Suggest.hint(id, Array(pack.checks.keys)))"
                        + " (there is no \(pack.folder.name)/\(id).lua)", step: id)
            return PlanStep(id: id, check: nil, origin: manifest.id, diagnostic: diagnostic)
        }
        // Check files the steps do not mention are a pack author's mistake worth saying.
        for (id, problems) in stepProblems where !manifest.steps.contains(id) {
            diagnostics += problems
        }

        let candidates = pack.overlays + extraOverlays.filter { $0.extends == manifest.id }
        var applied: [OverlayDefinition] = []
        for overlay in candidates where matches(overlay, platform: platform, vendor: vendor) {
            diagnostics += overlay.diagnostics.filter { $0.step == nil }
            apply(overlay, to: &steps, diagnostics: &diagnostics)
            applied.append(overlay)
        }

        for i in steps.indices {
            if let platforms = steps[i].check?.platforms, !platforms.contains(platform), steps[i].skipReason == nil {
                steps[i].skipReason = "does not apply on \(platform.rawValue)"
            }
        }
        validateFlow(&steps)
        return Plan(
            manifest: manifest, folder: pack.folder, steps: steps, platform: platform, vendor: vendor,
            overlays: applied, diagnostics: diagnostics)
    }

    static func matches(_ overlay: OverlayDefinition, platform: Platform, vendor: [String: String]?) -> Bool {
        if let platforms = overlay.platforms, !platforms.contains(platform) { return false }
        if let wanted = overlay.vendor {
            guard let vendor else { return false }
            for (key, value) in wanted {
                guard let seen = vendor[key], seen.lowercased().contains(value.lowercased()) else { return false }
            }
        }
        return true
    }

    private static func apply(
        _ overlay: OverlayDefinition, to steps: inout [PlanStep], diagnostics: inout [PackDiagnostic]
    ) {
        let origin = "overlay '\(overlay.id)' (\(overlay.file))"
        func problem(_ field: String, _ message: String) {
            diagnostics.append(
                PackDiagnostic(
                    file: overlay.file, line: nil, subject: "overlay '\(overlay.id)'",
                    message: "'\(field)' \(message)"))
        }
        func overlayStep(_ id: String, field: String) -> PlanStep? {
            if let check = overlay.checks[id] { return PlanStep(id: id, check: check, origin: origin) }
            if let broken = overlay.diagnostics.first(where: { $0.step == id }) {
                return PlanStep(id: id, check: nil, origin: origin, diagnostic: broken)
            }
            problem(
                field,
                "names check '\(id)', which the overlay does not have\(Suggest.hint(id, Array(overlay.checks.keys)))")
            return nil
        }
        func position(_ placement: OverlayDefinition.Placement, field: String) -> Int? {
            let (anchor, offset) =
                switch placement {
                case .before(let a): (a, 0)
                case .after(let a): (a, 1)
                }
            guard let i = steps.firstIndex(where: { $0.id == anchor }) else {
                problem(
                    field,
                    "places checks relative to step '\(anchor)', which is not in the plan\(Suggest.hint(anchor, steps.map(\.id)))"
                )
                return nil
            }
            return i + offset
        }

        for id in overlay.skips {
            guard let i = steps.firstIndex(where: { $0.id == id }) else {
                problem("skip", "names step '\(id)', which is not in the plan\(Suggest.hint(id, steps.map(\.id)))")
                continue
            }
            steps[i].skipReason = "taken out by \(origin)"
        }
        for (old, new) in overlay.replacements.sorted(by: { $0.key < $1.key }) {
            guard let i = steps.firstIndex(where: { $0.id == old }) else {
                problem("replace", "names step '\(old)', which is not in the plan\(Suggest.hint(old, steps.map(\.id)))")
                continue
            }
            guard var replacement = overlayStep(new, field: "replace") else { continue }
            replacement.replaces = old
            steps[i] = replacement
        }
        for insertion in overlay.insertions {
            guard let at = position(insertion.placement, field: "insert") else { continue }
            let new = insertion.checks.compactMap { id -> PlanStep? in
                if steps.contains(where: { $0.id == id }) {
                    problem("insert", "inserts '\(id)', but the plan already has a step of that name")
                    return nil
                }
                return overlayStep(id, field: "insert")
            }
            steps.insert(contentsOf: new, at: at)
        }
        for move in overlay.moves {
            guard let from = steps.firstIndex(where: { $0.id == move.step }) else {
                problem(
                    "move",
                    "names step '\(move.step)', which is not in the plan\(Suggest.hint(move.step, steps.map(\.id)))")
                continue
            }
            let step = steps.remove(at: from)
            guard let to = position(move.placement, field: "move") else {
                steps.insert(step, at: from)
                continue
            }
            var moved = step
            moved.origin = step.origin == origin ? origin : "\(step.origin), moved by \(origin)"
            steps.insert(moved, at: to)
        }
    }

    /// `needs` must name steps in the plan and form no cycle; `next` must only go forward.
    private static func validateFlow(_ steps: inout [PlanStep]) {
        let aliases = Dictionary(
            steps.compactMap { s in s.replaces.map { ($0, s.id) } }, uniquingKeysWith: { a, _ in a })
        let ids = steps.map(\.id)
        func resolve(_ id: String) -> String { aliases[id] ?? id }
        func flag(_ i: Int, _ field: String, _ message: String) {
            guard steps[i].diagnostic == nil, let check = steps[i].check else { return }
            steps[i].diagnostic = PackDiagnostic(
                file: check.file, line: check.fieldLines[field] ?? check.line,
                subject: "check '\(check.id)'", message: "'\(field)' \(message)", step: check.id)
        }
        for i in steps.indices {
            for need in steps[i].needs where !ids.contains(resolve(need)) {
                flag(i, "needs", "names unknown check '\(need)'\(Suggest.hint(need, ids))")
            }
            for earlier in steps[i].after where !ids.contains(resolve(earlier)) {
                flag(i, "after", "names unknown check '\(earlier)'\(Suggest.hint(earlier, ids))")
            }
            for target in steps[i].next {
                guard let t = ids.firstIndex(of: resolve(target)) else {
                    flag(i, "next", "names unknown check '\(target)'\(Suggest.hint(target, ids))")
                    continue
                }
                if t <= i {
                    let chain = ids[t...i].joined(separator: " → ") + " → " + ids[t]
                    flag(i, "next", "goes back to '\(target)', which runs earlier: the flow would loop (\(chain))")
                }
            }
        }
        // Cycles through needs and after (both wait): depth-first, reporting the chain once for each step on it.
        var state: [String: Int] = [:]  // 1 visiting, 2 done
        var path: [String] = []
        let needs = Dictionary(uniqueKeysWithValues: steps.map { ($0.id, ($0.needs + $0.after).map(resolve)) })
        func visit(_ id: String) {
            if state[id] == 2 { return }
            if state[id] == 1 {
                let cycle = path[path.firstIndex(of: id)!...] + [id]
                for member in Set(cycle) {
                    if let i = steps.firstIndex(where: { $0.id == member }) {
                        flag(i, "needs", "forms a cycle: \(cycle.joined(separator: " → "))")
                    }
                }
                return
            }
            state[id] = 1
            path.append(id)
            for n in needs[id] ?? [] where needs[n] != nil { visit(n) }
            path.removeLast()
            state[id] = 2
        }
        for id in ids { visit(id) }
    }
}
