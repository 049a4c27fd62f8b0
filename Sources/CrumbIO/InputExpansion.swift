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
    /// The files to read, in a stable order: as given, each directory's files sorted by path. Hidden files
    /// and folders inside directories are skipped.
    ///
    /// - Throws: `InputError` for a path that does not exist and matches nothing as a pattern.
    public static func expand(_ arguments: [String]) throws(InputError) -> [String] {
        var result: [String] = []
        var seen = Set<String>()
        func add(_ path: String) {
            if seen.insert(path).inserted { result.append(path) }
        }
        for argument in arguments {
            if argument == "-" {
                add(argument)
                continue
            }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: argument, isDirectory: &isDirectory) {
                if isDirectory.boolValue {
                    for file in filesUnder(argument) { add(file) }
                } else {
                    add(argument)
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
                    for file in filesUnder(match) { add(file) }
                } else {
                    add(match)
                }
            }
        }
        return result
    }

    static func filesUnder(_ directory: String) -> [String] {
        let base = URL(fileURLWithPath: directory)
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
