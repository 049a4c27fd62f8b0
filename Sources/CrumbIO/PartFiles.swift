import CrumbCore
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The streamed outputs, `events.jsonl` and `vault.jsonl`: one hidden part file per input while the run
/// goes on, joined in input order into the final files at the end (atomically, like every output).
///
/// The vault and its parts are created with mode 0600: they hold personal information.
struct PartFiles: Sendable {
    let directory: String
    let count: Int
    let events: Bool
    let vault: Bool
    private let tag = "\(getpid())"

    init(directory: String, count: Int, events: Bool, vault: Bool) {
        self.directory = directory
        self.count = count
        self.events = events
        self.vault = vault
    }

    static let eventsName = "events.jsonl"
    static let vaultName = "vault.jsonl"

    func partPath(_ name: String, _ index: Int) -> String {
        "\(directory)/.\(name).part-\(tag)-\(index)"
    }

    /// The sink for input `index`.
    func open(_ index: Int) -> PartSink {
        PartSink(
            eventsPath: events ? partPath(Self.eventsName, index) : nil,
            vaultPath: vault ? partPath(Self.vaultName, index) : nil
        )
    }

    /// Appends the parts, in input order, to the final files after their committed lengths (anything past
    /// them is what a killed run wrote: it is cut off first), and removes the parts. Returns the new
    /// committed lengths, for the state. A stream that is off keeps its committed length.
    func append(after committed: (events: Int64, vault: Int64)) throws -> (events: Int64, vault: Int64) {
        defer { removeParts() }
        let events = self.events ? try appendParts(Self.eventsName, after: committed.events, mode: 0o644) : committed.events
        let vault = self.vault ? try appendParts(Self.vaultName, after: committed.vault, mode: 0o600) : committed.vault
        return (events, vault)
    }

    private func appendParts(_ name: String, after committed: Int64, mode: mode_t) throws -> Int64 {
        let target = "\(directory)/\(name)"
        let output = SystemCall.open(target, O_WRONLY | O_CREAT | O_CLOEXEC, mode)
        guard output >= 0 else { throw OutputError(path: target, message: String(cString: strerror(errno))) }
        defer { SystemCall.close(output) }
        fchmod(output, mode)
        let end = lseek(output, 0, SEEK_END)
        let start = min(Int64(end), committed)
        guard ftruncate(output, off_t(start)) == 0, lseek(output, off_t(start), SEEK_SET) >= 0 else {
            throw OutputError(path: target, message: String(cString: strerror(errno)))
        }
        var length = start
        var buffer = [UInt8](repeating: 0, count: 1 << 20)
        for index in 0..<count {
            let input = SystemCall.open(partPath(name, index), O_RDONLY | O_CLOEXEC)
            guard input >= 0 else { continue }  // an input that could not be opened wrote no part
            defer { SystemCall.close(input) }
            while true {
                let got = buffer.withUnsafeMutableBytes { SystemCall.read(input, $0.baseAddress, $0.count) }
                if got < 0, errno == EINTR { continue }
                guard got > 0 else { break }
                try buffer.withUnsafeBytes { try writeAll(output, UnsafeRawBufferPointer(rebasing: $0[0..<got]), path: target) }
                length += Int64(got)
            }
        }
        guard fsync(output) == 0 else { throw OutputError(path: target, message: String(cString: strerror(errno))) }
        return length
    }

    /// Removes every part (also after a failed run).
    func removeParts() {
        for index in 0..<count {
            unlink(partPath(Self.eventsName, index))
            unlink(partPath(Self.vaultName, index))
        }
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws(OutputError) {
    var offset = 0
    while offset < bytes.count {
        let wrote = SystemCall.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
        if wrote < 0 {
            if errno == EINTR { continue }
            throw OutputError(path: path, message: "cannot write: " + String(cString: strerror(errno)))
        }
        offset += wrote
    }
}

/// `writeAll` of an array's bytes. (A closure given to `withUnsafeBytes` cannot throw a typed error through
/// it, so the error is carried out of the closure here, once.)
func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(OutputError) {
    let failure: OutputError? = bytes.withUnsafeBytes { bytes in
        do throws(OutputError) {
            try writeAll(fd, bytes, path: path)
            return nil
        } catch {
            return error
        }
    }
    if let failure { throw failure }
}

/// A processor that buffers the streamed outputs (events, vault) for the runner to drain.
protocol StreamedOutputs {
    var eventBuffer: [UInt8] { get set }
    var vaultBuffer: [UInt8] { get set }
}

extension WebLogProcessor: StreamedOutputs {}
extension CallLogProcessor: StreamedOutputs {}

/// One input's part files, written as the processor fills its buffers.
struct PartSink {
    private var eventsFD: Int32 = -1
    private var vaultFD: Int32 = -1
    private let eventsPath: String?
    private let vaultPath: String?

    init(eventsPath: String?, vaultPath: String?) {
        self.eventsPath = eventsPath
        self.vaultPath = vaultPath
    }

    /// Moves whatever the processor buffered into the parts.
    mutating func drain(_ processor: inout some StreamedOutputs) throws {
        if let eventsPath, !processor.eventBuffer.isEmpty {
            if eventsFD < 0 { eventsFD = try Self.create(eventsPath, mode: 0o644) }
            try processor.eventBuffer.withUnsafeBytes { try writeAll(eventsFD, $0, path: eventsPath) }
            processor.eventBuffer.removeAll(keepingCapacity: true)
        }
        if let vaultPath, !processor.vaultBuffer.isEmpty {
            if vaultFD < 0 { vaultFD = try Self.create(vaultPath, mode: 0o600) }
            try processor.vaultBuffer.withUnsafeBytes { try writeAll(vaultFD, $0, path: vaultPath) }
            processor.vaultBuffer.removeAll(keepingCapacity: true)
        }
    }

    mutating func close() {
        if eventsFD >= 0 { SystemCall.close(eventsFD) }
        if vaultFD >= 0 { SystemCall.close(vaultFD) }
        eventsFD = -1
        vaultFD = -1
    }

    private static func create(_ path: String, mode: mode_t) throws(OutputError) -> Int32 {
        let fd = SystemCall.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode)
        guard fd >= 0 else { throw OutputError(path: path, message: "cannot create: " + String(cString: strerror(errno))) }
        fchmod(fd, mode)
        return fd
    }
}
