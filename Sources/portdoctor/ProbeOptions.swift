import ArgumentParser
import Probes

// The values the `probe` subcommands share, each parsed and checked in one place, so that every
// probe takes a port, a protocol or a family the same way and refuses a bad one in the same words.
// (Ports given as options, `--port`, `--map`, go through `Validate.port`: the same rule, `PortNumber`.)

/// PORT, given as an argument: `probe connect HOST PORT`, `probe udp IP PORT`, `probe bind PORT`.
struct PortArgument: ParsableArguments {
    @Argument(help: "Port (1–65535).") var port: Int

    func validate() throws { try Validate.port(port) }

    var number: UInt16 { UInt16(port) }
}

/// `--proto tcp|udp`.
enum ProtoChoice: String, CaseIterable, ExpressibleByArgument {
    case tcp, udp
    var proto: SocketEntry.Proto { self == .tcp ? .tcp : .udp }
}

/// `--family ipv4|ipv6`.
enum FamilyChoice: String, CaseIterable, ExpressibleByArgument {
    case ipv4, ipv6
}

/// `--direction in|out`: a connection to this computer or from it.
enum DirectionChoice: String, CaseIterable, ExpressibleByArgument {
    case `in`, out
}
