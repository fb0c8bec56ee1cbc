@testable import Probes

extension FuzzTargets {
    /// A request line as the reflector receives it from anyone. Refusals say why; what is accepted
    /// re-encodes to a line that parses to the same request.
    static let reflector = FuzzTarget(name: "reflector") { bytes in
        switch ReflectorProtocol.parse(text(bytes)) {
        case .failure(let bad): try require(!bad.why.isEmpty, "a refusal that does not say why")
        case .success(let request):
            let line: String
            switch request {
            case .hello(let token): line = "PORTDOCTOR/1 HELLO" + (token.map { " token=\($0)" } ?? "")
            case .pair(let nonce):
                try require(nonce.count == PairingProtocol.nonceBytes, "accepted a \(nonce.count)-byte nonce")
                line = "PORTDOCTOR/1 PAIR \(PairingProtocol.hex(nonce))"
            case .attach(let ticket):
                try require(ticket.count == PairingProtocol.ticketBytes, "accepted a \(ticket.count)-byte ticket")
                line = "PORTDOCTOR/1 ATTACH \(PairingProtocol.hex(ticket))"
            case .connectBack(let port, let timeout, let token, let trace):
                try require(
                    port > 0 && timeout > 0 && timeout <= ReflectorProtocol.maxConnectBackTimeout,
                    "accepted port \(port), timeout \(timeout)")
                line =
                    "PORTDOCTOR/1 CONNECT-BACK \(port) timeout=\(timeout)" + (trace ? " trace=1" : "")
                    + (token.map { " token=\($0)" } ?? "")
            }
            let again = ReflectorProtocol.parse(line)
            try require(again == .success(request), "\(request) re-encodes as '\(line)', which parses to \(again)")
        }
    }
}
