/*
 * websocket-dest.h: the websocket() destination (client: ws_send; server: ws_broadcast).
 */

#ifndef WEBSOCKET_DEST_H_INCLUDED
#define WEBSOCKET_DEST_H_INCLUDED

#include "logthrdest/logthrdestdrv.h"
#include "websocket-options.h"

typedef enum
{
  WEBSOCKET_NO_SUBSCRIBER_DROP,
  WEBSOCKET_NO_SUBSCRIBER_WAIT,
} WebsocketNoSubscriber;

LogDriver *websocket_dd_new(GlobalConfig *cfg);
WebsocketOptions *websocket_dd_get_options(LogDriver *s);
LogTemplateOptions *websocket_dd_get_template_options(LogDriver *s);
void websocket_dd_set_template(LogDriver *s, LogTemplate *template);
gboolean websocket_dd_set_no_subscriber(LogDriver *s, const gchar *action);
gboolean websocket_dd_check(LogDriver *s, GError **error);

#endif
