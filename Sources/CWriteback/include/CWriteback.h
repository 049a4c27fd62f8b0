#ifndef CRUMB_CWRITEBACK_H
#define CRUMB_CWRITEBACK_H

// Asks the system to start writing the dirty pages of `length` bytes of the open file `descriptor`, from
// `offset`, to disk, without waiting for the writes to finish (Linux `sync_file_range` with
// `SYNC_FILE_RANGE_WRITE`, which Swift's Glibc module does not declare). Returns 0, or -1 with `errno` set.
int crumb_start_writeback(int descriptor, long long offset, long long length);

// 1 where `crumb_start_writeback` does something (Linux), else 0 (it then returns 0 and does nothing).
int crumb_writeback_available(void);

#endif
