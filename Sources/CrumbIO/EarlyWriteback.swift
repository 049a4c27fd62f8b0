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
///
/// `stop()` must come before the file is flushed and committed, and after the writer has closed it: it closes
/// this descriptor of the file, and closing any descriptor of a file drops the POSIX locks its process holds on
/// it (SQLite's, while a connection is open).
///
/// `@unchecked Sendable`: the thread and its owner share `requested`, `stopping` and `stopped`, touched only under
/// `condition`; the descriptor is closed only once the thread has stopped.
final class EarlyWriteback: @unchecked Sendable {
    private let descriptor: Int32
    private let margin: Int64
    private let interval: TimeInterval
    private let condition = NSCondition()
    private var stopping = false
    private var stopped = false
    private var closed = false
    private var requestedBytes: Int64 = 0

    /// Starts watching the file at `path`; nil where there is no writeback to start or the file cannot be opened.
    /// Without `startsThread` (tests), nothing polls: `poll()` does it when called.
    init?(path: String, margin: Int64 = 2 << 20, interval: TimeInterval = 0.01, startsThread: Bool = true) {
        guard crumb_writeback_available() != 0 else { return nil }
        descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        self.margin = margin
        self.interval = interval
        guard startsThread else {
            stopped = true
            return
        }
        let thread = Thread { [self] in run() }
        thread.name = "crumb-writeback"
        thread.start()
    }

    deinit {
        if !closed { close(descriptor) }
    }

    /// Bytes from the file's start whose writeback has been asked for.
    var requested: Int64 { condition.withLock { requestedBytes } }

    /// Stops the thread, once its current request is made, and closes the file; it can be called again.
    func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            while !stopped { condition.wait() }
            if !closed {
                close(descriptor)
                closed = true
            }
        }
    }

    private func run() {
        condition.lock()
        while !stopping {
            condition.unlock()
            _ = poll()
            condition.lock()
            if !stopping { _ = condition.wait(until: Date(timeIntervalSinceNow: interval)) }
        }
        stopped = true
        condition.broadcast()
        condition.unlock()
    }

    /// Asks for the writeback of what was added since the last request, all but the last `margin` bytes, once
    /// that is at least `margin` bytes; returns the request's result (0, or -1 with `errno`), or nil when there
    /// was nothing to ask for. Called by the thread, or by a test on a writeback made without one.
    func poll() -> Int32? {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { return nil }
        let through = Int64(status.st_size) - margin
        let from = requested
        guard through - from >= margin else { return nil }
        let result = crumb_start_writeback(descriptor, from, through - from)
        condition.withLock { requestedBytes = through }
        return result
    }
}
