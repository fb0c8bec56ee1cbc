import Foundation
import PackagePlugin

/// Compiles the packs in `Checks/` into the binary, so an installed portdoctor carries them.
/// Every file under `Checks/` is an input: editing a check rebuilds the embedded copy.
@main
struct EmbedChecks: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let checks = context.package.directoryURL.appending(path: "Checks")
        var inputs: [URL] = []
        if let walker = FileManager.default.enumerator(at: checks, includingPropertiesForKeys: nil) {
            for case let url as URL in walker where url.pathExtension == "lua" { inputs.append(url) }
        }
        // The LuaLS stubs travel with the binary too: `pack new` writes a copy next to a new pack.
        let stubs = context.package.directoryURL.appending(path: "Docs/lua/portdoctor.lua")
        inputs.append(stubs)
        let output = context.pluginWorkDirectoryURL.appending(path: "BundledCheckFiles.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(inputs.count) check files from Checks/",
                executable: try context.tool(named: "CheckEmbedder").url,
                arguments: [checks.path, output.path, "portdoctor.lua=" + stubs.path],
                inputFiles: inputs.sorted { $0.path < $1.path },
                outputFiles: [output])
        ]
    }
}
