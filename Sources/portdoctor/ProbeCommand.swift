import ArgumentParser
import Bindings
import Doctor
import Probes
import Reactor

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Each primitive from the shell: JSON for scripts (`--format json`), a line for people.
struct ProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "probe",
        abstract: "Run one primitive from the shell (what checks see), for support and scripting.",
        subcommands: [
            ConnectProbe.self, UDPProbe.self, BindProbeCommand.self, NetstatProbe.self, FirewallProbe.self,
            ServiceProbe.self, ReflectProbe.self, NATPMPProbe.self, PCPProbe.self, AddressesProbe.self, UPnPProbe.self,
            STUNProbe.self, NATProbe.self,
        ]
    )
}

struct ConnectProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connect",
        abstract: "TCP connect to HOST:PORT (every address in turn) and say how it ended.",
        discussion:
            "Outcomes: connected, refused, timeout, host-unreachable, net-unreachable, reset, blocked-locally, dns-not-found, dns-temporary, failed. Exit status 0 when connected, 1 otherwise."
    )

    @Argument(help: "Host name or address.") var host: String
    @OptionGroup var target: PortArgument
    @Option(help: "Seconds to wait for each address.") var timeout: Double = 3
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.seconds(timeout, "--timeout", max: 300)
        guard !host.isEmpty else { throw ValidationError("the host is empty") }
    }

    func run() throws {
        let loop = EventLoop()
        var outcome: ConnectResult?
        TCPProbe.connect(
            host: host, port: target.number, options: .init(timeout: .milliseconds(Int64(timeout * 1000))),
            on: loop
        ) { result, _ in outcome = result }
        while outcome == nil { loop.turn(until: nil) }
        let r = outcome!
        output.print(JSONValue(observing: r)) {
            var lines = [
                "\(SocketAddress.text(host: r.host, port: Int(r.port))): \(r.status.rawValue)"
                    + (r.rttMilliseconds.map { " in \(Int($0.rounded())) ms" } ?? "")
                    + (r.local.map { " (from \($0))" } ?? "") + (r.error.map { " — \($0)" } ?? "")
            ]
            if r.attempts.count > 1 {
                lines += r.attempts.map {
                    "  \($0.remote): \($0.status.rawValue)" + ($0.error.map { " — \($0)" } ?? "")
                }
            }
            return lines.joined(separator: "\n")
        }
        if r.status != .connected { throw ExitCode(1) }
    }
}

struct BindProbeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bind",
        abstract: "Could a program listen on PORT here? If not, who holds it.",
        discussion: "Exit status 0 when the port is free, 1 otherwise."
    )

    @OptionGroup var target: PortArgument
    @Option(help: "Address to bind (0.0.0.0, ::, 127.0.0.1, …).") var address = "0.0.0.0"
    @Option(help: "tcp or udp.") var proto = ProtoChoice.tcp
    @OptionGroup var output: OutputOptions

    func run() throws {
        let r = BindProbe.test(port: target.number, address: address, proto: proto.proto)
        output.print(JSONValue(observing: r)) {
            var line =
                "\(proto) \(r.address): \(r.status.rawValue)"
                + (r.error.map { r.status == .free ? "" : " — \($0)" } ?? "")
            for h in r.holders {
                line +=
                    "\n  held by \(h.owner.map { "\($0.program) (pid \($0.pid))" } ?? "an unknown process") on \(h.local)"
            }
            return line
        }
        if r.status != .free { throw ExitCode(1) }
    }
}

struct NetstatProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "netstat",
        abstract: "The socket table: protocol, state, addresses, what the bound address means, and the owner."
    )

    @Option(help: "Only this local port.") var port: Int?
    @Option(help: "tcp or udp.") var proto: ProtoChoice?
    @Option(help: "Only this state (LISTEN, ESTABLISHED, UNCONN, …).") var state: String?
    @Flag(help: "Leave out owners (faster).") var noOwners = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.port(port, "--port")
    }

    func run() throws {
        var query = SocketQuery(withOwners: !noOwners)
        if let proto { query.protocols = [proto.proto] }
        if let state { query.states = [state.uppercased()] }
        if let port { query.port = UInt16(port) }
        let entries = SocketTable.list(query)
        output.print(JSONValue(observing: entries)) {
            entries.map { e in
                "\(e.proto) \(e.state.padding(11)) \(e.local.description.padding(28)) \((e.remote?.description ?? "*").padding(28)) "
                    + "\(e.scope.rawValue)\(e.dualStack == true ? "+ipv4" : "")  "
                    + (e.owner.map { "\($0.program)/\($0.pid)" } ?? e.access.map { "(owner: \($0))" } ?? "")
            }.joined(separator: "\n")
        }
    }
}

