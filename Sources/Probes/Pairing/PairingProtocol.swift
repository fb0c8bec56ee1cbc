import Crypto

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The paired diagnosis protocol, version 1 (Docs/pairing-protocol.md): framing, keys and the
/// messages two portdoctors exchange once they share a one-time code or a token. No Lua, no packs:
/// what a `run` request does is the caller's business (the CLI hands it to the engine).
public enum PairingProtocol {
    /// The framing and key version: it is in the HMAC label and the HKDF info, so it stays 1 while
    /// messages only grow.
    public static let version = 1
    /// The message set's version: 2 added `addresses`, `ATTACH` and connect-back's `address`
    /// (each side's addresses, tested over every family and path). A version-1 peer answers
    /// `addresses` with `bad-request`, and the client falls back to one connect.
    public static let messagesVersion = 2
    /// Addresses a session's partner may attest (the session's own and those it attached from):
    /// all that connect-back will ever connect to.
    public static let maxPartnerAddresses = 4
    /// Addresses a peer announces of its own.
    public static let maxAnnouncedAddresses = 4
    static let ticketBytes = 16
    /// A request line (client → peer): small, it only names a pack, a role and a port.
    public static let maxRequestBytes = 4096
    /// A reply line (peer → client): the peer's findings, evidence included.
    public static let maxReplyBytes = 256 * 1024
    /// Between two requests of one session; a `run` may take as long as the peer's checks.
    public static let idleTimeout: Duration = .seconds(30)
    /// How long the client waits for a reply to `run` (the peer's own limits bound its checks).
    public static let replyTimeout: Duration = .seconds(60)
    /// Requests in one session: a paired diagnosis needs three or four.
    public static let maxRequestsPerSession = 16
    /// Sessions waiting for their first authenticated request at once; more are refused.
    public static let maxOpenSessions = 4
    /// Authenticated sessions running at once; more are refused `busy`. A paired partner's sessions
    /// do not count against the reflector's per-address limit (see `maxPairedPerMinute`), so this
    /// bounds what the peer holds for partners that know the code.
    public static let maxActiveSessions = 4
    /// Authenticated sessions per address a minute that start its rate limit over. A partner
    /// re-running after each change stays far below; past it, its requests count as anyone's.
    public static let maxPairedPerMinute = 60
    /// Wrong codes (first requests that fail authentication) before the code is void.
    public static let maxWrongGuessesPerCode = 5
    /// Wrong codes in the peer's lifetime before it stops pairing at all (restart to pair again).
    public static let maxWrongGuessesInAll = 20
    /// A one-time code expires this long after it was printed.
    public static let codeLifetime: Duration = .seconds(600)
    static let nonceBytes = 16
    static let macBytes = 32

    /// Why an exchange was refused. **Contract**: `code` appears in replies and reports.
    public struct Refusal: Error, Equatable, Sendable, CustomStringConvertible {
        public var code: String
        public var message: String
        public init(_ code: String, _ message: String) {
            self.code = code
            self.message = message
        }
        public var description: String { "\(message) (\(code))" }
    }

    // MARK: keys

    /// One key each way, so a message can never be reflected back to the side that sent it.
    public struct Keys {
        let toPeer: SymmetricKey
        let toClient: SymmetricKey
    }

