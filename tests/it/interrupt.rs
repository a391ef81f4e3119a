//! kill -9 at random points of a release: no folder named after the version, earlier
//! releases unchanged, and a later run succeeds. `verify --all` catches a changed file.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const KEY: &str = "interrupt-test-key-0123456789";

/// A release with its output thrown away (the tests look at the files).
fn release(out: &Path, pipeline: &str, version: &str) -> Command {
    let mut c = release_cmd(pipeline, version, out, KEY);
    c.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    c
}

/// A release that must publish.
fn publish(out: &Path, pipeline: &str, version: &str) {
    let ok = release(out, pipeline, version).status().unwrap().success();
    assert!(ok, "release {version} of {pipeline} failed");
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let p = e.unwrap().path();
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read(&p).unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

#[test]
fn kill_9_at_20_random_points_never_leaves_a_partial_release() {
    let d = tmp();
    let out = d.path().join("rel");
    publish(&out, "pipelines/freesewing-v3.toml", "1.0.0");
    let before = snapshot(&out.join("1.0.0"));
    // A fixed pseudo-random sequence of kill delays over the whole run (about 1 s).
    let mut x: u64 = 0x9E3779B97F4A7C15;
    let mut killed_before_publish = 0;
    for _ in 0..20 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let delay = Duration::from_millis(x % 900);
        let mut child = release(&out, "pipelines/freesewing-v2.toml", "2.0.0")
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let finished = child.try_wait().unwrap().is_some();
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        let v2 = out.join("2.0.0");
        if v2.exists() {
            // Published before the kill: it must be complete and pass every check.
            let r = opentape(&repo(), &["verify", &v2.display().to_string(), "--quiet"]);
            assert_eq!(
                r.code, 0,
                "a published 2.0.0 after kill at {delay:?} fails verify:\n{}",
                r.stdout
            );
            fs::remove_dir_all(&v2).unwrap();
        } else {
            assert!(
                !finished || !status.success(),
                "finished successfully but published nothing"
            );
            killed_before_publish += 1;
        }
        assert_eq!(snapshot(&out.join("1.0.0")), before, "1.0.0 changed");
    }
    assert!(
        killed_before_publish > 0,
        "no kill landed before publishing"
    );
    // A later run succeeds, and leaves no staging folder behind.
    publish(&out, "pipelines/freesewing-v2.toml", "2.0.0");
    let names: Vec<String> = fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n.starts_with(".staging")),
        "{names:?}"
    );
    let r = opentape(&repo(), &["verify", "--all", &out.display().to_string()]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn verify_all_catches_a_changed_published_file() {
    let d = tmp();
    let out = d.path().join("rel");
    publish(&out, "pipelines/freesewing-v3.toml", "1.0.0");
    publish(&out, "pipelines/freesewing-v2.toml", "2.0.0");
    let o = out.display().to_string();
    assert_eq!(opentape(&repo(), &["verify", "--all", &o]).code, 0);
    let p = out.join("1.0.0/DATASHEET.md");
    let mut text = fs::read_to_string(&p).unwrap();
    text.push_str("\nedited after publishing\n");
    fs::write(&p, text).unwrap();
    let r = opentape(&repo(), &["verify", "--all", &o, "--json"]);
    assert_eq!(r.code, 1);
    let reports = r.json();
    assert_eq!(reports[0]["ok"], false);
    assert_eq!(reports[1]["ok"], true);
}

/// A full disk ends the release with a clear message (exit 2) and no partial release.
/// Needs to mount a small tmpfs (root, and a container allowed to mount): ignored by
/// `cargo test`, run by `.ci/run` (`-- --ignored`) where a mount works, and it fails,
/// saying why, when run where none does.
#[cfg(target_os = "linux")]
#[test]
#[ignore = "mounts a tmpfs (needs root and mount rights): .ci/run runs it with --ignored"]
fn a_full_disk_ends_with_a_clear_error_and_no_partial_release() {
    let d = tmp();
    let mnt = d.path().join("small");
    fs::create_dir_all(&mnt).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
        .arg(&mnt)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted,
        "prerequisite missing: this test mounts a 256 KiB tmpfs (`mount -t tmpfs`), which needs root"
    );
    let out = mnt.join("rel");
    let r = release(&out, "pipelines/freesewing-v3.toml", "1.0.0")
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&r.stderr).into_owned();
    let left: Vec<String> = fs::read_dir(&out)
        .map(|it| {
            it.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    let _ = Command::new("umount").arg(&mnt).status();
    assert_eq!(r.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("No space left"), "{stderr}");
    assert!(
        !left
            .iter()
            .any(|n| n == "1.0.0" || n.starts_with(".staging")),
        "left behind: {left:?}"
    );
}

/// A run killed after renaming its version into place but before rewriting CHANGELOG.md
/// and `latest` leaves a complete release the index does not name yet; the next run
/// rebuilds both from the published manifests.
#[test]
fn the_next_run_repairs_a_changelog_left_behind_by_a_kill_after_publishing() {
    let d = tmp();
    let out = d.path().join("rel");
    publish(&out, "pipelines/freesewing-v3.toml", "1.0.0");
    let log_after_1 = fs::read_to_string(out.join("CHANGELOG.md")).unwrap();
    publish(&out, "pipelines/freesewing-v2.toml", "2.0.0");
    let log_after_2 = fs::read_to_string(out.join("CHANGELOG.md")).unwrap();
    assert!(log_after_2.contains("## [2.0.0]") && log_after_2.contains("## [1.0.0]"));
    // The state a kill between publish and the index update leaves.
    fs::write(out.join("CHANGELOG.md"), &log_after_1).unwrap();
    fs::write(out.join("latest"), "1.0.0\n").unwrap();
    // The next run (here a refused one: a patch 2.0.1 without the series ledger, exit 2)
    // catches up first.
    let r = release(&out, "pipelines/freesewing-v3.toml", "2.0.1")
        .status()
        .unwrap();
    assert_eq!(r.code(), Some(2));
    assert_eq!(
        fs::read_to_string(out.join("CHANGELOG.md")).unwrap(),
        log_after_2
    );
    assert_eq!(fs::read_to_string(out.join("latest")).unwrap(), "2.0.0\n");
    assert!(!out.join("2.0.1").exists());
}

/// The effective user id, from /proc (no libc dependency for one number).
fn euid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).unwrap();
}

