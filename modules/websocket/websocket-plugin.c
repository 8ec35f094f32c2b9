/*
 * websocket-plugin.c: registers the websocket() source and destination with syslog-ng.
 */

#include "cfg-parser.h"
#include "plugin.h"
#include "plugin-types.h"
#include "websocket-parser.h"
#include "ws_api.h"

static Plugin websocket_plugins[] =
{
  {
    .type = LL_CONTEXT_DESTINATION,
    .name = "websocket",
    .parser = &websocket_parser,
  },
  {
    .type = LL_CONTEXT_SOURCE,
    .name = "websocket",
    .parser = &websocket_parser,
  },
};

gboolean
websocket_module_init(PluginContext *context, CfgArgs *args)
{
  plugin_register(context, websocket_plugins, G_N_ELEMENTS(websocket_plugins));
  return TRUE;
}

const ModuleInfo module_info =
{
  .canonical_name = "websocket",
  .version = SYSLOG_NG_VERSION,
  .description = "WebSocket source and destination (ws_api engine)",
  .core_revision = SYSLOG_NG_SOURCE_REVISION,
  .plugins = websocket_plugins,
  .plugins_len = G_N_ELEMENTS(websocket_plugins),
};