struct UDPProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "udp",
        abstract: "Send one UDP datagram to IP:PORT and wait for a reply.",
        discussion: "For NAT-PMP, STUN and other UDP protocols. Exit status 0 when a reply came, 1 otherwise."
    )

    @Argument(help: "Numeric IPv4 or IPv6 address.") var ip: String
    @OptionGroup var target: PortArgument
    @Option(help: "What to send, as text (\\xNN escapes allowed).") var send = ""
    @Option(help: "Hop limit (the multicast TTL for a multicast address).") var ttl: Int?
    @Option(help: "Seconds to wait for a reply.") var timeout: Double = 2
    @OptionGroup var output: OutputOptions

    struct Outcome {
        var sent: Int
        var status: String
        var reply: String?
        var from: SocketAddress?

        /// As `sock:receivefrom` gives it to checks, in one table.
        var json: JSONValue {
            var o: [String: JSONValue] = ["sent": .int(Int64(sent)), "status": .string(status)]
            if let reply { o["reply"] = .string(reply) }
            if let from { o["from"] = JSONValue(observing: from) }
            return .object(o)
        }
    }

    func validate() throws {
        guard SocketAddress(numeric: ip, port: 1) != nil else {
            throw ValidationError("'\(ip)' is not a numeric address")
        }
        if let ttl, !(1...255).contains(ttl) { throw ValidationError("--ttl must be 1 to 255") }
        try Validate.seconds(timeout, "--timeout", max: 300)
    }

    /// "\x00\x00" and plain text alike.
    static func bytes(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        var chars = Array(text.utf8)[...]
        while let c = chars.first {
            if c == UInt8(ascii: "\\"), chars.count >= 4, chars[chars.startIndex + 1] == UInt8(ascii: "x"),
                let v = UInt8(String(decoding: chars.dropFirst(2).prefix(2), as: UTF8.self), radix: 16)
            {
                out.append(v)
                chars = chars.dropFirst(4)
            } else {
                out.append(c)
                chars = chars.dropFirst()
            }
        }
        return out
    }

    func run() throws {
        let to = SocketAddress(numeric: ip, port: target.number)!
        let loop = EventLoop()
        let socket = try UDPSocket(family: to.family, on: loop)
        let sent = (try? socket.send(Self.bytes(send), to: to, ttl: ttl).get()) ?? -1
        var got: Result<([UInt8], SocketAddress), UDPSocket.Failure>?
        socket.receive(max: 65536, timeout: .milliseconds(Int64(timeout * 1000))) { got = $0 }
        while got == nil { loop.turn(until: nil) }
        var outcome = Outcome(sent: sent, status: "timeout")
        if case .success(let (bytes, from))? = got {
            outcome.status = "reply"
            outcome.reply = bytes.map { b in
                b >= 32 && b < 127 ? String(UnicodeScalar(b)) : "\\x" + (b < 16 ? "0" : "") + String(b, radix: 16)
            }.joined()
            outcome.from = from
        } else if case .failure(let f)? = got {
            outcome.status = f.rawValue
        }
        output.print(outcome.json) {
            "sent \(sent) bytes to \(to): "
                + (outcome.reply.map { "reply from \(outcome.from!): \($0)" } ?? outcome.status)
        }
        if outcome.status != "reply" { throw ExitCode(1) }
    }
}

struct FirewallProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewall",
        abstract: "Would this computer's firewall let a connection on PORT through? allow, drop, reject or unknown.",
        discussion:
            "Reads the real ruleset (nft -j list ruleset; needs root: without it the answer is no-permission). For IPv6 it also says whether incoming ICMPv6 neighbour discovery gets in (without it nothing arrives over IPv6). Exit status 0 for allow, 1 for drop or reject (of the connection, or over IPv6 of neighbour discovery), 2 for unknown or no-permission."
    )

    @Option(help: "The port: on this computer (in) or on the other one (out).") var port: Int
    @Option(help: "in or out.") var direction = DirectionChoice.in
    @Option(help: "tcp or udp.") var proto = ProtoChoice.tcp
    @Option(help: "The other computer's address, when a rule depends on it.") var remote: String?
    @Option(help: "The interface the connection uses (default: not loopback).") var interface: String?
    @Option(help: "The program that listens (macOS and Windows decide per program).") var program: String?
    @Option(help: "ipv4 or ipv6: the family asked about when no --remote says it (default ipv4).")
    var family: FamilyChoice?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.port(port, "--port")
    }

    func run() throws {
        let q = FirewallQuestion(
            direction: direction == .in ? .inbound : .outbound, proto: proto.proto,
            port: UInt16(port), remote: remote, interface: interface, program: program,
            family: family.map { $0 == .ipv4 ? .ipv4 : .ipv6 })
        let v = Firewall.verdict(for: q)
        output.print(JSONValue(observing: FirewallObservation(v, family: q.isIPv6 ? .ipv6 : .ipv4))) {
            var lines = [
                "\(proto) \(direction == .in ? "inbound to" : "outbound to") port \(port)\(q.isIPv6 ? " over IPv6" : ""): "
                    + "\(v.decision.rawValue) (\(v.tool))"
            ]
            if let rule = v.rule { lines.append("  decided by: \(rule)") }
            if let note = v.note { lines.append("  \(note)") }
            if let fix = v.fix { lines.append("  to open it: \(fix)") }
            if let nd = v.neighbourDiscovery {
                lines.append(
                    "ICMPv6 neighbour discovery in (\(nd.packet == .solicitation ? "solicitation" : "advertisement")): "
                        + nd.decision.rawValue + (nd.rule.map { " by \($0)" } ?? ""))
                if let note = nd.note { lines.append("  \(note)") }
                if let fix = nd.fix { lines.append("  to let it in: \(fix)") }
            }
            return lines.joined(separator: "\n")
        }
        // Neighbour discovery refused: nothing arrives over IPv6, the TCP packet's allow notwithstanding.
        if v.decision == .allow, let nd = v.neighbourDiscovery, nd.decision == .drop || nd.decision == .reject {
            throw ExitCode(1)
        }
        switch v.decision {
        case .allow: return
        case .unknown, .noPermission: throw ExitCode(2)
        default: throw ExitCode(1)
        }
    }
}

