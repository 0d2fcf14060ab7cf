//! The report's JSON object as a table for people.

use serde_json::Value;

use super::report::{ms, text};

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

pub fn table(v: &Value) -> String {
    let mut t = String::new();
    let (run, c, r) = (&v["run"], &v["calls"], &v["rtp"]);
    let m = &run["mode"];
    let content = match s(&m["kind"]) {
        "duty" => format!("duty {}/{} s over {} ({} speech slices)", m["duty_s"][0], m["duty_s"][1], s(&m["wav"]), m["speech_slices"]),
        _ => format!("assistant script: {} fixtures, speak on {} (at {} ms, quiet {} ms)", m["fixtures"], s(&m["speak_on"]), m["speak_at_ms"], m["quiet_ms"]),
    };
    let imp = &run["impairment"];
    text(&mut t, format_args!("sip_load {}: {} slots, ramp {} ms, {} s each, redial {}; {content}", s(&run["target"]), run["calls"], run["ramp_ms"], run["duration_s"], run["redial"]));
    text(&mut t, format_args!("impairment   loss {}%, jitter 0..{} ms, reorder {}%", imp["loss_pct"], imp["jitter_ms"], imp["reorder_pct"]));
    text(&mut t, format_args!("calls        attempted {} | answered {} | refused {} {} | failed to set up {} {} | failed in call {} {}",
        c["attempted"], c["answered"], c["refused"], c["refused_by"], c["failed_setup"], c["failed_setup_by"], c["failed_in_call"], c["failed_in_call_by"]));
    text(&mut t, format_args!("  concurrent peak {}; set-up (INVITE->200) {} ms; INVITE retransmissions {}; provisional {}",
        c["concurrent_peak"], ms(&c["setup_ms"]), c["invite_retransmits"], c["provisional"]));
    text(&mut t, format_args!("  ended by {}; REFERs {} to {}; NOTIFY answered {}; other requests {}",
        c["ended_by"], c["refers"], c["refer_to"], c["notify_answered"], c["other_requests"]));
    text(&mut t, format_args!("rtp sent     {} packets ({} speech), lost by impairment {}, reordered {}, send errors {}, skipped {}",
        r["sent"], r["speech_frames"], r["lost_by_impairment"], r["reordered_by_impairment"], r["send_errors"], r["frames_skipped"]));
    let p = &r["pump"];
    text(&mut t, format_args!("  pump: {} ticks ({} skipped), up to {} streams, tick lateness {} ms", p["ticks"], p["ticks_skipped"], p["max_streams"], ms(&p["tick_late_ms"])));
    text(&mut t, format_args!("rtp received {} packets ({} in prompts), RTCP {}, DTMF {}, not RTP {}; calls without RTP {}",
        r["received"], r["received_in_prompts"], r["rtcp_received"], r["dtmf_received"], r["not_rtp_received"], r["calls_without_rtp"]));
    text(&mut t, format_args!("  late frames (gap > 40 ms): in prompts {} = {:.2}% of prompt packets (gaps {} ms); all {} = {:.2}% of received; max gap {} ms",
        r["late_in_prompts"], f(&r["late_in_prompts_pct"]), ms(&r["prompt_gap_ms"]), r["late_all"], f(&r["late_all_pct"]), r["max_gap_ms"]));
    let cl = &run["client"];
    text(&mut t, format_args!("client       CPU {:.1} s = {:.0}% of one core ({} runtime threads)", f(&cl["cpu_s"]), f(&cl["cpu_pct_of_core"]), cl["threads"]));
    if let Some(p) = run.get("worker_process").filter(|p| !p.is_null()) {
        let threads: Vec<String> = p["by_thread_s"].as_array().into_iter().flatten().map(|x| format!("{} {} s", s(&x[0]), x[1])).collect();
        text(&mut t, format_args!("worker proc  CPU {:.1} s = {:.0}% of one core, {:.2} ms CPU per call-second; peak RSS {:.0} MB; by thread: {}",
            f(&p["cpu_s"]), f(&p["cpu_pct_of_core"]), f(&p["cpu_ms_per_call_second"]), f(&p["peak_rss_mb"]), threads.join(", ")));
        let samples: Vec<String> = p["rss_mb_every_10s"].as_array().into_iter().flatten().map(|x| format!("{}s {}", x[0], x[1])).collect();
        text(&mut t, format_args!("  RSS at start {} MB; first with every slot started {} MB, last {} MB: {}% change; samples [{}]",
            p["rss_start_mb"], p["rss_first_after_ramp_mb"], p["rss_last_mb"], p["rss_change_pct"], samples.join(", ")));
    }
    if let Some(mc) = run.get("machine").filter(|m| !m.is_null()) {
        text(&mut t, format_args!("machine      {:.0}% busy over the run; other processes used {:.2} cores", f(&mc["busy_pct"]), f(&mc["others_cores"])));
    }
    if let Some(a) = v.get("assistant").filter(|a| !a.is_null()) {
        if a.get("note").is_some() {
            text(&mut t, format_args!("assistant    {}", s(&a["note"])));
        } else {
            text(&mut t, format_args!("assistant    scored {}: correct {} | wrong {} | no decision {} ({:.1}% correct); not said to the end {}; menu outcome right {}/{}",
                a["scored"], a["correct"], a["wrong"], a["no_decision"], 100.0 * f(&a["accuracy"]), a["not_scored_not_said_to_the_end"],
                a["menu_outcome_correct"][0], a["menu_outcome_correct"][1]));
            text(&mut t, format_args!("  decision latency (timings.last_word_to_decision_ms), decisions on the caller's words: {} ms (n {}); every decision: {} ms (n {})",
                ms(&a["decision_latency_ms"]), a["decision_latency_ms"]["n"], ms(&a["decision_latency_all_ms"]), a["decision_latency_all_ms"]["n"]));
            text(&mut t, format_args!("  client view, our last word to the decision event: {} ms; spoke {} ms after the answer; triggers {}; reasons {}",
                ms(&a["client_last_word_to_decision_event_ms"]), ms(&a["spoke_after_answer_ms"]), a["speak_triggers"], a["decision_reasons"]));
            for miss in a["misses"].as_array().into_iter().flatten() {
                text(&mut t, format_args!("  miss: {}", s(miss)));
            }
        }
    }
    if let Some(w) = v.get("worker").filter(|w| !w.is_null()) {
        for (name, key) in [("engine (run)", "engine_load"), ("engine (all up)", "engine_load_full")] {
            let l = &w[key];
            text(&mut t, format_args!("{name:<16} {} reports, {} ticks: over budget {}, late {} (worst report {} / {}); max calls {}; work p50 {} / p99 {} / max {} µs",
                l["windows"], l["ticks"], l["over_budget"], l["late"], l["worst_window_over_budget"], l["worst_window_late"], l["max_calls"],
                l["work_p50_us_max"], l["work_p99_us_max"], l["work_max_us"]));
        }
        text(&mut t, format_args!("worker calls {} seen ({} matched by From), media_stats {}: rtp_packets {} of {} sent; jitter-buffer late {}, duplicates {}, concealed {}, malformed {}; MOS {}",
            w["calls_seen"], w["matched_by_from"], w["media_stats"], w["rtp_packets"], w["rtp_sent_by_client"], w["jitter_late"], w["duplicates"],
            w["concealed_lost"], w["malformed"], ms(&w["mos"])));
        text(&mut t, format_args!("  refused {}; transfer results {}; recognition_refused {}", w["refused"], w["transfer_results"], w["recognition_refused"]));
        text(&mut t, format_args!("  call_ended {}", w["call_ended"]));
        text(&mut t, format_args!("  events {}", w["events"]));
        if w["events_without_call"].as_object().is_some_and(|m| !m.is_empty()) {
            text(&mut t, format_args!("  events without a call {}", w["events_without_call"]));
        }
    }
    let verdict = if v["failed"].as_bool().unwrap_or(true) { "FAILED (a call failed to set up, or failed in the call)" } else { "every call set up (or was refused) and ran" };
    text(&mut t, format_args!("result: {verdict}"));
    t
}
