//! The espeak-ng C API, opened at run time.
//!
//! The library is loaded with `dlopen` (libloading) instead of linked, so that building the
//! workspace never needs espeak-ng installed and a machine without it gets
//! [`EngineUnavailable::LibraryNotFound`] from [`Api::load`] instead of a process that cannot
//! start. The declarations are written by hand from `/usr/include/espeak-ng/speak_lib.h` and
//! `espeak_ng.h` (espeak-ng 1.51, Debian bookworm); only the calls the prompt renderer makes are
//! declared.
//!
//! Nothing here is thread-safe: espeak-ng keeps one global synthesizer. Every method on [`Api`]
//! must be called with the engine lock held (see `espeak.rs`), which is why they are `pub(crate)`
//! and documented as such.
#![allow(unsafe_code)]

use std::cell::RefCell;
use std::ffi::{c_char, c_int, c_short, c_uint, c_void, CStr, CString};

use crate::EngineUnavailable;

/// `espeak_AUDIO_OUTPUT`/`espeak_ng_OUTPUT_MODE`: samples come back through the callback and
/// `espeak_Synth` returns only when synthesis is complete, on the calling thread.
const ENOUTPUT_MODE_SYNCHRONOUS: c_int = 0x0001;
/// `espeak_PARAMETER::espeakRATE`, words per minute.
const ESPEAK_RATE: c_int = 1;
/// `espeak_POSITION_TYPE::POS_CHARACTER`.
const POS_CHARACTER: c_int = 1;
/// `espeakCHARS_UTF8`; no `espeakSSML`, `espeakPHONEMES` or `espeakENDPAUSE`: prompt text is
/// plain text, and a trailing sentence pause would only add silence to every prompt.
const ESPEAK_CHARS_UTF8: c_uint = 1;
/// Length in ms of the buffers handed to the callback (the library's default is 60).
const CALLBACK_BUFFER_MS: c_int = 100;

/// Sonames tried in order: the runtime package (`libespeak-ng1`) ships only the versioned one.
const LIBRARY_NAMES: [&str; 2] = ["libespeak-ng.so.1", "libespeak-ng.so"];

type SynthCallback = unsafe extern "C" fn(wav: *mut c_short, numsamples: c_int, events: *mut c_void) -> c_int;

/// Function pointers into the loaded library. The `Library` is kept beside them, so they stay
/// valid as long as the `Api` lives (it lives in a process-wide static and is never dropped).
pub(crate) struct Api {
    initialize_path: unsafe extern "C" fn(path: *const c_char),
    initialize: unsafe extern "C" fn(context: *mut *mut c_void) -> c_int,
    clear_error_context: unsafe extern "C" fn(context: *mut *mut c_void),
    initialize_output: unsafe extern "C" fn(mode: c_int, buffer_length: c_int, device: *const c_char) -> c_int,
    get_sample_rate: unsafe extern "C" fn() -> c_int,
    status_message: unsafe extern "C" fn(status: c_int, buffer: *mut c_char, length: usize),
    set_synth_callback: unsafe extern "C" fn(callback: Option<SynthCallback>),
    set_voice_by_name: unsafe extern "C" fn(name: *const c_char) -> c_int,
    set_parameter: unsafe extern "C" fn(parameter: c_int, value: c_int, relative: c_int) -> c_int,
    #[allow(clippy::type_complexity)]
    synth: unsafe extern "C" fn(
        text: *const c_void,
        size: usize,
        position: c_uint,
        position_type: c_int,
        end_position: c_uint,
        flags: c_uint,
        unique_identifier: *mut c_uint,
        user_data: *mut c_void,
    ) -> c_int,
    _library: libloading::Library,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").finish_non_exhaustive()
    }
}

/// How a synthesis call ended, short of success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SynthFailure {
    /// `espeak_Synth` returned this `espeak_ERROR` code.
    Status(c_int),
    /// The callback stopped synthesis because the output passed the sample limit.
    TooLong,
}

thread_local! {
    /// Where the callback puts samples. espeak-ng calls the callback on the thread that called
    /// `espeak_Synth` (synchronous mode), so a thread-local reaches it without passing a Rust
    /// pointer through C's `user_data`. `None` outside a synthesis call.
    static SINK: RefCell<Option<Sink>> = const { RefCell::new(None) };
}

struct Sink {
    samples: Vec<i16>,
    limit: usize,
    overflowed: bool,
}

