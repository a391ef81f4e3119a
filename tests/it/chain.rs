//! The chain's read and filter (`release::eligible`) through the library: the reader,
//! given the filter's owner rules, keeps what the filter alone would keep.

use opentape::pipeline::Pipeline;
use opentape::release::{eligible, RunOptions};
use std::path::Path;

/// Everything the filter kept and dropped, as comparable values.
fn outcome(
    pl: &Pipeline,
    e: &opentape::filter::Eligible,
) -> (Vec<String>, Vec<String>, Option<u64>) {
    let p = &e.people;
    let kept = (0..p.len())
        .map(|i| {
            let cats: Vec<Option<&str>> =
                (0..pl.categories.len()).map(|c| p.category(i, c)).collect();
            let bits: Vec<u32> = p.values(i).iter().map(|v| v.to_bits()).collect();
            format!(
                "{:?} {} {cats:?} {bits:?}",
                p.at(i),
                e.owner_keys.get(p.owner(i) as usize)
            )
        })
        .collect();
    let dropped = e
        .dropped
        .iter()
        .map(|d| format!("{:?} {:?} {:?}", d.at, d.field, d.reason))
        .collect();
    (kept, dropped, e.consent_value_owners)
}

/// The reader keeps a user record as the owner rules' verdict when the chain gives
/// it the rules, and as its filter values otherwise (or where person records hold
/// filter fields too): the filter decides the same either way.
#[test]
fn owner_verdicts_decide_as_the_filter_values_do() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    // v3 with a filter field on the set itself: sets must be public.
    let text = std::fs::read_to_string(root.join("pipelines/freesewing-v3.toml"))
        .unwrap()
        .replace("public = \"identifier\"", "public = \"filter\"")
        .replace(
            "count_value = 3",
            "count_value = 3\nalso_true = [\"set.public\"]",
        )
        .replace("\"../schemas/", &format!("\"{}/schemas/", root.display()));
    let own = dir.path().join("v3-public.toml");
    std::fs::write(&own, text).unwrap();
    let as_of = opentape::date::parse_date("2026-11-29").unwrap();
    let cases = [
        (
            root.join("pipelines/freesewing-v3.toml"),
            "data-samples/freesewing-v3",
        ),
        (
            root.join("pipelines/freesewing-v2.toml"),
            "data-samples/freesewing-v2",
        ),
        (own, "data-samples/freesewing-v3"),
    ];
    for (path, input) in cases {
        let pl = Pipeline::load(&path).unwrap();
        let inputs = [root.join(input)];
        let meter = opentape::progress::Meter::default();
        let o = RunOptions {
            as_of,
            read: Default::default(),
            on_stage: None,
            meter: &meter,
        };
        let with_rules = eligible(&pl, &inputs, &o).unwrap();
        let read = opentape::read::read(&pl, &inputs, &Default::default(), &meter).unwrap();
        let values_only = opentape::filter::apply(&pl, read, as_of);
        let (a, b) = (outcome(&pl, &with_rules), outcome(&pl, &values_only));
        assert!(!a.0.is_empty() && !a.1.is_empty(), "{}", path.display());
        assert_eq!(a, b, "{}", path.display());
    }
}
