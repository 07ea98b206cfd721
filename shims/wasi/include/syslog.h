/* kiln WASI shim: <syslog.h> does not exist on WASI (there is no system
 * log). openlog/syslog/closelog and the LOG_* constants are declared in
 * kiln_wasi_compat.h, which builds that use these shims force-include;
 * messages are dropped. libgd includes this header for LOG_* levels. */
#ifndef KILN_SYSLOG_H
#define KILN_SYSLOG_H
#include "../kiln_wasi_compat.h"
#endif
