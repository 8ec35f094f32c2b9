/*
 * websocket-parser.c: keywords of the websocket() source and destination. The lexer treats
 * '-' and '_' alike, so "allow-self-signed" and "allow_self_signed" are the same keyword.
 */

#include "websocket-parser.h"
#include "websocket-grammar.h"

extern int websocket_debug;

int websocket_parse(CfgLexer *lexer, LogDriver **instance, gpointer arg);

static CfgLexerKeyword websocket_keywords[] =
{
  { "websocket", KW_WEBSOCKET },
  { "mode", KW_MODE },
  { "address", KW_ADDRESS },
  { "port", KW_PORT },
  { "path", KW_PATH },
  { "protocol", KW_PROTOCOL },
  { "headers", KW_HEADERS },
  { "ssl", KW_SSL },
  { "tls", KW_TLS },
  { "cert", KW_CERT },
  { "key", KW_KEY },
  { "cacert", KW_CACERT },
  { "allow_self_signed", KW_ALLOW_SELF_SIGNED },
  { "template", KW_TEMPLATE },
  { "message_type", KW_MESSAGE_TYPE },
  { "no_subscriber", KW_NO_SUBSCRIBER },
  { "ping_interval", KW_PING_INTERVAL },
  { "pong_timeout", KW_PONG_TIMEOUT },
  { "handshake_timeout", KW_HANDSHAKE_TIMEOUT },
  { "reconnect_backoff", KW_RECONNECT_BACKOFF },
  { "max_message_size", KW_MAX_MESSAGE_SIZE },
  { "queue_capacity", KW_QUEUE_CAPACITY },
  { "max_connections", KW_MAX_CONNECTIONS },
  { "slow_policy", KW_SLOW_POLICY },
  { "index_html", KW_INDEX_HTML },
  { "drain_timeout", KW_DRAIN_TIMEOUT },
  { "allowed_origins", KW_ALLOWED_ORIGINS },
  { "auth_token", KW_AUTH_TOKEN },
  { "auth_token_file", KW_AUTH_TOKEN_FILE },
  { "max_buffered_bytes", KW_MAX_BUFFERED_BYTES },
  { "message_timeout", KW_MESSAGE_TIMEOUT },
  { "trusted_proxies", KW_TRUSTED_PROXIES },
  { "proxy", KW_PROXY },
  { "replay_retention", KW_REPLAY_RETENTION },
  { "replay_retention_bytes", KW_REPLAY_RETENTION_BYTES },
  { "compression", KW_COMPRESSION },
  { "compression_level", KW_COMPRESSION_LEVEL },
  { "acknowledgements", KW_ACKNOWLEDGEMENTS },
  { "ack_window", KW_ACK_WINDOW },
  { NULL }
};

/* The parser frees a half-built driver on a syntax error; log_pipe_unref's return value is of no
   use here, hence the wrapper instead of a function-type cast. */
static void
_websocket_parser_cleanup(gpointer driver)
{
  log_pipe_unref((LogPipe *) driver);
}

CfgParser websocket_parser =
{
#if SYSLOG_NG_ENABLE_DEBUG
  .debug_flag = &websocket_debug,
#endif
  .name = "websocket",
  .keywords = websocket_keywords,
  .parse = (gint (*)(CfgLexer *, gpointer *, gpointer)) websocket_parse,
  .cleanup = _websocket_parser_cleanup,
};

CFG_PARSER_IMPLEMENT_LEXER_BINDING(websocket_, WEBSOCKET_, LogDriver **)
