import CrumbCore

/// Reads the first lines of an input (decompressed), for `crumb detect`.
public enum FormatSniffer {
    /// What `crumb detect` found for one input.
    public struct Result: Sendable {
        public var path: String
        public var detection: FormatDetector.Detection
        /// A hint when the input is compressed in a way crumb does not decode.
        public var hint: String?
    }

    /// Detects the format of each of `paths` (files, directories, globs; `-` for standard input) the way
    /// `crumb run` does.
    public static func detect(_ paths: [String], configuration: RunConfiguration) throws -> [Result] {
        let files = try InputExpansion.expand(paths)
        let detector = FormatDetector.standard(jsonMapping: configuration.policy.jsonMapping, timeZone: configuration.timeZone)
        return try files.map { path in
            let lines = try sample(path, lines: configuration.detectionLines, bytes: configuration.detectionBytes,
                                   maxLineLength: configuration.maxLineLength)
            let detection = detector.detect(lines: lines)
            let hint = detection.spec == nil ? FormatDetector.compressionHint(lines.first ?? []) : nil
            return Result(path: path, detection: detection, hint: hint)
        }
    }

    /// The first `lines` complete lines of `path`, decoded, or fewer when `bytes` come first or the input ends.
    /// A decoding fault after some lines keeps those lines.
    public static func sample(_ path: String, lines: Int, bytes: Int, maxLineLength: Int) throws -> [[UInt8]] {
        struct Enough: Error {}
        var held: [UInt8] = []
        let reader = try InputReader(path: path)
        defer { reader.close() }
        let decoder = StreamDecoder(reader: reader)
        do {
            try decoder.forEachChunk { chunk in
                held.append(contentsOf: chunk)
                if held.count >= bytes || BatchRunner.newlineCount(held) >= lines { throw Enough() }
            }
        } catch is Enough {
        } catch is DecodeError {
            let cut = held.lastIndex(of: UInt8(ascii: "\n")).map { $0 + 1 } ?? 0
            held.removeSubrange(cut...)
        }
        return BatchRunner.sampleLines(held, limit: lines, maxLineLength: maxLineLength)
    }
}
