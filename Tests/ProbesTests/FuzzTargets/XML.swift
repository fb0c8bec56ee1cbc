@testable import Probes

extension FuzzTargets {
    /// Device descriptions and SOAP answers; escaping round-trips.
    static let xml = FuzzTarget(name: "xml") { bytes in
        let doc = text(bytes)
        for name in ["controlURL", "Body", "NewExternalIPAddress", "errorCode", "serviceType"] {
            let blocks = MiniXML.blocks(name, in: doc)
            // An empty element (<name/>) is an empty block: "contains the empty string" is false with
            // Foundation's `contains`, so it is asked only of blocks with text.
            try require(
                blocks.allSatisfy { $0.isEmpty || doc.contains($0) }, "a block of <\(name)> that is not in the document")
            _ = MiniXML.values(name, in: doc)
        }
        try require(MiniXML.unescape(MiniXML.escape(doc)) == doc, "escape then unescape changed the text")
    }
}
