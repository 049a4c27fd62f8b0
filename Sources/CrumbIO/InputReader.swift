#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An input that could not be opened or read: the CLI reports it as an I/O error (exit code 74).
///
/// `message` is the system's text for the `errno` of the failed call (`strerror`, such as
/// "No such file or directory"); it never holds any of the input's bytes.
public struct InputError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The path as given; `-` for standard input.
    public var path: String
    /// The system's description of the failure.
    public var message: String

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }

    public var description: String { "\(path): \(message)" }
}

/// A raw byte source over one file, or over standard input when the path is `-`.
///
/// Reads with POSIX `read(2)` on a file descriptor, with no buffering of its own: the caller passes the buffer,
/// so one buffer allocated up front serves the whole input. Any file the process may open for reading is
/// accepted, including FIFOs and character devices; a directory opens but fails on the first read
/// ("Is a directory"). The bytes are returned exactly as stored: decompression is `StreamDecoder`'s job.
///
/// Not `Sendable`: one reader has one owner, which reads it to the end and then closes it.
public final class InputReader {
    /// The path as given; `-` for standard input.
    public let path: String
    /// Raw bytes consumed from the file descriptor so far (compressed bytes, for a gzip file).
    public private(set) var bytesRead: Int64 = 0
    /// Called with the bytes of each successful read, in order, before `read(into:)` returns them: lets the
    /// owner digest the raw (compressed) input in the same pass. Runs on the hot path, so keep it cheap.
    public var observer: ((UnsafeRawBufferPointer) -> Void)?

    private var fd: Int32
    private let ownsDescriptor: Bool

    /// Opens `path` for reading; `-` means standard input (descriptor 0, which `close()` leaves open).
    ///
    /// - Throws: `InputError` with the system's text when `open(2)` fails (missing file, no permission, ...).
    public init(path: String) throws(InputError) {
        self.path = path
        if path == "-" {
            fd = STDIN_FILENO
            ownsDescriptor = false
            return
        }
        var descriptor: Int32
        repeat {
            descriptor = open(path, O_RDONLY | O_CLOEXEC)
        } while descriptor < 0 && errno == EINTR
        guard descriptor >= 0 else {
            throw InputError(path: path, message: Self.systemMessage(errno))
        }
        fd = descriptor
        ownsDescriptor = true
    }

    deinit {
        if ownsDescriptor && fd >= 0 {
            _ = systemClose(fd)
        }
    }

    /// Reads up to `buffer.count` bytes into the start of `buffer`; returns 0 at end of input.
    ///
    /// Retries a read interrupted by a signal (`EINTR`). A short count is not end of input: a pipe returns
    /// what it has. Reading after `close()` throws "Bad file descriptor".
    ///
    /// - Parameter buffer: Where the bytes go; must not be empty (0 is reserved for end of input).
    /// - Returns: The number of bytes stored at the start of `buffer`, 0 only at end of input.
    /// - Throws: `InputError` with the system's text when `read(2)` fails.
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws(InputError) -> Int {
        precondition(buffer.count > 0, "InputReader.read(into:) needs a non-empty buffer")
        guard fd >= 0 else {
            throw InputError(path: path, message: Self.systemMessage(EBADF))
        }
        while true {
            let count = systemRead(fd, buffer.baseAddress, buffer.count)
            if count >= 0 {
                bytesRead += Int64(count)
                if count > 0, let observer {
                    observer(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
                }
                return count
            }
            let code = errno
            if code == EINTR { continue }
            throw InputError(path: path, message: Self.systemMessage(code))
        }
    }

    /// The size of the input from `fstat(2)` when it is a regular file; `nil` for pipes, terminals, devices,
    /// after `close()`, or when `fstat` fails.
    /// The identity (device, inode, size, modification time) of the open file; nil for standard input and
    /// anything that is not a regular file.
    public var identity: FileIdentity? {
        ownsDescriptor ? FileIdentity.of(descriptor: fd) : nil
    }

    public var fileSize: Int64? {
        guard fd >= 0 else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
        return Int64(info.st_size)
    }

    /// Closes the file descriptor (never standard input's). Safe to call more than once.
    public func close() {
        if ownsDescriptor && fd >= 0 {
            _ = systemClose(fd)
        }
        fd = -1
    }

    private static func systemMessage(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "error \(code)" }
        return String(cString: text)
    }
}

// The methods above are named `read` and `close`, which hide the C functions inside the class.
@inline(__always)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(fd, buffer, count)
}

@inline(__always)
private func systemClose(_ fd: Int32) -> Int32 {
    close(fd)
}
