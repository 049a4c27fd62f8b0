#ifndef CRUMB_CISAL_H
#define CRUMB_CISAL_H

// ISA-L's raw-deflate inflater (https://github.com/intel/isa-l, igzip_lib.h), loaded at run time.
//
// crumb does not link libisal: `crumb_isal_load` dlopen()s it, and every other function here may be called only
// after it returned 1. Without the library at run time, or without <isa-l/igzip_lib.h> at build time, it returns
// 0 and crumb inflates with zlib. The inflater decodes raw deflate data (RFC 1951) and keeps the CRC-32 of what
// it wrote; the gzip framing around it (RFC 1952 header and trailer) is the caller's.

#include <stdint.h>

/// Loads libisal.so.2 (then libisal.so) and resolves the two functions used; thread-safe, tried once per process.
/// Returns 1 when ISA-L can be used, 0 when not.
int crumb_isal_load(void);

/// Why `crumb_isal_load` returned 0 (the loader's message, or a missing header or symbol), or "" when it did not.
/// The text names libraries and symbols only; it is valid for the life of the process.
const char *crumb_isal_load_failure(void);

/// One inflater: ISA-L's `struct inflate_state` (about 85 KiB, its own 64 KiB output history included) and a
/// copy of it for `crumb_isal_checkpoint`.
typedef struct crumb_isal_inflater crumb_isal_inflater;

/// How a call to `crumb_isal_inflate` ended.
typedef enum crumb_isal_status {
    /// Every input byte was taken and the output has room: give more input.
    CRUMB_ISAL_NEEDS_INPUT = 0,
    /// The output is full and there may be more: call again with fresh output room.
    CRUMB_ISAL_OUTPUT_FULL = 1,
    /// The final deflate block ended and all its output was written.
    CRUMB_ISAL_STREAM_END = 2,
    /// The deflate data is invalid (a bad block type, code, symbol or distance). The call's output may end in
    /// bytes that were never decoded: see `crumb_isal_checkpoint`.
    CRUMB_ISAL_INVALID_DATA = 3,
} crumb_isal_status;

/// What one call to `crumb_isal_inflate` did.
typedef struct crumb_isal_step {
    crumb_isal_status status;
    /// Input bytes taken by this call, whole bytes still held in ISA-L's bit buffer included.
    uint32_t consumed;
    /// Output bytes written by this call.
    uint32_t produced;
    /// Whole input bytes held in the bit buffer, taken but not decoded, possibly by earlier calls (at most 8).
    uint32_t buffered;
    /// At `CRUMB_ISAL_STREAM_END`: the `buffered` bytes, which are the first bytes after the deflate stream.
    uint8_t after_stream[8];
} crumb_isal_step;

/// A new inflater, or NULL when ISA-L is not loaded or memory is short. Call `crumb_isal_start` before use.
crumb_isal_inflater *crumb_isal_create(void);

void crumb_isal_destroy(crumb_isal_inflater *inflater);

/// Readies the inflater for a new deflate stream (one gzip member's data), with a fresh CRC-32.
void crumb_isal_start(crumb_isal_inflater *inflater);

/// Inflates from `input` into `output` until the input is used up, the output is full, the stream ends, or the
/// data is invalid. ISA-L keeps whatever state it needs between calls; neither buffer is referenced afterwards.
void crumb_isal_inflate(crumb_isal_inflater *inflater, const uint8_t *input, uint32_t input_count,
                        uint8_t *output, uint32_t output_capacity, crumb_isal_step *step);

/// The CRC-32 (RFC 1952 §8) of every byte written since `crumb_isal_start`.
uint32_t crumb_isal_crc32(const crumb_isal_inflater *inflater);

/// Saves the inflater's whole state, for `crumb_isal_rewind`.
///
/// Why: ISA-L's fast decode loop (igzip_decode_block_stateless.asm, `decode_len_dist`) moves its output pointer past
/// a match before it checks the match's distance, so a call that ends in `CRUMB_ISAL_INVALID_DATA` may report as
/// output up to 258 bytes (a match's length) that were never written: stale memory. That loop runs only while more
/// than a few bytes of input are left; fed one input byte per call, ISA-L takes its careful path, which checks
/// before it writes. So a caller rewinds to a checkpoint and feeds the same input again one byte at a time to get
/// exactly the bytes decoded before the fault, and the byte whose arrival exposed it.
void crumb_isal_checkpoint(crumb_isal_inflater *inflater);

/// Restores the state `crumb_isal_checkpoint` saved.
void crumb_isal_rewind(crumb_isal_inflater *inflater);

#endif