/// Permission errors (an input that cannot be read, a release or private folder that
/// cannot be written) end with exit 2, a message naming the path, and no partial release.
/// Root ignores file modes, so as root the binary runs as `nobody` (util-linux setpriv)
/// from a copy of the repository's files it can read.
#[cfg(target_os = "linux")]
#[test]
fn permission_errors_end_with_a_clear_message_and_no_partial_release() {
    let uid = euid().expect("prerequisite missing: /proc/self/status (the effective uid)");
    let d = tmp();
    let root = d.path().join("w");
    for sub in ["pipelines", "schemas", "data-samples/freesewing-v3", "bin"] {
        fs::create_dir_all(root.join(sub)).unwrap();
    }
    for f in [
        "pipelines/freesewing-v3.toml",
        "schemas/freesewing-measurements.toml",
        "data-samples/freesewing-v3/sets.ndjson",
        "data-samples/freesewing-v3/users.ndjson",
    ] {
        fs::copy(repo().join(f), root.join(f)).unwrap();
    }
    let bin = root.join("bin/opentape");
    fs::copy(env!("CARGO_BIN_EXE_opentape"), &bin).unwrap();
    chmod(d.path(), 0o755);
    let run_as_user = |args: &[&str]| -> (Option<i32>, String) {
        let mut c = if uid == 0 {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                .arg(&bin);
            c
        } else {
            Command::new(&bin)
        };
        let o = c
            .current_dir(&root)
            .args(args)
            .env("OPENTAPE_NOISE_KEY", KEY)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    // Everything readable by all, the work folder writable by the user who runs it.
    let walk = |p: &Path| {
        let mut stack = vec![p.to_path_buf()];
        while let Some(p) = stack.pop() {
            if p.is_dir() {
                chmod(&p, 0o777);
                stack.extend(fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
            } else {
                chmod(&p, 0o755);
            }
        }
    };
    walk(&root);
    assert!(
        uid != 0 || run_as_user(&["--version"]).0 == Some(0),
        "prerequisite missing: as root, this test runs the binary as nobody with util-linux `setpriv`"
    );
    let release = |extra: &[&str]| {
        let mut args = vec![
            "release",
            "--pipeline",
            "pipelines/freesewing-v3.toml",
            "--version",
            "1.0.0",
            "--as-of",
            AS_OF,
            "--quiet",
        ];
        args.extend_from_slice(extra);
        run_as_user(&args)
    };

    // The release folder cannot be written.
    fs::create_dir_all(root.join("locked")).unwrap();
    chmod(&root.join("locked"), 0o555);
    let (code, err) = release(&["--out", "locked"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("locked") && err.contains("ermission denied"),
        "{err}"
    );
    assert_eq!(fs::read_dir(root.join("locked")).unwrap().count(), 0);

    // The private folder cannot be written.
    fs::create_dir_all(root.join("private")).unwrap();
    chmod(&root.join("private"), 0o555);
    let (code, err) = release(&["--out", "rel", "--private-dir", "private"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("private") && err.contains("ermission denied"),
        "{err}"
    );
    assert!(!root.join("rel/1.0.0").exists());

    // An input file cannot be read.
    let sets = root.join("data-samples/freesewing-v3/sets.ndjson");
    chmod(&sets, 0o000);
    let (code, err) = release(&["--out", "rel"]);
    chmod(&sets, 0o644);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("sets.ndjson") && err.contains("ermission denied"),
        "{err}"
    );
    assert!(!root.join("rel/1.0.0").exists());

    // With the modes fixed, the same run succeeds.
    let (code, err) = release(&["--out", "rel"]);
    assert_eq!(code, Some(0), "{err}");
}
