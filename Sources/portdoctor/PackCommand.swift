import ArgumentParser

/// `portdoctor pack …`: tools for pack authors.
struct PackCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pack",
        abstract: "Tools for pack authors.",
        subcommands: [PackTestCommand.self])
}
