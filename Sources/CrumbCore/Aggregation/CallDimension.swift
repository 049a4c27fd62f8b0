/// The dimensions of call trends (schema v1, table `call_trends`). `total` is always written; the policy
/// chooses the rest.
public enum CallDimension: Int, Sendable, CaseIterable, Codable {
    /// Every call, under the value `all`.
    case total
    /// The dialled number or extension (`dst`).
    case dialled
    /// The dialplan context: queue or IVR entry point.
    case context
    /// The sequence of dialplan applications a call went through (`Answer>Playback>Queue`).
    case ivrPath
    /// How the call ended (`ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, or FreeSWITCH's hangup cause).
    case disposition

    /// The name in outputs and policy files.
    public var name: String {
        switch self {
        case .total: "total"
        case .dialled: "dialled"
        case .context: "context"
        case .ivrPath: "ivr_path"
        case .disposition: "disposition"
        }
    }

    /// The dimension called `name`, or nil.
    public init?(name: String) {
        guard let found = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = found
    }
}
