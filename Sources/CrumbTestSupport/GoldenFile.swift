import Foundation

/// Golden-file comparison: actual bytes against a committed expected file, byte for byte.
///
/// With `CRUMB_RECORD_GOLDEN=1` in the environment the expected file is rewritten and the comparison
/// reports a failure, so a re-record is always a conscious commit.
public enum GoldenFile {
    public enum Outcome: Equatable {
        case match
        case mismatch(String)
        case recorded(String)
    }

    public static var isRecording: Bool {
        ProcessInfo.processInfo.environment["CRUMB_RECORD_GOLDEN"] == "1"
    }

    /// Compares `actual` with the file at `path` (or records it).
    public static func compare(_ actual: [UInt8], to path: String) -> Outcome {
        if isRecording {
            try? FileManager.default.createDirectory(
                at: URL(fileURLWithPath: path).deletingLastPathComponent(), withIntermediateDirectories: true)
            _ = FileManager.default.createFile(atPath: path, contents: Data(actual))
            return .recorded("re-recorded \(path); unset CRUMB_RECORD_GOLDEN and commit it")
        }
        guard let expected = FileManager.default.contents(atPath: path) else {
            return .mismatch("missing golden file \(path); run with CRUMB_RECORD_GOLDEN=1 to record it")
        }
        if Array(expected) == actual { return .match }
        let expectedLines = String(decoding: expected, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        let actualLines = String(decoding: actual, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        for index in 0..<max(expectedLines.count, actualLines.count) {
            let want = index < expectedLines.count ? String(expectedLines[index]) : "<end>"
            let got = index < actualLines.count ? String(actualLines[index]) : "<end>"
            if want != got {
                return .mismatch("\(path):\(index + 1): expected \(want.prefix(200)) but got \(got.prefix(200))")
            }
        }
        return .mismatch("\(path): bytes differ")
    }
}