    /// HKDF-SHA256 over the shared secret, salted with both sides' fresh nonces and bound to the
    /// session id: a new pair of keys for every session, even with a reused token.
    public static func deriveKeys(secret: String, clientNonce: [UInt8], peerNonce: [UInt8], session: String) -> Keys {
        let material = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: Array(normalize(secret).utf8)),
            salt: clientNonce + peerNonce,
            info: Array("portdoctor pairing v\(version) \(session)".utf8),
            outputByteCount: 64)
        let bytes = material.withUnsafeBytes { Array($0) }
        return Keys(toPeer: SymmetricKey(data: bytes[..<32]), toClient: SymmetricKey(data: bytes[32...]))
    }

    /// What both sides feed HMAC: a label, the session, the sequence number, the body.
    static func authenticated(session: String, seq: UInt64, body: [UInt8]) -> [UInt8] {
        var data = Array("PDPAIR\(version) \(session) ".utf8)
        withUnsafeBytes(of: seq.bigEndian) { data += $0 }
        return data + body
    }

    // MARK: frames

    /// "M <seq> <hex HMAC> <body JSON>": one line, authenticated.
    public struct Frame: Equatable, Sendable {
        public var seq: UInt64
        public var mac: [UInt8]
        public var body: [UInt8]
    }

    public static func seal(_ body: [UInt8], seq: UInt64, session: String, key: SymmetricKey) -> [UInt8] {
        let mac = HMAC<SHA256>.authenticationCode(
            for: authenticated(session: session, seq: seq, body: body), using: key)
        return Array("M \(seq) \(hex(Array(mac))) ".utf8) + body + [10]
    }

    /// Splits a frame without trusting anything in it. The body is only read after `verify`.
    public static func parseFrame(_ line: [UInt8]) -> Result<Frame, Refusal> {
        func no(_ why: String) -> Result<Frame, Refusal> { .failure(Refusal("bad-frame", why)) }
        var line = line[...]
        // Only the newline ends a frame: a body may end in anything else (a CR stripped here would
        // change what the MAC was computed over, and a sealed body would not open to itself).
        if line.last == 10 { line = line.dropLast() }
        let parts = line.split(separator: 32, maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].elementsEqual([77]) else {
            return no("a paired message is 'M <seq> <mac> <body>'")
        }
        guard parts[1].count <= 20, parts[1].allSatisfy({ (48...57).contains($0) }),
            let seq = UInt64(String(decoding: parts[1], as: UTF8.self))
        else { return no("the sequence number is not a number") }
        guard let mac = unhex(parts[2]), mac.count == macBytes else { return no("the MAC is not 32 bytes of hex") }
        return .success(Frame(seq: seq, mac: mac, body: Array(parts[3])))
    }

    /// The body of a frame that is the next one expected, under this key; else why not.
    public static func open(
        _ line: [UInt8], expecting seq: UInt64, session: String, key: SymmetricKey
    ) -> Result<[UInt8], Refusal> {
        switch parseFrame(line) {
        case .failure(let r): return .failure(r)
        case .success(let frame):
            guard
                HMAC<SHA256>.isValidAuthenticationCode(
                    frame.mac, authenticating: authenticated(session: session, seq: frame.seq, body: frame.body),
                    using: key)
            else { return .failure(Refusal("unauthenticated", "the message is not signed with this session's key")) }
            // Checked after the MAC, so a stranger learns nothing from which check failed.
            guard frame.seq == seq else {
                return .failure(Refusal("replayed", "message \(frame.seq) again or out of order (expected \(seq))"))
            }
            return .success(frame.body)
        }
    }

    // MARK: messages

    /// A request from the client. No field names an address: the peer only ever connects back to
    /// the address the session came from.
    public struct Request: Codable, Equatable, Sendable {
        /// `run` (the peer's own pack, its local steps for `role`), `connect-back`, or `bye`.
        public var type: String
        public var pack: String?
        public var version: String?
        public var role: String?
        public var port: Int?
        public var timeout: Double?
        /// connect-back (version 2): which of the partner's attested addresses to connect to (the
        /// session's own, or one it attached from); any other is refused with `not-partner`.
        public var address: String?

        public init(
            type: String, pack: String? = nil, version: String? = nil, role: String? = nil, port: Int? = nil,
            timeout: Double? = nil, address: String? = nil
        ) {
            self.type = type
            self.pack = pack
            self.version = version
            self.role = role
            self.port = port
            self.timeout = timeout
            self.address = address
        }

        static let types = ["run", "connect-back", "addresses", "bye"]

        /// Decodes and bounds a request body; anything unexpected is a named refusal.
        public static func decode(_ body: [UInt8]) -> Result<Request, Refusal> {
            guard let r = try? JSONDecoder().decode(Request.self, from: Data(body)) else {
                return .failure(Refusal("bad-request", "the request is not a JSON object with a type"))
            }
            guard types.contains(r.type) else {
                return .failure(Refusal("bad-request", "unknown request type; say run, connect-back, addresses or bye"))
            }
            if r.type == "run" {
                guard let pack = r.pack, !pack.isEmpty, pack.count <= 64,
                    pack.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }),
                    !pack.hasPrefix(".")
                else { return .failure(Refusal("bad-request", "run needs a pack id (letters, digits, - _ .)")) }
                guard r.role == "source" || r.role == "destination" else {
                    return .failure(Refusal("bad-request", "run needs role source or destination"))
                }
                if let v = r.version, v.count > 32 { return .failure(Refusal("bad-request", "version too long")) }
            }
            if r.type == "connect-back" {
                guard let port = r.port, PortNumber.from(port) != nil else {
                    return .failure(Refusal("bad-request", "connect-back needs a port from \(PortNumber.words())"))
                }
                if let t = r.timeout, !(t > 0) { return .failure(Refusal("bad-request", "timeout must be more than 0")) }
            }
            // Checked whatever the type: a request never carries a name for anyone to resolve later.
            if let a = r.address, a.utf8.count > 64 || canonical(a) == nil {
                return .failure(Refusal("bad-request", "the request's address is not a numeric IP address"))
            }
            return .success(r)
        }
    }

    /// One of a computer's own addresses, as it tells its partner (version 2). `via`: `lan` for an
    /// address on its own interface (reached without a port forward), `public` for its router's.
    public struct Address: Codable, Equatable, Sendable {
        public var ip: String
        public var family: String
        public var via: String
        public init(ip: String, family: String, via: String) {
            self.ip = ip
            self.family = family
            self.via = via
        }
    }

    /// The answer to `addresses` (version 2): the peer's own addresses, the partner's as this
    /// session saw it, and a ticket the partner may ATTACH with from its other addresses.
    public struct Addresses: Codable, Equatable, Sendable {
        public var type = "addresses"
        public var v = PairingProtocol.messagesVersion
        public var seen: String
        public var addresses: [Address]
        public var ticket: String
        public init(seen: String, addresses: [Address], ticket: String) {
            self.seen = seen
            self.addresses = addresses
            self.ticket = ticket
        }

        public static func decode(_ body: [UInt8]) -> Addresses? {
            guard var a = try? JSONDecoder().decode(Addresses.self, from: Data(body)), a.type == "addresses" else {
                return nil
            }
            // Only numeric addresses, and a few: a partner's list is never a list of targets to scan.
            a.addresses = Array(
                a.addresses.filter { canonical($0.ip) != nil && ($0.via == "lan" || $0.via == "public") }
                    .prefix(maxAnnouncedAddresses))
            return a
        }
    }

    /// The address's one spelling ("::ffff:10.0.0.1" stays itself; "0:0::1" is "::1"), or nil when
    /// it is not a numeric address: attested and requested addresses are compared in this form.
    public static func canonical(_ ip: String) -> String? {
        guard !ip.contains("%"), let a = SocketAddress(numeric: ip, port: 0) else { return nil }
        return a.withSockaddr { p, _ in SocketAddress(storage: UnsafeRawPointer(p)) }?.ip
    }

    /// This computer's own addresses worth testing: IPv4 ones that are not loopback or link-local,
    /// stable global IPv6 ones (a temporary one rotates away). At most `maxAnnouncedAddresses`.
    public static func ownAddresses(_ all: [HostAddress] = HostAddresses.list()) -> [Address] {
        let v4 = all.filter { $0.family == .ipv4 && $0.scope == "global" }
        let v6 = all.filter { $0.family == .ipv6 && $0.scope == "global" && $0.kind == "stable" }
        return Array(
            (v4.prefix(2) + v6.prefix(2)).map { Address(ip: $0.ip, family: $0.family.rawValue, via: "lan") }
                .prefix(maxAnnouncedAddresses))
    }

    /// The first reply, unauthenticated: the peer's nonce and the session id.
    public struct Opening: Codable, Equatable, Sendable {
        public var session: String
        public var nonce: String
    }

    // MARK: codes

    /// Crockford's base32: no I, L, O or U to misread.
    static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ")

    /// A fresh one-time code: 8 characters of base32 (40 bits), shown as XXXX-XXXX.
    public static func newCode() -> String {
        var g = SystemRandomNumberGenerator()
        let chars = (0..<8).map { _ in alphabet[Int(g.next(upperBound: UInt32(alphabet.count)))] }
        return String(chars[..<4]) + "-" + String(chars[4...])
    }

    /// What the person typed, as the key derivation sees it: case, dashes and spaces do not
    /// matter, and the letters people confuse with digits are those digits.
    public static func normalize(_ typed: String) -> String {
        var out = ""
        for c in typed.uppercased() where c != "-" && c != " " && c != "\n" && c != "\r" && c != "\t" {
            switch c {
            case "O": out.append("0")
            case "I", "L": out.append("1")
            default: out.append(c)
            }
        }
        return out
    }

    /// A token file: its first line, which must hold at least 128 bits (26 base32 characters or
    /// the like), since a token is not single-use.
    public static func readToken(path: String) throws -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw Refusal("token-file", "cannot read the token file \(path)")
        }
        let token = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        guard normalize(token).count >= 26 else {
            throw Refusal(
                "token-file",
                "the token in \(path) is too short: use at least 26 characters (e.g. `head -c 20 /dev/urandom | base32`)")
        }
        return token
    }

    static func randomBytes(_ n: Int) -> [UInt8] {
        var g = SystemRandomNumberGenerator()
        return (0..<n).map { _ in UInt8.random(in: 0...255, using: &g) }
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex<C: Collection<UInt8>>(_ text: C) -> [UInt8]? {
        guard text.count % 2 == 0 else { return nil }
        func value(_ c: UInt8) -> UInt8? {
            switch c {
            case 48...57: c - 48
            case 97...102: c - 87
            case 65...70: c - 55
            default: nil
            }
        }
        var out: [UInt8] = []
        var high: UInt8?
        for c in text {
            guard let v = value(c) else { return nil }
            if let h = high {
                out.append(h << 4 | v)
                high = nil
            } else {
                high = v
            }
        }
        return out
    }
}
