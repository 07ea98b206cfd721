/* kiln WASI shim: <pwd.h> does not exist on WASI (no user database).
 * Lookups find nothing: NULL (the _r forms return ENOENT). */
#ifndef KILN_PWD_H
#define KILN_PWD_H
#include <sys/types.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
struct passwd { char *pw_name; char *pw_passwd; uid_t pw_uid; gid_t pw_gid; char *pw_gecos; char *pw_dir; char *pw_shell; };
struct passwd *getpwnam(const char *name);
struct passwd *getpwuid(uid_t uid);
int getpwnam_r(const char *name, struct passwd *pwd, char *buf, size_t len, struct passwd **result);
int getpwuid_r(uid_t uid, struct passwd *pwd, char *buf, size_t len, struct passwd **result);
struct passwd *getpwent(void);
void setpwent(void);
void endpwent(void);
#ifdef __cplusplus
}
#endif
#endif
