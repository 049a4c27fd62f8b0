import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An output file could not be written: the directory is missing, permission was denied, the disk is full.
///
/// The CLI maps it to exit code 74. `message` names the operation and the system's reason (`strerror`, or
/// SQLite's error text); it never holds log data, so it is safe to print.
public struct OutputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The output path that was being written (the target, not the temporary file).
    public var path: String
    /// What failed and why, e.g. `cannot create temporary file: No such file or directory`.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// Writes output files atomically: readers see either the old file or the complete new one, never a prefix.
///
/// The new content goes to a temporary file in the target's directory, named `.NAME.tmp-PID-N`, which is
/// flushed and then renamed over the target (`rename(2)` is atomic within one file system). On any failure
/// the temporary file is removed and an existing file at the target is left untouched.
public enum AtomicFile {
    /// Writes `bytes` to `path`, replacing any file there only once all of them are on disk.
    ///
    /// The file is created with mode 0644 (less the umask).
    ///
    /// - Throws: `OutputError` naming `path` when the temporary file cannot be created, written, flushed or
    ///   renamed; nothing is left behind in that case.
    public static func write(_ bytes: [UInt8], to path: String) throws(OutputError) {
        let temporary = temporaryPath(for: path)
        removeQuietly(temporary)
        do throws(OutputError) {
            try writeNewFile(bytes, at: temporary, reportingAs: path)
            try commit(temporary, to: path)
        } catch {
            removeQuietly(temporary)
            throw error
        }
    }

    /// Runs `body` with a temporary path in the same directory, then renames it to `path`; removes the temp on error.
    ///
    /// `body` must create the file at the path it is given (nothing exists there when it is called). Once it
    /// returns, the file is flushed to disk and renamed over `path`.
    ///
    /// - Throws: whatever `body` throws, unchanged; `OutputError` naming `path` when flushing or renaming fails.
    public static func replace(_ path: String, _ body: (String) throws -> Void) throws {
        try prepare(path, body).commit()
    }

    /// A file written and flushed under a temporary name beside `path`, not yet in place: `commit()` renames
    /// it over `path`, `discard()` removes it. A process that dies before either leaves a dot-file that
    /// `OutputLock.removeLeftovers` deletes.
    struct Prepared: Sendable {
        let temporary: String
        let path: String

        /// Renames the file over `path`; when that fails, removes it and throws.
        func commit() throws(OutputError) {
            do {
                try AtomicFile.commit(temporary, to: path)
            } catch {
                discard()
                throw error
            }
        }

        func discard() {
            AtomicFile.removeQuietly(temporary)
        }
    }

    /// The first half of `replace`: runs `body` with a temporary path and flushes what it wrote, leaving the
    /// rename to the caller (so that a file can be built while something else must be committed first).
    static func prepare(_ path: String, _ body: (String) throws -> Void) throws -> Prepared {
        let temporary = temporaryPath(for: path)
        // A stale file from an earlier process that had the same id would otherwise be reused.
        removeQuietly(temporary)
        do {
            try body(temporary)
            try flush(temporary, reportingAs: path)
        } catch {
            removeQuietly(temporary)
            throw error
        }
        return Prepared(temporary: temporary, path: path)
    }

    /// Creates the directory `path` and any missing parents (mode 0755 less the umask), like `mkdir -p`.
    ///
    /// An existing directory is fine; an existing file of another kind is an error.
    ///
    /// - Throws: `OutputError` naming the component that could not be created.
    public static func createDirectory(_ path: String) throws(OutputError) {
        guard !path.isEmpty else { throw OutputError(path: path, message: "empty directory path") }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for component in path.split(separator: "/", omittingEmptySubsequences: true) {
            prefix += component
            if mkdir(prefix, 0o755) != 0 {
                let code = errno
                guard code == EEXIST, isDirectory(prefix) else {
                    let reason = code == EEXIST ? "exists and is not a directory" : systemReason(code)
                    throw OutputError(path: prefix, message: "cannot create directory: \(reason)")
                }
            }
            prefix += "/"
        }
    }

    // MARK: - Steps

    /// The temporary sibling of `path`: `DIR/.NAME.tmp-PID-N`, unique within this process.
    static func temporaryPath(for path: String) -> String {
        let (directory, name) = split(path)
        return "\(directory).\(name).tmp-\(getpid())-\(TemporaryCounter.shared.next())"
    }

    /// Creates `path` (which must not exist) and writes all of `bytes` to it, flushed to disk.
    private static func writeNewFile(_ bytes: [UInt8], at path: String, reportingAs target: String) throws(OutputError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw OutputError(path: target, message: "cannot create temporary file: \(systemReason(errno))")
        }
        var failure: Int32? = nil
        bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = SystemCall.write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    failure = errno
                    return
                }
                offset += written
            }
        }
        if failure == nil, fsync(descriptor) != 0 { failure = errno }
        if close(descriptor) != 0, failure == nil { failure = errno }
        if let failure {
            throw OutputError(path: target, message: "cannot write: \(systemReason(failure))")
        }
    }

    /// Flushes a file that something else wrote (SQLite with `synchronous = OFF`) to disk.
    private static func flush(_ path: String, reportingAs target: String) throws(OutputError) {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw OutputError(path: target, message: "cannot open temporary file: \(systemReason(errno))")
        }
        defer { close(descriptor) }
        if fsync(descriptor) != 0 {
            throw OutputError(path: target, message: "cannot flush: \(systemReason(errno))")
        }
    }

    /// Renames `temporary` over `target`, then flushes the directory so that the rename itself is durable.
    private static func commit(_ temporary: String, to target: String) throws(OutputError) {
        guard rename(temporary, target) == 0 else {
            throw OutputError(path: target, message: "cannot replace: \(systemReason(errno))")
        }
        // Best effort: some file systems refuse fsync on a directory, and the data is already in place.
        let (directory, _) = split(target)
        let descriptor = open(directory.isEmpty ? "." : directory, O_RDONLY | O_CLOEXEC)
        if descriptor >= 0 {
            _ = fsync(descriptor)
            close(descriptor)
        }
    }

    static func removeQuietly(_ path: String) {
        _ = unlink(path)
    }

    // MARK: - Helpers

    /// `path` split after its last `/`: the directory with its trailing slash (empty when there is none) and the name.
    private static func split(_ path: String) -> (directory: String, name: String) {
        guard let slash = path.lastIndex(of: "/") else { return ("", path) }
        return (String(path[...slash]), String(path[path.index(after: slash)...]))
    }

    private static func isDirectory(_ path: String) -> Bool {
        var status = stat()
        return stat(path, &status) == 0 && (status.st_mode & S_IFMT) == S_IFDIR
    }

    static func systemReason(_ code: Int32) -> String {
        String(cString: strerror(code))
    }
}

/// The `N` of temporary names: distinct for every temporary file this process makes, across threads.
private final class TemporaryCounter: @unchecked Sendable {
    static let shared = TemporaryCounter()

    // `NSLock` rather than `Synchronization.Mutex`, which needs macOS 15 and the package supports macOS 14.
    private let lock = NSLock()
    private var value = 0

    func next() -> Int {
        lock.lock()
        defer { lock.unlock() }
        value += 1
        return value
    }
}