struct ServiceProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service",
        abstract:
            "Is a service installed and running? With --restart-command, how it would be restarted (nothing is changed).",
        discussion:
            "Managers: systemd, systemd-user (systemctl --user), launchd, windows-scm, openrc, runit (a name or a service directory), supervisord. Exit status 0 when running, 1 when not, 2 when no manager knows it or the manager would not tell this user (no-permission)."
    )

    @Argument(help: "The service name (or, for runit, its directory).") var name: String
    @Option(help: "Use this manager instead of detecting one.") var manager: String?
    @Option(
        help:
            "supervisord: its config file, for supervisorctl -c (default: the one the running supervisord was started with)."
    ) var config: String?
    @Flag(help: "Print the exact restart command instead (a dry run).") var restartCommand = false
    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let manager, ServiceManager(rawValue: manager) == nil {
            throw ValidationError(
                "--manager must be one of \(ServiceManager.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() throws {
        let m = manager.flatMap(ServiceManager.init(rawValue:))
        if restartCommand {
            let status = Services.status(name, manager: m, config: config)
            guard let chosen = m ?? status?.manager ?? Services.detect().first else {
                throw Failure("no service manager found on this computer")
            }
            let file = chosen == .supervisord ? config ?? Services.runningSupervisordConfig() : nil
            let command = Services.restartCommands(name, chosen, config: file).map { $0.joined(separator: " ") }
                .joined(separator: " && ")
            let installed = status?.installed ?? false
            output.print(
                .object([
                    "name": .string(name), "manager": .string(chosen.rawValue), "restart_command": .string(command),
                    "installed": .bool(installed),
                ])
            ) {
                installed
                    ? command : "\(name) is not installed (\(chosen.rawValue)); once it is, this restarts it: \(command)"
            }
            // The same exit status as without --restart-command: a command for nothing is no answer.
            if !installed { throw ExitCode(2) }
            return
        }
        guard let s = Services.status(name, manager: m, config: config) else {
            throw Failure("no service manager found on this computer")
        }
        output.print(JSONValue(observing: s)) {
            if let why = s.accessError, s.access != nil {
                return "\(s.name) (\(s.manager.rawValue)): cannot tell without administrator rights — \(why)"
            }
            return "\(s.name) (\(s.manager.rawValue)): "
                + (s.installed ? (s.running ? "running" : "not running") : "not installed")
                + " — \(s.state)" + (s.pid.map { ", pid \($0)" } ?? "")
                + (s.enabled.map { $0 ? ", starts at boot" : ", not started at boot" } ?? "")
        }
        if !s.installed || s.access != nil { throw ExitCode(2) }
        if !s.running { throw ExitCode(1) }
    }
}

