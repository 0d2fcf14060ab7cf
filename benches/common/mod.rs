//! Helpers shared by the bench binaries and the memory example (each includes this file with
//! `#[path]`; each uses a part of it).
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use codec::WavFile;
use worker::models::ModelDir;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `ModelDir::locate()`, falling back to `<repo>/models` because `cargo bench` runs with the
/// package directory (`benches/`) as the working directory.
pub fn model_dir() -> ModelDir {
    let dir = ModelDir::locate();
    if std::env::var_os("ATTENDANT_MODELS").is_none() && !dir.path().is_dir() {
        return ModelDir::at(repo_root().join("models"));
    }
    dir
}

/// A WAV file under `testdata/`, or a panic naming it.
pub fn open_wav(rel: &str) -> WavFile {
    let path = repo_root().join("testdata").join(rel);
    WavFile::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
