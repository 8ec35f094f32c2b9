//! The `Sec-WebSocket-Extensions` negotiation of permessage-deflate (RFC 7692 section 7.1).
//!
//! Server: the offers are read in order and the first valid permessage-deflate offer is
//! accepted; an offer with an unknown parameter, a parameter given twice or an invalid value is
//! declined (RFC 7692 5.1 and 7.1: the server declines such an offer and looks at the next; no
//! acceptable offer means no compression, not a failed handshake). Client: an answer naming
//! another extension, more than one extension, or a permessage-deflate element with an unknown,
//! repeated, invalid or not-offered parameter fails the connection (RFC 7692 7.1: "the client
//! MUST _Fail the WebSocket Connection_").

/// The extension's name.
pub const NAME: &str = "permessage-deflate";

/// The offer a client sends: context takeover first (the better ratio), then the same without
/// it for servers that ask for no context takeover. `client_max_window_bits` lets the server
/// pick our window.
pub const CLIENT_OFFER: &str = "permessage-deflate; client_max_window_bits, permessage-deflate; client_no_context_takeover; client_max_window_bits";

/// The parameters of one permessage-deflate element.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Params {
    /// `server_no_context_takeover`.
    pub server_no_context_takeover: bool,
    /// `client_no_context_takeover`.
    pub client_no_context_takeover: bool,
    /// `server_max_window_bits=N` (8..15).
    pub server_max_window_bits: Option<u8>,
    /// `client_max_window_bits`, with its value (8..15) or without one (`Some(None)`: allowed
    /// in an offer only).
    pub client_max_window_bits: Option<Option<u8>>,
}

/// What one side of a connection does once permessage-deflate is agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Agreed {
    /// Window bits our messages are compressed with (9..15), or None: we send them uncompressed
    /// (we were asked for a window of 8, which zlib cannot make, or, on a server, for less than
    /// the shared 15-bit compressor uses).
    pub send_window: Option<u8>,
    /// We may keep our compression context from one message to the next.
    pub send_takeover: bool,
    /// The peer may keep its context: our inflater keeps its window between messages.
    pub recv_takeover: bool,
}

fn window_bits(v: &str) -> Result<u8, String> {
    // RFC 7692 7.1.2: 1*DIGIT, no leading zero, 8..15.
    match v.parse::<u8>() {
        Ok(n @ 8..=15) if !v.starts_with('0') && v.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(format!("invalid window bits {v:?}")),
    }
}

/// Parses the parameters of one element (what follows `permessage-deflate`).
fn parse_params<'a>(params: impl Iterator<Item = &'a str>) -> Result<Params, String> {
    let mut p = Params::default();
    for raw in params {
        let raw = raw.trim();
        let (name, value) = match raw.split_once('=') {
            Some((n, v)) => {
                let v = v.trim();
                // A quoted-string value is allowed; its content must still be a token.
                let v = v
                    .strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v);
                (n.trim(), Some(v))
            }
            None => (raw, None),
        };
        let dup = || format!("parameter {name} given twice");
        match (name.to_ascii_lowercase().as_str(), value) {
            ("server_no_context_takeover", None) => {
                if std::mem::replace(&mut p.server_no_context_takeover, true) {
                    return Err(dup());
                }
            }
            ("client_no_context_takeover", None) => {
                if std::mem::replace(&mut p.client_no_context_takeover, true) {
                    return Err(dup());
                }
            }
            ("server_max_window_bits", Some(v)) => {
                if p.server_max_window_bits.replace(window_bits(v)?).is_some() {
                    return Err(dup());
                }
            }
            ("client_max_window_bits", v) => {
                let bits = v.map(window_bits).transpose()?;
                if p.client_max_window_bits.replace(bits).is_some() {
                    return Err(dup());
                }
            }
            ("", _) => return Err("empty parameter".into()),
            _ => return Err(format!("unknown or malformed parameter {raw:?}")),
        }
    }
    Ok(p)
}

/// The elements of header values: each element's name and its parameters (or why they are
/// invalid).
fn elements<'a>(
    values: impl IntoIterator<Item = &'a str>,
) -> Vec<(String, Result<Params, String>)> {
    values
        .into_iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| {
            let mut parts = e.split(';');
            let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let params = if name == NAME {
                parse_params(parts)
            } else {
                Ok(Params::default())
            };
            (name, params)
        })
        .collect()
}

