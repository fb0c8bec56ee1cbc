@testable import Probes

extension FuzzTargets {
    /// /proc/net/route: the default gateway, if any, is a dotted quad.
    static let route = FuzzTarget(name: "route") { bytes in
        let table = text(bytes)
        let gateway = Gateway.defaultIPv4(routeTable: table)
        let hasDefault = Gateway.hasDefaultIPv4Route(routeTable: table)
        try require(hasDefault != nil, "a route table given, yet no answer")
        if let gateway {
            let quads = gateway.split(separator: ".", omittingEmptySubsequences: false)
            try require(quads.count == 4 && quads.allSatisfy { UInt8($0) != nil }, "gateway '\(gateway)'")
        }
    }
}
