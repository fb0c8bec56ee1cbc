import ArgumentParser
import Doctor
import Probes
import Reactor

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// `run --with PEER`: both computers at once (Docs/pairing-protocol.md).
struct PairingOptions: ParsableArguments {
    @Option(
        name: .customLong("with"),
        help: ArgumentHelp(
            "Diagnose both computers at once: the other one runs `portdoctor listen --pair` (port 4250 by default).",
            valueName: "host[:port]"))
    var peer: String?

    @Option(help: ArgumentHelp("With --with: the code `portdoctor listen --pair` shows (asked for when not given).", valueName: "code"))
    var code: String?

    @Option(help: ArgumentHelp("With --with: pair with the token in this file (as `portdoctor listen --token-file`).", valueName: "path"))
    var tokenFile: String?

    func validate() throws {
        if peer == nil && (code != nil || tokenFile != nil) {
            throw ValidationError("--code and --token-file only mean something with --with")
        }
        if code != nil && tokenFile != nil { throw ValidationError("give --code or --token-file, not both") }
        if let peer { _ = try Validate.endpoint(peer, defaultPort: ReflectorProtocol.defaultPort) }
    }
}

/// One paired session, from opening to the merged report.
final class PairedRun {
    let loop = EventLoop()
    let host: String
    let port: UInt16
    let session: PairingSession

    init(_ options: PairingOptions) throws {
        let (host, port) = try Validate.endpoint(options.peer!, defaultPort: ReflectorProtocol.defaultPort)
        self.host = host
        self.port = port
        let secret: String
        if let code = options.code {
            secret = code
        } else if let path = options.tokenFile {
            do { secret = try PairingProtocol.readToken(path: path) } catch { throw Failure("\(error)") }
        } else if isatty(STDIN_FILENO) != 0 {
            Terminal.writeError("The code portdoctor listen --pair shows on \(host): ")
            secret = readLine() ?? ""
        } else {
            throw Failure("--with needs the other computer's code: --code XXXX-XXXX, or --token-file PATH")
        }
        let loop = self.loop
        let opened = PairingSession.wait(on: loop) { done in
            PairingSession.open(host: host, port: port, secret: secret, on: loop, done)
        }
        switch opened {
        case .success(let s): session = s
        case .failure(let why): throw Failure("cannot pair with \(host): \(why.message) (\(why.code))")
        }
    }

    deinit { session.close() }

    /// Asks the peer for its side, tests source → destination between the two, and merges.
    func complete(_ local: Report) throws -> Report {
        let role = local.parameters["role"] ?? "destination"
        let partnerRole = Paired.partnerRole(of: role)
        let answer = PairingSession.wait(on: loop) { done in
            session.request(.init(type: "run", pack: local.packID, version: local.packVersion, role: partnerRole), done)
        }
        let peerFindings: [Finding]
        let peerComputer: String
        switch answer.flatMap(Paired.decodeFindings) {
        case .failure(let why):
            throw Failure("the other computer (\(host)) did not run its side: \(why.message) (\(why.code))")
        case .success(let (computer, findings)):
            peerComputer = "\(computer) (\(host))"
            peerFindings = findings
        }
        let servicePort = Int(local.parameters["port"] ?? "") ?? 4242
        let seenIP = session.seen.flatMap { seen in
            seen.hasPrefix("[") ? seen.split(separator: "]").first.map { String($0.dropFirst()) } : seen.split(separator: ":").first.map(String.init)
        }
        let localComputer = "\(Self.hostname())\(seenIP.map { " (\($0))" } ?? "")"
        let test: Paired.ConnectTest
        if role == "source", let tried = Self.connectStatus(in: local) {
            // The pack's own telnet test already connected to the destination: its outcome, not a second wait.
            test = .init(from: "the source", to: tried.to ?? SocketAddress.text(host: host, port: servicePort), status: tried.status)
        } else if role == "source" {
            // We are the source: connect to the destination's service port ourselves.
            let result = PairingSession.wait(on: loop) { done in
                TCPProbe.connect(host: host, port: UInt16(servicePort), options: .init(timeout: .seconds(3)), on: loop) {
                    r, _ in done(r)
                }
            }
            test = .init(
                from: "the source", to: SocketAddress.text(host: host, port: servicePort),
                status: result.status.rawValue)
        } else {
            // We are the destination: the source (the peer) connects back to us, at the address it sees us at.
            let reply = PairingSession.wait(on: loop) { done in
                session.request(.init(type: "connect-back", port: servicePort, timeout: 3), done)
            }
            let back = (try? reply.get()).flatMap { try? JSONDecoder().decode(PairConnectBack.self, from: Data($0)) }
            test = .init(
                from: "the source", to: back?.address ?? "this computer:\(servicePort)", status: back?.status)
        }
        PairingSession.wait(on: loop) { (done: @escaping (Result<[UInt8], PairingProtocol.Refusal>) -> Void) in
            session.request(.init(type: "bye"), timeout: .milliseconds(200), done)
        }.ignore()
        return Paired.merge(
            local: local, localComputer: localComputer, peerComputer: peerComputer, peerFindings: peerFindings,
            test: test)
    }

