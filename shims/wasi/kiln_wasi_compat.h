/* kiln WASI compat: force-included (-include) into every C file of a WASI
 * build, configure checks included.
 *
 * wasi-libc (wasip1) lacks processes, users and groups, sockets beyond
 * accept/recv/send, DNS, syslog and file locking. Interpreter sources call
 * some of these unconditionally. This header declares them (and the
 * constants they use) so the sources compile; kiln_wasi_stubs.c defines
 * them to fail the way POSIX says an unavailable feature fails (-1/NULL and
 * errno = ENOSYS), so PHP/Python/Ruby report "not supported" instead of
 * pretending to succeed. Nothing here is PHP-specific. */
#ifndef KILN_WASI_COMPAT_H
#define KILN_WASI_COMPAT_H
#ifdef __wasi__

#include <stddef.h>
#include <sys/types.h>

/* LLVM lowers only setjmp/longjmp to Wasm exception handling; the sig*
 * variants would stay unresolved. There are no signal masks to save on
 * WASI, so they are exactly setjmp/longjmp. */
#include <setjmp.h>
#undef sigsetjmp
#undef siglongjmp
#define sigsetjmp(env, savemask) setjmp(env)
#define siglongjmp(env, val) longjmp(env, val)

#ifdef __cplusplus
extern "C" {
#endif

struct _IO_FILE;
/* processes */
struct _IO_FILE *popen(const char *command, const char *mode);
int pclose(struct _IO_FILE *stream);
pid_t getppid(void);
int dup(int fd);
int dup2(int oldfd, int newfd);
int getdtablesize(void);
int kill(pid_t pid, int sig);
pid_t getpgrp(void);
pid_t getpgid(pid_t pid);
int setpgid(pid_t pid, pid_t pgid);
pid_t getsid(pid_t pid);
pid_t setsid(void);
char *ttyname(int fd);
int pipe(int fds[2]);

/* users and groups: there are none; everything runs as uid/gid 0 */
uid_t getuid(void);
uid_t geteuid(void);
gid_t getgid(void);
gid_t getegid(void);
int getgroups(int size, gid_t list[]);
int chown(const char *path, uid_t owner, gid_t group);
int lchown(const char *path, uid_t owner, gid_t group);
int fchown(int fd, uid_t owner, gid_t group);
mode_t umask(mode_t mask);
int setuid(uid_t uid);
int setgid(gid_t gid);
int seteuid(uid_t uid);
int setegid(gid_t gid);

/* files */
char *mktemp(char *tmpl);
int mkstemp(char *tmpl);
struct _IO_FILE *tmpfile(void);

/* memory advice (the emulated mman has no madvise) */
int madvise(void *addr, size_t len, int advice);
#ifndef MADV_NORMAL
#define MADV_NORMAL 0
#define MADV_RANDOM 1
#define MADV_SEQUENTIAL 2
#define MADV_WILLNEED 3
#define MADV_DONTNEED 4
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif

/* networking beyond what wasip1 has */
/* wasi-libc's sockaddr_un has no sun_path (no UNIX sockets); code that
 * builds one still compiles, and connect()/bind() fail with ENOSYS. */
#ifndef __wasilibc___struct_sockaddr_un_h
#define __wasilibc___struct_sockaddr_un_h
#include <__typedef_sa_family_t.h>
struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; };
#endif
int gethostname(char *name, size_t len);
#ifndef KILN_NO_SOCKET_DECLS
struct sockaddr;
int socket(int domain, int type, int protocol);
int socketpair(int domain, int type, int protocol, int sv[2]);
int connect(int fd, const struct sockaddr *addr, unsigned int len);
int bind(int fd, const struct sockaddr *addr, unsigned int len);
int listen(int fd, int backlog);
int getsockname(int fd, struct sockaddr *addr, unsigned int *len);
int getpeername(int fd, struct sockaddr *addr, unsigned int *len);
int setsockopt(int fd, int level, int name, const void *value, unsigned int len);
ssize_t sendto(int fd, const void *buf, size_t len, int flags, const struct sockaddr *addr, unsigned int alen);
ssize_t recvfrom(int fd, void *buf, size_t len, int flags, struct sockaddr *addr, unsigned int *alen);
#endif
unsigned int inet_addr(const char *cp);

