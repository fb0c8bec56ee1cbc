import Bindings

extension JSONValue {
    /// An observation as `probe --format json` prints it: the very value checks get as a table.
    public init(observing observation: some Observation) { self.init(observation.observed) }
}
