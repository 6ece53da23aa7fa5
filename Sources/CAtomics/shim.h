#ifndef SOLSTICE_CATOMICS_SHIM_H
#define SOLSTICE_CATOMICS_SHIM_H
// 64-bit atomics on memory Swift does not own: the counters of SPOOL_DIR/metrics.v1, mapped MAP_SHARED by every
// solstice-fcgi process of a host. Swift's Synchronization.Atomic must own its storage, so it cannot point into a
// mapping; the compiler's __atomic builtins can. Relaxed ordering: each counter is independent, and a scrape
// needs no order between them.
#include <stdint.h>

static inline uint64_t catomics_add_u64(uint64_t *p, uint64_t v) {
    return __atomic_add_fetch(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t catomics_load_u64(uint64_t *p) {
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static inline void catomics_store_u64(uint64_t *p, uint64_t v) {
    __atomic_store_n(p, v, __ATOMIC_RELAXED);
}

/// Raises *p to v unless it is already larger (a timestamp that only moves forward).
static inline void catomics_max_u64(uint64_t *p, uint64_t v) {
    uint64_t seen = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (seen < v && !__atomic_compare_exchange_n(p, &seen, v, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
}
#endif