struct ReflectProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reflect",
        abstract:
            "Ask a reflector (`portdoctor listen` elsewhere) what address it sees, and to connect back to a port here.",
        discussion:
            "Exit status 0 when the reflector answered (and, with --connect-back, reached the port), 1 otherwise."
    )

    @Argument(help: "The reflector, as host or host:port.") var reflector: String
    @Option(help: "Ask it to connect back to this port on this computer.") var connectBack: Int?
    @Option(help: "The reflector's shared token.") var token: String?
    @Option(help: "Seconds to wait.") var timeout: Double = 5
    @OptionGroup var output: OutputOptions

    func validate() throws {
        _ = try Validate.endpoint(reflector, defaultPort: ReflectorProtocol.defaultPort)
        try Validate.port(connectBack, "--connect-back")
        try Validate.seconds(timeout, "--timeout", max: 60)
    }

    func run() throws {
        let (host, port) = try Validate.endpoint(reflector, defaultPort: ReflectorProtocol.defaultPort)
        let loop = EventLoop()
        var outcome: ReflectorClient.Outcome?
        ReflectorClient.ask(
            host: host, port: port, connectBack: connectBack.map { UInt16($0) }, token: token,
            timeout: .milliseconds(Int64(timeout * 1000)), on: loop
        ) { outcome = $0 }
        while outcome == nil { loop.turn(until: nil) }
        switch outcome! {
        case .reply(let r):
            output.print(JSONValue(observing: outcome!)) {
                guard r.ok else { return "the reflector refused: \(r.error ?? "?")" }
                var line = "the reflector sees this computer as \(r.seen ?? "?")"
                if let cb = r.connect_back { line += "; connecting back to port \(cb.port): \(cb.status)" }
                return line
            }
            if !r.ok || (r.connect_back.map { $0.status != "connected" } ?? false) { throw ExitCode(1) }
        case .unreachable(let c):
            output.print(JSONValue(observing: outcome!)) {
                "cannot reach the reflector at \(SocketAddress.text(host: host, port: Int(port))): \(c.status.rawValue)"
            }
            throw ExitCode(1)
        case .garbled(let text):
            throw Failure("\(SocketAddress.text(host: host, port: Int(port))) is not a portdoctor reflector (it said: \(text))")
        }
    }
}

struct NATPMPProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "natpmp",
        abstract: "Ask the router over NAT-PMP for its external address — or, with --map, to forward a port here.",
        discussion:
            "Without --map nothing is changed. Exit status 0 when the router answered with an address (or made the mapping), 1 otherwise."
    )

    @Option(help: "The gateway (default: this computer's default IPv4 gateway).") var gateway: String?
    @Option(help: "Ask the router to forward this TCP port (same number outside) to this computer.") var map: Int?
    @Option(help: "With --map: seconds the mapping lasts (0 removes it).") var lifetime = 3600
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.port(map, "--map")
        guard (0...604_800).contains(lifetime) else { throw ValidationError("--lifetime must be 0 to 604800 seconds") }
    }

    func run() throws {
        guard let gw = gateway ?? Gateway.defaultIPv4() else {
            throw Failure("no default IPv4 gateway; give one with --gateway")
        }
        guard SocketAddress(numeric: gw, port: 1)?.family == .ipv4 else {
            throw ValidationError("--gateway must be an IPv4 address")
        }
        let loop = EventLoop()
        var answer: NATPMP.Answer?
        if let map {
            NATPMP.map(
                internalPort: UInt16(map), externalPort: UInt16(map), lifetime: UInt32(lifetime), gateway: gw, on: loop
            ) {
                answer = $0
            }
        } else {
            NATPMP.externalAddress(gateway: gw, on: loop) { answer = $0 }
        }
        while answer == nil { loop.turn(until: nil) }
        let a = answer!
        output.print(JSONValue(observing: a)) {
            if a.status == "garbled" { return "\(gw) answers on NAT-PMP's port, but not with NAT-PMP" }
            guard a.status == "answered" else { return "\(gw) does not answer NAT-PMP (\(a.status))" }
            if let ext = a.externalPort, a.result == 0 {
                return "\(gw) forwards TCP \(ext) to port \(a.internalPort ?? 0) here for \(a.lifetime ?? 0) s"
            }
            return "\(gw) answers NAT-PMP: "
                + (a.externalAddress.map { "external address \($0)" } ?? (a.resultWords ?? "?"))
        }
        if a.result != 0 || (map == nil && a.externalAddress == nil) { throw ExitCode(1) }
    }
}

struct AddressesProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "addresses",
        abstract: "This computer's addresses; for IPv6 their kind: stable, temporary (privacy), deprecated.",
        discussion:
            "A pinhole or a DNS name should point at a stable global address: a temporary one rotates away. Exit status 0."
    )

    @Option(help: "Only ipv4 or ipv6.") var family: FamilyChoice?
    @OptionGroup var output: OutputOptions

    func run() throws {
        let all = HostAddresses.list().filter { family == nil || $0.family.rawValue == family?.rawValue }
        output.print(JSONValue(observing: all)) {
            all.map { a in
                "\(a.interface.padding(12)) \((a.ip + "/\(a.prefixLength)").padding(44)) \(a.scope)"
                    + (a.kind.map { " \($0)" } ?? "") + (a.temporary && a.kind != "temporary" ? " temporary" : "")
                    + (a.uniqueLocal ? " unique-local" : "")
            }.joined(separator: "\n")
        }
    }
}

