import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Turns the command line's inputs into a list of files: files as given, directories recursively
/// (rotated logs included: `access.log`, `access.log.1`, `access.log.2.gz`), glob patterns, and `-` for
/// standard input.
public enum InputExpansion {
    /// One file to read.
    public struct Entry: Sendable, Equatable {
        public var path: String
        /// What `--shard` hashes: the path relative to the directory argument it was found under, or the
        /// argument itself, so that machines that mount the archive at different places agree on the shards.
        public var shardKey: String
        /// Found by walking a directory (not named on the command line): a stray file that is not a log is
        /// skipped with a warning rather than counted as an error.
        public var foundInDirectory: Bool
    }

    /// The files to read, in a stable order: as given, each directory's files sorted by path. Hidden files
    /// and folders inside directories are skipped.
    ///
    /// - Throws: `InputError` for a path that does not exist and matches nothing as a pattern.
    public static func expand(_ arguments: [String]) throws(InputError) -> [String] {
        try entries(arguments).map(\.path)
    }

    /// `expand(_:)` with each file's shard key and origin.
    public static func entries(_ arguments: [String]) throws(InputError) -> [Entry] {
        var result: [Entry] = []
        var seen = Set<String>()
        func add(_ path: String, key: String, walked: Bool) {
            if seen.insert(path).inserted { result.append(Entry(path: path, shardKey: key, foundInDirectory: walked)) }
        }
        func addDirectory(_ directory: String) {
            let base = URL(fileURLWithPath: directory).standardizedFileURL.path
            for file in filesUnder(directory) {
                let relative = file.hasPrefix(base + "/") ? String(file.dropFirst(base.count + 1)) : file
                add(file, key: relative, walked: true)
            }
        }
        for argument in arguments {
            if argument == "-" {
                add(argument, key: argument, walked: false)
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
                if isDirectory.boolValue {
                    addDirectory(argument)
                } else {
                    add(argument, key: argument, walked: false)
                }
                continue
            }
            let matches = globMatches(argument)
            if matches.isEmpty {
                throw InputError(path: argument, message: "No such file or directory")
            }
            for match in matches {
                var matchIsDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: match, isDirectory: &matchIsDirectory), matchIsDirectory.boolValue {
                    addDirectory(match)
                } else {
                    add(match, key: match, walked: false)
                }
            }
        }
        return result
    }

    static func filesUnder(_ directory: String) -> [String] {
        let base = URL(fileURLWithPath: directory).standardizedFileURL
        guard let walker = FileManager.default.enumerator(
            at: base, includingPropertiesForKeys: [.isRegularFileKey], options: [.skipsHiddenFiles]
        ) else { return [] }
        var files: [String] = []
        for case let url as URL in walker {
            if (try? url.resourceValues(forKeys: [.isRegularFileKey]))?.isRegularFile == true {
                files.append(url.path)
            }
        }
        return files.sorted()
    }

    static func globMatches(_ pattern: String) -> [String] {
        guard pattern.contains(where: { "*?[".contains($0) }) else { return [] }
        var matches = glob_t()
        defer { globfree(&matches) }
        guard glob(pattern, 0, nil, &matches) == 0 else { return [] }
        var paths: [String] = []
        for index in 0..<Int(matches.gl_pathc) {
            if let cString = matches.gl_pathv[index] { paths.append(String(cString: cString)) }
        }
        return paths.sorted()
    }
}
