/* kiln toolchain probe: each line is checked by `cargo xtask toolchain`.
 * setjmp/longjmp must unwind through a frame (Wasm exception handling),
 * files in the preopened directory must round-trip, argv/env must arrive,
 * and the clock must be sane. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static jmp_buf env;
static int depth;

static void dive(int n) {
    depth = n;
    if (n == 3) longjmp(env, 42);
    dive(n + 1);
}

int main(int argc, char **argv) {
    volatile int hits = 0;
    int r = setjmp(env);
    hits++;
    if (r == 0) {
        dive(0);
        puts("setjmp: FAIL (longjmp returned)");
        return 1;
    }
    printf("setjmp: %d depth %d hits %d\n", r, depth, hits);

    FILE *f = fopen("probe.txt", "w");
    if (!f) { puts("file: FAIL (open for write)"); return 1; }
    fputs("kiln-probe", f);
    fclose(f);
    char buf[32] = {0};
    f = fopen("probe.txt", "r");
    if (!f || !fgets(buf, sizeof buf, f)) { puts("file: FAIL (read back)"); return 1; }
    fclose(f);
    remove("probe.txt");
    printf("file: %s\n", buf);

    printf("argv: %d %s\n", argc, argc > 1 ? argv[1] : "-");
    const char *e = getenv("KILN_PROBE");
    printf("env: %s\n", e ? e : "-");

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    printf("clock: %s\n", ts.tv_sec > 1600000000 ? "ok" : "FAIL");
    return 7;
}
