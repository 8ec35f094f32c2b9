/*
 * websocket-source.h: the websocket() source (one log message per WebSocket message).
 */

#ifndef WEBSOCKET_SOURCE_H_INCLUDED
#define WEBSOCKET_SOURCE_H_INCLUDED

#include "logthrsource/logthrsourcedrv.h"
#include "websocket-options.h"

LogDriver *websocket_sd_new(GlobalConfig *cfg);
WebsocketOptions *websocket_sd_get_options(LogDriver *s);
gboolean websocket_sd_check(LogDriver *s, GError **error);

#endif
