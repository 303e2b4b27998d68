//! The checked-in fuzz corpus (`fuzz/corpus/<target>/`), replayed on stable through the same
//! functions the cargo-fuzz targets call (`fuzz/harness.rs`), so `make test` keeps every
//! finding and seed passing without a nightly toolchain.

#[path = "../../fuzz/harness.rs"]
mod harness;

#[test]
fn fuzz_corpus_replays_through_the_fuzz_targets() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/corpus");
    for (target, run) in harness::TARGETS {
        let dir = format!("{root}/{target}");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|entry| entry.expect("dir entry").path())
            .collect();
        files.sort();
        assert!(files.len() >= 3, "{dir} holds too small a corpus");
        for file in files {
            let data = std::fs::read(&file).expect("read corpus file");
            let outcome = std::panic::catch_unwind(|| run(&data));
            assert!(
                outcome.is_ok(),
                "{target}: {} broke a property",
                file.display()
            );
        }
    }
}
