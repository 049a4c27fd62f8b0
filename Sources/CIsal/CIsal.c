// ISA-L's inflater behind the small interface of CIsal.h. See that header for the contract.
//
// Only `struct inflate_state`, its field names and the ISAL_* constants come from <isa-l/igzip_lib.h>; the two
// functions are resolved with dlsym. The struct is part of the public ABI of libisal.so.2 (callers allocate it),
// so a build against the 2.x header works with any 2.x library.

#include "CIsal.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if __has_include(<isa-l/igzip_lib.h>)
#include <isa-l/igzip_lib.h>
#define CRUMB_HAVE_ISAL_HEADER 1
#else
#define CRUMB_HAVE_ISAL_HEADER 0
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded = 0;
static char load_failure[256] = "";

#if CRUMB_HAVE_ISAL_HEADER

struct crumb_isal_inflater {
    struct inflate_state state;
    /// `state` as `crumb_isal_checkpoint` saw it.
    struct inflate_state checkpoint;
};

static void (*isal_inflate_init_fn)(struct inflate_state *);
static int (*isal_inflate_fn)(struct inflate_state *);

static void load(void) {
    // The soname first (what the runtime package ships), then the development symlink. The soname's failure is
    // the one reported: "libisal.so.2: cannot open shared object file" says what to install.
    static const char *const names[] = {"libisal.so.2", "libisal.so"};
    void *library = NULL;
    for (size_t index = 0; index < sizeof names / sizeof names[0] && library == NULL; index++) {
        library = dlopen(names[index], RTLD_NOW | RTLD_LOCAL);
        const char *message = library == NULL ? dlerror() : NULL;
        if (library == NULL && load_failure[0] == '\0') {
            snprintf(load_failure, sizeof load_failure, "%s", message != NULL ? message : names[index]);
        }
    }
    if (library == NULL) return;
    // POSIX leaves object-to-function pointer conversion to the platform; dlsym's own manual page does this.
    *(void **)&isal_inflate_init_fn = dlsym(library, "isal_inflate_init");
    *(void **)&isal_inflate_fn = dlsym(library, "isal_inflate");
    if (isal_inflate_init_fn == NULL || isal_inflate_fn == NULL) {
        snprintf(load_failure, sizeof load_failure, "libisal has no isal_inflate_init or isal_inflate");
        dlclose(library);
        return;
    }
    // The library stays loaded for the life of the process.
    load_failure[0] = '\0';
    loaded = 1;
}

crumb_isal_inflater *crumb_isal_create(void) {
    if (!crumb_isal_load()) return NULL;
    void *memory = NULL;
    // 64-byte alignment: a cache line, and at least what ISA-L's vector code assumes for its tables.
    if (posix_memalign(&memory, 64, sizeof(struct crumb_isal_inflater)) != 0) return NULL;
    return memory;
}

void crumb_isal_destroy(crumb_isal_inflater *inflater) { free(inflater); }

void crumb_isal_start(crumb_isal_inflater *inflater) {
    struct inflate_state *state = &inflater->state;
    // isal_inflate_init leaves a 32 KiB window (hist_bits 0, the largest, as RFC 1951 allows) and no CRC yet.
    isal_inflate_init_fn(state);
    // Raw deflate whose output CRC-32 ISA-L keeps in state->crc without reading a header or trailer
    // (igzip_lib.h, isal_inflate: "If the crc_flag is set to ISAL_GZIP_NO_HDR the gzip crc of the output is
    // stored in state->crc").
    state->crc_flag = ISAL_GZIP_NO_HDR;
}

