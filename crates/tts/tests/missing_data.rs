//! A data directory without espeak-ng's data: a typed error, not an exit or a panic. Its own
//! test binary because espeak-ng is set up once per process.

#![allow(clippy::unwrap_used)]

use attendant_tts::{EngineUnavailable, Espeak, EspeakConfig, TtsError};

#[test]
fn a_data_dir_without_espeak_data_is_an_init_error_every_time() {
    let dir = std::env::temp_dir().join(format!("attendant-tts-empty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let config = EspeakConfig { data_path: Some(dir.clone()), ..EspeakConfig::default() };
    for _ in 0..2 {
        let err = Espeak::new(config.clone()).unwrap_err();
        match &err {
            TtsError::Unavailable(EngineUnavailable::Init { step, message }) => {
                assert_eq!(*step, "espeak_ng_Initialize");
                assert!(!message.is_empty());
            }
            // Without the library installed at all, that is the error instead.
            TtsError::Unavailable(EngineUnavailable::LibraryNotFound { .. }) => {}
            other => panic!("unexpected {other}"),
        }
        eprintln!("{err}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
