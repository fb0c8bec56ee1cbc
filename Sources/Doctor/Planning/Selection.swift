/// The checks a person chose with `--only` and `--skip`.
public struct CheckSelection: Sendable {
    /// Run these checks and no others (nil: every check).
    public var only: [String]?
    /// Leave these out.
    public var skip: [String] = []

    public init(only: [String]? = nil, skip: [String] = []) {
        self.only = only
        self.skip = skip
    }

    public var isEmpty: Bool { only == nil && skip.isEmpty }
}

extension Plan {
    /// Marks every step the selection leaves out as skipped, saying which option did it, and a
    /// chosen step whose `needs` were left out as skipped with that reason — so the report never
    /// shows a check that silently did not run. An id that names no step is a usage error.
    public mutating func choose(_ selection: CheckSelection) throws(DiagnosisError) {
        guard !selection.isEmpty else { return }
        // An overlay may have replaced a step: its old id still chooses it.
        let aliases = Dictionary(
            steps.compactMap { s in s.replaces.map { ($0, s.id) } }, uniquingKeysWith: { a, _ in a })
        let ids = steps.map(\.id)
        for (option, chosen) in [("--only", selection.only ?? []), ("--skip", selection.skip)] {
            for id in chosen where !ids.contains(aliases[id] ?? id) {
                throw DiagnosisError(
                    "\(option) names '\(id)', which is not a check of pack '\(manifest.id)'\(Suggest.hint(id, ids)); "
                        + "checks: \(ids.joined(separator: ", "))")
            }
        }
        let only = selection.only.map { Set($0.map { aliases[$0] ?? $0 }) }
        let skipped = Set(selection.skip.map { aliases[$0] ?? $0 })
        var leftOutBy: [String: String] = [:]
        for i in steps.indices {
            let id = steps[i].id
            let by = skipped.contains(id) ? "--skip" : only.map { $0.contains(id) ? nil : "--only" } ?? nil
            guard let by else { continue }
            leftOutBy[id] = by
            // Left out on purpose: a broken check the person chose not to run is not an error of this run.
            steps[i].diagnostic = nil
            steps[i].skipReason = "left out by \(by)"
        }
        for i in steps.indices where leftOutBy[steps[i].id] == nil && steps[i].skipReason == nil {
            if let need = steps[i].needs.first(where: { leftOutBy[aliases[$0] ?? $0] != nil }) {
                steps[i].skipReason = "needs '\(need)', which \(leftOutBy[aliases[need] ?? need]!) left out"
            }
        }
    }
}
