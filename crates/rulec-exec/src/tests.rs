//! Unit tests of `rulec-exec`.

use crate::write::publish;
use std::path::Path;

fn scratch(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("rulec-exec-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch");
    dir
}

fn write(dir: &Path, text: &str) {
    std::fs::create_dir_all(dir).expect("dir");
    std::fs::write(dir.join("part-00000.parquet"), text).expect("write");
}

#[test]
fn publishing_replaces_the_product_and_leaves_nothing_behind() {
    let out = scratch("publish");
    write(&out.join("p"), "old");
    write(&out.join(".p.staging"), "new");
    publish(&out.join(".p.staging"), &out.join("p")).expect("publish");
    assert_eq!(
        std::fs::read_to_string(out.join("p/part-00000.parquet")).expect("read"),
        "new"
    );
    let names: Vec<_> = std::fs::read_dir(&out)
        .expect("ls")
        .map(|e| e.expect("e").file_name())
        .collect();
    assert_eq!(names, ["p"]);
    let _ = std::fs::remove_dir_all(out);
}

#[test]
fn a_failed_publish_keeps_the_old_product() {
    let out = scratch("publish_fail");
    write(&out.join("p"), "old");
    let err = publish(&out.join(".missing.staging"), &out.join("p"));
    assert!(err.is_err());
    assert_eq!(
        std::fs::read_to_string(out.join("p/part-00000.parquet")).expect("read"),
        "old"
    );
    let _ = std::fs::remove_dir_all(out);
}
