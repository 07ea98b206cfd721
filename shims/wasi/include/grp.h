/* kiln WASI shim: <grp.h> does not exist on WASI (no group database).
 * Lookups find nothing: NULL (the _r forms return ENOENT). */
#ifndef KILN_GRP_H
#define KILN_GRP_H
#include <sys/types.h>
#include <stddef.h>
#ifdef __cplusplus
extern "C" {
#endif
struct group { char *gr_name; char *gr_passwd; gid_t gr_gid; char **gr_mem; };
struct group *getgrnam(const char *name);
struct group *getgrgid(gid_t gid);
int getgrnam_r(const char *name, struct group *grp, char *buf, size_t len, struct group **result);
int getgrgid_r(gid_t gid, struct group *grp, char *buf, size_t len, struct group **result);
struct group *getgrent(void);
void setgrent(void);
void endgrent(void);
int initgroups(const char *user, gid_t group);
#ifdef __cplusplus
}
#endif
#endif
