import CWriteback
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Starts the system writing a file to disk while another thread is still filling it, so that the `fsync` that
/// commits it (`AtomicFile`) finds little left to write. Without it, the fsyncs of `state.db` and `crumb.db`
/// (44 and 42 MB for the 2M-line file) were the last 25–30 ms of a run, after everything else was done.
///
/// A thread of its own looks at the file's size every `interval` and asks for the writeback of what was added
/// (`crumb_start_writeback`, Linux's `sync_file_range`), all but the last `margin` bytes: the request can wait
/// for the disk's queue, which the thread filling the file must not, and SQLite rewrites its latest pages, which
/// would then wait for their own writeback. A hint only: a failure is ignored, since the `fsync` that follows
/// reports any. Elsewhere than Linux, `init` returns nil.
final class EarlyWriteback: @unchecked Sendable {
    // `stopping` and `stopped` are touched only under `condition`; `requested` only by the thread until it stops.
    private let descriptor: Int32
    private let margin: Int64
    private let interval: TimeInterval
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false
    /// Bytes from the file's start whose writeback has been asked for; read it once `stop` has returned.
    private(set) var requested: Int64 = 0

    /// Starts watching the file at `path`; nil where there is no writeback to start or the file cannot be opened.
    init?(path: String, margin: Int64 = 2 << 20, interval: TimeInterval = 0.01) {
        guard crumb_writeback_available() != 0 else { return nil }
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.margin = margin
        self.interval = interval
        let thread = Thread { [self] in run() }
        thread.name = "crumb-writeback"
        thread.start()
    }

    deinit { close(descriptor) }

    /// Stops the thread, once its current request is made; call it before the file is flushed and committed.
    func stop() {
        condition.lock()
        defer { condition.unlock() }
        stopping = true
        condition.broadcast()
        while !stopped { condition.wait() }
    }

    private func run() {
        condition.lock()
        while !stopping {
            condition.unlock()
            startWriteback()
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
        }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Asks for the writeback of what was added since the last request, all but the last `margin` bytes, once
    /// that is at least `margin` bytes. Called by the thread, or (tests) once it has stopped.
    func startWriteback() {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return }
        let through = Int64(status.st_size) - margin
        guard through - requested >= margin else { return }
        _ = crumb_start_writeback(descriptor, requested, through - requested)
        requested = through
    }
}
