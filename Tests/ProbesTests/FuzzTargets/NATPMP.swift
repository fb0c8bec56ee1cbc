@testable import Probes

extension FuzzTargets {
    /// NAT-PMP answers (RFC 6886) to each request kind; what was decoded re-encodes to the same bytes.
    static let natpmp = FuzzTarget(name: "natpmp") { bytes in
        for op: UInt8 in [0, 1, 2] {
            guard let a = NATPMP.parse(bytes, op: op, gateway: "192.0.2.1") else { continue }
            try require(
                a.result == Int(bytes[2]) << 8 | Int(bytes[3]), "result code \(a.result ?? -1) not from the bytes")
            if let ext = a.externalAddress {
                try require(
                    ext == bytes[8..<12].map(String.init).joined(separator: "."),
                    "external \(ext) re-encodes differently")
            }
            if let i = a.internalPort, let e = a.externalPort, let l = a.lifetime {
                let again =
                    [UInt8(i >> 8), UInt8(i & 255), UInt8(e >> 8), UInt8(e & 255)]
                    + [UInt8(l >> 24 & 255), UInt8(l >> 16 & 255), UInt8(l >> 8 & 255), UInt8(l & 255)]
                try require(again == Array(bytes[8..<16]), "mapping \(i)→\(e) for \(l) s re-encodes differently")
            }
        }
    }
}
