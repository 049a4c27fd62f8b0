#ifndef CRUMB_CPREFETCH_H
#define CRUMB_CPREFETCH_H

// A hint to the processor to bring the cache line holding `address` towards the core, for the hot path's
// fixed caches: the next line's sets are requested while this line is worked on, so that their loads do not
// wait for memory one after another. Swift has no prefetch of its own; this inlines to one instruction
// (prefetcht0 on x86-64, prfm on arm64). A hint only: it never faults, even for an address that is not mapped,
// and what the program computes does not depend on it.
static inline __attribute__((always_inline)) void crumb_prefetch(const void *address) {
    __builtin_prefetch(address, 0, 3);
}

#endif