struct PCPProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pcp",
        abstract:
            "Ask the router (or a carrier's PCP server) over PCP whether it is there — or, with --map, to forward a port here.",
        discussion: """
            Without --map it sends ANNOUNCE, which changes nothing. --map sends MAP, which makes (or, with \
            --nonce of an earlier one, refreshes; with --lifetime 0, deletes) a mapping: a forward over \
            IPv4, a firewall pinhole over IPv6. The first wait is 3 s and each next one twice as long \
            (RFC 6887); with the default 2 tries a silent server is given up after at most 9.9 s. \
            Exit status 0 when the server answered SUCCESS, 1 otherwise.
            """
    )

    @Option(help: "The PCP server (default: the default IPv4 gateway; with --ipv6, the default IPv6 router).")
    var server: String?
    @Flag(help: "An IPv6 mapping (a pinhole) from the default IPv6 router.") var ipv6 = false
    @Option(help: "Ask for a mapping of this port here.") var map: Int?
    @Option(help: "With --map: the external port to suggest (default: the same; 0: any).") var externalPort: Int?
    @Option(help: "With --map: seconds the mapping lasts (0 deletes it).") var lifetime = 3600
    @Option(help: "With --map: the nonce of an earlier mapping (24 hex digits), to refresh or delete it.")
    var nonce: String?
    @Option(help: "With --map: tcp or udp.") var proto = ProtoChoice.tcp
    @Option(help: "Requests to send before giving up (1–5).") var tries = PCP.defaultTries
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.port(map, "--map")
        if let externalPort, PortNumber.from(externalPort, orAny: true) == nil {
            throw ValidationError(PortNumber.problem("--external-port", got: Int64(externalPort), orAny: true))
        }
        guard (0...604_800).contains(lifetime) else { throw ValidationError("--lifetime must be 0 to 604800 seconds") }
        if let nonce, PCP.nonce(hex: nonce) == nil { throw ValidationError("--nonce must be 24 hex digits") }
        guard (1...5).contains(tries) else { throw ValidationError("--tries must be 1 to 5") }
        if let server, SocketAddress(numeric: server, port: 1) == nil {
            throw ValidationError("--server must be a numeric IPv4 or IPv6 address")
        }
    }

    func run() throws {
        guard let server = server ?? (ipv6 ? Gateway.defaultIPv6() : Gateway.defaultIPv4()) else {
            throw Failure("no default \(ipv6 ? "IPv6 router" : "IPv4 gateway"); give one with --server")
        }
        let loop = EventLoop()
        var answer: PCP.Answer?
        if let map {
            PCP.map(
                tcp: proto == .tcp, internalPort: UInt16(map), suggestedPort: UInt16(externalPort ?? map),
                lifetime: UInt32(lifetime), nonce: nonce.flatMap(PCP.nonce(hex:)) ?? PCP.newNonce(),
                ipv6: ipv6 || SocketAddress(numeric: server, port: 1)?.family == .ipv6, server: server, tries: tries,
                on: loop
            ) { answer = $0 }
        } else {
            PCP.announce(server: server, tries: tries, on: loop) { answer = $0 }
        }
        while answer == nil { loop.turn(until: nil) }
        let a = answer!
        output.print(JSONValue(observing: a)) {
            switch a.status {
            case "natpmp-only": return "\(server) speaks NAT-PMP, not PCP (it answered UNSUPP_VERSION)"
            case "garbled": return "\(server) answers on PCP's port, but not with PCP"
            case "answered": break
            default: return "\(server) does not answer PCP (\(a.status) after \(a.tries) tries)"
            }
            guard a.result == 0 else {
                return "\(server) answers PCP: \(a.resultName ?? "?") — \(a.resultWords ?? "")"
                    + (a.lifetime.map { " (ask again in \($0) s at the earliest)" } ?? "")
            }
            guard map != nil else { return "\(server) answers PCP (epoch \(a.epoch ?? 0) s)" }
            if lifetime == 0 { return "\(server) deleted the mapping of \(a.proto ?? proto.rawValue) \(map ?? 0)" }
            return
                "\(server) maps \(a.proto ?? proto.rawValue) \(SocketAddress.text(host: a.externalAddress ?? "?", port: a.externalPort ?? 0))"
                + " → \(SocketAddress.text(host: a.internalAddress ?? "?", port: a.internalPort ?? 0)) for \(a.lifetime ?? 0) s"
                + " (nonce \(a.nonce ?? "?"): give it with --nonce to refresh or delete)"
        }
        if a.result != 0 { throw ExitCode(1) }
    }
}

