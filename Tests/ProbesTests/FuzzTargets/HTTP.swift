@testable import Probes

extension FuzzTargets {
    /// A router's HTTP answer, complete or cut anywhere, bounded by `maxBytes`.
    static let http = FuzzTarget(name: "http") { bytes in
        let maxBytes = 4096
        for complete in [false, true] {
            switch MiniHTTP.parse(bytes, maxBytes: maxBytes, complete: complete) {
            case nil: try require(!complete, "a complete answer left undecided")
            case .success(let r):
                try require(r.body.count <= maxBytes, "a body of \(r.body.count) bytes past the \(maxBytes) limit")
            case .failure(let f):
                try require(!f.description.isEmpty, "an HTTP failure that says nothing")
            }
        }
        // A prefix never succeeds with more body than the whole answer has.
        if case .success(let whole)? = MiniHTTP.parse(bytes, maxBytes: maxBytes, complete: true),
            case .success(let part)? = MiniHTTP.parse(
                Array(bytes.prefix(bytes.count / 2)), maxBytes: maxBytes, complete: false)
        {
            try require(part.status == whole.status, "a prefix read status \(part.status), the whole \(whole.status)")
        }
    }
}
