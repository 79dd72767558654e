//! Kafka's framing: every request and response is a 4-byte big-endian length, then that
//! many bytes. A broker refuses frames over `socket.request.max.bytes` (104857600) and
//! closes the connection, as it does for a negative length.
//!
//! The length prefix belongs to the transport, not to the protocol layer: the front end
//! takes and gives frames without it, [`FrameDecoder`] strips it from what a socket
//! receives, and [`length_prefix`] is what a socket writes before each response.
//!
//! The decoder never allocates for bytes that have not arrived: a length prefix is a
//! promise, not a payment, and a client that announces 100 MB and sends nothing must not
//! cost 100 MB. It asks for at most [`READ_CHUNK_BYTES`] more at a time.

use bytes::{Buf, Bytes, BytesMut};

/// Kafka's default `socket.request.max.bytes`.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 104_857_600;

/// The most a connection's buffer grows by before those bytes have arrived.
pub const READ_CHUNK_BYTES: usize = 1 << 20;

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("frame of {size} bytes is larger than socket.request.max.bytes ({max})")]
    TooLarge { size: i64, max: usize },
    #[error("negative frame length {0}")]
    NegativeLength(i32),
}

/// The 4 bytes a socket writes before a frame of `len` bytes.
pub fn length_prefix(len: usize) -> Result<[u8; 4], FrameError> {
    i32::try_from(len)
        .map(i32::to_be_bytes)
        .map_err(|_| FrameError::TooLarge {
            size: i64::try_from(len).unwrap_or(i64::MAX),
            max: i32::MAX as usize,
        })
}

/// Cuts a byte stream into frames.
#[derive(Debug)]
pub struct FrameDecoder {
    max_frame_bytes: usize,
    buf: BytesMut,
}

impl FrameDecoder {
    pub fn new(max_frame_bytes: usize) -> Self {
        Self {
            max_frame_bytes,
            buf: BytesMut::new(),
        }
    }

    /// The buffer to read the socket into.
    pub fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// How many more bytes to read now: what the current frame still lacks (its length
    /// prefix first), at most [`READ_CHUNK_BYTES`]. The buffer has room for them.
    pub fn want(&mut self) -> usize {
        let missing = if self.buf.len() < 4 {
            4 - self.buf.len()
        } else {
            let len = u32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
            (4 + len as usize).saturating_sub(self.buf.len()).max(1)
        };
        let want = missing.min(READ_CHUNK_BYTES);
        self.buf.reserve(want);
        want
    }

    /// Bytes received and not yet handed out as frames.
    pub fn buffered(&self) -> usize {
        self.buf.len()
    }

    /// The next whole frame (without its length), if one has arrived.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if self.buf.len() < 4 {
            return Ok(None);
        }
        let len = i32::from_be_bytes([self.buf[0], self.buf[1], self.buf[2], self.buf[3]]);
        if len < 0 {
            return Err(FrameError::NegativeLength(len));
        }
        let len = len as usize;
        if len > self.max_frame_bytes {
            return Err(FrameError::TooLarge {
                size: len as i64,
                max: self.max_frame_bytes,
            });
        }
        if self.buf.len() < 4 + len {
            return Ok(None);
        }
        self.buf.advance(4);
        Ok(Some(self.buf.split_to(len).freeze()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_come_out_whole_and_in_order() {
        let mut d = FrameDecoder::new(100);
        d.buffer()
            .extend_from_slice(&[0, 0, 0, 2, b'a', b'b', 0, 0, 0, 1]);
        assert_eq!(d.next_frame(), Ok(Some(Bytes::from_static(b"ab"))));
        assert_eq!(d.next_frame(), Ok(None));
        d.buffer().extend_from_slice(b"c");
        assert_eq!(d.next_frame(), Ok(Some(Bytes::from_static(b"c"))));
    }

    #[test]
    fn a_promised_length_costs_nothing_until_its_bytes_arrive() {
        let mut d = FrameDecoder::new(DEFAULT_MAX_FRAME_BYTES);
        d.buffer().extend_from_slice(&100_000_000i32.to_be_bytes());
        assert_eq!(d.next_frame(), Ok(None));
        assert_eq!(d.want(), READ_CHUNK_BYTES, "one chunk at a time");
        assert!(d.buffer().capacity() < 2 * READ_CHUNK_BYTES);
    }

    #[test]
    fn a_length_prefix_decodes_back_to_its_frame() {
        let mut d = FrameDecoder::new(100);
        d.buffer()
            .extend_from_slice(&length_prefix(3).expect("small"));
        d.buffer().extend_from_slice(b"xyz");
        assert_eq!(d.next_frame(), Ok(Some(Bytes::from_static(b"xyz"))));
        assert!(length_prefix(usize::MAX).is_err());
    }

    #[test]
    fn bad_lengths_are_errors() {
        let mut d = FrameDecoder::new(100);
        d.buffer().extend_from_slice(&(-1i32).to_be_bytes());
        assert_eq!(d.next_frame(), Err(FrameError::NegativeLength(-1)));
        let mut d = FrameDecoder::new(100);
        d.buffer().extend_from_slice(&101i32.to_be_bytes());
        assert!(matches!(d.next_frame(), Err(FrameError::TooLarge { .. })));
    }
}
