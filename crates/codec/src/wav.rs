//! WAV (RIFF WAVE) reading: PCM 8/16/24/32-bit, IEEE float, µ-law and A-law, plain or
//! WAVE_FORMAT_EXTENSIBLE headers.
//!
//! The payload is kept encoded: a file is streamed through the same per-frame decode as a live
//! call. Every malformed header is a typed error that names what was wrong.

use types::{SampleRate, SampleRateError};

/// How one sample is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleFormat {
    U8,
    S16Le,
    S24Le,
    S32Le,
    F32Le,
    Ulaw,
    Alaw,
}

impl SampleFormat {
    pub const fn bytes_per_sample(self) -> usize {
        match self {
            Self::U8 | Self::Ulaw | Self::Alaw => 1,
            Self::S16Le => 2,
            Self::S24Le => 3,
            Self::S32Le | Self::F32Le => 4,
        }
    }
}

/// A WAV file's format and its still-encoded sample data (interleaved).
#[derive(Clone, Debug)]
pub struct WavFile {
    pub format: SampleFormat,
    pub rate: SampleRate,
    pub channels: u16,
    pub data: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum WavError {
    #[error("cannot read file: {0}")]
    Io(#[from] std::io::Error),
    #[error("not a WAV file: missing RIFF/WAVE header")]
    NotWav,
    #[error("truncated {what}: {actual} bytes, {expected} needed")]
    Truncated { what: &'static str, expected: usize, actual: usize },
    #[error("no `{0}` chunk")]
    MissingChunk(&'static str),
    #[error("unsupported WAV encoding: format tag {tag:#06x} with {bits} bits per sample")]
    UnsupportedEncoding { tag: u16, bits: u16 },
    #[error("unsupported channel count {0} (mono or stereo)")]
    UnsupportedChannels(u16),
    #[error(transparent)]
    SampleRate(#[from] SampleRateError),
    #[error("header says {header} bytes per frame, {expected} expected for {channels} channel(s) of {bits} bits")]
    BlockAlign { header: u16, expected: usize, channels: u16, bits: u16 },
}

const TAG_PCM: u16 = 0x0001;
const TAG_FLOAT: u16 = 0x0003;
const TAG_ALAW: u16 = 0x0006;
const TAG_ULAW: u16 = 0x0007;
const TAG_EXTENSIBLE: u16 = 0xfffe;

impl WavFile {
    pub fn open(path: &std::path::Path) -> Result<Self, WavError> {
        Self::parse(&std::fs::read(path)?)
    }

    /// Parses a whole WAV file held in memory.
    pub fn parse(bytes: &[u8]) -> Result<Self, WavError> {
        if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
            return Err(WavError::NotWav);
        }
        let mut fmt: Option<&[u8]> = None;
        let mut data: Option<&[u8]> = None;
        let mut pos = 12;
        while pos + 8 <= bytes.len() {
            let id = &bytes[pos..pos + 4];
            let len = u32::from_le_bytes([bytes[pos + 4], bytes[pos + 5], bytes[pos + 6], bytes[pos + 7]]) as usize;
            let body_start = pos + 8;
            let available = bytes.len() - body_start;
            match id {
                b"fmt " => {
                    if len > available {
                        return Err(WavError::Truncated { what: "fmt chunk", expected: len, actual: available });
                    }
                    fmt = Some(&bytes[body_start..body_start + len]);
                }
                b"data" => {
                    // Streaming writers leave the length at 0 or 0xffffffff; a cut-off recording
                    // is still worth transcribing, so take what is there.
                    let len = if len == 0 || len > available { available } else { len };
                    data = Some(&bytes[body_start..body_start + len]);
                }
                _ => {}
            }
            // Chunks are padded to even length (RIFF).
            pos = body_start.saturating_add(len).saturating_add(len & 1);
        }
        let fmt = fmt.ok_or(WavError::MissingChunk("fmt "))?;
        let data = data.ok_or(WavError::MissingChunk("data"))?;
        if fmt.len() < 16 {
            return Err(WavError::Truncated { what: "fmt chunk", expected: 16, actual: fmt.len() });
        }
        let u16_at = |i: usize| u16::from_le_bytes([fmt[i], fmt[i + 1]]);
        let mut tag = u16_at(0);
        let channels = u16_at(2);
        let hz = u32::from_le_bytes([fmt[4], fmt[5], fmt[6], fmt[7]]);
        let block_align = u16_at(12);
        let bits = u16_at(14);
        if tag == TAG_EXTENSIBLE {
            // cbSize(2) validBits(2) channelMask(4) then the sub-format GUID, whose first two
            // bytes are the plain format tag.
            if fmt.len() < 26 {
                return Err(WavError::Truncated { what: "WAVE_FORMAT_EXTENSIBLE header", expected: 26, actual: fmt.len() });
            }
            tag = u16_at(24);
        }
        let format = match (tag, bits) {
            (TAG_PCM, 8) => SampleFormat::U8,
            (TAG_PCM, 16) => SampleFormat::S16Le,
            (TAG_PCM, 24) => SampleFormat::S24Le,
            (TAG_PCM, 32) => SampleFormat::S32Le,
            (TAG_FLOAT, 32) => SampleFormat::F32Le,
            (TAG_ULAW, 8) => SampleFormat::Ulaw,
            (TAG_ALAW, 8) => SampleFormat::Alaw,
            _ => return Err(WavError::UnsupportedEncoding { tag, bits }),
        };
        if !(1..=2).contains(&channels) {
            return Err(WavError::UnsupportedChannels(channels));
        }
        let rate = SampleRate::new(hz)?;
        let expected = format.bytes_per_sample() * usize::from(channels);
        if usize::from(block_align) != expected {
            return Err(WavError::BlockAlign { header: block_align, expected, channels, bits });
        }
        Ok(Self { format, rate, channels, data: data.to_vec() })
    }

    /// Bytes of one 20 ms frame, all channels.
    pub fn frame_bytes(&self) -> usize {
        self.rate.frame_samples() * usize::from(self.channels) * self.format.bytes_per_sample()
    }

    /// Duration of the audio, in milliseconds.
    pub fn duration_ms(&self) -> u64 {
        let frames = self.data.len() / (self.format.bytes_per_sample() * usize::from(self.channels));
        frames as u64 * 1000 / u64::from(self.rate.hz())
    }
}

/// Writes 16-bit mono PCM as a WAV file image (for tools and tests).
pub fn write_pcm16(rate: SampleRate, samples: &[i16]) -> Vec<u8> {
    let data_len = samples.len() * 2;
    let mut out = Vec::with_capacity(44 + data_len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&((36 + data_len) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&TAG_PCM.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes());
    out.extend_from_slice(&rate.hz().to_le_bytes());
    out.extend_from_slice(&(rate.hz() * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&16u16.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data_len as u32).to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_it_writes() {
        let img = write_pcm16(SampleRate::HZ_8000, &[1, -2, 3]);
        let w = WavFile::parse(&img).unwrap();
        assert_eq!((w.format, w.rate, w.channels, w.data.len()), (SampleFormat::S16Le, SampleRate::HZ_8000, 1, 6));
        assert_eq!(w.frame_bytes(), 320);
    }

    #[test]
    fn rejects_garbage_with_specific_errors() {
        assert!(matches!(WavFile::parse(b"hello"), Err(WavError::NotWav)));
        let mut img = write_pcm16(SampleRate::HZ_16000, &[0; 4]);
        img[22] = 6; // six channels
        assert!(matches!(WavFile::parse(&img), Err(WavError::UnsupportedChannels(6))));
        let mut img = write_pcm16(SampleRate::HZ_16000, &[0; 4]);
        img[24..28].copy_from_slice(&22_050u32.to_le_bytes());
        let e = WavFile::parse(&img).unwrap_err();
        assert!(e.to_string().contains("22050"), "{e}");
        let mut img = write_pcm16(SampleRate::HZ_16000, &[0; 4]);
        img[20] = 0x55; // MPEG layer 3
        assert!(matches!(WavFile::parse(&img), Err(WavError::UnsupportedEncoding { tag: 0x55, bits: 16 })));
        let img = write_pcm16(SampleRate::HZ_16000, &[0; 4]);
        assert!(matches!(WavFile::parse(&img[..30]), Err(WavError::Truncated { .. }) | Err(WavError::MissingChunk(_))));
    }

    #[test]
    fn every_prefix_of_a_file_is_handled_without_panic() {
        let img = write_pcm16(SampleRate::HZ_16000, &[7; 100]);
        for n in 0..img.len() {
            let _ = WavFile::parse(&img[..n]);
        }
    }

    #[test]
    fn extensible_header_uses_sub_format() {
        let mut img = write_pcm16(SampleRate::HZ_16000, &[0; 4]);
        // Turn the 16-byte fmt chunk into a 40-byte extensible one.
        let data = img.split_off(36);
        img[16..20].copy_from_slice(&40u32.to_le_bytes());
        img[20..22].copy_from_slice(&TAG_EXTENSIBLE.to_le_bytes());
        img.extend_from_slice(&22u16.to_le_bytes()); // cbSize
        img.extend_from_slice(&16u16.to_le_bytes()); // valid bits
        img.extend_from_slice(&4u32.to_le_bytes()); // channel mask
        img.extend_from_slice(&TAG_PCM.to_le_bytes());
        img.extend_from_slice(&[0u8; 14]); // rest of the GUID
        img.extend_from_slice(&data);
        assert_eq!(WavFile::parse(&img).unwrap().format, SampleFormat::S16Le);
    }
}
