@testable import Probes

extension FuzzTargets {
    /// Device descriptions and SOAP answers; escaping round-trips.
    static let xml = FuzzTarget(name: "xml") { bytes in
        let doc = text(bytes)
        for name in ["controlURL", "Body", "NewExternalIPAddress", "errorCode", "serviceType"] {
            let blocks = MiniXML.blocks(name, in: doc)
            try require(blocks.allSatisfy { doc.contains($0) }, "a block of <\(name)> that is not in the document")
            _ = MiniXML.values(name, in: doc)
        }
        try require(MiniXML.unescape(MiniXML.escape(doc)) == doc, "escape then unescape changed the text")
    }
}
