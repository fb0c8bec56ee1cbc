@testable import Probes

extension FuzzTargets {
    /// PCP answers (RFC 6887) to ANNOUNCE and to MAP, with the request's nonce taken from the input
    /// (so the fuzzer reaches the MAP fields) and with a fixed one; what was decoded re-encodes.
    static let pcp = FuzzTarget(name: "pcp") { bytes in
        let fixed: [UInt8] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
        let own = bytes.count >= 36 ? Array(bytes[24..<36]) : fixed
        for (op, nonce) in [(PCP.Opcode.announce, nil), (.map, fixed), (.map, own)] as [(PCP.Opcode, [UInt8]?)] {
            guard let a = PCP.parse(bytes, op: op, nonce: nonce, server: "192.0.2.1") else { continue }
            if a.status == "natpmp-only" { continue }
            try require(a.result == Int(bytes[3]), "result \(a.result ?? -1) not from the bytes")
            if let l = a.lifetime {
                try require(PCP.be32(UInt32(l)) == Array(bytes[4..<8]), "lifetime \(l) re-encodes differently")
            }
            if let p = a.internalPort {
                try require(PCP.be16(UInt16(p)) == Array(bytes[40..<42]), "internal port \(p) re-encodes differently")
            }
            if let ext = a.externalAddress {
                try require(PCP.bytes16(ext) == Array(bytes[44..<60]), "external \(ext) re-encodes differently")
            }
        }
    }
}