/// Server: the first acceptable permessage-deflate offer among the `Sec-WebSocket-Extensions`
/// values, as what we do and the answer's header value; None when none is acceptable (the
/// connection then goes on uncompressed).
pub fn server_accept<'a>(values: impl IntoIterator<Item = &'a str>) -> Option<(Agreed, String)> {
    let offer = elements(values)
        .into_iter()
        .filter(|(n, _)| n == NAME)
        .find_map(|(_, p)| p.ok())?;
    let mut answer = format!("{NAME}; server_no_context_takeover");
    if offer.client_no_context_takeover {
        answer.push_str("; client_no_context_takeover");
    }
    let send_window = match offer.server_max_window_bits {
        Some(n) => {
            answer.push_str(&format!("; server_max_window_bits={n}"));
            // The shared compressor uses 15 bits; a client that wants less gets plain messages.
            (n == 15).then_some(15)
        }
        None => Some(15),
    };
    Some((
        Agreed {
            send_window,
            send_takeover: false,
            recv_takeover: !offer.client_no_context_takeover,
        },
        answer,
    ))
}

/// Client: what the server's `Sec-WebSocket-Extensions` values agree to, given that we sent
/// `CLIENT_OFFER` (or no offer at all when `offered` is false). Ok(None): no extension.
pub fn client_agree<'a>(
    values: impl IntoIterator<Item = &'a str>,
    offered: bool,
) -> Result<Option<Agreed>, String> {
    let els = elements(values);
    let Some((name, params)) = els.first() else {
        return Ok(None);
    };
    if !offered || name != NAME {
        return Err(format!(
            "server selected extension {name:?} that was not offered"
        ));
    }
    if els.len() > 1 {
        return Err("server selected more than one extension".into());
    }
    let p = params
        .clone()
        .map_err(|e| format!("server's permessage-deflate answer is invalid: {e}"))?;
    let client_bits = match p.client_max_window_bits {
        None => 15,
        Some(Some(n)) => n,
        Some(None) => {
            return Err(
                "server's permessage-deflate answer has client_max_window_bits without a value"
                    .into(),
            )
        }
    };
    Ok(Some(Agreed {
        send_window: (client_bits >= 9).then_some(client_bits),
        send_takeover: !p.client_no_context_takeover,
        recv_takeover: !p.server_no_context_takeover,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_accepts_the_first_valid_offer_and_always_resets_its_context() {
        let (a, answer) = server_accept(["permessage-deflate; client_max_window_bits"]).unwrap();
        assert_eq!(answer, "permessage-deflate; server_no_context_takeover");
        assert_eq!(
            a,
            Agreed {
                send_window: Some(15),
                send_takeover: false,
                recv_takeover: true
            }
        );
        // A malformed first alternative is declined, the next one taken.
        let (a, answer) = server_accept([
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=7, permessage-deflate; client_no_context_takeover",
        ])
        .unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        );
        assert!(!a.recv_takeover);
    }

    #[test]
    fn server_declines_malformed_and_duplicate_parameters() {
        for bad in [
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
            "permessage-deflate; server_max_window_bits=10; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits; client_max_window_bits=9",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits=09",
            "permessage-deflate; client_max_window_bits=abc",
            "permessage-deflate; server_no_context_takeover=1",
            "permessage-deflate; foo",
            "permessage-deflate; ;",
            "deflate-frame",
        ] {
            assert_eq!(server_accept([bad]), None, "{bad}");
        }
        assert!(server_accept([]).is_none());
    }

    #[test]
    fn server_window_bits_answers() {
        let (a, answer) =
            server_accept(["permessage-deflate; server_max_window_bits=\"10\""]).unwrap();
        assert_eq!(
            answer,
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10"
        );
        assert_eq!(a.send_window, None);
        let (a, _) = server_accept(["permessage-deflate; server_max_window_bits=8"]).unwrap();
        assert_eq!(a.send_window, None);
        let (a, _) = server_accept(["permessage-deflate;server_max_window_bits=15"]).unwrap();
        assert_eq!(a.send_window, Some(15));
    }

    #[test]
    fn client_checks_the_answer() {
        assert_eq!(client_agree([], true), Ok(None));
        assert_eq!(
            client_agree(["permessage-deflate"], true),
            Ok(Some(Agreed {
                send_window: Some(15),
                send_takeover: true,
                recv_takeover: true
            }))
        );
        assert_eq!(
            client_agree(
                ["permessage-deflate; server_no_context_takeover; client_no_context_takeover; client_max_window_bits=9; server_max_window_bits=8"],
                true
            ),
            Ok(Some(Agreed {
                send_window: Some(9),
                send_takeover: false,
                recv_takeover: false
            }))
        );
        // A window of 8 cannot be made by zlib: our messages go uncompressed.
        assert_eq!(
            client_agree(["permessage-deflate; client_max_window_bits=8"], true)
                .unwrap()
                .unwrap()
                .send_window,
            None
        );
        for bad in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "permessage-deflate; server_max_window_bits=20",
            "permessage-deflate; bogus",
            "permessage-deflate, permessage-deflate",
            "x-foo",
        ] {
            assert!(client_agree([bad], true).is_err(), "{bad}");
        }
        assert!(client_agree(["permessage-deflate"], false).is_err());
    }
}
