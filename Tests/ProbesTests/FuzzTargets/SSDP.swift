@testable import Probes

extension FuzzTargets {
    /// An SSDP reply (headers), then the device description it points to (XML): split at the first NUL.
    static let ssdp = FuzzTarget(name: "ssdp") { bytes in
        let parts = bytes.split(separator: 0, maxSplits: 1, omittingEmptySubsequences: false)
        let headers = UPnP.ssdpHeaders(text(Array(parts.first ?? [])))
        let location = headers["location"] ?? "http://192.0.2.1:5000/rootDesc.xml"
        try require(headers.keys.allSatisfy { $0 == $0.lowercased() }, "a header name not lower-cased")
        guard parts.count > 1 else { return }
        let gateway = UPnP.parseDescription(text(Array(parts[1])), location: location, server: headers["server"])
        _ = UPnP.localAddress(toward: gateway)
    }
}
