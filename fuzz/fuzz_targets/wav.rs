//! WAV (RIFF WAVE) files: chunk walk, `fmt ` and WAVE_FORMAT_EXTENSIBLE headers, and the
//! derived sizes of a file that parsed (`attendant_codec::WavFile::parse`).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Ok(wav) = codec::WavFile::parse(data) {
        let _ = (wav.frame_bytes(), wav.duration_ms());
    }
});
