/* A software prefetch the compiler keeps: the operator's tables are probed at random. */
#ifndef WEIR_STATE_PREFETCH_H
#define WEIR_STATE_PREFETCH_H

/*
 * GCC 12 deletes __builtin_prefetch when it sits in a small static function whose
 * result is unused: the function is judged free of side effects and its calls are
 * dropped as dead code, prefetch and all (at -O1 and -O2 alike). The empty volatile
 * asm is a side effect the compiler must keep, so the prefetch stays; it costs no
 * instruction. Found by disassembly: the window operator's prefetch stages compiled
 * to nothing, and its dictionary lookups stalled on every record.
 */
static inline void weir__prefetch(const void *p)
{
    __builtin_prefetch(p);
    __asm__ volatile("");
}

#endif
