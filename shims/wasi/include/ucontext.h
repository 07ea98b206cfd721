/* kiln WASI shim: <ucontext.h> does not exist on WASI (no way to switch
 * stacks). Declared so configure's fiber check passes; every call fails with
 * ENOSYS, so PHP's Fiber reports an error instead of pretending to work. */
#ifndef KILN_UCONTEXT_H
#define KILN_UCONTEXT_H
#include <signal.h>
#include <stddef.h>
typedef struct { void *ss_sp; int ss_flags; size_t ss_size; } kiln_stack_t;
typedef struct ucontext_t {
    struct ucontext_t *uc_link;
    kiln_stack_t uc_stack;
    unsigned long uc_opaque[8];
} ucontext_t;
int getcontext(ucontext_t *ucp);
int setcontext(const ucontext_t *ucp);
void makecontext(ucontext_t *ucp, void (*func)(void), int argc, ...);
int swapcontext(ucontext_t *oucp, const ucontext_t *ucp);
#endif
