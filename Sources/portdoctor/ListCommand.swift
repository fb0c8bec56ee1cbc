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

    func run() throws {
        let catalog = PackCatalog.discover(environment: ProcessInfo.processInfo.environment)
        let runtime = try LuaRuntime()
        let loader = try PackLoader(runtime: runtime)
        print("Packs:")
        for folder in catalog.packs {
            let pack = loader.loadPack(folder)
            let id = folder.name.split(separator: "/").last.map(String.init) ?? folder.name
            if let m = pack.manifest {
                print("  \(m.id.padding(16)) \(m.version.padding(8)) \(m.title)  [\(folder.origin)]")
            } else {
                print(
                    "  \(id.padding(16)) (broken: \(pack.diagnostics.first?.description ?? "no manifest"))  [\(folder.origin)]"
                )
            }
        }
        if !catalog.overlays.isEmpty {
            print("Overlays:")
            for folder in catalog.overlays {
                let (overlay, problems) = loader.loadOverlay(folder, isUserOverlay: false)
                if let o = overlay {
                    var when: [String] = []
                    if let p = o.platforms { when.append(p.map(\.rawValue).joined(separator: "/")) }
                    if let v = o.vendor { when.append(v.values.sorted().joined(separator: " ")) }
                    print(
                        "  \(o.id.padding(16)) extends \(o.extends.padding(12)) \(when.isEmpty ? "always" : "when " + when.joined(separator: ", "))  [\(folder.origin)]"
                    )
                } else {
                    print("  \(folder.name) (broken: \(problems.first?.description ?? "?"))  [\(folder.origin)]")
                }
            }
        }
        for problem in catalog.problems { print("  cannot read \(problem)") }
    }
}

extension String {
    func padding(_ n: Int) -> String { count >= n ? self : self + String(repeating: " ", count: n - count) }
}
