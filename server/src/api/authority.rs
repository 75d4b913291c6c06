//! Accepting HTTP/2 requests whose `:authority` is a URL.
//!
//! etcdctl 3.4 dials some endpoints (`endpoint status --cluster`, `endpoint hashkv
//! --cluster`) with the whole client URL as the target, so its requests carry
//! `:authority: http://host:port`. etcd's gRPC server takes that; the HTTP/2 server
//! ectd uses resets such streams as malformed. [`AuthorityFix`] sits under it on the
//! read side of each connection and looks at the first request's header block: a
//! client that sends a plain authority (every other client) has its connection
//! passed through untouched from then on, at no further cost. A client that sends a
//! URL gets every header block of that connection decoded, its authority reduced to
//! `host:port`, and re-encoded (the server then sees only this encoder's header
//! compression, so both sides' tables stay in step). Other frames and non-HTTP/2
//! connections pass through untouched.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
const FRAME_HEADER: usize = 9;
const HEADERS: u8 = 0x1;
const CONTINUATION: u8 = 0x9;
const END_STREAM: u8 = 0x1;
const END_HEADERS: u8 = 0x4;
const PADDED: u8 = 0x8;
const PRIORITY: u8 = 0x20;
/// The largest frame every HTTP/2 peer must accept.
const MAX_FRAME: usize = 16_384;
/// A header block larger than this is refused rather than buffered.
const MAX_BLOCK: usize = 1 << 20;
/// The HPACK dynamic table size the server advertises (HTTP/2's default, which it
/// keeps); a client asking for a larger table is refused, so the decoder here never
/// holds more than this.
const HPACK_TABLE: usize = 4096;

enum Mode {
    /// Not yet known whether the connection speaks HTTP/2 with prior knowledge.
    Detect,
    /// HTTP/2, before the first request's header block has been seen.
    H2,
    /// HTTP/2 from a client that sends URL authorities: header blocks are rewritten.
    H2Rewrite,
    /// Anything else: bytes pass through.
    Plain,
}

/// A header block being collected across HEADERS and CONTINUATION frames.
struct Pending {
    stream: u32,
    end_stream: bool,
    block: Vec<u8>,
    /// The frames as received, in case the block goes through unchanged.
    raw: Vec<u8>,
}

/// The read side of a client connection, with URL authorities made plain.
pub struct AuthorityFix<R, W> {
    read: R,
    write: W,
    mode: Mode,
    input: BytesMut,
    output: BytesMut,
    pending: Option<Pending>,
    decoder: loona_hpack::Decoder<'static>,
    encoder: loona_hpack::Encoder<'static>,
    eof: bool,
}

impl<R, W> AuthorityFix<R, W> {
    /// Wraps a connection's read and write halves.
    pub fn new(read: R, write: W) -> Self {
        AuthorityFix {
            read,
            write,
            mode: Mode::Detect,
            input: BytesMut::with_capacity(16 * 1024),
            output: BytesMut::with_capacity(16 * 1024),
            pending: None,
            decoder: {
                let mut d = loona_hpack::Decoder::new();
                d.set_max_allowed_table_size(HPACK_TABLE);
                d
            },
            encoder: loona_hpack::Encoder::new(),
            eof: false,
        }
    }

    /// Moves whatever is complete from `input` to `output`.
    fn process(&mut self) -> io::Result<()> {
        loop {
            match self.mode {
                Mode::Detect => {
                    let n = self.input.len().min(PREFACE.len());
                    if self.input[..n] != PREFACE[..n] {
                        self.mode = Mode::Plain;
                    } else if n == PREFACE.len() {
                        self.output.put(self.input.split_to(n));
                        self.mode = Mode::H2;
                    } else {
                        return Ok(());
                    }
                }
                Mode::Plain => {
                    if self.pending.is_none() {
                        let all = self.input.split();
                        self.output.put(all);
                    }
                    return Ok(());
                }
                Mode::H2 | Mode::H2Rewrite => {
                    if self.input.len() < FRAME_HEADER {
                        return Ok(());
                    }
                    let len = u32::from_be_bytes([0, self.input[0], self.input[1], self.input[2]])
                        as usize;
                    // The server never raises the frame size above HTTP/2's default,
                    // so a larger frame is an error whatever follows; refusing it here
                    // keeps what this buffers to one frame of that size.
                    if len > MAX_FRAME {
                        return Err(io::Error::new(
                            io::ErrorKind::InvalidData,
                            "http2: frame larger than the maximum frame size",
                        ));
                    }
                    if self.input.len() < FRAME_HEADER + len {
                        return Ok(());
                    }
                    let ty = self.input[3];
                    if ty != HEADERS && ty != CONTINUATION && self.pending.is_none() {
                        let frame = self.input.split_to(FRAME_HEADER + len);
                        self.output.put(frame);
                        continue;
                    }
                    let mut frame = self.input.split_to(FRAME_HEADER + len);
                    let flags = frame[4];
                    let stream =
                        u32::from_be_bytes([frame[5], frame[6], frame[7], frame[8]]) & 0x7fff_ffff;
                    let raw = frame.clone();
                    frame.advance(FRAME_HEADER);
                    self.header_frame(ty, flags, stream, frame, &raw)?;
                }
            }
        }
    }

