/*
 * websocket-parser.h: the configuration parser of the websocket() source and destination.
 */

#ifndef WEBSOCKET_PARSER_H_INCLUDED
#define WEBSOCKET_PARSER_H_INCLUDED

#include "cfg-parser.h"
#include "driver.h"

extern CfgParser websocket_parser;

CFG_PARSER_DECLARE_LEXER_BINDING(websocket_, WEBSOCKET_, LogDriver **)

#endif