    /// The status of the source's connect to the destination in the local run (the reach-peer step's
    /// `socket.connect` evidence), when it made one.
    static func connectStatus(in report: Report) -> (status: String, to: String?)? {
        guard let f = report.findings.first(where: { $0.id == "reach-peer" && $0.status != .skip }),
            case .object(let evidence) = f.evidence, case .string(let status)? = evidence["status"]
        else { return nil }
        var to: String?
        if case .object(let remote)? = evidence["remote"], case .string(let text)? = remote["text"] { to = text }
        return (status, to)
    }

    static func hostname() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "this computer" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

extension Result {
    /// Nothing to do with it (the peer closes the session after `bye` without a reply).
    func ignore() {}
}

/// The peer's side: `portdoctor listen --pair` runs its own pack's local steps for a partner.
enum PeerService {
    static func answer(_ request: PairingProtocol.Request, partner: SocketAddress) -> [UInt8] {
        let environment = ProcessInfo.processInfo.environment
        let catalog = PackCatalog.discover(environment: environment)
        let id = request.pack ?? ""
        // Only packs this computer has, by id: never a path, and no code from the partner.
        guard !id.hasSuffix(".lua"), catalog.pack(named: id) != nil else {
            let names = catalog.packs.map { $0.name.split(separator: "/").last.map(String.init) ?? $0.name }
            return Paired.encodeRefusal(
                "unknown-pack", "this computer has no pack '\(id)' (its packs: \(names.sorted().joined(separator: ", ")))")
        }
        var r = DiagnosisRequest(pack: id)
        r.parameters.environment = environment
        r.parameters.config = try? ConfigFile.read(explicit: nil, environment: environment)
        r.parameters.commandLine = [("role", request.role ?? "destination")]
        // The partner's own address, from its connection: the only other computer this run may name.
        r.parameters.partner = partner.ip
        let steps = Paired.peerSteps(role: request.role ?? "destination")
        r.restrictTo = steps
        // No repairs on a partner's behalf: repairs stay local, with local consent.
        r.options.fix = false
        r.options.confirm = nil
        r.options.printed = { Terminal.writeError($0 + "\n") }
        do {
            switch try Diagnosis.prepare(r, catalog: catalog) {
            case .unloadable(let report):
                return Paired.encodeRefusal("pack-unloadable", report.findings.first?.summary ?? "the pack cannot be loaded")
            case .ready(let diagnosis):
                let have = diagnosis.plan.manifest.version
                if let wanted = request.version, wanted.split(separator: ".").first != have.split(separator: ".").first {
                    return Paired.encodeRefusal(
                        "pack-version-mismatch", "this computer has \(id) \(have), not \(wanted): update one of the two")
                }
                var report = diagnosis.run()
                // Only what ran for the partner (and load problems): not the steps left out on purpose.
                report.findings = report.findings.filter { steps.contains($0.id) || $0.id.hasPrefix("load:") }
                // The router in front of this computer only with a test from outside (the partner's
                // reflector connected back): without one the partner's own connect is the test.
                report.findings.removeAll { $0.id == "port-forward" && !Paired.testedFromOutside($0) }
                return Paired.encodeFindings(report, computer: PairedRun.hostname(), role: request.role ?? "destination")
            }
        } catch {
            return Paired.encodeRefusal("pack-error", "\(error)")
        }
    }
}
