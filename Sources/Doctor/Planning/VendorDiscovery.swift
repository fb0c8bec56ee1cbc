import Probes
import Reactor

/// Which router this computer is behind, from UPnP discovery: it selects the vendor overlays.
/// Asked only when a pack has a vendor overlay, so other packs send nothing. The answer stays in
/// `discovery` for the rest of the run.
enum VendorDiscovery {
    static func discover(_ discovery: UPnP.Discovery, wait: Duration = .seconds(1)) -> [String: String]? {
        let loop = EventLoop()
        var result: [UPnP.Gateway]?
        discovery.discover(wait: wait, on: loop) { result = $0 }
        while result == nil { loop.turn(until: nil) }
        guard let g = result?.first(where: { $0.manufacturer != nil }) else { return nil }
        var vendor = ["manufacturer": g.manufacturer!]
        if let model = g.model { vendor["model"] = model }
        return vendor
    }
}
