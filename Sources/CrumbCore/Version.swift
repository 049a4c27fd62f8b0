/// crumb's version and the output schema it writes.
public enum CrumbVersion {
    public static let current = "0.1.0"
    /// The output contract's version (DESIGN.md, "Output contract").
    public static let schema = 1
}
