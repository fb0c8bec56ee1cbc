@testable import Probes

extension FuzzTargets {
    /// A paired session's message line as the peer receives it from anyone: a frame that parses
    /// re-seals to the same bytes' meaning; nothing unsigned is ever opened; request bodies are
    /// decoded within their bounds or refused with a name.
    static let pairing = FuzzTarget(name: "pairing") { bytes in
        let key = PairingProtocol.deriveKeys(secret: "fuzz", clientNonce: [], peerNonce: [], session: "fuzz").toPeer
        switch PairingProtocol.parseFrame(bytes) {
        case .failure(let bad): try require(!bad.message.isEmpty && bad.code == "bad-frame", "refusal \(bad)")
        case .success(let frame):
            try require(frame.mac.count == 32, "accepted a \(frame.mac.count)-byte MAC")
            // A frame from the fuzzer is not signed with this key (2^-256 aside): it must not open.
            if case .success = PairingProtocol.open(bytes, expecting: frame.seq, session: "fuzz", key: key) {
                let sealed = PairingProtocol.seal(frame.body, seq: frame.seq, session: "fuzz", key: key)
                try require(Array(sealed.dropLast()) == bytes || sealed == bytes, "opened a frame it did not seal")
            }
            // What it would be if it were signed: sealing it round-trips.
            let sealed = PairingProtocol.seal(frame.body, seq: frame.seq, session: "fuzz", key: key)
            let opened = PairingProtocol.open(sealed, expecting: frame.seq, session: "fuzz", key: key)
            try require(opened == .success(frame.body), "a sealed frame does not open to its body: \(opened)")
        }
        switch PairingProtocol.Request.decode(bytes) {
        case .failure(let bad): try require(!bad.message.isEmpty, "a refusal that does not say why")
        case .success(let r):
            try require(PairingProtocol.Request.types.contains(r.type), "accepted type \(r.type)")
            if r.type == "connect-back" { try require((1...65535).contains(r.port ?? 0), "accepted port \(r.port ?? 0)") }
            if r.type == "run" { try require((r.pack?.count ?? 0) <= 64, "accepted a long pack id") }
            // A connect-back's address is numeric or refused: never a name to resolve.
            if let a = r.address { try require(PairingProtocol.canonical(a) != nil, "accepted address \(a)") }
        }
        // A peer's list of its addresses, as the client reads it: only numeric ones, and a few.
        if let a = PairingProtocol.Addresses.decode(bytes) {
            try require(a.addresses.count <= PairingProtocol.maxAnnouncedAddresses, "kept \(a.addresses.count) addresses")
            try require(
                a.addresses.allSatisfy { PairingProtocol.canonical($0.ip) != nil && ["lan", "public"].contains($0.via) },
                "kept an address that is not numeric")
        }
    }
}
