import LuaHost

/// The outcome of one check. **Contract**: these names appear in JSON reports.
public enum CheckStatus: String, Sendable, CaseIterable, Comparable {
    case pass, warn, fail, error, skip

    /// How bad, for ordering and the exit code.
    var severity: Int {
        switch self {
        case .pass: 0
        case .skip: 1
        case .warn: 2
        case .fail: 3
        case .error: 4
        }
    }

    public static func < (a: CheckStatus, b: CheckStatus) -> Bool { a.severity < b.severity }
}

/// Root causes. **Contract**: extend, never rename. Packs may declare more in their manifest.
public enum RootCause {
    public static let vocabulary: [String: String] = [
        "peer-unresolvable": "the other computer's name does not resolve",
        "peer-unreachable": "the other computer cannot be reached at all",
        "no-listener": "nothing is listening on the port",
        "listener-loopback-only": "the service listens on 127.0.0.1 only",
        "port-in-use": "another program holds the port",
        "firewall-blocks-inbound": "a firewall blocks incoming connections",
        "firewall-blocks-outbound": "a firewall blocks outgoing connections",
        "port-forward-missing": "the router does not forward the port",
        "port-forward-wrong-target": "the router forwards the port to another address",
        "double-nat": "two routers translate addresses (double NAT)",
        "cgnat": "the internet provider shares one public address (carrier-grade NAT)",
        "upnp-unavailable": "the router does not answer UPnP or NAT-PMP",
        "service-not-running": "the service is not running",
        "service-not-installed": "the service is not installed",
        "filtered-upstream": "something beyond the router filters the port",
        "no-default-route": "this computer has no default route: nothing beyond its own network gets an answer",
        "manual-step": "a step only the person can do",
        "firewall-blocks-inbound-ipv6": "a firewall blocks incoming connections over IPv6 (IPv4 ones get through)",
        "listener-ipv4-only": "the service listens on IPv4 only, and the other computer can come in only over IPv6",
        "peer-ipv6-unreachable": "the other computer's IPv6 address does not answer (its IPv4 address does)",
        "peer-ipv4-unreachable": "the other computer's IPv4 address does not answer (its IPv6 address does)",
        "ipv6-address-temporary":
            "the name the other computer uses points at a temporary or deprecated IPv6 address of this computer",
        "ipv6-pinhole-missing":
            "the router's IPv6 firewall drops incoming connections to this computer: no pinhole lets the port in",
    ]
}

/// A repair a check offered, and what became of it.
public struct RepairReport: Sendable, Equatable {
    public enum Outcome: String, Sendable {
        /// Not applied: no `--fix`.
        case offered
        /// The person said no.
        case declined
        /// Applied, and the check passed when run again.
        case fixed
        /// Applied, but the check still does not pass.
        case notFixed = "not-fixed"
        /// Applying it failed.
        case failed
    }

    public var id: String
    public var title: String
    public var changes: String
    public var privileged: Bool
    public var outcome: Outcome
    public var detail: String?
}

/// One check's result. **Contract**: the JSON report's `checks` entries.
public struct Finding: Sendable {
    public var id: String
    public var title: String
    public var status: CheckStatus
    public var summary: String
    public var cause: String?
    public var advice: [String]
    public var evidence: JSONValue
    public var repairs: [RepairReport]
    public var next: String?
    public var durationMilliseconds: Double
    /// Where the step came from: the pack, or the overlay that added or replaced it.
    public var origin: String
    /// For `error` findings: file, line and traceback when known.
    public var error: LuaError?
    /// What the check printed, line by line, when the run keeps it (`--debug`); nil otherwise.
    public var output: [String]?
    /// In a paired diagnosis (`run --with`): the computer the check ran on, and its role there
    /// (`source` or `destination`). Nil in a run on one computer.
    public var computer: String?
    public var side: String?

