//! A whisper decode another thread can stop: whisper.cpp's abort callback, reading an
//! `AtomicBool`.
//!
//! whisper-rs offers a closure wrapper for this (`set_abort_callback_safe`), but in 0.16 its
//! trampoline reads the boxed closure through the wrong pointer type, and the box is leaked
//! per call. So this module sets the raw callback, and keeps the one `unsafe` use here, where
//! the pointer's lifetime is visibly the `full` call's.

#![allow(unsafe_code)]

use std::sync::atomic::{AtomicBool, Ordering};

use whisper_rs::{FullParams, WhisperError, WhisperState};

/// `state.full(params, audio)`, with `abort` polled after the encoder and between decoded
/// tokens (whisper.cpp 1.7 does not pass the callback into the encoder's graph); a set flag
/// makes whisper.cpp return early with an error.
pub(crate) fn full(state: &mut WhisperState, mut params: FullParams, audio: &[f32], abort: Option<&AtomicBool>) -> Result<(), WhisperError> {
    if let Some(flag) = abort {
        // SAFETY: whisper.cpp calls the callback only inside `state.full` below, with the
        // pointer given here; `flag` is borrowed for this whole function, so it outlives
        // every call, and the callback only reads it atomically.
        unsafe {
            params.set_abort_callback(Some(abort_requested));
            params.set_abort_callback_user_data(std::ptr::from_ref(flag).cast_mut().cast());
        }
    }
    state.full(params, audio)
}

/// whisper.cpp's abort callback: `data` is the `AtomicBool` given to [`full`].
unsafe extern "C" fn abort_requested(data: *mut std::ffi::c_void) -> bool {
    // SAFETY: `data` is the flag [`full`] installed, alive for the duration of the decode.
    unsafe { (*data.cast::<AtomicBool>()).load(Ordering::Relaxed) }
}