void crumb_isal_inflate(crumb_isal_inflater *inflater, const uint8_t *input, uint32_t input_count,
                        uint8_t *output, uint32_t output_capacity, crumb_isal_step *step) {
    struct inflate_state *state = &inflater->state;
    // isal_inflate never writes through next_in; the header declares it mutable.
    state->next_in = (uint8_t *)input;
    state->avail_in = input_count;
    state->next_out = output;
    state->avail_out = output_capacity;
    int result = isal_inflate_fn(state);

    step->consumed = input_count - state->avail_in;
    step->produced = output_capacity - state->avail_out;
    // ISA-L reads ahead into a 64-bit bit buffer (read_in, read_in_length bits); whole bytes there are taken
    // from the input but not decoded yet.
    step->buffered = state->read_in_length > 0 ? (uint32_t)state->read_in_length / 8 : 0;
    memset(step->after_stream, 0, sizeof step->after_stream);
    if (result < 0) {
        // With crc_flag ISAL_GZIP_NO_HDR there is no wrapper to reject: ISAL_INVALID_BLOCK, ISAL_INVALID_SYMBOL or
        // ISAL_INVALID_LOOKBACK. The output this call reports may end in bytes it never wrote (see
        // crumb_isal_checkpoint in CIsal.h).
        step->status = CRUMB_ISAL_INVALID_DATA;
    } else if (state->block_state == ISAL_BLOCK_FINISH) {
        // The final block ended on some bit of a byte; the rest of that byte is padding (RFC 1951 §3.2.3 packs
        // blocks bit by bit, RFC 1952 §2.2 starts the trailer on the next byte). The whole bytes after it are
        // the caller's, as in python-isal's igzip_lib bitbuffer_copy: hand them back, low byte first.
        uint64_t bits = state->read_in >> (state->read_in_length % 8);
        for (uint32_t index = 0; index < step->buffered; index++) {
            step->after_stream[index] = (uint8_t)(bits >> (8 * index));
        }
        state->read_in = 0;
        state->read_in_length = 0;
        step->status = CRUMB_ISAL_STREAM_END;
    } else if (state->avail_out == 0) {
        step->status = CRUMB_ISAL_OUTPUT_FULL;
    } else {
        step->status = CRUMB_ISAL_NEEDS_INPUT;
    }
    state->next_in = NULL;
    state->avail_in = 0;
    state->next_out = NULL;
    state->avail_out = 0;
}

uint32_t crumb_isal_crc32(const crumb_isal_inflater *inflater) { return inflater->state.crc; }

void crumb_isal_checkpoint(crumb_isal_inflater *inflater) {
    memcpy(&inflater->checkpoint, &inflater->state, sizeof inflater->state);
}

void crumb_isal_rewind(crumb_isal_inflater *inflater) {
    memcpy(&inflater->state, &inflater->checkpoint, sizeof inflater->state);
}

#else  // No <isa-l/igzip_lib.h> at build time: ISA-L is never used.

struct crumb_isal_inflater {
    int unused;
};

static void load(void) {
    snprintf(load_failure, sizeof load_failure, "built without <isa-l/igzip_lib.h> (Debian: libisal-dev)");
}

crumb_isal_inflater *crumb_isal_create(void) { return NULL; }

void crumb_isal_destroy(crumb_isal_inflater *inflater) { (void)inflater; }

void crumb_isal_start(crumb_isal_inflater *inflater) { (void)inflater; }

void crumb_isal_inflate(crumb_isal_inflater *inflater, const uint8_t *input, uint32_t input_count,
                        uint8_t *output, uint32_t output_capacity, crumb_isal_step *step) {
    (void)inflater, (void)input, (void)input_count, (void)output, (void)output_capacity;
    memset(step, 0, sizeof *step);
    step->status = CRUMB_ISAL_INVALID_DATA;
}

uint32_t crumb_isal_crc32(const crumb_isal_inflater *inflater) {
    (void)inflater;
    return 0;
}

void crumb_isal_checkpoint(crumb_isal_inflater *inflater) { (void)inflater; }

void crumb_isal_rewind(crumb_isal_inflater *inflater) { (void)inflater; }

#endif

int crumb_isal_load(void) {
    pthread_once(&load_once, load);
    return loaded;
}

const char *crumb_isal_load_failure(void) {
    crumb_isal_load();
    return load_failure;
}