    public init(
        id: String, title: String, status: CheckStatus, summary: String, cause: String? = nil,
        advice: [String] = [], evidence: JSONValue = .null, repairs: [RepairReport] = [],
        next: String? = nil, durationMilliseconds: Double = 0, origin: String, error: LuaError? = nil
    ) {
        self.id = id
        self.title = title
        self.status = status
        self.summary = summary
        self.cause = cause
        self.advice = advice
        self.evidence = evidence
        self.repairs = repairs
        self.next = next
        self.durationMilliseconds = durationMilliseconds
        self.origin = origin
        self.error = error
    }
}

/// Everything a reporter needs.
public struct Report: Sendable {
    public var packID: String
    public var packVersion: String
    public var packTitle: String
    public var platform: String
    public var vendor: String?
    /// Each parameter's value as text (secret ones masked).
    public var parameters: [String: String]
    /// Where each value came from: `default`, `config`, `environment` or `command-line`.
    public var parameterSources: [String: String] = [:]
    public var findings: [Finding]
    /// Problems found before anything ran (a broken check or overlay): reported as `error` findings.
    public var durationMilliseconds: Double
    /// When the run started, in seconds since 1970 (UTC).
    public var startedAt: Double = 0
    /// The computer this ran on (the planned `platform` may differ with `--platform`).
    public var system: SystemInfo = .current
    /// A paired diagnosis's verdict: which computer to fix. Nil in a run on one computer.
    public var pairing: PairedVerdict?
    /// The run's recording (`run --record`), as written: attached to the HTML report so that support
    /// can replay it. Not part of the JSON report (it would double its size); nil when none was made.
    public var recording: String?
    /// The causes the pack declares (`causes = { ["id"] = "words" }` in its manifest): reports
    /// describe them as they describe the shared ones.
    public var packCauses: [String: String] = [:]

    /// Words for each cause a finding may name: the shared vocabulary's, then the pack's own
    /// (a pack cannot reword a shared cause).
    public var causeWords: [String: String] {
        packCauses.isEmpty ? RootCause.vocabulary : RootCause.vocabulary.merging(packCauses) { shared, _ in shared }
    }

    public func count(_ status: CheckStatus) -> Int { findings.filter { $0.status == status }.count }

    /// The finding a person should act on first: the first failure in plan order, else the first error, else warning.
    public var primary: Finding? {
        // A paired run: the check its verdict rests on (the other computer's evidence may have
        // resolved this computer's first failure, e.g. a connect that timed out, into its cause).
        if let check = pairing?.check, let f = findings.first(where: { $0.id == check }),
            f.status == .fail || f.status == .warn
        {
            return f
        }
        return findings.first { $0.status == .fail } ?? findings.first { $0.status == .error }
            ?? findings.first { $0.status == .warn }
    }

    /// The other problems found in the same run, each an independent cause: every later failure whose
    /// cause the report has not named yet, in plan order. Empty unless the primary finding failed.
    public var also: [Finding] {
        guard let p = primary, p.status == .fail else { return [] }
        var named: Set<String> = [p.cause ?? p.id]
        let failures = findings.filter { f in
            f.status == .fail && f.id != p.id && named.insert(f.cause ?? f.id).inserted
        }
        // Then the likely ones: a warning that names a cause (the evidence points at it, but
        // cannot prove it while another fault is in the way).
        let likely = findings.filter { f in
            f.status == .warn && f.cause != nil && named.insert(f.cause!).inserted
        }
        return failures + likely
    }

    /// **Contract**: 0 nothing failed, 1 a problem was found, 2 the diagnosis could not be made.
    public var exitCode: Int32 {
        if findings.contains(where: { $0.status == .error }) { return 2 }
        if findings.contains(where: { $0.status == .fail }) { return 1 }
        return 0
    }
}

extension Finding {
    /// A paired report's: the computer the check ran on, as one phrase ("the destination, nas
    /// (192.168.1.20)"); nil in a one-ended report.
    public var onComputer: String? {
        switch (side, computer) {
        case (let s?, let c?): "the \(s), \(c)"
        case (let s?, nil): "the \(s)"
        case (nil, let c?): c
        case (nil, nil): nil
        }
    }
}
