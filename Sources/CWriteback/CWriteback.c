#if defined(__linux__)
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
// 64-bit offsets on 32-bit Linux too: the files written are tens of megabytes and may pass 2 GiB.
#define _FILE_OFFSET_BITS 64
#include <fcntl.h>
#endif
#include "CWriteback.h"

int crumb_start_writeback(int descriptor, long long offset, long long length) {
#if defined(__linux__)
    return sync_file_range(descriptor, (off_t)offset, (off_t)length, SYNC_FILE_RANGE_WRITE);
#else
    (void)descriptor;
    (void)offset;
    (void)length;
    return 0;
#endif
}

int crumb_writeback_available(void) {
#if defined(__linux__)
    return 1;
#else
    return 0;
#endif
}
