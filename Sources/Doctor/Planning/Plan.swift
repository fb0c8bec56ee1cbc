/// One step of a resolved plan.
public struct PlanStep {
    public let id: String
    /// Nil when the check could not be loaded: the step then reports `diagnostic` as an error.
    public let check: CheckDefinition?
    /// "crashplan" for the pack's own steps, "overlay 'openwrt' (vendors/openwrt/overlay.lua)" otherwise.
    public var origin: String
    public var diagnostic: PackDiagnostic?
    /// Set when an overlay took the step out, or the check does not apply on this platform.
    public var skipReason: String?
    /// The step this one replaced, if an overlay put it in another's place.
    public var replaces: String?

    public var title: String { check?.title ?? id }
    public var needs: [String] { check?.needs ?? [] }
    public var after: [String] { check?.after ?? [] }
    public var next: [String] { check?.next ?? [] }
}

/// A pack's steps in order, after overlays, with everything wrong with it found up front.
public struct Plan {
    public let manifest: PackManifest
    public let folder: PackFolder
    public var steps: [PlanStep]
    public let platform: Platform
    public let vendor: [String: String]?
    public var overlays: [OverlayDefinition]
    /// Problems that belong to no single step (a broken overlay): reported as `error` findings too.
    public var diagnostics: [PackDiagnostic]

    public func index(of id: String) -> Int? { steps.firstIndex { $0.id == id } }
}
