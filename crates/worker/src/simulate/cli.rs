//! The `attendant simulate` command: picks the tenant, loads what its assistant needs, runs the
//! call and prints it.

use std::io::Write as _;
use std::path::Path;

use anyhow::Context as _;
use codec::WavFile;

use crate::assistant::{self, Assistant, AssistantFile};
use crate::graph::GraphConfig;
use crate::models::ModelDir;
use crate::serve::config::ServeConfig;
use crate::sync_call::Engines;

use super::{print_line, simulate, SimOptions, SimReport};

/// The tenant to simulate: its name, assistant file and graph settings.
#[derive(Debug)]
pub struct TenantSetup {
    pub name: String,
    pub assistant: AssistantFile,
    pub graph: GraphConfig,
}

/// Resolves the tenant from a worker config (or the built-in sample tenant).
pub fn tenant_setup(config: Option<&Path>, tenant: Option<&str>) -> anyhow::Result<TenantSetup> {
    let Some(path) = config else {
        if let Some(t) = tenant.filter(|t| *t != assistant::EMBEDDED_TENANT) {
            anyhow::bail!("--tenant {t}: the built-in configuration has only the tenant \"{}\"; pass --config", assistant::EMBEDDED_TENANT);
        }
        let assistant = AssistantFile::embedded()?;
        let graph = assistant.graph(&GraphConfig::default());
        return Ok(TenantSetup { name: assistant::EMBEDDED_TENANT.into(), assistant, graph });
    };
    let config = ServeConfig::load(path)?;
    let candidates: Vec<_> = config.tenants.iter().enumerate().filter(|(_, t)| t.assistant.is_some()).collect();
    let (index, t) = match tenant {
        Some(name) => candidates
            .iter()
            .find(|(_, t)| t.name == name)
            .copied()
            .with_context(|| format!("--tenant {name}: no tenant of that name with an assistant in {}", path.display()))?,
        None => *candidates.first().with_context(|| format!("{}: no tenant has an assistant", path.display()))?,
    };
    let file_path = t.assistant.as_ref().context("tenant without assistant")?;
    let assistant = AssistantFile::load(file_path, &format!("tenants[{index}].assistant"))?;
    let graph = assistant.graph(t.graph.as_ref().unwrap_or(&config.graph));
    Ok(TenantSetup { name: t.name.clone(), assistant, graph })
}

/// Loads every model the simulation needs and builds the tenant's assistant.
pub fn load(setup: &TenantSetup, models: &ModelDir) -> anyhow::Result<(Engines, Assistant)> {
    let engines = Engines::load(models, &setup.graph)?;
    let embedder = assistant::load_embedder(models)?;
    let renderer = assistant::default_renderer(models)?;
    let assistant = Assistant::build(&setup.name, &setup.assistant, embedder, renderer)?;
    Ok((engines, assistant))
}

/// Runs the command; `Ok(false)` when the call ended without a decision.
pub fn run(call: &Path, config: Option<&Path>, tenant: Option<&str>, options: SimOptions, json: bool) -> anyhow::Result<bool> {
    let setup = tenant_setup(config, tenant)?;
    let wav = WavFile::open(call).with_context(|| format!("{}", call.display()))?;
    let (mut engines, assistant) = load(&setup, &ModelDir::locate())?;
    let call_id = format!("sim-{}", call.file_stem().and_then(|s| s.to_str()).unwrap_or("call"));
    let report: SimReport = simulate(&wav, &mut engines, &setup.graph, &assistant, &call_id, &options)?;
    let mut out = std::io::stdout().lock();
    // With --json the decision is the last line (what follows it, the transfer prompt and the
    // hang-up, comes before it there), so a script can take the last line.
    let is_decision = |e: &super::SimEvent| matches!(e, super::SimEvent::Decision { .. });
    let ordered: Vec<_> = if json {
        report.events.iter().filter(|(_, e)| !is_decision(e)).chain(report.events.iter().filter(|(_, e)| is_decision(e))).collect()
    } else {
        report.events.iter().collect()
    };
    for (at, event) in ordered {
        let line = print_line(*at, event, json);
        if !line.is_empty() {
            writeln!(out, "{line}")?;
        }
    }
    Ok(report.decision.is_some())
}