    fn header_frame(
        &mut self,
        ty: u8,
        flags: u8,
        stream: u32,
        mut payload: BytesMut,
        raw: &[u8],
    ) -> io::Result<()> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("http2: {what}"));
        match (ty, &mut self.pending) {
            (HEADERS, None) => {
                if payload.len() > MAX_BLOCK {
                    return Err(bad("header block too large"));
                }
                let mut pad = 0;
                if flags & PADDED != 0 {
                    if payload.is_empty() {
                        return Err(bad("padded frame without pad length"));
                    }
                    pad = payload[0] as usize;
                    payload.advance(1);
                }
                if flags & PRIORITY != 0 {
                    if payload.len() < 5 {
                        return Err(bad("priority fields cut short"));
                    }
                    payload.advance(5);
                }
                if pad > payload.len() {
                    return Err(bad("padding longer than the frame"));
                }
                payload.truncate(payload.len() - pad);
                self.pending = Some(Pending {
                    stream,
                    end_stream: flags & END_STREAM != 0,
                    block: payload.to_vec(),
                    raw: raw.to_vec(),
                });
            }
            (CONTINUATION, Some(p)) if p.stream == stream => {
                if p.block.len() + payload.len() > MAX_BLOCK {
                    return Err(bad("header block too large"));
                }
                p.block.extend_from_slice(&payload);
                p.raw.extend_from_slice(raw);
            }
            _ => return Err(bad("header block interleaved with other frames")),
        }
        if flags & END_HEADERS != 0 {
            let p = self.pending.take().expect("a header block is pending");
            self.emit_block(p)?;
        }
        Ok(())
    }

    fn emit_block(&mut self, p: Pending) -> io::Result<()> {
        let mut headers = self.decoder.decode(&p.block).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("http2: header block: {e:?}"),
            )
        })?;
        let mut rewrote = false;
        for (name, value) in &mut headers {
            if name.as_slice() == b":authority" {
                if let Some(plain) = plain_authority(value) {
                    *value = plain;
                    rewrote = true;
                }
            }
        }
        if matches!(self.mode, Mode::H2) {
            if !rewrote {
                // The usual case: this client's authorities need nothing.
                self.output.put_slice(&p.raw);
                self.mode = Mode::Plain;
                return Ok(());
            }
            self.mode = Mode::H2Rewrite;
        }
        let block = self
            .encoder
            .encode(headers.iter().map(|(n, v)| (n.as_slice(), v.as_slice())));
        let chunks: Vec<&[u8]> = if block.is_empty() {
            vec![&[]]
        } else {
            block.chunks(MAX_FRAME).collect()
        };
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.into_iter().enumerate() {
            let ty = if i == 0 { HEADERS } else { CONTINUATION };
            let mut flags = 0;
            if i == 0 && p.end_stream {
                flags |= END_STREAM;
            }
            if i == last {
                flags |= END_HEADERS;
            }
            let len = chunk.len() as u32;
            self.output.put_slice(&len.to_be_bytes()[1..]);
            self.output.put_u8(ty);
            self.output.put_u8(flags);
            self.output.put_u32(p.stream);
            self.output.put_slice(chunk);
        }
        Ok(())
    }
}

