import ArgumentParser
import Doctor
import LuaHost

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

struct ListCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list",
        abstract: "List the packs and overlays portdoctor can see, and where each came from.",
        discussion: "Packs are bundled, or found on the search path: "
            + PackCatalog.searchPath(environment: ProcessInfo.processInfo.environment).joined(separator: ", ")
            + " (set PORTDOCTOR_PATH to add folders). A pack on the search path replaces a bundled pack of the same id."
    )

    @OptionGroup var output: OutputOptions

    func run() throws {
        let catalog = PackCatalog.discover(environment: ProcessInfo.processInfo.environment)
        let runtime = try LuaRuntime()
        let loader = try PackLoader(runtime: runtime)
        var lines = ["Packs:"]
        var packs: [JSONValue] = []
        for folder in catalog.packs {
            let pack = loader.loadPack(folder)
            let id = folder.name.split(separator: "/").last.map(String.init) ?? folder.name
            if let m = pack.manifest {
                lines.append("  \(m.id.padding(16)) \(m.version.padding(8)) \(m.title)  [\(folder.origin)]")
            } else {
                lines.append(
                    "  \(id.padding(16)) (broken: \(pack.diagnostics.first?.description ?? "no manifest"))  [\(folder.origin)]"
                )
            }
            packs.append(
                .object([
                    "id": .string(pack.manifest?.id ?? id),
                    "version": pack.manifest.map { .string($0.version) } ?? .null,
                    "title": pack.manifest.map { .string($0.title) } ?? .null,
                    "origin": .string(folder.origin.description),
                    "error": pack.manifest == nil
                        ? pack.diagnostics.first.map { JSONReporter.error($0.error) }
                            ?? .object(["kind": .string("load"), "message": .string("no manifest")]) : .null,
                ]))
        }
        var overlays: [JSONValue] = []
        if !catalog.overlays.isEmpty {
            lines.append("Overlays:")
            for folder in catalog.overlays {
                let (overlay, problems) = loader.loadOverlay(folder, isUserOverlay: false)
                if let o = overlay {
                    var when: [String] = []
                    if let p = o.platforms { when.append(p.map(\.rawValue).joined(separator: "/")) }
                    if let v = o.vendor { when.append(v.values.sorted().joined(separator: " ")) }
                    lines.append(
                        "  \(o.id.padding(16)) extends \(o.extends.padding(12)) \(when.isEmpty ? "always" : "when " + when.joined(separator: ", "))  [\(folder.origin)]"
                    )
                } else {
                    lines.append("  \(folder.name) (broken: \(problems.first?.description ?? "?"))  [\(folder.origin)]")
                }
                overlays.append(
                    .object([
                        "id": .string(overlay?.id ?? folder.name),
                        "extends": overlay.map { .string($0.extends) } ?? .null,
                        "platforms": overlay?.platforms.map { .array($0.map { .string($0.rawValue) }) } ?? .null,
                        "vendor": overlay?.vendor.map { .object($0.mapValues(JSONValue.string)) } ?? .null,
                        "origin": .string(folder.origin.description),
                        "error": overlay == nil ? problems.first.map { JSONReporter.error($0.error) } ?? .null : .null,
                    ]))
            }
        }
        for problem in catalog.problems { lines.append("  cannot read \(problem)") }
        output.print(
            .object([
                "packs": .array(packs), "overlays": .array(overlays),
                "problems": .array(catalog.problems.map { .string("\($0)") }),
            ])
        ) { lines.joined(separator: "\n") }
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
