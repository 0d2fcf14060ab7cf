//! The `attendant` worker: per-call media graph, model location, and the command line's
//! commands as library functions (so tests and benches drive exactly what users run).

pub mod assistant;
pub mod decisions;
pub mod graph;
pub mod ingest;
pub mod models;
pub mod say;
pub mod serve;
pub mod simulate;
pub mod sync_call;
pub mod transcribe;
pub mod voice;

/// Reads a graph configuration (TOML). Unknown fields are rejected by name; values are checked.
pub fn load_graph_config(path: &std::path::Path) -> anyhow::Result<graph::GraphConfig> {
    use anyhow::Context as _;
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read config {}", path.display()))?;
    let config: graph::GraphConfig = toml::from_str(&text).with_context(|| format!("config {}", path.display()))?;
    validate(&config).with_context(|| format!("config {}", path.display()))?;
    Ok(config)
}

/// Checks every section of a graph configuration.
pub fn validate(config: &graph::GraphConfig) -> anyhow::Result<()> {
    config.endpointer.validate()?;
    config.asr.validate()?;
    let s = config.speculative_final_ms;
    if s != 0 && (s < 160 || s >= config.endpointer.min_silence_ms) {
        anyhow::bail!("speculative_final_ms: must be 0 (off) or at least 160 and below endpointer.min_silence_ms ({})", config.endpointer.min_silence_ms);
    }
    Ok(())
}
