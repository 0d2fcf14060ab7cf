//! The simulated call's outbound audio and what the caller's speech does to it: the playback
//! controller sends the real rendered prompts frame by frame, the caller's channel may carry
//! their echo back (a speakerphone or an SBC loop, `--echo`), the echo canceller cleans the
//! caller's audio before the VAD, and the barge-in policy pauses, resumes or interrupts the
//! prompt exactly as in `serve`.

use std::collections::VecDeque;
use std::sync::Arc;

use flow::Input;
use playback::{BargeInAction, EchoCanceller, EchoConfig, PlaybackController, PlaybackEvent, Prompt, PromptId};
use types::{MediaTime, TurnId, BUS_RATE, FRAME_SAMPLES};

use super::{Sim, SimEvent};

/// The caller's line returning the worker's audio: `gain_db` (negative) after `delay_ms`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EchoPath {
    pub gain_db: f32,
    pub delay_ms: u32,
}

impl std::str::FromStr for EchoPath {
    type Err = String;
    /// `-10,40`: 10 dB down, 40 ms late.
    fn from_str(s: &str) -> Result<Self, String> {
        let (g, d) = s.split_once(',').ok_or_else(|| format!("{s:?}: expected GAIN_DB,DELAY_MS such as -10,40"))?;
        let gain_db: f32 = g.trim().parse().map_err(|_| format!("{g:?}: not a gain in dB"))?;
        let delay_ms: u32 = d.trim().parse().map_err(|_| format!("{d:?}: not a delay in ms"))?;
        if !(-60.0..=0.0).contains(&gain_db) || delay_ms > 1_000 {
            return Err(format!("{s:?}: gain must be within -60..=0 dB and delay at most 1000 ms"));
        }
        Ok(Self { gain_db, delay_ms })
    }
}

/// Outbound side of a simulated call.
pub(super) struct Duplex {
    pub controller: PlaybackController,
    pub echo: EchoCanceller,
    pub barge: playback::BargeIn,
    /// The echo path's gain, and what was sent over its delay, oldest first: `delay` samples
    /// before each frame is taken out.
    path: Option<f32>,
    sent_history: VecDeque<f32>,
    pub out: [f32; FRAME_SAMPLES],
    next_id: u64,
    /// Text and length of each queued prompt, to name it in the report.
    texts: Vec<(PromptId, String, u64)>,
}

impl Duplex {
    pub fn new(echo: Option<EchoPath>) -> Self {
        let delay = echo.map_or(0, |e| e.delay_ms as usize * BUS_RATE.hz() as usize / 1000);
        Self {
            controller: PlaybackController::new(BUS_RATE, playback::MarkPolicy::CountSamples),
            echo: EchoCanceller::new(BUS_RATE, EchoConfig::default()),
            barge: playback::BargeIn::new(playback::BargeInConfig::default()),
            path: echo.map(|e| 10f32.powf(e.gain_db / 20.0)),
            sent_history: std::iter::repeat_n(0.0, delay).collect(),
            out: [0.0; FRAME_SAMPLES],
            next_id: 0,
            texts: Vec::new(),
        }
    }

    pub fn queue(&mut self, text: String, audio: Arc<[f32]>, interruptible: bool) -> PromptId {
        self.next_id += 1;
        let id = PromptId(self.next_id);
        let ms = audio.len() as u64 * 1000 / u64::from(BUS_RATE.hz());
        self.texts.push((id, text.clone(), ms));
        self.controller.play(Prompt { id, text, interruptible }, audio);
        id
    }

    pub fn text_of(&self, id: PromptId) -> String {
        self.texts.iter().find(|(i, ..)| *i == id).map(|(_, t, _)| t.clone()).unwrap_or_default()
    }

    fn length_of(&self, id: PromptId) -> u64 {
        self.texts.iter().find(|(i, ..)| *i == id).map_or(0, |(.., ms)| *ms)
    }

    /// Adds the echo of what was sent `delay` ago to the caller's frame.
    pub fn mix_echo(&mut self, frame: &mut [f32; FRAME_SAMPLES]) {
        let Some(gain) = self.path else { return };
        for s in frame.iter_mut() {
            let echoed = self.sent_history.pop_front().unwrap_or(0.0);
            *s = (*s + gain * echoed).clamp(-1.0, 1.0);
        }
    }

    /// Records this frame's outbound audio for the echo path (before `mix_echo` of this frame).
    fn remember_sent(&mut self) {
        if self.path.is_some() {
            self.sent_history.extend(self.out.iter().copied());
        }
    }
}