#ifndef SOMAXCONN
#define SOMAXCONN 128
#endif
#ifndef PF_UNIX
#define PF_UNIX 1
#endif
#ifndef PF_INET
#define PF_INET 2
#endif
#ifndef MSG_OOB
#define MSG_OOB 0x0001
#endif
#ifndef MSG_DONTROUTE
#define MSG_DONTROUTE 0x0004
#endif
#ifndef SOL_IP
#define SOL_IP 0
#endif
#ifndef SO_REUSEADDR
#define SO_REUSEADDR 2
#endif
#ifndef SO_KEEPALIVE
#define SO_KEEPALIVE 9
#endif
#ifndef SO_BROADCAST
#define SO_BROADCAST 6
#endif
#ifndef SO_LINGER
#define SO_LINGER 13
#endif
#ifndef SO_RCVBUF
#define SO_RCVBUF 8
#endif
#ifndef SO_SNDBUF
#define SO_SNDBUF 7
#endif
#ifndef SO_RCVTIMEO
#define SO_RCVTIMEO 20
#endif
#ifndef SO_SNDTIMEO
#define SO_SNDTIMEO 21
#endif
#ifndef SO_DEBUG
#define SO_DEBUG 1
#endif
#ifndef SO_TYPE
#define SO_TYPE 3
#endif
#ifndef SO_ERROR
#define SO_ERROR 4
#endif
#ifndef SO_DONTROUTE
#define SO_DONTROUTE 5
#endif
#ifndef SO_OOBINLINE
#define SO_OOBINLINE 10
#endif
#ifndef SO_RCVLOWAT
#define SO_RCVLOWAT 18
#endif
#ifndef SO_SNDLOWAT
#define SO_SNDLOWAT 19
#endif
#ifndef SO_ACCEPTCONN
#define SO_ACCEPTCONN 30
#endif
#ifndef POLLPRI
#define POLLPRI 0x002
#endif

/* record locks: fcntl() rejects these with EINVAL on WASI */
#ifndef F_RDLCK
#define F_RDLCK 0
#define F_WRLCK 1
#define F_UNLCK 2
#endif
#ifndef F_GETLK
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#endif

/* iconv: wasi-libc's (musl's) iconv_open() rejects GNU's "//TRANSLIT" and
 * "//IGNORE" suffixes, which PHP and others pass through from users.
 * kiln_iconv_open() drops them and opens the plain charsets: musl already
 * writes '*' for a character the target lacks (where GNU transliterates),
 * and PHP, whose configure finds //IGNORE unsupported, skips invalid input
 * itself. <iconv.h>'s own declaration is renamed by this macro too. */
#define iconv_open kiln_iconv_open

/* syslog: there is no system log; messages are dropped */
void openlog(const char *ident, int option, int facility);
void syslog(int priority, const char *format, ...);
void closelog(void);
#ifndef LOG_EMERG
#define LOG_EMERG 0
#define LOG_ALERT 1
#define LOG_CRIT 2
#define LOG_ERR 3
#define LOG_WARNING 4
#define LOG_NOTICE 5
#define LOG_INFO 6
#define LOG_DEBUG 7
#define LOG_KERN (0 << 3)
#define LOG_USER (1 << 3)
#define LOG_MAIL (2 << 3)
#define LOG_DAEMON (3 << 3)
#define LOG_AUTH (4 << 3)
#define LOG_SYSLOG (5 << 3)
#define LOG_LPR (6 << 3)
#define LOG_NEWS (7 << 3)
#define LOG_UUCP (8 << 3)
#define LOG_CRON (9 << 3)
#define LOG_AUTHPRIV (10 << 3)
#define LOG_LOCAL0 (16 << 3)
#define LOG_LOCAL1 (17 << 3)
#define LOG_LOCAL2 (18 << 3)
#define LOG_LOCAL3 (19 << 3)
#define LOG_LOCAL4 (20 << 3)
#define LOG_LOCAL5 (21 << 3)
#define LOG_LOCAL6 (22 << 3)
#define LOG_LOCAL7 (23 << 3)
#define LOG_PID 0x01
#define LOG_CONS 0x02
#define LOG_ODELAY 0x04
#define LOG_NDELAY 0x08
#define LOG_NOWAIT 0x10
#define LOG_PERROR 0x20
#endif

#ifdef __cplusplus
}
#endif

#endif /* __wasi__ */
#endif /* KILN_WASI_COMPAT_H */
