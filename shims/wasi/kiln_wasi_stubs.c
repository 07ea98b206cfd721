/* kiln WASI stubs: definitions for what kiln_wasi_compat.h declares.
 * Each fails like POSIX says an unavailable facility fails (ENOSYS), except
 * identity calls (uid/gid 0, one process), umask (no permission bits to
 * mask) and advice (madvise may be ignored), whose answers are true on WASI,
 * and what WASI can do with files and randomness (temporary names) or
 * libc's own functions (iconv_open without GNU suffixes). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(ret) do { errno = ENOSYS; return (ret); } while (0)

FILE *popen(const char *command, const char *mode) { (void)command; (void)mode; FAIL(NULL); }
int pclose(FILE *stream) { (void)stream; FAIL(-1); }
pid_t getppid(void) { return 1; }
int dup(int fd) { (void)fd; FAIL(-1); }
int dup2(int oldfd, int newfd) { (void)oldfd; (void)newfd; FAIL(-1); }
int getdtablesize(void) { return 1024; }
int pipe(int fds[2]) { (void)fds; FAIL(-1); }
int kill(pid_t pid, int sig) { (void)pid; (void)sig; FAIL(-1); }
pid_t getpgrp(void) { return 1; }
pid_t getpgid(pid_t pid) { (void)pid; return 1; }
int setpgid(pid_t pid, pid_t pgid) { (void)pid; (void)pgid; FAIL(-1); }
pid_t getsid(pid_t pid) { (void)pid; return 1; }
pid_t setsid(void) { FAIL(-1); }
char *ttyname(int fd) { (void)fd; FAIL(NULL); }

uid_t getuid(void) { return 0; }
uid_t geteuid(void) { return 0; }
gid_t getgid(void) { return 0; }
gid_t getegid(void) { return 0; }
int getgroups(int size, gid_t list[]) { (void)size; (void)list; return 0; }
int chown(const char *path, uid_t owner, gid_t group) { (void)path; (void)owner; (void)group; FAIL(-1); }
int lchown(const char *path, uid_t owner, gid_t group) { (void)path; (void)owner; (void)group; FAIL(-1); }
int fchown(int fd, uid_t owner, gid_t group) { (void)fd; (void)owner; (void)group; FAIL(-1); }
mode_t umask(mode_t mask) { (void)mask; return 022; }
int setuid(uid_t uid) { (void)uid; FAIL(-1); }
int setgid(gid_t gid) { (void)gid; FAIL(-1); }
int seteuid(uid_t uid) { (void)uid; FAIL(-1); }
int setegid(gid_t gid) { (void)gid; FAIL(-1); }

/* Temporary names: WASI has files and randomness, so these work. The last
 * six characters of the template, which must be "XXXXXX", become random
 * letters and digits; mkstemp() creates the file with O_EXCL. */
#include <fcntl.h>
#include <unistd.h>
void arc4random_buf(void *buf, size_t n);
static int kiln_fill_template(char *tmpl) {
    static const char set[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    size_t n = tmpl ? strlen(tmpl) : 0;
    unsigned char r[6];
    if (n < 6 || memcmp(tmpl + n - 6, "XXXXXX", 6) != 0) { errno = EINVAL; return -1; }
    arc4random_buf(r, sizeof r);
    for (int i = 0; i < 6; i++) tmpl[n - 6 + i] = set[r[i] % 62];
    return 0;
}
static void kiln_reset_template(char *tmpl) { memcpy(tmpl + strlen(tmpl) - 6, "XXXXXX", 6); }
char *mktemp(char *tmpl) {
    for (int tries = 0; tries < 100; tries++) {
        if (kiln_fill_template(tmpl) != 0) { if (tmpl) tmpl[0] = 0; return tmpl; }
        if (access(tmpl, F_OK) != 0 && errno == ENOENT) return tmpl;
        kiln_reset_template(tmpl);
    }
    tmpl[0] = 0;
    errno = EEXIST;
    return tmpl;
}
int mkstemp(char *tmpl) {
    for (int tries = 0; tries < 100; tries++) {
        int fd;
        if (kiln_fill_template(tmpl) != 0) return -1;
        fd = open(tmpl, O_RDWR | O_CREAT | O_EXCL, 0600);
        if (fd >= 0 || errno != EEXIST) return fd;
        kiln_reset_template(tmpl);
    }
    errno = EEXIST;
    return -1;
}
FILE *tmpfile(void) {
    const char *dir = getenv("TMPDIR");
    char path[512];
    int fd;
    FILE *f;
    snprintf(path, sizeof path, "%s/tmpfileXXXXXX", dir && *dir ? dir : "/tmp");
    fd = mkstemp(path);
    if (fd < 0) return NULL;
    unlink(path);
    f = fdopen(fd, "w+");
    if (!f) close(fd);
    return f;
}

int madvise(void *addr, size_t len, int advice) { (void)addr; (void)len; (void)advice; return 0; }

int gethostname(char *name, size_t len) { (void)name; (void)len; FAIL(-1); }
int socket(int domain, int type, int protocol) { (void)domain; (void)type; (void)protocol; FAIL(-1); }
int socketpair(int domain, int type, int protocol, int sv[2]) { (void)domain; (void)type; (void)protocol; (void)sv; FAIL(-1); }
int connect(int fd, const struct sockaddr *addr, unsigned int len) { (void)fd; (void)addr; (void)len; FAIL(-1); }
int bind(int fd, const struct sockaddr *addr, unsigned int len) { (void)fd; (void)addr; (void)len; FAIL(-1); }
int listen(int fd, int backlog) { (void)fd; (void)backlog; FAIL(-1); }
int getsockname(int fd, struct sockaddr *addr, unsigned int *len) { (void)fd; (void)addr; (void)len; FAIL(-1); }
int getpeername(int fd, struct sockaddr *addr, unsigned int *len) { (void)fd; (void)addr; (void)len; FAIL(-1); }
int setsockopt(int fd, int level, int name, const void *value, unsigned int len) { (void)fd; (void)level; (void)name; (void)value; (void)len; FAIL(-1); }
unsigned int inet_addr(const char *cp) { (void)cp; return 0xffffffffu; /* INADDR_NONE */ }

ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, unsigned int alen) { (void)fd; (void)buf; (void)len; (void)flags; (void)addr; (void)alen; FAIL(-1); }
ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, unsigned int *alen) { (void)fd; (void)buf; (void)len; (void)flags; (void)addr; (void)alen; FAIL(-1); }

