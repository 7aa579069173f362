//! Times the pure-Rust scorers on the reward benchmark's corpus, without Python, so that a
//! profile (`perf record`) shows the scoring alone:
//!
//!     python benches/bench_rewards.py --dump /tmp/corpus.json
//!     RAYON_NUM_THREADS=1 cargo run --release -p modomodo-core --example core_timing /tmp/corpus.json
//!
//! Environment: `FAM=<family>` times one family; `REPS=<n>` repeats (best is shown).

use modomodo_core::{accuracy, iou};
use serde_json::Value;
use std::time::Instant;

fn strings(v: &Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(|s| s.as_str().map(str::to_owned)).collect()
}

/// Scores one family of the dump as `bench_rewards.py` does through Python.
fn score(fam: &Value, comps: &[String], sols: &[String], sizes: Option<&[Option<(f64, f64)>]>) -> Vec<f64> {
    let kw = &fam["kwargs"];
    let text = |key: &str, default: &'static str| kw[key].as_str().unwrap_or(default).to_owned();
    match fam["func"].as_str().unwrap_or_default() {
        "format_reward" => accuracy::format_rewards(comps, kw["strict"].as_bool().unwrap_or(true)),
        "accuracy_reward" => {
            let kind = accuracy::Kind::parse(&text("kind", "auto")).expect("kind");
            accuracy::accuracy_rewards(comps, sols, kind, 1e-6).expect("accuracy")
        }
        "chart_reward" => accuracy::chart_rewards(comps, sols, 0.05).expect("chart"),
        "iou_reward" => {
            let threshold = kw["threshold"].as_f64().unwrap_or(0.5);
            let cfg = iou::IouConfig::new(&text("mode", "continuous"), threshold, &text("coords", "absolute"))
                .expect("iou config");
            let golds: Vec<iou::Solution<&str>> = sols.iter().map(|s| iou::Solution::Text(s.as_str())).collect();
            iou::iou_reward(comps, &golds, &cfg, sizes).expect("iou")
        }
        other => panic!("unknown func {other}"),
    }
}

fn main() {
    let path = std::env::args().nth(1).expect("usage: core_timing CORPUS.json");
    let corpus: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("read")).expect("json");
    let only = std::env::var("FAM").ok();
    let reps: usize = std::env::var("REPS").ok().and_then(|r| r.parse().ok()).unwrap_or(15);
    for (name, fam) in corpus.as_object().expect("a JSON object of families") {
        if only.as_deref().is_some_and(|o| o != name) {
            continue;
        }
        let (comps, sols) = (strings(&fam["completions"]), strings(&fam["solutions"]));
        let sizes: Option<Vec<Option<(f64, f64)>>> =
            fam["image_sizes"].as_array().map(|a| a.iter().map(|p| Some((p[0].as_f64()?, p[1].as_f64()?))).collect());
        let run = || score(fam, &comps, &sols, sizes.as_deref());
        run();
        let best = (0..reps)
            .map(|_| {
                let t = Instant::now();
                std::hint::black_box(run());
                t.elapsed().as_secs_f64()
            })
            .fold(f64::INFINITY, f64::min);
        println!("{name:15} {:7.0} ns per completion", best / comps.len() as f64 * 1e9);
    }
}
