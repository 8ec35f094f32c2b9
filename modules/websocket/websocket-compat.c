/*
 * websocket-compat.c: the version-dependent half of the module (see websocket-compat.h).
 */

#include "websocket-compat.h"
#include "websocket-dest.h"
#include "websocket-source.h"

#if WEBSOCKET_SNG_4X
#include "stats/stats-cluster-key-builder.h"
#endif

void
websocket_compat_persist_add(GlobalConfig *cfg, const gchar *name, gpointer value, GDestroyNotify destroy)
{
#if WEBSOCKET_SNG_4X
  cfg_persist_config_add(cfg, name, value, destroy);
#else
  /* FALSE: the value is not written to the persist file, it only lives until the next
     configuration is initialized. */
  cfg_persist_config_add(cfg, name, value, destroy, FALSE);
#endif
}

StatsCounterItem *
websocket_compat_dest_dropped_counter(LogThreadedDestDriver *self)
{
#if WEBSOCKET_SNG_4X
  return self->metrics.dropped_messages;
#else
  return self->dropped_messages;
#endif
}

/* ----------------------------------------------------------------------------------------- */
/* Stats names */

#if WEBSOCKET_SNG_4X

/* driver="websocket", mode="client"|"server", url="ws://host:port/path"; added as legacy labels
   too, so `syslog-ng-ctl stats` shows the instance "websocket,client,ws://...". */
static void
_add_stats_labels(StatsClusterKeyBuilder *kb, WebsocketOptions *options)
{
  stats_cluster_key_builder_add_legacy_label(kb, stats_cluster_label("driver", "websocket"));
  stats_cluster_key_builder_add_legacy_label(kb, stats_cluster_label("mode", options->mode == WS_MODE_CLIENT
                                                                     ? "client" : "server"));
  stats_cluster_key_builder_add_legacy_label(kb, stats_cluster_label("url", websocket_options_url(options)));
}

/* NULL: no legacy instance of our own. (syslog-ng 4.8 itself shows the "processed" counter's
   legacy instance with the labels twice: "websocket,client,ws://...,websocket,client,ws://...".) */
static const gchar *
_dest_format_stats_key(LogThreadedDestDriver *s, StatsClusterKeyBuilder *kb)
{
  _add_stats_labels(kb, websocket_dd_get_options(&s->super.super));
  return NULL;
}

static void
_source_format_stats_key(LogThreadedSourceDriver *s, StatsClusterKeyBuilder *kb)
{
  _add_stats_labels(kb, websocket_sd_get_options(&s->super.super));
}

void
websocket_compat_dest_init_stats(LogThreadedDestDriver *self)
{
  self->format_stats_key = _dest_format_stats_key;
  self->stats_source = stats_register_type("websocket");
}

void
websocket_compat_source_init_stats(LogThreadedSourceDriver *self)
{
  self->format_stats_key = _source_format_stats_key;
  self->worker_options.super.stats_source = stats_register_type("websocket");
}

#else

static const gchar *
_dest_format_stats_instance(LogThreadedDestDriver *s)
{
  static gchar instance[1024];

  return websocket_options_stats_instance(websocket_dd_get_options(&s->super.super), s->super.super.super.persist_name,
                                          instance, sizeof(instance));
}

static const gchar *
_source_format_stats_instance(LogThreadedSourceDriver *s)
{
  static gchar instance[1024];

  return websocket_options_stats_instance(websocket_sd_get_options(&s->super.super), s->super.super.super.persist_name,
                                          instance, sizeof(instance));
}

void
websocket_compat_dest_init_stats(LogThreadedDestDriver *self)
{
  self->format_stats_instance = _dest_format_stats_instance;
  self->stats_source = stats_register_type("websocket");
}

void
websocket_compat_source_init_stats(LogThreadedSourceDriver *self)
{
  self->format_stats_instance = _source_format_stats_instance;
  self->worker_options.super.stats_source = stats_register_type("websocket");
}

#endif

/* ----------------------------------------------------------------------------------------- */
/* The source's thread */

/* The same LogSource window in 3.38 and 4.x: a counter that each post decrements and each
   acknowledgement increments, with a suspended flag; log_source_free_to_send() is its
   "not suspended". */
static gsize
_window_room(LogSource *source)
{
  gboolean suspended = FALSE;
  gsize room = window_size_counter_get(&source->window_size, &suspended);

  return (suspended || !log_source_free_to_send(source)) ? 0 : room;
}

#if WEBSOCKET_SNG_4X

static void
_worker_run(LogThreadedSourceWorker *w)
{
  websocket_sd_run(w->control, w);
}

static void
_worker_request_exit(LogThreadedSourceWorker *w)
{
  websocket_sd_request_exit(w->control);
}

static void
_worker_wakeup(LogThreadedSourceWorker *w)
{
  websocket_sd_wakeup(w->control);
}

static LogThreadedSourceWorker *
_worker_construct(LogThreadedSourceDriver *driver, gint worker_index)
{
  LogThreadedSourceWorker *w = g_new0(LogThreadedSourceWorker, 1);

  log_threaded_source_worker_init_instance(w, driver, worker_index);
  w->run = _worker_run;
  w->request_exit = _worker_request_exit;
  w->wakeup = _worker_wakeup;
  return w;
}

void
websocket_compat_source_init_thread(LogThreadedSourceDriver *self)
{
  /* One thread: the engine context is one event queue, dispatched in order. */
  self->num_workers = 1;
  self->worker_construct = _worker_construct;
}

void
websocket_compat_source_post(WebsocketSourcePoster *poster, LogMessage *msg)
{
  log_threaded_source_worker_post(poster, msg);
}

gboolean
websocket_compat_source_free_to_send(WebsocketSourcePoster *poster)
{
  return log_threaded_source_worker_free_to_send(poster);
}

gsize
websocket_compat_source_window_room(WebsocketSourcePoster *poster)
{
  return _window_room(&poster->super);
}

void
websocket_compat_source_close_batch(WebsocketSourcePoster *poster)
{
  log_threaded_source_worker_close_batch(poster);
}

Bookmark *
websocket_compat_source_request_bookmark(WebsocketSourcePoster *poster)
{
  return ack_tracker_request_bookmark(poster->super.ack_tracker);
}

#else

static void
_driver_run(LogThreadedSourceDriver *s)
{
  websocket_sd_run(s, s);
}

void
websocket_compat_source_init_thread(LogThreadedSourceDriver *self)
{
  self->run = _driver_run;
  self->request_exit = websocket_sd_request_exit;
  self->wakeup = websocket_sd_wakeup;
}

void
websocket_compat_source_post(WebsocketSourcePoster *poster, LogMessage *msg)
{
  log_threaded_source_post(poster, msg);
}

gboolean
websocket_compat_source_free_to_send(WebsocketSourcePoster *poster)
{
  return log_threaded_source_free_to_send(poster);
}

gsize
websocket_compat_source_window_room(WebsocketSourcePoster *poster)
{
  return _window_room(&poster->worker->super);
}

void
websocket_compat_source_close_batch(WebsocketSourcePoster *poster)
{
  /* 3.38 posts every message at once. */
}

Bookmark *
websocket_compat_source_request_bookmark(WebsocketSourcePoster *poster)
{
  return ack_tracker_request_bookmark(poster->worker->super.ack_tracker);
}

#endif

void
websocket_compat_source_use_instant_acks(LogThreadedSourceDriver *self)
{
  if (self->worker_options.ack_tracker_factory)
    ack_tracker_factory_unref(self->worker_options.ack_tracker_factory);
  self->worker_options.ack_tracker_factory = instant_ack_tracker_factory_new();
}
