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

/// One paired session, from opening to the merged report. A pairing that fails (a wrong code, the
/// peer unreachable, the peer without the pack) never throws the local run away: the report is this
/// computer's side, with a note saying why the other side is missing.
final class PairedRun {
    let loop = EventLoop()
    let host: String
    let port: UInt16
    private var session: PairingSession?
    /// Why the pairing failed, and at which stage; nil while it works.
    private(set) var failure: (refusal: PairingProtocol.Refusal, stage: String)?
    /// The tests between the two computers, for the pack's `paths` step (`pairing.paths()`).
    let paths = PairedPaths()
    /// The destination's side: the source's connect back to this computer at the session's address.
    private var connectBack: Paired.ConnectTest?
    /// Connects between the two computers in one run, at most (each bounded by its timeout).
    static let maxTests = 5
    static let testTimeout: Duration = .seconds(3)

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
        case .failure(let why): failed(why, stage: "open")
        }
    }

    deinit { session?.close() }

    private func failed(_ why: PairingProtocol.Refusal, stage: String) {
        failure = (why, stage)
        session?.close()
        session = nil
        Terminal.writeError(
            "portdoctor: cannot pair with \(host): \(why.message) (\(why.code)); this report is this computer's side only\n")
    }

    /// Before the local checks run: the two computers' addresses, and the source's connect to the
    /// destination's port over each of them (Docs/pairing-protocol.md, "Every address and family").
    func measure(_ parameters: ResolvedParameters) {
        guard let session else { return }
        let role = parameters.texts["role"] ?? "destination"
        let servicePort = Int(parameters.texts["port"] ?? "") ?? 4242
        let answer = PairingSession.wait(on: loop) { done in
            session.request(.init(type: "addresses"), timeout: .seconds(5), done)
        }
        let peerAddresses: PairingProtocol.Addresses?
        switch answer {
        // The first request is where a wrong code shows.
        case .failure(let why): return failed(why, stage: "addresses")
        case .success(let body): peerAddresses = PairingProtocol.Addresses.decode(body)
        }
        if peerAddresses == nil {
            paths.notes.append(
                "the other computer's portdoctor speaks pairing messages version 1: only the address it was reached at is tested")
        }
        if role == "source" {
            var peerParam: (host: String, port: UInt16)?
            if let text = parameters.texts["peer"] {
                peerParam = try? Validate.endpoint(text, defaultPort: UInt16(clamping: servicePort))
            }
            paths.tests = connects(to: peerAddresses, peerParam: peerParam, port: servicePort)
            paths.trace = traceOutbound(paths.tests ?? [], port: servicePort)
        } else {
            paths.tests = connectBacks(peerAddresses, port: servicePort)
        }
    }

    /// We are the source: connect to each of the destination's addresses ourselves, at once.
    private func connects(
        to peer: PairingProtocol.Addresses?, peerParam: (host: String, port: UInt16)?, port: Int
    ) -> [PathTest] {
        let own = Set((peer?.addresses ?? []).compactMap { PairingProtocol.canonical($0.ip) })
        var targets: [(ip: String, port: Int)] = []
        func add(_ host: String, _ p: Int) {
            guard let ip = PairingProtocol.canonical(host), !targets.contains(where: { $0.ip == ip && $0.port == p }),
                targets.count < Self.maxTests
            else { return }
            targets.append((ip, p))
        }
        // The address we reached its portdoctor at, the one the pack connects to (`peer`, often the
        // router's public address), and the destination's own: only addresses the person gave or its
        // paired partner told, a few.
        add(host, port)
        if let peerParam { add(peerParam.host, Int(peerParam.port)) }
        // A private IPv4 address of the destination on none of this computer's networks is behind
        // its router: not reachable from here by design, and a connect to it would only wait.
        let local = HostAddresses.list().filter { $0.family == .ipv4 }
        for a in peer?.addresses ?? [] {
            // Already tested (the address given to --with or `peer`): reachable or not, the test says.
            if targets.contains(where: { $0.ip == PairingProtocol.canonical(a.ip) && $0.port == port }) { continue }
            if a.family == "ipv4", Self.privateAddress(a.ip), !local.contains(where: { Self.sameSubnet(a.ip, $0) }) {
                paths.notes.append("the destination's address \(a.ip) is on a network this computer is not on: not tested")
                continue
            }
            add(a.ip, port)
        }
        let loop = self.loop
        let results = PairingSession.wait(on: loop) { (done: @escaping ([Int: ConnectResult]) -> Void) in
            var results: [Int: ConnectResult] = [:]
            if targets.isEmpty { return done(results) }
            for (i, t) in targets.enumerated() {
                _ = TCPProbe.connect(
                    host: t.ip, port: UInt16(t.port), options: .init(timeout: Self.testTimeout), on: loop
                ) { r, _ in
                    results[i] = r
                    if results.count == targets.count { done(results) }
                }
            }
        }
        return targets.enumerated().compactMap { i, t in
            guard let r = results[i] else { return nil }
            let via = own.isEmpty ? (Self.privateAddress(t.ip) ? "lan" : "public") : own.contains(t.ip) ? "lan" : "public"
            return PathTest(
                from: "source", to: "destination", how: "connect", address: t.ip, port: t.port,
                family: t.ip.contains(":") ? "ipv6" : "ipv4", via: via, status: r.status.rawValue,
                milliseconds: r.rttMilliseconds.map { ($0 * 10).rounded() / 10 })
        }
    }

    /// We are the source and no connect got an answer: trace the one to the address we paired at,
    /// hop by hop, on the service port and on the pairing port (which got through) as a control —
    /// a few routers deep, both at once, so that the pack can tell how far the service port gets
    /// (this computer's own router dropping it on the way out, or something further on). Only the
    /// partner's address, only the two ports of this session; IPv4 only (ConnectTrace).
    private func traceOutbound(_ tests: [PathTest], port: Int) -> OutboundTrace? {
        guard let address = PairingProtocol.canonical(host), !address.contains(":"),
            !tests.contains(where: { $0.outcome == "connected" }),
            tests.contains(where: { $0.address == address && $0.port == port && $0.outcome == "timeout" })
        else { return nil }
        let loop = self.loop
        let control = self.port
        let (hops, controlHops) = PairingSession.wait(on: loop) {
            (done: @escaping (([ConnectTrace.Hop], [ConnectTrace.Hop])) -> Void) in
            var app: [ConnectTrace.Hop]?
            var pairing: [ConnectTrace.Hop]?
            func finish() { if let app, let pairing { done((app, pairing)) } }
            ConnectTrace.run(host: address, port: UInt16(port), maxTTL: Self.traceDepth, on: loop) {
                app = $0
                finish()
            }
            ConnectTrace.run(host: address, port: control, maxTTL: Self.traceDepth, on: loop) {
                pairing = $0
                finish()
            }
        }
        return OutboundTrace(address: address, port: port, hops: hops, controlPort: Int(control), control: controlHops)
    }

    /// Routers deep enough to see past this computer's own router and the next one.
    static let traceDepth = 3

    /// We are the destination: the source (the peer) connects back to us at each address we can
    /// prove is ours — the session's, and those we ATTACH from by reaching the peer's other addresses.
    private func connectBacks(_ peer: PairingProtocol.Addresses?, port: Int) -> [PathTest] {
        guard let session else { return [] }
        var attested: [String] = []
        if let seen = peer.flatMap({ PairingSession.address(of: $0.seen) }) { attested.append(seen.ip) }
        if let peer {
            let dialed = PairingProtocol.canonical(host)
            let local = HostAddresses.list().filter { $0.family == .ipv4 }
            for a in peer.addresses where PairingProtocol.canonical(a.ip) != dialed {
                guard attested.count < PairingProtocol.maxPartnerAddresses else { break }
                // The source's private address on none of our networks is behind its router: no wait on it.
                if a.family == "ipv4", Self.privateAddress(a.ip), !local.contains(where: { Self.sameSubnet(a.ip, $0) }) {
                    continue
                }
                let loop = self.loop
                let r = PairingSession.wait(on: loop) { done in
                    PairingSession.attach(host: a.ip, port: self.port, ticket: peer.ticket, on: loop, done)
                }
                switch r {
                case .success(let seen):
                    if let ip = PairingProtocol.canonical(seen.ip), !attested.contains(ip) { attested.append(ip) }
                case .failure(let why):
                    paths.notes.append("could not reach the other computer's portdoctor at \(a.ip): \(why.message)")
                }
            }
        }
        let own = Set(HostAddresses.list().compactMap { PairingProtocol.canonical($0.ip) })
        var tests: [PathTest] = []
        // A version-1 peer: one connect-back, to the session's address (no address field).
        for ip in attested.isEmpty ? [nil] : attested.map(Optional.some) {
            let reply = PairingSession.wait(on: loop) { done in
                session.request(
                    .init(type: "connect-back", port: port, timeout: 3, address: peer == nil ? nil : ip), done)
            }
            guard case .success(let body) = reply,
                let back = try? JSONDecoder().decode(PairConnectBack.self, from: Data(body)), back.type == "connect-back"
            else {
                paths.notes.append("the other computer did not connect back to \(ip ?? "this computer")")
                continue
            }
            let address = ip ?? back.address.flatMap { PairingSession.address(of: $0)?.ip } ?? "?"
            if connectBack == nil {
                connectBack = .init(from: "the source", to: back.address ?? "this computer:\(port)", status: back.status)
            }
            tests.append(
                PathTest(
                    from: "source", to: "destination", how: "connect-back", address: address, port: port,
                    family: address.contains(":") ? "ipv6" : "ipv4", via: own.contains(address) ? "lan" : "public",
                    status: back.status, milliseconds: back.rtt_ms))
        }
        return tests
    }

    /// Whether an IPv4 address is in the subnet of one of this computer's addresses.
    static func sameSubnet(_ ip: String, _ local: HostAddress) -> Bool {
        func bits(_ text: String) -> UInt32? {
            let parts = text.split(separator: ".").compactMap { UInt32($0) }
            guard parts.count == 4, parts.allSatisfy({ $0 < 256 }) else { return nil }
            return parts.reduce(0) { $0 << 8 | $1 }
        }
        guard let a = bits(ip), let b = bits(local.ip), (1...32).contains(local.prefixLength) else { return false }
        let mask = local.prefixLength == 32 ? UInt32.max : ~(UInt32.max >> UInt32(local.prefixLength))
        return a & mask == b & mask
    }

    static func privateAddress(_ ip: String) -> Bool {
        ip.hasPrefix("10.") || ip.hasPrefix("192.168.") || ip.hasPrefix("127.") || ip.hasPrefix("169.254.")
            || (ip.hasPrefix("172.") && (16...31).contains(Int(ip.split(separator: ".").dropFirst().first ?? "") ?? 0))
            || ip.lowercased().hasPrefix("fc") || ip.lowercased().hasPrefix("fd") || ip.lowercased().hasPrefix("fe80")
            || ip == "::1"
    }

    /// Asks the peer for its side and merges; when the pairing failed, the local report with a note.
    func complete(_ local: Report, rules: VerdictRules?) -> Report {
        guard let session else { return withNote(local) }
        let role = local.parameters["role"] ?? "destination"
        let partnerRole = Paired.partnerRole(of: role)
        let answer = PairingSession.wait(on: loop) { done in
            session.request(.init(type: "run", pack: local.packID, version: local.packVersion, role: partnerRole), done)
        }
        let peerFindings: [Finding]
        let peerComputer: String
        switch answer.flatMap(Paired.decodeFindings) {
        case .failure(let why):
            failed(why, stage: "run")
            return withNote(local)
        case .success(let (computer, findings)):
            peerComputer = "\(computer) (\(host))"
            peerFindings = findings
        }
        let servicePort = Int(local.parameters["port"] ?? "") ?? 4242
        let seenIP = session.seen.flatMap { PairingSession.address(of: $0)?.ip }
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
        } else if let connectBack {
            // Measured before the checks ran, at the session's address: not a second wait.
            test = connectBack
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
            test: test, rules: rules)
    }

    /// The local report, and a note (an `error` check: the paired diagnosis asked for was not made,
    /// exit code 2) saying why the other computer's side is missing and what to do.
    private func withNote(_ local: Report) -> Report {
        guard let (why, stage) = failure else { return local }
        let peer = SocketAddress.text(host: host, port: Int(port))
        let advice: String =
            switch why.code {
            case "wrong-code", "unauthenticated":
                "Type the code `portdoctor listen --pair` shows on \(host) now (a code works once and for 10 minutes), or use the same --token-file on both computers."
            case "peer-unreachable", "garbled", "closed", "timeout":
                "Start `portdoctor listen --pair` on the other computer, and check that this computer reaches \(peer) (its firewall lets TCP \(port) in)."
            case "not-pairing":
                "The portdoctor at \(peer) does not pair: restart it as `portdoctor listen --pair` (or with --token-file)."
            case "unknown-pack", "pack-version-mismatch", "pack-unloadable":
                "Install the same pack on the other computer (`portdoctor pack install …`), then run again."
            case "rate-limited":
                "The other computer answered (it is on and reachable), but its `portdoctor listen` limits requests from this address (--per-minute): wait a minute and run again, or restart it with a higher --per-minute. A current `portdoctor listen` never limits its paired partner."
            case "busy", "pairing-closed":
                "Wait a few seconds (or restart `portdoctor listen --pair` on the other computer), then run again."
            default: "Run again; if it keeps failing, run `portdoctor listen --pair` on the other computer in a terminal to see why."
            }
        var report = local
        report.findings.append(
            Finding(
                id: "pairing", title: "Pair with the other computer", status: .error,
                summary:
                    "pairing with \(peer) failed: \(why.message) (\(why.code)) — this report is this computer's side only",
                advice: [advice],
                evidence: .object([
                    "peer": .string(peer), "code": .string(why.code), "stage": .string(stage),
                    "message": .string(why.message),
                    // Any refusal is an answer: the other computer is on and its portdoctor listens.
                    "peer_answered": .bool(!["peer-unreachable", "garbled", "closed", "timeout"].contains(why.code)),
                ]), origin: "portdoctor"))
        return report
    }

    /// The status of the source's connect to the destination in the local run (the reach-peer step's
    /// `socket.connect` evidence), when it made one.
    static func connectStatus(in report: Report) -> (status: String, to: String?)? {
        guard let f = report.findings.first(where: { $0.id == "reach-peer" && $0.status != .skip }),
            case .object(var evidence) = f.evidence
        else { return nil }
        // The connect alone, or beside what explains it ({ connect = …, firewall = … }).
        if case .object(let connect)? = evidence["connect"] { evidence = connect }
        guard case .string(let status)? = evidence["status"] else { return nil }
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
