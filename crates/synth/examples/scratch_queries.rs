fn main() {
    let t = std::time::Instant::now();
    let n: usize = std::env::args().nth(1).map_or(2000, |a| a.parse().unwrap());
    let qs = armstrace_synth::queries(n, 42, 90, 7);
    eprintln!("{:?}", t.elapsed());
    let recs: Vec<_> = armstrace_synth::Generator::new(42).take(n).collect();
    for q in &qs {
        let orig = q
            .source
            .map(|i| recs[i].serial_number.as_str())
            .unwrap_or("-");
        println!(
            "{:16} {:18} <- {:18} {:?}",
            q.kind.as_str(),
            q.serial,
            orig,
            q.make
        );
    }
}
