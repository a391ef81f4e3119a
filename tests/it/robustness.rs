//! Hostile and broken input: a clear error (exit 2) or quarantine (exit 0), never a panic
//! (exit 101) or a signal, and no personal value from the input in any message.

use crate::common::*;
use std::fs;
use std::path::Path;

const SECRET: &str = "jane.secret@example.org";

fn inspect(pipeline: &str, input: &Path) -> Run {
    opentape(
        &repo(),
        &[
            "inspect",
            "--pipeline",
            pipeline,
            "--input",
            &input.display().to_string(),
            "--as-of",
            AS_OF,
            "--json",
        ],
    )
}

fn assert_survives(name: &str, r: &Run) {
    assert!(
        r.code == 0 || r.code == 2,
        "{name}: exit {} (panic or signal?)\n{}",
        r.code,
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{name}: {}", r.stderr);
    assert!(
        !r.stderr.contains(SECRET),
        "{name}: a personal value in the message: {}",
        r.stderr
    );
    if r.code == 2 {
        assert!(r.stderr.starts_with("opentape: "), "{name}: {}", r.stderr);
    }
}

fn user_line() -> String {
    format!(
        "{{\"id\": 1, \"email\": \"{SECRET}\", \"consent\": 3, \"lastSeen\": \"2026-11-01\"}}\n"
    )
}

#[test]
fn broken_freesewing_exports_never_crash() {
    let d = tmp();
    let deep = "[".repeat(100_000) + &"]".repeat(100_000);
    let big_line = format!(
        "{{\"id\": 5, \"userId\": 1, \"notes\": \"{}\", \"measies\": {{}}}}\n",
        "x".repeat(100_000_000)
    );
    let cases: Vec<(&str, String)> = vec![
        ("empty", String::new()),
        ("only whitespace", "\n\n  \n".into()),
        ("truncated json", "{\"id\": 1, \"userId\": 1, \"measies\": {\"chest\": 9".into()),
        ("deeply nested", deep),
        ("a 100 MB line", big_line),
        ("wrong types", format!("{{\"id\": [1], \"userId\": {{\"x\": \"{SECRET}\"}}, \"measies\": 5}}\n")),
        ("huge numbers", "{\"id\": 1, \"userId\": 1, \"measies\": {\"chest\": 1e400, \"waist\": -1e308}}\n".into()),
        ("string numbers", format!("{{\"id\": 1, \"userId\": 1, \"measies\": {{\"chest\": \"{SECRET}\"}}}}\n")),
        ("nan text", "{\"id\": 1, \"userId\": 1, \"measies\": {\"chest\": NaN}}\n".into()),
        ("bom and crlf", "\u{feff}{\"id\": 1, \"userId\": 1, \"measies\": {\"chest\": 900}}\r\n".into()),
        ("non utf-8", String::from_utf8_lossy(b"{\"id\": 1, \"userId\": 1, \"name\": \"\xff\xfe\"}\n").into_owned()),
        ("duplicate ids", "{\"id\": 1, \"userId\": 1, \"measies\": {}}\n{\"id\": 1, \"userId\": 1, \"measies\": {}}\n".into()),
        ("array of junk", "[1, \"two\", null, {\"measies\": {}}]".into()),
    ];
    for (name, sets) in cases {
        let dir = d.path().join(name.replace(' ', "-"));
        fs::create_dir_all(&dir).unwrap();
        let ext = if sets.trim_start().starts_with('[') {
            "json"
        } else {
            "ndjson"
        };
        fs::write(dir.join(format!("sets.{ext}")), &sets).unwrap();
        fs::write(dir.join("users.ndjson"), user_line()).unwrap();
        assert_survives(name, &inspect("pipelines/freesewing-v3.toml", &dir));
    }
    // Raw non-UTF-8 bytes (not made valid by the lossy conversion above).
    let dir = d.path().join("raw-bytes");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("sets.ndjson"),
        b"{\"id\": 1, \"userId\": 1, \"name\": \"\xff\xfe\x00\"}\n\xc3\x28\n",
    )
    .unwrap();
    fs::write(dir.join("users.ndjson"), user_line()).unwrap();
    assert_survives("raw bytes", &inspect("pipelines/freesewing-v3.toml", &dir));
    // The same owner in two files, and a file that is not there.
    let dir = d.path().join("two-files");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("users-a.ndjson"), user_line()).unwrap();
    fs::write(dir.join("users-b.ndjson"), user_line()).unwrap();
    let r = inspect("pipelines/freesewing-v3.toml", &dir);
    assert_survives("same owner twice", &r);
    assert_eq!(dropped(&r.json(), "read", "duplicate-user"), 1);
    assert_survives(
        "missing",
        &inspect("pipelines/freesewing-v3.toml", &d.path().join("nope")),
    );
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_in_an_input_folder_is_an_error_not_a_hang() {
    let d = tmp();
    let dir = d.path().join("in");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("users.ndjson"), user_line()).unwrap();
    std::os::unix::fs::symlink(dir.join("loop.ndjson"), dir.join("loop.ndjson")).unwrap();
    std::os::unix::fs::symlink(&dir, dir.join("self")).unwrap();
    assert_survives(
        "symlink loop",
        &inspect("pipelines/freesewing-v3.toml", &dir),
    );
}

#[test]
fn broken_tables_never_crash() {
    let d = tmp();
    let header = fs::read_to_string(repo().join("data-samples/ansur2/ANSUR_II_FEMALE_Public.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string();
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("empty csv", "csv", vec![]),
        ("only a header", "csv", format!("{header}\r\n").into_bytes()),
        (
            "ragged rows",
            "csv",
            format!("{header}\n1,2,3\n{SECRET},5\n").into_bytes(),
        ),
        ("zero-byte parquet", "parquet", vec![]),
        (
            "not a parquet",
            "parquet",
            format!("PAR1 {SECRET} garbage PAR1").into_bytes(),
        ),
        (
            "ndjson junk",
            "ndjson",
            format!("{{\"subjectid\": \"{SECRET}\"}}\nnot json\n").into_bytes(),
        ),
    ];
    for (name, ext, bytes) in cases {
        let p = d.path().join(format!("{}.{ext}", name.replace(' ', "-")));
        fs::write(&p, bytes).unwrap();
        assert_survives(name, &inspect("pipelines/ansur2.toml", &p));
    }
    // A Parquet file with the wrong schema: exit 2 naming the unknown column.
    use polars::prelude::*;
    let mut df = df!("email" => [SECRET], "Gender" => ["Male"]).unwrap();
    let p = d.path().join("wrong.parquet");
    ParquetWriter::new(fs::File::create(&p).unwrap())
        .finish(&mut df)
        .unwrap();
    let r = inspect("pipelines/ansur2.toml", &p);
    assert_survives("wrong parquet schema", &r);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("`email`"), "{}", r.stderr);
}

#[test]
fn input_limits_stop_the_run_with_a_clear_message() {
    let p = repo()
        .join("pipelines/freesewing-v3.toml")
        .display()
        .to_string();
    let r = opentape(
        &repo(),
        &["inspect", "--pipeline", &p, "--max-input-bytes", "1000"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--max-input-bytes 1000"), "{}", r.stderr);
    let r = opentape(
        &repo(),
        &["inspect", "--pipeline", &p, "--max-records", "100"],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--max-records 100"), "{}", r.stderr);
}