struct UPnPProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upnp",
        abstract: "Find the router over UPnP: who made it, its external address, and the forward for a port.",
        discussion:
            "Without --add or --delete nothing is changed. Exit status 0 when a gateway answered, 1 when none did."
    )

    @Option(help: "Show the mapping for this external TCP port.") var port: Int?
    @Flag(help: "List the whole mapping table.") var list = false
    @Option(help: "Ask the router to forward this TCP port (same number) to this computer.") var add: Int?
    @Option(help: "With --add: forward to this address instead of this computer.") var to: String?
    @Option(help: "Ask the router to remove the forward of this TCP port.") var delete: Int?
    @Option(help: "Seconds to wait for answers to the search.") var wait: Double = 2
    @Flag(help: "Search over IPv6 (ff02::c): IGD:2 routers take pinhole requests only over IPv6.") var ipv6 = false
    @Option(help: "Ask the router to open an IPv6 pinhole to this TCP port here (IGD:2).") var addPinhole: Int?
    @Option(help: "With --add-pinhole: to this IPv6 address (default: this computer's stable one).")
    var pinholeTo: String?
    @Option(help: "With --add-pinhole: seconds it lasts (1–86400).") var lease = 7200
    @Option(help: "Ask the router whether traffic has gone through the pinhole with this ID.") var checkPinhole: Int?
    @Option(help: "Ask the router to close the pinhole with this ID.") var deletePinhole: Int?
    @OptionGroup var output: OutputOptions

    struct Report {
        var gateway: UPnP.Gateway?
        var externalAddress: String?
        var mapping: UPnP.Mapping?
        var mappings: [UPnP.Mapping]?
        var change: String?
        var firewall: UPnP.FirewallStatus?
        var pinhole: String?
        var pinholeID: Int?
        var error: String?

        /// The gateway and mappings as `upnp.discover` and `upnp.mapping` give them to checks.
        var json: JSONValue {
            var o: [String: JSONValue] = [:]
            if let gateway { o["gateway"] = JSONValue(observing: gateway) }
            if let externalAddress { o["external_address"] = .string(externalAddress) }
            if let mapping { o["mapping"] = JSONValue(observing: mapping) }
            if let mappings { o["mappings"] = JSONValue(observing: mappings) }
            if let change { o["change"] = .string(change) }
            if let firewall { o["firewall"] = JSONValue(observing: firewall) }
            if let pinhole { o["pinhole"] = .string(pinhole) }
            if let pinholeID { o["pinhole_id"] = .int(Int64(pinholeID)) }
            if let error { o["error"] = .string(error) }
            return .object(o)
        }
    }

    func validate() throws {
        try Validate.port(port, "--port")
        try Validate.port(add, "--add")
        try Validate.port(delete, "--delete")
        try Validate.seconds(wait, "--wait", max: 30)
        try Validate.port(addPinhole, "--add-pinhole")
        guard (1...86400).contains(lease) else { throw ValidationError("--lease must be 1 to 86400 seconds") }
        if let pinholeTo, SocketAddress(numeric: pinholeTo, port: 1)?.family != .ipv6 {
            throw ValidationError("--pinhole-to must be an IPv6 address")
        }
    }

    func run() throws {
        let loop = EventLoop()
        var report: Report?
        UPnP.discover(wait: .milliseconds(Int64(wait * 1000)), ipv6: ipv6, on: loop) { gateways in
            guard let g = gateways.first(where: { $0.controlURL != nil }) else {
                report = Report(
                    error: gateways.isEmpty ? "no UPnP gateway answered" : "the gateway has no WAN connection service")
                return
            }
            var r = Report(gateway: g)
            UPnP.externalAddress(g, on: loop) { ext in
                switch ext {
                case .success(let a): r.externalAddress = a
                case .failure(let e): r.error = "external address: \(e)"
                }
                self.change(g, loop: loop) { change in
                    r.change = change
                    self.lookup(g, loop: loop) { m, all, err in
                        r.mapping = m
                        r.mappings = all
                        if let err, r.error == nil { r.error = err }
                        self.pinholes(g, loop: loop, &r) { report = $0 }
                    }
                }
            }
        }
        while report == nil { loop.turn(until: nil) }
        let r = report!
        output.print(r.json) {
            guard let g = r.gateway else { return r.error ?? "no gateway" }
            var lines = [
                "gateway: \(g.manufacturer ?? "?") \(g.model ?? "") (\(g.friendlyName ?? g.location))",
                "external address: \(r.externalAddress ?? "unknown")",
            ]
            if let c = r.change { lines.append(c) }
            if let m = r.mapping {
                lines.append("TCP \(m.externalPort) → \(m.internalClient):\(m.internalPort) (\(m.description))")
            }
            for m in r.mappings ?? [] {
                lines.append("  \(m.proto) \(m.externalPort) → \(m.internalClient):\(m.internalPort) \(m.description)")
            }
            if let f = r.firewall {
                lines.append(
                    "IPv6 firewall: \(f.enabled ? "on" : "off"), pinholes \(f.inboundPinholeAllowed ? "allowed" : "not allowed")"
                )
            }
            if let p = r.pinhole { lines.append(p) }
            if let e = r.error { lines.append(e) }
            return lines.joined(separator: "\n")
        }
        if r.gateway == nil { throw ExitCode(1) }
    }

    func change(_ g: UPnP.Gateway, loop: EventLoop, _ done: @escaping (String?) -> Void) {
        if let p = add {
            let me = to ?? UPnP.localAddress(toward: g) ?? ""
            UPnP.addMapping(g, externalPort: UInt16(p), internalClient: me, internalPort: UInt16(p), on: loop) { r in
                done(
                    r.map { m in
                        "added: TCP \(p) → \(me):\(p), "
                            + (m.lease == 0 ? "permanent" : "for \(m.lease) s (the router's longest)")
                    }.description(or: "adding TCP \(p)"))
            }
        } else if let p = delete {
            UPnP.deleteMapping(g, externalPort: UInt16(p), on: loop) { r in
                done(r.map { "deleted: TCP \(p)" }.description(or: "deleting TCP \(p)"))
            }
        } else {
            done(nil)
        }
    }

    /// The IPv6 firewall's status when the router has IGD:2's firewall control; then the pinhole asked for.
    func pinholes(_ g: UPnP.Gateway, loop: EventLoop, _ report: inout Report, _ done: @escaping (Report) -> Void) {
        var r = report
        guard g.firewallControlURL != nil else {
            if addPinhole != nil || checkPinhole != nil || deletePinhole != nil {
                r.pinhole = "the router has no IPv6 firewall control (IGD:2 WANIPv6FirewallControl)"
            }
            return done(r)
        }
        UPnP.firewallStatus(g, on: loop) { s in
            switch s {
            case .success(let f): r.firewall = f
            case .failure(let e): r.pinhole = "firewall status: \(e)"
            }
            if let p = addPinhole {
                guard let me = pinholeTo ?? HostAddresses.stableGlobalIPv6() else {
                    r.pinhole = "no stable global IPv6 address here: give one with --pinhole-to"
                    return done(r)
                }
                UPnP.addPinhole(g, internalClient: me, internalPort: UInt16(p), lease: lease, on: loop) { a in
                    if case .success(let h) = a { r.pinholeID = h.id }
                    r.pinhole = a.map { "pinhole \($0.id): TCP [\(me)]:\(p) open from anywhere for \($0.lease) s" }
                        .description(or: "opening a pinhole to [\(me)]:\(p)")
                    done(r)
                }
            } else if let id = checkPinhole {
                UPnP.checkPinholeWorking(g, id: id, on: loop) { w in
                    r.pinhole = w.map { "pinhole \(id): \($0 ? "traffic has gone through" : "no traffic yet")" }
                        .description(or: "checking pinhole \(id)")
                    done(r)
                }
            } else if let id = deletePinhole {
                UPnP.deletePinhole(g, id: id, on: loop) { d in
                    r.pinhole = d.map { "deleted: pinhole \(id)" }.description(or: "deleting pinhole \(id)")
                    done(r)
                }
            } else {
                done(r)
            }
        }
    }

    func lookup(_ g: UPnP.Gateway, loop: EventLoop, _ done: @escaping (UPnP.Mapping?, [UPnP.Mapping]?, String?) -> Void)
    {
        if let p = port {
            UPnP.mapping(g, externalPort: UInt16(p), on: loop) { r in
                switch r {
                case .success(let m): done(m, nil, nil)
                case .failure(let e): done(nil, nil, "TCP \(p): \(e)")
                }
            }
        } else if list {
            UPnP.mappings(g, on: loop) { r in
                switch r {
                case .success(let all): done(nil, all, nil)
                case .failure(let e): done(nil, nil, "mappings: \(e)")
                }
            }
        } else {
            done(nil, nil, nil)
        }
    }

}

