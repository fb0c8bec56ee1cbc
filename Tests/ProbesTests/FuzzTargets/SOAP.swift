@testable import Probes

extension FuzzTargets {
    /// A router's SOAP answer (IGD:1 port mappings and IGD:2 pinholes): the first byte picks the
    /// action and the status, the rest is the body. Only fields the client reads come back, and a
    /// success always carries the action's answer block.
    static let soap = FuzzTarget(name: "soap") { bytes in
        guard let first = bytes.first else { return }
        let actions = [
            "GetExternalIPAddress", "GetSpecificPortMappingEntry", "GetGenericPortMappingEntry", "AddPortMapping",
            "GetFirewallStatus", "AddPinhole", "CheckPinholeWorking", "DeletePinhole",
        ]
        let action = actions[Int(first) % actions.count]
        let status = first & 0x80 == 0 ? 200 : 500
        let xml = text(Array(bytes.dropFirst()))
        switch UPnP.answer(to: action, status: status, xml: xml, firewall: first & 0x40 != 0) {
        case .success(let fields):
            try require(status == 200, "an answer taken from HTTP \(status)")
            try require(Set(fields.keys).isSubset(of: UPnP.answerFields), "a field the client does not read")
            try require(!MiniXML.blocks("\(action)Response", in: xml).isEmpty, "success without \(action)Response")
        case .failure(let f):
            try require(!"\(f)".isEmpty, "a refusal without words")
        }
    }
}