/// The synthesis callback: copies each buffer into [`SINK`]. Returns 1 (abort) past the sample
/// limit or if no sink is installed, which only a call from outside [`Api::synthesize`] could
/// cause. It must not panic: a panic cannot unwind into C.
unsafe extern "C" fn collect_samples(wav: *mut c_short, numsamples: c_int, _events: *mut c_void) -> c_int {
    // A NULL buffer marks the end of synthesis; zero-length buffers are allowed and mean nothing.
    let Ok(n) = usize::try_from(numsamples) else { return 0 };
    if wav.is_null() || n == 0 {
        return 0;
    }
    // SAFETY: espeak-ng passes `numsamples` valid 16-bit samples at `wav`, alive for this call;
    // the slice does not outlive it.
    let chunk = unsafe { std::slice::from_raw_parts(wav.cast_const(), n) };
    SINK.with(|sink| {
        let Ok(mut sink) = sink.try_borrow_mut() else { return 1 };
        let Some(sink) = sink.as_mut() else { return 1 };
        if sink.samples.len() + chunk.len() > sink.limit {
            sink.overflowed = true;
            return 1;
        }
        sink.samples.extend_from_slice(chunk);
        0
    })
}

/// Looks up `name` in `library` as a value of type `T`.
///
/// # Safety
/// `T` must be the function pointer type matching the C declaration of `name`.
unsafe fn symbol<T: Copy>(library: &libloading::Library, name: &'static str) -> Result<T, EngineUnavailable> {
    // SAFETY: forwarded to the caller (the type matches the C declaration).
    let sym = unsafe { library.get::<T>(name) }
        .map_err(|e| EngineUnavailable::MissingSymbol { name, reason: e.to_string() })?;
    Ok(*sym)
}

impl Api {
    /// Opens the shared library and resolves every function used.
    pub(crate) fn load() -> Result<Self, EngineUnavailable> {
        Self::load_from(&LIBRARY_NAMES)
    }

    fn load_from(names: &[&str]) -> Result<Self, EngineUnavailable> {
        let mut reasons = Vec::new();
        for &name in names {
            // SAFETY: loading runs the library's initializers; libespeak-ng's only set up its own
            // static data and have no preconditions on the host process.
            match unsafe { libloading::Library::new(name) } {
                Ok(library) => return Self::resolve(library),
                Err(e) => reasons.push(format!("{name}: {e}")),
            }
        }
        Err(EngineUnavailable::LibraryNotFound { reason: reasons.join("; ") })
    }

    fn resolve(library: libloading::Library) -> Result<Self, EngineUnavailable> {
        // SAFETY: each type below is transcribed from the declaration of the same name in
        // speak_lib.h / espeak_ng.h (enums are C `int`s, `espeak_EVENT*` is only passed through).
        unsafe {
            Ok(Self {
                initialize_path: symbol(&library, "espeak_ng_InitializePath")?,
                initialize: symbol(&library, "espeak_ng_Initialize")?,
                clear_error_context: symbol(&library, "espeak_ng_ClearErrorContext")?,
                initialize_output: symbol(&library, "espeak_ng_InitializeOutput")?,
                get_sample_rate: symbol(&library, "espeak_ng_GetSampleRate")?,
                status_message: symbol(&library, "espeak_ng_GetStatusCodeMessage")?,
                set_synth_callback: symbol(&library, "espeak_SetSynthCallback")?,
                set_voice_by_name: symbol(&library, "espeak_SetVoiceByName")?,
                set_parameter: symbol(&library, "espeak_SetParameter")?,
                synth: symbol(&library, "espeak_Synth")?,
                _library: library,
            })
        }
    }

    /// Loads the phoneme data and sets up synchronous output with our callback; returns the
    /// output sample rate in Hz. Engine lock held; called once per process.
    ///
    /// This is what `espeak_Initialize` does, spelled out: `espeak_Initialize` either calls
    /// `exit(1)` when the data directory is missing or, with `espeakINITIALIZE_DONT_EXIT`,
    /// reports success anyway. The `espeak_ng_*` calls return the status instead.
    pub(crate) fn initialize(&self, data_path: Option<&CStr>) -> Result<u32, EngineUnavailable> {
        let path = data_path.map_or(std::ptr::null(), CStr::as_ptr);
        let mut context: *mut c_void = std::ptr::null_mut();
        // SAFETY: `path` is NULL or a NUL-terminated string alive for the call (espeak-ng copies
        // it); `context` is a valid out-pointer, released below with ClearErrorContext.
        let status = unsafe {
            (self.initialize_path)(path);
            let status = (self.initialize)(&mut context);
            (self.clear_error_context)(&mut context);
            status
        };
        if status != 0 {
            return Err(EngineUnavailable::Init { step: "espeak_ng_Initialize", message: self.message(status) });
        }
        // SAFETY: plain value arguments; the device is NULL (no audio device in synchronous mode);
        // the callback is a function with the declared signature that lives for the whole program.
        let (status, rate) = unsafe {
            let status = (self.initialize_output)(ENOUTPUT_MODE_SYNCHRONOUS, CALLBACK_BUFFER_MS, std::ptr::null());
            (self.set_synth_callback)(Some(collect_samples));
            (status, (self.get_sample_rate)())
        };
        if status != 0 {
            return Err(EngineUnavailable::Init { step: "espeak_ng_InitializeOutput", message: self.message(status) });
        }
        u32::try_from(rate).ok().filter(|r| *r > 0).ok_or(EngineUnavailable::Init {
            step: "espeak_ng_GetSampleRate",
            message: format!("returned {rate}"),
        })
    }