extension Result where Failure == UPnP.Failure {
    fileprivate func description(or what: String) -> String {
        switch self {
        case .success(let v): "\(v)"
        case .failure(let e): "\(what) failed: \(e)"
        }
    }
}

struct STUNProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stun",
        abstract: "Ask a STUN server you name what address and port this computer comes from (the outermost NAT's).",
        discussion: "No server is contacted unless you name one. Exit status 0 when it answered, 1 otherwise."
    )

    @Argument(help: "The STUN server: a numeric address, optionally with :port (default 3478).") var server: String
    @OptionGroup var output: OutputOptions

    func validate() throws {
        let (host, port) = try Validate.endpoint(server, defaultPort: STUN.defaultPort)
        guard SocketAddress(numeric: host, port: port) != nil else {
            throw ValidationError("give the STUN server as a numeric address (names are not looked up here)")
        }
    }

    func run() throws {
        let (host, port) = try Validate.endpoint(server, defaultPort: STUN.defaultPort)
        let loop = EventLoop()
        var answer: STUN.Answer?
        STUN.binding(server: host, port: port, on: loop) { answer = $0 }
        while answer == nil { loop.turn(until: nil) }
        let a = answer!
        output.print(JSONValue(observing: a)) {
            if a.status == "garbled" { return "\(a.server) answers, but not with STUN: another service on that port?" }
            if a.status.hasSuffix("-unreachable") {
                return "cannot reach \(a.server): this computer has no route to it (\(a.status))"
            }
            return a.mapped.map { "\(a.server) sees this computer as \($0)" }
                ?? "\(a.server) did not answer (\(a.status))"
        }
        if a.mapped == nil { throw ExitCode(1) }
    }
}

