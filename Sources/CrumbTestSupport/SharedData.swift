import Foundation

/// Locates the public test logs in `../shared/data`, beside the project's root.
///
/// CI has them; a clone elsewhere may not. Tests over them call `SharedData.path(_:)` and skip with a clear
/// message when it returns `nil`: they never fail for that reason.
public enum SharedData {
    /// The project's root folder, found from this source file's place in the tree.
    public static let projectRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // CrumbTestSupport
        .deletingLastPathComponent()  // Sources
        .deletingLastPathComponent()  // project root

    /// `../shared/data` from the project's root, or `CRUMB_SHARED_DATA` when set.
    public static let root: URL = {
        if let override = ProcessInfo.processInfo.environment["CRUMB_SHARED_DATA"], !override.isEmpty {
            return URL(fileURLWithPath: override)
        }
        return projectRoot.deletingLastPathComponent().appendingPathComponent("shared/data")
    }()

    /// The absolute path of `relative` under the shared data folder, or `nil` when that file is absent.
    public static func path(_ relative: String) -> String? {
        let url = root.appendingPathComponent(relative)
        return FileManager.default.fileExists(atPath: url.path) ? url.path : nil
    }

    /// The message a test prints when it skips for want of `relative`.
    public static func missing(_ relative: String) -> String {
        "skipped: \(root.path)/\(relative) is absent (the shared test data is not beside this clone)"
    }

    /// A path under the project's own `samples/` folder.
    public static func sample(_ relative: String) -> String {
        projectRoot.appendingPathComponent("samples").appendingPathComponent(relative).path
    }
}
