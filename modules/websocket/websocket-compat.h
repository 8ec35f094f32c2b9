/*
 * websocket-compat.h: every difference between the syslog-ng versions the module supports
 * (3.38 and 4.x, tested on 3.38.1 and 4.8.1), in one place. The drivers call only what is
 * declared here; nothing else in the module tests the version.
 *
 * What differs (read from the 3.38 and 4.8 headers):
 * - cfg_persist_config_add() lost its last argument in 4.0;
 * - a threaded destination's counters moved into `metrics` (4.2), and its stats are named by a
 *   StatsClusterKeyBuilder (format_stats_key, 4.3) instead of an instance string;
 * - a threaded source's run/request_exit/wakeup moved to LogThreadedSourceWorker (4.6), and
 *   posting became log_threaded_source_worker_post(); its stats use format_stats_key too.
 * The same in both: the explicit acknowledgement of a threaded destination (LTR_EXPLICIT_ACK_MGMT,
 * log_threaded_dest_worker_ack_messages / _rewind_messages / _drop_messages, the worker's flush
 * hook), which the destination's client mode uses directly.
 * On 4.x the module uses the 4.x interfaces themselves; on 3.38 the 3.38 ones. The drivers need
 * no post_config_init (3.38: on_config_inited) of their own: the threaded driver bases start
 * their threads there, after the drivers' init made the engine contexts.
 * The grammar rules the module takes from cfg-grammar.y (threaded_dest_driver_general_option,
 * threaded_dest_driver_workers_option, threaded_source_driver_option) have the same names in
 * both; on 4.x the workers rule also brings worker-partition-key().
 */

#ifndef WEBSOCKET_COMPAT_H_INCLUDED
#define WEBSOCKET_COMPAT_H_INCLUDED

#include "syslog-ng.h"
#include "versioning.h"
#include "cfg.h"
#include "stats/stats-counter.h"
#include "logthrdest/logthrdestdrv.h"
#include "logthrsource/logthrsourcedrv.h"
#include "ack-tracker/ack_tracker.h"
#include "ack-tracker/ack_tracker_factory.h"

/* Numbers, not VERSION_VALUE_4_6 and the like: an older versioning.h does not define the newer
   names, and an undefined name is 0 in #if. */
#define WEBSOCKET_SNG_VERSION_3_38 0x0326
#define WEBSOCKET_SNG_VERSION_4_0 0x0400
#define WEBSOCKET_SNG_VERSION_4_6 0x0406

#if VERSION_VALUE_CURRENT < WEBSOCKET_SNG_VERSION_3_38
#error "the websocket() module needs syslog-ng 3.38 or later"
#endif

#if VERSION_VALUE_CURRENT >= WEBSOCKET_SNG_VERSION_4_0 && VERSION_VALUE_CURRENT < WEBSOCKET_SNG_VERSION_4_6
/* 4.0-4.5 have the 4.x stats but not the source worker API; nobody has built or tested the
   module there (Ubuntu 24.04 ships 4.3.1): refuse rather than guess. */
#error "the websocket() module supports syslog-ng 3.38 and 4.6 or later (see README.md, Supported syslog-ng versions)"
#endif

#define WEBSOCKET_SNG_4X (VERSION_VALUE_CURRENT >= WEBSOCKET_SNG_VERSION_4_6)

/* Keeps `value` in the persist config for the next configuration; `destroy` frees it when no
   driver takes it over. */
void websocket_compat_persist_add(GlobalConfig *cfg, const gchar *name, gpointer value, GDestroyNotify destroy);

/* The destination's "dropped" counter (the driver's, shared by its workers). */
StatsCounterItem *websocket_compat_dest_dropped_counter(LogThreadedDestDriver *self);

/* Names the stats of a driver: 4.x labels driver="websocket", mode, url (and the legacy
   instance "websocket,<mode>,<url>" for `syslog-ng-ctl stats`); 3.38 the instance
   "websocket,<persist-name or mode url>". */
void websocket_compat_dest_init_stats(LogThreadedDestDriver *self);
void websocket_compat_source_init_stats(LogThreadedSourceDriver *self);

/* ----------------------------------------------------------------------------------------- */
/* The source's thread. The source driver implements the three functions below; the compat
 * layer calls them from a LogThreadedSourceWorker (4.6+) or from the driver's own hooks (3.38).
 * `poster` is what websocket_compat_source_post() needs: the worker, or the driver. */

#if WEBSOCKET_SNG_4X
typedef LogThreadedSourceWorker WebsocketSourcePoster;
#else
typedef LogThreadedSourceDriver WebsocketSourcePoster;
#endif

void websocket_sd_run(LogThreadedSourceDriver *driver, WebsocketSourcePoster *poster);
void websocket_sd_request_exit(LogThreadedSourceDriver *driver);
void websocket_sd_wakeup(LogThreadedSourceDriver *driver);

/* Installs the thread hooks on a source driver (call once, in its constructor). */
void websocket_compat_source_init_thread(LogThreadedSourceDriver *self);

/* Non-blocking post (worker thread only) and the window check. */
void websocket_compat_source_post(WebsocketSourcePoster *poster, LogMessage *msg);
gboolean websocket_compat_source_free_to_send(WebsocketSourcePoster *poster);
/* How many messages can be posted before the window closes (0 while it is closed). Only the
   worker thread posts, and acknowledgements only widen the window, so the answer stays a
   lower bound until the worker posts again (worker thread only). */
gsize websocket_compat_source_window_room(WebsocketSourcePoster *poster);
/* Hands what was posted to the pipeline before the thread sleeps (4.x batches posts). */
void websocket_compat_source_close_batch(WebsocketSourcePoster *poster);

/* Acknowledgements back to the source (acknowledgements(yes)): makes the source's LogSource
   use an instant ack tracker, whose bookmarks are saved message by message as syslog-ng
   acknowledges them (call before log_threaded_source_driver_init_method); and the bookmark
   the next posted message will carry (worker thread only). The same ack tracker interfaces
   in 3.38 and 4.x; only where the LogSource lives differs. */
void websocket_compat_source_use_instant_acks(LogThreadedSourceDriver *self);
Bookmark *websocket_compat_source_request_bookmark(WebsocketSourcePoster *poster);

#endif
