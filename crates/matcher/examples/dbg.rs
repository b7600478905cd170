use armstrace_matcher::{CheckIndex, CheckQuery, IndexRecord};
use std::time::Instant;
fn main() {
    let recs: Vec<(String, String)> = armstrace_synth_free();
    let index = CheckIndex::build(recs.iter().enumerate().map(|(i, (s, m))| IndexRecord {
        firearm_id: i as i64 + 1,
        serial: s,
        make: m,
    }));
    for q in ["??A49", "*160??Z", "??45183"] {
        let t = Instant::now();
        let o = index
            .check(&CheckQuery {
                serial: q,
                make: None,
                limit: 10,
            })
            .unwrap();
        println!("{q}: {} matches in {:?}", o.total, t.elapsed());
    }
}
fn armstrace_synth_free() -> Vec<(String, String)> {
    let text = std::fs::read_to_string("/tmp/l3.csv").unwrap();
    text.lines()
        .skip(1)
        .take(200000)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[1].to_string(), f[2].to_string())
        })
        .collect()
}