    /// Selects a voice; returns the `espeak_ERROR` code on failure (2 = not found). Engine lock
    /// held.
    pub(crate) fn set_voice(&self, name: &CStr) -> Result<(), c_int> {
        // SAFETY: NUL-terminated string alive for the call; espeak-ng copies what it keeps.
        match unsafe { (self.set_voice_by_name)(name.as_ptr()) } {
            0 => Ok(()),
            e => Err(e),
        }
    }

    /// Sets the speaking rate in words per minute. Engine lock held.
    pub(crate) fn set_rate(&self, wpm: c_int) -> Result<(), c_int> {
        // SAFETY: plain value arguments.
        match unsafe { (self.set_parameter)(ESPEAK_RATE, wpm, 0) } {
            0 => Ok(()),
            e => Err(e),
        }
    }

    /// Synthesizes `text` and returns the 16-bit samples at the rate [`Api::initialize`]
    /// returned, at most `limit` of them. Engine lock held.
    pub(crate) fn synthesize(&self, text: &CStr, limit: usize) -> Result<Vec<i16>, SynthFailure> {
        SINK.with(|s| *s.borrow_mut() = Some(Sink { samples: Vec::new(), limit, overflowed: false }));
        let bytes = text.to_bytes_with_nul();
        // SAFETY: `text` is NUL-terminated UTF-8 (espeakCHARS_UTF8) alive for the call, `size`
        // covers it including the NUL; the unique-id out-pointer and user_data may be NULL. In
        // synchronous mode the call returns only after the last callback, so the sink installed
        // above is complete when it is taken below.
        let status = unsafe {
            (self.synth)(
                bytes.as_ptr().cast(),
                bytes.len(),
                0,
                POS_CHARACTER,
                0,
                ESPEAK_CHARS_UTF8,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            )
        };
        let sink = SINK.with(|s| s.borrow_mut().take());
        let Some(sink) = sink else { return Err(SynthFailure::Status(status)) };
        if sink.overflowed {
            return Err(SynthFailure::TooLong);
        }
        if status != 0 {
            return Err(SynthFailure::Status(status));
        }
        Ok(sink.samples)
    }

    /// espeak-ng's text for a status code.
    fn message(&self, status: c_int) -> String {
        let mut buf = [0 as c_char; 512];
        // SAFETY: the buffer and its length match; espeak-ng NUL-terminates within `length`.
        unsafe { (self.status_message)(status, buf.as_mut_ptr(), buf.len()) };
        // A zeroed last byte guarantees termination even if the library did not write one.
        buf[buf.len() - 1] = 0;
        // SAFETY: `buf` holds a NUL within its length (just ensured) and outlives the borrow.
        let text = unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy();
        format!("{} (status {status:#x})", text.trim())
    }
}

/// `text` as a C string: NUL and other control characters become spaces (they are not
/// speakable and a NUL would end the string early).
pub(crate) fn c_text(text: &str) -> CString {
    let cleaned: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    // No NUL is left after the replacement above, so this cannot fail; fall back to empty anyway.
    CString::new(cleaned).unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_library_is_a_typed_error() {
        let err = Api::load_from(&["libattendant-no-such-lib.so.9"]).unwrap_err();
        assert!(matches!(&err, EngineUnavailable::LibraryNotFound { reason } if reason.contains("libattendant-no-such-lib")), "{err}");
    }

    #[test]
    fn control_characters_become_spaces() {
        assert_eq!(c_text("a\0b\nc\u{7f}d").to_bytes(), b"a b c d");
        assert_eq!(c_text("Ünï 中").to_str().ok(), Some("Ünï 中"));
    }
}