struct NATProbe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nat",
        abstract:
            "Where does a connection from outside to PORT stop? Asks the router, the reflector, and the first hops.",
        discussion:
            "Prints the evidence and the verdict of the bundled NAT rules (Checks/tcp-service/lib/nat.lua, the same rules the port-forward step uses): one of no-nat, forward-ok, forward-missing, forward-wrong-target, double-nat, cgnat, upnp-unavailable, filtered-upstream, no-default-route, peer-unresolvable, unknown. Exit status 0 when the verdict passes, 1 otherwise."
    )

    @Option(help: "The port that should be reachable from outside.") var port: Int
    @Option(help: "A reflector (portdoctor listen) outside your network, by name or address.") var reflector: String?
    @Option(help: "The reflector's port.") var reflectorPort = Int(ReflectorProtocol.defaultPort)
    @Option(help: "The reflector's token.") var token: String?
    @OptionGroup var output: OutputOptions

    func validate() throws {
        try Validate.port(port, "--port")
        try Validate.port(reflectorPort, "--reflector-port")
    }

    func run() throws {
        let loop = EventLoop()
        var result: NATSurvey.Result?
        NATSurvey.run(
            port: UInt16(port), reflector: reflector, reflectorPort: UInt16(reflectorPort), token: token, on: loop
        ) {
            result = $0
        }
        while result == nil { loop.turn(until: nil) }
        let r = result!
        let evidence = JSONValue(observing: r)
        // The verdict's fields at the top, the survey's evidence (as checks get it) under "evidence".
        var verdict: [String: JSONValue] = [:]
        do {
            if case .object(let v) = try NATRules.verdict(for: r) { verdict = v }
        } catch {
            verdict = ["kind": .string("unknown"), "status": .string("error"), "explanation": .string("\(error)")]
        }
        verdict["evidence"] = evidence
        func text(_ key: String) -> String? { if case .string(let s)? = verdict[key] { s } else { nil } }
        func texts(_ key: String) -> [String] {
            guard case .array(let a)? = verdict[key] else { return [] }
            return a.compactMap { if case .string(let s) = $0 { s } else { nil } }
        }
        output.print(.object(verdict)) {
            let e = r.evidence
            var lines = [
                "\(text("kind") ?? "?")" + (text("cause").map { " (\($0))" } ?? "") + ": \(text("explanation") ?? "")"
            ]
            lines += texts("notes").map { "  note: \($0)" }
            lines += texts("advice").map { "  advice: \($0)" }
            if let g = e.gateway { lines.append("  router: \(g.manufacturer ?? "?") \(g.model ?? "")") }
            lines.append(
                "  router answers: UPnP \(e.upnpAnswered == true ? "yes" : "no"), NAT-PMP \(e.natpmpStatus ?? "not asked")"
            )
            if let w = e.routerWAN { lines.append("  router's WAN address: \(w)") }
            if let w = e.routerWANRefused { lines.append("  router's WAN address refused: \(w)") }
            if let m = e.mapping {
                lines.append("  router's forward for \(port): \(m.internalClient):\(m.internalPort)")
            }
            if let a = e.reflector {
                lines.append(
                    "  reflector: \(a)"
                        + (e.reflectorAddress.map { " (\($0))" } ?? "")
                        + (e.reflectorUnresolved.map { " does not resolve: \($0)" } ?? "")
                        + (e.reflectorError.map { ": \($0)" } ?? ""))
            }
            if let p = e.publicAddress { lines.append("  seen from outside: \(p)") }
            if let c = e.connectBack {
                lines.append(
                    "  connect-back to \(port): \(c)" + (e.connectBackError.map { " (\($0))" } ?? "")
                        + (e.connectBackTo.map { ", \($0)" } ?? ""))
            }
            if let t = e.connectBackTrace, !t.isEmpty {
                let steps = t.map { "TTL \($0.ttl) \($0.status)" + ($0.from.map { " from \($0)" } ?? "") }
                lines.append("  connect-back traced: \(steps.joined(separator: " → "))")
            }
            if let a = e.arrivals {
                if let why = a.error {
                    lines.append("  what reached this network: not watched (\(why))")
                } else {
                    let syn = a.synPorts.isEmpty ? "nothing" : "SYN to port " + a.synPorts.map(String.init).joined(separator: ", ")
                    let asked = a.gatewayAsked.isEmpty ? "" : "; the router asked for " + a.gatewayAsked.joined(separator: ", ")
                    lines.append("  what reached this computer meanwhile: \(syn)\(asked)")
                }
            }
            if !e.hops.isEmpty { lines.append("  first hops: \(e.hops.joined(separator: " → "))") }
            return lines.joined(separator: "\n")
        }
        if text("status") != "pass" { throw ExitCode(1) }
    }
}
