import ArgumentParser

@main
struct PortDoctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "portdoctor",
        abstract: "Find out why two computers cannot connect on a TCP port, and what to do about it.",
        discussion: """
            The troubleshooting knowledge lives in Lua check packs. Run the bundled pack with
            `portdoctor run crashplan`.
            """,
        subcommands: [RunCommand.self, BenchCommand.self]
    )
}
