/* kiln WASI path shims, linked into every interpreter (each recipe lists
 * this file under `shims` and passes the two `--wrap` flags it needs).
 *
 * An empty path names nothing. POSIX (XBD 4.13, "Pathname Resolution")
 * says resolving "" fails with ENOENT, and Linux does so. wasi-libc
 * instead joins "" to its working directory and resolves that, so stat(""),
 * open("") and opendir("") reached the working directory (Python's
 * os.path.isdir("") was True, os.listdir("") listed "."). Every libc call
 * that takes a path resolves it through __wasilibc_find_relpath (or its
 * allocating form, when chdir support is linked), so the check sits in
 * front of both, through the linker's --wrap. The at-functions given a
 * directory descriptor (openat(fd, "")) go straight to WASI, whose hosts
 * already refuse an empty path.
 *
 * ".." above a mapped directory. wasi-libc hands the host a path relative
 * to the mapped (preopened) directory with the longest matching prefix;
 * one that climbs out of it with ".." ("/w/app/../app/f", or "/w/app/../f"
 * where "/w" is mapped too) is refused by the host (EPERM), though the
 * path it names is in the guest's view. Above a mapped directory the
 * guest's namespace is only the mapped paths themselves, so such a path
 * is made lexically absolute ("." and ".." resolved by name, as the
 * kernel would at a mount point) and resolved again. A path that stays
 * inside its directory goes to the host as it is, so ".." after a symlink
 * still means the symlink target's parent there.
 *
 * The working directory. WASI has none to inherit: wasi-libc starts every
 * program in "/". kiln's runner maps the host's current directory at its
 * own path as well as at ".", and names it in PWD, as a shell does; change
 * into it, so that getcwd() and the paths a program makes absolute from it
 * are the user's. Without PWD, or if it is not reachable, nothing changes.
 * Also called by an instance resumed from a snapshot (PHP's patch 0013),
 * whose constructors ran before the snapshot. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int __real___wasilibc_find_relpath(const char *path, const char **abs_prefix, char **relative_path,
                                   size_t relative_path_len);
int __real___wasilibc_find_relpath_alloc(const char *path, const char **abs_prefix, char **relative_path,
                                         size_t *relative_path_len, int can_realloc);

int __wrap___wasilibc_find_relpath(const char *path, const char **abs_prefix, char **relative_path,
                                   size_t relative_path_len) {
    if (path[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    return __real___wasilibc_find_relpath(path, abs_prefix, relative_path, relative_path_len);
}

/* Does `rel` climb above its starting directory? */
static int kiln_escapes(const char *rel) {
    long depth = 0;
    while (*rel) {
        const char *end = strchr(rel, '/');
        size_t n = end ? (size_t)(end - rel) : strlen(rel);
        if (n == 2 && rel[0] == '.' && rel[1] == '.') {
            if (--depth < 0) return 1;
        } else if (n > 0 && !(n == 1 && rel[0] == '.')) {
            depth++;
        }
        rel += n;
        if (*rel == '/') rel++;
    }
    return 0;
}

/* "/prefix/rel" with "." and ".." resolved by name, into a malloc'ed
 * string; a trailing slash stays (it still asks for a directory).
 * wasi-libc keeps a mapped directory's prefix without its leading "/"
 * ("." is the empty prefix), so the result is rooted here. */
static char *kiln_lexical(const char *prefix, const char *rel) {
    size_t cap = strlen(prefix) + strlen(rel) + 3, len = 0;
    char *out = malloc(cap);
    const char *parts[2] = {prefix, rel};
    if (!out) return NULL;
    for (int i = 0; i < 2; i++) {
        const char *p = parts[i];
        while (*p) {
            const char *end = strchr(p, '/');
            size_t n = end ? (size_t)(end - p) : strlen(p);
            if (n == 2 && p[0] == '.' && p[1] == '.') {
                while (len > 0 && out[len - 1] != '/') len--;
                if (len > 0) len--;
            } else if (n > 0 && !(n == 1 && p[0] == '.')) {
                out[len++] = '/';
                memcpy(out + len, p, n);
                len += n;
            }
            p += n;
            if (*p == '/') p++;
        }
    }
    if (len == 0) out[len++] = '/';
    size_t rl = strlen(rel);
    if (rl > 0 && rel[rl - 1] == '/' && out[len - 1] != '/') out[len++] = '/';
    out[len] = '\0';
    return out;
}

int __wrap___wasilibc_find_relpath_alloc(const char *path, const char **abs_prefix, char **relative_path,
                                         size_t *relative_path_len, int can_realloc) {
    if (path[0] == '\0') {
        errno = ENOENT;
        return -1;
    }
    int fd = __real___wasilibc_find_relpath_alloc(path, abs_prefix, relative_path, relative_path_len, can_realloc);
    if (fd < 0 || !kiln_escapes(*relative_path)) return fd;
    char *abs = kiln_lexical(*abs_prefix, *relative_path);
    if (!abs) {
        errno = ENOMEM;
        return -1;
    }
    fd = __real___wasilibc_find_relpath_alloc(abs, abs_prefix, relative_path, relative_path_len, can_realloc);
    free(abs);
    return fd;
}

void kiln_wasi_enter_pwd(void) {
    const char *pwd = getenv("PWD");
    if (pwd && pwd[0] == '/') {
        int saved = errno;
        (void)chdir(pwd);
        errno = saved;
    }
}
__attribute__((constructor)) static void kiln_wasi_enter_pwd_at_start(void) { kiln_wasi_enter_pwd(); }
