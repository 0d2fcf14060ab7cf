//! What the worker says to a caller, and when the caller may cut it short. Sans-IO and the same
//! for every transport (RTP, WebSocket, WebRTC): the transport asks for the next frame of outbound
//! audio and hands over the caller's inbound frames; nothing here does IO or reads a clock.
//!
//! Three parts, each owned per call:
//! - [`PlaybackController`]: a queue of prompts and marks. Play, queue, flush, pause, resume;
//!   a mark is confirmed when everything queued before it has been sent (counted in samples on
//!   transports without marks of their own, or confirmed by the transport). A flush reports how
//!   far the interrupted prompt got and which of its words the caller heard.
//! - [`EchoCanceller`]: the worker's own prompt, coming back in the caller's audio (speakerphones,
//!   SBC loops), removed using the prompt as sent as its reference, with a flag for whether the
//!   caller is talking over it. Without it, a loud echo is speech to the VAD and the prompt
//!   interrupts itself.
//! - [`BargeIn`]: the policy. The caller's speech over an interruptible prompt pauses it at once
//!   (the reaction a caller notices); it becomes an interruption when the speech lasts long enough
//!   or its transcript holds enough real words. Backchannels ("mm-hmm", "okay") and noise (a cough,
//!   whose transcript is empty) resume the prompt where it stopped.

mod bargein;
mod controller;
mod echo;
mod words;

pub use bargein::{BargeIn, BargeInAction, BargeInConfig, BargeInConfigError, Trigger};
pub use controller::{Interruption, MarkPolicy, PlaybackController, PlaybackEvent, Prompt, PromptId};
pub use echo::{EchoCanceller, EchoConfig, EchoFrame};
pub use words::{is_backchannel, real_words, DEFAULT_BACKCHANNELS};