impl Sim<'_> {
    /// The next outbound frame; the controller's events reach the dialogue.
    pub(super) fn send_frame(&mut self) -> anyhow::Result<()> {
        let mut out = [0.0f32; FRAME_SAMPLES];
        self.duplex.controller.fill(&mut out);
        self.duplex.out = out;
        self.duplex.remember_sent();
        while let Some(e) = self.duplex.controller.poll_event() {
            match e {
                PlaybackEvent::Started(id) => {
                    let (text, duration_ms) = (self.duplex.text_of(id), self.duplex.length_of(id));
                    self.report.push(self.now, SimEvent::Prompt { text, duration_ms });
                }
                PlaybackEvent::Finished(_) => {
                    self.dialogue.handle_input(Input::PromptFinished, self.instant(self.now));
                    self.drain_dialogue()?;
                }
                PlaybackEvent::Interrupted(i) => {
                    let text = self.duplex.text_of(i.id);
                    self.report.push(self.now, SimEvent::PromptInterrupted { text, position_ms: i.position.as_millis() as u64, heard: i.heard });
                }
                _ => {}
            }
        }
        if self.duplex.controller.is_idle() {
            self.duplex.barge.prompts_done();
        }
        Ok(())
    }

    /// The caller's frame as the VAD sees it: echo mixed in (if the line has one), then cancelled.
    pub(super) fn clean_caller_frame(&mut self, frame: &mut types::AudioFrame) {
        self.duplex.mix_echo(&mut frame.samples);
        let mic = frame.samples;
        let sent = self.duplex.out;
        self.duplex.echo.process(&sent, &mic, &mut frame.samples);
    }

    /// A turn started: the barge-in policy may pause the prompt.
    pub(super) fn barge_speech_started(&mut self, turn: TurnId, onset: MediaTime) -> anyhow::Result<()> {
        let Some(config) = self.dialogue.barge_in() else { return Ok(()) };
        let interruptible = self.duplex.controller.is_speaking_interruptible();
        let echo = self.duplex.echo.heard_only_echo();
        if echo && interruptible {
            self.report.push(self.now, SimEvent::EchoIgnored { turn: turn.0 });
        }
        self.duplex.barge.set_config(config);
        let action = self.duplex.barge.speech_started(u64::from(turn.0), self.instant(onset), interruptible, echo);
        self.barge_act(action)
    }

    pub(super) fn barge_speech_ended(&mut self, turn: TurnId, at: MediaTime) {
        self.duplex.barge.speech_ended(u64::from(turn.0), self.instant(at));
    }

    /// A transcript of `turn` reached the worker: it may settle a paused prompt.
    pub(super) fn barge_transcript(&mut self, turn: TurnId, text: &str, embedding: Option<&nlu::Embedding>, speech_over: bool) -> anyhow::Result<()> {
        if self.duplex.barge.paused_turn().is_none() && !self.duplex.controller.is_speaking() {
            return Ok(());
        }
        let answers = self.dialogue.would_answer(text, embedding);
        let action = self.duplex.barge.transcript(u64::from(turn.0), text, speech_over, answers);
        self.barge_act(action)
    }

    pub(super) fn barge_timers(&mut self) -> anyhow::Result<()> {
        if self.duplex.barge.poll_timeout().is_some_and(|t| t <= self.instant(self.now)) {
            let action = self.duplex.barge.handle_timeout(self.instant(self.now));
            self.barge_act(action)?;
        }
        Ok(())
    }

    /// Whether results of `turn` need an embedding although the dialogue is not listening: the
    /// turn has paused a prompt and may become its answer.
    pub(super) fn barge_turn(&self, turn: TurnId) -> bool {
        self.duplex.barge.paused_turn() == Some(u64::from(turn.0))
    }

    fn barge_act(&mut self, action: Option<BargeInAction>) -> anyhow::Result<()> {
        let Some(action) = action else { return Ok(()) };
        let (text, position_ms) = match self.duplex.controller.current() {
            Some((p, pos)) => (p.text.clone(), pos.as_millis() as u64),
            None => (String::new(), 0),
        };
        match action {
            BargeInAction::Pause => {
                self.duplex.controller.pause();
                self.report.push(self.now, SimEvent::PromptPaused { text, position_ms });
            }
            BargeInAction::Resume => {
                self.duplex.controller.resume();
                self.report.push(self.now, SimEvent::PromptResumed { text, position_ms });
            }
            BargeInAction::Interrupt(trigger) => {
                self.report.push(self.now, SimEvent::BargeIn { trigger, text, position_ms });
                self.duplex.controller.flush();
                self.send_frame_events()?;
                self.duplex.barge.prompts_done();
                // The Listen this causes is for the turn already being spoken, not a new answer.
                self.listen_is_barge_in = true;
                self.dialogue.handle_input(Input::BargeIn, self.instant(self.now));
                self.drain_dialogue()?;
            }
        }
        Ok(())
    }

    /// Reports the controller's events after a flush (no frame sent).
    fn send_frame_events(&mut self) -> anyhow::Result<()> {
        while let Some(e) = self.duplex.controller.poll_event() {
            if let PlaybackEvent::Interrupted(i) = e {
                let text = self.duplex.text_of(i.id);
                self.report.push(self.now, SimEvent::PromptInterrupted { text, position_ms: i.position.as_millis() as u64, heard: i.heard });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::EchoPath;

    #[test]
    fn echo_path_parses_and_refuses_with_a_reason() {
        assert_eq!("-10,40".parse::<EchoPath>(), Ok(EchoPath { gain_db: -10.0, delay_ms: 40 }));
        assert_eq!(" -6.5 , 0 ".parse::<EchoPath>(), Ok(EchoPath { gain_db: -6.5, delay_ms: 0 }));
        for (bad, why) in [
            ("-10", "expected GAIN_DB,DELAY_MS"),
            ("loud,40", "not a gain in dB"),
            ("-10,-5", "not a delay in ms"),
            ("6,40", "within -60..=0 dB"),
            ("-10,5000", "at most 1000 ms"),
        ] {
            let err = bad.parse::<EchoPath>().expect_err(bad);
            assert!(err.contains(why), "{bad}: {err}");
        }
    }
}
