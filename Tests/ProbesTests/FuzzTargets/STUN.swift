@testable import Probes

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

extension FuzzTargets {
    /// A STUN Binding response (RFC 5389) to the transaction in bytes 8..<20; the mapped address
    /// found re-encodes (as XOR-MAPPED-ADDRESS) to a response that decodes to the same address.
    static let stun = FuzzTarget(name: "stun") { bytes in
        let transaction = bytes.count >= 20 ? Array(bytes[8..<20]) : Array(repeating: 7, count: 12)
        guard let found = STUN.parse(bytes, transaction: transaction) else { return }
        var raw = [UInt8](repeating: 0, count: 16)
        let isV4 = found.family == .ipv4
        try require(
            inet_pton(isV4 ? AF_INET : AF_INET6, found.ip, &raw) == 1,
            "the mapped address \(found.ip) is not an address")
        let mask = [0x21, 0x12, 0xA4, 0x42] + transaction
        let address = (0..<(isV4 ? 4 : 16)).map { raw[$0] ^ mask[$0] }
        let port = found.port ^ 0x2112
        let value = [0, isV4 ? 1 : 2, UInt8(port >> 8), UInt8(port & 255)] + address
        let attribute = [0x00, 0x20, 0, UInt8(value.count)] + value
        let response = [0x01, 0x01, 0, UInt8(attribute.count)] + mask + attribute
        let again = STUN.parse(response, transaction: transaction)
        try require(
            again?.ip == found.ip && again?.port == found.port && again?.family == found.family,
            "\(found) re-encodes to \(String(describing: again))")
    }
}