/// `host:port` of an authority written as a URL (`scheme://host:port[/...]`).
fn plain_authority(value: &[u8]) -> Option<Vec<u8>> {
    let s = std::str::from_utf8(value).ok()?;
    let (_, rest) = s.split_once("://")?;
    let host = rest.split('/').next().unwrap_or(rest);
    Some(host.as_bytes().to_vec())
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for AuthorityFix<R, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if matches!(this.mode, Mode::Plain) && this.output.is_empty() && this.input.is_empty() {
                // Nothing to look at any more: read straight into the caller's buffer.
                return Pin::new(&mut this.read).poll_read(cx, buf);
            }
            if !this.output.is_empty() {
                let n = this.output.len().min(buf.remaining());
                buf.put_slice(&this.output.split_to(n));
                return Poll::Ready(Ok(()));
            }
            if this.eof {
                // Whatever is left cannot form a frame; hand it over as it is.
                let rest = this.input.split();
                if rest.is_empty() {
                    return Poll::Ready(Ok(()));
                }
                this.output.put(rest);
                continue;
            }
            let mut chunk = [0u8; 16 * 1024];
            let mut rb = ReadBuf::new(&mut chunk);
            match Pin::new(&mut this.read).poll_read(cx, &mut rb) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    if rb.filled().is_empty() {
                        this.eof = true;
                    } else {
                        this.input.put_slice(rb.filled());
                        if let Err(e) = this.process() {
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
        }
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for AuthorityFix<R, W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.write).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.write).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.write.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.write).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.write).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn frame(ty: u8, flags: u8, stream: u32, payload: &[u8]) -> Vec<u8> {
        let mut out = (payload.len() as u32).to_be_bytes()[1..].to_vec();
        out.push(ty);
        out.push(flags);
        out.extend_from_slice(&stream.to_be_bytes());
        out.extend_from_slice(payload);
        out
    }

    async fn run(input: Vec<u8>) -> Vec<u8> {
        let mut fix = AuthorityFix::new(&input[..], tokio::io::sink());
        let mut out = Vec::new();
        fix.read_to_end(&mut out).await.unwrap();
        out
    }

    fn headers_of(out: &[u8]) -> Vec<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut dec = loona_hpack::Decoder::new();
        let mut rest = &out[PREFACE.len()..];
        let mut blocks = Vec::new();
        while rest.len() >= FRAME_HEADER {
            let len = u32::from_be_bytes([0, rest[0], rest[1], rest[2]]) as usize;
            if rest[3] == HEADERS {
                blocks.push(dec.decode(&rest[FRAME_HEADER..FRAME_HEADER + len]).unwrap());
            }
            rest = &rest[FRAME_HEADER + len..];
        }
        blocks
    }

    #[tokio::test]
    async fn url_authority_becomes_host_port_and_other_frames_pass() {
        let mut enc = loona_hpack::Encoder::new();
        let h1: Vec<(&[u8], &[u8])> = vec![
            (b":method", b"POST"),
            (b":path", b"/etcdserverpb.Maintenance/Status"),
            (b":authority", b"http://127.0.0.1:2379"),
        ];
        let mut input = PREFACE.to_vec();
        input.extend(frame(0x4, 0, 0, &[])); // SETTINGS
        input.extend(frame(HEADERS, END_HEADERS, 1, &enc.encode(h1.clone())));
        input.extend(frame(0x0, END_STREAM, 1, b"data")); // DATA
                                                          // The second request reuses the client's dynamic table.
        input.extend(frame(HEADERS, END_HEADERS, 3, &enc.encode(h1)));
        let out = run(input).await;
        let blocks = headers_of(&out);
        assert_eq!(blocks.len(), 2);
        for b in blocks {
            let auth = b.iter().find(|(n, _)| n == b":authority").unwrap();
            assert_eq!(auth.1, b"127.0.0.1:2379");
        }
        assert!(out.windows(4).any(|w| w == b"data"));
    }

    #[tokio::test]
    async fn plain_authority_connections_pass_untouched() {
        let mut enc = loona_hpack::Encoder::new();
        let h: Vec<(&[u8], &[u8])> =
            vec![(b":method", b"POST"), (b":authority", b"127.0.0.1:2379")];
        let mut input = PREFACE.to_vec();
        input.extend(frame(0x4, 0, 0, &[]));
        input.extend(frame(HEADERS, END_HEADERS | PADDED, 1, &{
            let mut p = vec![2];
            p.extend(enc.encode(h.clone()));
            p.extend([0, 0]);
            p
        }));
        input.extend(frame(HEADERS, END_HEADERS, 3, &enc.encode(h)));
        assert_eq!(run(input.clone()).await, input);
    }

    async fn refused(input: Vec<u8>) -> io::Error {
        let mut fix = AuthorityFix::new(&input[..], tokio::io::sink());
        let mut out = Vec::new();
        fix.read_to_end(&mut out).await.unwrap_err()
    }

    #[tokio::test]
    async fn oversized_frames_and_tables_are_refused_not_buffered() {
        // A frame declaring 16 MiB is refused from its header alone.
        let mut input = PREFACE.to_vec();
        input.extend_from_slice(&[0xff, 0xff, 0xff, 0x0, 0, 0, 0, 0, 0]);
        input.extend_from_slice(&[0u8; 64]);
        let e = refused(input).await;
        assert!(e.to_string().contains("frame larger"), "{e}");
        // A header block grown past the bound through CONTINUATION frames.
        let mut input = PREFACE.to_vec();
        input.extend(frame(HEADERS, 0, 1, &[0x82]));
        for _ in 0..=(MAX_BLOCK / MAX_FRAME) {
            input.extend(frame(CONTINUATION, 0, 1, &[0u8; MAX_FRAME]));
        }
        let e = refused(input).await;
        assert!(e.to_string().contains("too large"), "{e}");
        // A dynamic table size update past what the server advertises.
        let mut input = PREFACE.to_vec();
        // Size update to 2^20 (0x3f prefix, then the rest in 7-bit groups), then
        // an indexed :method GET.
        input.extend(frame(
            HEADERS,
            END_HEADERS,
            1,
            &[0x3f, 0xe1, 0xff, 0x3f, 0x82],
        ));
        let e = refused(input).await;
        assert!(e.to_string().contains("header block"), "{e}");
    }

    #[tokio::test]
    async fn http1_passes_untouched() {
        let req = b"GET /version HTTP/1.1\r\nHost: http://x\r\n\r\n".to_vec();
        assert_eq!(run(req.clone()).await, req);
    }

    #[test]
    fn plain_authority_forms() {
        assert_eq!(plain_authority(b"http://h:1"), Some(b"h:1".to_vec()));
        assert_eq!(plain_authority(b"https://h:1/x"), Some(b"h:1".to_vec()));
        assert_eq!(plain_authority(b"h:1"), None);
    }
}
