import ArgumentParser
import Probes
import Reactor

#if canImport(Glibc)
    import Glibc
#endif

struct ListenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "listen",
        abstract:
            "Run the reflector on the other computer: it answers \"can I reach you?\" and connects back on request.",
        discussion: """
            Run this on the other computer (or any machine outside your network). Then, on yours, \
            `portdoctor probe reflect THAT-HOST --connect-back 4242` asks it to connect to you on 4242 — \
            the only proof that the port is reachable from outside.

            It connects back only to the address a request came from, never to an address named in a \
            request; at most --per-minute requests (connections) per address; requests are one line of at most \
            512 bytes within 5 s. With --token, requests must carry the same token. Protocol: Docs/reflector-protocol.md.

            Pairing (--pair, --token-file): a paired session that authenticates starts its address's count \
            over, so re-running `portdoctor run PACK --with THIS-HOST` after each change is never limited; \
            addresses that do not pair (wrong codes included) stay limited. Docs/pairing-protocol.md, "Limits".

            Paired, this computer runs its own pack with its own parameters, which `listen` does not take \
            as --param: give them in the environment or the config file (~/.config/portdoctor/config), \
            e.g. a service registered under another name:
              PORTDOCTOR_PARAM_SERVICE=backupd portdoctor listen --pair
            """
    )

    @Option(help: "TCP port to listen on.") var port = Int(ReflectorProtocol.defaultPort)
    @Option(
        help:
            "Address to listen on (default ::, IPv6 and IPv4 both, or 0.0.0.0 where IPv6 is off; or one of this computer's)."
    ) var address: String?
    @Option(help: "Require this shared token in every request.") var token: String?
    @Option(help: "Requests allowed per source address per minute (an address that pairs starts over).")
    var perMinute = 10
    @Flag(
        help:
            "Also take part in a paired diagnosis (`portdoctor run PACK --with THIS-HOST` on the other computer): prints a one-time code to type there."
    ) var pair = false
    @Option(
        help: ArgumentHelp(
            "Pair with the token in this file instead of a printed code (unattended; at least 26 characters).",
            valueName: "path")) var tokenFile: String?

    func validate() throws {
        try Validate.port(port)
        guard (1...1000).contains(perMinute) else { throw ValidationError("--per-minute must be 1 to 1000") }
    }

    func run() throws {
        let loop = EventLoop()
        let reflector: Reflector
        let options = Reflector.Options(token: token, perMinute: perMinute)
        do {
            if let address {
                reflector = try Reflector(address: address, port: UInt16(port), options: options, on: loop)
            } else {
                // "::" serves both families; where IPv6 is off, IPv4 alone.
                reflector =
                    try (try? Reflector(address: "::", port: UInt16(port), options: options, on: loop))
                    ?? Reflector(address: "0.0.0.0", port: UInt16(port), options: options, on: loop)
            }
        } catch { throw Failure("\(error)") }
        reflector.log = { Terminal.writeError($0 + "\n") }
        if pair || tokenFile != nil {
            let secret: PairingPeer.Secret
            if let tokenFile {
                do { secret = .token(try PairingProtocol.readToken(path: tokenFile)) } catch { throw Failure("\(error)") }
            } else {
                secret = .oneTimeCode
            }
            let peer = PairingPeer(secret: secret, on: loop) { request, partner in
                PeerService.answer(request, partner: partner)
            }
            peer.log = { Terminal.writeError($0 + "\n") }
            reflector.pairing = peer
            if let code = peer.code {
                // On standard output, alone on its line: what the person reads out (and scripts read).
                let line = Array("pairing code: \(code)\n".utf8)
                _ = line.withUnsafeBytes { write(STDOUT_FILENO, $0.baseAddress, $0.count) }
                Terminal.writeError(
                    "On the other computer: portdoctor run PACK --with THIS-HOST --code \(code) (valid 10 minutes, once)\n")
            }
        }
        Terminal.writeError(
            "portdoctor reflector listening on \(reflector.address) (protocol \(ReflectorProtocol.version))\n")
        // The loop only holds the reflector's callbacks weakly: without this, an optimised build ends
        // the reflector's lifetime after the print above and its deinit closes the listening socket.
        withExtendedLifetime(reflector) {
            while true { loop.turn(until: EventLoop.now() + 60_000_000_000) }
        }
    }
}
