/* wsframe.h: the few pieces of RFC 6455 framing the raw-TCP programs need (no library).  */
#ifndef BENCH_WSFRAME_H
#define BENCH_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

/* Writes a frame header for a final frame of `len` payload bytes into `out` (at least 14 bytes)
   and answers its length; `mask` NULL writes an unmasked (server) frame.  */
size_t ws_frame_header (uint8_t *out, int opcode, uint64_t len, const uint8_t *mask);
/* XORs `len` bytes with the mask, starting at offset `off` of the payload.  */
void ws_frame_mask (uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off);

/* A streaming parser: feed it any chunks; it counts complete data messages, unmasking masked
   payloads in place (that is the work a real receiver does), and records each message's time
   stamp (see bench_read_stamp) when `on_message` is set.  */
struct ws_parser
{
  uint8_t hdr[14];
  size_t hlen;        /* header bytes gathered */
  size_t hneed;       /* header bytes needed (2 until the length byte is seen) */
  uint64_t remain;    /* payload bytes left in the current frame */
  uint64_t off;       /* payload offset in the current frame */
  uint8_t mask[4];
  int masked;
  int opcode;         /* of the current frame */
  int fin;
  int ctl;            /* the current frame is a control frame */
  uint8_t stamp[16];  /* the first payload bytes of the current message */
  size_t stamp_len;
  uint64_t messages;
  uint64_t bytes;
  int closed;         /* a close frame was seen */
  void (*on_message) (void *user, const uint8_t *stamp, size_t stamp_len);
  void *user;
};

void ws_parser_init (struct ws_parser *p);
/* Answers -1 on a protocol error (the peer is not speaking WebSocket framing).  */
int ws_parser_feed (struct ws_parser *p, uint8_t *buf, size_t len);

#endif
