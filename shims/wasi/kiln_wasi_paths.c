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
 * whose constructors ran before the snapshot.
 *
 * chdir. wasi-libc's chdir stores the joined path as it was given, so
 * after chdir("a") and chdir("..") getcwd() said "/w/a/.." and kept
 * growing. Once the host accepted the directory, the stored path is
 * replaced by its lexical form, provided that names the same directory
 * (same device and inode): after a symlink, "link/.." is the target's
 * parent, and the unnormalised path stays.
 *
 * rmdir. The WASI host refuses a trailing slash on the directory to
 * remove (EINVAL), where Linux removes "dir/". rmdir only ever names a
 * directory, so trailing slashes are dropped ("dir/." still fails with
 * EINVAL, as natively; "file/" is ENOTDIR either way).
 *
 * The linker's --wrap flags for these come from this line (kiln's plan
 * reads it):
 * kiln-wrap: __wasilibc_find_relpath __wasilibc_find_relpath_alloc chdir rmdir
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
 * (chdir passes the whole path as `prefix` and "" as `rel`.)
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

int __real_chdir(const char *path);
int __real_rmdir(const char *path);

int __wrap_chdir(const char *path) {
    if (__real_chdir(path) != 0) return -1;
    int saved = errno;
    char *cwd = getcwd(NULL, 0);
    char *norm = cwd ? kiln_lexical(cwd, "") : NULL;
    if (norm && strcmp(norm, cwd) != 0) {
        struct stat a, b;
        if (stat(cwd, &a) == 0 && stat(norm, &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
            /* Same directory: store the short name. Should this fail,
             * the longer one is still right. */
            (void)__real_chdir(norm);
        }
    }
    free(norm);
    free(cwd);
    errno = saved;
    return 0;
}

int __wrap_rmdir(const char *path) {
    size_t n = strlen(path);
    if (n < 2 || path[n - 1] != '/') return __real_rmdir(path);
    while (n > 1 && path[n - 1] == '/') n--;
    char *trimmed = malloc(n + 1);
    if (!trimmed) {
        errno = ENOMEM;
        return -1;
    }
    memcpy(trimmed, path, n);
    trimmed[n] = '\0';
    int r = __real_rmdir(trimmed);
    int saved = errno;
    free(trimmed);
    errno = saved;
    return r;
}