/* <netdb.h>: no resolver. */
#include <netdb.h>
int h_errno;
int getaddrinfo(const char *node, const char *service, const struct addrinfo *hints, struct addrinfo **res) { (void)node; (void)service; (void)hints; if (res) *res = NULL; return EAI_FAIL; }
void freeaddrinfo(struct addrinfo *res) { (void)res; }
const char *gai_strerror(int code) { (void)code; return "name resolution is not available on WASI"; }
int getnameinfo(const struct sockaddr *sa, socklen_t salen, char *host, socklen_t hostlen, char *serv, socklen_t servlen, int flags) { (void)sa; (void)salen; (void)host; (void)hostlen; (void)serv; (void)servlen; (void)flags; return EAI_FAIL; }
struct hostent *gethostbyname(const char *name) { (void)name; h_errno = NO_RECOVERY; return NULL; }
struct hostent *gethostbyaddr(const void *addr, socklen_t len, int type) { (void)addr; (void)len; (void)type; h_errno = NO_RECOVERY; return NULL; }
struct servent *getservbyname(const char *name, const char *proto) { (void)name; (void)proto; return NULL; }
struct servent *getservbyport(int port, const char *proto) { (void)port; (void)proto; return NULL; }
struct protoent *getprotobyname(const char *name) { (void)name; return NULL; }
struct protoent *getprotobynumber(int proto) { (void)proto; return NULL; }
const char *hstrerror(int err) { (void)err; return "name resolution is not available on WASI"; }

/* <pwd.h>, <grp.h>: no user or group database. */
#include <pwd.h>
#include <grp.h>
struct passwd *getpwnam(const char *name) { (void)name; return NULL; }
struct passwd *getpwuid(uid_t uid) { (void)uid; return NULL; }
int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len, struct passwd **result) { (void)name; (void)pwd; (void)buf; (void)len; *result = NULL; return ENOENT; }
int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result) { (void)uid; (void)pwd; (void)buf; (void)len; *result = NULL; return ENOENT; }
struct passwd *getpwent(void) { return NULL; }
void setpwent(void) {}
void endpwent(void) {}
struct group *getgrnam(const char *name) { (void)name; return NULL; }
struct group *getgrgid(gid_t gid) { (void)gid; return NULL; }
int getgrnam_r(const char *name, struct group *grp, char *buf, size_t len, struct group **result) { (void)name; (void)grp; (void)buf; (void)len; *result = NULL; return ENOENT; }
int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t len, struct group **result) { (void)gid; (void)grp; (void)buf; (void)len; *result = NULL; return ENOENT; }
struct group *getgrent(void) { return NULL; }
void setgrent(void) {}
void endgrent(void) {}
int initgroups(const char *user, gid_t group) { (void)user; (void)group; FAIL(-1); }

void openlog(const char *ident, int option, int facility) { (void)ident; (void)option; (void)facility; }
void syslog(int priority, const char *format, ...) { (void)priority; (void)format; }
void closelog(void) {}

/* ucontext: no stack switching on WASI. */
#include <ucontext.h>
int getcontext(ucontext_t *ucp) { (void)ucp; FAIL(-1); }
int setcontext(const ucontext_t *ucp) { (void)ucp; FAIL(-1); }
void makecontext(ucontext_t *ucp, void (*func)(void), int argc, ...) { (void)ucp; (void)func; (void)argc; errno = ENOSYS; }
int swapcontext(ucontext_t *oucp, const ucontext_t *ucp) { (void)oucp; (void)ucp; FAIL(-1); }

/* iconv_open() without GNU's //TRANSLIT and //IGNORE suffixes (see the
 * compat header). Charset names longer than the buffer are passed as given
 * and fail in iconv_open() as unknown. */
#include <iconv.h>
#undef iconv_open
iconv_t iconv_open(const char *to, const char *from);
static const char *kiln_charset(const char *name, char *buf, size_t len) {
    const char *cut = strstr(name, "//");
    size_t n;
    if (!cut) return name;
    n = (size_t)(cut - name);
    if (n >= len) return name;
    memcpy(buf, name, n);
    buf[n] = 0;
    return buf;
}
iconv_t kiln_iconv_open(const char *to, const char *from) {
    char t[64], f[64];
    return iconv_open(kiln_charset(to, t, sizeof t), kiln_charset(from, f, sizeof f));
}
