//! Commands whose output is piped into a reader that stops early.

use crate::common::*;
use std::process::Command;

/// Every command that prints stops quietly when its reader goes away (`| head -1`, or a
/// reader that reads nothing), and keeps its exit code: no "failed printing to stdout"
/// panic (exit 101).
#[test]
fn printing_commands_stop_quietly_when_the_pipe_closes() {
    let d = tmp();
    let out = d.path().join("out");
    for v in ["1.0.0", "2.0.0"] {
        let r = release_cmd(
            "pipelines/freesewing-v3.toml",
            v,
            &out,
            "pipe-test-key-0123456789",
        )
        .output()
        .unwrap();
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    }
    let bin = env!("CARGO_BIN_EXE_opentape");
    let (v1, v2) = (out.join("1.0.0"), out.join("2.0.0"));
    let (v1, v2) = (v1.display(), v2.display());
    for (cmd, code) in [
        (format!("{bin} verify {v1}"), 0),
        (format!("{bin} verify {v1} --json"), 0),
        (format!("{bin} verify --all {}", out.display()), 0),
        (
            format!("{bin} inspect --pipeline pipelines/freesewing-v3.toml --as-of {AS_OF}"),
            0,
        ),
        (
            format!("{bin} inspect --pipeline pipelines/freesewing-v3.toml --as-of {AS_OF} --json"),
            0,
        ),
        (format!("{bin} report {v1}"), 0),
        (format!("{bin} diff {v1} {v2}"), 0),
    ] {
        for reader in ["head -1", "true"] {
            let script = format!("{cmd} | {reader} >/dev/null; exit ${{PIPESTATUS[0]}}");
            let r = Command::new("bash")
                .args(["-c", &script])
                .current_dir(repo())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&r.stderr);
            assert!(!stderr.contains("panicked"), "{cmd} | {reader}: {stderr}");
            assert_eq!(r.status.code(), Some(code), "{cmd} | {reader}: {stderr}");
        }
    }
}
