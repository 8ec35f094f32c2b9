/* wsframe.c: see wsframe.h.  */
#include "wsframe.h"

#include <string.h>

size_t
ws_frame_header (uint8_t *out, int opcode, uint64_t len, const uint8_t *mask)
{
  size_t n = 0;
  uint8_t mbit = mask ? 0x80 : 0;
  int i;

  out[n++] = (uint8_t) (0x80 | opcode);
  if (len < 126)
    out[n++] = (uint8_t) (mbit | len);
  else if (len < 65536)
    {
      out[n++] = mbit | 126;
      out[n++] = (uint8_t) (len >> 8);
      out[n++] = (uint8_t) len;
    }
  else
    {
      out[n++] = mbit | 127;
      for (i = 7; i >= 0; i--)
        out[n++] = (uint8_t) (len >> (8 * i));
    }
  if (mask)
    {
      memcpy (out + n, mask, 4);
      n += 4;
    }
  return n;
}

void
ws_frame_mask (uint8_t *p, size_t len, const uint8_t mask[4], uint64_t off)
{
  size_t i = 0;

  /* Byte by byte until the mask is aligned, then 8 bytes at a time (what any decent receiver
     does; the baseline must not be slower than it needs to be).  */
  while (i < len && ((off + i) & 3))
    {
      p[i] ^= mask[(off + i) & 3];
      i++;
    }
  if (len - i >= 8)
    {
      uint64_t m8;
      uint32_t m4;

      memcpy (&m4, mask, 4);
      m8 = ((uint64_t) m4 << 32) | m4;
      for (; len - i >= 8; i += 8)
        {
          uint64_t v;

          memcpy (&v, p + i, 8);
          v ^= m8;
          memcpy (p + i, &v, 8);
        }
    }
  for (; i < len; i++)
    p[i] ^= mask[(off + i) & 3];
}

void
ws_parser_init (struct ws_parser *p)
{
  memset (p, 0, sizeof *p);
  p->hneed = 2;
}

int
ws_parser_feed (struct ws_parser *p, uint8_t *buf, size_t len)
{
  while (len > 0)
    {
      if (p->remain == 0 && p->hlen < p->hneed)
        {
          /* Gathering a header.  */
          size_t take = p->hneed - p->hlen;

          if (take > len)
            take = len;
          memcpy (p->hdr + p->hlen, buf, take);
          p->hlen += take;
          buf += take;
          len -= take;
          if (p->hlen == 2)
            {
              uint8_t l7 = p->hdr[1] & 0x7f;

              p->masked = (p->hdr[1] & 0x80) != 0;
              p->hneed = 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + (p->masked ? 4 : 0);
            }
          if (p->hlen < p->hneed)
            continue;
          {
            uint8_t l7 = p->hdr[1] & 0x7f;
            size_t i, at = 2;
            uint64_t plen = l7;
            int opcode = p->hdr[0] & 0x0f;

            if (p->hdr[0] & 0x70)
              return -1;
            if (l7 == 126)
              {
                plen = ((uint64_t) p->hdr[2] << 8) | p->hdr[3];
                at = 4;
              }
            else if (l7 == 127)
              {
                plen = 0;
                for (i = 0; i < 8; i++)
                  plen = (plen << 8) | p->hdr[2 + i];
                at = 10;
              }
            if (p->masked)
              memcpy (p->mask, p->hdr + at, 4);
            p->fin = (p->hdr[0] & 0x80) != 0;
            if (opcode == 0x8)
              p->closed = 1;
            /* Control frames may sit between the fragments of a data message; they are not
               counted.  */
            p->ctl = (opcode & 0x8) != 0;
            if (opcode == 1 || opcode == 2)
              {
                p->opcode = opcode;
                p->stamp_len = 0;
              }
            p->remain = plen;
            p->off = 0;
            p->hlen = 0;
            p->hneed = 2;
            if (plen > 0)
              continue;
          }
        }
      else
        {
          size_t take = p->remain < len ? (size_t) p->remain : len;

          if (p->masked)
            ws_frame_mask (buf, take, p->mask, p->off);
          if (!p->ctl && p->stamp_len < sizeof p->stamp)
            {
              size_t s = sizeof p->stamp - p->stamp_len;

              if (s > take)
                s = take;
              memcpy (p->stamp + p->stamp_len, buf, s);
              p->stamp_len += s;
            }
          if (!p->ctl)
            p->bytes += take;
          p->remain -= take;
          p->off += take;
          buf += take;
          len -= take;
          if (p->remain > 0)
            continue;
        }
      /* A frame ended.  */
      if (p->fin && !p->ctl)
        {
          p->messages++;
          if (p->on_message)
            p->on_message (p->user, p->stamp, p->stamp_len);
        }
    }
  return 0;
}
